#!/bin/sh
# t-synth — cxr-synth: options and exit statuses, the NIH layout and label
# file format, the same bytes whatever -j, an interrupted run, and the
# hand-off to cxr-split and cxr-resize (when those tools are built).
set -u
NAME=t-synth; . ./lib.sh
have() { command -v "$1" >/dev/null 2>&1; }
HEADER='Image Index,Finding Labels,Follow-up #,Patient ID,Patient Age,Patient Gender,View Position,OriginalImage[Width,Height],OriginalImagePixelSpacing[x,y]'

# --- options
cxr-synth --help > "$t/help" || fail "--help exits $?"
grep -q '^usage: cxr-synth' "$t/help" || fail "--help prints no usage"
cxr-synth --version | grep -q '^cxr-synth [0-9]' || fail "--version"
for args in "" "--images 10" "-o $t/x --size 0" "-o $t/x --images 3 --patients 5" \
	"-o $t/x --bogus" "-o $t/x extra" "-o $t/x --level 10" "-o $t/x -j 0"; do
	cxr-synth -q $args 2>"$t/err"
	rc=$?
	[ $rc -eq 2 ] || fail "cxr-synth $args: exit $rc, want 2"
	grep -q '^cxr-synth: ' "$t/err" || fail "cxr-synth $args: no message naming the tool"
done

# --- layout and label file
cxr-synth -q -j 1 --images 25 --size 64 --per-dir 10 --seed 3 -o "$t/a" || fail "synth a: exit $?"
csv=$t/a/Data_Entry_2017_v2020.csv
[ "$(head -n 1 "$csv")" = "$HEADER" ] || fail "header: $(head -n 1 "$csv")"
[ "$(wc -l < "$csv")" -eq 26 ] || fail "rows: $(wc -l < "$csv"), want 26"
awk -F, 'NF != 11 { bad++ } END { exit bad > 0 }' "$csv" || fail "a row without 11 fields"
if grep -q "$(printf '\r')" "$csv"; then fail "CR in the label file"; fi
awk -F, 'NR > 1 && ($1 !~ /^[0-9]+_[0-9]+\.png$/ || length($1) != 16) { exit 1 }' "$csv" || fail "image names"
awk -F, 'NR > 1 && !($2 == "No Finding" || $2 ~ /^[A-Z][A-Za-z_]+(\|[A-Z][A-Za-z_]+)*$/) { exit 1 }' \
	"$csv" || fail "finding labels"
awk -F, 'NR > 1 && !($5 >= 1 && $5 <= 95 && ($6 == "M" || $6 == "F") && ($7 == "PA" || $7 == "AP")) { exit 1 }' \
	"$csv" || fail "age, sex or view"
tail -n +2 "$csv" | cut -d, -f1 | LC_ALL=C sort -c || fail "rows not in image name order"
n1=$(ls "$t/a/images_001/images" | wc -l)
n2=$(ls "$t/a/images_002/images" | wc -l)
n3=$(ls "$t/a/images_003/images" | wc -l)
[ "$n1 $n2 $n3" = "10 10 5" ] || fail "images per folder: $n1 $n2 $n3, want 10 10 5"
[ -z "$(find "$t/a" -name '*.tmp')" ] || fail "temporary files left"
tail -n +2 "$csv" | cut -d, -f1 | while read -r f; do
	[ -f "$t"/a/images_00*/images/"$f" ] || echo "$f"
done > "$t/missing"
[ -s "$t/missing" ] && fail "images named in the label file but not written: $(head -3 "$t/missing")"
# an 8-bit gray 64x64 PNG: signature, then IHDR width, height, depth, type
f=$(ls "$t"/a/images_001/images/*.png | head -n 1)
[ "$(od -An -tx1 -N 25 "$f" | tr -d ' \n')" = \
	"89504e470d0a1a0a0000000d49484452000000400000004008" ] || fail "$f: not an 8-bit 64x64 PNG"
[ "$(od -An -tx1 -j 25 -N 1 "$f" | tr -d ' \n')" = 00 ] || fail "$f: not gray"

# --- the same bytes whatever -j; another seed, other bytes
cxr-synth -q -j 2 --images 25 --size 64 --per-dir 10 --seed 3 -o "$t/b" || fail "synth b: exit $?"
diff -r "$t/a" "$t/b" > /dev/null || fail "-j 1 and -j 2 differ"
cxr-synth -q -j 2 --images 25 --size 64 --per-dir 10 --seed 4 -o "$t/c" || fail "synth c: exit $?"
diff -r "$t/a" "$t/c" > /dev/null && fail "seeds 3 and 4 give the same set"
cxr-synth -q --csv-only --images 25 --seed 3 -o "$t/d" || fail "--csv-only: exit $?"
cmp -s "$csv" "$t/d/Data_Entry_2017_v2020.csv" || fail "--csv-only writes another label file"
[ "$(ls "$t/d")" = Data_Entry_2017_v2020.csv ] || fail "--csv-only wrote more: $(ls "$t/d")"
cxr-synth -q --csv-only --images 30 --patients 30 -o "$t/e" &&
	[ "$(cut -d, -f4 "$t/e/Data_Entry_2017_v2020.csv" | tail -n +2 | sort -u | wc -l)" -eq 30 ] ||
	fail "--patients 30 of 30 images"

# --- stopped by a signal: exit 128+15, no label file, no partial PNG
# (SIGTERM: a background job of a script starts with SIGINT ignored)
cxr-synth -q -j 1 --images 400 --size 512 -o "$t/i" &
pid=$!
sleep 1
kill -TERM $pid
wait $pid
rc=$?
[ $rc -eq 143 ] || fail "interrupted: exit $rc, want 143"
[ -e "$t/i/Data_Entry_2017_v2020.csv" ] && fail "interrupted: label file written"
[ -z "$(find "$t/i" -name '*.tmp')" ] || fail "interrupted: temporary files left"
if have cxr-resize; then
	find "$t/i" -name '*.png' > "$t/i.list"
	cxr-resize -q --size 32 "$t/i.list" > /dev/null || fail "interrupted: a PNG left unreadable"
fi

# --- what the next tools make of it
if have cxr-split; then
	cxr-split -q --train 10 --val 5 --test 5 -o "$t/s" "$csv" || fail "cxr-split: exit $?"
	[ "$(wc -l < "$t/s/train.tsv")" -eq 11 ] || fail "cxr-split: train.tsv has $(wc -l < "$t/s/train.tsv") lines"
	# NIH's scale in a moment: the label file alone
	cxr-synth -q --csv-only --images 112120 --patients 30805 -o "$t/nih" || fail "112120 rows: exit $?"
	cxr-split -q -o "$t/ns" "$t/nih/Data_Entry_2017_v2020.csv" || fail "cxr-split at NIH scale: exit $?"
	[ "$(cat "$t/ns/train.tsv" "$t/ns/val.tsv" "$t/ns/test.tsv" | wc -l)" -eq 35003 ] ||
		fail "cxr-split at NIH scale: wrong counts"
	if have cxr-resize && have cxr-pack; then
		cxr-resize -q --size 32 --root "$t/a" "$t/s/train.tsv" | cxr-pack -q -o "$t/train.cxp" ||
			fail "cxr-resize --root | cxr-pack: exit $?"
		[ "$(cxr-pack -t "$t/train.cxp" | wc -l)" -eq 11 ] || fail "pack of train.tsv: wrong count"
	else
		skip "cxr-resize or cxr-pack not built"
	fi
else
	skip "cxr-split not built"
fi

finish
