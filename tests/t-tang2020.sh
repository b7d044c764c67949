#!/bin/sh
# pipelines/tang2020.mk run whole on a tiny stand-in of NIH's download:
# 64 synthetic images (cxr-synth, 32 px) renamed to the first names of
# Tang et al.'s training and validation lists and the last 20 of their test
# lists (the attending list's last line has no final newline), with
# Tang-sized lists of those names given as TANG. The run must make the
# split the lists say, score the test images once, evaluate them against
# the three reference standards (each table equal to cxr-roc on an
# independently joined scores file) and write the comparison with the
# paper's figure; a second make does nothing, a changed list remakes the
# split. Then `make -n` with the default lists shows the real files wired
# in. A few seconds on 2 cores.
top=${CXR_TOP:-..}
tang=$top/pipelines/tang2020
NAME=t-tang2020; . ./lib.sh
need make

# --- the stand-in ---
mkdir -p "$t/lists"
head -n 32 "$tang/train.txt" > "$t/lists/train.txt"
head -n 12 "$tang/val.txt" > "$t/lists/val.txt"
for f in test test_attending_rad test_rad_consensus_voted3; do
	tail -n 20 "$tang/$f.txt" > "$t/lists/$f.txt"
done
tail -c 1 "$t/lists/test_attending_rad.txt" | od -c | grep -q '\\n' &&
	fail "the attending list's stand-in gained a final newline"
cxr-synth -q -j 1 --images 64 --size 32 -o "$t/nih" || { fail "cxr-synth"; finish; }
{ cat "$t/lists/train.txt" "$t/lists/val.txt" "$t/lists/test.txt"; } | cut -d' ' -f1 > "$t/names"
[ "$(wc -l < "$t/names")" = 64 ] || fail "stand-in names: $(wc -l < "$t/names")"
# Rename image k of the synthetic set to name k, its patient to the
# name's (so Tang's lists stay patient-disjoint), and the PNG with it.
img=$t/nih/images_001/images
awk -F, -v OFS=, -v mv="$t/mv.sh" -v img="$img" '
	NR == FNR { name[FNR] = $1; next }
	FNR == 1 { print; next }
	{ old = $1; $1 = name[FNR - 1]; $4 = substr($1, 1, 8) + 0; print
	  print "mv \"" img "/" old "\" \"" img "/" $1 "\"" > mv }' \
	"$t/names" "$t/nih/Data_Entry_2017_v2020.csv" > "$t/csv" &&
	mv "$t/csv" "$t/nih/Data_Entry_2017_v2020.csv" && sh "$t/mv.sh" || { fail "renaming"; finish; }

run() {
	make -f "$top/pipelines/tang2020.mk" NIH="$t/nih" TANG="$t/lists" OUT="$t/out" \
		SIZE=32 WIDTH=0.0625 EPOCHS=1 BATCH=8 JOBS=1 BIN="$top/bin" "$@"
}

# --- the run ---
run > "$t/log" 2>&1 && ok "make -f pipelines/tang2020.mk on the stand-in" ||
	{ fail "the pipeline failed"; tail -20 "$t/log" | sed 's/^/    /'; finish; }
for f in split/train.tsv split/val.tsv split/test.tsv scores.tsv roc.tsv roc-attending.tsv \
	roc-attending.svg roc-consensus.tsv roc-consensus.svg tang2020.md report.md report.html; do
	[ -s "$t/out/$f" ] || fail "no $f"
done
# the split is the lists
for s in train val test; do
	cut -d' ' -f1 "$t/lists/$s.txt" | LC_ALL=C sort > "$t/want"
	tail -n +2 "$t/out/split/$s.tsv" | cut -f1 > "$t/got"
	cmp -s "$t/want" "$t/got" && ok "$s set = $s.txt" || fail "$s set differs from $s.txt"
done
# the training labels are the list's; the test labels NIH's (the stand-in's)
tr -d '\r' < "$t/lists/train.txt" | awk '{ print $1 "\t" $2 }' | LC_ALL=C sort > "$t/want"
tail -n +2 "$t/out/split/train.tsv" | cut -f1,2 | cmp -s "$t/want" - && ok "training labels from train.txt" ||
	fail "training labels"
awk -F'\t' 'NR > 1 && ($2 == 0) != ($3 == "No Finding") { bad++ } END { exit bad > 0 }' "$t/out/split/test.tsv" &&
	ok "test labels are NIH's (the NLP reference)" || fail "test labels are not NIH's"
