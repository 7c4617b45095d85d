#!/usr/bin/env python3
"""Times running notebooks: Jupyter running the notebook against `nb2pipe run` running the
pipeline converted from it, side by side in one run, and prints the `run` table (markdown)
that docs/performance.md holds. Called by bench/run.sh.

    measure_run.py --bin BUILD_DIR --data DATA_DIR --out RESULTS.md [--reps N]
                   [--notebooks titanic,27,100,realrun]

Per notebook and repetition, each from a fresh copy of the notebook's directory (so
every run starts with no output):
- Jupyter: nbclient runs the notebook top to bottom (bench/run_notebook.py; from before
  the kernel starts to the end of the last cell: the kernel's start counts, the client's
  own imports do not);
- `nb2pipe run` of the converted pipeline, warm (the default) and `--no-warm`: the whole
  process;
- a no-op rerun (every step up to date), then a rerun after editing one cell (a comment
  added to the first cell of the middle step, then `nb2pipe convert`, untimed: that step
  runs again, saves the same bytes, and the steps after it stay up to date);
- Ploomber building the pipeline.yaml (`ploomber build --force`) when Python can import
  ploomber; otherwise the column says why it is missing.
The tools take turns, repetition by repetition, so that load from other processes falls
on all of them alike; one untimed round comes first (page cache). Min and median are
reported; the ratios use the mins.
"""

import json
import os
import shutil
import statistics
import subprocess
import sys
import time

import measure

PYTHON = "/usr/bin/python3"
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
REALRUN = os.path.join(ROOT, "..", "shared", "realrun")
# a real notebook with Kale steps: load, preprocess, train (scikit-learn), evaluate
REALRUN_NOTEBOOK = ("kubeflow-kale__kale__Example", "Example.ipynb")


class Notebook:
    def __init__(self, label, directory, notebook, files=()):
        self.label = label
        self.directory = directory  # copied whole, or None
        self.notebook = notebook    # relative to the copy (or a path to copy)
        self.files = files          # copied next to the notebook


def notebooks(names, data):
    found = []
    for name in names:
        if name == "titanic":
            fixtures = os.path.join(ROOT, "fixtures")
            found.append(Notebook("fixtures/titanic.ipynb", None,
                                  os.path.join(fixtures, "titanic.ipynb"),
                                  (os.path.join(fixtures, "titanic.csv"),)))
        elif name == "realrun":
            directory = os.path.join(REALRUN, REALRUN_NOTEBOOK[0])
            if os.path.isdir(directory):
                found.append(Notebook("realrun " + REALRUN_NOTEBOOK[0], directory,
                                      REALRUN_NOTEBOOK[1]))
            else:
                print("note: %s is absent; the realrun notebook is left out" % directory,
                      file=sys.stderr)
        else:
            found.append(Notebook("generated, %s cells" % name, data, "nb_%s.ipynb" % name))
    return found


def fresh_copy(nb, scratch):
    """A new directory holding the notebook and what it reads; returns the notebook path."""
    work = os.path.join(scratch, "run-%d" % time.monotonic_ns())
    if nb.directory:
        shutil.copytree(nb.directory, work, ignore=shutil.ignore_patterns("nb_*.ipynb"))
        if not os.path.exists(os.path.join(work, nb.notebook)):
            shutil.copy(os.path.join(nb.directory, nb.notebook), work)
        path = os.path.join(work, nb.notebook)
    else:
        os.makedirs(work)
        for f in (nb.notebook,) + nb.files:
            shutil.copy(f, work)
        path = os.path.join(work, os.path.basename(nb.notebook))
    return path


