#!/usr/bin/python3
"""torch_train -- cxr-train's training loop in PyTorch, on the PyTorch twin
of the network (bench/cxrnet.py), for a side-by-side learning comparison.

It reads the same packs as cxr-train and uses the same recipe as
lib/run/train_driver.c with cxr-train's defaults:
  - input pixel/255 as float32, (N, 1, H, W); the network's input size is
    the packs' image size, its width multiplier --width;
  - each epoch visits the training set in a new random order, in batches
    of --batch, the last one short (not dropped);
  - loss: mean binary cross-entropy on the logits (BCEWithLogitsLoss);
  - AdamW (decoupled weight decay, on every parameter as cxr does) with
    lr, betas, eps and weight decay as given;
  - the learning rate is set before every step from cxr_lr_cosine
    (lib/nn/optim.c): linear warmup over --warmup epochs' steps, then cosine
    from lr to --min-lr over the remaining steps of --epochs epochs;
  - validation each epoch in eval mode (BN running statistics, no
    dropout): mean BCE and the rank AUC of the sigmoid scores.
What differs, by design: the initial weights (torch's generator, seeded
with --seed, the distributions of cxr-train --init named by --init-scheme),
the shuffle order and the dropout masks.  --init MODEL.cxm starts from a cxr model's weights
instead (a checkpoint's extra tensors are ignored) and --dropout 0 turns
dropout off, to compare the two engines step by step: with a pack of
exactly --batch images, each epoch is one step on the same batch in both.

Output on stdout, one TSV line per epoch after a header:
  epoch  steps  train_loss  val_loss  val_auc  lr  images_per_s  elapsed
images_per_s is training images over the epoch's wall time, validation
included, as cxr-train's log counts it; lr is the rate of the epoch's last
step.  With --steps N the losses of the first N steps are printed as
"# step k loss lr" lines first.  With --test, a last "# test" line gives
the AUC on that stream of the model of the epoch with the best validation
AUC (the model cxr-train keeps).

usage: bench/torch_train.py [options] --val VAL.cxp TRAIN.cxp
Needs /usr/bin/python3 with torch and numpy (Debian packages) and zstd.
"""
import argparse
import math
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cxrnet  # noqa: E402
import pack_reader  # noqa: E402


def lr_cosine(base, min_lr, step, total, warmup):
    """cxr_lr_cosine of lib/nn/optim.c; step is 0-based (steps taken so far)."""
    if warmup > 0 and step < warmup:
        return base * (step + 1) / warmup
    if step >= total or total <= warmup:
        return min_lr
    t = (step - warmup) / (total - warmup)
    return min_lr + (base - min_lr) * (1 + math.cos(math.pi * t)) / 2


