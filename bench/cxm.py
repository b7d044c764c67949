"""Read and write cxr model files (.cxm, man/cxr-model.5) from Python.

A .cxm file is one zstd frame around this content (all integers
little-endian, offsets from the start of the content):

    "CXRM"  u32 version (1)
    u32 nmeta, then per entry: u32 len, key (UTF-8), u32 len, value (UTF-8)
    u32 ntensors, then per tensor:
        u32 len, name (UTF-8), u8 dtype (1 u8, 2 u16, 3 f32), u8 ndim,
        ndim x u64 dims, zero bytes up to a multiple of 64, the data
    32 bytes: SHA-256 of everything before it

Only the standard library, numpy and the zstd command are needed, so that
any machine with PyTorch can exchange weights with the C tools.
"""

import hashlib
import os
import struct
import subprocess
import tempfile

import numpy as np

MAGIC = b"CXRM"
VERSION = 1
ALIGN = 64
DTYPES = {1: np.dtype("<u1"), 2: np.dtype("<u2"), 3: np.dtype("<f4")}
CODES = {np.dtype("uint8"): 1, np.dtype("uint16"): 2, np.dtype("float32"): 3}


def encode(meta, tensors):
    """The decompressed content for meta (dict str->str, in order) and
    tensors (dict name -> numpy array of uint8, uint16 or float32)."""
    out = bytearray()
    out += MAGIC + struct.pack("<I", VERSION)
    out += struct.pack("<I", len(meta))
    for k, v in meta.items():
        for s in (str(k), str(v)):
            b = s.encode("utf-8")
            out += struct.pack("<I", len(b)) + b
    out += struct.pack("<I", len(tensors))
    for name, a in tensors.items():
        a = np.asarray(a)
        if a.dtype not in CODES:
            raise ValueError("%s: dtype %s not storable (uint8, uint16, float32)"
                             % (name, a.dtype))
        b = name.encode("utf-8")
        out += struct.pack("<I", len(b)) + b
        out += struct.pack("<BB", CODES[a.dtype], a.ndim)
        out += struct.pack("<%dQ" % a.ndim, *a.shape)
        out += bytes(-len(out) % ALIGN)
        out += np.ascontiguousarray(a, dtype=a.dtype.newbyteorder("<")).tobytes()
    out += hashlib.sha256(out).digest()
    return bytes(out)


def decode(content, path="<content>"):
    """(meta, tensors) from decompressed content; raises ValueError."""
    if len(content) < 12 + 32 or content[:4] != MAGIC:
        raise ValueError("%s: not a cxr model file" % path)
    (version,) = struct.unpack_from("<I", content, 4)
    if version != VERSION:
        raise ValueError("%s: format version %d, expected %d" % (path, version, VERSION))
    body, digest = content[:-32], content[-32:]
    if hashlib.sha256(body).digest() != digest:
        raise ValueError("%s: content checksum mismatch" % path)
    pos = 8

    def u32():
        nonlocal pos
        (v,) = struct.unpack_from("<I", body, pos)
        pos += 4
        return v

    def string():
        nonlocal pos
        n = u32()
        s = body[pos:pos + n]
        if len(s) != n:
            raise ValueError("%s: truncated" % path)
        pos += n
        return s.decode("utf-8")

    meta = {}
    for _ in range(u32()):
        k = string()
        meta[k] = string()
    tensors = {}
    for _ in range(u32()):
        name = string()
        code, ndim = struct.unpack_from("<BB", body, pos)
        pos += 2
        dims = struct.unpack_from("<%dQ" % ndim, body, pos)
        pos += 8 * ndim
        pos += -pos % ALIGN
        dt = DTYPES[code]
        n = int(np.prod(dims, dtype=np.int64)) * dt.itemsize
        if pos + n > len(body):
            raise ValueError("%s: %s: truncated" % (path, name))
        tensors[name] = np.frombuffer(body, dt, n // dt.itemsize, pos).reshape(dims)
        pos += n
    if pos != len(body):
        raise ValueError("%s: trailing data after the last tensor" % path)
    return meta, tensors


def save(path, meta, tensors, level=3):
    """Writes path atomically (temporary file in the same directory, then
    rename)."""
    content = encode(meta, tensors)
    # --stream-size puts the content size in the frame header: the C
    # reader then allocates once
    comp = subprocess.run(["zstd", "-q", "-c", "--check", "-%d" % level,
                           "--stream-size=%d" % len(content)],
                          input=content, stdout=subprocess.PIPE, check=True).stdout
    d = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=os.path.basename(path) + ".", dir=d)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(comp)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def load(path):
    """(meta, tensors) of a .cxm file; tensors are read-only numpy arrays."""
    with open(path, "rb") as f:
        comp = f.read()
    p = subprocess.run(["zstd", "-q", "-d", "-c"], input=comp,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if p.returncode != 0:
        raise ValueError("%s: %s" % (path, p.stderr.decode(errors="replace").strip()))
    return decode(p.stdout, path)


def digest(path):
    """The model's short digest, as cxr-score prints it."""
    with open(path, "rb") as f:
        comp = f.read()
    content = subprocess.run(["zstd", "-q", "-d", "-c"], input=comp,
                             stdout=subprocess.PIPE, check=True).stdout
    return content[-32:].hex()[:12]
