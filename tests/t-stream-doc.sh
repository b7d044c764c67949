#!/bin/sh
# t-stream-doc — man/cxr-stream.5 is precise enough for another program:
# stream_doc.py, a reader and writer written from the page alone (Python
# standard library and the zstd tool), reads what cxr-resize and cxr-pack
# write, finds the pack's index where the page says, and writes streams
# that cxr-pack reads back; streams broken in each documented way are
# refused by both. The page's EXAMPLES hexdump is checked byte for byte.
# Run from tests/ with bin/ on PATH (tests/run.sh does both).

data=data/nih
man=$data/sample_manifest.tsv
page=${CXR_TOP:-..}/man/cxr-stream.5
NAME=t-stream-doc; . ./lib.sh
need zstd cxr-pack cxr-resize
if [ -x /usr/bin/python3 ]; then py=/usr/bin/python3
else py=$(command -v python3) || { skip "no python3"; finish; }
fi
sd() { "$py" stream_doc.py "$@"; }
# same A B WHAT — files A and B are equal, else show the difference.
same() {
	cmp -s "$1" "$2" || { fail "$3"; diff "$1" "$2" | head -20 | sed 's/^/    /'; }
}

sd crc >/dev/null || fail "CRC-32C check value"

# ---- the page's example record ----
sd example "$page" "$t/ex.cxs" || fail "EXAMPLES hexdump of cxr-stream.5"
if [ -s "$t/ex.cxs" ]; then
	cxr-pack -t "$t/ex.cxs" | tail -n +2 >"$t/ex.list"
	printf 'a.png\t1\tEffusion\t3\t1\t58\tM\tPA\t1x2x3\n' >"$t/ex.want"
	same "$t/ex.list" "$t/ex.want" "cxr-pack -t of the page's example"
	# cxr's own writer (cxr-pack rewrites each record) gives the page's bytes.
	cxr-pack -q -o "$t/ex.cxp" "$t/ex.cxs" || fail "cxr-pack of the example"
	zstd -q -dc "$t/ex.cxp" >"$t/ex.raw"
	same "$t/ex.raw" "$t/ex.cxs.raw" "cxr writes other bytes than the page's example"
fi

# ---- reading what cxr-resize and cxr-pack write ----
head -n 4 "$man" >"$t/m1.tsv"
{ head -n 1 "$man"; tail -n +5 "$man"; } >"$t/m2.tsv"
cxr-resize -q --size 32 --root $data/images -o "$t/s1.cxs" "$t/m1.tsv" || fail "cxr-resize m1"
cxr-resize -q --size 32 --root $data/images -o "$t/s2.cxs" "$t/m2.tsv" || fail "cxr-resize m2"
cxr-pack -t "$t/s1.cxs" >"$t/s1.c"
sd list "$t/s1.cxs" >"$t/s1.py" || fail "stream_doc list of a cxr-resize stream"
same "$t/s1.py" "$t/s1.c" "records of a cxr-resize stream"
[ "$(sd frames "$t/s1.cxs")" = "frames 5 skippable 0" ] ||
	fail "frames of a 3-record stream: $(sd frames "$t/s1.cxs" 2>&1)"
cat "$t/s1.cxs" "$t/s2.cxs" >"$t/cat.cxs"
cxr-pack -t "$t/cat.cxs" >"$t/cat.c"
sd list "$t/cat.cxs" >"$t/cat.py" || fail "stream_doc list of two concatenated streams"
same "$t/cat.py" "$t/cat.c" "records of concatenated streams"

cxr-pack -q --shuffle --seed 3 -o "$t/p.cxp" "$t/s1.cxs" "$t/s2.cxs" || fail "cxr-pack"
cxr-pack -t "$t/p.cxp" >"$t/p.c"
sd list "$t/p.cxp" >"$t/p.py" || fail "stream_doc list of a pack"
same "$t/p.py" "$t/p.c" "records of a pack"
sd index "$t/p.cxp" >"$t/p.ix" || fail "stream_doc index of a pack"
same "$t/p.ix" "$t/p.c" "records found through the pack's index"
[ "$(sd frames "$t/p.cxp")" = "frames 8 skippable 1" ] ||
	fail "frames of a 6-record pack: $(sd frames "$t/p.cxp" 2>&1)"
