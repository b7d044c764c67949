#!/usr/bin/python3
"""keras2cxm.py — a Keras ResNet-50 saved as HDF5 into a cxr model file.

    keras2cxm.py [-q] [--size N|HxW] [--threshold T] IN.h5 OUT.cxm

Reads a Keras 2 HDF5 model (model.save("m.h5") or model.save_weights)
of keras.applications.ResNet50(include_top=False, pooling="max") with
the study's head (Dense 512 ReLU "dense", Dropout, Dense 1 sigmoid
"dense_1"), as one flat functional graph or as a Sequential holding the
ResNet as one nested layer, and writes the same network as a cxr model
file (man/cxr-model.5, arch keras-resnet50) that cxr-score scores with.

Weights are found by layer name wherever they lie below model_weights/
(model_weights/conv1_conv/conv1_conv/kernel:0 when flat,
model_weights/resnet50/conv1_conv/kernel:0 when nested; an inner group's
variable-scope suffix, conv1_conv_1/kernel:0, is read as its layer): conv1_conv,
conv1_bn, conv2_block1_0_conv ... conv5_block3_3_bn, dense, dense_1.
Convolution kernels (kh, kw, in, out) become PyTorch's (out, in, kh, kw),
dense kernels (in, out) become (out, in); batch norm's gamma, beta,
moving_mean and moving_variance become weight, bias, running_mean and
running_var.  A 3-channel stem (Keras's loaders give gray pictures three
equal channels) is summed over its input channels, which gives the same
output on a gray picture; a 1-channel stem is kept.  The width
multiplier is read from conv1_conv's filters (64: ResNet-50 itself).

--size is the input size the model is stored for (cxr-score refuses
streams of another size): default the model_config's input shape, or 256.
The network takes pixels scaled to [0, 1] (input_scale 1/255), as the
study trained it.  Needs numpy, h5py and the zstd program; bench/cxm.py
(installed beside it in PREFIX/share/cxr) writes the file.

Exit status: 0 written; 1 the input is unreadable or not such a model
(the message names the file and the layer); 2 a usage error.
"""

import json
import math
import os
import sys

PROG = "keras2cxm.py"
HERE = os.path.dirname(os.path.abspath(__file__))
# bench/cxm.py in the source tree, PREFIX/share/cxr/cxm.py once installed
for d in (os.path.join(HERE, "..", "bench"), os.path.join(HERE, "..", "share", "cxr")):
    if os.path.isfile(os.path.join(d, "cxm.py")):
        sys.path.insert(0, d)
        break

BLOCKS = (3, 4, 6, 3)
FILTERS = (64, 128, 256, 512)
ARCH = "keras-resnet50"


class Bad(Exception):
    """The input is not a model this tool converts (exit 1)."""


def usage(msg):
    sys.stderr.write("%s: %s\nTry '%s --help' for more information.\n" % (PROG, msg, PROG))
    sys.exit(2)


def parse_args(argv):
    a = {"quiet": False, "size": None, "threshold": None}
    pos = []
    i = 0
    while i < len(argv):
        s = argv[i]
        if s in ("-h", "--help"):
            sys.stdout.write("usage: " + __doc__.split("\n\n", 2)[1].strip() + "\n\n" + HELP
                             + OPTIONS)
            sys.exit(0)
        elif s in ("-q", "--quiet"):
            a["quiet"] = True
        elif s in ("--size", "--threshold") or s.startswith(("--size=", "--threshold=")):
            name, eq, val = s.partition("=")
            if not eq:
                i += 1
                if i == len(argv):
                    usage("%s needs a value" % name)
                val = argv[i]
            if name == "--size":
                h, _, w = val.partition("x")
                try:
                    h, w = int(h), int(w or h)
                except ValueError:
                    usage("--size: '%s' is not N or HxW" % val)
                if not (1 <= h <= 65536 and 1 <= w <= 65536):
                    usage("--size: '%s' is out of range [1, 65536]" % val)
                a["size"] = (h, w)
            else:
                try:
                    t = float(val)
                except ValueError:
                    usage("--threshold: '%s' is not a number" % val)
                if not 0 <= t <= 1:
                    usage("--threshold: %g is out of range [0, 1]" % t)
                a["threshold"] = t
        elif s == "--":
            pos += argv[i + 1:]
            break
        elif s.startswith("-") and s != "-":
            usage("unknown option '%s'" % s)
        else:
            pos.append(s)
        i += 1
    if len(pos) != 2:
        usage("give the Keras model IN.h5 and the output OUT.cxm")
    a["input"], a["output"] = pos
    return a


