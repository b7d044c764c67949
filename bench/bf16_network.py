#!/usr/bin/python3
"""What bf16 costs the whole network, in PyTorch: one golden file's step
(tests/golden/make_golden.py) in float64, in float32 and under
torch.autocast("cpu", dtype=torch.bfloat16), compared normwise with the
float64 one. Beside `bench/bin/resnet_check -P bf16 GOLDEN`, which
compares cxr's bf16 engine with the same file, this says whether cxr's
bf16 errors are bf16's or its own.

    bf16_network.py GOLDEN.cxm...

Prints per file and mode: logits, loss, eval logits, and the gradients'
median and worst normwise errors."""

import copy
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests", "golden"))
import cxm  # noqa: E402
import cxrnet  # noqa: E402
from make_golden import normwise, one_step  # noqa: E402
import torch.nn.functional as F  # noqa: E402


def autocast_step(model, x, target, mask):
    """one_step's logits, loss, gradients and eval logits under bf16
    autocast (its outputs are bf16 tensors; the parameters stay fp32)."""
    t = {}
    with torch.autocast("cpu", dtype=torch.bfloat16):
        model.train()
        model.zero_grad(set_to_none=True)
        logits = model(x, mask).float()
        loss = F.binary_cross_entropy_with_logits(logits, target)
    loss.backward()
    t["logits"] = logits.detach().numpy().copy()
    t["loss"] = loss.detach().reshape(1).numpy().copy()
    for name, prm in model.named_parameters():
        t["grad/" + name] = prm.grad.detach().float().numpy().copy()
    model.eval()
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        t["eval_logits"] = model(x).float().numpy().copy()
    return t


def main():
    torch.set_num_threads(2)
    print("file\tmode\tlogits\tloss\teval_logits\tgrad_median\tgrad_worst")
    for path in sys.argv[1:]:
        meta, t = cxm.load(path)
        model = cxrnet.from_meta(meta)
        model.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in t.items()
                               if k in model.state_dict()}, strict=False)
        x = torch.from_numpy(np.array(t["input"]))
        target = torch.from_numpy(np.array(t["target"]))
        mask = torch.from_numpy(np.array(t["dropout_mask"]))
        ref = one_step(copy.deepcopy(model).double(), x.double(), target.double(), mask.double())
        runs = {"fp32": one_step(copy.deepcopy(model), x, target, mask)}
        runs["bf16-autocast"] = autocast_step(copy.deepcopy(model), x, target, mask)
        for mode, r in runs.items():
            g = [normwise(r[k].astype(np.float64), ref[k]) for k in r if k.startswith("grad/")]
            print("%s\t%s\t%.3g\t%.3g\t%.3g\t%.3g\t%.3g" % (
                os.path.basename(path), mode,
                normwise(r["logits"].astype(np.float64), ref["logits"]),
                normwise(r["loss"].astype(np.float64), ref["loss"]),
                normwise(r["eval_logits"].astype(np.float64), ref["eval_logits"]),
                float(np.median(g)), max(g)))


if __name__ == "__main__":
    main()