# The pixels: cxr-pack -x writes PNGs; a PNG decoder of its own (zlib)
# finds in them the pixels the page's reader found in the pack.
cxr-pack -q -x "$t/x" "$t/p.cxp" || fail "cxr-pack -x"
sd dump "$t/p.cxp" | sort | awk -F'\t' '{ split($3, d, "x"); print $1 "\t" d[3] "x" d[2] "\t" $4 }' >"$t/p.px"
sd png "$t"/x/*.png | sort >"$t/x.px"
same "$t/x.px" "$t/p.px" "pixels of -x PNGs and of the pack"
[ "$(wc -l <"$t/p.px")" -eq 6 ] || fail "dump of the pack has $(wc -l <"$t/p.px") lines"

# ---- streams written from the page, read by cxr-pack ----
# write OPTIONS... — stream_doc writes a stream; -t and a pack of it, read
# by cxr and by stream_doc, must give back its records and pixels.
n=0
write() {
	n=$((n + 1))
	sd write "$t/w$n.cxs" --expect "$t/w$n.want" --expect-dump "$t/w$n.dump" "$@" ||
		{ fail "stream_doc write $*"; return; }
	cxr-pack -t "$t/w$n.cxs" >"$t/w$n.c" || fail "cxr-pack -t of: write $*"
	same "$t/w$n.c" "$t/w$n.want" "cxr-pack -t of: write $*"
	cxr-pack -q -o "$t/w$n.cxp" "$t/w$n.cxs" || fail "cxr-pack -o of: write $*"
	sd dump "$t/w$n.cxp" >"$t/w$n.d" || fail "stream_doc dump of the pack of: write $*"
	same "$t/w$n.d" "$t/w$n.dump" "pixels through cxr-pack of: write $*"
	sd index "$t/w$n.cxp" >"$t/w$n.ix" || fail "index of the pack of: write $*"
	same "$t/w$n.ix" "$t/w$n.want" "records through the index of: write $*"
}
write --records 9
write --records 3 --filter 0
write --records 2 --shape 5x300 --level 19
write --records 3 --shape 7 --skippable
write --records 2 --dtype u16 --shape 1x3x4
write --records 2 --dtype f32 --shape 2x2x2x3
write --records 1 --shape 1x1x1
write --records 0
# Two streams from the page's writer, concatenated.
sd write "$t/c1.cxs" --records 3 --expect "$t/c1.want" &&
	sd write "$t/c2.cxs" --records 4 --first 3 --expect "$t/c2.want" || fail "write c1 c2"
cat "$t/c1.cxs" "$t/c2.cxs" | cxr-pack -t >"$t/c.c" || fail "cxr-pack -t of two concatenated streams"
{ cat "$t/c1.want"; tail -n +2 "$t/c2.want"; } >"$t/c.want"
same "$t/c.c" "$t/c.want" "two written streams concatenated"
# -x refuses a tensor that is not a gray u8 image.
sd write "$t/f.cxs" --records 1 --dtype f32 || fail "write f32"
cxr-pack -q -x "$t/fx" "$t/f.cxs" 2>"$t/err" && fail "-x of an f32 record"
grep -q "record 1.*not a 1-channel u8 image" "$t/err" || fail "-x f32 message: $(cat "$t/err")"

# ---- broken streams: every documented error, seen by both readers ----
for bad in version longstring nbytes zerodim dtype filter tag noend count checksum cut; do
	sd write "$t/bad-$bad.cxs" --records 3 --bad $bad || { fail "write --bad $bad"; continue; }
	cxr-pack -t "$t/bad-$bad.cxs" >"$t/out" 2>"$t/err"
	[ $? -eq 1 ] || fail "cxr-pack -t accepts a stream with --bad $bad"
	# The page: errors name the record; a bad header or end marker, the
	# stream's version or count.
	case $bad in
	version) want="version 2" ;;
	count) want="counts 4 records, the stream holds 3" ;;
	*) want="record [34]" ;;
	esac
	grep -q "$want" "$t/err" || fail "--bad $bad: message lacks '$want': $(cat "$t/err")"
	grep -q "bad-$bad.cxs" "$t/err" || fail "--bad $bad: no file named: $(cat "$t/err")"
	mkdir -p "$t/o"
	cxr-pack -q -o "$t/o/bad.cxp" "$t/bad-$bad.cxs" 2>/dev/null && fail "cxr-pack -o accepts --bad $bad"
	[ -z "$(ls "$t/o")" ] || fail "--bad $bad left $(ls "$t/o")"
	sd list "$t/bad-$bad.cxs" >/dev/null 2>&1 && fail "stream_doc accepts --bad $bad"
done

finish
