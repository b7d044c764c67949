#!/bin/sh
# report.sh — a short Markdown report of a finished run directory (the
# OUT of demo.mk or nih-binary.mk): the data and split, the training, the
# test-set ROC figures with their 95% intervals, the bias tables, the plots.
#
# usage: report.sh [-t TITLE] [-d DATA] [-T THRESHOLD] OUT > report.md
#
# -T names the threshold cxr-roc and cxr-bias were given, if any (else
# they used the model's).
#
# Reads OUT/split/{train,val,test}.tsv, OUT/model.cxm.log, OUT/roc.tsv and
# OUT/bias.tsv (columns found by name); writes stdout.
set -eu

title="cxr report"
data= thr=
usage() { echo "usage: report.sh [-t TITLE] [-d DATA] [-T THRESHOLD] OUT" >&2; exit 2; }
while getopts t:d:T: opt; do
	case $opt in
	t) title=$OPTARG ;;
	d) data=$OPTARG ;;
	T) thr=$OPTARG ;;
	*) usage ;;
	esac
done
shift $((OPTIND - 1))
[ $# -eq 1 ] || usage
out=$1
for f in roc.tsv bias.tsv; do
	[ -r "$out/$f" ] || { echo "report.sh: $out/$f: missing" >&2; exit 1; }
done

# Images, patients and abnormal share of a manifest.
set_line() {
	awk -F'\t' -v name="$1" '
	NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
	{ n++; p[$c["patient"]] = 1; if ($c["label"] == 1) ab++ }
	END {
		np = 0; for (k in p) np++
		printf "| %s | %d | %d | %d (%.1f%%) |\n", name, n, np, ab, n ? 100 * ab / n : 0
	}' "$2"
}

printf '# %s\n\n' "$title"
[ -n "$data" ] && printf 'Data: %s.\n\n' "$data"

if [ -r "$out/split/test.tsv" ]; then
	printf '## Split by patient\n\n'
	printf '| set | images | patients | abnormal |\n|---|---:|---:|---:|\n'
	for s in train val test; do
		set_line "$s" "$out/split/$s.tsv"
	done
	printf '\n'
fi

log=$out/model.cxm.log
if [ -r "$log" ]; then
	printf '## Training\n\n'
	# the log's comment lines describe the run; then one line per epoch
	sed -n 's/^# /    /p' "$log"
	awk -F'\t' '
	/^#/ { next }
	!h { for (i = 1; i <= NF; i++) c[$i] = i; h = 1; next }
	{
		n = $c["epoch"] + 0 # a resumed run repeats epochs in the log
		if ($c["val_auc"] != "-" && $c["val_auc"] + 0 > best) { best = $c["val_auc"]; be = $c["epoch"] }
		if ($c["elapsed"] + 0 < t) run += t # a resumed run counts from 0 again
		t = $c["elapsed"] + 0
	}
	END {
		printf "\n%d epoch%s in %.0f s", n, n == 1 ? "" : "s", run + t
		if (be) printf "; best validation AUC %.3f at epoch %d (the model kept)", best, be
		printf ".\n\n"
	}' "$log"
fi

printf '## Test set\n\n'
awk -F'\t' '
NR == 1 { next }
{ v[$1] = $2; lo[$1] = $3; hi[$1] = $4 }
function num(x) { return x == "-" ? "-" : sprintf("%.3f", x) }
function ci(m) { return lo[m] == "-" ? "" : sprintf("%s to %s", num(lo[m]), num(hi[m])) }
END {
	printf "%d images, %d abnormal.\n\n", v["n"], v["positives"]
	printf "| metric | value | 95%% CI |\n|---|---:|---|\n"
	printf "| AUC | %s | %s |\n", num(v["auc"]), ci("auc")
	printf "| threshold | %s | |\n", num(v["threshold"])
	split("error_rate sensitivity specificity ppv npv", m, " ")
	for (i = 1; i <= 5; i++)
		printf "| %s | %s | %s |\n", m[i], num(v[m[i]]), ci(m[i])
	printf "\n"
}' "$out/roc.tsv"
if [ -n "$thr" ]; then
	printf 'The threshold was given as %s.\n' "$thr"
else
	printf 'The threshold is the one the model carries, picked on the validation set.\n'
fi
printf 'AUC intervals are DeLong'"'"'s, those of rates Wilson'"'"'s.\n\n'

printf '## Bias\n\n'
awk -F'\t' '
NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
function num(x) { return x == "-" ? "-" : sprintf("%.3f", x) }
{
	if ($c["column"] != last) {
		printf "%s| %s | n | abnormal | AUC (95%% CI) | error | TPR | FPR | TPR gap | FPR gap |\n", \
			last == "" ? "" : "\n", $c["column"]
		printf "|---|---:|---:|---|---:|---:|---:|---:|---:|\n"
		last = $c["column"]
	}
	a = num($c["auc"])
	if ($c["ci_low"] != "-")
		a = a sprintf(" (%s to %s)", num($c["ci_low"]), num($c["ci_high"]))
	printf "| %s | %d | %d | %s | %s | %s | %s | %s | %s |\n", $c["group"], $c["n"], \
		$c["positives"], a, num($c["error_rate"]), num($c["tpr"]), num($c["fpr"]), \
		num($c["tpr_gap"]), num($c["fpr_gap"])
}
END { printf "\n" }' "$out/bias.tsv"
printf 'Gaps are the group'"'"'s rate minus the whole test set'"'"'s.\n\n'

printf '## Files\n\n'
for f in roc.svg bias.svg roc.tsv bias.tsv scores.tsv model.cxm model.cxm.log; do
	[ -e "$out/$f" ] && printf -- '- %s\n' "$out/$f"
done
exit 0
