#!/bin/sh
# cxr-bias: per-group AUCs equal scikit-learn's and their DeLong intervals
# tests/delong_ref.py's; TPR, FPR and error rates equal a count done here
# with awk at the common threshold; gaps are group minus all; groups too
# small for an AUC print "-" with a note; errors and exit statuses.
set -u
D=$CXR_TOP/tests/data/scores
NAME=t-bias; . ./lib.sh
refv() { awk -F'\t' -v f="$2" -v k="$3" '$1 == f && $2 == k { print $3 }' "$1"; }
# field (by header name) of the row for column $2, group $3
cell() { awk -F'\t' -v c="$2" -v g="$3" -v f="$4" 'NR == 1 { for (i = 1; i <= NF; i++) h[$i] = i; next }
	$1 == c && $2 == g { print $(h[f]) }' "$1"; }

cxr-bias "$D/ties.tsv" > "$T/def" 2> "$T/err"
check $? "default run"
head -1 "$T/def" | grep -q "^column	group	n	positives	auc	ci_low	ci_high	error_rate	tpr	fpr	tpr_gap	fpr_gap	tpr_gap_low	tpr_gap_high	fpr_gap_low	fpr_gap_high	small	group_label$"
check $? "header line"
[ "$(cut -f1 "$T/def" | sort -u | tr '\n' ' ')" = "age all column sex " ]
check $? "default tables: --by sex --by age:10 (and the whole population)"
[ "$(awk -F'\t' '$1 == "age" { printf "%s ", $2 }' "$T/def")" = "0 10 20 30 40 50 60 70 80 90+ - " ]
check $? "age buckets 0..80, 90+, unknown last"
grep -q "skipped 14 rows whose label is '-'" "$T/err"
check $? "skipped rows counted on stderr"

# AUC per group = sklearn; DeLong interval = delong_ref.py.
cxr-bias -q --by sex --by age:10 --by view "$D/ties.tsv" > "$T/all"
bad=0
for key in $(awk -F'\t' '$1 == "ties" && $2 ~ /^auc\.(sex|age|view)\./ { print $2 }' "$D/sklearn.ref"); do
	col=${key#auc.} grp=${col#*.} col=${col%%.*}
	want=$(refv "$D/sklearn.ref" ties "$key") got=$(cell "$T/all" "$col" "$grp" auc)
	near "$got" "$want" || { echo "  $col $grp: auc $got, sklearn $want"; bad=1; }
done
check $bad "per-group AUC = sklearn roc_auc_score (sex, age:10, view)"
bad=0
for key in $(awk -F'\t' '$1 == "ties" && $2 ~ /^(sex|age)\..*\.ci_low$/ { print $2 }' "$D/delong.ref"); do
	cg=${key%.ci_low} col=${cg%%.*} grp=${cg#*.}
	for c in ci_low ci_high; do
		want=$(refv "$D/delong.ref" ties "$cg.$c") got=$(cell "$T/all" "$col" "$grp" $c)
		near "$got" "$want" 1e-12 || { echo "  $col $grp: $c $got, want $want"; bad=1; }
	done
done
check $bad "per-group DeLong interval = delong_ref.py"

# Rates at the common threshold, counted independently; gaps.
awk -F'\t' -v t=0.5 'NR > 1 && $3 != "-" {
		g = "sex\t" $6; p = $2 >= t
		n[g]++; pos[g] += $3; tp[g] += p && $3 == 1; fp[g] += p && $3 == 0; er[g] += p != $3
		g = "all\tall"; n[g]++; pos[g] += $3; tp[g] += p && $3 == 1; fp[g] += p && $3 == 0; er[g] += p != $3 }
	END { for (g in n) printf "%s\t%d\t%d\t%.12f\t%.12f\t%.12f\n", g, n[g], pos[g], er[g] / n[g],
		pos[g] ? tp[g] / pos[g] : -1, fp[g] / (n[g] - pos[g]) }' "$D/ties.tsv" | sort > "$T/count"
awk -F'\t' '$1 == "all" || $1 == "sex" { printf "%s\t%s\t%d\t%d\t%.12f\t%.12f\t%.12f\n", $1, $2, $3, $4,
	$8, $9 == "-" ? -1 : $9, $10 }' "$T/def" | sort > "$T/mine"
cmp -s "$T/count" "$T/mine"
check $? "n, positives, error rate, TPR, FPR at score >= 0.5 = an awk count"
awk -F'\t' 'NR == 2 { t = $9; f = $10 } NR > 2 && $9 != "-" {
	d = $11 - ($9 - t); e = $12 - ($10 - f); if (d * d > 1e-24 || e * e > 1e-24) bad = 1 }
	END { exit bad }' "$T/def"
