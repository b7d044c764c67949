#!/bin/sh
# cxr-roc: the ROC curve and AUC equal scikit-learn's on fixtures with
# ties (committed references, and rerun live when /usr/bin/python3 has
# sklearn), DeLong's interval and paired test equal tests/delong_ref.py,
# degenerate input gives clear errors and the right exit status, the
# bootstrap is seeded, the SVG is well formed, a million rows are fast.
set -u
D=$CXR_TOP/tests/data/scores
NAME=t-roc; . ./lib.sh

# Two TSV files equal field by field: as text, or as numbers within a
# relative 1e-9; prints the first difference.
same() {
	awk -F'\t' -v tol="${3:-1e-9}" '
	function num(s) { return s ~ /^[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?$/ }
	function abs(x) { return x < 0 ? -x : x }
	NR == FNR { a[FNR] = $0; n = FNR; next }
	{
		if (FNR > n) { print "extra line " FNR ": " $0; bad = 1; exit }
		k = split(a[FNR], x, "\t")
		if (k != NF) { print "line " FNR ": " NF " fields, want " k; bad = 1; exit }
		for (i = 1; i <= NF; i++) {
			if ($i == x[i]) continue
			if (num($i) && num(x[i]) && abs($i - x[i]) <= tol * (abs(x[i]) > 1 ? abs(x[i]) : 1)) continue
			print "line " FNR " field " i ": " $i ", want " x[i]; bad = 1; exit
		}
		m = FNR
	}
	END { if (!bad && m != n) { print "missing lines after " m; bad = 1 } exit bad }' "$2" "$1"
}

# value of `key` for `fixture` in a reference file "fixture key value"
refv() { awk -F'\t' -v f="$2" -v k="$3" '$1 == f && $2 == k { print $3 }' "$1"; }
# field `col` (2 value, 3 ci_low, 4 ci_high) of metric `m` in cxr-roc output
metric() { awk -F'\t' -v m="$2" -v c="${3:-2}" '$1 == m { print $c }' "$1"; }

# Compares cxr-roc with the reference files in directory $1.
compare_refs() {
	r=$1 tag=$2
	for f in ties ties_b hanley; do
		cxr-roc -q --points "$D/$f.tsv" > "$T/$f.points" || fail "$tag: $f --points ran"
		same "$T/$f.points" "$r/$f.roc.ref"
		check $? "$tag: $f ROC points = sklearn roc_curve(drop_intermediate=False)"
		cxr-roc -q "$D/$f.tsv" > "$T/$f.out"
		for m in auc n positives; do
			near "$(metric "$T/$f.out" $m)" "$(refv "$r/sklearn.ref" $f $m)"
			check $? "$tag: $f $m = sklearn"
		done
		for c in ci_low:3 ci_high:4; do
			near "$(metric "$T/$f.out" auc ${c#*:})" "$(refv "$r/delong.ref" $f all.${c%:*})" 1e-12
			check $? "$tag: $f DeLong ${c%:*} = delong_ref.py"
		done
	done
	cxr-roc -q --label rad "$D/ties.tsv" > "$T/rad.out"
	near "$(metric "$T/rad.out" auc)" "$(refv "$r/sklearn.ref" ties auc.rad)"
	check $? "$tag: --label rad = sklearn"
	cxr-roc -q "$D/ties.tsv" "$D/ties_b.tsv" > "$T/paired.out"
	near "$(metric "$T/paired.out" z)" "$(refv "$r/delong.ref" paired z)" 1e-9 &&
		near "$(metric "$T/paired.out" p_value)" "$(refv "$r/delong.ref" paired p)" 1e-12 &&
		near "$(metric "$T/paired.out" auc_b)" "$(refv "$r/delong.ref" paired auc_b)" 1e-12
	check $? "$tag: paired DeLong z, p = delong_ref.py"
}

compare_refs "$D" committed

near "$(metric "$T/hanley.out" auc)" 0.893 5e-4
check $? "Hanley & McNeil 1982: AUC 0.893 as published"

# Live: rerun the reference scripts when sklearn is there.
if /usr/bin/python3 -c 'import sklearn, numpy' 2>/dev/null; then
	mkdir "$T/live"
	cp "$D/ties.tsv" "$D/ties_b.tsv" "$D/hanley.tsv" "$T/live/"
	/usr/bin/python3 "$CXR_TOP/tests/sklearn_ref.py" refs "$T/live" &&
		/usr/bin/python3 "$CXR_TOP/tests/delong_ref.py" "$T/live" > "$T/live/delong.ref"
	check $? "live: reference scripts ran"
	compare_refs "$T/live" live
	same "$T/live/sklearn.ref" "$D/sklearn.ref" 1e-12
	check $? "live: committed sklearn.ref is current"
else
	skip "live sklearn comparison (/usr/bin/python3 has no sklearn)"
fi

# The table's rows at the threshold agree with the curve's point there.
cxr-roc -q --points "$D/ties.tsv" > "$T/pts"
for thr in 0.5 youden sens=0.9 0.655; do
	cxr-roc -q -t $thr "$D/ties.tsv" > "$T/o"
	thr_got=$(metric "$T/o" threshold) se=$(metric "$T/o" sensitivity) sp=$(metric "$T/o" specificity)
	awk -F'\t' -v t="$thr_got" -v se="$se" -v sp="$sp" '
		NR > 1 && $1 != "inf" && $1 + 0 >= t + 0 { tpr = $3; fpr = $2 }
		END { d = tpr - se; e = 1 - fpr - sp; exit !(d * d < 1e-24 && e * e < 1e-24) }' "$T/pts"
	check $? "--threshold $thr: sensitivity and specificity = the curve at score >= $thr_got"
done
# Youden: the threshold maximises tpr - fpr over the curve.
cxr-roc -q -t youden "$D/ties.tsv" > "$T/o"
awk -F'\t' -v t="$(metric "$T/o" threshold)" '
	NR > 2 { j = $3 - $2; if (j > best + 1e-12) { best = j; bt = $1 } }
	END { exit !(bt == t) }' "$T/pts"
check $? "--threshold youden = argmax J over the curve"
awk -F'\t' '$1 == "sensitivity" { exit !($2 >= 0.9) }' "$(cxr-roc -q -t sens=0.9 "$D/ties.tsv" > "$T/o"; echo "$T/o")"
check $? "--threshold sens=0.9 reaches sensitivity 0.9"

# Stored threshold column; stdin; -o.
awk -F'\t' 'BEGIN { OFS = "\t" } { print $0, NR == 1 ? "threshold" : 0.62 }' "$D/ties.tsv" > "$T/thr.tsv"
[ "$(cxr-roc -q < "$T/thr.tsv" | awk '$1 == "threshold" { print $2 }')" = 0.62 ]
check $? "the scores' threshold column is the default threshold (stdin)"
cxr-roc -q -o "$T/out.tsv" "$D/ties.tsv" && cmp -s "$T/out.tsv" "$T/ties.out"
check $? "-o FILE"

# Skipped rows are counted on stderr.
cxr-roc "$D/ties.tsv" 2> "$T/err" > /dev/null
grep -q "ties.tsv: skipped 14 rows whose label is '-'" "$T/err"
check $? "rows labelled - are skipped and counted"

# Bootstrap: seeded, the same for any -j, near DeLong's interval.
cxr-roc -q --ci bootstrap --reps 400 --seed 3 -j 1 "$D/ties.tsv" > "$T/b1"
cxr-roc -q --ci bootstrap --reps 400 --seed 3 -j 2 "$D/ties.tsv" > "$T/b2"
cmp -s "$T/b1" "$T/b2"
check $? "bootstrap: same seed, any -j, same bytes"
near "$(metric "$T/b1" auc 3)" "$(metric "$T/ties.out" auc 3)" 0.02 &&
	near "$(metric "$T/b1" auc 4)" "$(metric "$T/ties.out" auc 4)" 0.02
check $? "bootstrap interval within 0.02 of DeLong's"
cxr-roc -q --ci bootstrap --reps 400 --seed 4 "$D/ties.tsv" | cmp -s - "$T/b1"
[ $? = 1 ]
check $? "bootstrap: another seed, another interval"

# Calibration: ECE line, 10 bins that hold every row.
cxr-roc -q --calibration "$D/ties.tsv" > "$T/cal"
awk -F'\t' '$1 == "ece" { e = 1 } /^bin_low/ { t = 1; next } t && NF == 7 { b++; n += $3 }
	END { exit !(e && b == 10 && n == 306) }' "$T/cal"
check $? "--calibration: ece and a 10-bin reliability table"

# SVG: whole, well formed, no temporary file left.
cxr-roc -q --svg "$T/roc.svg" "$D/ties.tsv" > /dev/null &&
	grep -q '<svg' "$T/roc.svg" && grep -q 'AUC 0.764' "$T/roc.svg" &&
	{ ! command -v xmllint > /dev/null || xmllint --noout "$T/roc.svg"; }
check $? "--svg writes a well-formed plot"
[ "$(ls "$T" | grep -c 'roc.svg.')" = 0 ]
check $? "--svg leaves no temporary file"
cxr-roc -q --svg "$T/two.svg" "$D/ties.tsv" "$D/ties_b.tsv" > /dev/null && grep -q e5f6a7b8 "$T/two.svg"
check $? "--svg with two files plots both curves"
# What a reader needs: a short title (the file's name, not its path),
# legends naming file and model, n and positives, the operating point
# with its sensitivity and specificity; --title replaces the title.
grep -q '<title>ROC curve: ties.tsv</title>' "$T/roc.svg" && ! grep -q "$D" "$T/roc.svg"
check $? "--svg: the default title is the file's name"
grep -q '>ties.tsv (model a1b2c3d4)<' "$T/roc.svg" &&
	grep -q '>ties.tsv (model a1b2c3d4)<' "$T/two.svg" && grep -q '>ties_b.tsv (model e5f6a7b8)<' "$T/two.svg"
check $? "--svg: legends name the file and the model"
grep -q 'n = 306 images: 117 positive (abnormal), 189 negative (normal)' "$T/roc.svg"
check $? "--svg: n, positives and negatives in the caption"
se=$(metric "$T/ties.out" sensitivity) sp=$(metric "$T/ties.out" specificity)
grep -q ">sensitivity $(printf %.3f "$se")<" "$T/roc.svg" && grep -q ">specificity $(printf %.3f "$sp")<" "$T/roc.svg" &&
	grep -q '<circle[^>]*r="5.5"' "$T/roc.svg"
check $? "--svg: the operating point, with cxr-roc's sensitivity and specificity beside it"
[ "$(grep -c '<circle[^>]*r="5.5"' "$T/two.svg")" = 2 ] && grep -q 'DeLong.s paired test p = ' "$T/two.svg"
check $? "--svg with two files: both operating points, the paired test in the caption"
# The legend lies below the plot square, clear of every curve.
awk 'match($0, /<rect x="70" y="[0-9.]+" width="440" height="440"/) {
		split(substr($0, RSTART, RLENGTH), a, "\""); bottom = a[4] + 440 }
	/<line x1="24"/ { split($0, a, "\""); if (a[4] + 0 <= bottom) bad = 1; n++ }
	END { exit bad || !n }' "$T/two.svg"
