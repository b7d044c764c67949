#!/usr/bin/python3
"""Checks cxr-resize's pixels against references (tests/t-resize-pillow.sh).

  pillow_resize.py pillow SIZE ORIG_DIR OUT_DIR
      For each PNG in OUT_DIR (cxr-resize output, extracted by cxr-pack -x),
      Pillow's Image.open(ORIG_DIR/name).convert("L").resize((SIZE, SIZE),
      Image.BOX) must be within 1 grey level. (Pillow rounds after its
      horizontal pass as well as at the end; cxr-resize rounds once.)

  pillow_resize.py exact SIZE ORIG_DIR OUT_DIR
      The same images against the exact area average, computed here as
      matrix products with integer overlap weights, rounded half up: must
      be equal. Pillow's BOX is printed beside it for information (it
      differs at non-integer scales, where it weighs whole pixels).

  pillow_resize.py fixtures PNG_DIR
      Pillow's convert("L") of each PNG_DIR/NAME.png must equal
      PNG_DIR/expected/NAME.pgm, the gray that tests/check_png.c holds the
      decoder to (but 16-bit gray, which Pillow clips instead of scaling).

Exit status 0 when all agree, 1 otherwise; prints one line per image.
"""
import os
import sys

import numpy as np
from PIL import Image


def gray(path):
    return np.asarray(Image.open(path).convert("L"))


def weights(n, m):
    """(m, n) overlaps of output i [i*n, (i+1)*n) with input j [j*m, (j+1)*m)."""
    lo = np.arange(m)[:, None] * n
    j = np.arange(n)[None, :] * m
    return np.clip(np.minimum(lo + n, j + m) - np.maximum(lo, j), 0, None)


def exact(img, size):
    h, w = img.shape
    wy, wx = weights(h, size), weights(w, size)
    # integers below 2^53 all along, so float64 products are exact
    s = (wy.astype(np.float64) @ img.astype(np.float64) @ wx.T.astype(np.float64))
    s = s.astype(np.int64)
    den = w * h
    return ((s + den // 2) // den).astype(np.uint8)


def pillow(path, size):
    return np.asarray(Image.open(path).convert("L").resize((size, size), Image.BOX))


def compare(mode, size, orig, out):
    names = sorted(n for n in os.listdir(out) if n.endswith(".png"))
    if not names:
        print("no images in", out)
        return 1
    bad = 0
    for n in names:
        got = np.asarray(Image.open(os.path.join(out, n)))
        if got.shape != (size, size):
            print("%s: shape %s, want %dx%d" % (n, got.shape, size, size))
            bad += 1
            continue
        p = pillow(os.path.join(orig, n), size).astype(int)
        dp = np.abs(got.astype(int) - p)
        if mode == "pillow":
            ok = dp.max() <= 1
            print("%s  %s  max |cxr - Pillow BOX| = %d, %.1f%% of pixels differ"
                  % ("ok " if ok else "BAD", n, dp.max(), 100 * (dp > 0).mean()))
        else:
            de = np.abs(got.astype(int) - exact(gray(os.path.join(orig, n)), size))
            ok = de.max() == 0
            print("%s  %s  max |cxr - exact area| = %d  (Pillow BOX: max %d, "
                  "%.1f%% differ)" % ("ok " if ok else "BAD", n, de.max(),
                                      dp.max(), 100 * (dp > 0).mean()))
        bad += not ok
    return 1 if bad else 0


def read_pgm(path):
    with open(path, "rb") as f:
        head = f.read().split(b"\n", 3)
    w, h = map(int, head[1].split())
    return np.frombuffer(head[3], np.uint8).reshape(h, w)


def fixtures(d):
    bad = 0
    names = sorted(n[:-4] for n in os.listdir(os.path.join(d, "expected")))
    for n in names:
        want = read_pgm(os.path.join(d, "expected", n + ".pgm")).astype(int)
        got = gray(os.path.join(d, n + ".png")).astype(int)
        diff = np.abs(got - want).max()
        if n.startswith("gray16"):
            print("--   %-12s Pillow clips 16-bit gray (max diff %d), not compared" % (n, diff))
            continue
        print("%s  %-12s max |Pillow convert(L) - expected| = %d" % (
            "ok " if diff == 0 else "BAD", n, diff))
        bad += diff != 0
    return 1 if bad else 0


def main(argv):
    import warnings
    warnings.simplefilter("ignore")  # Pillow on palettes with tRNS
    if len(argv) == 5 and argv[1] in ("pillow", "exact"):
        return compare(argv[1], int(argv[2]), argv[3], argv[4])
    if len(argv) == 3 and argv[1] == "fixtures":
        return fixtures(argv[2])
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
