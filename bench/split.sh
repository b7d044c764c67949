#!/bin/sh
# bench/split.sh — cxr-split on NIH's full Data_Entry_2017_v2020.csv
# (112,120 rows; the copy in tests/data/nih), with the study's defaults,
# next to the least a Python script does for the same job: the csv module
# reading the file, grouping by patient, a seeded shuffle and the three
# sets written as TSV (patient-wise, no exact-count rule). Best of TRIALS
# (default 3) runs; prints seconds by the clock and CPU seconds (user +
# sys), which other load on a shared machine disturbs much less, and the
# peak resident memory. Run from anywhere after `make all`.
trials=${TRIALS:-3}
top=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d /tmp/cxr-bench-split.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
py=/usr/bin/python3

gzip -dc < "$top/tests/data/nih/Data_Entry_2017_v2020.csv.gz" > "$tmp/de.csv" || exit 1

cat > "$tmp/ref.py" <<'EOF'
import csv, random, sys
rows = list(csv.DictReader(open(sys.argv[1], newline="")))
by = {}
for r in rows:
    by.setdefault(r["Patient ID"], []).append(r)
pats = sorted(by)
random.Random(1).shuffle(pats)
want = {"test": 10000, "val": 5000, "train": 20000}
it = iter(pats)
for name, n in want.items():
    with open(sys.argv[2] + "/" + name + ".tsv", "w") as f:
        f.write("image\tlabel\tfindings\tpatient\tfollowup\tage\tsex\tview\n")
        while n > 0:
            for r in by[next(it)][:n]:
                f.write("\t".join([r["Image Index"], str(int(r["Finding Labels"] != "No Finding")),
                                   r["Finding Labels"], r["Patient ID"], r["Follow-up #"],
                                   r["Patient Age"], r["Patient Gender"], r["View Position"]]) + "\n")
                n -= 1
EOF

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

printf '%-34s %8s %8s %9s\n' "split of 112120 rows" "wall s" "cpu s" "rss KiB"
mkdir -p "$tmp/a" "$tmp/b"
run_best "$top/bin/cxr-split" -q -o "$tmp/a" "$tmp/de.csv"
printf '%-34s %8s %8s %9s\n' "cxr-split (defaults)" "$best_wall" "$best_cpu" "$rss"
if $py -c 'import csv' 2>/dev/null; then
	run_best $py "$tmp/ref.py" "$tmp/de.csv" "$tmp/b"
	printf '%-34s %8s %8s %9s\n' "python3 csv module, same job" "$best_wall" "$best_cpu" "$rss"
else
	echo "skip: python3 reference ($py missing)"
fi
