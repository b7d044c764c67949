#!/bin/sh
# cxr-roc and cxr-bias --reference FILE: the same scores against another
# reference standard, joined by image name. Scores of Tang et al.'s 1,344
# test images (made up here, deterministic) carry NIH's labels; against the
# attending radiologists' list (no final newline), the consensus list and a
# TSV, every table must equal the tool's table on a scores file whose label
# column was replaced by an independent join in awk. Then the stderr line
# of what matched, partial overlaps, and the errors.
top=${CXR_TOP:-..}
tang=$top/pipelines/tang2020
NAME=t-labels; . ./lib.sh

att=$tang/test_attending_rad.txt con=$tang/test_rad_consensus_voted3.txt
gzip -dc < "$top/tests/data/nih/Data_Entry_2017_v2020.csv.gz" > "$t/nih.csv" || exit 1
cxr-split -q --train-list "$tang/train.txt" --val-list "$tang/val.txt" --test-list "$tang/test.txt" \
	-o "$t/split" "$t/nih.csv" || exit 1
# Scores as cxr-score writes them, in a shuffled order: a score that
# leans on the NIH label with noise, the manifest's columns.
awk -F'\t' 'BEGIN { srand(7) }
	NR > 1 { s = 0.35 * $2 + 0.65 * rand(); printf "%.6f\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", rand(), $1, s, $2, $4, $6, $7, $8 }' \
	"$t/split/test.tsv" | sort -k1,1 | cut -f2- |
	awk -v OFS='\t' 'BEGIN { print "image\tscore\tlabel\tpatient\tage\tsex\tview\tmodel\tthreshold" } { print $0, "abcdef012345", 0.5 }' > "$t/scores.tsv"
[ "$(wc -l < "$t/scores.tsv")" = 1345 ] || { fail "scores fixture: $(wc -l < "$t/scores.tsv") lines"; finish; }

# The scores with their labels replaced by REF's (IMAGE LABEL lines, or
# a TSV with image and label columns), rows without a 0/1 label dropped.
joined() {
	awk -F'\t' -v OFS='\t' -v tsv="$2" '
	FNR == 1 && NR == FNR && tsv { for (i = 1; i <= NF; i++) { if ($i == "image") ci = i; if ($i == "label") cl = i }; next }
	NR == FNR { sub(/\r$/, ""); if (tsv) { n = $ci; l = $cl } else { split($0, f, " "); n = f[1]; l = f[2] }
		if (l == 0 || l == 1) ref[n] = l; next }
	FNR == 1 { print; next }
	($1 in ref) { $3 = ref[$1]; print }' "$1" "$t/scores.tsv"
}

# --- the same tables as on the joined file ---
for r in "$att" "$con"; do
	b=$(basename "$r" .txt)
	joined "$r" > "$t/$b.tsv"
	expect 0 cxr-roc --reference "$r" "$t/scores.tsv"
	cxr-roc -q "$t/$b.tsv" | cmp -s - "$t/out" && ok "cxr-roc: $b = the joined file's table" ||
		fail "cxr-roc --reference $b differs from the joined file's table"
	err_has "$b.txt: 1344 labels, $t/scores.tsv: 1344 scores; 1344 matched, every score labelled, every label scored"
	# bootstrap replicates see the rows in the scores file's order
	cxr-roc -q --ci bootstrap --reps 200 --reference "$r" "$t/scores.tsv" > "$t/bs1"
	cxr-roc -q --ci bootstrap --reps 200 "$t/$b.tsv" | cmp -s - "$t/bs1" && ok "cxr-roc: $b bootstrap = the joined file's" ||
		fail "bootstrap differs with --reference $b"
	expect 0 cxr-bias --by sex --by age:20 --by view --reference "$r" "$t/scores.tsv"
	cxr-bias -q --by sex --by age:20 --by view "$t/$b.tsv" | cmp -s - "$t/out" && ok "cxr-bias: $b = the joined file's table" ||
		fail "cxr-bias --reference $b differs from the joined file's table"
	err_has "1344 matched, every score labelled, every label scored"
