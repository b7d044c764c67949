#!/bin/sh
# t-bf16 — --precision as cxr-train and cxr-score users meet it: a CPU
# without AVX512_BF16 (or CXR_NO_BF16=1, which makes this one look so)
# refuses bf16 with a usage error that says why, never an illegal
# instruction; bf16 training is deterministic, records its precision in
# the model and the checkpoint, resumes bit for bit in that precision
# (whatever --precision the resume names) and differs from fp32 training
# (the bf16 products are really used); a bf16-trained model scores in
# either precision, to nearly the same scores and classes. Whether bf16
# learns as well as fp32 is bench/bf16_learn.sh's question (the demo's
# recipe, three seeds). Data as t-train: 120 synthetic images, 32x32,
# width 1/16, batch 8, one thread.
NAME=t-bf16; . ./lib.sh
need cxr-train cxr-synth cxr-split cxr-resize cxr-pack cxr-score

d=$t/data
cxr-synth -q -o "$d" --images 120 --size 64 || { echo "FAIL: cxr-synth"; exit 1; }
cxr-split -q -o "$d" --train 60 --val 24 --test 20 "$d/Data_Entry_2017_v2020.csv" ||
	{ echo "FAIL: cxr-split"; exit 1; }
for s in train val test; do
	cxr-resize -q --size 32 --root "$d" -o "$d/$s.cxs" "$d/$s.tsv" || { echo "FAIL: resize $s"; exit 1; }
done
for s in train val; do
	cxr-pack -q -o "$t/$s.cxp" "$d/$s.cxs" || { echo "FAIL: making $s.cxp"; exit 1; }
done
tr=$t/train.cxp
va=$t/val.cxp
S="-q -j1 --width 0.0625 --batch 8 --epochs 3 --val $va"
meta() { cxr-score --info -m "$1" | awk -F'\t' -v k="$2" '$1 == k { print $2 }'; }

# ---- refusals: an unknown precision, and bf16 where the CPU lacks it ----
expect_msg 2 "'fp16' is not fp32 or bf16" "cxr-train --precision fp16: usage error" -- \
	cxr-train $S --precision fp16 -o "$t/u" "$tr"
expect_msg 2 "'half' is not fp32 or bf16" "cxr-score --precision half: usage error" -- \
	cxr-score --precision half -m "$t/u" "$d/test.cxs"
expect_msg 2 "AVX512_BF16" "cxr-train --precision bf16 on a CPU without AVX512_BF16: exit 2" -- \
	env CXR_NO_BF16=1 cxr-train $S --precision bf16 -o "$t/u" "$tr"
expect_msg 2 "AVX512_BF16" "cxr-score --precision bf16 on a CPU without AVX512_BF16: exit 2" -- \
	env CXR_NO_BF16=1 cxr-score --precision bf16 -m "$t/u" "$d/test.cxs"
[ ! -e "$t/u" ] || fail "a refused run left $t/u"
# fp32 runs anywhere, and the default falls back to it
expect 0 env CXR_NO_BF16=1 cxr-train $S --epochs 1 -o "$t/F0" "$tr"
[ "$(meta "$t/F0" train.precision)" = fp32 ] || fail "default without AVX512_BF16: $(meta "$t/F0" train.precision), not fp32"

if ! cpu_has_bf16; then
	unsupported "this CPU lacks AVX512_BF16: bf16 training and scoring not run"
	finish
fi

# ---- bf16 training: deterministic, recorded, not fp32's ----
expect 0 cxr-train $S --precision bf16 -o "$t/A" "$tr"
expect 0 cxr-train $S --precision bf16 -o "$t/A2" "$tr"
cmp -s "$t/A" "$t/A2" || fail "bf16: the same run twice gives other bits"
[ "$(meta "$t/A" train.precision)" = bf16 ] || fail "model metadata train.precision: $(meta "$t/A" train.precision)"
grep -q 'precision bf16' "$t/A.log" || fail "the log does not say precision bf16"
expect 0 cxr-train $S --precision fp32 -o "$t/F" "$tr"
cmp -s "$t/A" "$t/F" && fail "bf16 and fp32 training give the same model: bf16 is not in use"
[ "$(meta "$t/F" train.precision)" = fp32 ] || fail "fp32 model says $(meta "$t/F" train.precision)"
expect 0 cxr-train $S -o "$t/D" "$tr"
[ "$(meta "$t/D" train.precision)" = bf16 ] || fail "the default on an AVX512_BF16 CPU is $(meta "$t/D" train.precision), not bf16"

# ---- resume: bit for bit within bf16, the checkpoint's precision kept ----
expect 0 cxr-train $S --precision bf16 --max-steps 11 -o "$t/B" "$tr"
[ "$(meta "$t/B.ckpt" train.precision)" = bf16 ] || fail "the checkpoint does not record bf16"
expect 0 cxr-train -q -j1 --val "$va" --precision fp32 --resume "$t/B.ckpt" -o "$t/B" "$tr"
err_has "--precision ignored"
cmp -s "$t/A" "$t/B" || fail "bf16 --max-steps 11 then --resume: not the uninterrupted model"
cmp -s "$t/A.best" "$t/B.best" || fail "bf16 resume: other best model"

# ---- scoring a bf16-trained model in either precision ----
expect 0 cxr-score -q -j1 --precision fp32 -m "$t/A" -o "$t/s32" "$d/test.cxs"
expect 0 cxr-score -q -j1 --precision bf16 -m "$t/A" -o "$t/s16" "$d/test.cxs"
# The class may differ only where the fp32 score lies within 0.01 of the
# threshold: a model this small and briefly trained can give every image
# nearly the same score (all within 3e-4 of its threshold in one run), so
# "the same class for all but one" would measure that, not bf16. The
# issue's class bar (99.5% of 800 images) is bench/bf16_learn.sh's.
paste "$t/s32" "$t/s16" | awk -F'\t' '
	NR == 1 { n = NF / 2; for (i = 1; i <= n; i++) col[$i] = i; next }
	{ s = $(col["score"]); d = s - $(n + col["score"]); if (d < 0) d = -d; if (d > m) m = d
	  g = s - $(col["threshold"]); if (g < 0) g = -g
	  if (g > 0.01) { far++; if ($(col["pred"]) != $(n + col["pred"])) flip++ }
	  if (($(col["pred"]) == 1) != (s >= $(col["threshold"]))) bad++
	  if (($(n + col["pred"]) == 1) != ($(n + col["score"]) >= $(n + col["threshold"]))) bad++
	  k++ }
	END { printf "%d images, max |score difference| %.4g, %d more than 0.01 from the threshold, %d of them in another class\n", k, m, far, flip
	      exit !(k == 20 && m < 0.05 && flip == 0 && bad == 0) }'
check $? "a bf16 model scored in fp32 and bf16: scores within 0.05, the same class away from the threshold"
cmp -s "$t/s32" "$t/s16" && fail "scores in fp32 and bf16 are identical: bf16 scoring is not in use"
finish
