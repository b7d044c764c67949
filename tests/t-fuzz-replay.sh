#!/bin/sh
# t-fuzz-replay — every committed fuzz input (tests/fuzz/corpus/NAME and
# tests/fuzz/regress/NAME) through its target once, gcc-built with a plain
# main() (tests/fuzz/replay.c), so no clang is needed; under
# make check SANITIZE=1 with ASan and UBSan. make check builds the
# programs (tests/bin/fuzz_NAME) before it runs the tests.
NAME=t-fuzz-replay; . ./lib.sh
top=${CXR_TOP:-$(cd .. && pwd)}
for src in "$top"/tests/fuzz/fuzz_*.c; do
	name=${src##*/fuzz_}; name=${name%.c}
	[ -x "$top/tests/bin/fuzz_$name" ] ||
		make -C "$top" --no-print-directory -s "tests/bin/fuzz_$name" >/dev/null ||
		{ fail "fuzz_$name: cannot build tests/bin/fuzz_$name"; continue; }
	if out=$(sh "$top/tests/fuzz/replay.sh" "$name" 2>&1); then
		ok "$out"
	else
		fail "$name:"; echo "$out" | sed 's/^/    /'
	fi
done
finish
