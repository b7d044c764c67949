#!/usr/bin/python3
"""pack_reader -- read a cxr tensor stream or pack (man/cxr-stream.5) into
numpy arrays, for the reference scripts in bench/.

It reads sequentially: the whole file goes through one `zstd -dc` (which
checks every frame's checksum and skips the seek index, a skippable
frame), then the chunks are parsed one after another.  That is one process
for the whole file instead of one per record, and the delta filter is
undone with numpy, so a few thousand 64x64 images load in a second.

    images, labels, names = read_images(path)
        images  uint8 (N, H, W)  (1-channel u8 records only)
        labels  float32 (N)      0, 1, or NaN for unknown
        names   list of N image file names, in file order

  pack_reader.py FILE    prints the record count, shape and positives
"""
import struct
import subprocess
import sys

import numpy as np

DTYPE_SIZE = {1: 1, 2: 2, 3: 4}
MAX_STRING = 4096


class FormatError(Exception):
    pass


def _decompress(path):
    p = subprocess.run(["zstd", "-q", "-dc", "--", path], capture_output=True)
    if p.returncode:
        raise FormatError("%s: zstd -d: %s" % (path, p.stderr.decode(errors="replace").strip()))
    return p.stdout


def read_images(path):
    raw = _decompress(path)
    mv = memoryview(raw)
    pos, nrec, in_stream = 0, 0, False
    pixels, labels, names = [], [], []
    shape = None
    while pos < len(raw):
        if pos + 8 > len(raw):
            raise FormatError("%s: input ends inside a chunk" % path)
        tag = bytes(mv[pos:pos + 4])
        (n,) = struct.unpack_from("<I", raw, pos + 4)
        body_at, pos = pos + 8, pos + 8 + n
        if pos > len(raw):
            raise FormatError("%s: record %d: chunk cut short" % (path, nrec + 1))
        if tag == b"CXRS":
            (version,) = struct.unpack_from("<H", raw, body_at)
            if in_stream or version != 1:
                raise FormatError("%s: bad stream header (version %d)" % (path, version))
            in_stream, count = True, 0
        elif tag == b"CXRE":
            (want,) = struct.unpack_from("<Q", raw, body_at)
            if not in_stream or want != count:
                raise FormatError("%s: end marker counts %d records, read %d"
                                  % (path, want, count))
            in_stream = False
        elif tag == b"CXRR":
            nrec += 1
            count += 1
            if not in_stream:
                raise FormatError("%s: record %d outside a stream" % (path, nrec))
            dtype, ndim, filt, label = struct.unpack_from("<4B", raw, body_at)
            if dtype != 1 or ndim != 3:
                raise FormatError("%s: record %d: not a u8 CxHxW image" % (path, nrec))
            dims = struct.unpack_from("<3I", raw, body_at + 24)
            if dims[0] != 1:
                raise FormatError("%s: record %d: %d channels, not 1" % (path, nrec, dims[0]))
            p = body_at + 24 + 12
            strs = []
            for _ in range(5):  # tensor name, image, findings, patient, view
                (sl,) = struct.unpack_from("<H", raw, p)
                if sl > MAX_STRING:
                    raise FormatError("%s: record %d: string too long" % (path, nrec))
                strs.append(bytes(mv[p + 2:p + 2 + sl]).decode("utf-8", "replace"))
                p += 2 + sl
            (nbytes,) = struct.unpack_from("<Q", raw, p)
            p += 8
            if nbytes != dims[1] * dims[2] or p + nbytes != pos:
                raise FormatError("%s: record %d: data does not match the shape" % (path, nrec))
            if shape is None:
                shape = dims[1:]
            elif dims[1:] != shape:
                raise FormatError("%s: record %d: shape %dx%d, the first was %dx%d"
                                  % (path, nrec, dims[1], dims[2], shape[0], shape[1]))
            px = np.frombuffer(raw, np.uint8, nbytes, p).reshape(shape)
            if filt == 1:
                # running sum mod 256 along each row undoes the delta filter
                px = np.cumsum(px, axis=1, dtype=np.uint8)
            elif filt != 0:
                raise FormatError("%s: record %d: unknown filter %d" % (path, nrec, filt))
            pixels.append(px)
            labels.append(float(label) if label in (0, 1) else float("nan"))
            names.append(strs[1])
        else:
            raise FormatError("%s: unknown chunk tag %r" % (path, tag))
    if in_stream:
        raise FormatError("%s: input ends before the end marker" % path)
    if not pixels:
        raise FormatError("%s: no records" % path)
    return np.stack(pixels), np.array(labels, np.float32), names


if __name__ == "__main__":
    for f in sys.argv[1:]:
        x, y, _ = read_images(f)
        print("%s\t%d records\t%dx%d\t%d positive" % (f, len(x), x.shape[1], x.shape[2],
                                                      int(np.nansum(y))))
