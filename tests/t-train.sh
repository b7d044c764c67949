#!/bin/sh
# t-train — cxr-train against man/cxr-train.1: the files it writes, the
# log's configuration lines and per-epoch TSV, the same bits for the same
# seed and -j, --resume ending with the same bits as a run never stopped
# (after --max-steps mid-epoch and at an epoch boundary, and after a real
# SIGINT or SIGTERM, resumed by the command the message prints), the logs
# matching the checkpoint after a crash between the two, the rate of a
# resumed epoch, NaN
# stopping with the last good checkpoint intact, the threshold picked on
# the validation set, early stopping, the plateau schedule, augmentation,
# the progress bar on a terminal, refusals (exit 1) and usage errors
# (exit 2). Data: a tiny synthetic set (cxr-synth) at 32x32, a network
# of width 1/16, batch 8, -j1 (one thread is fastest on a busy machine).
# Run from tests/ with bin/ on PATH (tests/run.sh does both).

NAME=t-train; . ./lib.sh
need cxr-train cxr-synth cxr-split cxr-resize cxr-pack cxr-score cxr-roc
# same A B WHAT — the two files are byte for byte the same.
same() { cmp -s "$1" "$2" || fail "$3: $(basename "$1") and $(basename "$2") differ"; }
# epochs LOG — the per-epoch TSV lines of a log.
epochs() { grep -v -e '^#' -e '^epoch' "$1"; }
# in_range X LO HI — LO <= X <= HI, as numbers.
in_range() { awk -v x="$1" -v lo="$2" -v hi="$3" 'BEGIN { exit !(x >= lo && x <= hi) }'; }
# close X Y — |X - Y| <= 1e-6 (scores from another batch size differ in
# the last bits).
close() { awk -v x="$1" -v y="$2" 'BEGIN { d = x - y; exit !(d <= 1e-6 && d >= -1e-6) }'; }

# ---- data: 120 synthetic images, split by patient, 32x32, packed ----
d=$t/data
cxr-synth -q -o "$d" --images 120 --size 64 || { echo "FAIL: cxr-synth"; exit 1; }
cxr-split -q -o "$d" --train 60 --val 24 --test 20 "$d/Data_Entry_2017_v2020.csv" ||
	{ echo "FAIL: cxr-split"; exit 1; }
for s in train val; do
	cxr-resize -q --size 32 --root "$d" -o "$d/$s.cxs" "$d/$s.tsv" &&
		cxr-pack -q -o "$t/$s.cxp" "$d/$s.cxs" || { echo "FAIL: making $s.cxp"; exit 1; }
done
tr=$t/train.cxp
va=$t/val.cxp
# The common options: small, fast, one thread.
S="-j1 --width 0.0625 --batch 8"

# ---- the driver keeps its state per run: no writable static variable
# inside a function (a buffer shared by every run and thread) ----
o=${CXR_TOP:-..}/lib/run/train_driver.o
if command -v nm >/dev/null 2>&1 && [ -f "$o" ]; then
	st=$(nm "$o" | awk '$2 ~ /^[bBdD]$/ && $3 ~ /\./ { print $3 }')
	[ -z "$st" ] || fail "train_driver.o has static variables in functions: $(echo $st)"
else
	skip "no nm or no lib/run/train_driver.o: static buffers not checked"
fi

# ---- help, version, usage errors (exit 2) ----
expect 0 cxr-train --help
grep -q -e '--resume' "$t/out" || fail "--help does not mention --resume"
expect 0 cxr-train --version
grep -q '^cxr-train [0-9]' "$t/out" || fail "--version: $(cat "$t/out")"
expect 2 cxr-train $S "$tr"
err_has "-o MODEL"
expect 2 cxr-train $S -o "$t/u"
expect 2 cxr-train $S -o "$t/u" "$tr" "$va"
expect 2 cxr-train $S --schedule step -o "$t/u" "$tr"
err_has "--schedule"
expect 2 cxr-train $S --lr 11 -o "$t/u" "$tr"
err_has "--lr"
expect 2 cxr-train $S --epochs 0 -o "$t/u" "$tr"
expect 2 cxr-train $S --early-stop 2 -o "$t/u" "$tr"
err_has "need --val"
expect 2 cxr-train $S --schedule plateau -o "$t/u" "$tr"
expect 2 cxr-train $S --bogus -o "$t/u" "$tr"
[ -z "$(ls "$t" | grep '^u')" ] || fail "a usage error left files: $(ls "$t" | grep '^u')"