check $? "--svg: the legend is below the plot, not over the curves"
cxr-roc -q --title 'Test set <PA> & AP' --svg "$T/t.svg" "$D/ties.tsv" > /dev/null &&
	grep -q '<title>Test set &lt;PA&gt; &amp; AP</title>' "$T/t.svg"
check $? "--title, escaped"
long=/very/long/path/to/a/study/run/with/many/levels/2026-11-29-resnet50-width1-pa-only-seed7
mkdir -p "$T$long" && cp "$D/ties.tsv" "$T$long/test.scores.tsv"
cxr-roc -q --svg "$T/long.svg" "$T$long/test.scores.tsv" > /dev/null &&
	grep -q '>ROC curve: test.scores.tsv<' "$T/long.svg"
check $? "--svg: a long path gives a short title"

# Degenerate input: exit 1 with a message naming file and line.
printf 'image\tscore\tlabel\na\t0.1\t0\nb\t0.2\t0\n' > "$T/neg.tsv"
expect_msg 1 "neg.tsv: all 2 labelled rows are negative" "one class only" -- cxr-roc "$T/neg.tsv"
printf 'image\tscore\tlabel\na\t0.1\t0\nb\tnan\t1\n' > "$T/nan.tsv"
expect_msg 1 "nan.tsv: line 3: score 'nan' is not a finite number" "NaN score" -- cxr-roc "$T/nan.tsv"
printf 'image\tscore\tlabel\na\t0.1\t0\nb\t0.3\tyes\n' > "$T/lab.tsv"
expect_msg 1 "lab.tsv: line 3: label 'yes' is not 0, 1 or -" "label not 0/1" -- cxr-roc "$T/lab.tsv"
printf 'image\tprob\tlabel\na\t0.1\t0\n' > "$T/col.tsv"
expect_msg 1 "col.tsv: no 'score' column" "missing score column" -- cxr-roc "$T/col.tsv"
expect_msg 1 "col.tsv: no 'truth' column" "missing --label column" -- cxr-roc --label truth "$T/col.tsv"
: > "$T/empty.tsv"
expect_msg 1 "empty.tsv: empty input" "empty input" -- cxr-roc "$T/empty.tsv"
printf 'image\tscore\tlabel\n' > "$T/head.tsv"
expect_msg 1 "head.tsv: no rows with a label" "header only" -- cxr-roc "$T/head.tsv"
printf 'image\tscore\tlabel\na\t0.1\t0\nb\t0.3\n' > "$T/short.tsv"
expect_msg 1 "short.tsv: line 3" "short row" -- cxr-roc "$T/short.tsv"
printf 'image\tscore\tlabel\tmodel\na\t0.1\t0\tm1\nb\t0.3\t1\tm2\n' > "$T/mix.tsv"
expect_msg 1 "mix.tsv: line 3: model 'm2' differs" "two models mixed" -- cxr-roc "$T/mix.tsv"
expect_msg 1 "nonexistent.tsv: No such file" "missing file" -- cxr-roc "$T/nonexistent.tsv"
head -100 "$D/ties.tsv" > "$T/part.tsv"
expect_msg 1 "is not in" "paired: image sets differ" -- cxr-roc "$T/part.tsv" "$D/ties_b.tsv"
# Usage errors: exit 2.
expect_msg 2 "ci" "--ci unknown" -- cxr-roc --ci wald "$D/ties.tsv"
expect_msg 2 "sensitivity" "--threshold sens=2" -- cxr-roc -t sens=2 "$D/ties.tsv"
expect_msg 2 "threshold" "--threshold words" -- cxr-roc -t high "$D/ties.tsv"
expect_msg 2 "one scores file, or two" "three files" -- cxr-roc "$D/ties.tsv" "$D/ties.tsv" "$D/ties.tsv"
expect_msg 2 "paired" "two files with --points" -- cxr-roc --points "$D/ties.tsv" "$D/ties_b.tsv"
expect_msg 2 "reps" "--reps 0" -- cxr-roc --ci bootstrap --reps 0 "$D/ties.tsv"
cxr-roc --help > /dev/null && cxr-roc --version | grep -q '^cxr-roc '
check $? "--help and --version"

