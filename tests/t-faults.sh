#!/bin/sh
# t-faults — the bad-input and fault matrix: what every tool does when its
# input is hostile or its environment fails. Each case must end with exit
# 1 (or death by the signal sent), a message naming the file (and the
# record or line where there is one), nothing written before lost, no
# temporary file left, and a peak RSS under 256 MB.
#   streams, packs, models: every byte flipped (models: the first 384
#     and a sample beyond), cut at every length (models: a sample);
#     a zstd bomb (300 MB of zeros in 9 KB, no declared size)
#   PNGs: the bad fixtures, truncated at every chunk boundary
#   CSV and TSV: short and long rows, bad UTF-8, NUL bytes, a 1 MB
#     field, CRLF, a byte-order mark
#   a stream that fails mid-way into a pipe or a FIFO: the next tool
#     sees it cut short (exit 1), never a shorter whole stream
#   EPIPE (a reader that exits early), ENOSPC (/dev/full),
#     RLIMIT_FSIZE (SIGXFSZ ignored: EFBIG takes the error path)
#   kill -9 at random points of cxr-pack and cxr-train (never a partial
#     output; resume gives the uninterrupted model; stale temporaries
#     removed), SIGINT/SIGTERM ending a tool by the signal itself
# The cron script's kills live in t-cron-kill.sh.
NAME=t-faults; . ./lib.sh
need cxr-synth cxr-split cxr-resize cxr-pack cxr-train cxr-score cxr-roc cxr-bias zstd
py=/usr/bin/python3
[ -x $py ] || { skip "no /usr/bin/python3 for tests/mutate.py"; finish; }
[ -x /usr/bin/time ] || { skip "no /usr/bin/time (Debian package time): peak RSS not measured"; }
data=${CXR_TOP:-..}/tests/data

# rss_ok KB WHAT — a peak RSS under 256 MB.
maxrss=0
rss_ok() { [ "$1" -lt 262144 ] || fail "$2: peak RSS $1 KB"; [ "$1" -le "$maxrss" ] || maxrss=$1; }
# run_bad WHAT NAME CMD... — CMD must exit 1 naming NAME on stderr, within
# the memory bound, and not die of anything else.
run_bad() {
	what=$1 name=$2; shift 2
	if [ -x /usr/bin/time ]; then
		/usr/bin/time -f '%M' -o "$t/rss" "$@" >"$t/out" 2>"$t/err"; rc=$?
		[ -s "$t/rss" ] && rss_ok "$(tail -n 1 "$t/rss")" "$what"
	else
		"$@" >"$t/out" 2>"$t/err"; rc=$?
	fi
	# /usr/bin/time reports a death by a signal as "Command terminated"
	if [ $rc -ne 1 ] || grep -q 'Command terminated' "$t/err"; then
		fail "$what: exit $rc, want 1"; sed 's/^/    /' "$t/err" | head -5; return
	fi
	grep -q -- "$name" "$t/err" || { fail "$what: message does not name $name:"; sed 's/^/    /' "$t/err" | head -3; }
}
# flip FILE OFFSET OUT — FILE with the byte at OFFSET inverted.
flip() {
	cp "$1" "$3"
	b=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
	printf "$(printf '\\%03o' $((255 - b)))" | dd of="$3" bs=1 seek="$2" conv=notrunc 2>/dev/null
}

# ---- material: a tiny data set, a stream, a pack and a model ----
cxr-synth -q -j 2 --images 60 --patients 30 --size 64 --seed 3 -o "$t/nih" || fail "cxr-synth"
cxr-split -q --train 20 --val 5 --test 5 -o "$t/s" "$t/nih/Data_Entry_2017_v2020.csv" || fail "cxr-split"
cxr-resize -q --size 16 --root "$t/nih" -o "$t/tr.cxs" "$t/s/train.tsv" || fail "cxr-resize"
head -n 3 "$t/s/test.tsv" > "$t/two.tsv"
cxr-resize -q --size 16 --root "$t/nih" -o "$t/two.cxs" "$t/two.tsv" || fail "cxr-resize two"
cxr-pack -q -o "$t/two.cxp" "$t/two.cxs" || fail "cxr-pack two"
cxr-pack -q -o "$t/tr.cxp" "$t/tr.cxs" || fail "cxr-pack"
cxr-train -q -j 1 --width 0.02 --epochs 1 --batch 8 -o "$t/m.cxm" "$t/tr.cxp" || fail "cxr-train"
[ -s "$t/m.cxm" ] || { fail "no material"; finish; }

