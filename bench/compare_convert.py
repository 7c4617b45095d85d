#!/usr/bin/env python3
"""Times `analyze` and `convert` of two nb2pipe binaries on the same notebooks, turn by
turn in one run, and prints each one's min and median and the ratio NEW / BASE: how much
a change made them slower (or faster), with load from other processes falling on both
alike.

    bench/compare_convert.py --new BUILD/nb2pipe --base BASE/nb2pipe NOTEBOOK... [--reps N]

To measure against a commit, build that commit elsewhere first, e.g.:

    git archive REV | (mkdir -p /tmp/base && tar -x -C /tmp/base)
    cmake -S /tmp/base -B /tmp/base/build -DCMAKE_BUILD_TYPE=Release -DNB2PIPE_TESTS=OFF
    cmake --build /tmp/base/build -j2 --target nb2pipe

and generate the notebooks with bench/gen_notebooks.py (bench/run.sh does both for the
other tables).
"""
import argparse
import os
import shutil
import statistics
import subprocess
import tempfile
import time


def once(argv, outdir):
    if outdir:
        shutil.rmtree(outdir, ignore_errors=True)
    started = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - started


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--new", required=True)
    ap.add_argument("--base", required=True)
    ap.add_argument("--reps", type=int, default=9)
    ap.add_argument("notebooks", nargs="+")
    args = ap.parse_args()
    scratch = tempfile.mkdtemp(prefix="nb2pipe-compare-")
    try:
        print("| notebook | command | base min | new min | base median | new median | new/base (min) |")
        print("|---|---|---:|---:|---:|---:|---:|")
        for nb in args.notebooks:
            for command in ("analyze", "convert"):
                times = {"base": [], "new": []}
                for rep in range(args.reps + 1):  # the first round warms the caches
                    for which in ("base", "new"):
                        binary = getattr(args, which)
                        out = os.path.join(scratch, which)
                        argv = [binary, command, nb] + (["-o", out] if command == "convert" else [])
                        t = once(argv, out if command == "convert" else None)
                        if rep:
                            times[which].append(t)
                b, n = times["base"], times["new"]
                print("| %s | %s | %.1f ms | %.1f ms | %.1f ms | %.1f ms | %.3f |" % (
                    os.path.basename(nb), command, min(b) * 1e3, min(n) * 1e3,
                    statistics.median(b) * 1e3, statistics.median(n) * 1e3, min(n) / min(b)))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
