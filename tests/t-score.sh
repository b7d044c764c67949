#!/bin/sh
# t-score — cxr-score against man/cxr-score.1: the scores TSV (header,
# columns, the model's digest and threshold, the pred column, --threshold,
# --no-header, -o), the same bytes from a file, stdin and '-', streaming
# (lines come out while the writer of the input is still blocked), and
# refusals: another image size (the record and both sizes named), a
# truncated or corrupt stream (whole lines only, exit 1), a model it
# cannot read; a closed pipe ends it quietly (the tool decides: the
# scorer's code never exits); SIGINT ends it by the signal (130), even
# while it waits to open its input.
# Data: a tiny synthetic set at 32x32 and a model trained here for one
# epoch (width 1/16). Run from tests/ with bin/ on PATH (tests/run.sh).

NAME=t-score; . ./lib.sh
need cxr-score cxr-train cxr-synth cxr-split cxr-resize cxr-pack cxr-roc
# whole FILE — every line of FILE has the 10 columns and ends in a newline.
whole() {
	[ ! -s "$1" ] || [ "$(tail -c 1 "$1" | od -An -c | tr -d ' ')" = '\n' ] ||
		fail "$(basename "$1") ends inside a line"
	awk -F'\t' 'NF != 10 { print "line " NR ": " NF " fields"; bad = 1 } END { exit bad }' "$1" ||
		fail "$(basename "$1") has a partial line"
}
lines() { wc -l <"$1" | tr -d ' '; }
# wait_lines FILE N [S] — up to S seconds (10) for FILE to hold N lines.
wait_lines() {
	i=0
	while [ $i -lt $((${3:-10} * 20)) ] && [ "$(lines "$1")" -lt "$2" ]; do
		sleep 0.05; i=$((i + 1))
	done
	[ "$(lines "$1")" -ge "$2" ]
}

# ---- data and a model ----
d=$t/data
cxr-synth -q -o "$d" --images 120 --size 64 || { echo "FAIL: cxr-synth"; exit 1; }
cxr-split -q -o "$d" --train 60 --val 24 --test 20 "$d/Data_Entry_2017_v2020.csv" ||
	{ echo "FAIL: cxr-split"; exit 1; }
for s in train val test; do
	cxr-resize -q --size 32 --root "$d" -o "$t/$s.cxs" "$d/$s.tsv" ||
		{ echo "FAIL: cxr-resize $s"; exit 1; }
done
cxr-pack -q -o "$t/train.cxp" "$t/train.cxs" && cxr-pack -q -o "$t/val.cxp" "$t/val.cxs" &&
	cxr-train -q -j1 --width 0.0625 --batch 8 --epochs 1 --val "$t/val.cxp" -o "$t/M" "$t/train.cxp" ||
	{ echo "FAIL: training the model"; exit 1; }
m=$t/M
ts=$t/test.cxs
hdr=$(printf 'image\tscore\tlabel\tpatient\tage\tsex\tview\tmodel\tthreshold\tpred')

# ---- help, version, usage errors ----
expect 0 cxr-score --help
grep -q -e '--threshold' "$t/out" || fail "--help does not mention --threshold"
expect 0 cxr-score --version
expect 2 cxr-score "$ts"
err_has "-m MODEL"
expect 2 cxr-score -m "$m" "$ts" "$ts"
expect 2 cxr-score -m "$m" --threshold 1.5 "$ts"
expect 2 cxr-score -m "$m" --batch 0 "$ts"
expect 2 cxr-score -m "$m" --bogus "$ts"

# ---- the scores ----
expect 0 cxr-score -j1 -m "$m" "$ts"
err_has "20 images scored"
cp "$t/out" "$t/S"
[ "$(head -n 1 "$t/S")" = "$hdr" ] || fail "header: $(head -n 1 "$t/S")"
[ "$(lines "$t/S")" -eq 21 ] || fail "$(lines "$t/S") lines, want 21"
whole "$t/S"
# the manifest's fields, in the stream's order
tail -n +2 "$d/test.tsv" | awk -F'\t' -v OFS='\t' '{ print $1, $2, $4, $6 + 0, $7, $8 }' >"$t/want"
tail -n +2 "$t/S" | cut -f 1,3-7 | cmp -s - "$t/want" || fail "columns image..view differ from the manifest"
thr=$(awk -F'\t' 'NR == 2 { print $9 }' "$t/S")
awk -F'\t' -v t="$thr" 'NR > 1 && ($2 <= 0 || $2 >= 1 || $8 !~ /^[0-9a-f]+$/ || length($8) != 12 || $9 != t ||
	$10 != ($2 >= $9 ? 1 : 0) || length($2) < 12) { print "line " NR ": " $0; bad = 1 }
	END { exit bad }' "$t/S" || fail "score, model, threshold or pred column"