# ---- streams and packs: every byte flipped, cut at every length ----
# (tests/mutate.py: exit 1 naming the file, or the same records)
for f in two.cxs two.cxp; do
	size=$(wc -c < "$t/$f")
	$py mutate.py flip "$t/$f" -- cxr-pack -t {}
	check $? "$f: each of its $size bytes flipped is refused or harmless"
	$py mutate.py cut "$t/$f" -- cxr-pack -t {}
	check $? "$f: cut at each of its $size lengths is refused, naming the file"
done
# the records behind a pack's index, as cxr-train reads them: a corrupt
# stream header or end marker is found at open
size=$(wc -c < "$t/tr.cxp")
flip "$t/tr.cxp" 20 "$t/hdr.cxp"
run_bad "cxr-train on a pack with a corrupt stream header" hdr.cxp \
	cxr-train -q -j 1 --width 0.02 --epochs 1 -o "$t/never.cxm" "$t/hdr.cxp"
# the end marker sits before the index; find it as the last CXRE frame
# (the end marker is the last zstd frame: the index after it is skippable)
end=$(LC_ALL=C grep -obUaP '\x28\xb5\x2f\xfd' "$t/tr.cxp" | tail -n 1 | cut -d: -f1)
flip "$t/tr.cxp" $((end + 8)) "$t/end.cxp"
run_bad "cxr-train on a pack with a corrupt end marker" end.cxp \
	cxr-train -q -j 1 --width 0.02 --epochs 1 -o "$t/never.cxm" "$t/end.cxp"
[ -e "$t/never.cxm" ] && fail "a refused training run left a model"

# ---- models: flipped and cut; a bomb; a pack given as a model ----
size=$(wc -c < "$t/m.cxm")
at=$(awk -v n="$size" 'BEGIN { for (k = 0; k < 384; k++) printf "%d,", k
	srand(5); for (k = 0; k < 128; k++) printf "%d,", int(384 + rand() * (n - 384)) }')
$py mutate.py flip "$t/m.cxm" --at "$at" -- cxr-score -q -j 1 -m {} "$t/two.cxs"
check $? "model: its first 384 bytes and 128 more flipped: each refused, naming the file"
at=$(awk -v n="$size" 'BEGIN { for (k = 0; k <= 64; k++) printf "%d,", k
	srand(6); for (k = 0; k < 60; k++) printf "%d,", int(rand() * n) }')
$py mutate.py cut "$t/m.cxm" --at "$at" -- cxr-score -q -j 1 -m {} "$t/two.cxs"
check $? "model: cut at 125 lengths each refused, naming the file"
head -c 300000000 /dev/zero | zstd -q -c > "$t/bomb.zst"
run_bad "a zstd bomb as a model" bomb.zst cxr-score -q -m "$t/bomb.zst" "$t/two.cxs"
err_has "not a model file"
run_bad "a zstd bomb as a stream" bomb.zst cxr-pack -t "$t/bomb.zst"
run_bad "a zstd bomb as a pack to train on" bomb.zst cxr-train -q --epochs 1 -o "$t/never.cxm" "$t/bomb.zst"
run_bad "a pack given as a model" two.cxp cxr-score -q -m "$t/two.cxp" "$t/two.cxs"
err_has "not a model file (it is a tensor stream or pack)"
run_bad "a model given as a stream" m.cxm cxr-score -q -m "$t/m.cxm" "$t/m.cxm"
err_has "not a tensor stream (it is a model file)"
run_bad "a PNG given as a model" .png cxr-score -q -m "$data/png/gray8.png" "$t/two.cxs"
err_has "(it is a PNG image)"

