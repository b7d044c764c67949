#!/usr/bin/python3
"""Fixtures and scikit-learn reference values for cxr-roc and cxr-bias.

  /usr/bin/python3 tests/sklearn_ref.py fixtures DIR   # write the fixture TSVs (numpy)
  /usr/bin/python3 tests/sklearn_ref.py refs DIR       # reference values (sklearn)

`refs` reads the fixtures in DIR and writes, beside them:
  NAME.roc.ref   sklearn.metrics.roc_curve(drop_intermediate=False) as
                 `threshold fpr tpr`; the first threshold (max+1 before
                 sklearn 1.3, inf after) is written as inf, as cxr-roc does.
  sklearn.ref    `fixture key value`: roc_auc_score overall, against the
                 `rad` label column, and per group as cxr-bias forms them
                 (--by sex, --by age:10 with 90+, --by view).
Rows whose label is "-" are skipped, as the tools do. The committed copies
in tests/data/scores let the tests run without sklearn; t-roc.sh reruns
this script when /usr/bin/python3 has sklearn and compares again.
"""
import csv
import math
import os
import sys


def read_tsv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def write_tsv(path, header, rows):
    with open(path, "w") as f:
        f.write("\t".join(header) + "\n")
        for r in rows:
            f.write("\t".join(str(x) for x in r) + "\n")


def fixtures(d):
    import numpy as np
    rng = np.random.default_rng(20240601)
    n = 320
    label = (rng.random(n) < 0.4).astype(int)
    # Scores rounded to 2 decimals: many ties, within and across classes.
    logit = rng.normal(0, 1.3, n) + 1.4 * label
    s_a = np.round(1 / (1 + np.exp(-logit)), 2)
    s_b = np.round(1 / (1 + np.exp(-(logit + rng.normal(0, 1.0, n)))), 2)
    age = rng.integers(1, 96, n).astype(object)
    sex = rng.choice(["M", "F"], n).astype(object)
    view = rng.choice(["PA", "AP"], n, p=[0.7, 0.3])
    lab = label.astype(object)
    rad = np.where(rng.random(n) < 0.12, 1 - label, label).astype(object)
    for i in rng.choice(n, 14, replace=False):
        lab[i] = "-"
    for i in rng.choice(n, 9, replace=False):
        age[i] = "-"
    for i in rng.choice(n, 6, replace=False):
        sex[i] = "-"
    for i in rng.choice(n, 10, replace=False):
        rad[i] = "-"
    images = ["%08d_%03d.png" % (1000 + i, i % 3) for i in range(n)]
    patients = [str(1000 + i) for i in range(n)]
    h = ["image", "score", "label", "patient", "age", "sex", "view", "model", "rad"]
    write_tsv(os.path.join(d, "ties.tsv"), h,
              [(images[i], "%.2f" % s_a[i], lab[i], patients[i], age[i], sex[i],
                view[i], "a1b2c3d4", rad[i]) for i in range(n)])
    # The same images scored by another model, in another order.
    perm = rng.permutation(n)
    write_tsv(os.path.join(d, "ties_b.tsv"), h[:8],
              [(images[i], "%.2f" % s_b[i], lab[i], patients[i], age[i], sex[i],
                view[i], "e5f6a7b8") for i in perm])
    # Hanley & McNeil (1982), Radiology 143:29, table 1: CT ratings 1-5 of
    # 58 normal and 51 abnormal patients; published AUC 0.893.
    rows = []
    k = 0
    for lbl, counts in ((0, [33, 6, 6, 11, 2]), (1, [3, 2, 2, 11, 33])):
        for rating, c in enumerate(counts, 1):
            for _ in range(c):
                rows.append(("hm%03d" % k, rating, lbl))
                k += 1
    write_tsv(os.path.join(d, "hanley.tsv"), ["image", "score", "label"], rows)


def age_group(v, width=10, top=90):
    if v == "-":
        return "-"
    a = float(v)
    last = top // width * width
    if a >= last:
        return "%d+" % last
    return "%d" % (math.floor(a / width) * width)


def refs(d):
    import numpy as np
    from sklearn.metrics import roc_auc_score, roc_curve

    out = []

    def auc_of(rows, col="label"):
        rows = [r for r in rows if r[col] != "-"]
        y = np.array([int(r[col]) for r in rows])
        s = np.array([float(r["score"]) for r in rows])
        if y.min() == y.max():
            return None
        return roc_auc_score(y, s)

    for name in ("ties", "ties_b", "hanley"):
        rows = read_tsv(os.path.join(d, name + ".tsv"))
        kept = [r for r in rows if r["label"] != "-"]
        y = np.array([int(r["label"]) for r in kept])
        s = np.array([float(r["score"]) for r in kept])
        fpr, tpr, thr = roc_curve(y, s, drop_intermediate=False)
        with open(os.path.join(d, name + ".roc.ref"), "w") as f:
            f.write("threshold\tfpr\ttpr\n")
            for i in range(len(thr)):
                t = "inf" if i == 0 else repr(float(thr[i]))
                f.write("%s\t%r\t%r\n" % (t, float(fpr[i]), float(tpr[i])))
        out.append((name, "auc", roc_auc_score(y, s)))
        out.append((name, "n", len(kept)))
        out.append((name, "positives", int(y.sum())))
        if "rad" in rows[0]:
            out.append((name, "auc.rad", auc_of(rows, "rad")))
        if "sex" in rows[0]:
            for col, key in (("sex", lambda r: r["sex"]), ("age", lambda r: age_group(r["age"])),
                             ("view", lambda r: r["view"])):
                groups = {}
                for r in kept:
                    groups.setdefault(key(r), []).append(r)
                for g in sorted(groups):
                    a = auc_of(groups[g])
                    out.append((name, "auc.%s.%s" % (col, g), a))
    with open(os.path.join(d, "sklearn.ref"), "w") as f:
        for name, key, v in out:
            f.write("%s\t%s\t%s\n" % (name, key, "-" if v is None else repr(float(v))
                                       if not isinstance(v, int) else v))


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("fixtures", "refs"):
        sys.exit(__doc__)
    {"fixtures": fixtures, "refs": refs}[sys.argv[1]](sys.argv[2])