[ "$(cut -f 8 "$t/S" | sort -u | wc -l)" -eq 2 ] || fail "more than one model digest"
# the threshold column is the one the model stores (picked by Youden's J
# on the validation set), whatever it is
want_thr=$(cxr-score --info -m "$m" | awk -F'\t' '$1 == "threshold" { print $2 }')
rule=$(cxr-score --info -m "$m" | awk -F'\t' '$1 == "threshold_rule" { print $2 }')
[ "$rule" = youden ] || fail "the model's threshold rule is '$rule', want youden"
awk -v a="$thr" -v b="$want_thr" 'BEGIN { d = a - b; exit !(b != "" && d * d < 1e-24) }' ||
	fail "threshold column $thr, the model's is $want_thr"
# same bytes from stdin, '-', a pack, -o; one thread or batch size
expect 0 cxr-score -q -j1 -m "$m" <"$ts"
cmp -s "$t/out" "$t/S" || fail "stdin differs"
expect 0 cxr-score -q -j1 -m "$m" - <"$ts"
cmp -s "$t/out" "$t/S" || fail "'-' differs"
[ ! -s "$t/err" ] || fail "-q still wrote: $(cat "$t/err")"
cxr-pack -q -o "$t/test.cxp" "$ts"
expect 0 cxr-score -q -j1 -m "$m" "$t/test.cxp"
cmp -s "$t/out" "$t/S" || fail "a pack scores otherwise than its stream"
expect 0 cxr-score -q -j1 -m "$m" -o "$t/S.o" "$ts"
cmp -s "$t/S.o" "$t/S" || fail "-o FILE differs"
[ ! -s "$t/out" ] || fail "-o still wrote to stdout"
expect 0 cxr-score -q -j1 -m "$m" "$ts"
cmp -s "$t/out" "$t/S" || fail "twice: other bytes"
for b in 1 3 32; do
	expect 0 cxr-score -q -j1 --batch $b -m "$m" "$ts"
	paste "$t/out" "$t/S" | awk -F'\t' 'NR > 1 { d = $2 - $12; if (d > 1e-6 || d < -1e-6 || $1 != $11) bad = 1 }
		END { exit bad }' || fail "--batch $b: other scores"
done
# the scores feed cxr-roc
cxr-roc -q "$t/S" >/dev/null || fail "cxr-roc cannot read the scores"
# --threshold and --no-header
expect 0 cxr-score -q -j1 --threshold 0.3 --no-header -m "$m" "$ts"
[ "$(lines "$t/out")" -eq 20 ] || fail "--no-header: $(lines "$t/out") lines"
awk -F'\t' '$9 != 0.3 || $10 != ($2 >= 0.3 ? 1 : 0) { bad = 1 } END { exit bad }' "$t/out" ||
	fail "--threshold 0.3: threshold or pred column"
# a checkpoint scores too, at the threshold it stores (0.5: none picked yet)
expect 0 cxr-score -q -j1 -m "$m.ckpt" "$ts"
awk -F'\t' 'NR > 1 && ($9 != 0.5 || $10 != ($2 >= 0.5 ? 1 : 0)) { bad = 1 } END { exit bad }' "$t/out" ||
	fail "a checkpoint's scores: threshold column not 0.5 or pred not score >= 0.5"
# images without manifest data: '-' fields, pred still given
find "$d" -name '*.png' | sort | head -n 3 >"$t/list"
cxr-resize -q --size 32 -o "$t/bare.cxs" "$t/list"
expect 0 cxr-score -q -j1 -m "$m" "$t/bare.cxs"
tail -n +2 "$t/out" | awk -F'\t' '$3 != "-" || $4 != "-" || $5 != "-" || $6 != "-" || $7 != "-" ||
	($10 != 0 && $10 != 1) { bad = 1 } END { exit bad || NR != 3 }' ||
	fail "bare images: $(cat "$t/out")"
