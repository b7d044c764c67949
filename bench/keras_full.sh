#!/bin/sh
# keras_full — the full-size keras-resnet50 (W=1, 256x256, batch 2)
# against PyTorch's twin (bench/keras_twin.py) in float64: writes the
# golden with tests/golden/make_keras_golden.py --full (not committed:
# about 200 MB), then runs bench/bin/keras_check on it, Winograd and
# im2col. ARCHITECTURE.md's full-size bounds: < 1e-5 for logits, loss,
# running statistics and eval logits, < 1e-3 per gradient.
#
#	sh bench/keras_full.sh [SEED [BIAS_STD]]     (default 3 0.2)
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
py=/usr/bin/python3
if ! $py -c 'import torch' 2>/dev/null; then
	echo "skip: keras_full needs $py with torch"
	exit 0
fi
check=$top/bench/bin/keras_check
if [ ! -x "$check" ]; then
	echo "keras_full: $check is missing; run 'make bench-bin'" >&2
	exit 1
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/cxr-kfull.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
t0=$(date +%s)
$py "$top/tests/golden/make_keras_golden.py" --full "$tmp/full.cxm" --seed "${1:-3}" \
	--bias-std "${2:-0.2}"
t1=$(date +%s)
printf 'golden: W=1 256x256 batch 2 seed %s, %s bytes, written by PyTorch in %ss\n' \
	"${1:-3}" "$(wc -c < "$tmp/full.cxm" | tr -d ' ')" $((t1 - t0))
rc=0
"$check" -q "$tmp/full.cxm" 2>/dev/null || rc=1
"$check" -q -I "$tmp/full.cxm" 2>/dev/null || rc=1
exit $rc
