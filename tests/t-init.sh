#!/bin/sh
# t-init — cxr-train --init against man/cxr-train.1 and man/cxr-model.5:
# each scheme trains, and the model, its checkpoint and the log say which
# (train.init); no --init is torch, bit for bit; the schemes
# give other weights; a run stopped and resumed under a scheme ends with
# the bits of one never stopped and keeps its scheme (a new --init is
# ignored with a warning); cxr-score scores any of them; a bad name is a
# usage error (exit 2); a checkpoint with a bad train.init is refused, one
# without it (older than --init) resumes as torchvision.
# (The distributions themselves: tests/check_init.c.) Data: a tiny
# synthetic set at 32x32, width 1/16, batch 8, -j1.
# Run from tests/ with bin/ on PATH (tests/run.sh does both).

NAME=t-init; . ./lib.sh
need cxr-train cxr-synth cxr-split cxr-resize cxr-pack cxr-score
same() { cmp -s "$1" "$2" || fail "$3: $(basename "$1") and $(basename "$2") differ"; }
# meta MODEL KEY — a metadata value, as cxr-score --info prints it.
meta() { cxr-score --info -m "$1" | awk -F'\t' -v k="$2" '$1 == k { print $2 }'; }

d=$t/data
cxr-synth -q -o "$d" --images 120 --size 64 || { echo "FAIL: cxr-synth"; exit 1; }
cxr-split -q -o "$d" --train 40 --val 16 --test 16 "$d/Data_Entry_2017_v2020.csv" ||
	{ echo "FAIL: cxr-split"; exit 1; }
for s in train val test; do
	cxr-resize -q --size 32 --root "$d" -o "$d/$s.cxs" "$d/$s.tsv" ||
		{ echo "FAIL: cxr-resize $s"; exit 1; }
done
cxr-pack -q -o "$t/train.cxp" "$d/train.cxs" && cxr-pack -q -o "$t/val.cxp" "$d/val.cxs" ||
	{ echo "FAIL: cxr-pack"; exit 1; }
tr=$t/train.cxp va=$t/val.cxp
S="-q -j1 --width 0.0625 --batch 8 --val $va"

# ---- usage errors ----
expect 2 cxr-train $S --init kaiming -o "$t/u" "$tr"
err_has "--init: 'kaiming' is not torchvision, keras or torch"
expect 2 cxr-train $S --init -o "$t/u" "$tr"
[ -z "$(ls "$t" | grep '^u')" ] || fail "a usage error left files"

# ---- each scheme: trains, and says so in the model, checkpoint and log ----
for i in torchvision keras torch; do
	expect 0 cxr-train $S --epochs 2 --init $i -o "$t/$i" "$tr"
	[ "$(meta "$t/$i" train.init)" = $i ] || fail "$i: model's train.init is '$(meta "$t/$i" train.init)'"
	[ "$(meta "$t/$i.ckpt" train.init)" = $i ] || fail "$i: checkpoint's train.init"
	grep -q "^# epochs 2, .*, init $i, seed 1, " "$t/$i.log" || fail "$i: the log does not say init $i"
	expect 0 cxr-score -q -j1 -m "$t/$i" "$d/test.cxs"
	[ "$(tail -n +2 "$t/out" | wc -l)" -eq 16 ] || fail "$i: cxr-score did not score 16 images"
done
cmp -s "$t/torchvision" "$t/keras" && fail "keras and torchvision gave the same model"
cmp -s "$t/torchvision" "$t/torch" && fail "torch and torchvision gave the same model"
cmp -s "$t/keras" "$t/torch" && fail "keras and torch gave the same model"

# ---- no --init is the default, torch ----
expect 0 cxr-train $S --epochs 2 -o "$t/D" "$tr"
same "$t/D" "$t/torch" "no --init and --init torch"
[ "$(meta "$t/D" train.init)" = torch ] || fail "the default's train.init"

# ---- resume: stopped mid-epoch 2 (step 6 of 5 an epoch), resumed, same bits ----
for i in keras torch; do
	rm -f "$t/R" "$t"/R.*
	expect 0 cxr-train $S --epochs 2 --init $i --max-steps 6 -o "$t/R" "$tr"
	[ "$(meta "$t/R.ckpt" train.init)" = $i ] || fail "$i: the stopped run's checkpoint lacks train.init"
	expect 0 cxr-train -j1 --init torchvision --val "$va" --resume "$t/R.ckpt" -o "$t/R" "$tr"
	err_has "--init ignored"
	same "$t/R" "$t/$i" "$i: --max-steps 6 then --resume"
	same "$t/R.best" "$t/$i.best" "$i: --max-steps 6 then --resume (best)"
	[ "$(meta "$t/R" train.init)" = $i ] || fail "$i: the resumed run's model says '$(meta "$t/R" train.init)'"
done

# ---- a checkpoint naming no known scheme is refused, naming the key ----
# (rewritten by bench/cxm.py, the format's Python reader and writer)
rm -f "$t/R" "$t"/R.*
expect 0 cxr-train $S --epochs 2 --init torch --max-steps 6 -o "$t/R" "$tr"
if /usr/bin/python3 -c 'import numpy' 2>/dev/null && command -v zstd >/dev/null 2>&1; then
	/usr/bin/python3 - "${CXR_TOP:-..}/bench" "$t/R.ckpt" <<-'EOF' || fail "could not rewrite the checkpoint"
	import sys
	sys.path.insert(0, sys.argv[1])
	import cxm
	meta, tensors = cxm.load(sys.argv[2])
	meta["train.init"] = "xavier"
	cxm.save(sys.argv[2], meta, tensors)
	EOF
	expect 1 cxr-train -j1 --val "$va" --resume "$t/R.ckpt" -o "$t/R" "$tr"
	err_has "train.init = 'xavier' is not torchvision, keras or torch"
	# a checkpoint from before --init (no train.init) began as torchvision
	/usr/bin/python3 - "${CXR_TOP:-..}/bench" "$t/R.ckpt" <<-'EOF' || fail "could not rewrite the checkpoint"
	import sys
	sys.path.insert(0, sys.argv[1])
	import cxm
	meta, tensors = cxm.load(sys.argv[2])
	del meta["train.init"]
	cxm.save(sys.argv[2], meta, tensors)
	EOF
	expect 0 cxr-train -j1 --val "$va" --resume "$t/R.ckpt" -o "$t/R" "$tr"
	# the checkpoint the resumed run wrote (the model itself may be the
	# first run's, its best epoch by validation AUC)
	[ "$(meta "$t/R.ckpt" train.init)" = torchvision ] ||
		fail "a checkpoint without train.init: the resumed run's checkpoint says '$(meta "$t/R.ckpt" train.init)'"
else
	skip "/usr/bin/python3 with numpy, or zstd: a checkpoint's bad train.init not checked"
fi

finish