check $? "gaps = group minus whole population"

# Gap intervals: Newcombe's hybrid score interval (1998, method 10) for the
# group against the rest, times the rest's share, computed here in awk
# from Wilson's intervals; the gap lies inside its interval.
awk -F'\t' -v t=0.5 'function wilson(k, n, w,   p, z, d, c, h) { z = 1.959963984540054; p = k / n
		d = 1 + z * z / n; c = (p + z * z / (2 * n)) / d
		h = z * sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
		w["lo"] = k == 0 ? 0 : c - h; w["hi"] = k == n ? 1 : c + h; if (w["lo"] < 0) w["lo"] = 0
		if (w["hi"] > 1) w["hi"] = 1 }
	function gap(k1, n1, kall, nall, out,   k2, n2, p1, p2, a, b) { k2 = kall - k1; n2 = nall - n1
		p1 = k1 / n1; p2 = k2 / n2; wilson(k1, n1, a); wilson(k2, n2, b)
		out["lo"] = (n2 / nall) * (p1 - p2 - sqrt((p1 - a["lo"]) ^ 2 + (b["hi"] - p2) ^ 2))
		out["hi"] = (n2 / nall) * (p1 - p2 + sqrt((a["hi"] - p1) ^ 2 + (p2 - b["lo"]) ^ 2)) }
	NR > 1 && $3 != "-" { g = $6; p = $2 >= t
		if ($3 == 1) { pos[g]++; tp[g] += p; P++; TP += p } else { neg[g]++; fp[g] += p; N++; FP += p } }
	END { for (g in pos) { gap(tp[g], pos[g], TP, P, a); gap(fp[g], neg[g], FP, N, b)
		printf "sex\t%s\t%.12f\t%.12f\t%.12f\t%.12f\n", g, a["lo"], a["hi"], b["lo"], b["hi"] } }' \
	"$D/ties.tsv" | sort > "$T/newcombe"
awk -F'\t' 'NR == 1 { for (i = 1; i <= NF; i++) h[$i] = i; next } $1 == "sex" {
	printf "sex\t%s\t%.12f\t%.12f\t%.12f\t%.12f\n", $2, $h["tpr_gap_low"], $h["tpr_gap_high"],
		$h["fpr_gap_low"], $h["fpr_gap_high"] }' "$T/def" | sort > "$T/mine"
cmp -s "$T/newcombe" "$T/mine"
check $? "gap intervals = Newcombe's (group vs rest, Wilson-based) times the rest's share"
awk -F'\t' 'NR == 1 { for (i = 1; i <= NF; i++) h[$i] = i; next } $1 != "all" && $h["tpr_gap"] != "-" {
	if (!($h["tpr_gap_low"] <= $h["tpr_gap"] && $h["tpr_gap"] <= $h["tpr_gap_high"])) bad = 1 }
	$1 != "all" && $h["fpr_gap"] != "-" {
	if (!($h["fpr_gap_low"] <= $h["fpr_gap"] && $h["fpr_gap"] <= $h["fpr_gap_high"])) bad = 1 }
	END { exit bad }' "$T/all"