HELP = """\
Converts a Keras ResNet-50 saved as HDF5 (keras.applications.ResNet50 with
the study's head, e.g. model_nih_1.h5), flat or nested in a Sequential,
into a cxr model file (arch keras-resnet50) for cxr-score; see cxr-model(5).

"""

OPTIONS = """\
  --size N|HxW     input size the model is stored for (default: the
                   model's input shape, else 256)
  --threshold T    decision threshold on the probability (default 0.5)
  -q, --quiet      no summary on stderr
  -h, --help
"""


def text(v):
    return v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)


def resnet_layers():
    """The names of Keras's ResNet50 layers that hold weights."""
    names = ["conv1_conv", "conv1_bn"]
    for stage, n in enumerate(BLOCKS):
        for j in range(n):
            for k in (0, 1, 2, 3) if j == 0 else (1, 2, 3):
                p = "conv%d_block%d_%d_" % (stage + 2, j + 1, k)
                names += [p + "conv", p + "bn"]
    return set(names + ["dense", "dense_1"])


KNOWN = None


def layer_of(parts):
    """The layer a weight at path parts (below model_weights) belongs to:
    the group holding it, as Keras names it; where that is not a ResNet50
    layer name, the top-level group of a flat file (whose inner group may
    carry the variable scope's suffix, conv1_conv_1/kernel:0, of a model
    built twice in one session), or the group without such a suffix."""
    global KNOWN
    KNOWN = KNOWN or resnet_layers()
    parent = parts[-2]
    if parent in KNOWN:
        return parent
    if len(parts) == 3 and parts[0] in KNOWN:
        return parts[0]
    base, _, num = parent.rpartition("_")
    if num.isdigit() and base in KNOWN:
        return base
    return parent


class Weights:
    """Every weight below model_weights (or the root of a weights-only
    file), by (layer, weight): the dataset's parent group is the layer."""

    def __init__(self, f, path):
        self.path = path
        g = f["model_weights"] if "model_weights" in f else f
        self.w = {}
        self.attrs = {k: text(v) for k, v in f.attrs.items()
                      if k in ("keras_version", "backend")}
        for k in ("keras_version", "backend"):
            if k not in self.attrs and k in g.attrs:
                self.attrs[k] = text(g.attrs[k])
        self.config = None
        if "model_config" in f.attrs:
            try:
                self.config = json.loads(text(f.attrs["model_config"]))
            except ValueError:
                raise Bad("%s: model_config is not JSON" % path)
        seen = {}

        def visit(name, obj):
            if not hasattr(obj, "shape"):
                return
            parts = name.split("/")
            if len(parts) < 2:
                return
            key = (layer_of(parts), parts[-1].split(":")[0])
            if key in self.w and seen[key] != name:
                raise Bad("%s: layer %s has %s twice (%s and %s)"
                          % (path, key[0], key[1], seen[key], name))
            self.w[key], seen[key] = obj, name

        g.visititems(visit)
        if not self.w:
            raise Bad("%s: no weights in it (not a Keras HDF5 model or weights file)" % path)

    def has(self, layer):
        return any(k[0] == layer for k in self.w)

    def get(self, layer, weight, shape, why=""):
        import numpy as np
        if not self.has(layer):
            raise Bad("%s: no layer %s (not Keras's ResNet50 with the study's head?)"
                      % (self.path, layer))
        d = self.w.get((layer, weight))
        if d is None:
            raise Bad("%s: layer %s has no %s:0%s" % (self.path, layer, weight, why))
        if tuple(d.shape) != tuple(shape):
            raise Bad("%s: %s/%s:0 is %s, expected %s" % (
                self.path, layer, weight, "x".join(map(str, d.shape)) or "a scalar",
                "x".join(map(str, shape))))
        a = np.asarray(d[()], dtype=np.float64)
        if not np.all(np.isfinite(a)):
            raise Bad("%s: %s/%s:0 holds a value that is not finite" % (self.path, layer, weight))
        return a


