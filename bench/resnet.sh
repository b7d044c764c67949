#!/bin/sh
# resnet — the engine's speed (bench/bin/resnet_bench) next to PyTorch's
# (bench/torch_resnet_bench.py, channels_last, Adam) on the same work:
# ResNet-50 at width 1 on 1x256x256 images, 2 threads: training steps
# (forward, backward, Adam) and inference, images per second and peak RSS,
# then where the engine's time goes (per layer kind: ms, GFLOP/s, fraction
# of the sgemm ceiling measured in the same process).
#
#	sh bench/resnet.sh     [MODES=train:16,train:32,infer:1,infer:8,infer:32]
#	                       [THREADS=2] [REPS=2] [WIDTH=1] [SIZE=256]
#
# A training step at batch 32 takes several seconds on 2 cores: the whole
# run is a few minutes. Run it on an otherwise idle machine. OpenBLAS
# honours OPENBLAS_CORETYPE (the kernel set is printed).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
modes=${MODES:-train:16,train:32,infer:1,infer:8,infer:32}
threads=${THREADS:-2}
reps=${REPS:-2}
width=${WIDTH:-1}
size=${SIZE:-256}
bench=$top/bench/bin/resnet_bench
if [ ! -x "$bench" ]; then
	echo "resnet.sh: $bench is missing; run 'make bench-bin'" >&2
	exit 1
fi
list() { # list train|infer -> "16,32" or "-"
	l=$(printf '%s\n' "$modes" | tr ',' '\n' | sed -n "s/^$1://p" | paste -sd, -)
	printf '%s\n' "${l:--}"
}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/cxr-resnet.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

"$bench" -j "$threads" -W "$width" -s "$size" -r "$reps" -t "$(list train)" \
	-i "$(list infer)" > "$tmp/cxr.tsv"
if /usr/bin/python3 -c 'import torch' 2>/dev/null; then
	/usr/bin/python3 "$top/bench/torch_resnet_bench.py" --threads "$threads" \
		--width "$width" --size "$size" --iters "$reps" --modes "$modes" > "$tmp/torch.tsv"
else
	echo "skip: PyTorch reference (no torch in /usr/bin/python3)"
	printf 'mode\tbatch\timg_per_s\tpeak_rss_mb\n' > "$tmp/torch.tsv"
fi
grep '^# resnet_bench' "$tmp/cxr.tsv"
printf 'mode\tbatch\tcxr_img_s\ttorch_img_s\tratio\tcxr_rss_mb\ttorch_rss_mb\n'
awk -F'\t' 'NR == FNR { if (FNR > 1) { t[$1 FS $2] = $3; r[$1 FS $2] = $4 }; next }
	/^#/ || $1 == "mode" { next }
	{ k = $1 FS $2; tv = (k in t) ? t[k] : "-";
	  ratio = (tv != "-" && tv > 0) ? sprintf("%.2f", $3 / tv) : "-";
	  printf "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", $1, $2, $3, tv, ratio, $5, (k in r) ? r[k] : "-" }' \
	"$tmp/torch.tsv" "$tmp/cxr.tsv"
echo "# where the time goes (last step of each mode): mode batch kind phase ms GFLOP/s fraction"
grep '^#	' "$tmp/cxr.tsv" | sed 's/^#	//'
