#!/usr/bin/python3
"""Writes the golden files that prove lib/resnet.c against PyTorch.

    /usr/bin/python3 tests/golden/make_golden.py            # the committed ones
    /usr/bin/python3 tests/golden/make_golden.py --full F   # W=1, 256x256, to F

Each golden is a .cxm model file (man/cxr-model.5): the network's initial
parameters and BN buffers under their state_dict names, so the C engine
loads it as a model, plus what one training step computes:

    input [N,1,H,W]           pixels/255
    target [N]                0/1, both classes
    dropout_mask [N,512]      0 or 1/(1-p), used instead of nn.Dropout
    logits [N], loss [1]      train-mode forward, BCEWithLogitsLoss (mean)
    grad/<param>              every trainable parameter's gradient
    after_train/<bn>.running_mean, .running_var   after that forward
    eval_logits [N]           eval-mode forward (initial weights, updated stats)
    adam/<param>              the parameters after one optimizer step

with metadata naming the architecture (arch keys of cxr-model(5)) and the
optimizer (golden.optimizer, golden.lr, golden.beta1, golden.beta2,
golden.eps, golden.weight_decay, golden.batch).

BN weights, biases and running statistics are randomised (the defaults
1, 0, 0, 1 would hide errors in their handling); running statistics start
near the true statistics of a calibration batch so that eval-mode
activations stay in range.  Seeded: a rerun on the same machine and torch
writes the same bytes.
"""

import argparse
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(TOP, "bench"))

import cxm  # noqa: E402
import cxrnet  # noqa: E402

OPT = dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2)


def randomise_bn(model, height, width, batch, gen):
    """Random BN affine parameters; running stats = a calibration batch's
    statistics, perturbed."""
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    with torch.no_grad():
        for m in bns:
            m.weight.uniform_(0.5, 1.5, generator=gen)
            m.bias.normal_(0.0, 0.2, generator=gen)
            m.momentum = None  # cumulative: one batch gives its exact stats
            m.reset_running_stats()
        model.train()
        calib = torch.randint(0, 256, (batch, 1, height, width), generator=gen).float() / 255
        model(calib)
        for m in bns:
            sd = m.running_var.sqrt()
            m.running_mean.add_(0.1 * sd * torch.randn(sd.shape, generator=gen))
            m.running_var.mul_(torch.empty(sd.shape).uniform_(0.7, 1.4, generator=gen))
            m.momentum = 0.1
            m.num_batches_tracked.zero_()


def make(width, height, width_px, batch, seed):
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    model = cxrnet.CxrNet(width)
    randomise_bn(model, height, width_px, batch, gen)

    meta = cxrnet.arch_meta(width, height, width_px)
    meta.update({
        "seed": str(seed),
        "tool_version": "make_golden.py torch %s" % torch.__version__,
        "golden.batch": str(batch),
        "golden.optimizer": "adamw",
        "golden.lr": repr(OPT["lr"]),
        "golden.beta1": repr(OPT["betas"][0]),
        "golden.beta2": repr(OPT["betas"][1]),
        "golden.eps": repr(OPT["eps"]),
        "golden.weight_decay": repr(OPT["weight_decay"]),
    })
    t = cxrnet.state_tensors(model)

    x = torch.randint(0, 256, (batch, 1, height, width_px), generator=gen).float() / 255
    target = (torch.arange(batch) % 2).float()[torch.randperm(batch, generator=gen)]
    p = cxrnet.DROPOUT
    keep = torch.rand(batch, cxrnet.HEAD_HIDDEN, generator=gen) >= p
    mask = keep.float() / (1 - p)
    t["input"] = x.numpy()
    t["target"] = target.numpy()
    t["dropout_mask"] = mask.numpy()

    model.train()
    logits = model(x, mask)
    loss = F.binary_cross_entropy_with_logits(logits, target)
    loss.backward()
    t["logits"] = logits.detach().numpy()
    t["loss"] = loss.detach().reshape(1).numpy()
    for name, prm in model.named_parameters():
        t["grad/" + name] = prm.grad.detach().numpy().copy()
    for name, buf in model.named_buffers():
        if name.endswith("running_mean") or name.endswith("running_var"):
            t["after_train/" + name] = buf.detach().numpy().copy()

    model.eval()
    with torch.no_grad():
        t["eval_logits"] = model(x).numpy()

    opt = torch.optim.AdamW(model.parameters(), **OPT)
    opt.step()
    for name, prm in model.named_parameters():
        t["adam/" + name] = prm.detach().numpy().copy()
    return meta, t


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--full", metavar="FILE",
                    help="write only a full-size golden (W=1, 256x256) to FILE")
    ap.add_argument("--batch", type=int, default=2, help="batch of --full (2)")
    ap.add_argument("--size", type=int, default=256, help="input size of --full (256)")
    ap.add_argument("--out", default=os.path.join(TOP, "tests", "data"),
                    help="directory of the committed goldens")
    a = ap.parse_args()
    torch.set_num_threads(2)
    if a.full:
        meta, t = make(1.0, a.size, a.size, a.batch, 3)
        cxm.save(a.full, meta, t)
        print(a.full)
        return
    for name, (w, h, wp, n, seed) in {
            "golden_w16_64.cxm": (1 / 16, 64, 64, 4, 1),
            "golden_w16_72x56.cxm": (1 / 16, 72, 56, 3, 2)}.items():
        meta, t = make(w, h, wp, n, seed)
        path = os.path.join(a.out, name)
        cxm.save(path, meta, t, level=19)
        print("%s: loss %.6f logits %s eval %s" % (
            path, float(t["loss"][0]), t["logits"].tolist(), t["eval_logits"].tolist()))


if __name__ == "__main__":
    main()
