#!/usr/bin/python3
"""Writes a Keras 2 HDF5 model file, laid out as Keras writes it, from the
weights of a keras-resnet50 cxr model file: the fixtures of tests/t-keras.sh
(TensorFlow, which would write the real thing, is not installable here).

    make_keras_h5.py [--nested] [--stem 1|3] [--optimizer] IN.cxm OUT.h5

The layout (keras/saving/hdf5_format.py, Keras 2.x, model.save("m.h5")):
root attributes keras_version, backend and model_config (the model's
get_config() as JSON); group model_weights with attributes layer_names
(every layer, those without weights too), backend, keras_version; per
layer a group model_weights/LAYER with attribute weight_names
(b"conv1_conv/kernel:0", ...) holding each weight at
model_weights/LAYER/WEIGHT_NAME.  Flat: the functional ResNet50(
include_top=False, pooling="max") graph with the head's layers after
max_pool (dense, dropout, dense_1): model_weights/conv1_conv/conv1_conv/
kernel:0.  --nested: a Sequential of [resnet50, dense, dropout, dense_1],
the ResNet's weights in one group: model_weights/resnet50/conv1_conv/
kernel:0.  Kernels are (kh, kw, in, out), dense kernels (in, out), batch
norm gamma, beta, moving_mean, moving_variance.

--stem 3 writes a 3-channel stem whose three kernels sum to the 1-channel
one (split 0.5, 0.3, 0.2 plus a fixed pattern, so that no channel alone
is right: stem3() below, which the reference script uses too).
--optimizer adds an optimizer_weights group (Adam's moments), which a
reader must leave alone.  Needs numpy, h5py and zstd (bench/cxm.py).
"""

import argparse
import json
import os
import sys

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "bench"))
import cxm  # noqa: E402

BLOCKS = (3, 4, 6, 3)
KERAS_VERSION = "2.4.0"


def stem3(k1):
    """A (O,3,KH,KW) kernel whose channels sum to k1 (O,1,KH,KW), in
    float64; no one channel equals k1."""
    k = np.asarray(k1, dtype=np.float64)
    d = 0.05 * np.sin(np.arange(k.size, dtype=np.float64)).reshape(k.shape)
    return np.concatenate([0.5 * k + d, 0.3 * k - d, 0.2 * k], axis=1)


def layers_in_order():
    """Keras's ResNet50 layers as model.layers lists them, each as
    (name, class, weights): weights [] for those without."""
    conv = ["kernel", "bias"]
    bn = ["gamma", "beta", "moving_mean", "moving_variance"]
    out = [("input_1", "InputLayer", []), ("conv1_pad", "ZeroPadding2D", []),
           ("conv1_conv", "Conv2D", conv), ("conv1_bn", "BatchNormalization", bn),
           ("conv1_relu", "Activation", []), ("pool1_pad", "ZeroPadding2D", []),
           ("pool1_pool", "MaxPooling2D", [])]
    for s, n in enumerate(BLOCKS):
        for j in range(n):
            p = "conv%d_block%d" % (s + 2, j + 1)
            # the order Keras's graph gives: 1, 2, then 0 and 3 side by side
            out += [(p + "_1_conv", "Conv2D", conv), (p + "_1_bn", "BatchNormalization", bn),
                    (p + "_1_relu", "Activation", []), (p + "_2_conv", "Conv2D", conv),
                    (p + "_2_bn", "BatchNormalization", bn), (p + "_2_relu", "Activation", [])]
            if j == 0:
                out += [(p + "_0_conv", "Conv2D", conv), (p + "_3_conv", "Conv2D", conv),
                        (p + "_0_bn", "BatchNormalization", bn),
                        (p + "_3_bn", "BatchNormalization", bn)]
            else:
                out += [(p + "_3_conv", "Conv2D", conv), (p + "_3_bn", "BatchNormalization", bn)]
            out += [(p + "_add", "Add", []), (p + "_out", "Activation", [])]
    out.append(("max_pool", "GlobalMaxPooling2D", []))
    return out


HEAD = [("dense", "Dense", ["kernel", "bias"]), ("dropout", "Dropout", []),
        ("dense_1", "Dense", ["kernel", "bias"])]


