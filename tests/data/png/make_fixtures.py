#!/usr/bin/python3
"""Writes the PNG fixtures of tests/check_png.c and their expected gray
pixels (expected/NAME.pgm), then checks those against Pillow's
convert("L").

Every PNG type libpng reads is encoded here by hand (zlib + struct), since
Pillow cannot write interlaced PNGs, 2/4-bit gray or 16-bit colour. Rows
cycle through the five filter types so that every unfilter path is used.
The expected gray follows lib/data/png.h: n-bit gray scaled to 0..255, 16-bit
v >> 8, colour and palette by (19595 R + 38470 G + 7471 B + 32768) >> 16,
alpha and tRNS ignored. Pillow agrees with that on every fixture but the
16-bit gray ones, which its convert("L") clips instead of scaling.

Also writes the bad files (not a PNG, truncated, CRC error, bad zlib data,
no IEND, too large) whose error messages the tests check.

Rerun from anywhere: /usr/bin/python3 tests/data/png/make_fixtures.py
Output is deterministic (fixed seed, fixed zlib level).
"""
import os
import struct
import sys
import zlib

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
W, H = 37, 23
ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4),
         (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]
CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}


def chunk(tag, data):
    return (struct.pack(">I", len(data)) + tag + data +
            struct.pack(">I", zlib.crc32(tag + data) & 0xffffffff))


