#!/usr/bin/env python3
"""model_compare.py A B [TOL] — compares two cxr model files (.cxm,
man/cxr-model.5) tensor by tensor, and their threshold and validation
figures. TOL 0 (the default): every tensor byte for byte the same and the
figures the same strings. TOL > 0: each tensor's normwise relative error
|a - b|_2 / |b|_2 at most TOL, and the figures within TOL relative.
Prints the largest error seen; exits 0 when they agree, 1 otherwise.
Standard library and the zstd command only (t-mpi.sh)."""

import array
import math
import struct
import subprocess
import sys

FIGURES = ("threshold", "val_auc", "val_loss", "epochs")


def load(path):
    raw = subprocess.run(["zstd", "-dcq", path], check=True, capture_output=True).stdout
    if raw[:4] != b"CXRM":
        sys.exit(f"{path}: not a model file")
    at = 8
    def u32():
        nonlocal at
        v = struct.unpack_from("<I", raw, at)[0]
        at += 4
        return v
    def text():
        nonlocal at
        n = u32()
        s = raw[at:at + n].decode()
        at += n
        return s
    meta = {}
    for _ in range(u32()):
        k = text()
        meta[k] = text()
    tensors = {}
    for _ in range(u32()):
        name = text()
        dtype, ndim = raw[at], raw[at + 1]
        at += 2
        dims = struct.unpack_from(f"<{ndim}Q", raw, at)
        at += 8 * ndim
        at = (at + 63) // 64 * 64
        n = 1
        for d in dims:
            n *= d
        size = {1: 1, 2: 2, 3: 4}[dtype] * n
        tensors[name] = (dtype, raw[at:at + size])
        at += size
    return meta, tensors


def main():
    a_meta, a = load(sys.argv[1])
    b_meta, b = load(sys.argv[2])
    tol = float(sys.argv[3]) if len(sys.argv) > 3 else 0.0
    bad = []
    if list(a) != list(b):
        bad.append("the tensors differ in names or order")
    worst, worst_name = 0.0, "-"
    for name in a:
        if name not in b:
            continue
        (da, xa), (db, xb) = a[name], b[name]
        if xa == xb:
            continue
        if tol == 0 or da != 3 or db != 3 or len(xa) != len(xb):
            bad.append(f"{name} differs")
            continue
        va, vb = array.array("f", xa), array.array("f", xb)
        num = math.sqrt(sum((p - q) ** 2 for p, q in zip(va, vb)))
        den = math.sqrt(sum(q * q for q in vb)) or 1.0
        err = num / den
        if err > worst:
            worst, worst_name = err, name
        if not err <= tol:
            bad.append(f"{name}: relative error {err:.3g} > {tol:g}")
    for k in FIGURES:
        x, y = a_meta.get(k), b_meta.get(k)
        if x == y:
            continue
        if tol == 0 or x is None or y is None:
            bad.append(f"{k}: {x} and {y}")
            continue
        fx, fy = float(x), float(y)
        if not abs(fx - fy) <= tol * max(1.0, abs(fy)):
            bad.append(f"{k}: {x} and {y}")
    print(f"{len(a)} tensors, largest relative error {worst:.3g} ({worst_name}); "
          + ", ".join(f"{k} {a_meta.get(k)} / {b_meta.get(k)}" for k in FIGURES))
    for line in bad[:20]:
        print("  " + line)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
