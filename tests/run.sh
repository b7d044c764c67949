#!/bin/sh
# Runs Check suites (arguments before --) and shell tests (after --),
# each to completion, and ends with one line: "check: N passed, N failed".
# T=pattern runs only the tests whose name contains pattern.
top=$(cd "$(dirname "$0")/.." && pwd)
PATH="$top/bin:$PATH"; export PATH
CXR_TOP=$top; export CXR_TOP
pass=0; fail=0; failed=
phase=check
for t in "$@"; do
	if [ "$t" = -- ]; then phase=shell; continue; fi
	case "$t" in *"${T:-}"*) ;; *) continue ;; esac
	name=$(basename "$t")
	log=$top/tests/bin/$name.log
	mkdir -p "$top/tests/bin"
	if [ $phase = check ]; then
		CK_DEFAULT_TIMEOUT=${CK_DEFAULT_TIMEOUT:-120} "$t" >"$log" 2>&1
	else
		( cd "$top/tests" && sh "$top/$t" ) >"$log" 2>&1
	fi
	rc=$?
	if [ $rc -eq 0 ]; then
		pass=$((pass+1)); printf 'PASS %s\n' "$name"
	else
		fail=$((fail+1)); failed="$failed $name"
		printf 'FAIL %s (exit %d)\n' "$name" $rc
		sed 's/^/    /' "$log" | tail -40
	fi
done
[ -n "$failed" ] && printf 'failed:%s\n' "$failed"
printf 'check: %d passed, %d failed\n' $pass $fail
[ $fail -eq 0 ]
