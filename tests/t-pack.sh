#!/bin/sh
# t-pack — cxr-pack against man/cxr-pack.1: packing one, several and
# concatenated streams, seeded shuffles, the -t listing, -x round trips
# and its refusals, corrupt, truncated and mismatched input (exit 1, the
# record named, no output or spool left), usage errors (exit 2).
# Streams come from cxr-resize on the real NIH images in data/nih/images.
# Run from tests/ with bin/ on PATH (tests/run.sh does both).

data=data/nih
man=$data/sample_manifest.tsv
NAME=t-pack; . ./lib.sh
need cxr-pack cxr-resize
# no_leftovers DIR NAME — nothing named NAME* (the output, its temporary
# file or the spool) in DIR.
no_leftovers() {
	left=$(ls "$1" | grep -F -- "$2")
	[ -z "$left" ] || fail "left behind in $1: $left"
}
# listing FILE — the -t rows without the header.
listing() { cxr-pack -t "$1" | tail -n +2; }

# ---- input streams: the 6 sample images, at 32x32, in two streams ----
head -n 4 "$man" >"$t/m1.tsv"
{ head -n 1 "$man"; tail -n +5 "$man"; } >"$t/m2.tsv"
cxr-resize -q --size 32 --root $data/images -o "$t/s1.cxs" "$t/m1.tsv" || fail "cxr-resize m1"
cxr-resize -q --size 32 --root $data/images -o "$t/s2.cxs" "$t/m2.tsv" || fail "cxr-resize m2"
[ -s "$t/s1.cxs" ] && [ -s "$t/s2.cxs" ] || { echo "FAIL: no input streams"; exit 1; }
hdr=$(printf 'image\tlabel\tfindings\tpatient\tfollowup\tage\tsex\tview\tshape')
tail -n +2 "$man" | sed 's/$/	1x32x32/' >"$t/want6"
head -n 3 "$t/want6" >"$t/want3"

# ---- one stream ----
expect 0 cxr-pack -q -o "$t/one.cxp" "$t/s1.cxs"
[ ! -s "$t/err" ] || fail "-q still wrote to stderr: $(cat "$t/err")"
expect 0 cxr-pack -t "$t/one.cxp"
[ "$(head -n 1 "$t/out")" = "$hdr" ] || fail "-t header: $(head -n 1 "$t/out")"
tail -n +2 "$t/out" | cmp -s - "$t/want3" || fail "-t rows of one.cxp differ from the manifest"
# Without -q a summary line names the file and the count.
expect 0 cxr-pack -o "$t/one-v.cxp" "$t/s1.cxs"
err_has "one-v.cxp: 3 records"
cmp -s "$t/one.cxp" "$t/one-v.cxp" || fail "-q changed the pack"
# A pack is a plain stream too: -t of the stream, and zstd reads it.
[ "$(listing "$t/s1.cxs")" = "$(listing "$t/one.cxp")" ] || fail "-t of stream and pack differ"
if command -v zstd >/dev/null; then
	zstd -q -dc <"$t/one.cxp" | head -c 4 | grep -q CXRS || fail "zstd -dc of a pack does not start with CXRS"
fi
# The footer: the last 4 bytes are CXRX.
[ "$(tail -c 4 "$t/one.cxp")" = CXRX ] || fail "pack does not end with CXRX"
# From stdin, with and without '-'.
expect 0 cxr-pack -q -o "$t/stdin.cxp" <"$t/s1.cxs"
cmp -s "$t/one.cxp" "$t/stdin.cxp" || fail "pack from stdin differs"
expect 0 cxr-pack -q -o "$t/dash.cxp" - <"$t/s1.cxs"
cmp -s "$t/one.cxp" "$t/dash.cxp" || fail "pack from '-' differs"
expect 0 cxr-pack -t <"$t/one.cxp"
tail -n +2 "$t/out" | cmp -s - "$t/want3" || fail "-t from stdin"
# Another level, the same records.
expect 0 cxr-pack -q -l 1 -o "$t/l1.cxp" "$t/s1.cxs"
[ "$(listing "$t/l1.cxp")" = "$(listing "$t/one.cxp")" ] || fail "--level 1 changed the records"