def scaled(c, width):
    return max(1, int(math.floor(c * width + 0.5)))


def config_layers(cfg):
    """Every layer config in a model_config, nested models included."""
    if isinstance(cfg, dict):
        if "class_name" in cfg and "config" in cfg:
            yield cfg
        for v in cfg.values():
            yield from config_layers(v)
    elif isinstance(cfg, list):
        for v in cfg:
            yield from config_layers(v)


def from_config(w):
    """(input (H, W) or None, dropout rate or None) from the model_config."""
    size = rate = None
    for layer in config_layers(w.config or {}):
        c = layer.get("config", {})
        shp = c.get("batch_input_shape") or c.get("batch_shape")
        if size is None and isinstance(shp, list) and len(shp) == 4:
            h, wd = shp[1], shp[2]
            if isinstance(h, int) and isinstance(wd, int):
                size = (h, wd)
        if rate is None and layer["class_name"] == "Dropout" and "rate" in c:
            rate = float(c["rate"])
    return size, rate


def convert(w):
    """(metadata, tensors) of the cxr model, in the engine's order."""
    import numpy as np
    t = {}
    if not w.has("conv1_conv"):
        raise Bad("%s: no layer conv1_conv (not Keras's ResNet50: its layers are conv1_conv, "
                  "conv1_bn, conv2_block1_0_conv ... conv5_block3_3_bn)" % w.path)
    k = w.w.get(("conv1_conv", "kernel"))
    if k is None or len(k.shape) != 4 or k.shape[:2] != (7, 7) or k.shape[2] not in (1, 3):
        raise Bad("%s: conv1_conv/kernel:0 is %s, expected 7x7x1xC or 7x7x3xC" % (
            w.path, "missing" if k is None else "x".join(map(str, k.shape))))
    cin, c1 = k.shape[2], k.shape[3]
    width = c1 / 64.0
    bias_why = " (every convolution of Keras's ResNet50 has a bias)"

    def conv(name, kh, cin_, cout):
        kern = w.get(name, "kernel", (kh, kh, cin_, cout))
        t[name + ".weight"] = kern.transpose(3, 2, 0, 1)
        t[name + ".bias"] = w.get(name, "bias", (cout,), bias_why)

    def bn(name, c):
        t[name + ".weight"] = w.get(name, "gamma", (c,))
        t[name + ".bias"] = w.get(name, "beta", (c,))
        t[name + ".running_mean"] = w.get(name, "moving_mean", (c,))
        var = w.get(name, "moving_variance", (c,))
        if np.any(var < 0):
            raise Bad("%s: %s/moving_variance:0 has a negative value" % (w.path, name))
        t[name + ".running_var"] = var

    conv("conv1_conv", 7, cin, c1)
    if cin == 3:  # a gray picture in three equal channels: one channel, summed
        t["conv1_conv.weight"] = t["conv1_conv.weight"].sum(axis=1, keepdims=True)
    bn("conv1_bn", c1)
    c = c1
    for stage, (n, f) in enumerate(zip(BLOCKS, FILTERS)):
        mid, out = scaled(f, width), scaled(4 * f, width)
        for j in range(n):
            p = "conv%d_block%d" % (stage + 2, j + 1)
            conv(p + "_1_conv", 1, c, mid)
            bn(p + "_1_bn", mid)
            conv(p + "_2_conv", 3, mid, mid)
            bn(p + "_2_bn", mid)
            conv(p + "_3_conv", 1, mid, out)
            bn(p + "_3_bn", out)
            if j == 0:
                conv(p + "_0_conv", 1, c, out)
                bn(p + "_0_bn", out)
            elif w.has(p + "_0_conv"):
                raise Bad("%s: layer %s: only a stage's first block has a projection "
                          "shortcut in Keras's ResNet50" % (w.path, p + "_0_conv"))
            c = out
    # the head: dense (c, hidden), dense_1 (hidden, 1); by shape when named otherwise
    heads = ("dense", "dense_1")
    if not (w.has("dense") and w.has("dense_1")):
        two = sorted({k[0] for k, d in w.w.items() if k[1] == "kernel" and len(d.shape) == 2})
        if len(two) != 2:
            raise Bad("%s: no layers dense and dense_1 (the head: Dense 512 ReLU, Dropout, "
                      "Dense 1) and not two Dense layers to take instead (%s)"
                      % (w.path, ", ".join(two) or "none"))
        heads = tuple(sorted(two, key=lambda n: w.w[(n, "kernel")].shape[1] == 1))
    kd = w.w.get((heads[0], "kernel"))
    if kd is None or len(kd.shape) != 2 or kd.shape[0] != c:
        raise Bad("%s: %s/kernel:0 is %s, expected %dxH (the %d features of conv5 into the "
                  "hidden layer)" % (w.path, heads[0], "missing" if kd is None else
                                     "x".join(map(str, kd.shape)), c, c))
    hid = kd.shape[1]
    t["dense.weight"] = w.get(heads[0], "kernel", (c, hid)).T
    t["dense.bias"] = w.get(heads[0], "bias", (hid,))
    t["dense_1.weight"] = w.get(heads[1], "kernel", (hid, 1)).T
    t["dense_1.bias"] = w.get(heads[1], "bias", (1,))
    used = {(n.rsplit(".", 1)[0]) for n in t} | set(heads)
    extra = sorted({k[0] for k in w.w} - used)
    if extra:
        raise Bad("%s: weights of layers this network does not have: %s" % (
            w.path, ", ".join(extra[:5]) + (" ..." if len(extra) > 5 else "")))
    tensors = {n: np.ascontiguousarray(v, dtype=np.float32) for n, v in t.items()}
    return width, cin, hid, tensors


