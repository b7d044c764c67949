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
# OUT/bias.tsv (columns found by name), and OUT/model.cxm's metadata
# through cxr-score --info (the cxr-score of $CXR_BIN, else of ../bin
# beside this script, else of PATH); writes stdout. OUT/report.html,
# cxr-report's page of the same run, holds the plots and provenance.
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

# The model's metadata, key<TAB>value, when the model and cxr-score are there.
info=$(mktemp "${TMPDIR:-/tmp}/report.XXXXXX")
trap 'rm -f "$info"' EXIT
# a signal (a reader that stops early sends SIGPIPE) ends the script through
# exit, so that the EXIT trap above removes the file
trap 'exit 141' PIPE
trap 'exit 130' INT
trap 'exit 143' TERM HUP
score=${CXR_BIN:-$(cd "$(dirname "$0")/.." && pwd)/bin}/cxr-score
[ -x "$score" ] || score=$(command -v cxr-score || true)
if [ -r "$out/model.cxm" ] && [ -n "$score" ]; then
	"$score" --info -m "$out/model.cxm" > "$info" 2>/dev/null || : > "$info"
fi
meta() { awk -F'\t' -v k="$1" '$1 == k { print $2; exit }' "$info"; }

printf '## Test set\n\n'
awk -F'\t' '
NR == 1 { next }
{ v[$1] = $2; lo[$1] = $3; hi[$1] = $4 }
function num(x) { return x == "-" ? "-" : sprintf("%.3f", x) }
function ci(m) { return lo[m] == "-" ? "" : sprintf("%s to %s", num(lo[m]), num(hi[m])) }
END {
	prev = v["n"] ? v["positives"] / v["n"] : 0
	printf "%d images, %d abnormal (prevalence %.1f%%).\n\n", v["n"], v["positives"], 100 * prev
	printf "| metric | value | 95%% CI |\n|---|---:|---|\n"
	printf "| AUC | %s | %s |\n", num(v["auc"]), ci("auc")
	printf "| threshold | %s | |\n", num(v["threshold"])
	split("error_rate sensitivity specificity ppv npv", m, " ")
	for (i = 1; i <= 5; i++)
		printf "| %s | %s | %s |\n", m[i] (i > 3 ? sprintf(" (at %.1f%% abnormal)", 100 * prev) : ""),
			num(v[m[i]]), ci(m[i])
	printf "\n"
	if (lo["auc"] == "-")
		printf "- **The AUC has no confidence interval** (fewer than two images of a class): it cannot be told from chance.\n"
	else if (lo["auc"] <= 0.5 && hi["auc"] >= 0.5)
		printf "- **The AUC'"'"'s 95%% CI (%s) includes 0.5**: these images do not show that the model ranks abnormal above normal better than chance.\n", ci("auc")
	else
		printf "- The AUC'"'"'s 95%% CI (%s) excludes 0.5 (chance).\n", ci("auc")
	# PPV and NPV at other prevalences, same sensitivity and specificity
	se = v["sensitivity"]; sp = v["specificity"]
	if (se != "-" && sp != "-") {
		printf "- PPV and NPV hold at this test set'"'"'s prevalence, %.1f%% abnormal; at the same sensitivity and specificity, ", 100 * prev
		split("0.05 0.1 0.2 0.5", p, " ")
		for (i = 1; i <= 4; i++) {
			q = p[i]; ppv = se * q / (se * q + (1 - sp) * (1 - q)); npv = sp * (1 - q) / (sp * (1 - q) + (1 - se) * q)
			printf "%s%g%% abnormal gives PPV %.3f, NPV %.3f", i == 1 ? "" : i == 4 ? " and " : ", ", 100 * q, ppv, npv
		}
		printf ".\n"
	}
}' "$out/roc.tsv"
if [ -n "$thr" ]; then
	printf -- '- The threshold was given as %s.\n' "$thr"
else
	printf -- '- The threshold is the one the model carries, picked on the validation set'
	rule=$(meta threshold_rule)
	case $rule in
	youden) printf " by Youden's J" ;;
	?*) printf ' by %s' "$rule" ;;
	esac
	printf '.'
	vn=$(meta val_n) vp=$(meta val_positives)
	if [ -n "$vn" ] && [ -n "$vp" ]; then
		printf ' The model file records %s validation images: %s abnormal, %s normal.' "$vn" "$vp" $((vn - vp))
	elif [ -s "$info" ]; then
		printf ' The model file does not record how many validation images, normal and abnormal, picked it.'
	fi
	if [ -r "$out/split/val.tsv" ]; then
		awk -F'\t' '
		NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
		$c["label"] == 1 { ab++ } $c["label"] == 0 { no++ }
		END { printf " The split'"'"'s validation set has %d labelled images: %d abnormal, %d normal.", ab + no, ab, no }' \
			"$out/split/val.tsv"
	fi
	printf '\n'
fi
printf -- '- AUC intervals are DeLong'"'"'s, those of rates Wilson'"'"'s.\n\n'

printf '## Bias\n\n'
awk -F'\t' '
NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
function num(x) { return x == "-" ? "-" : sprintf("%.3f", x) }
function gap(x) { return x == "-" ? "-" : sprintf("%+.3f", x == 0 ? 0 : x) }
# a value with its interval, when the table has one
function with(x, lo, hi, f) {
	if (!(lo in c) || $c[lo] == "-") return f == "gap" ? gap(x) : num(x)
	return f == "gap" ? sprintf("%s (%s to %s)", gap(x), gap($c[lo]), gap($c[hi])) \
			  : sprintf("%s (%s to %s)", num(x), num($c[lo]), num($c[hi]))
}
{
	if ($c["column"] != last) {
		printf "%s| %s | n | abnormal | AUC (95%% CI) | error | TPR | FPR | TPR gap (95%% CI) | FPR gap (95%% CI) |\n", \
			last == "" ? "" : "\n", $c["column"] == "age" ? "age (years)" : $c["column"]
		printf "|---|---:|---:|---|---:|---:|---:|---|---|\n"
		last = $c["column"]
	}
	# the label a reader sees (0–9 for the age key 0), and small groups marked
	g = "group_label" in c ? $c["group_label"] : $c["group"]
	if ("small" in c && $c["small"] == 1 && $c["column"] != "all") { g = g " *(small)*"; small++ }
	all = $c["column"] == "all"
	printf "| %s | %d | %d | %s | %s | %s | %s | %s | %s |\n", g, $c["n"], $c["positives"], \
		with($c["auc"], "ci_low", "ci_high"), num($c["error_rate"]), num($c["tpr"]), num($c["fpr"]), \
		all ? "reference" : with($c["tpr_gap"], "tpr_gap_low", "tpr_gap_high", "gap"), \
		all ? "reference" : with($c["fpr_gap"], "fpr_gap_low", "fpr_gap_high", "gap")
}
END {
	printf "\n"
	if (small)
		printf "- *Small*: %d group%s with fewer than 30 images or fewer than 5 abnormal or normal; their figures swing by chance.\n", \
			small, small == 1 ? "" : "s"
}' "$out/bias.tsv"
printf -- '- Every group is called at the same threshold. A gap is the group'"'"'s rate minus the whole test set'"'"'s (a negative TPR gap: abnormal images missed more often; a positive FPR gap: normal images flagged more often); its 95%% CI is Newcombe'"'"'s for the group against the rest.\n\n'

printf '## Files\n\n'
for f in report.html roc.svg bias.svg roc.tsv bias.tsv scores.tsv model.cxm model.cxm.log; do
	[ -e "$out/$f" ] && printf -- '- %s\n' "$out/$f"
done
exit 0
