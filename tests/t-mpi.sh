#!/bin/sh
# t-mpi — cxr-train data-parallel under mpirun (man/cxr-train.1, DATA
# PARALLELISM): -np N writes the model --accum N writes, every tensor byte
# for byte with the same threshold and validation figures (N = 2, 3, 4;
# several epochs, with validation); mpirun -np 1 and a plain run the same
# file; a batch that does not divide refused; SIGTERM to one rank
# mid-epoch, and to mpirun, stops every rank after the same step with
# rank 0's checkpoint, which resumes (under -np 2, and as one process) to
# the bits of an uninterrupted run; SIGKILL of a rank ends the job within
# seconds with a message, the last checkpoint intact. Data: t-train's
# tiny set (cxr-synth, 32x32), width 1/16, -j1, a few seconds a run.
# Run from tests/ with bin/ on PATH (tests/run.sh does both).

NAME=t-mpi; . ./lib.sh
need cxr-train cxr-synth cxr-split cxr-resize cxr-pack mpirun zstd
py=/usr/bin/python3
[ -x $py ] || { skip "no /usr/bin/python3 for tests/model_compare.py"; finish; }
cmpm="$py ${CXR_TOP:-..}/tests/model_compare.py"

# Open MPI refuses root without these; more ranks than cores need
# oversubscription; the single-copy (CMA) path needs ptrace rights a
# container may not give, and a 200 KB model does not need it.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1 OMPI_MCA_btl_vader_single_copy_mechanism=none
# mpirun bounded in time: a hang fails the test instead of CI. With
# --foreground, because timeout otherwise passes a signal on to its whole
# process group as well as to mpirun: mpirun, signalled twice, ends at
# once without waiting for the ranks (the SIGTERM-to-mpirun check below
# then failed one run in four, its ranks' messages lost).
MPI="timeout --foreground 300 mpirun"
# Under SANITIZE=1: Open MPI's leaks are suppressed by library
# (tests/lsan.supp), which needs whole stacks (the components it loads
# are closed before LeakSanitizer looks); steps are slower, so mpirun
# leaves longer between SIGTERM and SIGKILL.
kt=10
if [ -n "${CXR_SANITIZE:-}" ]; then
	ASAN_OPTIONS="${ASAN_OPTIONS:-}:fast_unwind_on_malloc=0"; export ASAN_OPTIONS
	kt=30
fi

# same_model A B WHAT — model_compare with bound 0: every tensor byte for
# byte, threshold and validation figures the same.
same_model() {
	if out=$($cmpm "$1" "$2" 2>&1); then ok "$3"; else fail "$3: $out"; fi
}
# figures LOG — a log's per-epoch lines without the rate and the time.
figures() { grep -v -e '^#' -e '^epoch' "$1" | cut -f1-7; }
# rank_pid N WORD — the pid of rank N of the cxr-train whose command line
# holds WORD (mpirun may run under timeout: not its child).
rank_pid() {
	for p in $(pgrep -x cxr-train); do
		{ tr '\0' ' ' </proc/$p/cmdline; } 2>/dev/null | grep -q -F -- "$2" &&
			{ tr '\0' '\n' </proc/$p/environ; } 2>/dev/null |
			grep -q "^OMPI_COMM_WORLD_RANK=$1\$" &&
			echo $p
	done
}
# wait_epoch LOG — until LOG has its first epoch line (120 s at most).
wait_epoch() {
	i=0
	while [ $i -lt 2400 ] && ! grep -q '^1	' "$1" 2>/dev/null; do sleep 0.05; i=$((i + 1)); done
}

d=$t/data
cxr-synth -q -o "$d" --images 120 --size 64 || { echo "FAIL: cxr-synth"; exit 1; }
cxr-split -q -o "$d" --train 60 --val 24 --test 20 "$d/Data_Entry_2017_v2020.csv" ||
	{ echo "FAIL: cxr-split"; exit 1; }
for s in train val; do
	cxr-resize -q --size 32 --root "$d" -o "$d/$s.cxs" "$d/$s.tsv" &&
		cxr-pack -q -o "$t/$s.cxp" "$d/$s.cxs" || { echo "FAIL: making $s.cxp"; exit 1; }
