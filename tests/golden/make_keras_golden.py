#!/usr/bin/python3
"""Writes the golden files that prove lib/nn/resnet.c's keras-resnet50
against PyTorch (bench/keras_twin.py, Keras's ResNet-50 written from
keras/applications/resnet.py), and the reference probabilities of
tests/t-keras.sh.

    /usr/bin/python3 tests/golden/make_keras_golden.py            # the committed ones
    /usr/bin/python3 tests/golden/make_keras_golden.py --search N # rank seeds 1..N
    /usr/bin/python3 tests/golden/make_keras_golden.py --probs    # t-keras.sh's reference
    /usr/bin/python3 tests/golden/make_keras_golden.py --full F   # W=1, 256x256 (bench)

The committed seeds (67, 19) are the ones of 160 and 40 with the least
kink risk (golden_lib.kink_risk, 2e-3 at 1e-6) and float32 within 1e-4
(gradients) and 4e-5 (logits) of float64. The earlier ones (7, 10), the
best of 12 by float32 agreement alone, each had a ReLU input within a few
1e-6 of its edge: a change in the order batch norm's sums were added in
turned one or the other's gradients from 1e-4 to 2e-2 and 4e-2 off
PyTorch's, by the toss of the rounding, while the new ones agreed to
3e-4 or better with the sums added four different ways.

tests/data/keras_w16_64.cxm, keras_w16_72x56.cxm: what make_golden.py
writes for torchvision's network (see there: initial parameters, input,
target, dropout mask, logits, loss, grad/*, after_train/*, eval_logits,
adam/*, f64/*), for the Keras network with arch keras-resnet50.  The
convolution biases are random (N(0, 0.2)), not Keras's zeros, so that
their handling (forward, running means, folding) shows; BN parameters
and statistics are randomised as for torchvision's network (golden_lib.py,
which both generators share), with the BN momentum put back to Keras's
(PyTorch's 0.01) after calibration. --full writes float64 values and no
optimizer step.

A convolution's bias gradient is analytically 0 here (a training-mode
batch norm follows and subtracts the batch mean): PyTorch's float32 value
is rounding noise, and so is the engine's; tests/resnet_golden.h holds
their difference to the bound of the unit's BN bias gradient instead.
The float32-to-float64 figures in the metadata leave those tensors out.

tests/data/keras_probs.tsv: for tests/t-keras.sh, the eval-mode
probabilities of KerasResNet50 (float64) with the weights of the
committed HDF5 fixtures (tests/data/keras_*.h5, written by
tests/make_keras_h5.py from keras_w16_64.cxm) on the committed stream
tests/data/keras_input.cxs.
"""

import argparse
import os
import sys

import numpy as np
import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(TOP, "bench"))
sys.path.insert(0, HERE)

import cxm  # noqa: E402
import golden_lib  # noqa: E402
import keras_twin  # noqa: E402
import pack_reader  # noqa: E402

sys.path.insert(0, os.path.join(TOP, "tests"))

BIAS_STD = 0.2


def build(width, gen):
    """Keras's network with random convolution biases."""
    model = keras_twin.KerasResNet50(width)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.Conv2d):
                m.bias.normal_(0.0, BIAS_STD, generator=gen)
    return model


NET = golden_lib.Net("make_keras_golden.py", keras_twin, build, keras_twin.BN_MOMENTUM,
                     noise=lambda key: key.endswith("_conv.bias"), exact_step=False)

CONFIGS = {
    "keras_w16_64.cxm": (1 / 16, 64, 64, 4, 67),
    "keras_w16_72x56.cxm": (1 / 16, 72, 56, 3, 19),
}


def probs(out):
    """tests/data/keras_input.cxs (the six NIH sample images at 64x64, by
    bin/cxr-resize) and tests/data/keras_probs.tsv: each image's
    eval-mode probability in float64 PyTorch with keras_w16_64.cxm's
    initial weights and BN statistics, with a 1-channel stem (p1) and with
    make_keras_h5.py's 3-channel stem on the picture in three channels
    (p3)."""
    import subprocess
    import make_keras_h5  # noqa: E402  (stem3: the 3-channel fixture's stem)
    imgs = os.path.join(TOP, "tests", "data", "nih", "images")
    names = sorted(n for n in os.listdir(imgs) if n.endswith(".png"))
    stream = os.path.join(out, "keras_input.cxs")
    subprocess.run([os.path.join(TOP, "bin", "cxr-resize"), "-q", "-j1", "--size", "64",
                    "-o", stream, "-"], input="".join(os.path.join(imgs, n) + "\n"
                                                     for n in names).encode(), check=True)
    pix, _, got = pack_reader.read_images(stream)
    x = torch.from_numpy(pix.astype(np.float64) / 255).unsqueeze(1)
    meta, t = cxm.load(os.path.join(out, "keras_w16_64.cxm"))
    res = {}
    for stem in (1, 3):
        model = keras_twin.KerasResNet50(float(meta["width_mult"]), stem).double()
        sd = {k: torch.from_numpy(np.array(t[k], dtype=np.float64)) for k in model.state_dict()
              if not k.endswith("num_batches_tracked")}
        if stem == 3:
            sd["conv1_conv.weight"] = torch.from_numpy(make_keras_h5.stem3(t["conv1_conv.weight"]))
        model.load_state_dict(sd, strict=False)
        model.eval()
        with torch.no_grad():
            res[stem] = torch.sigmoid(model(x.repeat(1, stem, 1, 1))).numpy()
    with open(os.path.join(out, "keras_probs.tsv"), "w") as f:
        f.write("image\tp1\tp3\n")
        for i, n in enumerate(got):
            f.write("%s\t%.17g\t%.17g\n" % (n, res[1][i], res[3][i]))
    print("%s, keras_probs.tsv: %d images, p1 %s" % (stream, len(got), res[1]))


def main():
    global BIAS_STD
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(TOP, "tests", "data"))
    ap.add_argument("--search", type=int, metavar="N")
    ap.add_argument("--full", metavar="FILE",
                    help="write only a full-size golden (W=1, 256x256, batch 2, float64 "
                    "values) to FILE, for bench/keras_full.sh")
    ap.add_argument("--seed", type=int, default=3, help="seed of --full (3)")
    ap.add_argument("--bias-std", type=float, default=BIAS_STD,
                    help="standard deviation of the random conv biases (%g)" % BIAS_STD)
    ap.add_argument("--probs", action="store_true",
                    help="write only keras_input.cxs and keras_probs.tsv (needs bin/cxr-resize)")
    a = ap.parse_args()
    BIAS_STD = a.bias_std
    torch.set_num_threads(2)
    if a.search:
        NET.search(CONFIGS, a.search, 3)
        return
    if a.probs:
        probs(a.out)
        return
    if a.full:
        NET.write_full(a.full, 256, 2, a.seed)
        return
    NET.write(CONFIGS, a.out)


if __name__ == "__main__":
    main()