# ---- PNGs: the bad fixtures, and a real one cut at every chunk boundary ----
# (cxr-resize reads a list of paths, one a line)
for p in "$data"/png/bad/*.png; do
	n=$(basename "$p")
	echo "$p" > "$t/list"
	run_bad "PNG $n" "$n" cxr-resize -q --size 16 "$t/list"
done
png=$data/png/gray8.png
size=$(wc -c < "$png")
# chunk boundaries: 8, then each chunk is length(4) type(4) data crc(4)
off=8 bad=0
while [ $off -lt "$size" ]; do
	head -c $off "$png" > "$t/cut.png"
	echo "$t/cut.png" > "$t/list"
	cxr-resize -q --size 16 "$t/list" >/dev/null 2>"$t/err"; rc=$?
	[ $rc -eq 1 ] && grep -q cut.png "$t/err" || { bad=$((bad + 1)); echo "PNG cut @$off: exit $rc"; }
	len=$(od -An -tu1 -j $off -N4 "$png" | awk '{ print ($1 * 16777216) + ($2 * 65536) + ($3 * 256) + $4 }')
	off=$((off + 12 + len))
done
check $bad "PNG cut at every chunk boundary: refused, naming the file"
# PNGs written here: bad_png OUT WIDTH HEIGHT COLOUR_TYPE — an IHDR of
# that size and type (8-bit), a small IDAT, IEND; no PLTE.
bad_png() {
	/usr/bin/python3 - "$@" <<'EOF'
import struct, sys, zlib
out, w, h, ctype = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
def chunk(t, d): return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
ihdr = struct.pack(">IIBBBBB", w, h, 8, ctype, 0, 0, 0)
open(out, "wb").write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 80)) + chunk(b"IEND", b""))
EOF
}
# an IHDR of 2^31-1 x 2^31-1 (a "bomb"): refused before allocating
bad_png "$t/ihdr.png" 2147483647 2147483647 0
echo "$t/ihdr.png" > "$t/list"
run_bad "PNG with a 2^31-1 square IHDR" ihdr.png cxr-resize -q --size 16 "$t/list"
# a palette image without PLTE
bad_png "$t/nopal.png" 4 4 3
echo "$t/nopal.png" > "$t/list"
run_bad "palette PNG without PLTE" nopal.png cxr-resize -q --size 16 "$t/list"

# ---- CSV (cxr-split) and TSV (cxr-resize manifests, cxr-roc scores) ----
csv=$data/nih/data_entry_2017_excerpt.csv
hdr=$(head -n 1 "$csv")
row=$(sed -n 2p "$csv")
printf '%s\n%s\n' "$hdr" "$(echo "$row" | cut -d, -f1-5)" > "$t/short.csv"
run_bad "CSV short row" "short.csv: line 2" cxr-split -q --train 1 --val 0 --test 0 -o "$t/o1" "$t/short.csv"
printf '%s\n%s,x,y,z,w\n' "$hdr" "$row" > "$t/long.csv"
run_bad "CSV long row" "long.csv: line 2" cxr-split -q --train 1 --val 0 --test 0 -o "$t/o2" "$t/long.csv"
printf '%s\n%s\n' "$hdr" "$(echo "$row" | sed 's/^[^,]*/\xff\xfe.png/')" > "$t/utf.csv"
run_bad "CSV bad UTF-8" "utf.csv: line 2" cxr-split -q --train 1 --val 0 --test 0 -o "$t/o3" "$t/utf.csv"
printf '%s\n' "$hdr" > "$t/nul.csv"; printf '0000\0001_000.png%s\n' "${row#*.png}" >> "$t/nul.csv"
run_bad "CSV NUL byte" "nul.csv: line 2" cxr-split -q --train 1 --val 0 --test 0 -o "$t/o4" "$t/nul.csv"
# big_field N SEP: each line's Nth SEP-separated field grows by 1 MB
big_field() { awk -v n="$1" -v FS="$2" -v OFS="$2" 'NR > 1 { s = "7"; while (length(s) < 1048576) s = s s; $n = $n s } { print }'; }
printf '%s\n%s\n' "$hdr" "$row" | big_field 4 , > "$t/big.csv"
run_bad "CSV 1 MB field" "big.csv: line 2" cxr-split -q --train 1 --val 0 --test 0 -o "$t/o5" "$t/big.csv"
for o in o1 o2 o3 o4 o5; do [ -e "$t/$o" ] && fail "a refused CSV left $o"; done
sed 's/$/\r/' "$csv" > "$t/crlf.csv"
expect 0 cxr-split -q --train 6 --val 3 --test 3 -o "$t/crlf" "$t/crlf.csv"
{ printf '\357\273\277'; cat "$csv"; } > "$t/bom.csv"
expect 0 cxr-split -q --train 6 --val 3 --test 3 -o "$t/bom" "$t/bom.csv"
cmp -s "$t/crlf/train.tsv" "$t/bom/train.tsv" || fail "CRLF and BOM CSVs split differently"

