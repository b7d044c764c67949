#!/bin/sh
# cxr-resize: manifests and bare lists, --root, bytes independent of -j,
# bad images as errors (no output left behind) or skipped and counted,
# usage errors, signals. Run from tests/ with bin/ on PATH.
top=${CXR_TOP:-..}
imgs=$top/tests/data/nih/images
manifest=$top/tests/data/nih/sample_manifest.tsv
png=$top/tests/data/png
NAME=t-resize; . ./lib.sh
# the records of a stream, as cxr-pack -t lists them
list() { cxr-pack -t "$1"; }

# --- usage
holds "--help exits 0 and shows usage" 'cxr-resize --help | grep -q "^usage: cxr-resize"'
holds "--version" 'cxr-resize --version | grep -q "^cxr-resize "'
cxr-resize --bogus </dev/null >/dev/null 2>"$tmp/err"
holds "unknown option is a usage error (2)" '[ $? -eq 2 ]'
cxr-resize -j 0 </dev/null >/dev/null 2>"$tmp/err"
holds "-j 0 is a usage error" '[ $? -eq 2 ] && grep -q -- "-j" "$tmp/err"'
cxr-resize --size 0 </dev/null >/dev/null 2>"$tmp/err"
holds "--size 0 is a usage error" '[ $? -eq 2 ]'
cxr-resize a b </dev/null >/dev/null 2>"$tmp/err"
holds "two manifests is a usage error" '[ $? -eq 2 ]'

# --- a manifest with --root: every row, in order, with its fields
cxr-resize -q -j 2 --root "$imgs" -o "$tmp/m.cxs" "$manifest" 2>"$tmp/err"
holds "manifest with --root exits 0" '[ $? -eq 0 ] && [ ! -s "$tmp/err" ]'
list "$tmp/m.cxs" > "$tmp/m.tsv"
# the listing is the manifest plus a shape column
awk -F'\t' 'NR>1{print $0 "\t1x256x256"}' "$manifest" > "$tmp/want.tsv"
holds "records carry the manifest's fields, in order, 1x256x256" \
	'tail -n +2 "$tmp/m.tsv" | cmp -s - "$tmp/want.tsv"'

# --- the same bytes whatever -j, and through stdin/stdout
for j in 1 3 5; do
	cxr-resize -q -j $j --root "$imgs" < "$manifest" > "$tmp/j$j.cxs"
done
holds "same stream bytes for -j 1, 3, 5 and -o" \
	'cmp -s "$tmp/j1.cxs" "$tmp/m.cxs" && cmp -s "$tmp/j3.cxs" "$tmp/m.cxs" && cmp -s "$tmp/j5.cxs" "$tmp/m.cxs"'
holds "a pipe into cxr-pack -t works" \
	'cxr-resize -q --root "$imgs" "$manifest" | cxr-pack -t - | tail -n +2 | cmp -s - "$tmp/want.tsv"'

# --- without --root, manifest names are paths relative to the cwd
(cd "$imgs" && cxr-resize -q "$manifest") > "$tmp/cwd.cxs"
holds "without --root names are paths from the cwd" 'cmp -s "$tmp/cwd.cxs" "$tmp/m.cxs"'