# ---- a run with validation: files, log, stderr ----
expect 0 cxr-train $S --epochs 3 --val "$va" -o "$t/A" "$tr"
for f in A A.best A.ckpt A.log; do [ -s "$t/$f" ] || fail "no $f"; done
[ "$(ls "$t" | grep -c '^A')" -eq 4 ] || fail "other files beside A: $(ls "$t" | grep '^A')"
same "$t/A" "$t/A.best" "the model is not the best epoch's"
grep -q '^# cxr-train .*train.cxp (60 images, 32x32), val .*val.cxp (24 images)' "$t/A.log" ||
	fail "log lacks the data line"
grep -q '^# width 0.0625, [0-9]* parameters' "$t/A.log" || fail "log lacks the network line"
grep -q '^# epochs 3, batch 8, AdamW lr 0.001 (min 0), betas 0.9 0.999, eps 1e-08, weight decay 0.0001, schedule cosine, warmup 0, early stop 0, augment 0, init torch, seed 1, threads 1, precision [a-z0-9]*$' "$t/A.log" ||
	fail "log config line: $(grep '^# epochs' "$t/A.log")"
hdr=$(printf 'epoch\tsteps\ttrain_loss\tval_loss\tval_auc\tval_error\tlr\timages_per_s\telapsed')
[ "$(grep -c "^$hdr\$" "$t/A.log")" -eq 1 ] || fail "log lacks the TSV header"
epochs "$t/A.log" >"$t/A.ep"
awk -F'\t' 'NF != 9 || $1 != NR || $2 != 8 * NR || $3 !~ /^[0-9.]+(e-?[0-9]+)?$/ ||
	$5 < 0 || $5 > 1 || $6 < 0 || $6 > 1 || $7 < 0 || $8 <= 0 { print "bad line " NR ": " $0; bad = 1 }
	END { if (NR != 3) { print NR " epoch lines"; bad = 1 } exit bad }' "$t/A.ep" ||
	fail "log epoch lines: $(cat "$t/A.ep")"
# the lr column: the cosine rate of each epoch's last step (8 steps an epoch, 24 in all)
awk -F'\t' '{ s = 8 * $1 - 1; want = 0.001 * (1 + cos(3.141592653589793 * s / 24)) / 2
	d = $7 - want; if (d > 1e-9 || d < -1e-9) { print "epoch " $1 ": lr " $7 ", want " want; bad = 1 } }
	END { exit bad }' "$t/A.ep" || fail "lr column is not the cosine schedule"
# stderr: the same configuration and lines, then the best epoch
grep -v '^cxr-train: ' "$t/err" | cmp -s - "$t/A.log" || fail "stderr and the log differ"
err_has "best validation AUC"

# ---- determinism: the same seed and -j give the same bits; another seed others ----
expect 0 cxr-train -q $S --epochs 3 --val "$va" -o "$t/A2" "$tr"
[ ! -s "$t/err" ] || fail "-q still wrote: $(cat "$t/err")"
same "$t/A" "$t/A2" "the same run twice"
same "$t/A.best" "$t/A2.best" "the same run twice (best)"
epochs "$t/A2.log" | cut -f 1-7 >"$t/A2.ep7"
cut -f 1-7 "$t/A.ep" | cmp -s - "$t/A2.ep7" || fail "the same run twice logs other metrics"
expect 0 cxr-train -q $S --epochs 3 --val "$va" --seed 2 -o "$t/A3" "$tr"
cmp -s "$t/A" "$t/A3" && fail "--seed 2 gives the model of --seed 1"
grep -q 'seed 2,' "$t/A3.log" || fail "log does not say seed 2"

