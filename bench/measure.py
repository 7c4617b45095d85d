#!/usr/bin/env python3
"""Times nb2pipe, the floor and the Python tools over the benchmark notebooks, in one run,
and prints the tables (markdown) that docs/performance.md holds. Called by bench/run.sh,
which builds the programs and generates the notebooks first.

    measure.py --bin BUILD_DIR --data DATA_DIR --out RESULTS.md [--sizes 27,100,...]
               [--reps N] [--py-reps N] [--callgrind]

Every command is one whole process, started as a user would start it, its output going
to /dev/null (convert writes its files into a fresh directory each time). For each
notebook size the tools run in turn, repetition by repetition, so that load from other
processes falls on all of them alike; the first round is a warm-up (page cache, Python's
bytecode cache) that is not timed, run under /usr/bin/time -v for the peak RSS.
"""

import argparse
import math
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import time

PYTHON = "/usr/bin/python3"
HERE = os.path.dirname(os.path.abspath(__file__))


class Tool:
    def __init__(self, name, argv, python=False, outdir=None, grind=True):
        self.name = name
        self.argv = argv          # function: notebook path -> argv
        self.python = python      # a Python tool: fewer repetitions on big notebooks
        self.outdir = outdir      # removed before every run (convert writes there)
        self.grind = grind        # also counted with --callgrind


def tools(bindir, scratch):
    nb2pipe = os.path.join(bindir, "nb2pipe")
    floor = os.path.join(bindir, "bench", "nb_bench_floor")
    out = os.path.join(scratch, "convert-out")
    out_all = os.path.join(scratch, "convert-all-out")
    found = [
        Tool("floor", lambda nb: [floor, nb]),
        Tool("analyze", lambda nb: [nb2pipe, "analyze", nb]),
        Tool("convert", lambda nb: [nb2pipe, "convert", nb, "-o", out], outdir=out),
        Tool("convert --target all",
             lambda nb: [nb2pipe, "convert", nb, "-o", out_all, "--target", "all"],
             outdir=out_all),
        # the pre-commit case: the pipeline is there and up to date (the warm-up run
        # writes it; each notebook size has its own directory)
        Tool("convert, up to date",
             lambda nb: [nb2pipe, "convert", nb, "-o",
                         os.path.join(scratch, "kept-" + os.path.basename(nb))], grind=False),
        Tool("clean --stdout", lambda nb: [nb2pipe, "clean", "--stdout", nb]),
        Tool("nbformat strip (python)",
             lambda nb: [PYTHON, os.path.join(HERE, "strip_nbformat.py"), nb], python=True),
    ]
    jupyter = shutil.which("jupyter")
    if jupyter and subprocess.run([jupyter, "nbconvert", "--version"], capture_output=True).returncode == 0:
        found.append(Tool("nbconvert --to script (python)",
                          lambda nb: [jupyter, "nbconvert", "--to", "script", "--stdout",
                                      "--log-level", "ERROR", nb], python=True))
    else:
        print("note: `jupyter nbconvert` is not installed (apt-get install jupyter-nbconvert); "
              "it is left out", file=sys.stderr)
    return found