# ---- several streams, and the same streams concatenated ----
expect 0 cxr-pack -q -o "$t/two.cxp" "$t/s1.cxs" "$t/s2.cxs"
listing "$t/two.cxp" | cmp -s - "$t/want6" || fail "-t rows of two streams"
cat "$t/s1.cxs" "$t/s2.cxs" >"$t/cat.cxs"
expect 0 cxr-pack -q -o "$t/cat.cxp" "$t/cat.cxs"
cmp -s "$t/two.cxp" "$t/cat.cxp" || fail "concatenated input gives another pack"
cat "$t/s1.cxs" "$t/s2.cxs" | cxr-pack -q -o "$t/pipe.cxp" || fail "concatenated pipe"
cmp -s "$t/two.cxp" "$t/pipe.cxp" || fail "concatenated pipe gives another pack"
# A pack concatenated with a stream is still a stream (its index is skipped).
cat "$t/one.cxp" "$t/s2.cxs" >"$t/mixed.cxs"
listing "$t/mixed.cxs" | cmp -s - "$t/want6" || fail "pack + stream does not read as one stream"

# ---- shuffle ----
expect 0 cxr-pack -q --shuffle --seed 5 -o "$t/sh5a.cxp" "$t/s1.cxs" "$t/s2.cxs"
expect 0 cxr-pack -q --shuffle --seed 5 -o "$t/sh5b.cxp" "$t/cat.cxs"
cmp -s "$t/sh5a.cxp" "$t/sh5b.cxp" || fail "--seed 5 twice gives different bytes"
expect 0 cxr-pack -q --shuffle --seed 6 -o "$t/sh6.cxp" "$t/s1.cxs" "$t/s2.cxs"
listing "$t/sh5a.cxp" >"$t/l5"
listing "$t/sh6.cxp" >"$t/l6"
cmp -s "$t/l5" "$t/l6" && fail "--seed 5 and --seed 6 give the same order"
cmp -s "$t/l5" "$t/want6" && fail "--shuffle kept the input order"
sort "$t/l5" >"$t/l5s"; sort "$t/want6" >"$t/w6s"
cmp -s "$t/l5s" "$t/w6s" || fail "--shuffle changed the set of records"
expect 0 cxr-pack -q --shuffle -o "$t/shd.cxp" "$t/s1.cxs" "$t/s2.cxs"
expect 0 cxr-pack -q --shuffle --seed 1 -o "$t/sh1.cxp" "$t/s1.cxs" "$t/s2.cxs"
cmp -s "$t/shd.cxp" "$t/sh1.cxp" || fail "the default seed is not 1"
no_leftovers "$t" .spool.

# ---- -x: extract, round trip, refusals ----
expect 0 cxr-pack -q -x "$t/x" "$t/two.cxp"
[ "$(ls "$t/x" | wc -l)" -eq 6 ] || fail "-x wrote $(ls "$t/x" | wc -l) files, want 6"
tail -n +2 "$man" | cut -f 1 | while read -r f; do
	[ -s "$t/x/$f" ] || echo "FAIL: -x did not write $f"
done | grep . && failed=$((failed + 1))
# Resizing the extracted PNGs to their own size gives the same pixels:
# extract that stream too and compare the PNG files byte for byte.
ls "$t/x" | sed "s|^|$t/x/|" >"$t/xlist"
cxr-resize -q --size 32 -o "$t/back.cxs" "$t/xlist" || fail "cxr-resize of extracted PNGs"
expect 0 cxr-pack -q -x "$t/x2" "$t/back.cxs"
for f in $(ls "$t/x"); do
	cmp -s "$t/x/$f" "$t/x2/$f" || fail "pixels of $f changed through -x and cxr-resize"
done
# Again: existing files are refused without -f, replaced with -f.
cp "$t/x/00000100_000.png" "$t/keep.png"
echo junk >"$t/x/00001369_000.png"
expect 1 cxr-pack -q -x "$t/x" "$t/two.cxp"
err_has "exists"
err_has "00000100_000.png"
cmp -s "$t/x/00000100_000.png" "$t/keep.png" || fail "-x without -f changed a file"
[ "$(cat "$t/x/00001369_000.png")" = junk ] || fail "-x without -f overwrote a file"
expect 0 cxr-pack -q -f -x "$t/x" "$t/two.cxp"
cmp -s "$t/x/00001369_000.png" "$t/x2/00001369_000.png" || fail "-f -x did not overwrite"
expect 0 cxr-pack -q -x "$t/x3" <"$t/one.cxp"
[ "$(ls "$t/x3" | wc -l)" -eq 3 ] || fail "-x from stdin"
ls "$t/x" "$t/x2" "$t/x3" | grep -v -e '\.png$' -e '^$' -e ':$' && fail "-x left other files"
# Names with '/' are refused, and nothing lands outside DIR.
mkdir "$t/jail" "$t/jail/d"
abs=$(cd $data/images && pwd)
printf '%s\n' "$(head -n 1 "$man")" \
	"../../esc.png	1	X	1	0	3	M	PA" >"$t/evil.tsv"