# ---- the threshold: Youden's J on the validation scores of the model ----
cxr-score -q -j1 -m "$t/A" "$va" >"$t/A.val" || fail "cxr-score of val"
cxr-roc -q --threshold youden "$t/A.val" >"$t/A.roc" || fail "cxr-roc of val"
stored=$(awk -F'\t' 'NR == 2 { print $9 }' "$t/A.val")
youden=$(awk -F'\t' '$1 == "threshold" { print $2 }' "$t/A.roc")
close "$stored" "$youden" || fail "stored threshold $stored, Youden's J on val $youden"
best=$(sort -t "$(printf '\t')" -k5,5g "$t/A.ep" | tail -n 1 | cut -f 5)
auc=$(awk -F'\t' '$1 == "auc" { print $2 }' "$t/A.roc")
close "$best" "$auc" || fail "best val_auc in the log $best, AUC of the model on val $auc"
# a fixed sensitivity instead: at least 80% of val positives at or above it
expect 0 cxr-train -q $S --epochs 3 --val "$va" --threshold-sens 80 -o "$t/TS" "$tr"
cxr-score -q -j1 -m "$t/TS" "$va" | awk -F'\t' 'NR > 1 && $3 == 1 { p++; if ($2 >= $9) tp++ }
	END { if (tp < 0.8 * p) { print tp "/" p; exit 1 } }' ||
	fail "--threshold-sens 80 gives lower sensitivity on val"

# ---- resume after --max-steps: mid-epoch (5, 13) and at a boundary (8, 16) ----
for k in 5 8 13 16; do
	rm -f "$t"/B "$t"/B.*
	expect 0 cxr-train -q $S --epochs 3 --val "$va" --max-steps $k -o "$t/B" "$tr"
	[ "$(epochs "$t/B.log" | wc -l)" -eq $((k / 8)) ] || fail "--max-steps $k: epoch lines"
	expect 0 cxr-train -q -j1 --val "$va" --resume "$t/B.ckpt" -o "$t/B" "$tr"
	same "$t/A" "$t/B" "--max-steps $k then --resume"
	same "$t/A.best" "$t/B.best" "--max-steps $k then --resume (best)"
	grep -q "^# resumed from .*B.ckpt at epoch $((k / 8 + 1)), batch $((k % 8))\$" "$t/B.log" ||
		fail "--max-steps $k: log lacks the resume line"
	epochs "$t/B.log" | cut -f 1-7 | cmp -s - "$t/A2.ep7" ||
		fail "--max-steps $k then --resume: other metrics in the log"
done
# images_per_s of a resumed epoch counts the images trained since the
# resume: resumed after step 7 of 8, epoch 1 trains its last 4 images in
# one step (and validates), epoch 2 all 60 in 8 steps, so epoch 1's rate
# is the lower one (counting all 60 images of epoch 1 made it the higher)
rm -f "$t"/H "$t"/H.*
expect 0 cxr-train -q $S --epochs 2 --val "$va" --max-steps 7 -o "$t/H" "$tr"
expect 0 cxr-train -q -j1 --val "$va" --resume "$t/H.ckpt" -o "$t/H" "$tr"
r1=$(epochs "$t/H.log" | awk -F'\t' '$1 == 1 { print $8 }')
r2=$(epochs "$t/H.log" | awk -F'\t' '$1 == 2 { print $8 }')
awk -v a="$r1" -v b="$r2" 'BEGIN { exit !(a > 0 && a < b) }' ||
	fail "images_per_s after a resume: epoch 1 (4 images since the resume) $r1, epoch 2 (60) $r2"
# the logs match the checkpoint: a crash after epoch 1's log line but
# before its checkpoint (played here by putting back the checkpoint of
# step 5 once epoch 1 has ended) leaves, after the resume, each epoch's
# line and each step's line once
rm -f "$t"/C "$t"/C.*
expect 0 cxr-train -q $S --epochs 3 --val "$va" --max-steps 5 --step-log "$t/C.steps" -o "$t/C" "$tr"
cp "$t/C.ckpt" "$t/C.ckpt5"
expect 0 cxr-train -q -j1 --val "$va" --max-steps 8 --step-log "$t/C.steps" --resume "$t/C.ckpt" -o "$t/C" "$tr"
mv "$t/C.ckpt5" "$t/C.ckpt"
expect 0 cxr-train -j1 --val "$va" --step-log "$t/C.steps" --resume "$t/C.ckpt" -o "$t/C" "$tr"
err_has "C.log: removed the lines written after the checkpoint"
epochs "$t/C.log" | cut -f 1-7 | cmp -s - "$t/A2.ep7" ||
	fail "a crash between an epoch's log line and its checkpoint: log epochs $(epochs "$t/C.log" | cut -f 1 | tr '\n' ' ')"
awk -F'\t' 'NR == 1 { bad = $0 != "step\tepoch\tloss\tlr" } NR > 1 && $1 != NR - 1 { bad = 1 }
	END { exit bad || NR != 25 }' "$t/C.steps" ||
	fail "a crash between a step's log line and its checkpoint: step log $(cut -f 1 "$t/C.steps" | tr '\n' ' ')"
