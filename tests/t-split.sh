#!/bin/sh
# cxr-split on NIH's full Data_Entry_2017_v2020.csv, the Kaggle sample
# (CRLF, "058Y" ages) and the 2017 layout: exact counts, no patient in two
# sets, determinism, filters, the test list, errors and exit statuses.
data=${CXR_TOP:-..}/tests/data/nih
NAME=t-split; . ./lib.sh

# rows of a manifest, header excluded
rows() { echo $(($(wc -l < "$1") - 1)); }
csv=$tmp/Data_Entry_2017_v2020.csv
gzip -dc < "$data/Data_Entry_2017_v2020.csv.gz" > "$csv" || exit 1

# --- defaults on the full file ---
expect 0 cxr-split -o "$tmp/a" "$csv"
[ "$(rows "$tmp/a/train.tsv")" = 20000 ] && [ "$(rows "$tmp/a/val.tsv")" = 5000 ] &&
	[ "$(rows "$tmp/a/test.tsv")" = 10000 ] && ok "counts 20000/5000/10000" ||
	fail "counts: $(wc -l "$tmp"/a/*.tsv)"
for s in train val test; do
	[ "$(head -1 "$tmp/a/$s.tsv")" = "$(printf 'image\tlabel\tfindings\tpatient\tfollowup\tage\tsex\tview')" ] ||
		fail "$s.tsv header"
	tail -n +2 "$tmp/a/$s.tsv" | LC_ALL=C sort -c 2>/dev/null || fail "$s.tsv not sorted by image"
done
ls -a "$tmp/a" | grep -v '^\.*$' | grep -qv '^\(train\|val\|test\)\.tsv$' && fail "stray files in output dir"
# no patient in two sets
for s in train val test; do tail -n +2 "$tmp/a/$s.tsv" | cut -f4 | sort -u; done |
	sort | uniq -d > "$tmp/dup"
[ -s "$tmp/dup" ] && fail "patients in two sets: $(head -3 "$tmp/dup")" || ok "no patient in two sets"
# labels follow findings
awk -F'\t' 'NR > 1 && ($2 == 0) != ($3 == "No Finding") { bad++ } END { exit bad > 0 }' \
	"$tmp/a/train.tsv" && ok "label 0 exactly for No Finding" || fail "labels"
for s in train val test; do
	grep -q "^cxr-split: $s  *[0-9]* images  *[0-9]* patients  prevalence 0\.[0-9]*" "$tmp/err" ||
		fail "no $s line in the report"
done
# the reported prevalence is the fraction of label 1
p=$(awk -F'\t' 'NR > 1 { n++; a += $2 } END { printf "%.4f", a / n }' "$tmp/a/test.tsv")
grep -q "test .*prevalence $p " "$tmp/err" && ok "test prevalence $p reported" || fail "prevalence $p not in report"

# --- determinism ---
expect 0 cxr-split -q -o "$tmp/b" - < "$csv"
[ -s "$tmp/err" ] && fail "-q printed: $(cat "$tmp/err")"
for s in train val test; do
	cmp -s "$tmp/a/$s.tsv" "$tmp/b/$s.tsv" || fail "$s.tsv differs between runs"
done
ok "same seed, same bytes"
# the label file as NIH ships it (gzip): the same split, from a file or stdin
expect 0 cxr-split -q -o "$tmp/gz" "$data/Data_Entry_2017_v2020.csv.gz"
expect 0 cxr-split -q -o "$tmp/gz2" - < "$data/Data_Entry_2017_v2020.csv.gz"
for s in train val test; do
	cmp -s "$tmp/a/$s.tsv" "$tmp/gz/$s.tsv" || fail "$s.tsv differs when read from the .csv.gz"
	cmp -s "$tmp/a/$s.tsv" "$tmp/gz2/$s.tsv" || fail "$s.tsv differs when the .csv.gz comes on stdin"
done
head -c 100000 "$data/Data_Entry_2017_v2020.csv.gz" > "$tmp/cut.csv.gz"
expect 1 cxr-split -q -o "$tmp/gz3" "$tmp/cut.csv.gz"
err_has "cut.csv.gz: line "
err_has "gzip data ends early"
[ -e "$tmp/gz3" ] && fail "a cut .csv.gz left an output directory"
# the split does not depend on the order of the CSV's rows
{ head -1 "$csv"; tail -n +2 "$csv" | sort -r; } > "$tmp/rev.csv"
expect 0 cxr-split -q -o "$tmp/r" "$tmp/rev.csv"
cmp -s "$tmp/a/test.tsv" "$tmp/r/test.tsv" && cmp -s "$tmp/a/train.tsv" "$tmp/r/train.tsv" &&
	ok "row order does not matter" || fail "reordered rows give another split"
