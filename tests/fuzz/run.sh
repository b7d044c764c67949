#!/bin/sh
# run.sh BIN... — runs libFuzzer targets built by `make fuzz-bin` (the
# Makefile's `make fuzz` calls this), each FUZZ_SECONDS (default 60),
# FUZZ_JOBS of them at a time (default 1), with FUZZ_FLAGS (default the
# limits the project promises: 256 MB, 10 s an input).
#   working corpus   tests/fuzz/build/corpus/NAME (new inputs land here;
#                    seeded from tests/fuzz/corpus/NAME and regress/NAME)
#   findings         tests/fuzz/build/crashes/NAME/{crash,leak,timeout,oom}-*
#   log              tests/fuzz/build/log/NAME.PID.log (one per run, so that
#                    runs at the same time do not write over each other)
# FUZZ_KEEP_GOING=1 runs in libFuzzer's fork mode and goes on after a
# finding, collecting every one. Exits 1 if any target found something.
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 1
secs=${FUZZ_SECONDS:-60}
jobs=${FUZZ_JOBS:-1}
flags=${FUZZ_FLAGS:--rss_limit_mb=256 -malloc_limit_mb=256 -timeout=10}
[ -n "${FUZZ_KEEP_GOING:-}" ] &&
	flags="$flags -fork=1 -ignore_crashes=1 -ignore_ooms=1 -ignore_timeouts=1"
# ASan holds freed memory back (256 MB by default) to catch a use after
# free; in a long run that alone brings the RSS near -rss_limit_mb=256,
# and any input then "runs out of memory". 16 MB keeps the limit about
# the input (and runs several times faster).
ASAN_OPTIONS=${ASAN_OPTIONS-quarantine_size_mb=16}
export ASAN_OPTIONS
b=tests/fuzz/build
status=$b/status.$$
rm -f "$status"

one() {
	bin=$1 name=${1##*/fuzz_}
	mkdir -p "$b/corpus/$name" "$b/crashes/$name" "$b/log"
	log=$b/log/$name.$$.log
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
		>"$log" 2>&1
	rc=$?
	after=$(ls "$b/crashes/$name" | wc -l)
	runs=$(grep -aoE "^#[0-9]+" "$log" | tail -1 | tr -d "#")
	if [ $rc -eq 0 ] && [ "$after" -eq "$before" ]; then
		echo "fuzz $name: ok, ${runs:-?} runs in ${secs}s"
	else
		echo "fuzz $name: FOUND $((after - before)) new input(s) in $b/crashes/$name (exit $rc); log $log"
		grep -E '^==[0-9]+==ERROR|runtime error|^SUMMARY|^ +#[0-9] ' "$log" | head -20 | sed 's/^/    /'
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