# scored once, 20 images; each reference's table = cxr-roc on a joined file
[ "$(grep -c 'cxr-score' "$t/log")" = 1 ] && ok "the test images scored once" || fail "cxr-score ran $(grep -c cxr-score "$t/log") times"
[ "$(wc -l < "$t/out/scores.tsv")" = 21 ] || fail "scores.tsv: $(wc -l < "$t/out/scores.tsv") lines"
for r in attending:test_attending_rad consensus:test_rad_consensus_voted3; do
	k=${r%%:*} f=${r#*:}
	awk -F'\t' -v OFS='\t' 'NR == FNR { split($0, a, " "); ref[a[1]] = a[2]; next }
		FNR == 1 { print; next } ($1 in ref) { $3 = ref[$1]; print }' \
		"$t/lists/$f.txt" "$t/out/scores.tsv" > "$t/j.tsv"
	cxr-roc -q "$t/j.tsv" | cmp -s - "$t/out/roc-$k.tsv" && ok "roc-$k.tsv = cxr-roc on the joined labels" ||
		fail "roc-$k.tsv differs from the joined file's table"
	grep -q "$f.txt: 20 labels, $t/out/scores.tsv: 20 scores; 20 matched, every score labelled, every label scored" "$t/log" &&
		ok "$k: 20 of 20 matched, said on stderr" || fail "$k: no match line in the log"
done
# the comparison: three rows with their n and AUC, the paper's figure, the caveat
for k in roc:NLP roc-attending:attending roc-consensus:consensus; do
	f=${k%%:*} name=${k#*:}
	auc=$(awk -F'\t' '$1 == "auc" { printf "%.4f", $2 }' "$t/out/$f.tsv")
	pos=$(awk -F'\t' '$1 == "positives" { print $2 }' "$t/out/$f.tsv")
	grep -q "^| $name.* | 20 | $pos | $auc (" "$t/out/tang2020.md" && ok "tang2020.md: $name row (AUC $auc)" ||
		fail "tang2020.md: no $name row with AUC $auc"
done
grep -q "0.9824 ± 0.0043" "$t/out/tang2020.md" && grep -q "DenseNet-121" "$t/out/tang2020.md" &&
	grep -q "^a ResNet-50 trained from scratch, with no ImageNet pretraining$" "$t/out/tang2020.md" &&
	grep -q "(width 0.0625, 32 px images, 1 epoch(s))" "$t/out/tang2020.md" &&
	ok "tang2020.md: the paper's figure and what differs" || fail "tang2020.md lacks the paper or the caveat"
grep -q "^pipeline	tang2020$" "$t/out/provenance.tsv" && ok "provenance names the pipeline" || fail "provenance"

# --- make knows what is done ---
# (make -q and -n cannot tell: the .params files of stages.mk are remade
# every time, rewritten only when they change)
run > "$t/log2" 2>&1 || fail "a second make failed"
grep -q "bin/cxr-" "$t/log2" && fail "a second make ran tools again: $(grep bin/cxr- "$t/log2" | head -3)" ||
	ok "a second make runs no tool"
sleep 1; touch "$t/lists/val.txt"
run > "$t/log3" 2>&1 || fail "the make after a changed list failed"
grep -q "bin/cxr-split -q" "$t/log3" &&
	grep -q -- "--train-list $t/lists/train.txt --val-list $t/lists/val.txt --test-list $t/lists/test.txt --disjoint-patients" "$t/log3" &&
	ok "a changed list remakes the split" || fail "touching val.txt does not remake the split"

# --- the default lists are wired in ---
make -n -f "$top/pipelines/tang2020.mk" NIH=/data/nih OUT="$t/n2" > "$t/n2.log" 2>&1
for f in train.txt val.txt test.txt; do
	grep -q -- "-list $tang/$f" "$t/n2.log" || fail "make -n: $f not given to cxr-split"
done
grep -q -- "--reference $tang/test_attending_rad.txt" "$t/n2.log" &&
	grep -q -- "--reference $tang/test_rad_consensus_voted3.txt" "$t/n2.log" &&
	grep -q -- "cxr-split -q --train all --val all" "$t/n2.log" && ok "make -n: Tang's lists wired in by default" ||
	{ fail "make -n with the default lists"; sed 's/^/    /' "$t/n2.log" | head; }
make -f "$top/pipelines/tang2020.mk" > "$t/n3.log" 2>&1 && fail "no NIH= accepted"
grep -q "give the NIH download folder" "$t/n3.log" && ok "NIH= required" || fail "the error without NIH="

finish