same "$t/A" "$t/C" "a crash between an epoch's log line and its checkpoint, then --resume"
# resuming a finished run changes nothing
cp "$t/B" "$t/B.keep"
expect 0 cxr-train -q -j1 --val "$va" --resume "$t/B.ckpt" -o "$t/B" "$tr"
same "$t/B" "$t/B.keep" "resuming a finished run"
# a resumed run keeps its settings: --lr is refused with a warning, and
# --val must match the run's
expect 0 cxr-train -q -j1 --lr 0.5 --val "$va" --resume "$t/B.ckpt" -o "$t/B" "$tr"
err_has "--lr ignored"
expect 1 cxr-train -q -j1 --resume "$t/B.ckpt" -o "$t/B" "$tr"
err_has "--val"
expect 1 cxr-train -q -j1 --resume "$t/A.log" -o "$t/B" "$tr"

# ---- a fresh run into a name replaces the earlier run's whole set ----
# (it left an old F.best beside the new F, and emptied F.log at once); a
# refused run leaves it as it was
expect 0 cxr-train -q $S --epochs 1 --val "$va" -o "$t/F" "$tr"
cp "$t/F.log" "$t/F.log1"
expect 1 cxr-train -q $S --epochs 1 --val "$t/nonexistent.cxp" -o "$t/F" "$tr"
for f in F F.best F.ckpt; do [ -s "$t/$f" ] || fail "a refused run removed $f"; done
same "$t/F.log" "$t/F.log1" "a refused run changed the earlier run's log"
expect 0 cxr-train $S --epochs 1 --max-steps 3 -o "$t/F" "$tr"
err_has "removed the previous run's $t/F, $t/F.best, $t/F.ckpt, $t/F.log"
[ -e "$t/F.best" ] && fail "a fresh run left the earlier run's F.best beside its own F"
[ "$(grep -c '^# cxr-train' "$t/F.log")" -eq 1 ] || fail "F.log holds two runs"
expect 0 cxr-train -q $S --epochs 1 --max-steps 3 -o "$t/F" "$tr"
[ ! -s "$t/err" ] || fail "-q: a fresh run over an earlier one said: $(cat "$t/err")"

# ---- stale temporaries: what a kill -9 during an atomic write leaves
# (MODEL.XXXXXX, MODEL.ckpt.XXXXXX, MODEL.best.XXXXXX) is removed when a
# resume or a run starts; other names stay ----
rm -f "$t"/K "$t"/K.*
expect 0 cxr-train -q $S --epochs 2 --max-steps 3 -o "$t/K" "$tr"
for f in K.ckpt.Ab12Cd K.Zz9y8X K.best.q1W2e3 K.ckpt.keep K.backup7 K.log.Ab12Cd; do
	echo junk >"$t/$f"
done
expect 0 cxr-train -j1 --resume "$t/K.ckpt" -o "$t/K" "$tr"
for f in K.ckpt.Ab12Cd K.Zz9y8X K.best.q1W2e3; do
	[ -e "$t/$f" ] && fail "resume left the stale temporary $f"
done
for f in K.ckpt.keep K.backup7 K.log.Ab12Cd; do
	[ -e "$t/$f" ] || fail "resume removed $f, no temporary of K's"
done
err_has "K.ckpt.Ab12Cd"
echo junk >"$t/K.best.Ab12Cd"
expect 0 cxr-train -q $S --epochs 1 -o "$t/K" "$tr"
[ -e "$t/K.best.Ab12Cd" ] && fail "a fresh run left a stale temporary"

