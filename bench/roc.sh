#!/bin/sh
# bench/roc.sh [N] — cxr-roc and cxr-bias on N synthetic scores (default
# 1,000,000; awk-generated, float32-like scores with 7 decimals, 40%
# positives, ages and sexes), next to scikit-learn's roc_auc_score +
# roc_curve on the same arrays (compute only: the arrays are loaded first,
# by numpy, and that time is not counted). Best of TRIALS (default 3)
# runs; prints seconds by the clock and CPU seconds (user + sys), which
# other load on a shared machine disturbs much less.
# Run from anywhere after `make all`.
n=${1:-1000000}
trials=${TRIALS:-3}
top=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d /tmp/cxr-bench-roc.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

awk -v n="$n" 'BEGIN { srand(7); print "image\tscore\tlabel\tpatient\tage\tsex\tview\tmodel"
	for (i = 0; i < n; i++) { l = rand() < 0.4
		printf "%08d_000.png\t%.7f\t%d\t%d\t%d\t%s\tPA\tm\n", i, rand() * 0.7 + 0.3 * l, l, i,
			int(rand() * 95), rand() < 0.5 ? "M" : "F" } }' > "$tmp/s.tsv"

# best_wall, best_cpu: the least seconds of $trials runs of "$@"; rss KiB.
run_best() {
	best_wall=1e9 best_cpu=1e9 t=0
	while [ $t -lt "$trials" ]; do
		/usr/bin/time -o "$tmp/time" -f "%e %U %S %M" "$@" > /dev/null || exit 1
		read -r e u s rss < "$tmp/time"
		best_wall=$(echo "$best_wall $e" | awk '{print ($2 < $1 ? $2 : $1)}')
		best_cpu=$(echo "$best_cpu $u $s" | awk '{c = $2 + $3; print (c < $1 ? c : $1)}')
		t=$((t+1))
	done
}

echo "ROC evaluation of $n scores, best of $trials runs ($(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg))"
printf '%-44s %8s %8s %10s\n' "" "wall s" "CPU s" "peak KiB"
row() { printf '%-44s %8.3f %8.3f %10s\n' "$1" "$best_wall" "$best_cpu" "$rss"; }
run_best "$top/bin/cxr-roc" -q "$tmp/s.tsv"; row "cxr-roc (read, sort, AUC, DeLong, threshold)"
run_best "$top/bin/cxr-roc" -q --points "$tmp/s.tsv"; row "cxr-roc --points"
run_best "$top/bin/cxr-roc" -q --ci bootstrap --reps 200 "$tmp/s.tsv"; row "cxr-roc --ci bootstrap --reps 200"
run_best "$top/bin/cxr-bias" -q "$tmp/s.tsv"; row "cxr-bias (sex, age:10)"

if /usr/bin/python3 -c 'import sklearn' 2> /dev/null; then
	cut -f2,3 "$tmp/s.tsv" | tail -n +2 > "$tmp/sl.tsv"
	/usr/bin/python3 - "$tmp/sl.tsv" "$trials" <<'EOF'
import sys, time
import numpy as np
from sklearn.metrics import roc_auc_score, roc_curve
a = np.loadtxt(sys.argv[1], delimiter="\t")
s, y = a[:, 0], a[:, 1].astype(int)
best = 1e9
for _ in range(int(sys.argv[2])):
    t = time.process_time()
    auc = roc_auc_score(y, s)
    roc_curve(y, s, drop_intermediate=False)
    best = min(best, time.process_time() - t)
print("%-44s %8s %8.3f %10s   (AUC %.6f, compute only)" % (
    "sklearn roc_auc_score + roc_curve", "-", best, "-", auc))
EOF
else
	echo "skip: sklearn reference (/usr/bin/python3 has no sklearn)"
fi
