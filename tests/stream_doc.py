#!/usr/bin/python3
"""stream_doc -- an independent reader and writer of the cxr tensor stream,
written from man/cxr-stream.5 alone (Python standard library plus the zstd
command line tool), so the tests can prove that the page is precise enough
for another program to read and write the format.

  stream_doc.py list FILE      the records as TSV, like `cxr-pack -t`
  stream_doc.py dump FILE      image, dtype, shape, sha256 of the pixels
  stream_doc.py frames FILE    checks that every zstd frame holds one chunk,
                               with a content checksum and content size
  stream_doc.py index FILE     parses a pack's seek index; checks it and
                               lists the records it points at, in its order
  stream_doc.py write OUT [options]   writes a stream (see write --help)
  stream_doc.py png FILE...    name, WxH, sha256 of an 8-bit gray PNG's pixels
  stream_doc.py crc            CRC-32C self-test
  stream_doc.py example PAGE OUT   checks the EXAMPLES hexdump of the page
                               against this writer; writes it as a stream

A format error prints "stream_doc: FILE: record N: what" and exits 1.
"""
import argparse
import hashlib
import math
import os
import struct
import subprocess
import sys
import zlib

HEADER = "image\tlabel\tfindings\tpatient\tfollowup\tage\tsex\tview\tshape"
MAX_STRING = 4096
MAX_TENSOR = 256 << 20
DTYPES = {1: ("u8", 1), 2: ("u16", 2), 3: ("f32", 4)}
DTYPE_CODE = {"u8": 1, "u16": 2, "f32": 3}
SKIP_MIN, SKIP_MAX = 0x184D2A50, 0x184D2A5F
ZSTD_MAGIC = 0xFD2FB528
INDEX_MAGIC = 0x184D2A5C


class FormatError(Exception):
    pass


# ---- CRC-32C (Castagnoli, reflected 0x82F63B78, init and xor 0xffffffff) ----

_CRC_TABLE = []
for _i in range(256):
    _c = _i
    for _ in range(8):
        _c = (_c >> 1) ^ 0x82F63B78 if _c & 1 else _c >> 1
    _CRC_TABLE.append(_c)


