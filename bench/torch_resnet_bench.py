#!/usr/bin/python3
"""PyTorch's speed on the cxr network, as a user runs it at its best.

    torch_resnet_bench.py [--threads 2] [--width 1] [--size 256] [--iters K]
                          [--images N] [--precision fp32|bf16]
                          [--modes train:16,train:32,infer:1,infer:8,infer:32]

The network is bench/cxrnet.py's CxrNet (the twin of lib/nn/resnet.c), on
random data, with torch.set_num_threads(--threads).  For each mode it
tries every variant a user who knows PyTorch would try, and reports the
fastest (by images per second), naming it:

  fp32 train  channels_last: eager, train mode, AdamW (lr 1e-3, weight
              decay 1e-4, as cxr-train's defaults);
  fp32 infer  jit+ofi: torch.jit.trace + optimize_for_inference, eval mode;
              channels_last: eager, eval mode, no_grad;
  bf16 train  autocast+channels_last: the fp32 step under
              torch.autocast("cpu", dtype=torch.bfloat16) (bf16 products
              through oneDNN, fp32 master weights, Adam state and loss);
  bf16 infer  jit+freeze+autocast: channels_last, torch.jit.trace then
              torch.jit.freeze inside autocast and no_grad;
              autocast+channels_last: eager under autocast and no_grad.

Each variant also runs with tcmalloc preloaded (LD_PRELOAD, where Debian's
libtcmalloc-minimal4 is installed; the name then ends in "+tcmalloc"), as
PyTorch's CPU performance guides advise: with glibc's malloc a training
step's large tensors go back to the kernel and are faulted in again at the
next, a third of the CPU time in the kernel here.

Prints TSV: a header, then one line per mode, `mode batch img_per_s
peak_rss_mb img_per_cpu_s precision variant` (the first four columns are
what bench/resnet.sh reads), each followed by a comment line `#  ...` with
the same columns for every other variant tried.  img_per_s is the steady
state: a few warm-up steps (oneDNN's primitives, the JIT's profiling runs)
are not timed, then --iters training steps or at least --images images of
inference are.  img_per_cpu_s is images per second of the process's CPU
time (all its threads) over the same steps: the figure that holds when the
machine is busy with other work, where wall time is what is left over.
Each variant runs in its own process, so its peak RSS (getrusage) is its
own.

The environment is left as the user has it: no OMP_WAIT_POLICY or other
OpenMP setting is made here (an earlier version defaulted
OMP_WAIT_POLICY=PASSIVE, which slowed PyTorch's training from 3.6 to 1.6
img/s on an idle machine and so handicapped the reference).  On a loaded
machine libgomp's spinning threads cost PyTorch much wall time and CPU
time (its figures then swing tenfold from run to run); set
OMP_WAIT_POLICY=PASSIVE yourself to see how much.
"""

import argparse
import math
import os
import resource
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))

# Variants tried per precision and mode, fastest reported.
VARIANTS = {
    ("fp32", "train"): ["channels_last"],
    ("fp32", "infer"): ["jit+ofi", "channels_last"],
    ("bf16", "train"): ["autocast+channels_last"],
    ("bf16", "infer"): ["jit+freeze+autocast", "autocast+channels_last"],
}
COLUMNS = "mode\tbatch\timg_per_s\tpeak_rss_mb\timg_per_cpu_s\tprecision\tvariant"