mkdir -p "$t/w/v" && cp $data/images/00000100_000.png "$t/esc.png"
( cd "$t/w/v" && cxr-resize -q --size 8 -o "$t/evil.cxs" "$t/evil.tsv" ) || fail "cxr-resize of ../ name"
expect 1 cxr-pack -q -x "$t/jail/d" "$t/evil.cxs"
err_has "record 1"
err_has "outside"
[ -z "$(ls "$t/jail/d")" ] && [ "$(ls "$t/jail")" = d ] || fail "-x wrote for a ../ name"
cmp -s "$t/esc.png" $data/images/00000100_000.png || fail "-x wrote outside DIR"
expect 1 cxr-pack -q -f -x "$t/jail/d" "$t/evil.cxs"
cmp -s "$t/esc.png" $data/images/00000100_000.png || fail "-f -x wrote outside DIR"
printf '%s\n' "$(head -n 1 "$man")" "$abs/00000100_000.png	1	X	1	0	3	M	PA" >"$t/abs.tsv"
cxr-resize -q --size 8 -o "$t/abs.cxs" "$t/abs.tsv" || fail "cxr-resize of an absolute name"
expect 1 cxr-pack -q -f -x "$t/jail/d" "$t/abs.cxs"
err_has "outside"
[ -z "$(ls "$t/jail/d")" ] || fail "-x wrote for an absolute name"

# ---- bad input: exit 1, the record named, no output, no spool ----
size=$(wc -c <"$t/s1.cxs")
# A flipped byte in the middle of the stream (inside record 2 or so).
cp "$t/s1.cxs" "$t/corrupt.cxs"
b=$(od -An -tu1 -j $((size / 2)) -N 1 "$t/s1.cxs" | tr -d ' ')
printf "\\$(printf %03o $(((b + 1) % 256)))" |
	dd of="$t/corrupt.cxs" bs=1 seek=$((size / 2)) conv=notrunc 2>/dev/null
cmp -s "$t/s1.cxs" "$t/corrupt.cxs" && fail "could not corrupt the stream"
for sh in "" --shuffle; do
	mkdir "$t/o$sh"
	expect 1 cxr-pack -q $sh -o "$t/o$sh/bad.cxp" "$t/corrupt.cxs"
	err_has "corrupt.cxs: record "
	no_leftovers "$t/o$sh" bad.cxp
done
# Cut inside a record.
head -c $((size - 40)) "$t/s1.cxs" >"$t/cut.cxs"
expect 1 cxr-pack -q -o "$t/o/cut.cxp" "$t/cut.cxs"
err_has "cut.cxs: "
err_has "record"
err_has "truncated"
no_leftovers "$t/o" cut.cxp
# Cut exactly between records 2 and 3: record 3's frame offset comes from
# the seek index of one.cxp (cxr-stream.5: entry k at 24 + 12k in the
# index frame, whose size is in the last 8 bytes). The stream before that
# offset is the header and two whole records; it must not read as valid.
psize=$(wc -c <"$t/one.cxp")
fsize=$(od -An -tu4 -j $((psize - 8)) -N 4 "$t/one.cxp" | tr -d ' ')
off3=$(od -An -tu8 -j $((psize - fsize + 24 + 24)) -N 8 "$t/one.cxp" | tr -d ' ')
head -c "$off3" "$t/one.cxp" >"$t/between.cxs"
expect 1 cxr-pack -q --shuffle -o "$t/o--shuffle/between.cxp" "$t/between.cxs"
err_has "after record 2 without its end marker"
no_leftovers "$t/o--shuffle" between.cxp
expect 1 cxr-pack -t "$t/between.cxs"
[ "$(tail -n +2 "$t/out")" = "$(head -n 2 "$t/want3")" ] || fail "-t before the error"
# A good stream then a bad one: the message names the second file.
expect 1 cxr-pack -q -o "$t/o/two-bad.cxp" "$t/s2.cxs" "$t/cut.cxs"
err_has "cut.cxs"
no_leftovers "$t/o" two-bad.cxp
# Empty input and not a stream.
expect 1 cxr-pack -q -o "$t/o/e.cxp" </dev/null
err_has "stdin"
expect 1 cxr-pack -q -o "$t/o/m.cxp" "$man"
err_has "sample_manifest.tsv"
no_leftovers "$t/o" e.cxp
no_leftovers "$t/o" m.cxp
expect 1 cxr-pack -q -o "$t/o/n.cxp" "$t/missing.cxs"
err_has "missing.cxs"
no_leftovers "$t/o" n.cxp

