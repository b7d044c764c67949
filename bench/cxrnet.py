"""The cxr network in PyTorch: the twin of lib/nn/resnet.c.

torchvision's ResNet-50 (bottleneck blocks 3-4-6-3, stride on the 3x3
conv, projection shortcut conv1x1+BN on each stage's first block, BN eps
1e-5 momentum 0.1) on 1-channel input, with a width multiplier W: every
conv's output channel count c becomes max(1, floor(c*W + 0.5)), stem
included.  Head: global max pool -> Linear(C, 512) -> ReLU -> dropout 0.2
-> Linear(512, 1), one logit; loss BCEWithLogitsLoss (mean).

Parameter names are torchvision's state_dict names, the head's are
fc1.* and fc2.*, so state_dict() maps one to one onto a .cxm file.
"""

import math

import torch
import torch.nn as nn

BLOCKS = (3, 4, 6, 3)
PLANES = (64, 128, 256, 512)
HEAD_HIDDEN = 512
DROPOUT = 0.2


def scaled(c, width):
    """A conv's output channel count under width multiplier width."""
    return max(1, int(math.floor(c * width + 0.5)))


class Bottleneck(nn.Module):
    def __init__(self, inplanes, planes, stride, width):
        super().__init__()
        mid = scaled(planes, width)
        out = scaled(planes * 4, width)
        self.conv1 = nn.Conv2d(inplanes, mid, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(mid)
        self.conv2 = nn.Conv2d(mid, mid, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(mid)
        self.conv3 = nn.Conv2d(mid, out, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = None
        if stride != 1 or inplanes != out:
            self.downsample = nn.Sequential(
                nn.Conv2d(inplanes, out, 1, stride=stride, bias=False),
                nn.BatchNorm2d(out))
        self.out_channels = out

    def forward(self, x):
        idt = x if self.downsample is None else self.downsample(x)
        y = self.relu(self.bn1(self.conv1(x)))
        y = self.relu(self.bn2(self.conv2(y)))
        y = self.bn3(self.conv3(y))
        return self.relu(y + idt)


INITS = ("torchvision", "keras", "torch")


class CxrNet(nn.Module):
    def __init__(self, width=1.0, in_channels=1, dropout=DROPOUT, init="torchvision"):
        """init: the initial weights as cxr-train --init names them:
        torchvision (torchvision's ResNet: kaiming normal fan_out for the
        convolutions), keras (glorot uniform kernels, zero biases) or torch
        (the layers' own defaults, nn.Conv2d's and nn.Linear's
        reset_parameters); BN weight 1, bias 0 in all three."""
        super().__init__()
        if init not in INITS:
            raise ValueError("init %r is not one of %s" % (init, INITS))
        self.width = width
        c = scaled(64, width)
        self.conv1 = nn.Conv2d(in_channels, c, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(c)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        for i, (n, p) in enumerate(zip(BLOCKS, PLANES)):
            blocks = []
            for j in range(n):
                stride = 2 if (j == 0 and i > 0) else 1
                b = Bottleneck(c, p, stride, width)
                c = b.out_channels
                blocks.append(b)
            setattr(self, "layer%d" % (i + 1), nn.Sequential(*blocks))
        self.features = c
        self.pool = nn.AdaptiveMaxPool2d(1)
        self.fc1 = nn.Linear(c, HEAD_HIDDEN)
        self.drop = nn.Dropout(dropout)
        self.fc2 = nn.Linear(HEAD_HIDDEN, 1)
        for m in self.modules():
            if init == "torchvision" and isinstance(m, nn.Conv2d):
                # torchvision's initialisation (dense layers keep nn.Linear's)
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif init == "keras" and isinstance(m, (nn.Conv2d, nn.Linear)):
                # Keras's glorot_uniform kernels, zero biases: xavier_uniform_
                # counts the fans as Keras does
                nn.init.xavier_uniform_(m.weight)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)

    def forward(self, x, dropout_mask=None):
        """x (N,C,H,W) -> logits (N). dropout_mask (N,512), entries 0 or
        1/(1-p), replaces nn.Dropout when given (in train mode)."""
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        x = torch.flatten(self.pool(x), 1)
        x = torch.relu(self.fc1(x))
        if dropout_mask is not None and self.training:
            x = x * dropout_mask
        else:
            x = self.drop(x)
        return self.fc2(x).squeeze(1)


def state_tensors(model):
    """The state_dict as float32 numpy arrays, without num_batches_tracked:
    copies, which later in-place updates (optimizer steps, BN running
    statistics) leave alone."""
    return {k: v.detach().cpu().float().contiguous().numpy().copy()
            for k, v in model.state_dict().items()
            if not k.endswith("num_batches_tracked")}


def arch_meta(width, height, width_px, in_channels=1, dropout=DROPOUT):
    """The architecture metadata of man/cxr-model.5."""
    return {
        "arch": "resnet50",
        "width_mult": repr(float(width)),
        "in_channels": str(in_channels),
        "input_height": str(height),
        "input_width": str(width_px),
        "head_hidden": str(HEAD_HIDDEN),
        "dropout": repr(float(dropout)),
        "input_scale": "1/255",
    }


def from_meta(meta):
    """A CxrNet built from a model file's architecture metadata."""
    if meta.get("arch") != "resnet50":
        raise ValueError("arch %r is not resnet50" % meta.get("arch"))
    return CxrNet(float(meta["width_mult"]), int(meta.get("in_channels", 1)),
                  float(meta.get("dropout", DROPOUT)))