def rank_auc(score, label):
    """Mann-Whitney AUC with midranks for ties (what DeLong's AUC is)."""
    score = np.asarray(score, np.float64)
    label = np.asarray(label) > 0.5
    npos, nneg = int(label.sum()), int((~label).sum())
    if npos == 0 or nneg == 0:
        return float("nan")
    order = np.argsort(score, kind="mergesort")
    s = score[order]
    ranks = np.empty(len(s))
    i = 0
    while i < len(s):
        j = i
        while j + 1 < len(s) and s[j + 1] == s[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2 + 1
        i = j + 1
    return (ranks[label].sum() - npos * (npos + 1) / 2) / (npos * nneg)


def load(path):
    x, y, _ = pack_reader.read_images(path)
    if np.isnan(y).any():
        sys.exit("torch_train: %s: %d records have an unknown label"
                 % (path, int(np.isnan(y).sum())))
    # pixel / 255 in float32, as cxr_image_to_input
    xt = torch.from_numpy(x).unsqueeze(1).float().mul_(1.0 / 255.0)
    return xt, torch.from_numpy(y)


def init_from_cxm(model, path):
    import cxm
    meta, tensors = cxm.load(path)
    if abs(float(meta.get("width_mult", "nan")) - model.width) > 1e-9:
        sys.exit("torch_train: %s: width %s, not %g" % (path, meta.get("width_mult"),
                                                        model.width))
    sd = {k: torch.from_numpy(v.copy()) for k, v in tensors.items()}
    missing, _ = model.load_state_dict(sd, strict=False)
    missing = [k for k in missing if not k.endswith("num_batches_tracked")]
    if missing:
        sys.exit("torch_train: %s: missing tensors %s" % (path, missing[:5]))


def autocast(precision):
    """bf16: PyTorch's CPU autocast (convolutions and linear layers in
    bfloat16, the rest fp32), as cxr-train --precision bf16 is compared
    with; fp32: nothing."""
    return torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16")


def evaluate(model, x, y, batch, precision="fp32"):
    model.eval()
    zs = []
    with torch.no_grad(), autocast(precision):
        for b in range(0, len(x), batch):
            zs.append(model(x[b:b + batch]).float())
    z = torch.cat(zs)
    loss = torch.nn.functional.binary_cross_entropy_with_logits(z.double(), y.double()).item()
    return loss, rank_auc(torch.sigmoid(z).numpy(), y.numpy())


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("train", metavar="TRAIN.cxp")
    ap.add_argument("--val", required=True, metavar="VAL.cxp")
    ap.add_argument("--test", metavar="STREAM",
                    help="at the end, the AUC on STREAM of the best validation epoch's model")
    ap.add_argument("--width", type=float, default=1.0)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--min-lr", type=float, default=0.0)
    ap.add_argument("--beta1", type=float, default=0.9)
    ap.add_argument("--beta2", type=float, default=0.999)
    ap.add_argument("--eps", type=float, default=1e-8)
    ap.add_argument("--weight-decay", type=float, default=1e-4)
    ap.add_argument("--warmup", type=int, default=0, help="epochs of linear warmup")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--precision", choices=("fp32", "bf16"), default="fp32",
                    help="bf16: torch.autocast to bfloat16 on the CPU")
    ap.add_argument("--dropout", type=float, default=cxrnet.DROPOUT,
                    help="head dropout (0.2, as cxr; 0 for step-by-step checks)")
    ap.add_argument("--init", metavar="MODEL.cxm", help="start from a cxr model's weights")
    ap.add_argument("--init-scheme", choices=cxrnet.INITS, default="torchvision",
                    help="initial weights as cxr-train --init: torchvision (default), keras, "
                    "or torch (PyTorch's layer defaults)")
    ap.add_argument("--no-shuffle", action="store_true",
                    help="visit the pack in its order every epoch (for step-by-step checks)")
    ap.add_argument("--steps", type=int, default=0, help="print the first N steps' losses")
    ap.add_argument("-j", "--threads", type=int, default=2)
    a = ap.parse_args()

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    t0 = time.time()
    xtr, ytr = load(a.train)
    xva, yva = load(a.val)
    if xtr.shape[2:] != xva.shape[2:]:
        sys.exit("torch_train: %s: images are %s, the training images %s"
                 % (a.val, tuple(xva.shape[2:]), tuple(xtr.shape[2:])))
    model = cxrnet.CxrNet(a.width, dropout=a.dropout, init=a.init_scheme)
    if a.init:
        init_from_cxm(model, a.init)
    opt = torch.optim.AdamW(model.parameters(), lr=a.lr, betas=(a.beta1, a.beta2),
                            eps=a.eps, weight_decay=a.weight_decay)
    lossf = torch.nn.BCEWithLogitsLoss()
    n = len(xtr)
    nb = (n + a.batch - 1) // a.batch
    total, warmup = a.epochs * nb, a.warmup * nb
    nparams = sum(p.numel() for p in model.parameters())
    print("# torch_train: torch %s, %d threads; train %s (%d images, %dx%d, %d positive), "
          "val %s (%d images, %d positive); loaded in %.1fs"
          % (torch.__version__, a.threads, a.train, n, xtr.shape[2], xtr.shape[3],
             int(ytr.sum()), a.val, len(xva), int(yva.sum()), time.time() - t0))
    print("# width %g, %d parameters; epochs %d, batch %d, AdamW lr %g (min %g), betas %g %g, "
          "eps %g, weight decay %g, schedule cosine, warmup %d, seed %d, init %s"
          % (a.width, nparams, a.epochs, a.batch, a.lr, a.min_lr, a.beta1, a.beta2, a.eps,
             a.weight_decay, a.warmup, a.seed, a.init if a.init else a.init_scheme))
    print("epoch\tsteps\ttrain_loss\tval_loss\tval_auc\tlr\timages_per_s\telapsed", flush=True)
    gen = torch.Generator().manual_seed(a.seed)
    step = 0
    best_auc, best_epoch, best_state = -1.0, 0, None
    t_start = time.time()
    for epoch in range(a.epochs):
        te = time.time()
        model.train()
        order = torch.arange(n) if a.no_shuffle else torch.randperm(n, generator=gen)
        loss_sum = 0.0
        for b in range(nb):
            idx = order[b * a.batch:(b + 1) * a.batch]
            lr = lr_cosine(a.lr, a.min_lr, step, total, warmup)
            for g in opt.param_groups:
                g["lr"] = lr
            opt.zero_grad(set_to_none=True)
            with autocast(a.precision):
                loss = lossf(model(xtr[idx]).float(), ytr[idx])
            if not torch.isfinite(loss):
                sys.exit("torch_train: epoch %d, step %d: the loss is not finite"
                         % (epoch + 1, b + 1))
            loss.backward()
            opt.step()
            step += 1
            loss_sum += loss.item() * len(idx)
            if step <= a.steps:
                print("# step %d loss %.9g lr %.9g" % (step, loss.item(), lr), flush=True)
        vloss, vauc = evaluate(model, xva, yva, a.batch, a.precision)
        dt = time.time() - te
        print("%d\t%d\t%.10g\t%.10g\t%.10g\t%.6g\t%.3f\t%.1f" % (
            epoch + 1, step, loss_sum / n, vloss, vauc, lr, n / dt, time.time() - t_start),
            flush=True)
        if a.test and (best_state is None or vauc > best_auc):
            # the model cxr-train keeps: the best validation AUC's epoch
            best_auc, best_epoch = vauc, epoch + 1
            best_state = {k: v.clone() for k, v in model.state_dict().items()}
    if a.test:
        xte, yte = load(a.test)
        model.load_state_dict(best_state)
        tloss, tauc = evaluate(model, xte, yte, a.batch, a.precision)
        print("# test %s: %d images, auc %.6f, loss %.6f (model of epoch %d, val auc %.6f)"
              % (a.test, len(xte), tauc, tloss, best_epoch, best_auc))


if __name__ == "__main__":
    main()