def keras_weights(t, stem):
    """{layer: [(weight, array)]} in Keras's layouts from cxr tensors t."""
    w = {}
    for name, cls, names in layers_in_order() + HEAD:
        if cls == "Conv2D":
            k = np.asarray(t[name + ".weight"], dtype=np.float64)
            if name == "conv1_conv" and stem == 3:
                k = stem3(k)
            w[name] = [("kernel", k.transpose(2, 3, 1, 0)), ("bias", t[name + ".bias"])]
        elif cls == "BatchNormalization":
            w[name] = [("gamma", t[name + ".weight"]), ("beta", t[name + ".bias"]),
                       ("moving_mean", t[name + ".running_mean"]),
                       ("moving_variance", t[name + ".running_var"])]
        elif cls == "Dense":
            w[name] = [("kernel", np.asarray(t[name + ".weight"]).T), ("bias", t[name + ".bias"])]
    return {k: [(n, np.asarray(a, dtype=np.float32)) for n, a in v] for k, v in w.items()}


def model_config(nested, h, w, stem, dropout):
    """A model_config as Keras writes it, reduced to what a reader needs:
    class names, layer names and configs, the input shape."""
    def cfg(name, cls):
        c = {"name": name, "trainable": True, "dtype": "float32"}
        if cls == "InputLayer":
            c["batch_input_shape"] = [None, h, w, stem]
        if cls == "Dropout":
            c["rate"] = dropout
        if cls == "Dense":
            c["units"] = 1 if name == "dense_1" else 512
            c["activation"] = "sigmoid" if name == "dense_1" else "relu"
        if cls == "BatchNormalization":
            c.update({"axis": [3], "momentum": 0.99, "epsilon": 1.001e-05})
        return {"class_name": cls, "config": c, "name": name}
    resnet = [cfg(n, c) for n, c, _ in layers_in_order()]
    head = [cfg(n, c) for n, c, _ in HEAD]
    if nested:
        inner = {"class_name": "Functional", "config": {
            "name": "resnet50", "layers": resnet, "input_layers": [["input_1", 0, 0]],
            "output_layers": [["max_pool", 0, 0]]}}
        return {"class_name": "Sequential", "config": {"name": "sequential",
                                                        "layers": [inner] + head}}
    return {"class_name": "Functional", "config": {
        "name": "model", "layers": resnet + head, "input_layers": [["input_1", 0, 0]],
        "output_layers": [["dense_1", 0, 0]]}}


def write(path, t, meta, nested=False, stem=1, optimizer=False):
    h, w = int(meta["input_height"]), int(meta["input_width"])
    kw = keras_weights(t, stem)
    with h5py.File(path, "w") as f:
        f.attrs["keras_version"] = KERAS_VERSION.encode()
        f.attrs["backend"] = b"tensorflow"
        f.attrs["model_config"] = json.dumps(
            model_config(nested, h, w, stem, float(meta.get("dropout", 0.2)))).encode()
        g = f.create_group("model_weights")
        g.attrs["backend"] = b"tensorflow"
        g.attrs["keras_version"] = KERAS_VERSION.encode()
        if nested:
            top = [("resnet50", [n for n, _, _ in layers_in_order()])] + \
                  [(n, [n]) for n, _, _ in HEAD]
        else:
            top = [(n, [n]) for n, _, _ in layers_in_order() + HEAD]
        g.attrs["layer_names"] = np.array([n.encode() for n, _ in top])
        for name, members in top:
            lg = g.create_group(name)
            names = []
            for m in members:
                for wn, a in kw.get(m, []):
                    full = "%s/%s:0" % (m, wn)
                    lg.create_dataset(full, data=a)
                    names.append(full.encode())
            lg.attrs["weight_names"] = np.array(names, dtype="S") if names else \
                np.zeros((0,), dtype="S1")
        if optimizer:
            o = f.create_group("optimizer_weights")
            o.create_dataset("Adam/iter:0", data=np.int64(100))
            for wn, a in kw["conv1_conv"]:
                o.create_dataset("Adam/conv1_conv/%s/m:0" % wn, data=np.zeros_like(a))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--nested", action="store_true")
    ap.add_argument("--stem", type=int, choices=(1, 3), default=1)
    ap.add_argument("--optimizer", action="store_true")
    ap.add_argument("input")
    ap.add_argument("output")
    a = ap.parse_args()
    meta, t = cxm.load(a.input)
    if meta.get("arch") != "keras-resnet50":
        sys.exit("make_keras_h5.py: %s: arch %s, not keras-resnet50" % (a.input, meta.get("arch")))
    write(a.output, t, meta, a.nested, a.stem, a.optimizer)


if __name__ == "__main__":
    main()