man=$t/s/test.tsv
mhdr=$(head -n 1 "$man"); mrow=$(sed -n 2p "$man")
printf '%s\n%s\n' "$mhdr" "$(printf '%s' "$mrow" | cut -f1-3)" > "$t/short.tsv"
run_bad "manifest short row" "short.tsv: line 2" cxr-resize -q --root "$t/nih" --size 16 "$t/short.tsv"
printf '%s\n%s\tx\n' "$mhdr" "$mrow" > "$t/long.tsv"
run_bad "manifest long row" "long.tsv: line 2" cxr-resize -q --root "$t/nih" --size 16 "$t/long.tsv"
printf '%s\n%s\n' "$mhdr" "$(printf '%s' "$mrow" | sed 's/^[^\t]*/\xff.png/')" > "$t/utf.tsv"
run_bad "manifest bad UTF-8" "utf.tsv: line 2" cxr-resize -q --root "$t/nih" --size 16 "$t/utf.tsv"
printf '%s\n' "$mhdr" > "$t/nul.tsv"; printf 'a\000b.png\t0\t-\t1\t0\t40\tM\tPA\n' >> "$t/nul.tsv"
run_bad "manifest NUL byte" "nul.tsv: line 2" cxr-resize -q --root "$t/nih" --size 16 "$t/nul.tsv"
printf '%s\n%s\n' "$mhdr" "$mrow" | big_field 3 "$(printf '\t')" > "$t/big.tsv"
run_bad "manifest 1 MB field" "big.tsv: line 2" cxr-resize -q --root "$t/nih" --size 16 "$t/big.tsv"
sed 's/$/\r/' "$t/two.tsv" > "$t/crlf.tsv"
cxr-resize -q --root "$t/nih" --size 16 "$t/crlf.tsv" | cxr-pack -t - > "$t/crlf.t" &&
	cxr-pack -t "$t/two.cxs" | cmp -s - "$t/crlf.t" || fail "a CRLF manifest reads differently"
{ printf '\357\273\277'; cat "$t/two.tsv"; } > "$t/bom.tsv"
cxr-resize -q --root "$t/nih" --size 16 "$t/bom.tsv" | cxr-pack -t - > "$t/bom.t" &&
	cmp -s "$t/crlf.t" "$t/bom.t" || fail "a manifest with a byte-order mark reads differently"

sc=$data/scores/ties.tsv
shdr=$(head -n 1 "$sc"); srow=$(sed -n 2p "$sc")
printf '%s\n%s\n' "$shdr" "$(printf '%s' "$srow" | cut -f1-2)" > "$t/short.sc"
run_bad "scores short row" "short.sc: line 2" cxr-roc -q "$t/short.sc"
printf '%s\n%s\tx\n' "$shdr" "$srow" > "$t/long.sc"
run_bad "scores long row" "long.sc: line 2" cxr-roc -q "$t/long.sc"
printf '%s\n' "$shdr" > "$t/nul.sc"; printf 'a\000b.png\t0.5\t1\t1\t40\tM\tPA\tm\t0\n' >> "$t/nul.sc"
run_bad "scores NUL byte" "nul.sc: line 2" cxr-roc -q "$t/nul.sc"
printf '%s\n%s\n' "$shdr" "$srow" | big_field 1 "$(printf '\t')" > "$t/big.sc"
run_bad "scores 1 MB field" "big.sc: line 2" cxr-roc -q "$t/big.sc"
sed 's/$/\r/' "$sc" > "$t/crlf.sc"
{ printf '\357\273\277'; cat "$sc"; } > "$t/bom.sc"
cxr-roc -q "$sc" > "$t/r0" && cxr-roc -q "$t/crlf.sc" > "$t/r1" && cxr-roc -q "$t/bom.sc" > "$t/r2" &&
	cmp -s "$t/r0" "$t/r1" && cmp -s "$t/r0" "$t/r2" || fail "CRLF or BOM scores evaluate differently"

