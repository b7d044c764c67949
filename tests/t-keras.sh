#!/bin/sh
# t-keras — tools/keras2cxm.py: a Keras ResNet-50 saved as HDF5 becomes a
# cxr model that cxr-score scores with the probabilities Keras's network
# gives. TensorFlow is not installable, so the HDF5 files are written as
# Keras 2 lays them out (tests/make_keras_h5.py: attributes, layer_names,
# weight_names, model_config) from the weights of the keras-resnet50 golden
# (tests/data/keras_w16_64.cxm, width 1/16): one flat functional graph and
# a Sequential holding the ResNet as one nested layer, each with a
# 1-channel stem and with a 3-channel one (whose channels sum to the
# 1-channel kernel; one with Adam's optimizer_weights beside, which the
# converter must leave alone). Each is converted, scored on the six NIH
# sample images at 64x64 (tests/data/keras_input.cxs), and compared with
# tests/data/keras_probs.tsv, PyTorch's float64 twin of Keras's network
# (tests/golden/make_keras_golden.py --probs; bench/keras_twin.py) with
# the same weights: within 1e-4 (the engine holds eval logits to 3e-4
# relative, |logit| < 2 here, times the sigmoid's slope <= 1/4; measured
# 4e-6). Scored in fp32: this proves the conversion, and bf16 products
# (cxr-score's default where the CPU has them) move these probabilities by
# up to 0.03, as they do torchvision's golden network's. Then the input size (model_config's, or --size), and refusals:
# a missing layer, a misshapen kernel, a convolution without its bias, a
# file that is not HDF5 (exit 1, the file and layer named, no output
# written) and usage errors (exit 2). Needs /usr/bin/python3 with numpy
# and h5py (Debian python3-h5py), and zstd; no torch.

NAME=t-keras; . ./lib.sh
need cxr-score cxr-train cxr-synth cxr-split cxr-resize cxr-pack zstd
top=${CXR_TOP:-..}
py=/usr/bin/python3
k2c=$top/tools/keras2cxm.py
mk=$top/tests/make_keras_h5.py
golden=$top/tests/data/keras_w16_64.cxm
input=$top/tests/data/keras_input.cxs
ref=$top/tests/data/keras_probs.tsv
if ! $py -c 'import numpy, h5py' 2>/dev/null; then
	skip "/usr/bin/python3 with numpy and h5py (python3-h5py) missing"
	finish
fi

# compare SCORES COLUMN — every image of the reference scored, each score
# within 1e-4 of the reference's column (2: p1, 3: p3); prints the worst.
compare() {
	awk -F'\t' -v col="$2" '
		FNR == 1 { f++; next }
		f == 1 { want[$1] = $col; n++; next }
		($1 in want) { d = $2 - want[$1]; if (d < 0) d = -d; if (d > worst) worst = d
			seen++; if (!(d <= 1e-4)) bad++ }
		END { printf "worst %.2g over %d of %d images\n", worst, seen, n
			exit !(seen == n && n == 6 && !bad) }' "$ref" "$1"
}

