#!/bin/sh
# bench/learn.sh — does cxr learn as well as PyTorch? Trains the network
# with cxr-train and its PyTorch twin (bench/torch_train.py on
# bench/cxrnet.py) on the same packed synthetic data with the same
# hyper-parameters, one after the other, and prints the two learning
# curves side by side, then each final model's AUC on the test split
# (cxr: cxr-score | cxr-roc; torch: the same rank AUC in Python).
#
# The data: bin/cxr-synth images (IMAGES at SYNTH px), split by patient
# with cxr-split, resized by area average to SIZE px with cxr-resize,
# packed with cxr-pack --shuffle. The initial weights, the shuffle order
# and the dropout masks differ between the two (each engine draws its own
# from SEED); everything else is the same recipe (see torch_train.py).
#
# Settings, from the environment (defaults in brackets):
#   IMAGES [5000] SYNTH [256] SIZE [64] TRAIN [3400] VAL [700] TEST [700]
#   WIDTH [0.25] EPOCHS [10] BATCH [32] LR [0.001] SEED [1] JOBS [2]
#   OMP_WAIT_POLICY [PASSIVE] for both programs (see below)
#   KEEP=DIR keeps the data, models and logs in DIR (else a temporary
#   directory, removed at the end).
# The defaults take about 2 minutes to make the data, then 2 to 5 minutes
# per training on 2 idle cores. At width 0.125 (or on 1300 images) the
# network barely learns this data in 10 epochs in either engine (val AUC
# about 0.6), too little to compare curves; width 0.25 on 3400 images
# gets to about 0.7-0.75.
# OMP_WAIT_POLICY=PASSIVE: on a shared, loaded machine PyTorch's OpenMP
# threads spin-wait for each other, and -j2 ran 5 to 10 times slower
# than -j1 (0.85-2.5 s a step instead of 0.16); passive waiting removes
# that. cxr-train measured the same either way. Set it to ACTIVE to
# compare on an idle machine.
# Run from anywhere after `make all`. Needs /usr/bin/python3 with torch and
# numpy; without them it prints "skip:" and only cxr's curve.
images=${IMAGES:-5000} synth=${SYNTH:-256} size=${SIZE:-64}
ntrain=${TRAIN:-3400} nval=${VAL:-700} ntest=${TEST:-700}
width=${WIDTH:-0.25} epochs=${EPOCHS:-10} batch=${BATCH:-32} lr=${LR:-0.001}
seed=${SEED:-1} jobs=${JOBS:-2}
top=$(cd "$(dirname "$0")/.." && pwd)
PATH=$top/bin:$PATH; export PATH
OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}; export OMP_WAIT_POLICY
if [ -n "${KEEP:-}" ]; then
	tmp=$KEEP
	mkdir -p "$tmp" || exit 1
else
	tmp=$(mktemp -d /tmp/cxr-bench-learn.XXXXXX) || exit 1
	trap 'rm -rf "$tmp"' EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
fi
set -e

echo "learning comparison: $images synthetic images at ${synth}px -> ${size}px, split $ntrain/$nval/$ntest;"
echo "  width $width, epochs $epochs, batch $batch, lr $lr, seed $seed, $jobs threads each," \
	"one after the other;"
echo "  $(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg), OMP_WAIT_POLICY=$OMP_WAIT_POLICY"

t=$(date +%s)
cxr-synth -q -j "$jobs" --images "$images" --size "$synth" --seed "$seed" -o "$tmp/synth"
cxr-split -q --train "$ntrain" --val "$nval" --test "$ntest" --seed "$seed" -o "$tmp/split" \
	"$tmp/synth/Data_Entry_2017_v2020.csv"
for s in train val test; do
	cxr-resize -q -j "$jobs" --size "$size" --root "$tmp/synth" -o "$tmp/$s.cxs" "$tmp/split/$s.tsv"
done
cxr-pack -q --shuffle --seed "$seed" -o "$tmp/train.cxp" "$tmp/train.cxs"
cxr-pack -q -o "$tmp/val.cxp" "$tmp/val.cxs"
[ -n "${KEEP:-}" ] || rm -rf "$tmp/synth" "$tmp/train.cxs" "$tmp/val.cxs"
for s in train val test; do
	printf '  %s: %s images, %s abnormal\n' "$s" \
		"$(tail -n +2 "$tmp/split/$s.tsv" | wc -l)" \
		"$(tail -n +2 "$tmp/split/$s.tsv" | awk -F'\t' '$2 == 1' | wc -l)"