done
# the references differ from NIH's labels, so the AUCs do too
a_nlp=$(cxr-roc -q "$t/scores.tsv" | awk '$1 == "auc" { print $2 }')
a_att=$(cxr-roc -q --reference "$att" "$t/scores.tsv" | awk '$1 == "auc" { print $2 }')
p_con=$(cxr-roc -q --reference "$con" "$t/scores.tsv" | awk '$1 == "positives" { print $2 }')
[ "$a_nlp" != "$a_att" ] && ok "another reference, another AUC ($a_nlp, $a_att)" || fail "the reference changed nothing"
[ "$p_con" = 653 ] && ok "the consensus: 653 abnormal" || fail "consensus positives $p_con, want 653"
# a TSV reference: the split's manifest with the attending labels, and
# --label naming another column
cxr-split -q --train-list "$tang/train.txt" --val-list "$tang/val.txt" --test-list "$att" \
	-o "$t/asplit" "$t/nih.csv" || fail "split with the attending labels"
expect 0 cxr-roc --reference "$t/asplit/test.tsv" "$t/scores.tsv"
cxr-roc -q --reference "$att" "$t/scores.tsv" | cmp -s - "$t/out" && ok "a TSV reference (manifest) = the list" ||
	fail "the manifest as reference differs from the list"
awk -F'\t' -v OFS='\t' '{ print $2, $1 }' "$t/asplit/test.tsv" | sed '1s/^label/rad/' > "$t/rad.tsv"
expect 0 cxr-roc -q --reference "$t/rad.tsv" --label rad "$t/scores.tsv"
cxr-roc -q --reference "$att" "$t/scores.tsv" | cmp -s - "$t/out" && ok "--label names the TSV reference's column" ||
	fail "--reference TSV --label rad"
expect 1 cxr-roc -q --reference "$t/rad.tsv" "$t/scores.tsv"
err_has "rad.tsv: line 1: no 'label' column in the header (name the label column with --label)"
# the scores' own label column plays no part: '-' there, or no column
awk -F'\t' -v OFS='\t' 'NR > 1 && NR % 3 == 0 { $3 = "-" } { print }' "$t/scores.tsv" > "$t/dash.tsv"
cut -f1,2,4- "$t/scores.tsv" > "$t/nolabel.tsv"
for f in dash nolabel; do
	expect 0 cxr-roc -q --reference "$att" "$t/$f.tsv"
	cxr-roc -q --reference "$att" "$t/scores.tsv" | cmp -s - "$t/out" && ok "scores labelled '-' or unlabelled: $f" ||
		fail "--reference on $f.tsv"
done
# two scorings of the same images, paired, against the reference
awk -F'\t' -v OFS='\t' 'NR > 1 { $2 = $2 * $2 } { print }' "$t/scores.tsv" > "$t/sq.tsv"
joined "$att" > "$t/ja.tsv"; awk -F'\t' -v OFS='\t' 'NR > 1 { $2 = $2 * $2 } { print }' "$t/ja.tsv" > "$t/jsq.tsv"
expect 0 cxr-roc -q --reference "$att" "$t/scores.tsv" "$t/sq.tsv"
cxr-roc -q "$t/ja.tsv" "$t/jsq.tsv" | cmp -s - "$t/out" && ok "paired test against the reference" || fail "paired --reference"
# the plot names the reference
expect 0 cxr-roc -q --reference "$att" --svg "$t/roc.svg" -o /dev/null "$t/scores.tsv"
grep -q "ROC curve: scores.tsv against test_attending_rad.txt" "$t/roc.svg" && ok "the plot's title names the reference" ||
	fail "plot title"

# --- what matched and what did not ---
head -1001 "$t/scores.tsv" > "$t/part.tsv"
printf 'image\tscore\tsex\n' > "$t/extra.tsv"
tail -n +2 "$t/scores.tsv" | head -40 | cut -f1,2,6 >> "$t/extra.tsv"
printf '99999999_000.png\t0.5\tM\n00000001_000.png\t0.25\tF\n' >> "$t/extra.tsv"
expect 0 cxr-roc --reference "$att" "$t/part.tsv"
tail -n +2 "$t/scores.tsv" | cut -f1 | tail -n 344 > "$t/left"
first=$(awk 'NR == FNR { left[$1] = 1; next } ($1 in left) { print $1; exit }' "$t/left" "$att")
err_has "1344 labels, $t/part.tsv: 1000 scores; 1000 matched, every score labelled, 344 labels without a score (e.g. $first)"
n=$(awk '$1 == "n" { print $2 }' "$t/out")
[ "$n" = 1000 ] && ok "n counts the matched rows" || fail "n $n, want 1000"
expect 0 cxr-roc --reference "$att" "$t/extra.tsv"
err_has "42 scores; 40 matched, 2 scores without a label (e.g. 99999999_000.png), 1304 labels without a score"
expect 0 cxr-bias --by sex --reference "$att" "$t/extra.tsv"
err_has "40 matched, 2 scores without a label"
[ "$(awk -F'\t' '$1 == "all" { print $3 }' "$t/out")" = 40 ] && ok "cxr-bias: the matched rows" || fail "cxr-bias n"
expect 0 cxr-roc -q --reference "$att" "$t/part.tsv"
[ -s "$t/err" ] && fail "-q printed: $(cat "$t/err")"
# images labelled '-' in the reference are left out, and said so
awk 'NR % 2 { $2 = "-" } { print }' "$att" > "$t/half.txt"
expect 0 cxr-roc --reference "$t/half.txt" "$t/scores.tsv"
err_has "half.txt: 672 labels, $t/scores.tsv: 1344 scores; 672 matched, 672 scores without a label"
err_has "(672 images labelled '-' left out)"

