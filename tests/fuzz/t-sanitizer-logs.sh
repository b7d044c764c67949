#!/bin/sh
# The last test of `make check SANITIZE=1` (the Makefile appends it): fails
# if any program of the run left an ASan, UBSan or LSan report in
# tests/bin/sanitizer/ (ASAN_OPTIONS/UBSAN_OPTIONS log_path), which catches
# a report even where a test expected the program to fail or dropped its
# stderr. Prints each report's first lines; the whole ones stay there.
dir=${CXR_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/bin/sanitizer
n=0
for f in "$dir"/*; do
	[ -s "$f" ] && n=$((n + 1))
done
if [ $n -gt 0 ]; then
	echo "t-sanitizer-logs: $n sanitizer report(s) in $dir (a program that"
	echo "exits 86 left one); the first lines of each:"
	for f in "$dir"/*; do
		[ -s "$f" ] || continue
		echo "== $f"
		grep -E 'ERROR|runtime error|SUMMARY|^ *#[0-9] ' "$f" | head -8
	done
	exit 1
fi
echo "t-sanitizer-logs: no sanitizer reports"
