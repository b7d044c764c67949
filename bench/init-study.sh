#!/bin/sh
# bench/init-study.sh — which initialisation should cxr-train start from?
# Trains the network with cxr-train --init torchvision, keras and torch, and
# its PyTorch twin (bench/torch_train.py on bench/cxrnet.py) with PyTorch's
# default layer init (and torchvision's), on the same packed synthetic data
# with cxr-train's default recipe (AdamW lr 1e-3, weight decay 1e-4,
# cosine schedule, batch 32, no augmentation), over seeds, training set
# sizes and widths, and prints the test AUC of each run's best-validation
# model (cxr: cxr-score | cxr-roc; the twin: the same rank AUC) and the
# mean per set-up.
#
# The data: bin/cxr-synth (3600 images at 256 px, seed 1), split by patient
# with cxr-split into 2400 training, 300 validation and 600 test images,
# resized by area average to 64 px; the training sets of N images are the
# first N rows of the training manifest (so each smaller set lies inside
# the larger, every one patient-disjoint from validation and test), each
# packed with cxr-pack --shuffle. Every set-up uses the same validation and
# test sets.
#
# The grid, one line per set-up "WIDTH N EPOCHS SEEDS TWIN_SEEDS TV_SEEDS":
# cxr-train with each of INITS [torchvision keras torch] for each of SEEDS,
# the twin with PyTorch's default init (--init-scheme torch) for each of
# TWIN_SEEDS and with torchvision's for each of TV_SEEDS ("-": none):
#   0.125 600 25 1,2,3 1,2,3 1,2   the issue's set-up (issue 12)
#   0.125 300 25 1,2 1 -           less data
#   0.25 600 25 1 1 -              wider
#   1 600 3 1 1 -                  full width, 3 epochs: the trend only
#   0.125 1200 25 1 1 -            more data
#   0.125 2400 25 1 1 -            more data still
# GRID=FILE replaces it. PRECISION [fp32] is cxr-train's --precision (the
# twin's is fp32); runs in bf16 are the engine "cxr-bf16" in the results.
#
# Every run is single-threaded (-j 1, OMP_WAIT_POLICY=PASSIVE), one after
# the other: the machine is shared. 29 CPU-minutes of training in all on
# the machine it was written on (cxr about 25 s a run at width 1/8 on 600
# images, the twin about twice that), and a minute making the data; the
# table it printed is in cxr-train(1), INITIALISATION. Results go to
# OUT/results.tsv (one line per run; a run already there is not run again,
# so an interrupted study continues), the table to OUT/table.tsv and
# stdout.
#
# Settings, from the environment: OUT [/tmp/cxr-init-study], GRID, INITS,
# TWIN [1] (0: cxr only). Run from anywhere after `make all`.
# Needs /usr/bin/python3 with torch and numpy for the twin.
top=$(cd "$(dirname "$0")/.." && pwd)
PATH=$top/bin:$PATH; export PATH
OMP_WAIT_POLICY=PASSIVE; export OMP_WAIT_POLICY
out=${OUT:-/tmp/cxr-init-study}
inits=${INITS:-torchvision keras torch}
twin=${TWIN:-1}
set -eu
mkdir -p "$out"
d=$out/data

if [ ! -s "$d/test.cxs" ]; then
	rm -rf "$d"
	cxr-synth -q -j 1 --images 3600 --size 256 --seed 1 -o "$d/synth"
	cxr-split -q --train 2400 --val 300 --test 600 --seed 1 -o "$d/split" \
		"$d/synth/Data_Entry_2017_v2020.csv"
	for n in 300 600 1200 2400; do
		head -n $((n + 1)) "$d/split/train.tsv" > "$d/train$n.tsv"
		cxr-resize -q -j 1 --size 64 --root "$d/synth" -o "$d/train$n.cxs" "$d/train$n.tsv"
		cxr-pack -q --shuffle --seed 1 -o "$d/train$n.cxp" "$d/train$n.cxs"
		rm "$d/train$n.cxs"
	done
	cxr-resize -q -j 1 --size 64 --root "$d/synth" -o "$d/val.cxs" "$d/split/val.tsv"
	cxr-pack -q -o "$d/val.cxp" "$d/val.cxs"
	cxr-resize -q -j 1 --size 64 --root "$d/synth" -o "$d/test.cxs.tmp" "$d/split/test.tsv"
	mv "$d/test.cxs.tmp" "$d/test.cxs"
	rm -rf "$d/synth" "$d/val.cxs"
fi

# cxr-train's arithmetic pinned (fp32 unless PRECISION says bf16), where
# it offers a choice; the twin's is fp32
prec= engine=cxr
if cxr-train --help 2>&1 | grep -q -e '--precision'; then
	prec="--precision ${PRECISION:-fp32}"
	[ "${PRECISION:-fp32}" = fp32 ] || engine=cxr-${PRECISION}
fi