expect 0 cxr-split -q --seed 2 -o "$tmp/c" "$csv"
cmp -s "$tmp/a/test.tsv" "$tmp/c/test.tsv" && fail "seed 2 gives the same test set" || ok "another seed, another split"
[ "$(rows "$tmp/c/train.tsv")" = 20000 ] || fail "seed 2 train count"
# a set does not depend on the counts of the sets drawn after it
expect 0 cxr-split -q --train 100 -o "$tmp/d" "$csv"
cmp -s "$tmp/a/test.tsv" "$tmp/d/test.tsv" && cmp -s "$tmp/a/val.tsv" "$tmp/d/val.tsv" &&
	ok "test and val unchanged by --train" || fail "--train changed test or val"

# --- counts of 0, too many ---
expect 0 cxr-split -q --train 0 --val 0 --test 0 -o "$tmp/z/deep" "$csv"
[ "$(cat "$tmp"/z/deep/*.tsv | wc -l)" = 3 ] && ok "three header-only files, parents created" || fail "zero counts"
expect 1 cxr-split -q --train 100000 --val 20000 -o "$tmp/e" "$csv"
err_has "asked for 130000 images in all; there are 112120 (of 30805 patients)"
[ -e "$tmp/e/train.tsv" ] && fail "output written despite the error"

# --- --views ---
expect 0 cxr-split --views PA --train 1000 --val 100 --test 100 -o "$tmp/v" "$csv"
[ "$(tail -q -n +2 "$tmp"/v/*.tsv | cut -f8 | sort -u)" = PA ] && ok "only PA" || fail "--views PA let others in"
[ "$(rows "$tmp/v/train.tsv")" = 1000 ] || fail "--views train count"
err_has "112120 rows; 67310 of views PA"
expect 0 cxr-split -q --views ap,PA --train 1000 --val 0 --test 0 -o "$tmp/v2" "$csv"
expect 1 cxr-split -q --views LL --train 1 -o "$tmp/v3" "$csv"
err_has "there are 0 (of 0 patients)"

# --- --test-list ---
list=$data/test_list_small.txt
expect 0 cxr-split --test-list "$list" -o "$tmp/l" "$csv"
grep . "$list" | LC_ALL=C sort > "$tmp/listed"
tail -n +2 "$tmp/l/test.tsv" | cut -f1 > "$tmp/got"
cmp -s "$tmp/listed" "$tmp/got" && ok "test set is the list, sorted" || fail "test set differs from the list"
# 00000030_000.png is unlisted but its patient is: it goes nowhere
tail -q -n +2 "$tmp/l/train.tsv" "$tmp/l/val.tsv" | cut -f4 | grep -qx '5\|10\|13\|30\|1000' &&
	fail "a listed patient in train or val" || ok "listed patients kept out of train and val"
[ "$(rows "$tmp/l/train.tsv")" = 20000 ] && [ "$(rows "$tmp/l/val.tsv")" = 5000 ] || fail "--test-list train/val counts"
err_has "59 images of 5 patients listed"
expect 0 cxr-split -q --test-list "$list" --test 20 -o "$tmp/l2" "$csv"
[ "$(rows "$tmp/l2/test.tsv")" = 20 ] && ok "--test caps the list" || fail "--test with --test-list"
tail -n +2 "$tmp/l2/test.tsv" | cut -f1 | grep -qvxF -f "$tmp/listed" && fail "capped test set has unlisted images"
expect 1 cxr-split -q --test-list "$list" --test 60 -o "$tmp/l3" "$csv"
err_has "test_list_small.txt: asked for 60 images in all; there are 59 (of 5 patients)"
printf '00000001_000.png\nnope.png\n' > "$tmp/badlist.txt"
expect 1 cxr-split -q --test-list "$tmp/badlist.txt" -o "$tmp/l4" "$csv"
err_has "badlist.txt: line 2: image nope.png is not in"
printf '00000001_000.png\r\n\r\n00000001_000.png\r\n' > "$tmp/duplist.txt"
expect 1 cxr-split -q --test-list "$tmp/duplist.txt" -o "$tmp/l5" "$csv"
err_has "duplist.txt: line 3: image 00000001_000.png listed again (first on line 1)"