# ---- a tool that fails mid-stream into a pipe or a FIFO ----
head -c $(($(wc -c < "$t/tr.cxs") / 2)) "$t/tr.cxs" > "$t/half.cxs"
rc=$(sh -c 'cxr-pack -q -o /dev/stdout "$1" 2>/dev/null | cxr-pack -t - >/dev/null 2>&1; echo $?' x "$t/half.cxs")
[ "$rc" -eq 1 ] || fail "a pipe after a failed cxr-pack read a whole stream (exit $rc)"
mkfifo "$t/fifo"
cxr-pack -t - < "$t/fifo" >/dev/null 2>"$t/ferr" & rd=$!
cxr-pack -q -o "$t/fifo" "$t/half.cxs" 2>/dev/null
wait $rd; rc=$?
[ $rc -eq 1 ] || fail "a FIFO after a failed cxr-pack read a whole stream (exit $rc)"
for cmd in "cxr-resize -q --size 16 --root $t/nih $t/s/train.tsv" "cxr-pack -t $t/tr.cxp" \
	"cxr-score -q -j 1 -m $t/m.cxm $t/tr.cxs" "cxr-roc -q --points $sc"; do
	sh -c "$cmd 2>\"$t/perr\"; echo \$? > \"$t/prc\"" | head -c 10 > /dev/null
	# 0 when all of its output fitted in the pipe before head left
	case $(cat "$t/prc") in 0|1|141) ;; *) fail "EPIPE: ${cmd%% *}: exit $(cat "$t/prc")" ;; esac
	[ -s "$t/perr" ] && fail "EPIPE: ${cmd%% *} wrote a message: $(cat "$t/perr")"
done