# an empty input: the header only
: >"$t/empty"
expect 1 cxr-score -q -m "$m" "$t/empty"

# ---- refusals ----
# another image size: the record, both sizes, no lines; after good records, their lines
cxr-resize -q --size 24 --root "$d" -o "$t/t24.cxs" "$d/test.tsv"
expect 1 cxr-score -q -j1 -m "$m" "$t/t24.cxs"
err_has "record 1"
err_has "1x24x24"
err_has "1x32x32"
[ "$(lines "$t/out")" -le 1 ] || fail "another size: lines were written"
cat "$ts" "$t/t24.cxs" >"$t/mixed.cxs"
expect 1 cxr-score -q -j1 -m "$m" "$t/mixed.cxs"
err_has "record 21"
cmp -s "$t/out" "$t/S" || fail "the good records before another size: other lines"
expect 1 cxr-score -q -j1 -m "$m" -o "$t/X" "$t/mixed.cxs"
[ -e "$t/X" ] && fail "-o FILE written despite an error"
ls "$t" | grep -q '^X\.' && fail "-o left a temporary file"
# a truncated stream: whole lines (those of the records before the cut),
# exit 1, the record named; cut inside the end marker, every record's line
# (--batch 1: another batch size may change a score's last bits)
cxr-score -q -j1 --batch 1 -m "$m" "$ts" >"$t/S1"
size=$(wc -c <"$ts")
for cut in 100 $((size / 2)) $((size - 10)); do
	head -c $cut "$ts" >"$t/cut.cxs"
	expect 1 cxr-score -q -j1 --batch 1 -m "$m" "$t/cut.cxs"
	err_has "truncated"
	whole "$t/out"
	head -n "$(lines "$t/out")" "$t/S1" | cmp -s - "$t/out" ||
		fail "cut at $cut: the lines differ from the whole stream's"
	[ $cut -eq $((size - 10)) ] || [ "$(lines "$t/out")" -lt 21 ] || fail "cut at $cut: all lines"
done
# a corrupt stream: flipped bytes in the middle
cp "$ts" "$t/bad.cxs"
printf 'XXXXXXXX' | dd of="$t/bad.cxs" bs=1 seek=$((size / 2)) conv=notrunc 2>/dev/null
expect 1 cxr-score -q -j1 -m "$m" "$t/bad.cxs"
err_has "record"
whole "$t/out"
# models it cannot read: exit 1, the file named, no output
cp "$m" "$t/M.bad"
printf 'XXXXXXXX' | dd of="$t/M.bad" bs=1 seek=2000 conv=notrunc 2>/dev/null
head -c 3000 "$m" >"$t/M.cut"
for bad in "$t/M.bad" "$t/M.cut" "$ts" "$t/nonexistent"; do
	expect 1 cxr-score -q -m "$bad" "$ts"
	err_has "$(basename "$bad")"
	[ ! -s "$t/out" ] || fail "model $(basename "$bad"): output written"
done
expect 1 cxr-score -q -m "$m" "$t/nonexistent.cxs"
err_has "nonexistent.cxs"
# an output that cannot be written: the message names it
if [ -w /dev/full ]; then
	expect 1 cxr-score -q -j1 -m "$m" -o /dev/full "$ts"
	err_has "/dev/full: write error"
fi

# ---- streaming ----
# Lines come out while the writer of the input is blocked: the input is
# a FIFO; the writer sends six streams (over 256 KiB), then waits.
mkfifo "$t/fifo"
cat "$t/train.cxs" "$t/train.cxs" "$t/train.cxs" "$t/train.cxs" "$t/train.cxs" "$t/train.cxs" >"$t/big.cxs"
: >"$t/live"
cxr-score -q -j1 --batch 1 -m "$m" <"$t/fifo" >"$t/live" 2>"$t/err" &
pid=$!
exec 3>"$t/fifo"
cat "$t/big.cxs" >&3
wait_lines "$t/live" 2 || fail "streaming: no line before the input ended"
early=$(lines "$t/live")
# then a seventh stream, sent while the others are scored: a reader that
# waits for the end would have produced nothing until now
cat "$ts" >&3
exec 3>&-
wait $pid || { fail "streaming: exit $?"; sed 's/^/    /' "$t/err"; }
[ "$(lines "$t/live")" -eq $((1 + 6 * 60 + 20)) ] || fail "streaming: $(lines "$t/live") lines"
[ "$early" -lt "$(lines "$t/live")" ] || fail "streaming: every line came before the input ended"
whole "$t/live"
# Latency: a short stream (20 records) whose writer then stays open gives
# all its lines: the reader decodes what the pipe holds, never waiting for
# a full buffer.
: >"$t/live"
cxr-score -q -j1 --batch 1 -m "$m" <"$t/fifo" >"$t/live" 2>"$t/err" &
pid=$!
exec 3>"$t/fifo"
cat "$ts" >&3
wait_lines "$t/live" 21 10 2>/dev/null ||
	fail "streaming latency: a 20-record stream with its writer open gave $(lines "$t/live") lines"

