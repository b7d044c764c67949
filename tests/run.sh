#!/bin/sh
# Runs Check suites (arguments before --) and shell tests (after --),
# each to completion, and ends with one line:
#	check: N passed, N failed, N skipped
# A test that exits 77 was skipped, in whole or in part (its `skip:` lines
# say what did not run). Skipped is not passed: under CI (CI=true), where
# every dependency is installed, a skip means a missing install step and
# fails the run.
# A test that exits 78 could not run on this CPU (it needs an instruction
# set extension the machine lacks, such as AVX512_BF16, and says which on
# an `unsupported:` line): counted apart as unsupported, the one kind of
# test not run that does not fail CI, since no install step can add it.
# Each test gets an empty TMPDIR of its own and fails if it leaves
# anything there (KEEP=1, which keeps shell tests' scratch, excepted).
# T=pattern runs only the tests whose name contains pattern.
top=$(cd "$(dirname "$0")/.." && pwd)
PATH="$top/bin:$PATH"; export PATH
CXR_TOP=$top; export CXR_TOP
# the parent of each test's TMPDIR
scratch=$(mktemp -d "${TMPDIR:-/tmp}/cxr-check.XXXXXX") || exit 1
trap 'rm -rf "$scratch"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP
pass=0; fail=0; skip=0; unsup=0; failed=; skipped=; unsupported=
phase=check
for t in "$@"; do
	if [ "$t" = -- ]; then phase=shell; continue; fi
	case "$t" in *"${T:-}"*) ;; *) continue ;; esac
	name=$(basename "$t")
	log=$top/tests/bin/$name.log
	mkdir -p "$top/tests/bin"
	mkdir "$scratch/tmp"
	if [ $phase = check ]; then
		TMPDIR=$scratch/tmp CK_DEFAULT_TIMEOUT=${CK_DEFAULT_TIMEOUT:-120} "$t" >"$log" 2>&1
	else
		( cd "$top/tests" && TMPDIR=$scratch/tmp NAME=${name%.sh} sh "$top/$t" ) >"$log" 2>&1
	fi
	rc=$?
	left=$(cd "$scratch/tmp" && ls -A)
	if [ -n "$left" ] && [ -z "${KEEP:-}" ]; then
		printf 'left behind in TMPDIR: %s\n' $left >>"$log"
		rc=1
	fi
	rm -rf "$scratch/tmp"
	if [ $rc -eq 0 ]; then
		pass=$((pass+1)); printf 'PASS %s\n' "$name"
	elif [ $rc -eq 78 ]; then
		unsup=$((unsup+1)); unsupported="$unsupported $name"
		printf 'UNSUPPORTED %s\n' "$name"
		grep '^unsupported: ' "$log" | sed 's/^/    /'
	elif [ $rc -eq 77 ]; then
		skip=$((skip+1)); skipped="$skipped $name"
		printf 'SKIP %s\n' "$name"
		grep '^skip: ' "$log" | sed 's/^/    /'
	else
		fail=$((fail+1)); failed="$failed $name"
		printf 'FAIL %s (exit %d)\n' "$name" $rc
		sed 's/^/    /' "$log" | tail -40
	fi
done
[ -n "$failed" ] && printf 'failed:%s\n' "$failed"
if [ -n "$skipped" ]; then
	printf 'skipped:%s\n' "$skipped"
	[ "${CI:-}" = true ] && echo "check: a skip under CI means a missing install step (see .ci/deps.sh)"
fi
[ $unsup -eq 0 ] || printf 'unsupported on this CPU (%d):%s\n' $unsup "$unsupported"
printf 'check: %d passed, %d failed, %d skipped\n' $pass $fail $skip
[ $fail -eq 0 ] || exit 1
[ $skip -eq 0 ] || [ "${CI:-}" != true ] || exit 1
exit 0