def run_once(tool, nb, timed=True):
    """Runs TOOL on NB; returns wall seconds, or (seconds, peak RSS in KiB) untimed."""
    if tool.outdir:
        shutil.rmtree(tool.outdir, ignore_errors=True)
    argv = tool.argv(nb)
    if not timed:
        argv = ["/usr/bin/time", "-v"] + argv
    start = time.perf_counter()
    proc = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit("%s failed on %s (exit %d):\n%s" % (" ".join(tool.argv(nb)), nb,
                                                    proc.returncode, proc.stderr.decode()[-2000:]))
    if timed:
        return seconds
    rss = re.search(rb"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
    return seconds, int(rss.group(1)) if rss else 0


def reps_for(tool, size, args):
    if not tool.python:
        return args.reps if size < 10000 else max(3, args.reps // 2)
    if size >= 10000:
        return max(1, args.py_reps - 2)
    return args.py_reps if size <= 2000 else max(1, args.py_reps - 1)


def measure(all_tools, nb, size, args):
    """{tool name: {"times": [...], "rss": KiB}} for one notebook."""
    results = {}
    for tool in all_tools:
        _, rss = run_once(tool, nb, timed=False)
        results[tool.name] = {"times": [], "rss": rss, "reps": reps_for(tool, size, args)}
    for rep in range(max(r["reps"] for r in results.values())):
        for tool in all_tools:
            r = results[tool.name]
            if rep < r["reps"]:
                r["times"].append(run_once(tool, nb))
    return results


def same_clean_output(bindir, nb):
    """Whether `nb2pipe clean --stdout` and the nbformat stripping give the same bytes."""
    ours = subprocess.run([os.path.join(bindir, "nb2pipe"), "clean", "--stdout", nb],
                          capture_output=True).stdout
    theirs = subprocess.run([PYTHON, os.path.join(HERE, "strip_nbformat.py"), nb],
                            capture_output=True).stdout
    return ours == theirs and len(ours) > 0


def callgrind(tool, nb, scratch):
    """Instructions executed (callgrind's Ir total) for one run of TOOL on NB."""
    if tool.outdir:
        shutil.rmtree(tool.outdir, ignore_errors=True)
    outfile = os.path.join(scratch, "callgrind.out")
    proc = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=" + outfile]
                          + tool.argv(nb), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if proc.returncode != 0:
        sys.exit("callgrind failed on %s:\n%s" % (nb, proc.stderr.decode()[-2000:]))
    with open(outfile) as f:
        for line in f:
            if line.startswith("summary:") or line.startswith("totals:"):
                return int(line.split()[1])
    return 0


def ms(seconds):
    return "%.1f" % (seconds * 1000) if seconds < 10 else "%.0f" % (seconds * 1000)


def machine():
    model = cores = "?"
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        model = re.search(r"Model name:\s*(.+)", out).group(1).strip()
        cores = re.search(r"^CPU\(s\):\s*(\d+)", out, re.M).group(1)
    except (OSError, AttributeError):
        pass
    mem = "?"
    try:
        with open("/proc/meminfo") as f:
            mem = "%.1f GiB" % (int(f.readline().split()[1]) / 1024 / 1024)
    except OSError:
        pass
    return "%s, %s CPUs, %s RAM, Linux %s" % (model, cores, mem, platform.release())


def commit():
    proc = subprocess.run(["git", "-C", HERE, "rev-parse", "--short", "HEAD"],
                          capture_output=True, text=True)
    root = os.path.dirname(HERE)
    dirty = subprocess.run(["git", "-C", root, "status", "--porcelain", "--untracked-files=no",
                            "--", "src", "include"], capture_output=True, text=True).stdout
    return proc.stdout.strip() + (" (with uncommitted changes in src/ or include/)" if dirty else "")


def report(sizes, data, all_tools, results, files, args, started, grind):
    names = [t.name for t in all_tools]
    lines = []
    add = lines.append
    add("Machine: %s. Load average %s at the start, %s at the end (other work shared the "
        "machine: `min` is the figure to compare)." % (machine(), started,
                                                      "%.2f" % os.getloadavg()[0]))
    add("nb2pipe %s, Release build; wall time of the whole process, in ms; %d timed runs of "
        "each native program (%d on the 10,000-cell notebook), %d of each Python tool (fewer "
        "on the largest notebooks, see `runs`), after one untimed warm-up run."
        % (commit(), args.reps, max(3, args.reps // 2), args.py_reps))
    add("")
    add("### Times (ms, min / median) and peak RSS")
    add("")
    add("| cells | file | tool | min | median | runs | peak RSS | RSS / file |")
    add("| ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: |")
    for size in sizes:
        mib = files[size] / 1048576
        for name in names:
            r = results[size][name]
            add("| %d | %.1f MB | %s | %s | %s | %d | %.1f MB | %.2f |"
                % (size, mib, name, ms(min(r["times"])), ms(statistics.median(r["times"])),
                   len(r["times"]), r["rss"] / 1024, r["rss"] * 1024 / files[size]))
    add("")
    add("### Ratios (of the minimum times)")
    add("")
    has_nbconvert = any(n.startswith("nbconvert") for n in names)
    head = ["cells", "analyze / floor", "convert / floor", "convert all / floor",
            "convert up to date / floor",
            "clean / floor", "nbformat strip / clean", "clean output = nbformat's"]
    if has_nbconvert:
        head.append("nbconvert / convert")
    add("| " + " | ".join(head) + " |")
    add("|" + " ---: |" * len(head))
    for size in sizes:
        t = {n: min(results[size][n]["times"]) for n in names}
        row = ["%d" % size, "%.2f" % (t["analyze"] / t["floor"]),
               "%.2f" % (t["convert"] / t["floor"]),
               "%.2f" % (t["convert --target all"] / t["floor"]),
               "%.2f" % (t["convert, up to date"] / t["floor"]),
               "%.2f" % (t["clean --stdout"] / t["floor"]),
               "%.1f" % (t["nbformat strip (python)"] / t["clean --stdout"]),
               "yes" if results[size]["same clean"] else "**no**"]
        if has_nbconvert:
            row.append("%.1f" % (t["nbconvert --to script (python)"] / t["convert"]))
        add("| " + " | ".join(row) + " |")
    add("")
    add("### Scaling: time(2N) / time(N) (min times; linear is 2.0)")
    add("")
    pairs = [(a, b) for a in sizes for b in sizes if b == 2 * a]
    big = [s for s in sizes if s >= 500]
    cols = ["%d -> %d" % p for p in pairs]
    if len(big) >= 2:
        cols.append("per doubling, %d -> %d" % (big[0], big[-1]))
    add("| tool | " + " | ".join(cols) + " |")
    add("| --- |" + " ---: |" * len(cols))
    for name in names:
        row = []
        for a, b in pairs:
            row.append("%.2f" % (min(results[b][name]["times"]) / min(results[a][name]["times"])))
        if len(big) >= 2:
            ratio = min(results[big[-1]][name]["times"]) / min(results[big[0]][name]["times"])
            # t ~ N^k over the whole range: a doubling multiplies t by 2^k
            k = math.log(ratio) / math.log(big[-1] / big[0])
            row.append("%.2f" % (2 ** k))
        add("| %s | %s |" % (name, " | ".join(row)))
    if grind:
        size, counts = grind
        add("")
        add("### Instructions (valgrind --tool=callgrind, %d cells; noise-free)" % size)
        add("")
        add("| tool | instructions | / floor |")
        add("| --- | ---: | ---: |")
        for name, count in counts.items():
            add("| %s | %s | %.2f |" % (name, "{:,}".format(count), count / counts["floor"]))
    return "\n".join(lines) + "\n"


def arguments(doc):
    """The options every measuring script of the benchmark takes; DOC is its docstring."""
    ap = argparse.ArgumentParser(description=doc.split("\n")[0])
    ap.add_argument("--bin", required=True, help="the build directory (nb2pipe, bench/nb_bench_floor)")
    ap.add_argument("--data", required=True, help="where gen_notebooks.py wrote the notebooks")
    ap.add_argument("--out", required=True, help="the markdown report")
    return ap


def main():
    ap = arguments(__doc__)
    ap.add_argument("--sizes", default="27,100,500,1000,2000,4000,10000")
    ap.add_argument("--reps", type=int, default=7, help="timed runs of each native program")
    ap.add_argument("--py-reps", type=int, default=3, help="timed runs of each Python tool")
    ap.add_argument("--callgrind", action="store_true",
                    help="also count instructions with callgrind on the 2,000-cell notebook")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    scratch = os.path.join(args.bin, "bench-scratch")
    shutil.rmtree(scratch, ignore_errors=True)
    os.makedirs(scratch, exist_ok=True)
    all_tools = tools(args.bin, scratch)
    started = "%.2f" % os.getloadavg()[0]
    results, files = {}, {}
    for size in sizes:
        nb = os.path.join(args.data, "nb_%d.ipynb" % size)
        files[size] = os.path.getsize(nb)
        t0 = time.perf_counter()
        results[size] = measure(all_tools, nb, size, args)
        results[size]["same clean"] = same_clean_output(args.bin, nb)
        print("%6d cells (%5.1f MB): measured in %.0f s" % (size, files[size] / 1048576,
                                                          time.perf_counter() - t0), file=sys.stderr)
    grind = None
    if args.callgrind:
        size = 2000 if 2000 in sizes else sizes[len(sizes) // 2]
        nb = os.path.join(args.data, "nb_%d.ipynb" % size)
        grind = (size, {t.name: callgrind(t, nb, scratch) for t in all_tools
                        if not t.python and t.grind})
        print("callgrind on %d cells done" % size, file=sys.stderr)
    text = report(sizes, args.data, all_tools, results, files, args, started, grind)
    with open(args.out, "w") as f:
        f.write(text)
    sys.stdout.write(text)


if __name__ == "__main__":
    main()