check $? "every gap lies inside its interval"
awk -F'\t' 'NR == 1 { for (i = 1; i <= NF; i++) h[$i] = i; next }
	{ want = $3 < 30 || $4 < 5 || $3 - $4 < 5; if ($h["small"] != want) { print; bad = 1 } }
	END { exit bad }' "$T/all"
check $? "small = n < 30 or fewer than 5 positives or negatives"
[ "$(awk -F'\t' '$1 == "all" { print $13, $14, $15, $16 }' "$T/def")" = "0 0 0 0" ]
check $? "the whole population's gap intervals are 0"
[ "$(awk -F'\t' '$1 == "age" { printf "%s=%s ", $2, $18 }' "$T/def")" = \
  "0=0–9 10=10–19 20=20–29 30=30–39 40=40–49 50=50–59 60=60–69 70=70–79 80=80–89 90+=90+ -=unknown " ] &&
	[ "$(awk -F'\t' '$1 == "sex" { printf "%s=%s ", $2, $18 }' "$T/def")" = "F=F M=M -=unknown " ]
check $? "group_label: ages 0–9 ... 90+, unknown for -; the group keys stay"

# The common threshold: --threshold, and the scores' threshold column.
cxr-bias -q --by sex -t 0.7 "$D/ties.tsv" > "$T/t7"
awk -F'\t' 'BEGIN { OFS = "\t" } { print $0, NR == 1 ? "threshold" : 0.7 }' "$D/ties.tsv" |
	cxr-bias -q --by sex - | cmp -s - "$T/t7"
check $? "threshold column = --threshold 0.7 (stdin as -)"
cmp -s "$T/t7" "$(cxr-bias -q --by sex "$D/ties.tsv" > "$T/t5"; echo "$T/t5")"
[ $? = 1 ]
check $? "--threshold changes TPR and FPR"
cxr-bias -q --by sex -t youden "$D/ties.tsv" | awk -F'\t' '$1 == "all"' > "$T/y"
[ "$(cut -f9 "$T/y")" = "$(cxr-roc -q -t youden "$D/ties.tsv" | awk '$1 == "sensitivity" { print $2 }')" ]
check $? "--threshold youden: the same threshold as cxr-roc"

# --label: another reference standard.
cxr-bias -q --by sex --label rad "$D/ties.tsv" > "$T/rad"
near "$(cell "$T/rad" all all auc)" "$(refv "$D/sklearn.ref" ties auc.rad)"
check $? "--label rad"

# Too-small groups: "-" and a note, exit 0.
printf 'image\tscore\tlabel\tsite\na\t0.1\t0\tx\nb\t0.9\t1\tx\nc\t0.2\t0\ty\nd\t0.3\t0\ty\ne\t0.8\t1\tz\n' > "$T/small.tsv"
cxr-bias --by site "$T/small.tsv" > "$T/s" 2> "$T/err"
check $? "small groups: exit 0"
[ "$(cell "$T/s" site y auc)" = - ] && [ "$(cell "$T/s" site z auc)" = - ] &&
	[ "$(cell "$T/s" site y tpr)" = - ] && [ "$(cell "$T/s" site y fpr)" = 0 ]
check $? "no positives / no negatives: AUC and TPR are -"
grep -q "site y: 2 rows, all negative; no AUC" "$T/err" && grep -q "site z: 1 rows, all positive" "$T/err"
check $? "a note names each small group"
[ "$(cell "$T/s" site x auc)" = 1 ] && [ "$(cell "$T/s" site x ci_low)" = - ]
check $? "one of each class: AUC, but no DeLong interval"

# SVG: a forest plot, well formed, ages as ranges, small groups hollow
# with their n, the FPR gap panel too; a short title unless --title.
cxr-bias -q --svg "$T/b.svg" "$D/ties.tsv" > /dev/null && grep -q '<svg' "$T/b.svg" &&
	/usr/bin/python3 -c 'import sys, xml.etree.ElementTree as E; E.parse(sys.argv[1])' "$T/b.svg"