# --- a bare list: image name is the base name, the rest unknown
ls "$imgs"/*.png > "$tmp/list.txt"
cxr-resize -q -j 2 --size 64 "$tmp/list.txt" > "$tmp/l.cxs"
list "$tmp/l.cxs" | tail -n +2 > "$tmp/l.tsv"
holds "bare list: one record per line" '[ $(wc -l < "$tmp/l.tsv") -eq $(wc -l < "$tmp/list.txt") ]'
holds "bare list: base names, unknown fields, --size 64" \
	'head -1 "$tmp/l.tsv" | grep -q "^00000100_000.png	-	-	-	-	-	-	-	1x64x64$"'
printf '\n%s\r\n\n' "$imgs/00004030_000.png" > "$tmp/crlf.txt"
holds "bare list: blank lines and CR ignored" \
	'[ $(cxr-resize -q --size 8 "$tmp/crlf.txt" | cxr-pack -t - | wc -l) -eq 2 ]'
printf 'a.png\t1\n' > "$tmp/tab.txt"
cxr-resize -q "$tmp/tab.txt" > /dev/null 2>"$tmp/err"
holds "bare list: a tab is an error naming the line" \
	'[ $? -eq 1 ] && grep -q "tab.txt: line 1: a tab" "$tmp/err"'

# --- empty input and a header alone make an empty, valid stream
: | cxr-resize -q > "$tmp/e.cxs"
holds "empty input: empty stream" '[ $? -eq 0 ] && [ $(list "$tmp/e.cxs" | wc -l) -eq 1 ]'
head -1 "$manifest" | cxr-resize -q > "$tmp/h.cxs"
holds "header only: empty stream" '[ $? -eq 0 ] && [ $(list "$tmp/h.cxs" | wc -l) -eq 1 ]'

# --- odd PNG types all go through (37x23, non-square, upscaled)
ls "$png"/*.png > "$tmp/odd.txt"
cxr-resize -q --size 32 -o "$tmp/odd.cxs" "$tmp/odd.txt"
holds "every PNG type decodes (non-square, upscaled)" \
	'[ $? -eq 0 ] && [ $(list "$tmp/odd.cxs" | wc -l) -eq $(($(wc -l < "$tmp/odd.txt") + 1)) ]'

# --- bad images: error naming the file, exit 1, no -o file left behind
mkdir "$tmp/out"
{ echo "$imgs/00004030_000.png"; echo "$png/bad/truncated.png"; echo "$imgs/00004094_000.png"; } > "$tmp/bad.txt"
cxr-resize -q -o "$tmp/out/x.cxs" "$tmp/bad.txt" 2>"$tmp/err"
holds "truncated PNG: exit 1" '[ $? -eq 1 ]'
holds "truncated PNG: message names tool and file" \
	'grep -qx "cxr-resize: $png/bad/truncated.png: truncated PNG file" "$tmp/err"'
holds "truncated PNG: no output file left" '[ -z "$(ls -A "$tmp/out")" ]'
echo "$png/bad/notpng.png" > "$tmp/np.txt"
cxr-resize -q "$tmp/np.txt" > /dev/null 2>"$tmp/err"
holds "not a PNG: exit 1 and message" \
	'[ $? -eq 1 ] && grep -qx "cxr-resize: $png/bad/notpng.png: not a PNG file" "$tmp/err"'
echo "$tmp/missing.png" > "$tmp/mi.txt"
cxr-resize -q "$tmp/mi.txt" > /dev/null 2>"$tmp/err"
holds "missing file: exit 1 and message" \
	'[ $? -eq 1 ] && grep -q "missing.png: No such file or directory" "$tmp/err"'
echo "$png/bad/huge.png" > "$tmp/hu.txt"
cxr-resize -q "$tmp/hu.txt" > /dev/null 2>"$tmp/err"
holds "too large: exit 1 and message" '[ $? -eq 1 ] && grep -q "huge.png: PNG too large" "$tmp/err"'
# the images before the bad one are written to stdout, then the stream is
# left without its end marker, which a reader reports
cxr-resize -q "$tmp/bad.txt" > "$tmp/partial.cxs" 2>/dev/null
holds "stdout: a stream cut by an error reads as an error" '! cxr-pack -t "$tmp/partial.cxs" >/dev/null 2>&1'

# --- --skip-bad: goes on, counts, exit 0
ls "$png"/bad/*.png > "$tmp/allbad.txt"
cat "$tmp/list.txt" "$tmp/allbad.txt" "$tmp/mi.txt" > "$tmp/mixed.txt"
nbad=$(($(wc -l < "$tmp/allbad.txt") + 1))
cxr-resize --skip-bad --max-bad 100% -q --size 16 -o "$tmp/skip.cxs" "$tmp/mixed.txt" 2>"$tmp/err"
holds "--skip-bad --max-bad 100%: exit 0" '[ $? -eq 0 ]'
holds "--skip-bad: the good images are written" \
	'[ $(list "$tmp/skip.cxs" | wc -l) -eq $(($(wc -l < "$tmp/list.txt") + 1)) ]'
holds "--skip-bad: each bad one named" '[ $(grep -c "(skipped)$" "$tmp/err") -eq $nbad ]'
holds "--skip-bad: the count at the end" \
	'tail -1 "$tmp/err" | grep -qx "cxr-resize: skipped $nbad bad images of $(wc -l < "$tmp/mixed.txt")"'
# --- --max-bad: past the limit (default 5%) exit 1, nothing written
nmixed=$(wc -l < "$tmp/mixed.txt")
cxr-resize --skip-bad -q --size 16 -o "$tmp/over.cxs" "$tmp/mixed.txt" 2>"$tmp/err"
holds "--skip-bad past the default 5%: exit 1" '[ $? -eq 1 ]'
holds "--max-bad: the message says how many and the limit" \
	'tail -1 "$tmp/err" | grep -qx "cxr-resize: skipped $nbad bad images of $nmixed, more than --max-bad 5% allows"'
holds "--max-bad: no output file" '[ ! -e "$tmp/over.cxs" ]'
cxr-resize --skip-bad --max-bad $nbad -q --size 16 -o "$tmp/cnt.cxs" "$tmp/mixed.txt" 2>/dev/null
holds "--max-bad N: N bad images pass" '[ $? -eq 0 ] && [ -s "$tmp/cnt.cxs" ]'
cxr-resize --skip-bad --max-bad $((nbad - 1)) -q --size 16 "$tmp/mixed.txt" 2>/dev/null >"$tmp/cut.cxs"
holds "--max-bad N: N+1 fail, and stdout gets no end marker" \
	'[ $? -eq 1 ] && ! cxr-pack -t "$tmp/cut.cxs" >/dev/null 2>&1'
cxr-resize --skip-bad --max-bad 5x "$tmp/mixed.txt" >/dev/null 2>&1
holds "--max-bad 5x: usage error" '[ $? -eq 2 ]'
# --- bare names without --root: the hint; --root a file: not a directory
cxr-resize -q -o "$tmp/h.cxs" "$manifest" 2>"$tmp/err"
holds "bare names without --root: exit 1 suggesting --root" \
	'[ $? -eq 1 ] && grep -q "no such file in the current directory; .*give --root DIR" "$tmp/err"'
cxr-resize -q --root "$manifest" -o "$tmp/h.cxs" "$manifest" 2>"$tmp/err"
holds "--root given a file: exit 1, not a directory" \
	'[ $? -eq 1 ] && grep -q "sample_manifest.tsv: --root is not a directory" "$tmp/err"'

# --- --root: names found anywhere below, duplicates refused naming both
mkdir -p "$tmp/root/images_001/images" "$tmp/root/images_002/images"
cp "$imgs/00000100_000.png" "$imgs/00001369_000.png" "$tmp/root/images_001/images/"
cp "$imgs"/0000[4-9]*.png "$tmp/root/images_002/images/"
echo "not an image" > "$tmp/root/README"
cxr-resize -q --root "$tmp/root" "$manifest" > "$tmp/r.cxs"
holds "--root: images spread over subfolders" 'cmp -s "$tmp/r.cxs" "$tmp/m.cxs"'
ln -s "$tmp/root/images_001" "$tmp/root/link"
cxr-resize -q --root "$tmp/root" "$manifest" > /dev/null 2>"$tmp/err"
holds "--root: two files of one name: exit 1 naming both" \
	'[ $? -eq 1 ] && grep -q "two images named 00000100_000.png: .*images_001/images/00000100_000.png and .*link/images/00000100_000.png" "$tmp/err"'
rm "$tmp/root/link"
printf 'image\tlabel\nimages_001/images/00000100_000.png\t1\n' > "$tmp/slash.tsv"
cxr-resize -q --root "$tmp/root" "$tmp/slash.tsv" > /dev/null 2>"$tmp/err"
holds "--root: a name with a / is refused, naming the line" \
	'[ $? -eq 1 ] && grep -q "slash.tsv: line 2: images_001/images/00000100_000.png: a name with a ./. cannot" "$tmp/err"'
printf 'image\tlabel\n00000100_000.png\t1\n09999999_000.png\t0\n' > "$tmp/nf.tsv"
cxr-resize -q --root "$tmp/root" "$tmp/nf.tsv" > /dev/null 2>"$tmp/err"
holds "--root: a name not found is an error" \
	'[ $? -eq 1 ] && grep -qx "cxr-resize: 09999999_000.png: not found below $tmp/root (the only one of 2 images)" "$tmp/err"'
printf 'image\tlabel\n00000100_000.png\t1\n09999999_000.png\t0\n09999998_000.png\t0\n00001369_000.png\t1\n09999997_000.png\t0\n' > "$tmp/nf3.tsv"
cxr-resize -q --root "$tmp/root" "$tmp/nf3.tsv" > /dev/null 2>"$tmp/err"
holds "--root: a missing image's message counts all the manifest's missing ones" \
	'[ $? -eq 1 ] && grep -qx "cxr-resize: 09999999_000.png: not found below $tmp/root; 3 of the 5 images are missing there" "$tmp/err"'
holds "--root: not found is skipped with --skip-bad" \
	'[ $(cxr-resize -q --skip-bad --max-bad 1 --size 8 --root "$tmp/root" "$tmp/nf.tsv" 2>/dev/null | cxr-pack -t - | wc -l) -eq 2 ]'
cxr-resize -q --root "$tmp/nowhere" "$manifest" > /dev/null 2>"$tmp/err"
holds "--root: a missing folder is an error" '[ $? -eq 1 ] && grep -q "nowhere" "$tmp/err"'
printf 'image\tlabel\tage\n00000100_000.png\t7\t50\n' > "$tmp/badrow.tsv"
cxr-resize -q --root "$tmp/root" "$tmp/badrow.tsv" > /dev/null 2>"$tmp/err"
holds "a bad manifest value is an error naming file and line" \
	'[ $? -eq 1 ] && grep -q "badrow.tsv: line 2: .*label" "$tmp/err"'

# --- a signal removes the unfinished -o file and exits 128+N
mkfifo "$tmp/fifo"
mkdir "$tmp/sig"
cxr-resize -q -o "$tmp/sig/out.cxs" "$tmp/fifo" 2>/dev/null &
pid=$!
exec 3>"$tmp/fifo"
echo "$imgs/00004030_000.png" >&3
sleep 1
kill -TERM $pid
wait $pid
rc=$?
exec 3>&-
holds "SIGTERM: exit 143" '[ $rc -eq 143 ]'
holds "SIGTERM: no file left behind" '[ -z "$(ls -A "$tmp/sig")" ]'

finish