# --- errors ---
printf 'a.png 1\nb.png 0\n' > "$t/other.txt"
expect 1 cxr-roc --reference "$t/other.txt" "$t/scores.tsv"
err_has "no scored image has a label in $t/other.txt (scores name e.g."
err_has "the reference e.g. a.png): do the two name images the same way?"
{ cat "$t/scores.tsv"; tail -n 1 "$t/scores.tsv"; } > "$t/twice.tsv"
expect 1 cxr-roc --reference "$att" "$t/twice.tsv"
err_has "twice.tsv: line 1346: image $(tail -n 1 "$t/scores.tsv" | cut -f1) already on line 1345"
head -3 "$att" > "$t/bare.txt"; echo 00000001_000.png >> "$t/bare.txt"
expect 1 cxr-roc --reference "$t/bare.txt" "$t/scores.tsv"
err_has "bare.txt: line 4: 00000001_000.png has no label (a reference standard is IMAGE LABEL lines"
printf '00000001_000.png yes\n' > "$t/yes.txt"
expect 1 cxr-bias --reference "$t/yes.txt" "$t/scores.tsv"
err_has "yes.txt: line 1: label 'yes' of 00000001_000.png is not 0, 1 or -"
printf 'image\tlabel\na.png\t1\nb.png\t0\na.png\t0\n' > "$t/dup.tsv"
expect 1 cxr-roc --reference "$t/dup.tsv" "$t/scores.tsv"
err_has "dup.tsv: line 4: image a.png listed again (first on line 2)"
printf 'image\tlabel\na.png\t2\n' > "$t/two.tsv"
expect 1 cxr-roc --reference "$t/two.tsv" "$t/scores.tsv"
err_has "two.tsv: line 2: label '2' is not 0, 1 or -"
expect 1 cxr-roc --reference "$att" --label rad "$t/scores.tsv"
err_has "--label rad names a column, but this is a list of IMAGE LABEL lines"
: > "$t/empty.txt"
expect 1 cxr-bias --reference "$t/empty.txt" "$t/scores.tsv"
err_has "empty.txt: empty (no labels)"
expect 1 cxr-roc --reference "$t/nonesuch.txt" "$t/scores.tsv"
err_has "nonesuch.txt: No such file or directory"
# one class only among the matched rows
awk '$2 == 1' "$att" > "$t/pos.txt"
expect 1 cxr-roc --reference "$t/pos.txt" "$t/scores.tsv"
err_has "all 667 labelled rows are positive (1); a ROC curve needs both classes"
# the scores without an image column cannot be joined
cut -f2- "$t/scores.tsv" > "$t/noimage.tsv"
expect 1 cxr-roc --reference "$att" "$t/noimage.tsv"
err_has "no 'image' column"
expect 2 cxr-roc --reference - - < "$att"
err_has "cannot both be the standard input"
expect 2 cxr-bias --reference - < "$att"
err_has "cannot both be the standard input"
# the reference from stdin
expect 0 cxr-roc -q --reference - "$t/scores.tsv" < "$att"
cxr-roc -q --reference "$att" "$t/scores.tsv" | cmp -s - "$t/out" && ok "--reference - reads stdin" || fail "--reference -"
for tool in cxr-roc cxr-bias; do
	expect 0 $tool --help
	grep -q -- "--reference FILE" "$t/out" || fail "$tool --help lacks --reference"
done

finish