# Speed: a million rows (awk-generated) under a generous bound of CPU
# time; the figure is printed (bench/roc.sh times it properly).
awk 'BEGIN { srand(7); print "image\tscore\tlabel\tpatient\tage\tsex\tview\tmodel"
	for (i = 0; i < 1000000; i++) { l = rand() < 0.4
		printf "%08d_000.png\t%.7f\t%d\t%d\t%d\t%s\tPA\tm\n", i, rand() * 0.7 + 0.3 * l, l, i,
			int(rand() * 95), rand() < 0.5 ? "M" : "F" } }' > "$T/big.tsv"
if command -v /usr/bin/time > /dev/null; then
	/usr/bin/time -f '%e %U %S' -o "$T/time" cxr-roc -q "$T/big.tsv" > "$T/big.out"
	read wall user sys < "$T/time"
	echo "1e6 rows: ${wall}s wall, ${user}s user, ${sys}s sys"
	awk -v u="$user" -v s="$sys" 'BEGIN { exit !(u + s < 3) }'
	check $? "a million rows in under 3 s of CPU"
else
	skip "no /usr/bin/time (Debian package time): CPU time of a million rows not measured"
	cxr-roc -q "$T/big.tsv" > "$T/big.out"
fi
near "$(metric "$T/big.out" auc)" 0.8367 3e-3
check $? "a million rows: AUC as expected"

finish