done
tr=$t/train.cxp va=$t/val.cxp
S="-q -j1 --width 0.0625 --val $va"

# ---- a batch that does not divide into ranks x accum: refused ----
expect 2 cxr-train $S --batch 9 --accum 2 -o "$t/u" "$tr"
err_has "does not divide"
$MPI -np 2 cxr-train $S --batch 9 -o "$t/u" "$tr" >/dev/null 2>"$t/err"
rc=$?
[ $rc -ne 0 ] && grep -q 'does not divide into 2 ranks' "$t/err" && ok "-np 2 --batch 9 refused" ||
	fail "-np 2 --batch 9: exit $rc, $(head -3 "$t/err")"
[ -z "$(ls "$t" | grep '^u')" ] || fail "a refused run left files: $(ls "$t" | grep '^u')"

# ---- one rank: mpirun -np 1 and a plain run write the same file ----
expect 0 cxr-train $S --batch 8 --epochs 2 -o "$t/P" "$tr"
$MPI -np 1 cxr-train $S --batch 8 --epochs 2 -o "$t/P1" "$tr"
check $? "mpirun -np 1 runs"
cmp -s "$t/P" "$t/P1" && ok "mpirun -np 1 writes a plain run's model" ||
	fail "mpirun -np 1 and a plain run differ"

# ---- -np N against --accum N: the same bits, with validation ----
for n in 2 3 4; do
	B="--batch 12 --epochs 3"
	expect 0 cxr-train $S $B --accum $n -o "$t/K$n" "$tr"
	$MPI -np $n cxr-train $S $B -o "$t/N$n" "$tr" 2>"$t/err"
	check $? "mpirun -np $n cxr-train"
	same_model "$t/N$n" "$t/K$n" "-np $n and --accum $n: the same model"
	same_model "$t/N$n.ckpt" "$t/K$n.ckpt" "-np $n and --accum $n: the same checkpoint (Adam's moments)"
	[ "$(figures "$t/N$n.log")" = "$(figures "$t/K$n.log")" ] &&
		ok "-np $n and --accum $n: the same validation figures each epoch" ||
		fail "-np $n and --accum $n: the logs' figures differ"
	grep -q "^# epoch 1: $n ranks, gradient allreduce .* ms a step" "$t/N$n.log" ||
		fail "-np $n: the log lacks the allreduce line"
done
# 8 ranks of one image: the epoch's last batch (4 of 60) leaves four ranks
# none, which add zeros and no batch statistics, as --accum 8 skips them
expect 0 cxr-train $S --batch 8 --epochs 1 --accum 8 -o "$t/E1" "$tr"
$MPI -np 8 cxr-train $S --batch 8 --epochs 1 -o "$t/E8" "$tr"
check $? "mpirun -np 8 cxr-train (some ranks with nothing to do)"
same_model "$t/E8" "$t/E1" "-np 8 and --accum 8 with empty parts: the same model"
# ranks and accumulation mixed: 2 x 2 parts of 3, other sums' order than
# --accum 4 (within rounding, which Adam turns into steps of lr): runs
$MPI -np 2 cxr-train $S --batch 12 --epochs 1 --accum 2 -o "$t/M" "$tr"
check $? "-np 2 --accum 2 runs"
# the parts differ from a whole batch's: --accum 2 is not a plain run
$cmpm "$t/K2" "$t/P" >/dev/null 2>&1 && fail "--accum 2 wrote a plain run's model"

# ---- SIGTERM to one rank mid-epoch, then resume ----
R="--batch 4 --epochs 4"
$MPI -np 2 cxr-train $S $R -o "$t/U" "$tr"
check $? "uninterrupted -np 2 run"
$MPI -np 2 cxr-train -j1 --width 0.0625 --val "$va" $R -o "$t/I" "$tr" 2>"$t/err" &
mp=$!
wait_epoch "$t/I.log"
r1=$(rank_pid 1 "$t/I ")
[ -n "$r1" ] && catches "$r1" 15 && kill -TERM "$r1"
wait $mp
rc=$?
[ $rc -ne 0 ] && ok "SIGTERM to rank 1: mpirun fails ($rc)" || fail "SIGTERM to rank 1: mpirun exit 0"
grep -q 'stopped by signal 15; checkpoint written' "$t/err" && ok "rank 0 says where it stopped" ||
	fail "no checkpoint message: $(grep cxr-train "$t/err" | head -3)"