# ---- a real SIGINT mid-run and a SIGTERM after epoch 1; resume by the printed command ----
# interrupt SIGNAL PATTERN NAME — starts the 3-epoch run of A as NAME,
# sends SIGNAL once its log has a line matching PATTERN, waits.
# (A background job of a script starts with SIGINT ignored; env puts it
# back where it can, so the test holds whether or not cxr-train keeps an
# ignored signal ignored.)
dfl=
env --default-signal=INT true 2>/dev/null && dfl="env --default-signal=INT"
interrupt() {
	rm -f "$t/$3" "$t/$3".*
	$dfl cxr-train $S --epochs 3 --val "$va" -o "$t/$3" "$tr" 2>"$t/err" &
	pid=$!
	i=0
	while [ $i -lt 3000 ] && ! grep -q "$2" "$t/$3.log" 2>/dev/null; do
		sleep 0.01; i=$((i + 1))
	done
	kill -s "$1" $pid
	wait $pid
}
for case in "INT ^epoch C 130" "TERM ^1	 D 143"; do
	set -- $case
	interrupt "$1" "$2" "$3"
	rc=$?
	if [ $rc -eq 0 ]; then
		fail "the run of $3 ended before SIG$1 came (or ignored it)"
		continue
	fi
	[ $rc -eq "$4" ] || { fail "SIG$1: exit $rc, want $4"; sed 's/^/    /' "$t/err"; continue; }
	err_has "stopped by signal"
	[ -s "$t/$3.ckpt" ] || fail "SIG$1: no checkpoint"
	ls "$t" | grep -q "^$3\..*\.[A-Za-z0-9]\{6\}\$" && fail "SIG$1 left a temporary file"
	cmd=$(grep -A1 'Resume with:' "$t/err" | tail -n 1)
	case "$cmd" in *"--resume $t/$3.ckpt"*"--val $va"*) ;; *) fail "SIG$1: resume hint: $cmd" ;; esac
	eval "$cmd -q" || fail "SIG$1: the printed resume command failed: $cmd"
	same "$t/A" "$t/$3" "SIG$1 then --resume"
	same "$t/A.best" "$t/$3.best" "SIG$1 then --resume (best)"
done

# the printed command quotes for the shell the paths that need it (a
# space, a quote), and names --log and --step-log, which a resumed run
# takes from its command line
q="$t/sp ace's"
mkdir -p "$q"
cp "$va" "$q/v a.cxp"
$dfl cxr-train $S --epochs 3 --val "$q/v a.cxp" --log "$q/l og" --step-log "$q/s'l" \
	-o "$q/M'1" "$tr" 2>"$t/err" &
pid=$!
i=0
while [ $i -lt 3000 ] && ! grep -q '^epoch' "$q/l og" 2>/dev/null; do sleep 0.01; i=$((i + 1)); done
kill -s INT $pid
wait $pid
rc=$?
cmd=$(grep -A1 'Resume with:' "$t/err" | tail -n 1)
if [ $rc -ne 130 ]; then
	fail "SIGINT into quoted paths: exit $rc, want 130"