check $? "--svg writes a well-formed plot"
grep -q '>90+<' "$T/b.svg" && grep -q '>0–9<' "$T/b.svg" && grep -q '>10–19<' "$T/b.svg" &&
	! grep -q '>age 0<' "$T/b.svg"
check $? "--svg: age buckets read 0–9, 10–19, ..., 90+"
nsmall=$(awk -F'\t' 'NR > 1 && $1 != "all" && $17 == 1' "$T/def" | wc -l)
nhollow=$(grep -c 'fill="white" stroke="#888"' "$T/b.svg")
[ "$nsmall" -gt 0 ] && [ "$nhollow" -ge "$nsmall" ] && grep -q "Hollow grey: $nsmall small group" "$T/b.svg"
check $? "--svg: the $nsmall small groups are hollow, and the caption says so"
grep -q '>n 306, ' "$T/b.svg" && grep -q 'FPR gap' "$T/b.svg" && grep -q 'chance 0.5' "$T/b.svg"
check $? "--svg: n per group, an FPR gap panel, the chance line"
grep -q '<title>Performance by group: ties.tsv' "$T/b.svg" && ! grep -q "$D" "$T/b.svg"
check $? "--svg: the default title is the file's name, not its path"
cxr-bias -q --title 'Study <A> & B' --svg "$T/t.svg" "$D/ties.tsv" > /dev/null &&
	grep -q '<title>Study &lt;A&gt; &amp; B</title>' "$T/t.svg"
check $? "--title, escaped"

# Errors.
expect_msg 1 "ties.tsv: no 'site' column" "--by an absent column" -- cxr-bias --by site "$D/ties.tsv"
expect_msg 1 "ties.tsv: line 2: sex 'F' is not a number" "--by a text column with a width" -- cxr-bias --by sex:5 "$D/ties.tsv"
printf 'score\tlabel\tage\n0.1\t0\t40\n0.2\t1\told\n' > "$T/age.tsv"
expect_msg 1 "age.tsv: line 3: age 'old' is not a number" "a bad age" -- cxr-bias --by age:10 "$T/age.tsv"
printf 'score\tlabel\n0.1\t0\n' > "$T/one.tsv"
expect_msg 1 "one.tsv: all 1 labelled rows are negative" "one class only" -- cxr-bias --by label "$T/one.tsv"
expect_msg 1 "no 'gender' column in the header (it has: image, score, label, patient, age, sex, view, model, rad)" \
	"--by a missing column lists the columns there are" -- cxr-bias --by gender "$D/ties.tsv"
expect_msg 1 "no 'Label' column in the header (it has: image, score, label," \
	"--label a missing column lists them too" -- cxr-bias --label Label "$D/ties.tsv"
cxr-bias -q --by age:10 --by sex:10 "$D/ties.tsv" > "$T/partial" 2>/dev/null
[ $? -eq 1 ] && [ ! -s "$T/partial" ]
check $? "a bad --by fails before anything is written (no header, no rows)"
awk -F'\t' -v OFS='\t' 'NR > 1 { $6 = "-" } { print }' "$D/ties.tsv" > "$T/nosex.tsv"
cxr-bias --by sex "$T/nosex.tsv" > /dev/null 2> "$T/err"
[ $? -eq 0 ] && grep -q "nosex.tsv: --by sex: every row's sex is '-' (unknown); was the column missing or empty" "$T/err"
check $? "a sex column of '-' only is reported"
expect_msg 2 "--by" "--by with width 0" -- cxr-bias --by age:0 "$D/ties.tsv"
expect_msg 2 "names no column" "--by empty" -- cxr-bias --by :10 "$D/ties.tsv"
expect_msg 2 "one scores file" "two files" -- cxr-bias "$D/ties.tsv" "$D/ties.tsv"
cxr-bias --help > /dev/null && cxr-bias --version | grep -q '^cxr-bias '
check $? "--help and --version"

finish