def timed(argv, cwd):
    start = time.perf_counter()
    proc = subprocess.run(argv, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit("%s failed (exit %d):\n%s%s" % (" ".join(argv), proc.returncode,
                                                 proc.stdout.decode()[-3000:],
                                                 proc.stderr.decode()[-3000:]))
    return seconds, proc.stdout


def convert(nb2pipe, path):
    timed([nb2pipe, "convert", os.path.basename(path), "-o", "pipeline"], os.path.dirname(path))
    return os.path.join(os.path.dirname(path), "pipeline")


def edit_middle_step(nb2pipe, path, pipe):
    """Adds a comment to the first cell of the pipeline's middle step and converts."""
    with open(os.path.join(pipe, "nb2pipe.lock.json"), encoding="utf-8") as f:
        steps = json.load(f)["pipeline"]["steps"]
    script = os.path.join(pipe, steps[len(steps) // 2]["script"])
    with open(script, encoding="utf-8") as f:
        key = next(line.split()[3] for line in f if line.startswith("# %% cell "))
    with open(path, encoding="utf-8") as f:
        nb = json.load(f)
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    cell = next((c for c in code if c.get("id") == key), None) or \
        [c for c in nb["cells"]][int(key) - 1]
    source = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
    cell["source"] = source + "\n# edited for the benchmark"
    with open(path, "w", encoding="utf-8") as f:
        json.dump(nb, f, indent=1)
    convert(nb2pipe, path)


def ploomber_reason():
    proc = subprocess.run([PYTHON, "-c", "import ploomber"], capture_output=True, text=True)
    if proc.returncode == 0 and shutil.which("ploomber"):
        return None
    return ("%s cannot import ploomber (it is not packaged for Debian 12, and this machine "
            "installs from Debian and npm only)" % PYTHON)


def one_round(nb, nb2pipe, scratch, with_ploomber):
    """{column: seconds} for one repetition on NB."""
    t = {}
    path = fresh_copy(nb, scratch)
    _, out = timed([PYTHON, os.path.join(HERE, "run_notebook.py"), path], os.path.dirname(path))
    t["jupyter"] = float(out.decode().split()[-1])
    path = fresh_copy(nb, scratch)
    pipe = convert(nb2pipe, path)
    t["warm"], _ = timed([nb2pipe, "run", pipe], os.path.dirname(path))
    t["no-op"], _ = timed([nb2pipe, "run", pipe], os.path.dirname(path))
    edit_middle_step(nb2pipe, path, pipe)
    t["edit"], _ = timed([nb2pipe, "run", pipe], os.path.dirname(path))
    path = fresh_copy(nb, scratch)
    pipe = convert(nb2pipe, path)
    t["no-warm"], _ = timed([nb2pipe, "run", "--no-warm", pipe], os.path.dirname(path))
    if with_ploomber:
        path = fresh_copy(nb, scratch)
        pipe = convert(nb2pipe, path)
        t["ploomber"], _ = timed([shutil.which("ploomber"), "build", "--force",
                                  "--entry-point", "pipeline.yaml"], pipe)
    return t


def steps_of(nb, nb2pipe, scratch):
    path = fresh_copy(nb, scratch)
    pipe = convert(nb2pipe, path)
    with open(os.path.join(pipe, "nb2pipe.lock.json"), encoding="utf-8") as f:
        return len(json.load(f)["pipeline"]["steps"])


def seconds(values):
    return "%.2f / %.2f" % (min(values), statistics.median(values))


def report(results, reps, no_ploomber, started):
    lines = []
    add = lines.append
    add("nb2pipe %s, Release build; %s." % (measure.commit(), measure.machine()))
    add("Load average %s at the start, %.2f at the end. Wall seconds, min / median of %d "
        "runs after an untimed one; each run from a fresh copy of the notebook's directory."
        % (started, os.getloadavg()[0], reps))
    add("")
    columns = ["notebook", "steps", "Jupyter (nbclient)", "`nb2pipe run`", "`--no-warm`",
               "run / Jupyter", "`--no-warm` / Jupyter", "no-op rerun", "rerun after a one-cell edit"]
    columns.append("Ploomber build" if not no_ploomber else "Ploomber build (missing)")
    add("| " + " | ".join(columns) + " |")
    add("| --- | ---: |" + " ---: |" * (len(columns) - 2))
    for label, (steps, r) in results.items():
        j, w, n = min(r["jupyter"]), min(r["warm"]), min(r["no-warm"])
        row = [label, str(steps), seconds(r["jupyter"]), seconds(r["warm"]), seconds(r["no-warm"]),
               "**%.2f×**" % (w / j), "%.2f×" % (n / j), seconds(r["no-op"]), seconds(r["edit"])]
        row.append(seconds(r["ploomber"]) if "ploomber" in r else "–")
        add("| " + " | ".join(row) + " |")
    if no_ploomber:
        add("")
        add("Ploomber: %s." % no_ploomber)
    return "\n".join(lines) + "\n"


def main():
    ap = measure.arguments(__doc__)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--notebooks", default="titanic,27,100,realrun")
    args = ap.parse_args()
    nb2pipe = os.path.join(os.path.abspath(args.bin), "nb2pipe")
    scratch = os.path.join(os.path.abspath(args.bin), "bench-run-scratch")
    no_ploomber = ploomber_reason()
    if no_ploomber:
        print("note: %s; the Ploomber column is left out" % no_ploomber, file=sys.stderr)
    started = "%.2f" % os.getloadavg()[0]
    results = {}
    for nb in notebooks(args.notebooks.split(","), os.path.abspath(args.data)):
        shutil.rmtree(scratch, ignore_errors=True)
        os.makedirs(scratch)
        t0 = time.perf_counter()
        steps = steps_of(nb, nb2pipe, scratch)
        one_round(nb, nb2pipe, scratch, not no_ploomber)  # untimed
        r = {}
        for _ in range(args.reps):
            shutil.rmtree(scratch)
            os.makedirs(scratch)
            for column, value in one_round(nb, nb2pipe, scratch, not no_ploomber).items():
                r.setdefault(column, []).append(value)
        results[nb.label] = (steps, r)
        print("%s: measured in %.0f s" % (nb.label, time.perf_counter() - t0), file=sys.stderr)
    shutil.rmtree(scratch, ignore_errors=True)
    text = report(results, args.reps, no_ploomber, started)
    with open(args.out, "w") as f:
        f.write(text)
    sys.stdout.write(text)


if __name__ == "__main__":
    main()
