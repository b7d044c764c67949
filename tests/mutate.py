#!/usr/bin/python3
"""mutate.py — run a tool on every flipped byte or every cut of a file.

    mutate.py flip|cut FILE [--at N,N,...] -- CMD ARG... {} ARG...

Writes FILE with one byte inverted (flip) or cut to a length (cut) to a
scratch file beside it, puts its path where CMD has {}, and runs CMD.
Each case must either exit 1 naming the scratch file on stderr, or exit
0 with the same standard output as CMD on the intact FILE (a change the
format cannot see, such as a pack cut just before its index). Anything
else (another status, a death by a signal, no name) is printed, and the
exit status is the number of such cases (at most 100). One process per
case, so that a shell loop's five do not set the pace.
"""
import os
import subprocess
import sys


def main():
    argv = sys.argv[1:]
    mode, path = argv[0], argv[1]
    at = None
    i = 2
    if argv[i] == "--at":
        at = [int(x) for x in argv[i + 1].split(",") if x]
        i += 2
    assert argv[i] == "--"
    cmd = argv[i + 1:]
    data = open(path, "rb").read()
    scratch = os.path.join(os.path.dirname(path) or ".", "mut." + os.path.basename(path))
    fill = lambda p: [p if a == "{}" else a for a in cmd]
    want = subprocess.run(fill(path), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL).stdout
    cases = at if at is not None else range(len(data))
    bad = 0
    for k in cases:
        if k >= len(data):
            continue
        if mode == "flip":
            m = bytearray(data)
            m[k] ^= 0xFF
        else:
            m = data[:k]
        with open(scratch, "wb") as f:
            f.write(m)
        r = subprocess.run(fill(scratch), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        err = r.stderr.decode("utf-8", "replace")
        ok = (r.returncode == 1 and os.path.basename(scratch) in err) or \
             (r.returncode == 0 and r.stdout == want)
        if not ok:
            bad += 1
            print(f"{mode} {os.path.basename(path)}@{k}: exit {r.returncode}: {err[:200].strip()}")
    os.unlink(scratch)
    sys.exit(min(bad, 100))


main()
