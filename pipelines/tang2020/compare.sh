#!/bin/sh
# compare.sh — the Markdown table of pipelines/tang2020.mk: cxr's AUC on
# Tang et al.'s 1,344 test images against three reference standards
# (OUT/roc.tsv: NLP labels, OUT/roc-attending.tsv, OUT/roc-consensus.tsv,
# each cxr-roc's table), beside the paper's figure.
#
#	sh compare.sh [-s SIZE] [-w WIDTH] [-e EPOCHS] OUT > OUT/tang2020.md
#
# -s, -w, -e describe cxr's model in the text (the pipeline's parameters).
# A missing table or a missing metric in one is an error (exit 1).
set -eu
size=? width=? epochs=?
while getopts s:w:e: o; do
	case $o in
	s) size=$OPTARG ;;
	w) width=$OPTARG ;;
	e) epochs=$OPTARG ;;
	*) echo "usage: compare.sh [-s SIZE] [-w WIDTH] [-e EPOCHS] OUT" >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
[ $# = 1 ] || { echo "usage: compare.sh [-s SIZE] [-w WIDTH] [-e EPOCHS] OUT" >&2; exit 2; }
out=$1

# One row: the reference standard's name and its cxr-roc table.
row() {
	[ -r "$2" ] || { echo "compare.sh: $2: not found" >&2; exit 1; }
	awk -F'\t' -v name="$1" -v file="$2" '
	{ v[$1] = $2; lo[$1] = $3; hi[$1] = $4 }
	END {
		if (!("auc" in v) || !("n" in v) || !("positives" in v)) {
			print "compare.sh: " file ": no auc, n or positives row" > "/dev/stderr"
			exit 1
		}
		ci = lo["auc"] == "-" ? "no CI" : sprintf("%.4f\xe2\x80\x93%.4f", lo["auc"], hi["auc"])
		printf "| %s | %d | %d | %.4f (%s) | %.1f%% | %.1f%% |\n", name, v["n"],
			v["positives"], v["auc"], ci, 100 * v["sensitivity"], 100 * v["specificity"]
	}' "$2"
}

cat <<EOF
# cxr on Tang et al. 2020's split of NIH ChestX-ray14

Normal vs abnormal on the test images of Tang et al. (1,344 of them in
NIH's download), "Automated
abnormality classification of chest radiographs using deep convolutional
neural networks", npj Digital Medicine 3:70 (2020), scored once and
evaluated against three reference standards. AUC with DeLong's 95% CI;
sensitivity and specificity at the model's threshold (picked on the
validation set).

| reference standard | images | abnormal | AUC (95% CI) | sensitivity | specificity |
| --- | ---: | ---: | --- | ---: | ---: |
EOF
row "NLP labels (NIH's, mined from the reports)" "$out/roc.tsv"
row "attending radiologists' reports (test_attending_rad.txt)" "$out/roc-attending.tsv"
row "consensus of 3 radiologists (test_rad_consensus_voted3.txt)" "$out/roc-consensus.tsv"
cat <<EOF

The paper's abstract: AUC 0.9824 ± 0.0043 (accuracy 94.64%, sensitivity
96.50%, specificity 92.86%) for its best network, a DenseNet-121
pretrained on ImageNet and fine-tuned on the same 8,574 training images;
the paper's text says which reference standard that figure uses and what
its ± measures (it is not the 95% CI above).

cxr's model is another network trained another way:
a ResNet-50 trained from scratch, with no ImageNet pretraining
(width $width, $size px images, $epochs epoch(s)).
The paper itself reports that pretraining on natural images helps at
about 8,500 training images, so a gap to its figure is expected and
measures the recipe, not the labels.
EOF
