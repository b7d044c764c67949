#!/bin/sh
# wino — Winograd F(4x4,3x3) 3x3 convolutions (lib/wino) next to channels-
# last im2col + OpenBLAS sgemm, on every stride-1 3x3 shape of ResNet-50 at
# 256x256 input (64x64x64, 32x32x128, 16x16x256, 8x8x512): forward, data
# gradient and weight gradient, ms and effective GFLOP/s (the direct
# convolution's flops over the time), and the weight transforms' cost per
# update. About 20 seconds.
#
#	sh bench/wino.sh       [BATCH=16] [THREADS=2] [REPS=3]
#
# Run it on an otherwise idle machine; on a busy one `-c -j 1` (CPU time,
# one thread) gives steadier ratios. OpenBLAS honours OPENBLAS_CORETYPE
# (the kernel set is printed); unset, the bench picks the AVX-512 kernels
# where the CPU has them, the strongest baseline.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
bench=$top/bench/bin/wino_bench
if [ ! -x "$bench" ]; then
	echo "wino.sh: $bench is missing; run 'make bench-bin'" >&2
	exit 1
fi
exec "$bench" -n "${BATCH:-16}" -j "${THREADS:-2}" -r "${REPS:-3}" "$@"
