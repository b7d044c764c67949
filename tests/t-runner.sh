#!/bin/sh
# t-runner — tests/run.sh itself: a test that exits 77 is counted as
# skipped (not passed) with its reasons shown, the last line is
# "check: N passed, N failed, N skipped", and under CI (CI=true) a skip
# fails the run while outside CI it does not; a test that exits 78
# (unsupported on this CPU) is counted apart and fails neither; a test that
# leaves a file in its TMPDIR fails.
NAME=t-runner; . ./lib.sh
run=$CXR_TOP/tests/run.sh
mkdir "$t/tests"
printf '#!/bin/sh\nexit 0\n' >"$t/tests/t-a.sh"
printf '#!/bin/sh\necho "skip: no frobnicator"\nexit 77\n' >"$t/tests/t-b.sh"
printf '#!/bin/sh\necho "FAIL: broken"\nexit 1\n' >"$t/tests/t-c.sh"
# run.sh runs shell tests as $top/NAME from $top/tests, so give it paths
# relative to a top of our own: copy the runner there.
cp "$run" "$t/tests/run.sh"
cd "$t" || exit 1

T= CI= sh tests/run.sh -- tests/t-a.sh tests/t-b.sh >"$t/o1" 2>&1
check $? "a skip outside CI: exit 0"
[ "$(tail -n 1 "$t/o1")" = "check: 1 passed, 0 failed, 1 skipped" ]
check $? "last line counts the skip: $(tail -n 1 "$t/o1")"
grep -q '^SKIP t-b.sh' "$t/o1" && grep -q 'skip: no frobnicator' "$t/o1"
check $? "the skipped test and its reason are shown"

T= CI=true sh tests/run.sh -- tests/t-a.sh tests/t-b.sh >"$t/o2" 2>&1
[ $? -ne 0 ]
check $? "a skip under CI=true fails the run"
grep -q 'missing install step' "$t/o2"
check $? "under CI the skip is explained"

T= CI= sh tests/run.sh -- tests/t-a.sh tests/t-c.sh >"$t/o3" 2>&1
[ $? -ne 0 ] && [ "$(tail -n 1 "$t/o3")" = "check: 1 passed, 1 failed, 0 skipped" ]
check $? "a failure fails the run and is counted"

# lib.sh's finish: 77 when a part was skipped, 1 when a check failed.
(NAME=x; . "$CXR_TOP/tests/lib.sh"; skip "part"; finish) >/dev/null
[ $? -eq 77 ]
check $? "lib.sh: skip then finish exits 77"
(NAME=x; . "$CXR_TOP/tests/lib.sh"; skip "part"; fail "bad"; finish) >/dev/null
[ $? -eq 1 ]
check $? "lib.sh: a failure outranks a skip"
(NAME=x; . "$CXR_TOP/tests/lib.sh"; need no-such-program-here; ok "not reached") >"$t/o4"
[ $? -eq 77 ] && ! grep -q 'not reached' "$t/o4"
check $? "lib.sh: need skips the whole test"
printf '#!/bin/sh\necho "unsupported: no AVX512_BF16"\nexit 78\n' >"$t/tests/t-d.sh"
T= CI=true sh tests/run.sh -- tests/t-a.sh tests/t-d.sh >"$t/o5" 2>&1
check $? "an unsupported test under CI=true does not fail the run"
[ "$(tail -n 1 "$t/o5")" = "check: 1 passed, 0 failed, 0 skipped" ] &&
	grep -q '^UNSUPPORTED t-d.sh' "$t/o5" && grep -q 'no AVX512_BF16' "$t/o5" &&
	grep -q '^unsupported on this CPU (1): t-d.sh' "$t/o5"
check $? "the unsupported test and its reason are shown, not counted as passed"
# A test that leaves a file in its TMPDIR fails, the file named; a test's
# TMPDIR is its own, empty at the start.
printf '#!/bin/sh\n[ -z "$(ls -A "$TMPDIR")" ] || exit 1\n: > "$TMPDIR/stray.tmp"\nexit 0\n' >"$t/tests/t-e.sh"
T= CI= sh tests/run.sh -- tests/t-a.sh tests/t-e.sh tests/t-e.sh >"$t/o6" 2>&1
[ $? -ne 0 ] && [ "$(tail -n 1 "$t/o6")" = "check: 1 passed, 2 failed, 0 skipped" ] &&
	grep -q 'left behind in TMPDIR: stray.tmp' "$t/o6"
check $? "a test that leaves a temporary file fails, the file named"
(NAME=x; . "$CXR_TOP/tests/lib.sh"; unsupported "part"; finish) >/dev/null
[ $? -eq 78 ]
check $? "lib.sh: unsupported then finish exits 78"
(NAME=x; . "$CXR_TOP/tests/lib.sh"; unsupported "part"; skip "other"; finish) >/dev/null
[ $? -eq 77 ]
check $? "lib.sh: a skip outranks unsupported"
cd "$CXR_TOP/tests" || exit 1
finish
