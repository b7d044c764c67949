#!/usr/bin/python3
"""Independent DeLong reference values for cxr-roc and cxr-bias (numpy only).

  /usr/bin/python3 tests/delong_ref.py DIR > DIR/delong.ref

The fast DeLong algorithm of Sun & Xu (IEEE Signal Processing Letters 21,
2014): AUCs and their covariance from midranks, written from the paper,
sharing no code with lib/eval/metrics.c (which works on tie blocks of one
sort). The covariance matrix is S10/m + S01/n with S10, S01 the sample
covariances (ddof 1) of the structural components V10 (over the m
positives) and V01 (over the n negatives).

Output lines: `fixture key value` — auc, var, ci_low, ci_high (AUC ± 1.96
SE clipped to [0, 1]) overall and per group, and the paired test of
ties.tsv against ties_b.tsv matched by image (cov, z, p).
"""
import csv
import math
import os
import sys

import numpy as np

Z95 = 1.959963984540054


def midrank(x):
    """Midranks (1-based, ties averaged) of x, as in Sun & Xu's algorithm 1."""
    order = np.argsort(x, kind="mergesort")
    z = x[order]
    n = len(x)
    t = np.zeros(n)
    i = 0
    while i < n:
        j = i
        while j < n and z[j] == z[i]:
            j += 1
        t[i:j] = 0.5 * (i + j - 1) + 1
        i = j
    out = np.empty(n)
    out[order] = t
    return out


def fast_delong(scores, y):
    """scores: (k, N) array of k scorings; y: (N,) 0/1. Returns aucs (k,), cov (k, k)."""
    pos = scores[:, y == 1]
    neg = scores[:, y == 0]
    m, n = pos.shape[1], neg.shape[1]
    k = scores.shape[0]
    tx = np.array([midrank(pos[r]) for r in range(k)])
    ty = np.array([midrank(neg[r]) for r in range(k)])
    tz = np.array([midrank(np.concatenate([pos[r], neg[r]])) for r in range(k)])
    aucs = tz[:, :m].sum(axis=1) / m / n - (m + 1.0) / 2.0 / n
    v01 = (tz[:, :m] - tx) / n
    v10 = 1.0 - (tz[:, m:] - ty) / m
    s = np.atleast_2d(np.cov(v01)) / m + np.atleast_2d(np.cov(v10)) / n
    return aucs, s


def read(path, col="label"):
    with open(path, newline="") as f:
        rows = [r for r in csv.DictReader(f, delimiter="\t") if r[col] != "-"]
    return rows


def age_group(v):
    if v == "-":
        return "-"
    a = float(v)
    return "90+" if a >= 90 else "%d" % (math.floor(a / 10) * 10)


def emit(name, key, aucs, cov):
    a, var = float(aucs[0]), float(cov[0, 0])
    se = math.sqrt(var)
    print("%s\t%s.auc\t%r" % (name, key, a))
    print("%s\t%s.var\t%r" % (name, key, var))
    print("%s\t%s.ci_low\t%r" % (name, key, max(0.0, a - Z95 * se)))
    print("%s\t%s.ci_high\t%r" % (name, key, min(1.0, a + Z95 * se)))


def main(d):
    for name in ("ties", "ties_b", "hanley"):
        rows = read(os.path.join(d, name + ".tsv"))
        y = np.array([int(r["label"]) for r in rows])
        s = np.array([[float(r["score"]) for r in rows]])
        emit(name, "all", *fast_delong(s, y))
        if "sex" not in rows[0]:
            continue
        for col, key in (("sex", lambda r: r["sex"]), ("age", lambda r: age_group(r["age"]))):
            groups = {}
            for r in rows:
                groups.setdefault(key(r), []).append(r)
            for g in sorted(groups):
                gy = np.array([int(r["label"]) for r in groups[g]])
                if gy.sum() < 2 or (1 - gy).sum() < 2:
                    continue
                gs = np.array([[float(r["score"]) for r in groups[g]]])
                emit(name, "%s.%s" % (col, g), *fast_delong(gs, gy))
    # Paired: the same images, matched by name.
    a = {r["image"]: r for r in read(os.path.join(d, "ties.tsv"))}
    b = {r["image"]: r for r in read(os.path.join(d, "ties_b.tsv"))}
    names = sorted(a)
    y = np.array([int(a[i]["label"]) for i in names])
    s = np.array([[float(a[i]["score"]) for i in names], [float(b[i]["score"]) for i in names]])
    aucs, cov = fast_delong(s, y)
    var = cov[0, 0] + cov[1, 1] - 2 * cov[0, 1]
    z = (aucs[0] - aucs[1]) / math.sqrt(var)
    print("paired\tauc_a\t%r" % float(aucs[0]))
    print("paired\tauc_b\t%r" % float(aucs[1]))
    print("paired\tvar_a\t%r" % float(cov[0, 0]))
    print("paired\tvar_b\t%r" % float(cov[1, 1]))
    print("paired\tcov\t%r" % float(cov[0, 1]))
    print("paired\tz\t%r" % float(z))
    print("paired\tp\t%r" % math.erfc(abs(z) / math.sqrt(2)))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