# ---- ENOSPC and RLIMIT_FSIZE ----
run_bad "cxr-resize -o /dev/full" /dev/full cxr-resize -q --size 16 --root "$t/nih" -o /dev/full "$t/two.tsv"
run_bad "cxr-pack -o /dev/full" /dev/full cxr-pack -q -o /dev/full "$t/tr.cxs"
run_bad "cxr-score -o /dev/full" /dev/full cxr-score -q -j 1 -m "$t/m.cxm" -o /dev/full "$t/tr.cxs"
run_bad "cxr-roc -o /dev/full" /dev/full cxr-roc -q -o /dev/full "$sc"
run_bad "cxr-bias -o /dev/full" /dev/full cxr-bias -q -o /dev/full "$sc"
mkdir "$t/fs"
for cmd in "cxr-resize -q --size 64 --root $t/nih -o $t/fs/r.cxs $t/s/train.tsv" \
	"cxr-pack -q -o $t/fs/p.cxp $t/tr.cxs" "cxr-pack -q --shuffle -o $t/fs/sp.cxp $t/tr.cxs" \
	"cxr-score -q -j 1 -m $t/m.cxm -o $t/fs/s.tsv $t/tr.cxs" \
	"cxr-train -q -j 1 --width 0.02 --epochs 1 --batch 8 -o $t/fs/m.cxm $t/tr.cxp" \
	"cxr-split -q --train 24 --val 8 --test 8 -o $t/fs/split $t/nih/Data_Entry_2017_v2020.csv" \
	"cxr-synth -q --images 20 --size 128 -o $t/fs/synth"; do
	sh -c "ulimit -f 2; exec $cmd" >/dev/null 2>"$t/err"; rc=$?
	[ $rc -eq 1 ] || fail "RLIMIT_FSIZE: ${cmd%% -*}: exit $rc, want 1 $(head -c 200 "$t/err")"
	grep -q 'File too large' "$t/err" || fail "RLIMIT_FSIZE: ${cmd%% -*}: no message: $(head -c 200 "$t/err")"
	left=$(find "$t/fs" -name '*.*.*' -o -name '*.XXXXXX' -o -name '*.spool*' -o -name '*.tmp' | head -3)
	[ -z "$left" ] || fail "RLIMIT_FSIZE: ${cmd%% -*} left $left"
	rm -rf "$t/fs"/*
done

# ---- kill -9 mid-write: never a partial output at its name ----
cat "$t/tr.cxs" "$t/tr.cxs" "$t/tr.cxs" "$t/tr.cxs" > "$t/x4.cxs" 2>/dev/null
cxr-pack -q --allow-duplicates -o "$t/want.cxp" "$t/x4.cxs" || fail "pack x4"
bad=0
for d in 0.01 0.02 0.03 0.05 0.08 0.1 0.15 0.2; do
	rm -f "$t/k.cxp"
	cxr-pack -q --allow-duplicates --shuffle -o "$t/k.cxp" "$t/x4.cxs" 2>/dev/null & p=$!
	sleep $d; kill -9 $p 2>/dev/null; wait $p 2>/dev/null
	[ ! -e "$t/k.cxp" ] || cxr-pack -t "$t/k.cxp" >/dev/null 2>&1 || { bad=$((bad + 1)); echo "kill -9 after ${d}s: a partial k.cxp"; }
done
check $bad "cxr-pack killed with -9 at 8 points: k.cxp absent or whole"
# cxr-train: killed mid-run, resumed, ends with the uninterrupted model
S="-q -j 1 --width 0.02 --batch 8 --epochs 3 --seed 2"
cxr-train $S -o "$t/u.cxm" "$t/tr.cxp" || fail "uninterrupted run"
cxr-train $S -o "$t/k.cxm" "$t/tr.cxp" 2>/dev/null & p=$!
i=0; while [ ! -e "$t/k.cxm.ckpt" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
kill -9 $p 2>/dev/null; wait $p 2>/dev/null
if [ -e "$t/k.cxm.ckpt" ]; then
	echo junk > "$t/k.cxm.ckpt.Ab12Cd"  # a checkpoint temporary a kill -9 left
	cxr-train -q -j 1 --resume "$t/k.cxm.ckpt" -o "$t/k.cxm" "$t/tr.cxp" || fail "resume after kill -9"
	cmp -s "$t/u.cxm" "$t/k.cxm" || fail "kill -9 then --resume: a different model"
	[ -e "$t/k.cxm.ckpt.Ab12Cd" ] && fail "resume left a stale checkpoint temporary"
else
	fail "no checkpoint appeared within 10 s"
fi

# ---- signals: a tool ends by the signal itself, after its cleanup ----
# (a shell's background job starts with SIGINT ignored, which the tools
# keep; sigkill below starts the tool with SIGINT at its default)
rm -rf "$t/sg"; mkdir "$t/sg"
sh -c 'cxr-train -q -j 1 --width 0.02 --batch 8 --epochs 100000 -o "$1" "$2" & p=$!
	sleep 1.5; kill -s TERM $p; wait $p; echo "status $?"' x "$t/sg/m2.cxm" "$t/tr.cxp" >"$t/sgout" 2>&1
grep -q "status 143" "$t/sgout" || fail "SIGTERM: $(cat "$t/sgout")"
cat > "$t/sigkill.c" <<'EOF'
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>
/* runs argv[2..] and sends it signal argv[1] after 1.5 s; prints how it ended */
int main(int argc, char **argv) {
	int sig = atoi(argv[1]);
	pid_t p = fork();
	if (!p) { signal(SIGINT, SIG_DFL); execvp(argv[2], argv + 2); _exit(127); }
	usleep(1500000); kill(p, sig);
	int st; waitpid(p, &st, 0);
	printf(WIFSIGNALED(st) ? "signal %d\n" : "exit %d\n", WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
	return 0;
}
EOF
if cc -include stdlib.h -o "$t/sigkill" "$t/sigkill.c" 2>/dev/null; then
	for sig in 2 15; do
		"$t/sigkill" $sig cxr-train -q -j 1 --width 0.02 --batch 8 --epochs 100000 -o "$t/sg/m3.cxm" "$t/tr.cxp" >"$t/how" 2>/dev/null
		grep -qx "signal $sig" "$t/how" || fail "cxr-train after signal $sig ended by '$(cat "$t/how")', not by the signal"
		[ -e "$t/sg/m3.cxm.ckpt" ] || fail "cxr-train after signal $sig wrote no checkpoint"
		rm -f "$t/sg"/m3.cxm*
	done
else
	fail "no C compiler for the signal check"
fi

[ $maxrss -gt 0 ] && echo "peak RSS of any rejected input: $maxrss KB"
finish