# --- the other layouts ---
expect 0 cxr-split --train 100 --val 50 --test 50 -o "$tmp/k" "$data/sample_labels_excerpt.csv"
err_has "sample_labels_excerpt.csv: line 303: impossible age '411Y'; read as unknown"
expect 0 cxr-split -q --train 303 --val 0 --test 0 -o "$tmp/k2" "$data/sample_labels_excerpt.csv"
grep -q "^00000013_005.png	1	.*	13	5	60	M	AP$" "$tmp/k2/train.tsv" && ok "060Y read as 60" || fail "Kaggle row"
grep -q "^00019045_003.png	.*	1.083333333	F	PA$" "$tmp/k2/train.tsv" && ok "013M in years" || fail "013M"
grep -q "^00020900_002.png	.*	-	M	AP$" "$tmp/k2/train.tsv" && ok "411Y unknown" || fail "411Y"
grep -q "$(printf '\r')" "$tmp/k2/train.tsv" && fail "CR in output"
expect 0 cxr-split -q --train 6 --val 3 --test 3 -o "$tmp/s" "$data/data_entry_2017_excerpt.csv"

# --- malformed rows ---
h='Image Index,Finding Labels,Follow-up #,Patient ID,Patient Age,Patient Gender,View Position'
{ echo "$h"; echo "a.png,Mass,0,1,58,M,PA"; echo "b.png,Mass,0,2,58,M"; echo "c.png,Mass,0,3,58,M,PA"
  echo "d.png,No Finding,0,x4,58,M,PA"; echo "a.png,Mass,1,1,58,M,PA"; echo "e.png,Mass,zero,5,58,M,PA"
  echo ",Mass,0,6,58,M,PA"; echo "f.png,Mass,0,7,150,Q,PA"; } > "$tmp/bad.csv"
expect 1 cxr-split -q --train 1 --val 0 --test 0 -o "$tmp/m" "$tmp/bad.csv"
err_has "cxr-split: $tmp/bad.csv: line 3: 6 fields, the header has 7"
[ -e "$tmp/m/train.tsv" ] && fail "output written despite the error"
expect 1 cxr-split -q --train 1 -o "$tmp/m" < "$tmp/bad.csv"
err_has "cxr-split: stdin: line 3: 6 fields"
expect 0 cxr-split --skip-bad --train 3 --val 0 --test 0 -o "$tmp/m" "$tmp/bad.csv"
for m in "line 3: 6 fields" "line 5: Patient ID 'x4'" "line 6: image a.png again (first on line 2)" \
	"line 7: Follow-up # 'zero'" "line 8: empty Image Index" "line 9: impossible age '150'" \
	"line 9: unknown sex 'Q'" "5 malformed rows skipped"; do err_has "$m"; done
[ "$(tail -n +2 "$tmp/m/train.tsv" | cut -f1 | tr '\n' ' ')" = "a.png c.png f.png " ] &&
	ok "the good rows" || fail "skip-bad rows: $(cat "$tmp/m/train.tsv")"
grep -q "^f.png	1	Mass	7	0	-	-	PA$" "$tmp/m/train.tsv" || fail "impossible values not unknown"
printf 'Image Index,Finding Labels\na.png,Mass\n' > "$tmp/nopat.csv"
expect 1 cxr-split -q -o "$tmp/m2" "$tmp/nopat.csv"
err_has "nopat.csv: line 1: no 'Patient ID' column in the header"
: > "$tmp/empty.csv"
expect 1 cxr-split -q -o "$tmp/m2" "$tmp/empty.csv"
err_has "empty input"
expect 1 cxr-split -q -o "$tmp/m2" "$tmp/nonesuch.csv"
err_has "nonesuch.csv"

# --- usage ---
expect 0 cxr-split --help
grep -q "^usage: cxr-split" "$tmp/out" || fail "--help text"
expect 0 cxr-split --version
expect 2 cxr-split "$csv"
expect 2 cxr-split --train x -o "$tmp/u" "$csv"
expect 2 cxr-split --val -1 -o "$tmp/u" "$csv"
expect 2 cxr-split --seed 1.5 -o "$tmp/u" "$csv"
expect 2 cxr-split --views PA, -o "$tmp/u" "$csv"
expect 2 cxr-split -o "$tmp/u" "$csv" "$csv"
expect 2 cxr-split --frobnicate -o "$tmp/u" "$csv"
[ -e "$tmp/u" ] && fail "usage error created the output dir"

finish
