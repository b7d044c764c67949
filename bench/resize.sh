#!/bin/sh
# bench/resize.sh [DIR] — decode + resize to 256 on the same PNGs, three ways:
#   cxr-resize -j 2 (and -j 1), writing its stream to /dev/null;
#   Pillow, one process: Image.open(p).convert("L").resize((256,256), BOX);
#   bench/bin/decode_ceiling: a plain one-thread libpng decode loop, the
#   most a core can do here.
# DIR defaults to the 64 NIH images of /work/shared/data/nih-sample; each
# run goes over the list REPS times (default 3), best of TRIALS (default 3)
# runs. Besides images/s by the clock it prints images per CPU-second
# (user + sys), which other load on a shared machine disturbs much less.
# Run from anywhere after `make all bench-bin`.
dir=${1:-/work/shared/data/nih-sample}
reps=${REPS:-3}
trials=${TRIALS:-3}
top=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d /tmp/cxr-bench-resize.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

ls "$dir"/*.png > "$tmp/one.txt" || exit 1
nimg=$(wc -l < "$tmp/one.txt")
i=0
while [ $i -lt "$reps" ]; do cat "$tmp/one.txt"; i=$((i+1)); done > "$tmp/list.txt"
n=$(wc -l < "$tmp/list.txt")
cat $(cat "$tmp/one.txt") > /dev/null  # into the page cache

cat > "$tmp/pil.py" <<'EOF'
import sys
from PIL import Image
for p in open(sys.argv[1]).read().split():
    Image.open(p).convert("L").resize((256, 256), Image.BOX)
EOF

# Runs "$@" $trials times: best_wall, the best images/s; best_cpu, the
# best images per CPU-second; rss, peak memory in KiB.
run_best() {
	best_wall=0 best_cpu=0 t=0
	while [ $t -lt "$trials" ]; do
		/usr/bin/time -o "$tmp/time" -f "%e %U %S %M" "$@" > /dev/null || exit 1
		read -r e u s rss < "$tmp/time"
		best_wall=$(echo "$best_wall $n $e" | awk '{r = $2 / $3; print (r > $1 ? r : $1)}')
		best_cpu=$(echo "$best_cpu $n $u $s" | awk '{r = $2 / ($3 + $4); print (r > $1 ? r : $1)}')
		t=$((t+1))
	done
}

run_best "$top/bin/cxr-resize" -q -j 2 -o /dev/null "$tmp/list.txt"
j2=$best_wall j2cpu=$best_cpu mem=$rss
run_best "$top/bin/cxr-resize" -q -j 1 -o /dev/null "$tmp/list.txt"
j1=$best_wall j1cpu=$best_cpu
run_best "$top/bench/bin/decode_ceiling" -r "$reps" $(cat "$tmp/one.txt")
ceil=$best_wall ceilcpu=$best_cpu
run_best /usr/bin/python3 "$tmp/pil.py" "$tmp/list.txt"
pil=$best_wall pilcpu=$best_cpu

echo "decode + resize to 256: $nimg PNGs x $reps, best of $trials runs ($(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg))"
printf '%-32s %9s %10s\n' "" "images/s" "per CPU-s"
printf '%-32s %9.1f %10.1f\n' "libpng decode loop (1 thread)" "$ceil" "$ceilcpu"
printf '%-32s %9.1f %10.1f\n' "Pillow, one process" "$pil" "$pilcpu"
printf '%-32s %9.1f %10.1f\n' "cxr-resize -j 1" "$j1" "$j1cpu"
printf '%-32s %9.1f %10.1f   peak RSS %s KiB\n' "cxr-resize -j 2" "$j2" "$j2cpu" "$mem"
echo "$j2 $pil $ceil $j2cpu $ceilcpu" | awk '{
	printf "cxr-resize -j 2 / Pillow             %6.2fx  (goal >= 2)\n", $1 / $2
	printf "cxr-resize -j 2 per core / ceiling   %6.0f%%  (goal >= 80%%; images/s / 2)\n", 100 * $1 / 2 / $3
	printf "  per CPU-second / ceiling           %6.0f%%  (the same, load-independent)\n", 100 * $4 / $5 }'