[ "$(grep -c 'stopped by signal' "$t/err")" -eq 1 ] || fail "more than rank 0 spoke: $(cat "$t/err")"
[ -s "$t/I.ckpt" ] && [ ! -e "$t/I" ] || fail "after SIGTERM: no checkpoint, or a model"
grep -q 'mpirun -np 2 cxr-train -j 1 --resume' "$t/err" || fail "the resume command lacks mpirun -np 2"
# a copy under another name for the one-process resume below (with the
# best model so far, which the run's end takes as MODEL)
cp "$t/I.ckpt" "$t/I1.ckpt"
[ ! -e "$t/I.best" ] || cp "$t/I.best" "$t/I1.best"
$MPI -np 2 cxr-train -q -j 1 --resume "$t/I.ckpt" -o "$t/I" --val "$va" "$tr"
check $? "resumed under -np 2"
cmp -s "$t/I" "$t/U" && ok "SIGTERM + resume under -np 2: the uninterrupted run's model file" ||
	fail "SIGTERM + resume under -np 2: $($cmpm "$t/I" "$t/U")"
[ "$(figures "$t/I.log")" = "$(figures "$t/U.log")" ] || fail "the resumed log differs"
# the same checkpoint resumed by one process: --accum 2 by itself (the
# checkpoint's parts per batch), the same bits
expect 0 cxr-train -q -j 1 --resume "$t/I1.ckpt" -o "$t/I1" --val "$va" "$tr"
same_model "$t/I1" "$t/U" "a -np 2 checkpoint resumed by one process (accum 2): the same model"

# ---- SIGTERM to mpirun: forwarded after odls_base_sigkill_timeout,
# which leaves as long for the checkpoint ----
$MPI --mca odls_base_sigkill_timeout $kt -np 2 cxr-train -j1 --width 0.0625 --val "$va" \
	--batch 4 --epochs 400 -o "$t/J" "$tr" 2>"$t/err" &
mp=$!
wait_epoch "$t/J.log"
kill -TERM $mp
wait $mp
rc=$?
[ $rc -ne 0 ] && grep -q 'stopped by signal 15; checkpoint written' "$t/err" &&
	ok "SIGTERM to mpirun: checkpoint written ($rc)" ||
	fail "SIGTERM to mpirun: exit $rc, $(grep -v '^[0-9#e-]' "$t/err" | head -5)"
$MPI -np 2 cxr-train -q -j 1 --resume "$t/J.ckpt" --epochs 2 -o "$t/J" --val "$va" "$tr" 2>"$t/err"
check $? "the checkpoint mpirun's SIGTERM left resumes"

# ---- SIGKILL of one rank: the job ends within seconds, with a message;
# the last checkpoint is whole ----
$MPI -np 2 cxr-train -j1 --width 0.0625 --val "$va" $R -o "$t/L" "$tr" 2>"$t/err" &
mp=$!
wait_epoch "$t/L.log"
r1=$(rank_pid 1 "$t/L ")
t0=$(date +%s)
[ -n "$r1" ] && kill -KILL "$r1"
wait $mp
rc=$?
dt=$(($(date +%s) - t0))
[ $rc -ne 0 ] && [ $dt -le 15 ] && ok "SIGKILL of rank 1: the job failed in ${dt} s ($rc)" ||
	fail "SIGKILL of rank 1: exit $rc after $dt s"
grep -q -e 'ended before the run did' -e 'exited on signal 9' "$t/err" &&
	ok "SIGKILL of rank 1: a message" || fail "SIGKILL of rank 1: no message: $(cat "$t/err")"
$MPI -np 2 cxr-train -q -j 1 --resume "$t/L.ckpt" -o "$t/L" --val "$va" "$tr"
check $? "the checkpoint before the SIGKILL resumes"
cmp -s "$t/L" "$t/U" && ok "... to the uninterrupted run's model" ||
	fail "after SIGKILL and resume: $($cmpm "$t/L" "$t/U")"

finish
