#!/usr/bin/python3
"""Writes tests/init_golden.h: the distribution PyTorch 1.13 itself gives
every tensor of the cxr network (bench/cxrnet.py, width 1/16) under each
of cxr-train's --init schemes, for tests/check_init.c.

    /usr/bin/python3 tests/golden/make_init_golden.py > tests/init_golden.h

The numbers are not recomputed from formulas here: Tensor.uniform_ and
Tensor.normal_ are wrapped to record the bounds and standard deviations
that PyTorch's own code passes them (nn.Conv2d's and nn.Linear's
reset_parameters, nn.init.kaiming_normal_, nn.init.xavier_uniform_), and
Tensor.fill_ and Tensor.zero_ the constants (batch norm, zeroed biases);
each tensor's last call is its distribution. For the torch scheme each convolution also gets the
bound PyTorch gives the bias of an nn.Conv2d of the same shape with
bias=True (torchvision's convolutions have none; the Keras variant's do).

PyTorch's xavier_uniform_ is Keras's glorot_uniform (the same fans, limit
sqrt(6/(fan_in+fan_out))), so the keras scheme's bounds are PyTorch's
xavier_uniform_ numbers; Keras itself computes sqrt(3/((fan_in+fan_out)/2)),
which may differ in the last bit (the test allows 1e-15 relative).
"""
import math
import os
import sys

import torch
import torch.nn as nn

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench"))
import cxrnet  # noqa: E402

WIDTH = 0.0625

calls = []
_uniform, _normal = torch.Tensor.uniform_, torch.Tensor.normal_
_fill, _zero = torch.Tensor.fill_, torch.Tensor.zero_


def uniform_(self, a=0, b=1, **kw):
    calls.append((self.data_ptr(), "U", a, b))
    return _uniform(self, a, b, **kw)


def normal_(self, mean=0, std=1, **kw):
    calls.append((self.data_ptr(), "N", mean, std))
    return _normal(self, mean, std, **kw)


def fill_(self, value):
    calls.append((self.data_ptr(), "C", float(value), float(value)))
    return _fill(self, value)


def zero_(self):
    calls.append((self.data_ptr(), "C", 0.0, 0.0))
    return _zero(self)


torch.Tensor.uniform_, torch.Tensor.normal_ = uniform_, normal_
torch.Tensor.fill_, torch.Tensor.zero_ = fill_, zero_


def conv_bias_bound(conv):
    """The bound nn.Conv2d's reset_parameters gives a bias of this shape."""
    calls.clear()
    c = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size, bias=True)
    (ptr, kind, a, b), = [x for x in calls if x[0] == c.bias.data_ptr()][-1:]
    assert kind == "U" and a == -b
    return b


def main():
    print("/* Written by tests/golden/make_init_golden.py (torch %s): each tensor's"
          % torch.__version__)
    print(" * distribution under each --init scheme as PyTorch's own code draws it, for")
    print(" * the cxr network at width %g. dist: 'C' constant value, 'U' uniform" % WIDTH)
    print(" * +-value, 'N' normal with standard deviation value. conv_bias: for a")
    print(" * convolution weight under torch, the bound of an nn.Conv2d bias of that")
    print(" * shape; else -1. */")
    print("static const double init_golden_width = %r;" % WIDTH)
    print("static const struct init_golden {")
    print("\tconst char *scheme, *name;")
    print("\tchar dist;")
    print("\tdouble value, conv_bias;")
    print("} init_golden[] = {")
    for scheme in cxrnet.INITS:
        torch.manual_seed(1)
        calls.clear()
        model = cxrnet.CxrNet(WIDTH, init=scheme)
        last = {}
        for ptr, kind, a, b in calls:
            last[ptr] = (kind, a, b)
        convs = {m.weight.data_ptr(): m for m in model.modules() if isinstance(m, nn.Conv2d)}
        rows = []
        for name, p in model.named_parameters():
            d = last[p.data_ptr()]
            if d[0] == "C":
                assert (p == d[1]).all(), name
                dist, value = "C", d[1]
            elif d[0] == "U":
                assert d[1] == -d[2], name
                dist, value = "U", d[2]
            else:
                assert d[1] == 0, name
                dist, value = "N", d[2]
            cb = -1.0
            if scheme == "torch" and p.data_ptr() in convs:
                cb = conv_bias_bound(convs[p.data_ptr()])
            rows.append((name, dist, value, cb))
        for name, dist, value, cb in rows:
            print('\t{"%s", "%s", \'%s\', %r, %r},' % (scheme, name, dist, value, cb))
    print("};")


if __name__ == "__main__":
    main()