def pack_row(row, depth):
    """row: 1-D array of samples -> bytes, MSB first for depth < 8."""
    if depth == 16:
        return row.astype(">u2").tobytes()
    if depth == 8:
        return row.astype(np.uint8).tobytes()
    per = 8 // depth
    out = bytearray((len(row) + per - 1) // per)
    for i, v in enumerate(row):
        out[i // per] |= int(v) << (8 - depth * (i % per + 1))
    return bytes(out)


def paeth(a, b, c):
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def filter_row(ft, row, prev, bpp):
    out = bytearray(len(row))
    for i, x in enumerate(row):
        a = row[i - bpp] if i >= bpp else 0
        b = prev[i]
        c = prev[i - bpp] if i >= bpp else 0
        pred = [0, a, b, (a + b) // 2, paeth(a, b, c)][ft]
        out[i] = (x - pred) & 0xff
    return bytes([ft]) + bytes(out)


def encode(samples, ctype, depth, interlace=False, plte=None, trns=None,
           extra=b""):
    """samples: (h, w, channels) array of raw sample values."""
    h, w, ch = samples.shape
    bpp = max(1, ch * depth // 8)
    raw = bytearray()
    for (x0, y0, dx, dy) in (ADAM7 if interlace else [(0, 0, 1, 1)]):
        sub = samples[y0::dy, x0::dx]
        if sub.shape[0] == 0 or sub.shape[1] == 0:
            continue
        prev = None
        for k, r in enumerate(sub):
            row = pack_row(r.reshape(-1), depth)
            if prev is None:
                prev = bytes(len(row))
            raw += filter_row(k % 5, row, prev, bpp)
            prev = row
    png = b"\x89PNG\r\n\x1a\n"
    png += chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, ctype, 0, 0,
                                      1 if interlace else 0))
    png += extra
    if plte is not None:
        png += chunk(b"PLTE", bytes(np.asarray(plte, np.uint8).reshape(-1)))
    if trns is not None:
        png += chunk(b"tRNS", trns)
    data = zlib.compress(bytes(raw), 9)
    # two IDAT chunks, to cross a chunk boundary inside the zlib stream
    half = len(data) // 2
    png += chunk(b"IDAT", data[:half]) + chunk(b"IDAT", data[half:])
    png += chunk(b"IEND", b"")
    return png


def luma(rgb):
    rgb = rgb.astype(np.int64)
    return ((19595 * rgb[..., 0] + 38470 * rgb[..., 1] + 7471 * rgb[..., 2]
             + 32768) >> 16).astype(np.uint8)


def expected_gray(samples, ctype, depth, plte=None):
    s = samples.astype(np.int64)
    if ctype == 3:
        return luma(np.asarray(plte, np.int64)[s[..., 0]])
    if depth == 16:
        s = s >> 8
    elif depth < 8:
        s = s * 255 // ((1 << depth) - 1)
    if ctype in (0, 4):
        return s[..., 0].astype(np.uint8)
    return luma(s[..., :3])


def write_pgm(path, g):
    with open(path, "wb") as f:
        f.write(b"P5\n%d %d\n255\n" % (g.shape[1], g.shape[0]))
        f.write(g.astype(np.uint8).tobytes())


def main():
    rng = np.random.RandomState(20240601)
    y, x = np.mgrid[0:H, 0:W]
    fixtures = {}

    def smooth(maxv, ch):
        # gradients plus noise: every filter type has work to do
        base = np.stack([(x * 7 + y * 11 + 40 * c) for c in range(ch)], -1)
        noise = rng.randint(0, max(2, maxv // 8), size=(H, W, ch))
        return ((base * maxv // 400 + noise) % (maxv + 1)).astype(np.int64)

    def add(name, samples, ctype, depth, **kw):
        fixtures[name] = (samples, ctype, depth, kw)

    for d in (1, 2, 4, 8, 16):
        add("gray%d" % d, smooth((1 << d) - 1, 1), 0, d)
    add("graya8", smooth(255, 2), 4, 8)
    add("graya16", smooth(65535, 2), 4, 16)
    add("rgb8", smooth(255, 3), 2, 8)
    add("rgb16", smooth(65535, 3), 2, 16)
    add("rgba8", smooth(255, 4), 6, 8)
    add("rgba16", smooth(65535, 4), 6, 16)
    # like NIH's 519 RGBA images: R=G=B, alpha 255
    g = smooth(255, 1)
    add("rgba8_gray", np.concatenate([g, g, g, np.full_like(g, 255)], -1), 6, 8)
    for d in (1, 2, 4, 8):
        n = min(1 << d, 200)
        plte = rng.randint(0, 256, size=(n, 3))
        add("pal%d" % d, rng.randint(0, n, size=(H, W, 1)), 3, d, plte=plte)
    plte = rng.randint(0, 256, size=(16, 3))
    add("pal4_trns", rng.randint(0, 16, size=(H, W, 1)), 3, 4, plte=plte,
        trns=bytes(rng.randint(0, 256, size=16).astype(np.uint8)))
    add("gray8_trns", smooth(255, 1), 0, 8, trns=struct.pack(">H", 17))
    add("rgb8_gamma", smooth(255, 3), 2, 8,
        extra=chunk(b"gAMA", struct.pack(">I", 45455)) + chunk(b"sRGB", b"\0"))
    add("gray8_i", smooth(255, 1), 0, 8, interlace=True)
    add("gray1_i", smooth(1, 1), 0, 1, interlace=True)
    add("gray16_i", smooth(65535, 1), 0, 16, interlace=True)
    add("rgb8_i", smooth(255, 3), 2, 8, interlace=True)
    add("rgba16_i", smooth(65535, 4), 6, 16, interlace=True)
    add("pal4_i", rng.randint(0, 16, size=(H, W, 1)), 3, 4, interlace=True,
        plte=rng.randint(0, 256, size=(16, 3)))

    os.makedirs(os.path.join(HERE, "expected"), exist_ok=True)
    for name, (samples, ctype, depth, kw) in sorted(fixtures.items()):
        png = encode(samples, ctype, depth, kw.get("interlace", False),
                     kw.get("plte"), kw.get("trns"), kw.get("extra", b""))
        with open(os.path.join(HERE, name + ".png"), "wb") as f:
            f.write(png)
        write_pgm(os.path.join(HERE, "expected", name + ".pgm"),
                  expected_gray(samples, ctype, depth, kw.get("plte")))
    # 1x1, the smallest image
    with open(os.path.join(HERE, "tiny.png"), "wb") as f:
        f.write(encode(np.array([[[200]]]), 0, 8))
    write_pgm(os.path.join(HERE, "expected", "tiny.pgm"), np.array([[200]]))

    # Bad files.
    good = encode(smooth(255, 1), 0, 8)
    bad = os.path.join(HERE, "bad")
    os.makedirs(bad, exist_ok=True)

    def put(name, data):
        with open(os.path.join(bad, name), "wb") as f:
            f.write(data)
    put("notpng.png", b"this is not a PNG file\n")
    put("empty.png", b"")
    put("truncated.png", good[:len(good) // 2])
    put("noiend.png", good[:-12])
    crc = bytearray(good)
    iend = len(good) - 12
    crc[iend - 1] ^= 0xff  # the last IDAT's CRC
    put("crc.png", bytes(crc))
    sig = b"\x89PNG\r\n\x1a\n"
    ihdr = lambda w, h: chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
    put("badzlib.png", sig + ihdr(W, H) + chunk(b"IDAT", b"\x12\x34garbage")
        + chunk(b"IEND", b""))
    tiny_idat = chunk(b"IDAT", zlib.compress(b"\0" * 64))
    # over the width limit (32768), and over the pixel limit (2^28) while
    # within the width and height limits: refused before any allocation
    put("wide.png", sig + ihdr(40000, 1) + tiny_idat + chunk(b"IEND", b""))
    put("huge.png", sig + ihdr(32768, 8193) + tiny_idat + chunk(b"IEND", b""))

    check_pillow(fixtures)


def check_pillow(fixtures):
    try:
        from PIL import Image
    except ImportError:
        print("PIL missing: fixtures written, not checked against Pillow")
        return
    bad = 0
    for name in sorted(fixtures) + ["tiny"]:
        want = read_pgm(os.path.join(HERE, "expected", name + ".pgm"))
        got = np.asarray(Image.open(os.path.join(HERE, name + ".png")).convert("L"))
        d = int(np.abs(got.astype(int) - want).max())
        clipped = name.startswith("gray16")
        print("%-12s max |Pillow - expected| = %3d%s" % (
            name, d, "  (Pillow clips 16-bit gray)" if clipped else ""))
        if d and not clipped:
            bad += 1
    if bad:
        sys.exit("%d fixtures disagree with Pillow" % bad)


def read_pgm(path):
    with open(path, "rb") as f:
        data = f.read()
    # "P5\nW H\n255\n" then the pixels (write_pgm's own header)
    head = data.split(b"\n", 3)
    w, h = map(int, head[1].split())
    return np.frombuffer(head[3], np.uint8).reshape(h, w)


if __name__ == "__main__":
    main()