def crc32c(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc = _CRC_TABLE[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


# ---- zstd through the command line tool ----

def zstd_decompress(data):
    p = subprocess.run(["zstd", "-q", "-dc"], input=data, capture_output=True)
    if p.returncode:
        raise FormatError("zstd -d: " + p.stderr.decode(errors="replace").strip())
    return p.stdout


def zstd_compress(data, level):
    # --stream-size makes zstd write the content size into the frame header;
    # the checksum is zstd's default, --check says so explicitly.
    p = subprocess.run(["zstd", "-q", "-c", "--check", "-%d" % level,
                        "--stream-size=%d" % len(data)],
                       input=data, capture_output=True, check=True)
    return p.stdout


# ---- records ----

class Cursor:
    def __init__(self, b):
        self.b, self.p = b, 0

    def take(self, n):
        if self.p + n > len(self.b):
            raise FormatError("record is cut short")
        s = self.b[self.p:self.p + n]
        self.p += n
        return s

    def u(self, fmt):
        return struct.unpack("<" + fmt, self.take(struct.calcsize(fmt)))[0]

    def string(self):
        n = self.u("H")
        if n > MAX_STRING:
            raise FormatError("string of %d bytes is over the limit" % n)
        s = self.take(n)
        if b"\0" in s:
            raise FormatError("string holds a NUL byte")
        return s


def undelta(data, row):
    out = bytearray(data)
    for i in range(0, len(out), row):
        for j in range(i + 1, i + row):
            out[j] = (out[j] + out[j - 1]) & 0xFF
    return bytes(out)


def delta(data, row):
    out = bytearray(data)
    for i in range(0, len(data), row):
        for j in range(i + 1, i + row):
            out[j] = (data[j] - data[j - 1]) & 0xFF
    return bytes(out)


def parse_record(body):
    c = Cursor(body)
    dtype, ndim, filt, label, sex = (c.u("B") for _ in range(5))
    c.take(3)
    followup = c.u("I")
    c.take(4)
    age = c.u("d")
    if dtype not in DTYPES or not 1 <= ndim <= 4 or filt not in (0, 1) or \
            (filt == 1 and dtype != 1):
        raise FormatError("bad record header (dtype %d, ndim %d, filter %d)"
                          % (dtype, ndim, filt))
    dims = [c.u("I") for _ in range(ndim)]
    name, image, findings, patient, view = (c.string() for _ in range(5))
    nbytes = c.u("Q")
    want = DTYPES[dtype][1]
    for d in dims:
        if d == 0:
            raise FormatError("zero dimension")
        want *= d
    if want > MAX_TENSOR or nbytes != want or len(body) - c.p != want:
        raise FormatError("data of %d bytes does not match the shape" % nbytes)
    data = body[c.p:]
    if filt == 1:
        data = undelta(data, dims[-1])
    return {
        "dtype": DTYPES[dtype][0], "dims": dims, "name": name, "image": image,
        "findings": findings, "patient": patient, "view": view,
        "label": label if label in (0, 1) else None,
        "sex": {77: "M", 70: "F"}.get(sex),
        "followup": None if followup > 0x7FFFFFFF else followup,
        "age": None if math.isnan(age) else age, "data": data,
    }


def parse_chunks(raw):
    """Yields the records of the decompressed content raw (one or several
    streams); raises FormatError naming the record on any breach."""
    p, in_stream, seen, count, total = 0, False, False, 0, 0
    while True:
        where = "record %d" % (total + 1)
        if p == len(raw):
            if in_stream:
                raise FormatError("stream ends after record %d without its end "
                                  "marker" % total)
            if not seen:
                raise FormatError("empty input")
            return
        if p + 8 > len(raw):
            raise FormatError(where + ": input ends inside a chunk header")
        tag, n = raw[p:p + 4], struct.unpack_from("<I", raw, p + 4)[0]
        body = raw[p + 8:p + 8 + n]
        if len(body) != n:
            raise FormatError(where + ": input ends inside a chunk")
        p += 8 + n
        if tag == b"CXRS":
            if in_stream:
                raise FormatError(where + ": stream header inside a stream")
            if n < 2 or struct.unpack_from("<H", body)[0] != 1:
                raise FormatError("unsupported stream version")
            in_stream, seen, count = True, True, 0
        elif not in_stream:
            raise FormatError(where + ": %r chunk outside a stream" % tag)
        elif tag == b"CXRE":
            if n < 8 or struct.unpack_from("<Q", body)[0] != count:
                raise FormatError(where + ": end marker count mismatch")
            in_stream = False
        elif tag == b"CXRR":
            try:
                rec = parse_record(body)
            except FormatError as e:
                raise FormatError("%s: %s" % (where, e))
            count += 1
            total += 1
            yield rec
        else:
            raise FormatError(where + ": bad chunk tag %r" % tag)


def fmt_num(v):
    return "-" if v is None else "%.10g" % v


def text(s):
    if isinstance(s, bytes):
        s = s.decode("utf-8", errors="surrogateescape")
    return s or "-"


def tsv_line(r):
    return "\t".join([
        text(r["image"]), "-" if r["label"] is None else str(r["label"]),
        text(r["findings"]), text(r["patient"]),
        "-" if r["followup"] is None else str(r["followup"]), fmt_num(r["age"]),
        r["sex"] or "-", text(r["view"]), "x".join(map(str, r["dims"]))])


def dump_line(r):
    return "\t".join([text(r["image"]), r["dtype"], "x".join(map(str, r["dims"])),
                      hashlib.sha256(r["data"]).hexdigest()])


def out(s):
    sys.stdout.buffer.write(s.encode("utf-8", errors="surrogateescape") + b"\n")


def read_file(path):
    if path == "-":
        return sys.stdin.buffer.read()
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        raise FormatError(e.strerror)


# ---- frames, walked by their headers (RFC 8878) without decompressing ----

def walk_frames(data):
    """Yields (offset, length, kind, has_checksum, content_size or None)."""
    p = 0
    while p < len(data):
        if p + 8 > len(data):
            raise FormatError("frame at %d is cut short" % p)
        magic = struct.unpack_from("<I", data, p)[0]
        if SKIP_MIN <= magic <= SKIP_MAX:
            n = struct.unpack_from("<I", data, p + 4)[0]
            yield p, 8 + n, "skip", False, None
            p += 8 + n
            continue
        if magic != ZSTD_MAGIC:
            raise FormatError("no zstd frame at %d" % p)
        q = p + 4
        fhd = data[q]
        q += 1
        fcs_flag, single, checksum, dict_flag = fhd >> 6, fhd >> 5 & 1, fhd >> 2 & 1, fhd & 3
        if not single:
            q += 1
        q += (0, 1, 2, 4)[dict_flag]
        fcs_len = (1 if single else 0, 2, 4, 8)[fcs_flag]
        size = None
        if fcs_len:
            size = int.from_bytes(data[q:q + fcs_len], "little") + (256 if fcs_len == 2 else 0)
        q += fcs_len
        while True:
            if q + 3 > len(data):
                raise FormatError("frame at %d is cut short" % p)
            bh = int.from_bytes(data[q:q + 3], "little")
            last, btype, bsize = bh & 1, bh >> 1 & 3, bh >> 3
            q += 3 + (1 if btype == 1 else bsize)
            if last:
                break
        q += 4 if checksum else 0
        if q > len(data):
            raise FormatError("frame at %d is cut short" % p)
        yield p, q - p, "zstd", bool(checksum), size
        p = q


def cmd_frames(path):
    data = read_file(path)
    nframes = nskip = 0
    for off, n, kind, checksum, size in walk_frames(data):
        if kind == "skip":
            nskip += 1
            continue
        nframes += 1
        if not checksum or size is None:
            raise FormatError("frame at %d: no content checksum or no content size" % off)
        raw = zstd_decompress(data[off:off + n])
        if len(raw) != size:
            raise FormatError("frame at %d: content size %d, holds %d" % (off, size, len(raw)))
        if len(raw) < 8 or struct.unpack_from("<I", raw, 4)[0] != len(raw) - 8 or \
                raw[:4] not in (b"CXRS", b"CXRR", b"CXRE"):
            raise FormatError("frame at %d does not hold exactly one chunk" % off)
    out("frames %d skippable %d" % (nframes, nskip))


# ---- the seek index ----

def cmd_index(path):
    data = read_file(path)
    if len(data) < 16 or data[-4:] != b"CXRX":
        raise FormatError("no CXRX footer")
    fsize = struct.unpack_from("<I", data, len(data) - 8)[0]
    if fsize < 36 or fsize > len(data):
        raise FormatError("bad index frame size %d" % fsize)
    ix = data[len(data) - fsize:]
    magic, content = struct.unpack_from("<II", ix)
    if magic != INDEX_MAGIC or content != fsize - 8 or ix[8:12] != b"CXRI":
        raise FormatError("bad index frame header")
    version, n = struct.unpack_from("<IQ", ix, 12)
    if version != 1 or fsize != 12 * n + 36:
        raise FormatError("bad index version %d or count %d" % (version, n))
    body = ix[8:24 + 12 * n]
    crc = struct.unpack_from("<I", ix, 24 + 12 * n)[0]
    if crc32c(body) != crc:
        raise FormatError("index CRC-32C mismatch")
    out(HEADER)
    prev = 0
    for k in range(n):
        off, size = struct.unpack_from("<QI", ix, 24 + 12 * k)
        if off + size > len(data) - fsize or off < prev:
            raise FormatError("index entry %d points outside the records" % (k + 1))
        prev = off + size
        frames = list(walk_frames(data[off:off + size]))
        if len(frames) != 1 or frames[0][1] != size:
            raise FormatError("index entry %d is not one whole frame" % (k + 1))
        raw = zstd_decompress(data[off:off + size])
        if raw[:4] != b"CXRR" or struct.unpack_from("<I", raw, 4)[0] != len(raw) - 8:
            raise FormatError("index entry %d does not point at a record" % (k + 1))
        out(tsv_line(parse_record(raw[8:])))


# ---- writer ----

def chunk(tag, body):
    return tag + struct.pack("<I", len(body)) + body


def string(s):
    b = s.encode("utf-8")
    return struct.pack("<H", len(b)) + b


def record_body(r, filt):
    code = DTYPE_CODE[r["dtype"]]
    data = r["data"]
    if filt:
        data = delta(data, r["dims"][-1])
    b = struct.pack("<BBBBB3xIId", code, len(r["dims"]), filt,
                    255 if r["label"] is None else r["label"],
                    {"M": 77, "F": 70}.get(r["sex"], 0),
                    0xFFFFFFFF if r["followup"] is None else r["followup"], 0,
                    math.nan if r["age"] is None else r["age"])
    b += b"".join(struct.pack("<I", d) for d in r["dims"])
    for key in ("name", "image", "findings", "patient", "view"):
        b += string(r[key])
    return b + struct.pack("<Q", len(data)) + data


def sample(i, dtype, dims, seed):
    """Record i of a deterministic set with every kind of field value."""
    esize = DTYPES[DTYPE_CODE[dtype]][1]
    n = esize
    for d in dims:
        n *= d
    x = (seed * 2654435761 + i * 40503 + 1) & 0xFFFFFFFF
    px = bytearray(n)
    for j in range(n):
        x = (x * 1103515245 + 12345) & 0x7FFFFFFF
        px[j] = (x >> 16) & 0xFF
    if dtype == "f32":
        px = b"".join(struct.pack("<f", (v - 128) / 7.0) for v in px[:n // 4])
    k = i % 4
    return {
        "dtype": dtype, "dims": dims, "name": "image", "data": bytes(px),
        "image": ["%05d_%03d.png" % (i + 1, i % 3), "r\u00f6ntgen_%d.png" % i,
                  "x%d" % i, "img %d.png" % i][k],
        "label": [0, 1, None, 1][k],
        "findings": ["No Finding", "Effusion|Mass", "", "Cardiomegaly"][k],
        "patient": ["%d" % (i + 1), "12345", "", "7"][k],
        "followup": [i, 0, None, 2147483647][k],
        "age": [58.0, 0.5, None, 101.25][k],
        "sex": ["M", "F", None, "F"][k],
        "view": ["PA", "AP", "", "LL"][k],
    }


def cmd_write(a):
    dims = [int(d) for d in a.shape.split("x")]
    filt = a.filter if a.filter is not None else (1 if a.dtype == "u8" else 0)
    recs = [sample(a.first + i, a.dtype, dims, a.seed) for i in range(a.records)]
    if a.bad == "longstring":
        recs[-1]["findings"] = "F" * (MAX_STRING + 1)
    chunks = [chunk(b"CXRS", struct.pack("<HHI", 1 if a.bad != "version" else 2, 0, 0))]
    for i, r in enumerate(recs):
        body = record_body(r, filt)
        last = i == len(recs) - 1
        if last and a.bad == "nbytes":
            body = body[:-1]
        if last and a.bad == "zerodim":
            body = body[:24] + struct.pack("<I", 0) + body[28:]
        if last and a.bad == "dtype":
            body = b"\x09" + body[1:]
        if last and a.bad == "filter":
            body = body[:2] + b"\x02" + body[3:]
        chunks.append(chunk(b"CXRR", body))
    if a.bad == "tag":
        chunks[-1] = b"CXRQ" + chunks[-1][4:]
    if a.bad != "noend":
        chunks.append(chunk(b"CXRE", struct.pack("<Q", len(recs) + (a.bad == "count"))))
    blob = b""
    for i, c in enumerate(chunks):
        frame = zstd_compress(c, a.level)
        if a.bad == "checksum" and i == len(chunks) - 2:
            frame = frame[:-1] + bytes([frame[-1] ^ 0xFF])
        blob += frame
        if a.skippable and i < len(chunks) - 1:
            blob += struct.pack("<II", 0x184D2A5E, 5) + b"skip!"
    if a.bad == "cut":
        blob = blob[:len(blob) - 10]
    with open(a.out, "wb") as f:
        f.write(blob)
    if a.expect:
        with open(a.expect, "w", encoding="utf-8") as f:
            f.write(HEADER + "\n" + "".join(tsv_line(r) + "\n" for r in recs))
    if a.expect_dump:
        with open(a.expect_dump, "w", encoding="utf-8") as f:
            f.write("".join(dump_line(r) + "\n" for r in recs))


# ---- a minimal PNG decoder for 8-bit gray, non-interlaced ----

def png_gray(path):
    data = read_file(path)
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise FormatError("%s: not a PNG" % path)
    p, idat, w = 8, b"", None
    while p < len(data):
        n, typ = struct.unpack_from(">I4s", data, p)
        body = data[p + 8:p + 8 + n]
        if zlib.crc32(typ + body) != struct.unpack_from(">I", data, p + 8 + n)[0]:
            raise FormatError("%s: %s chunk CRC mismatch" % (path, typ))
        if typ == b"IHDR":
            w, h, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", body)
            if depth != 8 or ctype != 0 or interlace:
                raise FormatError("%s: not an 8-bit gray non-interlaced PNG" % path)
        elif typ == b"IDAT":
            idat += body
        p += 12 + n
    raw = zlib.decompress(idat)
    px, prev = bytearray(), bytearray(w)
    for y in range(h):
        f, line = raw[y * (w + 1)], bytearray(raw[y * (w + 1) + 1:(y + 1) * (w + 1)])
        for x in range(w):
            a = line[x - 1] if x else 0
            b = prev[x]
            c = prev[x - 1] if x else 0
            if f == 1:
                line[x] = (line[x] + a) & 0xFF
            elif f == 2:
                line[x] = (line[x] + b) & 0xFF
            elif f == 3:
                line[x] = (line[x] + (a + b) // 2) & 0xFF
            elif f == 4:
                pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
                pr = a if pa <= pb and pa <= pc else b if pb <= pc else c
                line[x] = (line[x] + pr) & 0xFF
        px += line
        prev = line
    return w, h, bytes(px)


def cmd_example(page, path):
    """The record of the page's EXAMPLES section: its hexdump must be what
    this writer makes of the values the page states."""
    raw = b""
    with open(page, encoding="utf-8") as f:
        for line in f:
            if len(line) > 10 and line[8:10] == ": " and \
                    all(c in "0123456789abcdef" for c in line[:8]):
                raw += bytes.fromhex(line[10:].split("  ")[0].replace(" ", ""))
    r = {"dtype": "u8", "dims": [1, 2, 3], "name": "image",
         "data": bytes([10, 12, 11, 200, 0, 255]), "image": "a.png", "label": 1,
         "findings": "Effusion", "patient": "3", "followup": 1, "age": 58.0,
         "sex": "M", "view": "PA"}
    chunks = [chunk(b"CXRS", struct.pack("<HHI", 1, 0, 0)),
              chunk(b"CXRR", record_body(r, 1)),
              chunk(b"CXRE", struct.pack("<Q", 1))]
    if raw != b"".join(chunks):
        raise FormatError("the EXAMPLES hexdump (%d bytes) is not the record the "
                          "page describes" % len(raw))
    recs = list(parse_chunks(raw))
    if len(recs) != 1 or tsv_line(recs[0]) != tsv_line(r) or recs[0]["data"] != r["data"]:
        raise FormatError("the EXAMPLES hexdump does not read back")
    with open(path, "wb") as f:
        f.write(b"".join(zstd_compress(c, 3) for c in chunks))
    with open(path + ".raw", "wb") as f:
        f.write(raw)


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    cmd, args = sys.argv[1], sys.argv[2:]
    try:
        if cmd in ("list", "dump"):
            path = args[0] if args else "-"
            raw = zstd_decompress(read_file(path))
            if cmd == "list":
                out(HEADER)
            for r in parse_chunks(raw):
                out(tsv_line(r) if cmd == "list" else dump_line(r))
        elif cmd == "frames":
            cmd_frames(args[0])
        elif cmd == "index":
            cmd_index(args[0])
        elif cmd == "png":
            for path in args:
                w, h, px = png_gray(path)
                out("%s\t%dx%d\t%s" % (os.path.basename(path), w, h,
                                        hashlib.sha256(px).hexdigest()))
        elif cmd == "crc":
            got = crc32c(b"123456789")
            if got != 0xE3069283:
                raise FormatError("CRC-32C check value %#x" % got)
            out("crc32c ok")
        elif cmd == "example":
            cmd_example(args[0], args[1])
        elif cmd == "write":
            ap = argparse.ArgumentParser(prog="stream_doc.py write")
            ap.add_argument("out")
            ap.add_argument("--records", type=int, default=5)
            ap.add_argument("--first", type=int, default=0, help="number of the first sample")
            ap.add_argument("--shape", default="1x6x7")
            ap.add_argument("--dtype", default="u8", choices=sorted(DTYPE_CODE))
            ap.add_argument("--filter", type=int, choices=(0, 1))
            ap.add_argument("--level", type=int, default=3)
            ap.add_argument("--seed", type=int, default=1)
            ap.add_argument("--skippable", action="store_true",
                            help="a skippable frame after every frame but the last")
            ap.add_argument("--bad", choices=("version", "longstring", "nbytes", "zerodim",
                                              "dtype", "filter", "tag", "noend", "count",
                                              "checksum", "cut"),
                            help="break the last record or the stream this way")
            ap.add_argument("--expect", help="write the expected `cxr-pack -t` listing here")
            ap.add_argument("--expect-dump", help="write the expected dump here")
            cmd_write(ap.parse_args(args))
        else:
            sys.exit(__doc__)
    except FormatError as e:
        name = args[0] if args else "stdin"
        sys.stderr.write("stream_doc: %s: %s\n" % (name, e))
        sys.exit(1)


if __name__ == "__main__":
    main()