res=$out/results.tsv
[ -s "$res" ] || printf 'engine\tinit\twidth\tn\tepochs\tseed\ttest_auc\tbest_val_auc\tbest_epoch\tcpu_s\n' > "$res"
done_already() { awk -F'\t' -v k="$1" '$1"/"$2"/"$3"/"$4"/"$5"/"$6 == k { f = 1 } END { exit !f }' "$res"; }

# cxr INIT WIDTH N EPOCHS SEED
cxr() {
	key=$engine/$1/$2/$3/$4/$5
	done_already "$key" && return 0
	m=$out/m-$engine-$1-$2-$3-$4-$5.cxm
	/usr/bin/time -o "$out/time" -f "%U %S" cxr-train -q -j 1 $prec --init "$1" --width "$2" \
		--epochs "$4" --seed "$5" --val "$d/val.cxp" -o "$m" "$d/train$3.cxp"
	auc=$(cxr-score -q -j 1 -m "$m" "$d/test.cxs" | cxr-roc -q | awk -F'\t' '$1 == "auc" { print $2 }')
	best=$(grep -v '^#' "$m.log" | awk -F'\t' 'NR > 1 && (NR == 2 || $5 > b) { b = $5; e = $1 }
		END { printf "%s\t%s", b, e }')
	cpu=$(awk '{ print $1 + $2 }' "$out/time")
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$engine" "$1" "$2" "$3" "$4" "$5" "$auc" "$best" "$cpu" >> "$res"
	rm -f "$m" "$m.best" "$m.ckpt"
}

# twin INIT WIDTH N EPOCHS SEED
twin() {
	key=torch/$1/$2/$3/$4/$5
	done_already "$key" && return 0
	o=$out/t-$1-$2-$3-$4-$5.out
	/usr/bin/time -o "$out/time" -f "%U %S" /usr/bin/python3 "$top/bench/torch_train.py" -j 1 \
		--init-scheme "$1" --width "$2" --epochs "$4" --seed "$5" --val "$d/val.cxp" \
		--test "$d/test.cxs" "$d/train$3.cxp" > "$o"
	auc=$(awk '$1 == "#" && $2 == "test" { sub(",", "", $7); print $7 }' "$o")
	best=$(grep -v '^#' "$o" | awk -F'\t' 'NR > 1 && (NR == 2 || $5 > b) { b = $5; e = $1 }
		END { printf "%s\t%s", b, e }')
	cpu=$(awk '{ print $1 + $2 }' "$out/time")
	printf 'torch\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" "$auc" "$best" "$cpu" >> "$res"
}

grid=$out/grid
if [ -n "${GRID:-}" ]; then
	cp "$GRID" "$grid"
else
	cat > "$grid" <<-EOF
	0.125 600 25 1,2,3 1,2,3 1,2
	0.125 300 25 1,2 1 -
	0.25 600 25 1 1 -
	1 600 3 1 1 -
	0.125 1200 25 1 1 -
	0.125 2400 25 1 1 -
	EOF
fi
have_torch=0
[ "$twin" = 1 ] && /usr/bin/python3 -c 'import torch, numpy' 2>/dev/null && have_torch=1
[ "$twin" = 1 ] && [ $have_torch = 0 ] && echo "skip: /usr/bin/python3 lacks torch or numpy; cxr only"
while read -r w n e seeds tseeds tvseeds; do
	for s in $(echo "$seeds" | tr , ' '); do
		for i in $inits; do cxr "$i" "$w" "$n" "$e" "$s"; done
	done
	[ $have_torch = 1 ] || continue
	for s in $(echo "$tseeds" | tr , ' ' | tr -d -); do twin torch "$w" "$n" "$e" "$s"; done
	for s in $(echo "${tvseeds:--}" | tr , ' ' | tr -d -); do twin torchvision "$w" "$n" "$e" "$s"; done
done < "$grid"

# The table: per set-up and engine/init, the test AUCs by seed and their mean.
awk -F'\t' 'NR > 1 {
		k = $3 "\t" $4 "\t" $5; r = $1 "-" $2
		if (!(k in seen)) { seen[k] = 1; keys[++nk] = k }
		if (!((k, r) in cnt)) { rows[k] = rows[k] " " r }
		cnt[k, r]++; sum[k, r] += $7; aucs[k, r] = aucs[k, r] (cnt[k, r] > 1 ? " " : "") sprintf("%.3f", $7)
		cpu += $10
	}
	END {
		printf "width\tn\tepochs\trun\tmean_test_auc\ttest_aucs_by_seed\n"
		for (j = 1; j <= nk; j++) {
			k = keys[j]; m = split(substr(rows[k], 2), rr, " ")
			for (i = 1; i <= m; i++)
				printf "%s\t%s\t%.3f\t%s\n", k, rr[i], sum[k, rr[i]] / cnt[k, rr[i]], aucs[k, rr[i]]
		}
		printf "# %.1f CPU-minutes of training in all\n", cpu / 60
	}' "$res" > "$out/table.tsv"
cat "$out/table.tsv"
