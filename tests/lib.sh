# lib.sh — what every shell test shares. Source it from tests/ after
# setting NAME:
#	NAME=t-pack; . ./lib.sh
# and end the test with `finish`. It gives:
#   $t (also $T, $tmp)      a fresh scratch directory, removed at exit
#                           unless KEEP is set
#   ok WHAT, fail WHAT      a result line; fail counts
#   check STATUS WHAT       ok when STATUS (usually $?) is 0, else fail
#   holds WHAT CONDITION    ok when the shell CONDITION (eval'd) is true
#   expect STATUS CMD...    runs CMD with stdout in $t/out and stderr in
#                           $t/err; fails unless it exits STATUS
#   err_has TEXT            the last expect's stderr contains TEXT
#   expect_msg STATUS PATTERN WHAT -- CMD...
#                           CMD exits STATUS and its stderr matches PATTERN
#   near A B [TOL]          |A - B| <= TOL (default 1e-9), as a status
#   skip WHY                part of the test could not run (a missing
#                           program or module): the test ends as skipped
#   need PROGRAM...         skip the whole test now unless each is on PATH
#   unsupported WHY         part of the test cannot run on this CPU (an
#                           instruction set it lacks): the test ends as
#                           unsupported (exit 78), which CI accepts
#   cpu_has_bf16            status: the CPU runs bf16 (AVX512_BF16)
#   catches PID SIG         wait until process PID handles signal SIG
#   finish                  exit 1 if a check failed, 77 (skipped) if a
#                           part was skipped, else 0
# tests/run.sh counts exit 77 as a skip, prints the reasons (the `skip:`
# lines), and fails the run on any skip under CI (CI=true), where every
# dependency is installed and a skip means a missing install step.

# A test that exits 78 could not run on this CPU; tests/run.sh counts it
# apart from skips (no install step can add an instruction set).

# The functions use their own name for it, so a test may reuse $t.
_scratch=$(mktemp -d "${TMPDIR:-/tmp}/${NAME:-cxr-test}.XXXXXX") || exit 1
t=$_scratch T=$_scratch tmp=$_scratch
trap '[ -n "${KEEP:-}" ] || rm -rf "$_scratch"' EXIT
trap 'exit 1' INT TERM
failed=0 skipped=0 unsupported=0

ok() { echo "ok - $*"; }
fail() { echo "FAIL: $*"; failed=$((failed + 1)); }
check() { if [ "$1" = 0 ]; then ok "$2"; else fail "$2"; fi; }
holds() { if eval "$2"; then ok "$1"; else fail "$1"; fi; }

expect() {
	want=$1; shift
	"$@" >"$_scratch/out" 2>"$_scratch/err"
	got=$?
	[ "$got" -eq "$want" ] || { fail "exit $got, want $want: $*"; sed 's/^/    /' "$_scratch/err"; }
}
err_has() {
	grep -F -q -- "$1" "$_scratch/err" || { fail "stderr lacks '$1':"; sed 's/^/    /' "$_scratch/err"; }
}
expect_msg() {
	st=$1 pat=$2 what=$3
	shift 4
	"$@" >/dev/null 2>"$_scratch/err"
	rc=$?
	if [ $rc = "$st" ] && grep -q -- "$pat" "$_scratch/err"; then ok "$what"; else
		fail "$what (exit $rc, stderr: $(cat "$_scratch/err"))"; fi
}

near() {
	awk -v a="$1" -v b="$2" -v t="${3:-1e-9}" 'BEGIN { d = a - b; exit !(d <= t && -d <= t) }'
}

# catches PID SIG — waits (up to 10 s) until process PID has a handler for
# signal number SIG (its SigCgt mask in /proc), i.e. it has started; a
# second without /proc.
catches() {
	[ -r /proc/$1/status ] || { sleep 1; return; }
	i=0
	while [ $i -lt 200 ]; do
		mask=$(awk '$1 == "SigCgt:" { print $2 }' /proc/$1/status 2>/dev/null)
		[ -n "$mask" ] && [ $(((0x$mask >> ($2 - 1)) & 1)) -eq 1 ] && return
		sleep 0.05; i=$((i + 1))
	done
}

skip() { echo "skip: $*"; skipped=$((skipped + 1)); }
unsupported() { echo "unsupported: $*"; unsupported=$((unsupported + 1)); }
cpu_has_bf16() {
	case "${CXR_NO_BF16:-0}" in 0 | '') ;; *) return 1 ;; esac
	grep -qw avx512_bf16 /proc/cpuinfo && grep -qw avx512bw /proc/cpuinfo
}
need() {
	for p in "$@"; do
		command -v "$p" >/dev/null 2>&1 || { skip "$p not found"; finish; }
	done
}
finish() {
	if [ $failed -gt 0 ]; then echo "$NAME: $failed check(s) failed"; exit 1; fi
	if [ $skipped -gt 0 ]; then echo "$NAME: $skipped part(s) skipped"; exit 77; fi
	if [ $unsupported -gt 0 ]; then echo "$NAME: $unsupported part(s) unsupported on this CPU"; exit 78; fi
	echo "$NAME: all checks passed"
	exit 0
}