def run_one(a, mode, batch, variant):
    """One variant of one mode, in this process: prints its TSV line."""
    import contextlib

    import torch
    import torch.nn.functional as F
    sys.path.insert(0, HERE)
    import cxrnet

    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    bf16 = a.precision == "bf16"

    def cast():
        return (torch.autocast("cpu", dtype=torch.bfloat16) if bf16
                else contextlib.nullcontext())

    model = cxrnet.CxrNet(a.width).to(memory_format=torch.channels_last)
    x = torch.rand(batch, 1, a.size, a.size).contiguous(memory_format=torch.channels_last)
    if mode == "train":
        model.train()
        opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-4)
        y = (torch.arange(batch) % 2).float()

        def step():
            opt.zero_grad(set_to_none=True)
            with cast():
                logits = model(x)
            # the loss in fp32, as autocast's own policy would have it
            loss = F.binary_cross_entropy_with_logits(logits.float(), y)
            loss.backward()
            opt.step()
        warm, iters = 2, a.iters
    else:
        model.eval()
        if variant.startswith("jit"):
            if bf16:
                # the graph traced under autocast already holds its casts
                # (and freezing folds the weights' casts into constants), so
                # the JIT's own autocast pass is left out; the trace check
                # is off because autocast's weight cache makes a second
                # trace differ in form (cast nodes against constants)
                torch._C._jit_set_autocast_mode(False)
            with torch.no_grad(), cast():
                net = torch.jit.trace(model, x, check_trace=not bf16)
                if variant == "jit+ofi":
                    net = torch.jit.optimize_for_inference(net)
                else:
                    net = torch.jit.freeze(net)
            warm = 3  # the profiling executor optimises after two runs
        else:
            net = model
            warm = 2

        def step():
            with torch.no_grad(), cast():
                net(x)
        iters = max(a.iters, math.ceil(a.images / batch))
    for _ in range(warm):
        step()
    t, c = time.perf_counter(), time.process_time()
    for _ in range(iters):
        step()
    dt, dc = time.perf_counter() - t, time.process_time() - c
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print("%s\t%d\t%.3f\t%.0f\t%.3f\t%s\t%s" % (mode, batch, batch * iters / dt, rss,
                                               batch * iters / dc, a.precision, variant),
          flush=True)


# tcmalloc, as PyTorch's CPU tuning guides advise: glibc's malloc hands a
# training step's large tensors back to the kernel and faults them in
# again at the next (measured here: bf16 training 3.4 img/s with glibc,
# 12.8 with tcmalloc; jemalloc's defaults were slower than glibc's).
TCMALLOC = ["/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4",
            "/usr/lib/x86_64-linux-gnu/libtcmalloc.so.4"]


def allocators():
    """(variant suffix, LD_PRELOAD) pairs: glibc's malloc, and tcmalloc
    where Debian's libtcmalloc-minimal4 is installed."""
    found = [("", None)]
    for path in TCMALLOC:
        if os.path.exists(path):
            found.append(("+tcmalloc", path))
            break
    return found


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--width", type=float, default=1.0)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--iters", type=int, default=2,
                    help="timed training steps per mode (inference: see --images)")
    ap.add_argument("--images", type=int, default=64,
                    help="timed images per inference mode, at least (default 64)")
    ap.add_argument("--precision", choices=("fp32", "bf16"), default="fp32")
    ap.add_argument("--modes", default="train:16,train:32,infer:1,infer:8,infer:32")
    ap.add_argument("--one", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.one:
        mode, batch, variant = a.one.split(":", 2)
        run_one(a, mode, int(batch), variant)
        return
    print(COLUMNS, flush=True)
    rc = 0
    for mb in a.modes.split(","):
        mode, batch = mb.split(":")
        if mode not in ("train", "infer"):
            sys.exit("torch_resnet_bench.py: mode %r is not train or infer" % mode)
        lines = []
        for v in VARIANTS[(a.precision, mode)]:
            for alloc, preload in allocators():
                cmd = [sys.executable, os.path.abspath(__file__), "--one",
                       "%s:%s:%s" % (mode, batch, v), "--threads", str(a.threads),
                       "--width", str(a.width), "--size", str(a.size),
                       "--iters", str(a.iters), "--images", str(a.images),
                       "--precision", a.precision]
                env = dict(os.environ)
                if preload:
                    env["LD_PRELOAD"] = preload
                p = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, env=env)
                if p.returncode or not p.stdout.strip():
                    print("torch_resnet_bench.py: %s %s:%s%s failed (exit %d)"
                          % (a.precision, mb, v, alloc, p.returncode), file=sys.stderr)
                    rc = 1
                    continue
                f = p.stdout.strip().split("\t")
                f[-1] += alloc
                lines.append(f)
        if not lines:
            continue
        lines.sort(key=lambda f: -float(f[2]))
        print("\t".join(lines[0]), flush=True)
        for f in lines[1:]:
            print("#\t" + "\t".join(f), flush=True)
    sys.exit(rc)


if __name__ == "__main__":
    main()
