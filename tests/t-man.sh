#!/bin/sh
# t-man — every manual page is mandoc -Tlint clean, and every tool has one.
command -v mandoc >/dev/null || { echo "skip: mandoc not installed"; exit 0; }
top=${CXR_TOP:-..}
fail=0
for m in "$top"/man/*.[157]; do
	out=$(mandoc -Tlint -W warning "$m" 2>&1) || { echo "FAIL: $m"; echo "$out"; fail=1; }
done
for t in "$top"/tools/cxr-*.c; do
	n=$(basename "$t" .c)
	[ -f "$top/man/$n.1" ] || { echo "FAIL: no man/$n.1"; fail=1; }
done
for p in cxr-stream.5 cxr-model.5 cxr.7; do
	[ -f "$top/man/$p" ] || { echo "FAIL: no man/$p"; fail=1; }
done
exit $fail
