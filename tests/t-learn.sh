#!/bin/sh
# t-learn — the proof that cxr learns: the demo's recipe (pipelines/demo.mk:
# 5500 synthetic NIH-format images, 64 px, ResNet-50 at width 1/8, 20
# epochs with light augmentation) must reach a validation AUC of at least
# 0.95, and cxr-roc's AUC on the held-out test set at least 0.9 (a
# looser bound: the test set is smaller and drawn from other patients).
# About 2.5 minutes on 2 cores; CXR_QUICK=1 skips it (a skip).
top=${CXR_TOP:-..}
NAME=t-learn; . ./lib.sh
[ -z "${CXR_QUICK:-}" ] || { skip "CXR_QUICK set"; finish; }
make -s -f "$top/pipelines/demo.mk" OUT="$t/demo" JOBS=2 >"$t/log" 2>&1 ||
	{ fail "the demo pipeline failed"; tail -20 "$t/log"; exit 1; }
best=$(awk -F'\t' '$1 ~ /^[0-9]+$/ && $5 > b { b = $5 } END { print b + 0 }' "$t/demo/model.cxm.log")
echo "best validation AUC $best"
awk -v b="$best" 'BEGIN { exit !(b >= 0.95) }' || fail "best validation AUC $best < 0.95"
auc=$(awk -F'\t' '$1 == "auc" { print $2 }' "$t/demo/roc.tsv")
echo "test AUC $auc"
awk -v a="$auc" 'BEGIN { exit !(a >= 0.9) }' || fail "test AUC $auc < 0.9"
finish