def main(argv):
    a = parse_args(argv)
    try:
        import numpy as np  # noqa: F401
        import h5py
    except ImportError as e:
        sys.stderr.write("%s: %s (install python3-numpy and python3-h5py)\n" % (PROG, e))
        return 1
    try:
        import cxm
    except ImportError:
        sys.stderr.write("%s: cxm.py not found beside it (in ../bench or ../share/cxr)\n" % PROG)
        return 1
    path = a["input"]
    try:
        with h5py.File(path, "r") as f:
            w = Weights(f, path)
            width, cin, hid, tensors = convert(w)
            size, rate = from_config(w)
    except Bad as e:
        sys.stderr.write("%s: %s\n" % (PROG, e))
        return 1
    except OSError as e:
        why = str(e)
        if os.path.exists(path) and "signature" in why.lower():
            why = "not an HDF5 file"
        sys.stderr.write("%s: %s: %s\n" % (PROG, path, why))
        return 1
    h, wd = a["size"] or size or (256, 256)
    meta = {
        "arch": ARCH,
        "width_mult": repr(float(width)),
        "in_channels": "1",
        "input_height": str(h),
        "input_width": str(wd),
        "head_hidden": str(hid),
        "dropout": repr(rate if rate is not None else 0.2),
        "input_scale": "1/255",
        # a threshold given on the command line, else 0.5 as cxr-train
        # without a validation set
        "threshold": repr(float(0.5 if a["threshold"] is None else a["threshold"])),
        "threshold_rule": "default" if a["threshold"] is None else "given",
        "tool_version": PROG,
        "keras.file": os.path.basename(path),
        "keras.stem_channels": str(cin),
    }
    for k, v in sorted(w.attrs.items()):
        meta["keras." + k] = v
    try:
        cxm.save(a["output"], meta, tensors)
    except (OSError, ValueError) as e:
        sys.stderr.write("%s: %s: %s\n" % (PROG, a["output"], e))
        return 1
    if not a["quiet"]:
        sys.stderr.write("%s: %s: %d tensors, width %g, %d-channel stem%s, input %dx%d, "
                         "digest %s\n" % (PROG, a["output"], len(tensors), width, cin,
                                          " summed to 1" if cin == 3 else "", h, wd,
                                          cxm.digest(a["output"])))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