# ---- validation: shapes, duplicates ----
printf '%s\n' "$(head -n 1 "$man")" "$(tail -n 1 "$man")" >"$t/m3.tsv"
cxr-resize -q --size 16 --root $data/images -o "$t/s16.cxs" "$t/m3.tsv" || fail "cxr-resize 16"
for sh in "" --shuffle; do
	expect 1 cxr-pack -q $sh -o "$t/o/shape.cxp" "$t/s1.cxs" "$t/s16.cxs"
	err_has "s16.cxs: record 1 (00009945_000.png): u8 1x16x16"
	err_has "u8 1x32x32 of $t/s1.cxs: record 1 (00000100_000.png)"
	no_leftovers "$t/o" shape.cxp
done
expect 1 cxr-pack -q -o "$t/o/dup.cxp" "$t/s1.cxs" "$t/two.cxp"
err_has "two.cxp: record 1 (00000100_000.png)"
err_has "seen before"
no_leftovers "$t/o" dup.cxp
expect 0 cxr-pack -q --allow-duplicates -o "$t/o/dup.cxp" "$t/s1.cxs" "$t/two.cxp"
[ "$(listing "$t/o/dup.cxp" | wc -l)" -eq 9 ] || fail "--allow-duplicates lost records"

# ---- usage: exit 2; --help and --version: exit 0 ----
expect 2 cxr-pack "$t/s1.cxs"
expect 2 cxr-pack -o "$t/o/u.cxp" -t "$t/s1.cxs"
expect 2 cxr-pack -t -x "$t/o/xx" "$t/s1.cxs"
expect 2 cxr-pack -o - "$t/s1.cxs"
err_has "-o"
expect 2 cxr-pack -l 0 -o "$t/o/u.cxp" "$t/s1.cxs"
expect 2 cxr-pack -l 20 -o "$t/o/u.cxp" "$t/s1.cxs"
expect 2 cxr-pack --seed x -o "$t/o/u.cxp" "$t/s1.cxs"
expect 2 cxr-pack --seed -1 -o "$t/o/u.cxp" "$t/s1.cxs"
expect 2 cxr-pack --no-such-option
expect 2 cxr-pack -t "$t/s1.cxs" "$t/s2.cxs"
expect 2 cxr-pack -x "$t/o/xx" "$t/s1.cxs" "$t/s2.cxs"
no_leftovers "$t/o" u.cxp
[ ! -e "$t/o/xx" ] || fail "a usage error still created the -x directory"
expect 0 cxr-pack --help
grep -q '^usage: cxr-pack' "$t/out" || fail "--help prints no usage on stdout"
expect 0 cxr-pack --version
grep -q '^cxr-pack [0-9]' "$t/out" || fail "--version: $(cat "$t/out")"

# ---- a terminal on stdout (through script(1), where it works) ----
if command -v script >/dev/null && script -qec true /dev/null >/dev/null 2>&1; then
	# The pack goes to -o; a terminal on stdout must not matter.
	script -qec "cxr-pack -q --shuffle -o '$t/tty.cxp' '$t/s1.cxs'" /dev/null >"$t/tty.log" 2>&1 ||
		fail "--shuffle -o with a terminal on stdout: $(cat "$t/tty.log")"
	expect 0 cxr-pack -q --shuffle -o "$t/shd1.cxp" "$t/s1.cxs"
	cmp -s "$t/tty.cxp" "$t/shd1.cxp" || fail "pack written on a terminal differs"
	# -o - stays refused on a terminal, and -t (text) is allowed.
	script -qec "cxr-pack -o - '$t/s1.cxs'" /dev/null >"$t/tty.log" 2>&1
	[ $? -eq 2 ] || fail "-o - on a terminal: $(cat "$t/tty.log")"
	script -qec "cxr-pack -t '$t/one.cxp'" /dev/null >"$t/tty.log" 2>&1 ||
		fail "-t on a terminal: $(cat "$t/tty.log")"
	grep -q 00004030_000.png "$t/tty.log" || fail "-t on a terminal printed no rows"
else
	skip "no working script(1) (Debian package bsdutils): terminal checks not run"
fi

finish