exec 3>&-
wait $pid

# ---- signals and pipes ----
# SIGINT while waiting for input: exit 130, whole lines. A shell starts
# background jobs with SIGINT ignored, and cxr keeps an ignored signal
# ignored (as nohup expects), so the job gets the default back first.
: >"$t/live"
env --default-signal=INT cxr-score -q -j1 --batch 1 -m "$m" <"$t/fifo" >"$t/live" 2>"$t/err" &
pid=$!
exec 3>"$t/fifo"
cat "$t/big.cxs" >&3
wait_lines "$t/live" 2
kill -s INT $pid
wait $pid
rc=$?
exec 3>&-
[ $rc -eq 130 ] || fail "SIGINT: exit $rc, want 130"
whole "$t/live"
# SIGINT while the input (a FIFO named on the command line) is still
# being opened, no writer yet: the open is interrupted, and cxr-score
# still ends by the signal, not with exit 1 and "Interrupted system call".
# (Should the signal come before the open, opening the FIFO here lets the
# open finish on an empty input: the answer must be the same.)
mkfifo "$t/fifo2"
env --default-signal=INT cxr-score -q -j1 -m "$m" "$t/fifo2" >"$t/out" 2>"$t/err" &
pid=$!
catches $pid 2
kill -s INT $pid
sleep 0.2
exec 3<>"$t/fifo2"
exec 3>&-
wait $pid
rc=$?
[ $rc -eq 130 ] || { fail "SIGINT while opening the input: exit $rc, want 130"; sed 's/^/    /' "$t/err"; }
# a reader that goes away: exit 1, no message
{ cxr-score -q -j1 --batch 1 -m "$m" "$t/big.cxs" 2>"$t/err"; echo $? >"$t/rc"; } | :
[ "$(cat "$t/rc")" -eq 1 ] || fail "closed pipe: exit $(cat "$t/rc"), want 1"
[ ! -s "$t/err" ] || fail "closed pipe: $(cat "$t/err")"
# ... decided by the tool: the scorer (library code) returns its errors,
# a closed pipe included, and never exits (ARCHITECTURE.md, Layering)
o=${CXR_TOP:-..}/lib/run/score_driver.o
if command -v nm >/dev/null 2>&1 && [ -f "$o" ]; then
	bad=$(nm -u "$o" | awk '{ print $NF }' | grep -x -e exit -e _exit -e _Exit -e abort \
		-e cxr_die -e cxr_die_err -e cxr_usage_error -e cxr_exit_signal -e cxr_open_in \
		-e cxr_out_open -e cxr_out_commit)
	[ -z "$bad" ] || fail "score_driver.o calls what exits: $(echo $bad)"
else
	skip "no nm or no lib/run/score_driver.o: the scorer's exits not checked"
fi

# ---- memory does not grow with the input ----
if [ -x /usr/bin/time ]; then
	/usr/bin/time -f %M -o "$t/m1" cxr-score -q -j1 -m "$m" "$t/train.cxs" >/dev/null
	for i in 1 2 3 4 5 6 7 8; do cat "$t/big.cxs"; done >"$t/huge.cxs"
	/usr/bin/time -f %M -o "$t/m2" cxr-score -q -j1 -m "$m" "$t/huge.cxs" >/dev/null
	m1=$(tail -n 1 "$t/m1"); m2=$(tail -n 1 "$t/m2")
	[ "$m2" -le $((m1 + m1 / 10 + 2048)) ] ||
		fail "memory: ${m1} KiB for 60 images, ${m2} KiB for 2880"
else
	skip "no /usr/bin/time (Debian package time): memory bound not checked"
fi

finish
