#!/bin/sh
# cxr-split --train-list/--val-list/--test-list: a published split taken as
# given. On Tang et al. 2020's lists (pipelines/tang2020/) against NIH's
# full label file: the sets are the lists, the lists' labels replace NIH's
# and the rest of each row is NIH's, the list without a final newline, the
# report's counts. On small lists: shared patients (warning, and an error
# under --disjoint-patients), images the CSV lacks, an image in two lists,
# bad lines, counts drawn from a list, usage errors.
top=${CXR_TOP:-..}
data=$top/tests/data/nih
tang=$top/pipelines/tang2020
NAME=t-split-lists; . ./lib.sh

rows() { echo $(($(wc -l < "$1") - 1)); }
csv=$tmp/Data_Entry_2017_v2020.csv
gzip -dc < "$data/Data_Entry_2017_v2020.csv.gz" > "$csv" || exit 1
# every image of the CSV in one manifest, the reference for the rows
cxr-split -q --train all --val 0 --test 0 -o "$tmp/all" "$csv" || exit 1
[ "$(rows "$tmp/all/train.tsv")" = 112120 ] && ok "--train all: every image" ||
	fail "--train all gave $(rows "$tmp/all/train.tsv") rows"

# --- Tang's lists as published (the attending radiologists' test labels) ---
expect 0 cxr-split --train-list "$tang/train.txt" --val-list "$tang/val.txt" \
	--test-list "$tang/test_attending_rad.txt" --disjoint-patients -o "$tmp/t" "$data/Data_Entry_2017_v2020.csv.gz"