else
	sh -c "$cmd -q" || fail "the printed resume command failed: $cmd"
	same "$t/A" "$q/M'1" "SIGINT into paths with a space and a quote, then the printed --resume"
	[ "$(epochs "$q/l og" | wc -l)" -eq 3 ] || fail "the printed resume command lost --log: $cmd"
	[ "$(wc -l <"$q/s'l")" -eq 25 ] || fail "the printed resume command lost --step-log: $cmd"
fi

# ---- a signal while cxr-train opens its input (a FIFO with no writer)
# ends it by the signal, writing nothing (it was exit 1, "Interrupted
# system call"); should the signal come before the open, opening the
# FIFO here lets the open finish on an empty pack: the same answer ----
mkfifo "$t/fifo.cxp"
cxr-train $S --epochs 1 -o "$t/FF" "$t/fifo.cxp" 2>"$t/err" &
pid=$!
catches $pid 15
kill -s TERM $pid
sleep 0.2
exec 3<>"$t/fifo.cxp"
exec 3>&-
wait $pid
rc=$?
[ $rc -eq 143 ] || { fail "SIGTERM while opening the pack: exit $rc, want 143"; sed 's/^/    /' "$t/err"; }
err_has "stopped by signal 15 before training started; nothing was written"
[ -z "$(ls "$t" | grep '^FF')" ] || fail "SIGTERM before training left $(ls "$t" | grep '^FF')"

# ---- NaN: the loss blows up; exit 1, a clear message, the checkpoint kept ----
# AdamW at lr 10 and weight decay 3 multiplies every weight by -29 each
# step (Adam's own step is at most about lr): the first step is finite,
# and batch norm's scales (1 at the start) pass the largest float by step
# 28 at the latest, whatever the engine's rounding: within the first
# epoch of 30 batches of 2, so the checkpoint after step 1 is the last.
N="-j1 --width 0.0625 --batch 2 --schedule constant --lr 10 --weight-decay 3"
expect 0 cxr-train -q $N --max-steps 1 -o "$t/Z" "$tr"
cp "$t/Z.ckpt" "$t/Z.ckpt.good"
cp "$t/Z" "$t/Z.good"
expect 1 cxr-train -q -j1 --resume "$t/Z.ckpt" -o "$t/Z" "$tr"
err_has "is not finite"
err_has "Z.ckpt is left as it was"
same "$t/Z.ckpt" "$t/Z.ckpt.good" "a NaN changed the checkpoint"
same "$t/Z" "$t/Z.good" "a NaN changed the model"
# before any checkpoint: no model at all, and the message says so
expect 1 cxr-train -q $N -o "$t/Y" "$tr"
err_has "not finite"
err_has "no checkpoint was written yet"
[ -e "$t/Y" ] || [ -e "$t/Y.ckpt" ] && fail "a run that blew up at once left a model"
[ -e "$t/Y.log" ] && fail "a run that failed before its first checkpoint left its log"
ls "$t" | grep -q '^Y\..*\.[A-Za-z0-9]\{6\}$' && fail "a NaN left a temporary file"

# ---- without --val: the last epoch, threshold 0.5, no MODEL.best ----
expect 0 cxr-train -q $S --epochs 2 -o "$t/V" "$tr"
[ -e "$t/V.best" ] && fail "MODEL.best without --val"
epochs "$t/V.log" | awk -F'\t' '$4 != "nan" || $5 != "nan" || $6 != "nan" { exit 1 }' ||
	fail "validation columns without --val are not nan"
cxr-score -q -j1 -m "$t/V" "$va" | awk -F'\t' 'NR > 1 && $9 != 0.5 { exit 1 }' ||
	fail "threshold without --val is not 0.5"

# ---- defaults, printed at the start of the log ----
expect 0 cxr-train -q -j1 --width 0.0625 --max-steps 1 -o "$t/W" "$tr"
grep -q '^# epochs 10, batch 32, AdamW lr 0.001 (min 0), betas 0.9 0.999, eps 1e-08, weight decay 0.0001, schedule cosine, warmup 0, early stop 0, augment 0, init torch, seed 1, threads 1, precision [a-z0-9]*$' "$t/W.log" ||
	fail "defaults: $(grep '^# epochs' "$t/W.log")"
expect 0 cxr-train -q $S --epochs 1 --log "$t/other.log" -o "$t/L" "$tr"
[ -s "$t/other.log" ] && [ ! -e "$t/L.log" ] || fail "--log FILE"

# ---- early stopping: stops after N epochs without a better val AUC ----
# The stop rule is applied to the log's per-epoch val AUCs; that those are
# the real AUCs is checked here from outside for the best epoch (cxr-score
# of E.best on val, then cxr-roc), as for run A above.
expect 0 cxr-train -q $S --epochs 6 --early-stop 1 --val "$va" -o "$t/E" "$tr"
cxr-score -q -j1 -m "$t/E.best" "$va" | cxr-roc -q - >"$t/E.roc" || fail "cxr-score | cxr-roc of E.best"
ebest=$(epochs "$t/E.log" | sort -t "$(printf '\t')" -k5,5g | tail -n 1 | cut -f 5)
close "$ebest" "$(awk -F'\t' '$1 == "auc" { print $2 }' "$t/E.roc")" ||
	fail "early stop: the log's best val AUC $ebest is not E.best's AUC on val"
same "$t/E" "$t/E.best" "early stop: the model is not the best epoch's"
epochs "$t/E.log" | awk -F'\t' -v n=1 '
	{ if (NR == 1 || $5 > best) { best = $5; since = 0 } else since++
	  if (since >= n) { stop = NR; exit } }
	END { print stop ? stop : 6 }' >"$t/E.want"
[ "$(epochs "$t/E.log" | wc -l)" -eq "$(cat "$t/E.want")" ] ||
	fail "early stop: $(epochs "$t/E.log" | wc -l) epochs, want $(cat "$t/E.want")"
if [ "$(cat "$t/E.want")" -lt 6 ]; then
	grep -q '^# early stop' "$t/E.log" || fail "early stop not logged"
fi

# ---- plateau: lr x0.1 after an epoch without a better AUC (patience 0) ----
P="$S --epochs 4 --schedule plateau --patience 0 --val $va"
expect 0 cxr-train -q $P -o "$t/P" "$tr"
epochs "$t/P.log" | awk -F'\t' '
	{ d = $7 - lr; if (NR == 1) lr = 0.001
	  if ($7 - lr > 1e-12 || lr - $7 > 1e-12) { print "epoch " NR ": lr " $7 ", want " lr; bad = 1 }
	  if (NR == 1 || $5 > best * (1 + 1e-4)) best = $5; else lr *= 0.1 }
	END { exit bad }' || fail "plateau lr column"
rm -f "$t"/P2 "$t"/P2.*
expect 0 cxr-train -q $P --max-steps 12 -o "$t/P2" "$tr"
expect 0 cxr-train -q -j1 --val "$va" --resume "$t/P2.ckpt" -o "$t/P2" "$tr"
same "$t/P" "$t/P2" "plateau: --max-steps 12 then --resume"

# ---- augmentation: off by default, seeded, resumable ----
expect 0 cxr-train -q $S --epochs 2 --augment -o "$t/G" "$tr"
grep -q 'augment 1,' "$t/G.log" || fail "log does not say augment 1"
expect 0 cxr-train -q $S --epochs 2 --augment -o "$t/G2" "$tr"
same "$t/G" "$t/G2" "--augment twice"
expect 0 cxr-train -q $S --epochs 2 -o "$t/G0" "$tr"
cmp -s "$t/G" "$t/G0" && fail "--augment changed nothing"
rm -f "$t"/G3 "$t"/G3.*
expect 0 cxr-train -q $S --epochs 2 --augment --max-steps 3 -o "$t/G3" "$tr"
expect 0 cxr-train -q -j1 --resume "$t/G3.ckpt" -o "$t/G3" "$tr"
same "$t/G" "$t/G3" "--augment: --max-steps 3 then --resume"

# ---- the progress bar: on a terminal only ----
grep -q 'ETA' "$t/err" && fail "progress bar on a file"
if command -v script >/dev/null && script -qc true /dev/null >/dev/null 2>&1; then
	script -qc "cxr-train $S --epochs 1 -o $t/T $tr" /dev/null >"$t/tty" 2>&1 </dev/null
	grep -q 'ETA' "$t/tty" || fail "no progress bar on a terminal"
else
	skip "no working script(1) (Debian package bsdutils): progress bar not checked"
fi

# ---- refusals: exit 1, a message naming the file ----
expect 1 cxr-train -q $S -o "$t/R" "$t/nonexistent.cxp"
err_has "nonexistent.cxp"
expect 1 cxr-train -q $S -o "$t/R" "$d/train.cxs"
err_has "train.cxs"
head -c 3000 "$tr" >"$t/cut.cxp"
expect 1 cxr-train -q $S -o "$t/R" "$t/cut.cxp"
# validation images of another size
cxr-resize -q --size 24 --root "$d" -o "$d/val24.cxs" "$d/val.tsv" && cxr-pack -q -o "$t/val24.cxp" "$d/val24.cxs"
expect 1 cxr-train -q $S --val "$t/val24.cxp" -o "$t/R" "$tr"
err_has "24x24"
err_has "32x32"
# unknown labels: a bare list of PNGs has none
find "$d" -name '*.png' | sort | head -n 10 >"$t/list"
cxr-resize -q --size 32 -o "$t/nolabel.cxs" "$t/list" && cxr-pack -q -o "$t/nolabel.cxp" "$t/nolabel.cxs"
expect 1 cxr-train -q $S -o "$t/R" "$t/nolabel.cxp"
err_has "label unknown"
# a validation pack that shares images or patients with the training pack:
# the best epoch and the threshold would be picked on training data
expect 1 cxr-train -q $S --val "$tr" -o "$t/R" "$tr"
err_has "the validation pack $tr and the training pack $tr share 60 images and $(tail -n +2 "$d/train.tsv" | cut -f 4 | sort -u | wc -l | tr -d ' ') patients"
# ... one patient only: a validation image of a training patient's
awk -F'\t' -v OFS='\t' -v p="$(awk -F'\t' 'NR == 2 { print $4 }' "$d/train.tsv")" \
	'NR == 2 { $4 = p } { print }' "$d/val.tsv" >"$d/valp.tsv"
cxr-resize -q --size 32 --root "$d" -o "$d/valp.cxs" "$d/valp.tsv" && cxr-pack -q -o "$t/valp.cxp" "$d/valp.cxs"
expect 1 cxr-train -q $S --val "$t/valp.cxp" -o "$t/R" "$tr"
err_has "share 0 images and 1 patient:"
[ -e "$t/R" ] && fail "a refused run left a model"

finish
