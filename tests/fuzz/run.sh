#!/bin/sh
# run.sh BIN... — runs libFuzzer targets built by `make fuzz-bin` (the
# Makefile's `make fuzz` calls this), each FUZZ_SECONDS (default 60),
# FUZZ_JOBS of them at a time (default 1), with FUZZ_FLAGS (default the
# limits the project promises: 256 MB, 10 s an input).
#   working corpus   tests/fuzz/build/corpus/NAME (new inputs land here;
#                    seeded from tests/fuzz/corpus/NAME and regress/NAME)
#   findings         tests/fuzz/build/crashes/NAME/{crash,leak,timeout,oom}-*
#   log              tests/fuzz/build/log/NAME.log
# FUZZ_KEEP_GOING=1 runs in libFuzzer's fork mode and goes on after a
# finding, collecting every one. Exits 1 if any target found something.
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 1
secs=${FUZZ_SECONDS:-60}
jobs=${FUZZ_JOBS:-1}
flags=${FUZZ_FLAGS:--rss_limit_mb=256 -malloc_limit_mb=256 -timeout=10}
[ -n "${FUZZ_KEEP_GOING:-}" ] &&
	flags="$flags -fork=1 -ignore_crashes=1 -ignore_ooms=1 -ignore_timeouts=1"
b=tests/fuzz/build
status=$b/status.$$
rm -f "$status"

one() {
	bin=$1 name=${1##*/fuzz_}
	mkdir -p "$b/corpus/$name" "$b/crashes/$name" "$b/log"
	dict=
	[ -f "tests/fuzz/$name.dict" ] && dict=-dict=tests/fuzz/$name.dict
	seeds=
	for d in tests/fuzz/corpus/$name tests/fuzz/regress/$name; do
		[ -d "$d" ] && seeds="$seeds $d"
	done
	before=$(ls "$b/crashes/$name" | wc -l)
	# shellcheck disable=SC2086
	"$bin" $flags $dict -max_total_time="$secs" -print_final_stats=1 \
		-artifact_prefix="$b/crashes/$name/" "$b/corpus/$name" $seeds \
		>"$b/log/$name.log" 2>&1
	rc=$?
	after=$(ls "$b/crashes/$name" | wc -l)
	runs=$(grep -oE "^#[0-9]+" "$b/log/$name.log" | tail -1 | tr -d "#")
	if [ $rc -eq 0 ] && [ "$after" -eq "$before" ]; then
		echo "fuzz $name: ok, ${runs:-?} runs in ${secs}s"
	else
		echo "fuzz $name: FOUND $((after - before)) new input(s) in $b/crashes/$name (exit $rc); log $b/log/$name.log"
		grep -E '^==[0-9]+==ERROR|runtime error|^SUMMARY|^ +#[0-9] ' "$b/log/$name.log" | head -20 | sed 's/^/    /'
		echo "$name" >>"$status"
	fi
}

n=0
for bin in "$@"; do
	one "$bin" &
	n=$((n + 1))
	if [ $n -ge "$jobs" ]; then
		wait
		n=0
	fi
done
wait
if [ -s "$status" ]; then
	echo "fuzz: findings in:$(tr '\n' ' ' <"$status")"
	rm -f "$status"
	exit 1
fi
echo "fuzz: no findings"