cp "$tmp/err" "$tmp/t.err"
for s in train:train:8574 val:val:1706 test:test_attending_rad:1344; do
	set=${s%%:*} rest=${s#*:}; list=${rest%%:*} n=${rest#*:}
	[ "$(rows "$tmp/t/$set.tsv")" = "$n" ] && ok "$set: $n images" ||
		fail "$set: $(rows "$tmp/t/$set.tsv") images, want $n"
	# the set is the list, and its labels are the list's
	tr -d '\r' < "$tang/$list.txt" | awk 'NF { print $1 "\t" $2 }' | LC_ALL=C sort > "$tmp/want"
	tail -n +2 "$tmp/t/$set.tsv" | cut -f1,2 > "$tmp/got"
	cmp -s "$tmp/want" "$tmp/got" && ok "$set: the images and labels of $list.txt" ||
		fail "$set: not the images and labels of $list.txt ($(diff "$tmp/want" "$tmp/got" | head -3))"
	# every other column is NIH's
	tail -n +2 "$tmp/t/$set.tsv" | cut -f1,3- > "$tmp/got"
	awk -F'\t' -v OFS='\t' 'NR == FNR { want[$1] = 1; next } FNR > 1 && ($1 in want) { $2 = ""; print }' \
		"$tmp/got" "$tmp/all/train.tsv" | sed 's/\t\t/\t/' > "$tmp/want"
	cmp -s "$tmp/want" "$tmp/got" && ok "$set: findings, patient, age, sex, view from the CSV" ||
		fail "$set: a column differs from the CSV's"
done
# test_attending_rad.txt has no final newline: its last image is there
tail -c 1 "$tang/test_attending_rad.txt" | od -c | grep -q '\\n' && fail "the fixture gained a final newline"
last=$(tail -n 1 "$tang/test_attending_rad.txt" | cut -d' ' -f1)
grep -q "^$last	" "$tmp/t/test.tsv" && ok "the last line without its newline is read ($last)" ||
	fail "$last (last line, no newline) is missing"
{ cat "$tang/test_attending_rad.txt"; echo; } > "$tmp/nl.txt"
expect 0 cxr-split -q --train-list "$tang/train.txt" --val-list "$tang/val.txt" \
	--test-list "$tmp/nl.txt" -o "$tmp/t2" "$csv"
cmp -s "$tmp/t/test.tsv" "$tmp/t2/test.tsv" && cmp -s "$tmp/t/train.tsv" "$tmp/t2/train.tsv" &&
	ok "the same with a final newline, from the plain CSV" || fail "a final newline changes the split"
# the report
for m in "112120 rows of 30805 patients" \
	"train.txt: 8574 images of 6151 patients listed; 8574 labels from the list, 0 of them not the CSV's" \
	"val.txt: 1706 images of 1146 patients listed; 1706 labels from the list, 9 of them not the CSV's" \
	"test_attending_rad.txt: 1344 images of 895 patients listed; 1344 labels from the list, 21 of them not the CSV's" \
	"train   8574 images   6151 patients  prevalence 0.5030 (4313 abnormal)" \
	"val     1706 images   1146 patients  prevalence 0.5023 (857 abnormal)" \
	"test    1344 images    895 patients  prevalence 0.4963 (667 abnormal)" \
	"100496 images in no set"; do
	grep -qF -- "$m" "$tmp/t.err" && ok "report: $m" || { fail "report lacks: $m"; sed 's/^/    /' "$tmp/t.err"; }
done
grep -q "share" "$tmp/t.err" && fail "Tang's lists share no patient, but a warning says so"
# no patient in two sets
for s in train val test; do tail -n +2 "$tmp/t/$s.tsv" | cut -f4 | sort -u; done | sort | uniq -d > "$tmp/dup"
[ -s "$tmp/dup" ] && fail "patients in two sets" || ok "no patient in two sets"
# the consensus labels: the same images, 653 abnormal
expect 0 cxr-split --train-list "$tang/train.txt" --val-list "$tang/val.txt" \
	--test-list "$tang/test_rad_consensus_voted3.txt" -o "$tmp/c" "$csv"
err_has "test_rad_consensus_voted3.txt: 1344 images of 895 patients listed; 1344 labels from the list, 37 of them not the CSV's"
err_has "test    1344 images    895 patients  prevalence 0.4859 (653 abnormal)"
cmp -s "$tmp/t/train.tsv" "$tmp/c/train.tsv" || fail "the test list changed the training set"
# names alone (pipelines/tang2020/test.txt): the test set keeps NIH's labels
expect 0 cxr-split -q --train-list "$tang/train.txt" --val-list "$tang/val.txt" \
	--test-list "$tang/test.txt" -o "$tmp/n" "$csv"
cut -f1 "$tmp/n/test.tsv" | cmp -s - "$(cut -f1 "$tmp/t/test.tsv" > "$tmp/names"; echo "$tmp/names")" ||
	fail "test.txt names other images than test_attending_rad.txt"
awk -F'\t' 'NR > 1 && ($2 == 0) != ($3 == "No Finding") { bad++ } END { exit bad > 0 }' "$tmp/n/test.tsv" &&
	ok "a names-only list keeps the CSV's labels" || fail "names-only list changed labels"
# the split does not depend on the lists' order
LC_ALL=C sort -r "$tang/train.txt" > "$tmp/rtrain.txt"
expect 0 cxr-split -q --train-list "$tmp/rtrain.txt" --val-list "$tang/val.txt" \
	--test-list "$tang/test_attending_rad.txt" -o "$tmp/r" "$csv"
cmp -s "$tmp/t/train.tsv" "$tmp/r/train.tsv" && ok "list order does not matter" || fail "list order changed train.tsv"
# counts drawn from the lists, by patient
expect 0 cxr-split -q --train 1000 --val 200 --train-list "$tang/train.txt" --val-list "$tang/val.txt" \
	--test-list "$tang/test.txt" -o "$tmp/d" "$csv"
[ "$(rows "$tmp/d/train.tsv")" = 1000 ] && [ "$(rows "$tmp/d/val.tsv")" = 200 ] &&
	[ "$(rows "$tmp/d/test.tsv")" = 1344 ] && ok "--train 1000 --val 200 draw from the lists" ||
	fail "counts with lists: $(wc -l "$tmp"/d/*.tsv)"
tail -n +2 "$tmp/d/train.tsv" | cut -f1 | grep -vxF -f "$tmp/names" > "$tmp/x"
cut -d' ' -f1 "$tang/train.txt" > "$tmp/trnames"
tail -n +2 "$tmp/d/train.tsv" | cut -f1 | grep -qvxF -f "$tmp/trnames" && fail "a drawn image not in train.txt"
expect 1 cxr-split -q --val 2000 --train-list "$tang/train.txt" --val-list "$tang/val.txt" \
	--test-list "$tang/test.txt" -o "$tmp/d2" "$csv"
err_has "val set from $tang/val.txt: asked for 2000 images in all; there are 1706 (of 1146 patients)"

# --- small lists, on the CSV's first 2000 rows ---
head -n 2001 "$csv" > "$tmp/small.csv"; csv=$tmp/small.csv
printf '00000013_000.png\n00000013_001.png 0\n00000002_000.png -\n' > "$tmp/tr.txt"
printf '00000013_002.png\t1\r\n\r\n  00000014_000.png  \r\n' > "$tmp/va.txt"
printf '\357\273\27700000015_000.png 1' > "$tmp/te.txt" # a byte-order mark, no final newline
expect 0 cxr-split --train-list "$tmp/tr.txt" --val-list "$tmp/va.txt" --test-list "$tmp/te.txt" -o "$tmp/s" "$csv"
err_has "tr.txt and $tmp/va.txt share 1 patient (2 and 1 of their images); both sets keep them"
grep -q "^00000013_001.png	0	Emphysema|Pneumothorax	13	" "$tmp/s/train.tsv" &&
	ok "label 0 from the list, findings from the CSV" || fail "label override: $(cat "$tmp/s/train.tsv")"
grep -q "^00000002_000.png	0	No Finding	2	" "$tmp/s/train.tsv" && ok "'-' keeps the CSV's label" || fail "'-' label"
grep -q "^00000013_002.png	1	" "$tmp/s/val.tsv" && grep -q "^00000014_000.png	0	" "$tmp/s/val.tsv" &&
	ok "tab, CRLF, blank line, blanks around a name" || fail "val list: $(cat "$tmp/s/val.tsv")"
grep -q "^00000015_000.png	1	No Finding	15	" "$tmp/s/test.tsv" && ok "byte-order mark, no final newline; label 1 over No Finding" ||
	fail "test list: $(cat "$tmp/s/test.tsv")"
[ "$(cat "$tmp"/s/*.tsv | wc -l)" = 9 ] || fail "the sets hold unlisted images"
err_has "1994 images in no set"
expect 0 cxr-split -q --train-list "$tmp/tr.txt" --val-list "$tmp/va.txt" --test-list "$tmp/te.txt" -o "$tmp/s2" "$csv"
err_has "share 1 patient" # said under -q too
expect 1 cxr-split -q --disjoint-patients --train-list "$tmp/tr.txt" --val-list "$tmp/va.txt" --test-list "$tmp/te.txt" -o "$tmp/s3" "$csv"
err_has "share 1 patient (2 and 1 of their images); --disjoint-patients refuses that"
[ -e "$tmp/s3/train.tsv" ] && fail "output written despite --disjoint-patients"
# stdin as one list
expect 0 cxr-split -q --train-list - --val-list "$tmp/va.txt" --test-list "$tmp/te.txt" -o "$tmp/s4" "$csv" < "$tmp/tr.txt"
cmp -s "$tmp/s/train.tsv" "$tmp/s4/train.tsv" && ok "a list from stdin" || fail "--train-list -"
# --views
expect 0 cxr-split -q --views PA --train-list "$tmp/tr.txt" --val-list "$tmp/va.txt" --test-list "$tmp/te.txt" -o "$tmp/s5" "$csv"
[ "$(tail -q -n +2 "$tmp"/s5/*.tsv | cut -f8 | sort -u)" = PA ] && ok "--views PA leaves out listed AP images" || fail "--views with lists"

# --- errors naming the list and line ---
printf '00000001_000.png 1\nnope.png 0\n' > "$tmp/miss.txt"
expect 1 cxr-split -q --train-list "$tmp/miss.txt" --val-list "$tmp/va.txt" --test-list "$tmp/te.txt" -o "$tmp/e" "$csv"
err_has "miss.txt: line 2: image nope.png is not in $csv"
[ -e "$tmp/e" ] && fail "an error left an output directory"
printf '00000015_000.png 0\n' > "$tmp/two.txt"
expect 1 cxr-split -q --train-list "$tmp/two.txt" --val-list "$tmp/va.txt" --test-list "$tmp/te.txt" -o "$tmp/e" "$csv"
err_has "two.txt: line 1: image 00000015_000.png is in $tmp/te.txt too (line 1); an image can be in one set only"
printf '00000001_000.png 2\n' > "$tmp/lab.txt"
expect 1 cxr-split -q --test-list "$tmp/lab.txt" -o "$tmp/e" "$csv"
err_has "lab.txt: line 1: label '2' of 00000001_000.png is not 0, 1 or -"
printf '\n00000001_000.png 1 x\n' > "$tmp/three.txt"
expect 1 cxr-split -q --test-list "$tmp/three.txt" -o "$tmp/e" "$csv"
err_has "three.txt: line 2: more than two fields"
printf '00000001_000.png 1\n00000001_000.png 0\n' > "$tmp/dup.txt"
expect 1 cxr-split -q --test-list "$tmp/dup.txt" -o "$tmp/e" "$csv"
err_has "dup.txt: line 2: image 00000001_000.png listed again (first on line 1)"
printf '00000001_000.png \000 1\n' > "$tmp/nul.txt"
expect 1 cxr-split -q --test-list "$tmp/nul.txt" -o "$tmp/e" "$csv"
err_has "nul.txt: line 1: a NUL byte"
expect 1 cxr-split -q --train-list "$tmp/nonesuch.txt" --val-list "$tmp/va.txt" --test-list "$tmp/te.txt" -o "$tmp/e" "$csv"
err_has "nonesuch.txt"
# --test-list alone, with labels: the test set takes them, the rest is drawn
printf '00000001_000.png 0\n00000001_001.png\n' > "$tmp/tl.txt"
expect 0 cxr-split --test-list "$tmp/tl.txt" --train 100 --val 10 -o "$tmp/l" "$csv"
grep -q "^00000001_000.png	0	Cardiomegaly	" "$tmp/l/test.tsv" && [ "$(rows "$tmp/l/train.tsv")" = 100 ] &&
	ok "--test-list alone: labels taken, train and val drawn" || fail "--test-list alone with labels"
err_has "tl.txt: 2 images of 1 patients listed; no image of theirs in train or val; 1 labels from the list, 1 of them not the CSV's"

# --- usage ---
for args in "--train-list $tmp/tr.txt --test-list $tmp/te.txt" "--val-list $tmp/va.txt" \
	"--train-list $tmp/tr.txt --val-list $tmp/va.txt"; do
	expect 2 cxr-split $args -o "$tmp/u" "$csv"
	err_has "give all three lists"
done
expect 2 cxr-split --val all -o "$tmp/u" "$csv"
err_has "--val all: every image of what? give --val-list"
expect 2 cxr-split --test all -o "$tmp/u" "$csv"
expect 2 cxr-split --train alll -o "$tmp/u" "$csv"
expect 2 cxr-split --train-list - --val-list - --test-list "$tmp/te.txt" -o "$tmp/u" "$csv"
err_has "only one of the CSV and the lists can be the standard input"
expect 2 cxr-split --test-list - -o "$tmp/u" < "$csv"
[ -e "$tmp/u" ] && fail "a usage error created the output directory"
expect 0 cxr-split --help
for o in --train-list --val-list --disjoint-patients; do
	grep -q -- "$o" "$tmp/out" || fail "--help lacks $o"
done

finish
