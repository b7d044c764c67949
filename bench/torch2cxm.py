#!/usr/bin/python3
"""Write a PyTorch state_dict of the cxr network as a .cxm model file, or back.

    torch2cxm.py [--state FILE.pt] [--width W] [--size HxW] [--seed S]
                 [--threshold T] [--meta KEY=VALUE]... -o OUT.cxm
    torch2cxm.py --to-torch IN.cxm -o OUT.pt

Without --state the network is freshly initialised (torchvision's init,
seeded), which gives the C engine and PyTorch the same starting weights.
The format is man/cxr-model.5; bench/cxm.py is a complete writer in 50
lines of Python.  Tensors keep the state_dict's names, order and layouts;
num_batches_tracked is left out.
"""

import argparse
import datetime
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cxm  # noqa: E402
import cxrnet  # noqa: E402


def size(s):
    h, _, w = s.partition("x")
    return int(h), int(w or h)


def created():
    """ISO 8601 UTC; SOURCE_DATE_EPOCH fixes it for reproducible files."""
    t = os.environ.get("SOURCE_DATE_EPOCH")
    when = (datetime.datetime.fromtimestamp(int(t), datetime.timezone.utc) if t
            else datetime.datetime.now(datetime.timezone.utc))
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def load_state(path):
    sd = torch.load(path, map_location="cpu")
    for key in ("state_dict", "model"):
        if isinstance(sd, dict) and isinstance(sd.get(key), dict):
            sd = sd[key]
    return {k.removeprefix("module."): v for k, v in sd.items()}


def to_cxm(a):
    if a.state:
        sd = load_state(a.state)
        if "fc1.weight" not in sd:
            sys.exit("torch2cxm: %s: no fc1.weight; not a cxr network's state_dict" % a.state)
        width = a.width or sd["fc1.weight"].shape[1] / 2048
        in_ch = sd["conv1.weight"].shape[1]
        model = cxrnet.CxrNet(width, in_ch)
        missing, unexpected = model.load_state_dict(sd, strict=False)
        missing = [k for k in missing if not k.endswith("num_batches_tracked")]
        if missing or unexpected:
            sys.exit("torch2cxm: %s: does not fit the W=%g network: missing %s, unexpected %s"
                     % (a.state, width, missing[:5], unexpected[:5]))
    else:
        width, in_ch = a.width or 1.0, 1
        torch.manual_seed(a.seed)
        model = cxrnet.CxrNet(width, in_ch)
    h, w = a.size
    meta = cxrnet.arch_meta(width, h, w, in_ch)
    meta["threshold"] = repr(a.threshold)
    if not a.state:
        meta["seed"] = str(a.seed)
    meta["tool_version"] = "torch2cxm.py torch %s" % torch.__version__
    meta["created"] = created()
    for kv in a.meta:
        k, eq, v = kv.partition("=")
        if not eq or not k:
            sys.exit("torch2cxm: --meta %s: expected KEY=VALUE" % kv)
        meta[k] = v
    tensors = cxrnet.state_tensors(model)
    cxm.save(a.output, meta, tensors)
    print("%s: %d tensors, W=%g, digest %s, fc2.bias %r" % (
        a.output, len(tensors), width, cxm.digest(a.output), float(tensors["fc2.bias"][0])))


def to_torch(a):
    meta, tensors = cxm.load(a.to_torch)
    model = cxrnet.from_meta(meta)
    sd = {k: torch.from_numpy(v.copy()) for k, v in tensors.items()}
    missing, unexpected = model.load_state_dict(sd, strict=False)
    missing = [k for k in missing if not k.endswith("num_batches_tracked")]
    if missing:
        sys.exit("torch2cxm: %s: missing tensors %s" % (a.to_torch, missing[:5]))
    out = model.state_dict()
    torch.save(out, a.output)
    print("%s: %d tensors (%d extra in the file left out)" % (a.output, len(out), len(unexpected)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-o", "--output", required=True)
    ap.add_argument("--state", help="a torch.save()d state_dict of cxrnet.CxrNet")
    ap.add_argument("--to-torch", metavar="CXM", help="convert CXM to a state_dict instead")
    ap.add_argument("--width", type=float, help="width multiplier (from fc1 with --state; else 1)")
    ap.add_argument("--size", type=size, default=(256, 256), help="input H[xW] (256)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threshold", type=float, default=0.5)
    ap.add_argument("--meta", action="append", default=[], metavar="KEY=VALUE")
    a = ap.parse_args()
    to_torch(a) if a.to_torch else to_cxm(a)


if __name__ == "__main__":
    main()
