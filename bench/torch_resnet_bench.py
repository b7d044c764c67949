#!/usr/bin/python3
"""PyTorch's speed on the cxr network: the reference for bench/resnet.

    torch_resnet_bench.py [--threads 2] [--width 1] [--size 256] [--iters K]
                          [--modes train:16,train:32,infer:1,infer:8,infer:32]

Prints TSV: a header, then one line per mode, `mode batch img_per_s
peak_rss_mb`.  Training is one full step (forward, backward, Adam) on
random data, in train mode with channels_last tensors; inference is
torch.jit.trace + optimize_for_inference in eval mode.  Each mode runs in
its own process, so the peak RSS (getrusage) is that mode's alone.  The
first step or two of each mode are warm-up and not timed.

OMP_WAIT_POLICY defaults to PASSIVE here, as in the cxr engine: with
libgomp's default spinning, PyTorch runs 6x slower on a machine that has
other work (measured here, load 8 on 2 cores); on an idle machine the
difference is small. Set OMP_WAIT_POLICY=ACTIVE to measure the default.
"""

import argparse
import os
import resource
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def run_one(a, mode, batch):
    import torch
    import torch.nn.functional as F
    sys.path.insert(0, HERE)
    import cxrnet

    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    model = cxrnet.CxrNet(a.width).to(memory_format=torch.channels_last)
    x = torch.rand(batch, 1, a.size, a.size).contiguous(memory_format=torch.channels_last)
    if mode == "train":
        model.train()
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        y = (torch.arange(batch) % 2).float()

        def step():
            opt.zero_grad(set_to_none=True)
            loss = F.binary_cross_entropy_with_logits(model(x), y)
            loss.backward()
            opt.step()
        warm, iters = 1, a.iters
    else:
        model.eval()
        with torch.no_grad():
            net = torch.jit.optimize_for_inference(torch.jit.trace(model, x))

        def step():
            with torch.no_grad():
                net(x)
        warm = 2
        iters = max(a.iters, (3 if batch >= 8 else 10) * a.iters // 2)
    for _ in range(warm):
        step()
    t = time.perf_counter()
    for _ in range(iters):
        step()
    dt = time.perf_counter() - t
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print("%s\t%d\t%.3f\t%.0f" % (mode, batch, batch * iters / dt, rss), flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--width", type=float, default=1.0)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--iters", type=int, default=2,
                    help="timed training steps per mode (inference does more)")
    ap.add_argument("--modes", default="train:16,train:32,infer:1,infer:8,infer:32")
    ap.add_argument("--one", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.one:
        mode, batch = a.one.split(":")
        run_one(a, mode, int(batch))
        return
    print("mode\tbatch\timg_per_s\tpeak_rss_mb", flush=True)
    rc = 0
    env = dict(os.environ)
    env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    for mb in a.modes.split(","):
        cmd = [sys.executable, os.path.abspath(__file__), "--one", mb,
               "--threads", str(a.threads), "--width", str(a.width),
               "--size", str(a.size), "--iters", str(a.iters)]
        rc |= subprocess.run(cmd, env=env).returncode
    sys.exit(1 if rc else 0)


if __name__ == "__main__":
    main()