done
echo "  data made in $(($(date +%s) - t)) s"

# cxr: the per-epoch lines of MODEL.log (after the # lines and the header)
/usr/bin/time -o "$tmp/cxr.time" -f "%e %U %S %M" \
	cxr-train -q -j "$jobs" --val "$tmp/val.cxp" --width "$width" --epochs "$epochs" \
	--batch "$batch" --lr "$lr" --seed "$seed" -o "$tmp/m.cxm" "$tmp/train.cxp"
grep -v '^#' "$tmp/m.cxm.log" | tail -n +2 > "$tmp/cxr.tsv"
cxr-score -q -j "$jobs" -m "$tmp/m.cxm" "$tmp/test.cxs" > "$tmp/scores.tsv"
cxr-roc -q "$tmp/scores.tsv" > "$tmp/roc.tsv"

have_torch=1
/usr/bin/python3 -c 'import torch, numpy' 2> /dev/null || have_torch=0
if [ $have_torch = 1 ]; then
	/usr/bin/time -o "$tmp/torch.time" -f "%e %U %S %M" \
		/usr/bin/python3 "$top/bench/torch_train.py" -j "$jobs" --val "$tmp/val.cxp" \
		--test "$tmp/test.cxs" --width "$width" --epochs "$epochs" --batch "$batch" \
		--lr "$lr" --seed "$seed" "$tmp/train.cxp" > "$tmp/torch.out"
	grep -v '^#' "$tmp/torch.out" | tail -n +2 > "$tmp/torch.tsv"
else
	echo "skip: /usr/bin/python3 lacks torch or numpy; cxr's curve only"
	: > "$tmp/torch.tsv"
fi

# cxr.tsv: epoch steps train_loss val_loss val_auc val_error lr images_per_s elapsed
# torch.tsv: epoch steps train_loss val_loss val_auc lr images_per_s elapsed
echo
awk -F'\t' 'function f(v, fmt) { return v == "" ? "-" : sprintf(fmt, v) }
	FNR == NR { tl[$1] = $3; tv[$1] = $4; ta[$1] = $5; ti[$1] = $7; next }
	FNR == 1 { printf "%5s  %9s %9s  %9s %9s  %8s %8s  %8s %8s\n", "epoch", "cxr_loss",
		"torch", "cxr_vloss", "torch", "cxr_auc", "torch", "cxr_im/s", "torch" }
	{ printf "%5s  %9.4f %9s  %9.4f %9s  %8.4f %8s  %8.1f %8s\n", $1, $3, f(tl[$1], "%.4f"),
		$4, f(tv[$1], "%.4f"), $5, f(ta[$1], "%.4f"), $8, f(ti[$1], "%.1f") }' \
	"$tmp/torch.tsv" "$tmp/cxr.tsv"
echo "(loss: mean training BCE of the epoch; vloss, auc: on the validation pack;"
echo " im/s: training images over the epoch's wall time, validation included)"
echo
# the first epoch with the highest validation AUC, as cxr-train keeps
best() { awk -F'\t' 'NR == 1 || $5 > b { b = $5; e = $1 }
	END { printf "%.4f (epoch %d)", b, e }' "$1"; }
read -r e u s rss < "$tmp/cxr.time"
printf 'cxr-train:  %6.0f s wall, %6.0f s CPU, peak %6d KiB; best val auc %s\n' "$e" \
	"$(echo "$u $s" | awk '{print $1 + $2}')" "$rss" \
	"$(best "$tmp/cxr.tsv")"
if [ $have_torch = 1 ]; then
	read -r e u s rss < "$tmp/torch.time"
	printf 'torch:      %6.0f s wall, %6.0f s CPU, peak %6d KiB; best val auc %s\n' "$e" \
		"$(echo "$u $s" | awk '{print $1 + $2}')" "$rss" \
		"$(best "$tmp/torch.tsv")"
fi
echo
echo "test split ($ntest images), each engine's best-validation model:"
awk -F'\t' '$1 == "auc" { printf "  cxr-score | cxr-roc:  auc %.4f (95%% CI %.4f-%.4f)\n", $2, $3, $4 }' \
	"$tmp/roc.tsv"
if [ $have_torch = 1 ]; then
	awk '$1 == "#" && $2 == "test" { sub(",", "", $7); printf "  torch_train.py:       auc %.4f\n", $7 }' \
		"$tmp/torch.out"
fi