for v in flat:1 flat:3 nested:1 nested:3; do
	layout=${v%:*} stem=${v#*:}
	opts="--stem $stem"
	[ "$layout" = nested ] && opts="$opts --nested"
	[ "$v" = nested:3 ] && opts="$opts --optimizer"
	h5=$t/$layout$stem.h5 m=$t/$layout$stem.cxm
	# shellcheck disable=SC2086
	$py "$mk" $opts "$golden" "$h5" || { fail "make_keras_h5.py $opts"; continue; }
	expect 0 $py "$k2c" "$h5" "$m"
	err_has "$layout$stem.cxm: 322 tensors, width 0.0625, $stem-channel stem"
	expect 0 cxr-score -q -j1 --precision fp32 -m "$m" "$input"
	cp "$t/out" "$t/$layout$stem.tsv"
	if w=$(compare "$t/$layout$stem.tsv" $((stem == 1 ? 2 : 3))); then
		ok "$layout, $stem-channel stem: cxr-score's probabilities are Keras's ($w)"
	else
		fail "$layout, $stem-channel stem: probabilities off the reference ($w)"
	fi
done
holds "the model says keras-resnet50, 1 channel, input 64x64 (model_config's)" \
	"zstd -dc '$t/flat3.cxm' | grep -a -q 'keras-resnet50' &&
	 cxr-score -q --precision fp32 -m '$t/flat3.cxm' '$input' >/dev/null"
# the layout changes no tensor: flat and nested give the same scores
a=$(cut -f2 "$t/flat1.tsv") b=$(cut -f2 "$t/nested1.tsv")
holds "flat and nested files score alike" '[ -n "$a" ] && [ "$a" = "$b" ]'

# a model built twice in one Keras session names its variables with a
# suffix (model_weights/conv1_conv/conv1_conv_1/kernel:0): the same model
cp "$t/flat1.h5" "$t/suffix.h5"
$py -c "import sys, h5py
f = h5py.File(sys.argv[1], 'r+')
f['model_weights/conv1_conv'].move('conv1_conv', 'conv1_conv_1')
f['model_weights/conv2_block1_2_bn'].move('conv2_block1_2_bn', 'conv2_block1_2_bn_3')
f.close()" "$t/suffix.h5"
expect 0 $py "$k2c" -q "$t/suffix.h5" "$t/suffix.cxm"
expect 0 cxr-score -q -j1 --precision fp32 -m "$t/suffix.cxm" "$input"
c=$(cut -f2 "$t/out")
holds "variable-scope suffixes (conv1_conv_1/kernel:0) read as the layer" '[ "$c" = "$a" ]'

# --size: the size the model is stored for; cxr-score then refuses others
expect 0 $py "$k2c" -q --size 32 "$t/flat1.h5" "$t/s32.cxm"
holds "-q: no summary" "[ ! -s '$t/err' ]"
expect 1 cxr-score -q --precision fp32 -m "$t/s32.cxm" "$input"
err_has "1x32x32"

# refusals name the file and the layer, exit 1 and write nothing
h5edit() { # FILE PYTHON — runs PYTHON with f, the file opened read-write
	$py -c "import sys, h5py, numpy as np
f = h5py.File(sys.argv[1], 'r+')
$2
f.close()" "$1"
}
cp "$t/flat1.h5" "$t/nolayer.h5"
h5edit "$t/nolayer.h5" "del f['model_weights/conv3_block2_2_bn']"
expect 1 $py "$k2c" "$t/nolayer.h5" "$t/bad.cxm"
err_has "nolayer.h5: no layer conv3_block2_2_bn"
cp "$t/nested1.h5" "$t/shape.h5"
h5edit "$t/shape.h5" "g = f['model_weights/resnet50/conv4_block1_1_conv']
del g['kernel:0']; g['kernel:0'] = np.zeros((3, 3, 32, 16), 'f4')"
expect 1 $py "$k2c" "$t/shape.h5" "$t/bad.cxm"
err_has "shape.h5: conv4_block1_1_conv/kernel:0 is 3x3x32x16, expected 1x1x32x16"
cp "$t/flat1.h5" "$t/nobias.h5"
h5edit "$t/nobias.h5" "del f['model_weights/conv2_block1_2_conv/conv2_block1_2_conv/bias:0']"
expect 1 $py "$k2c" "$t/nobias.h5" "$t/bad.cxm"
err_has "nobias.h5: layer conv2_block1_2_conv has no bias:0"
cp "$t/flat1.h5" "$t/stem2.h5"
h5edit "$t/stem2.h5" "g = f['model_weights/conv1_conv/conv1_conv']
del g['kernel:0']; g['kernel:0'] = np.zeros((7, 7, 2, 4), 'f4')"
expect 1 $py "$k2c" "$t/stem2.h5" "$t/bad.cxm"
err_has "stem2.h5: conv1_conv/kernel:0 is 7x7x2x4, expected 7x7x1xC or 7x7x3xC"
echo "not a model" >"$t/text.h5"
expect 1 $py "$k2c" "$t/text.h5" "$t/bad.cxm"
err_has "text.h5: not an HDF5 file"
expect 1 $py "$k2c" "$t/absent.h5" "$t/bad.cxm"
err_has "absent.h5"
holds "no output after a refusal" "[ ! -e '$t/bad.cxm' ]"

# cxr-train --arch keras-resnet50 trains Keras's network: the model and
# its log say so, a resumed run keeps it and ends with the bits of an
# uninterrupted one (the convolution biases and their Adam moments go
# through the checkpoint), and cxr-score scores with it
d=$t/data
if cxr-synth -q -o "$d" --images 120 --size 32 &&
	cxr-split -q -o "$d" --train 40 --val 10 --test 10 "$d/Data_Entry_2017_v2020.csv" &&
	cxr-resize -q --size 32 --root "$d" -o "$t/tr.cxs" "$d/train.tsv" &&
	cxr-pack -q -o "$t/tr.cxp" "$t/tr.cxs"; then
	tr="--arch keras-resnet50 --width 0.0625 --batch 8 --epochs 2 -j1 -q --precision fp32"
	# shellcheck disable=SC2086
	expect 0 cxr-train $tr -o "$t/A.cxm" "$t/tr.cxp"
	holds "the log names keras-resnet50" "grep -q '^# width 0.0625, .*keras-resnet50' '$t/A.cxm.log'"
	holds "the model says keras-resnet50" \
		"cxr-score --info -m '$t/A.cxm' | grep -q '^arch	keras-resnet50'"
	# shellcheck disable=SC2086
	expect 0 cxr-train $tr --max-steps 3 -o "$t/B.cxm" "$t/tr.cxp"
	expect 0 cxr-train -q -j1 --resume "$t/B.cxm.ckpt" -o "$t/B.cxm" "$t/tr.cxp"
	holds "a resumed keras-resnet50 run ends with an uninterrupted one's bits" \
		"[ \"\$(cxr-score --info -m '$t/A.cxm' | head -1)\" = \"\$(cxr-score --info -m '$t/B.cxm' | head -1)\" ]"
	expect 0 cxr-score -q --precision fp32 -m "$t/A.cxm" "$t/tr.cxs"
	holds "cxr-score scores 40 images with it" "[ \$(wc -l < '$t/out') -eq 41 ]"
else
	fail "could not make the training data (cxr-synth, cxr-split, cxr-resize, cxr-pack)"
fi
expect 2 cxr-train --arch resnet18 -o "$t/C.cxm" "$t/tr.cxp"
err_has "--arch: 'resnet18' is not torchvision-resnet50 or keras-resnet50"

# usage errors: exit 2 with a hint
expect 2 $py "$k2c"
err_has "Try 'keras2cxm.py --help'"
expect 2 $py "$k2c" --size big "$t/flat1.h5" "$t/u.cxm"
err_has "--size: 'big' is not N or HxW"
expect 2 $py "$k2c" --bogus "$t/flat1.h5" "$t/u.cxm"
err_has "unknown option '--bogus'"
expect 0 $py "$k2c" --help
holds "--help names --size" "grep -q -- '--size' '$t/out'"

finish
