#!/bin/sh
# replay.sh [-d DIR]... NAME... — replays the committed inputs of fuzz
# targets once through tests/bin/fuzz_NAME (gcc-built with tests/fuzz/
# replay.c; `make fuzz-replay-bin`, or make check, builds them): every file
# of tests/fuzz/corpus/NAME and tests/fuzz/regress/NAME, or of the
# directories tests/fuzz/DIR/NAME given with -d (e.g. -d findings to see
# whether the open findings are fixed). When a run fails, each file is run
# again alone to name the failing ones. Exits 1 if any failed.
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 1
kinds=
while [ "${1:-}" = -d ]; do
	kinds="$kinds $2"
	shift 2
done
[ -n "$kinds" ] || kinds="corpus regress"
bad=0
for name in "$@"; do
	bin=tests/bin/fuzz_$name
	if [ ! -x "$bin" ]; then
		echo "replay $name: $bin not built (make fuzz-replay-bin)"
		bad=1
		continue
	fi
	dirs=
	for k in $kinds; do
		[ -d "tests/fuzz/$k/$name" ] && dirs="$dirs tests/fuzz/$k/$name"
	done
	if [ -z "$dirs" ]; then
		echo "replay $name: no inputs"
		continue
	fi
	# shellcheck disable=SC2086
	if out=$("$bin" $dirs 2>&1); then
		echo "replay $name: ok, $(echo "$out" | sed -n 's/.*: \([0-9]*\) input(s).*/\1/p') inputs"
		continue
	fi
	bad=1
	echo "replay $name: FAILED"
	# shellcheck disable=SC2086
	for f in $(find $dirs -type f | sort); do
		if ! o=$("$bin" "$f" 2>&1); then
			echo "  $f:"
			echo "$o" | grep -v '^replay: .*input(s)' | head -30 | sed 's/^/    /'
		fi
	done
done
exit $bad
