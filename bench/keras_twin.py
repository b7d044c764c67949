"""Keras's ResNet-50 in PyTorch: the twin of lib/nn/resnet.c's keras-resnet50.

Written from keras/applications/resnet.py (ResNet v1, `ResNet50`), layer
for layer, in PyTorch's NCHW:

    conv1_pad   ZeroPadding2D 3            -> F.pad 3 zeros
    conv1_conv  Conv2D 64, 7, strides 2, valid, bias
    conv1_bn    BatchNormalization epsilon 1.001e-5 (momentum 0.99)
    conv1_relu
    pool1_pad   ZeroPadding2D 1            -> F.pad 1 zero (after the ReLU)
    pool1_pool  MaxPooling2D 3, strides 2, valid
    conv2 .. conv5: stack1(filters 64, 128, 256, 512; blocks 3, 4, 6, 3;
                stride1 1 for conv2, else 2), each block1:
        _0_conv/_0_bn  shortcut Conv2D 4f, 1, strides s (first block only)
        _1_conv/_1_bn  Conv2D f, 1, strides s, ReLU
        _2_conv/_2_bn  Conv2D f, 3, padding SAME (stride 1), ReLU
        _3_conv/_3_bn  Conv2D 4f, 1
        _add, _out     shortcut + x, ReLU
    then the study's head: GlobalMaxPooling2D, Dense 512 ReLU (dense),
    Dropout 0.2, Dense 1 (dense_1) -> one logit.

Every Conv2D has a bias (use_bias=True in ResNet50 and block1's
defaults).  Keras's BatchNormalization momentum 0.99 is PyTorch's 0.01:
Keras keeps moving = 0.99 * moving + 0.01 * batch.  The moving variance
is updated with the batch's Bessel-corrected variance, as PyTorch does
(Keras's fused batch norm, which it uses for 4-D channels-last input).

The channel counts follow cxrnet.py's width multiplier (W = 1 is
Keras's network).  Parameter names are Keras's layer names with
PyTorch's parameter names (conv1_conv.weight, conv1_conv.bias,
conv1_bn.running_mean, ..., dense.weight, dense_1.bias), in the engine's
state_dict order (in each block _1, _2, _3, then the shortcut _0), so
state_dict() maps one to one onto a .cxm file of arch keras-resnet50.
"""

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

BLOCKS = (3, 4, 6, 3)
FILTERS = (64, 128, 256, 512)
HEAD_HIDDEN = 512
DROPOUT = 0.2
BN_EPS = 1.001e-5
BN_MOMENTUM = 0.01   # PyTorch's convention; Keras's momentum=0.99
ARCH = "keras-resnet50"


def scaled(c, width):
    """A conv's output channel count under width multiplier width (cxrnet.py's)."""
    return max(1, int(math.floor(c * width + 0.5)))


def block_names(stage, j):
    """Keras's prefix of block j (0-based) of stage (0-based): conv2_block1."""
    return "conv%d_block%d" % (stage + 2, j + 1)


class KerasResNet50(nn.Module):
    def __init__(self, width=1.0, in_channels=1, dropout=DROPOUT):
        super().__init__()
        self.width = width
        c = scaled(64, width)
        self.conv1_conv = nn.Conv2d(in_channels, c, 7, stride=2)
        self.conv1_bn = self._bn(c)
        self.blocks = []   # (prefix, stride, has shortcut)
        for stage, (n, f) in enumerate(zip(BLOCKS, FILTERS)):
            mid, out = scaled(f, width), scaled(4 * f, width)
            for j in range(n):
                p = block_names(stage, j)
                s = 2 if (j == 0 and stage > 0) else 1
                setattr(self, p + "_1_conv", nn.Conv2d(c, mid, 1, stride=s))
                setattr(self, p + "_1_bn", self._bn(mid))
                setattr(self, p + "_2_conv", nn.Conv2d(mid, mid, 3, padding=1))
                setattr(self, p + "_2_bn", self._bn(mid))
                setattr(self, p + "_3_conv", nn.Conv2d(mid, out, 1))
                setattr(self, p + "_3_bn", self._bn(out))
                if j == 0:
                    setattr(self, p + "_0_conv", nn.Conv2d(c, out, 1, stride=s))
                    setattr(self, p + "_0_bn", self._bn(out))
                self.blocks.append((p, j == 0))
                c = out
        self.features = c
        self.pool = nn.AdaptiveMaxPool2d(1)
        self.dense = nn.Linear(c, HEAD_HIDDEN)
        self.drop = nn.Dropout(dropout)
        self.dense_1 = nn.Linear(HEAD_HIDDEN, 1)

    @staticmethod
    def _bn(c):
        return nn.BatchNorm2d(c, eps=BN_EPS, momentum=BN_MOMENTUM)

    def _block(self, x, p, shortcut):
        m = lambda k: getattr(self, p + k)  # noqa: E731
        sc = m("_0_bn")(m("_0_conv")(x)) if shortcut else x
        y = F.relu(m("_1_bn")(m("_1_conv")(x)))
        y = F.relu(m("_2_bn")(m("_2_conv")(y)))
        y = m("_3_bn")(m("_3_conv")(y))
        return F.relu(sc + y)

    def forward(self, x, dropout_mask=None):
        """x (N,C,H,W) -> logits (N). dropout_mask (N,512), entries 0 or
        1/(1-p), replaces nn.Dropout when given (in train mode)."""
        x = F.pad(x, (3, 3, 3, 3))                       # conv1_pad
        x = F.relu(self.conv1_bn(self.conv1_conv(x)))
        x = F.max_pool2d(F.pad(x, (1, 1, 1, 1)), 3, 2)   # pool1_pad, pool1_pool
        for p, shortcut in self.blocks:
            x = self._block(x, p, shortcut)
        x = torch.flatten(self.pool(x), 1)               # GlobalMaxPooling2D
        x = F.relu(self.dense(x))
        if dropout_mask is not None and self.training:
            x = x * dropout_mask
        else:
            x = self.drop(x)
        return self.dense_1(x).squeeze(1)


def arch_meta(width, height, width_px, in_channels=1, dropout=DROPOUT):
    """The architecture metadata of man/cxr-model.5 for this network."""
    return {
        "arch": ARCH,
        "width_mult": repr(float(width)),
        "in_channels": str(in_channels),
        "input_height": str(height),
        "input_width": str(width_px),
        "head_hidden": str(HEAD_HIDDEN),
        "dropout": repr(float(dropout)),
        "input_scale": "1/255",
    }


def from_meta(meta):
    """A KerasResNet50 built from a model file's architecture metadata."""
    if meta.get("arch") != ARCH:
        raise ValueError("arch %r is not %s" % (meta.get("arch"), ARCH))
    return KerasResNet50(float(meta["width_mult"]), int(meta.get("in_channels", 1)),
                         float(meta.get("dropout", DROPOUT)))
