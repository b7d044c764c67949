#!/usr/bin/python3
"""Is cxr-synth's class signal learnable but not trivial?

Writes a synthetic set with bin/cxr-synth, area-averages it to 64x64,
then prints the validation AUC of (a) each image's mean brightness and
other global statistics, which should be near 0.5, and (b) a small CNN
trained for a few epochs, which should reach 0.95 or more.

usage: bench/synth-learn.py [--images N] [--size S] [--input I] [--epochs E] [--seed S]
Needs /usr/bin/python3 with torch, numpy, PIL, sklearn (Debian packages).
"""
import argparse, csv, glob, os, subprocess, sys, tempfile, time

import numpy as np
import torch
import torch.nn as nn
from PIL import Image
from sklearn.metrics import roc_auc_score

top = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ap = argparse.ArgumentParser()
ap.add_argument("--images", type=int, default=3000)
ap.add_argument("--size", type=int, default=128)
ap.add_argument("--input", type=int, default=64)
ap.add_argument("--epochs", type=int, default=12)
ap.add_argument("--seed", type=int, default=1)
ap.add_argument("--threads", type=int, default=1)
a = ap.parse_args()
torch.manual_seed(a.seed)
torch.set_num_threads(a.threads)

with tempfile.TemporaryDirectory() as d:
    t = time.time()
    subprocess.run([os.path.join(top, "bin/cxr-synth"), "-q", "--images", str(a.images),
                    "--size", str(a.size), "--seed", str(a.seed), "-o", d], check=True)
    gen = time.time() - t
    rows = list(csv.DictReader(open(os.path.join(d, "Data_Entry_2017_v2020.csv"))))
    paths = {os.path.basename(p): p for p in glob.glob(d + "/images_*/images/*.png")}
    k = a.size // a.input
    X = np.stack([np.asarray(Image.open(paths[r["Image Index"]]).convert("L")
                             .reduce(k) if k > 1 else Image.open(paths[r["Image Index"]]))
                  for r in rows]).astype(np.float32) / 255
y = np.array([r["Finding Labels"] != "No Finding" for r in rows], dtype=np.float32)
pid = np.array([int(r["Patient ID"]) for r in rows])
# split by patient: every fifth patient to validation
va = pid % 5 == 0
tr = ~va
print(f"generated {a.images} images at {a.size}px in {gen:.1f}s; "
      f"{int(y.sum())} abnormal; train {tr.sum()} val {va.sum()}")

def auc(score):
    return roc_auc_score(y[va], score[va])

flat = X.reshape(len(X), -1)
print(f"AUC of mean brightness {auc(flat.mean(1)):.3f}, std {auc(flat.std(1)):.3f}, "
      f"max {auc(flat.max(1)):.3f}, min {auc(flat.min(1)):.3f}")

def block(i, o):
    return [nn.Conv2d(i, o, 3, padding=1, bias=False), nn.BatchNorm2d(o), nn.ReLU(),
            nn.Conv2d(o, o, 3, padding=1, bias=False), nn.BatchNorm2d(o), nn.ReLU(),
            nn.MaxPool2d(2)]

net = nn.Sequential(*block(1, 16), *block(16, 32), *block(32, 64), *block(64, 64),
                    nn.AdaptiveMaxPool2d(1), nn.Flatten(), nn.Linear(64, 1))
opt = torch.optim.Adam(net.parameters(), 1e-3)
Xt = torch.from_numpy(X[:, None])
yt = torch.from_numpy(y)
itr, iva = np.where(tr)[0], np.where(va)[0]
t = time.time()
best = 0
for ep in range(a.epochs):
    net.train()
    np.random.seed(a.seed + ep)
    np.random.shuffle(itr)
    for b in range(0, len(itr), 32):
        idx = itr[b:b + 32]
        loss = nn.functional.binary_cross_entropy_with_logits(net(Xt[idx]).squeeze(1), yt[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    net.eval()
    with torch.no_grad():
        s = torch.cat([net(Xt[iva[b:b + 256]]).squeeze(1) for b in range(0, len(iva), 256)])
    v = roc_auc_score(y[iva], s.numpy())
    if v > best:
        best, bs = v, s.numpy()
    print(f"epoch {ep + 1}: loss {loss.item():.3f} val AUC {v:.3f} ({time.time() - t:.0f}s)")
    sys.stdout.flush()
print(f"best val AUC {best:.3f}")
# Which findings the network finds hard: each against the normal films.
fl = [rows[i]["Finding Labels"] for i in iva]
neg = [k for k, f in enumerate(fl) if f == "No Finding"]
names = sorted({x for f in fl for x in f.split("|")} - {"No Finding"})
for name in names:
    pos = [k for k, f in enumerate(fl) if name in f.split("|")]
    alone = [k for k in pos if fl[k] == name]
    if len(pos) >= 3:
        a = roc_auc_score([0] * len(neg) + [1] * len(pos), np.r_[bs[neg], bs[pos]])
        b = (roc_auc_score([0] * len(neg) + [1] * len(alone), np.r_[bs[neg], bs[alone]])
             if len(alone) >= 3 else float("nan"))
        print(f"  {name:20s} n={len(pos):4d} AUC {a:.3f}; alone n={len(alone):3d} AUC {b:.3f}")
