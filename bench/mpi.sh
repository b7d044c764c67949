#!/bin/sh
# bench/mpi.sh — data parallelism on one host: `mpirun -np 2 cxr-train -j 1`
# against `cxr-train -j 2` on the same pack, same work (width 1, 256x256,
# batch 16: ResNet-50 at the study's size), one after the other. Prints
# each run's training rate (images a second over the epoch, from MODEL.log),
# their ratio (the issue's bar: >= 0.9), the gradient allreduce's time a
# step and its share of the step (the MPI run's log), the gradient's size,
# and the machine's load (uptime) before and after, since other work on the
# 2 cores moves every figure.
#
# Settings, from the environment (defaults in brackets):
#   STEPS [6] steps of the one epoch timed (the first, which allocates the
#   activations, is in it for both), WIDTH [1], SIZE [256], BATCH [16],
#   RANKS [2], JOBS [2] (the single process's threads; each rank gets
#   JOBS / RANKS), ROUNDS [1] pairs of runs (alternating, so that load
#   drifting over time falls on both), KEEP=DIR keeps pack, models, logs,
#   MPIFLAGS [] more mpirun options: on a machine busy with other work,
#   "--mca mpi_yield_when_idle 1" stops a waiting rank spinning on a core
#   its peer (or the single process's threads) could use.
# About 4 minutes on 2 idle cores at the defaults (with the data).
# Run from anywhere after `make all`; needs mpirun (openmpi-bin).
steps=${STEPS:-6} width=${WIDTH:-1} size=${SIZE:-256} batch=${BATCH:-16}
ranks=${RANKS:-2} jobs=${JOBS:-2} rounds=${ROUNDS:-1}
top=$(cd "$(dirname "$0")/.." && pwd)
PATH=$top/bin:$PATH; export PATH
command -v mpirun >/dev/null || { echo "skip: no mpirun (apt-get install openmpi-bin)"; exit 0; }
if [ -n "${KEEP:-}" ]; then
	d=$KEEP; mkdir -p "$d"
else
	d=$(mktemp -d "${TMPDIR:-/tmp}/bench-mpi.XXXXXX") || exit 1
	trap 'rm -rf "$d"' EXIT
fi
trap 'exit 1' INT TERM
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
rj=$((jobs / ranks)); [ $rj -ge 1 ] || rj=1
n=$((steps * batch))

# the data: n synthetic images at SIZE, packed (no validation: the
# training rate alone)
if [ ! -s "$d/train.cxp" ]; then
	cxr-synth -q -o "$d/synth" --images $((n + n / 2)) --size "$size" &&
		cxr-split -q -o "$d/synth" --train $n --val $((n / 8)) --test 0 \
			"$d/synth/Data_Entry_2017_v2020.csv" 2>/dev/null ||
		cxr-split -q -o "$d/synth" --train $n --val 1 --test 0 \
			"$d/synth/Data_Entry_2017_v2020.csv" || exit 1
	cxr-resize -q --size "$size" --root "$d/synth" "$d/synth/train.tsv" |
		cxr-pack -q -o "$d/train.cxp" || exit 1
fi
count=$(cxr-pack -t "$d/train.cxp" | tail -n +2 | wc -l)

# rate LOG — the epoch's images a second; share LOG — the allreduce line
rate() { awk -F'\t' '$1 == "1" { print $8 }' "$1"; }
rm -f "$d/rounds"
T="-q --width $width --batch $batch --epochs 1 --schedule constant"
echo "load before: $(uptime | sed 's/.*load/load/')"
echo "mpirun -np $ranks --bind-to none ${MPIFLAGS:-}"
echo "data: $count images ${size}x${size}, width $width, batch $batch ($(( (count + batch - 1) / batch )) steps)"
r=1
while [ $r -le "$rounds" ]; do
	cxr-train $T -j "$jobs" -o "$d/one" "$d/train.cxp" || exit 1
	mpirun -np "$ranks" --bind-to none ${MPIFLAGS:-} cxr-train $T -j "$rj" -o "$d/mpi" "$d/train.cxp" || exit 1
	a=$(rate "$d/one.log") b=$(rate "$d/mpi.log")
	printf 'round %d: cxr-train -j %d: %s images/s; mpirun -np %d cxr-train -j %d: %s images/s; ratio %s\n' \
		"$r" "$jobs" "$a" "$ranks" "$rj" "$b" "$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.3f", b / a }')"
	grep '^# epoch 1:' "$d/mpi.log" | sed 's/^# epoch 1: /  allreduce: /'
	echo "$a $b $(grep '^# epoch 1:' "$d/mpi.log" | sed 's/.*allreduce \([0-9.]*\) ms.*/\1/')" >>"$d/rounds"
	r=$((r + 1))
done
# the rounds together: total images over total time on each side
set -- $(awk '{ ta += 1 / $1; tb += 1 / $2; ms += $3; n++ }
	END { printf "%.4f %.4f %.1f", n / ta, n / tb, ms / n }' "$d/rounds")
a=$1 b=$2 ms=$3
rm -f "$d/rounds"
[ "$rounds" -le 1 ] || printf 'all %d rounds: cxr-train -j %d: %s images/s; mpirun: %s images/s; ratio %s; allreduce %s ms a step\n' \
	"$rounds" "$jobs" "$a" "$b" "$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.3f", b / a }')" "$ms"
np=$(grep -o '[0-9]* parameters' "$d/one.log" | cut -d' ' -f1)
echo "gradient: $np floats, $(awk -v p="$np" 'BEGIN { printf "%.1f MB", 4 * p / 1e6 }') fp32"
# The scaling model (cxr-train(1), Scaling): N hosts like this one, the
# same global batch, each computing 1/N of the single process's step
# (C / N), then a ring's 2(N-1)/N x G bytes over a link of L bit/s, not
# overlapped: efficiency (C/N) / (C/N + 2(N-1)/N G / L).
awk -v rate="$a" -v b="$batch" -v p="$np" -v ms="$ms" -v ranks="$ranks" 'BEGIN {
	C = b / rate; G = 4 * p
	printf "measured: a step %.2f s on one process; the allreduce between %d local ranks %.1f ms, %.2f GB/s of ring traffic\n",
		C, ranks, ms, 2 * (ranks - 1) / ranks * G / (ms / 1e3) / 1e9
	printf "model, efficiency at N hosts (batch %d, step %.2f s / N):\n  link     ", b, C
	for (n = 2; n <= 32; n *= 2) printf "  N=%-4d", n
	printf "  largest N >= 90%%\n"
	split("1 10 25 100", L, " ")
	for (i = 1; i <= 4; i++) {
		bw = L[i] * 1e9 / 8; printf "  %3d Gb/s", L[i]
		for (n = 2; n <= 32; n *= 2) { c = C / n; t = 2 * (n - 1) / n * G / bw; printf "  %5.1f%%", 100 * c / (c + t) }
		best = 1; for (n = 2; n <= 1024; n++) { c = C / n; t = 2 * (n - 1) / n * G / bw; if (c / (c + t) >= 0.9) best = n }
		printf "  %d\n", best
	}
}'
echo "load after: $(uptime | sed 's/.*load/load/')"
