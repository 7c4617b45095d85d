#!/usr/bin/env python3
"""What `nb2pipe run`, `status`, `runs`, `restore` and `gc` promise.

    run_behaviour.py NB2PIPE FIXTURES [--no-warm] [ONLY]

Every check runs in the mode given: steps forked by the warm interpreter (the default)
or, with --no-warm, a fresh Python per step (every `run` gets --no-warm). The checks
named "warm: ..." compare the two modes themselves and run in the default mode only.

Every claim about what ran is read from the run records (.nb2pipe/runs.sqlite, with
Python's sqlite3), never inferred from timing; the parallelism checks read the start
and end times the steps themselves saved. Prints one line per check and a summary.
"""
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time

from checks import CHECKS, check, copy_fixtures, edit_cell, run_checks

BINARY = FIXTURES = None
MODE = []  # ["--no-warm"] when the checks run with a fresh Python per step


def command(args):
    """The nb2pipe command line for ARGS, in the mode of this run of the checks."""
    if args and args[0] == "run":
        args = ["run"] + MODE + args[1:]
    return [BINARY] + args


def nb2pipe(args, cwd, **kwargs):
    env = dict(os.environ, NO_COLOR="1")
    return subprocess.run(command(args), cwd=cwd, capture_output=True, text=True, env=env,
                          timeout=300, **kwargs)


def ok(r):
    assert r.returncode == 0, f"exit {r.returncode}\n{r.stdout}\n{r.stderr}"
    return r


def workdir(*fixtures):
    return copy_fixtures(FIXTURES, *fixtures)


def notebook(cells):
    """An nbformat 4.5 notebook; CELLS are (kind, source) or (kind, source, tags)."""
    out = []
    for i, cell in enumerate(cells):
        kind, source = cell[0], cell[1]
        entry = {"cell_type": kind, "id": f"c{i}", "metadata": {}, "source": source}
        if len(cell) > 2:
            entry["metadata"]["tags"] = list(cell[2])
        if kind == "code":
            entry.update(execution_count=None, outputs=[])
        out.append(entry)
    return {"cells": out, "metadata": {"kernelspec": {"name": "python3", "language": "python",
                                                      "display_name": "Python 3"}},
            "nbformat": 4, "nbformat_minor": 5}


# source -> (left, right) -> join. The branches sleep SLEEP seconds between the start
# and end times they save, so overlapping spans prove they ran at the same time.
DIAMOND = notebook([
    ("code", "SLEEP = 1.0\nFAIL_RIGHT = False", ["parameters"]),
    ("markdown", "## source"),
    ("code", "import time\nbase = 10"),
    ("markdown", "## left"),
    ("code", "left_start = time.time()\ntime.sleep(SLEEP)\nleft = base + 1\nleft_end = time.time()"),
    ("markdown", "## right"),
    ("code", "right_start = time.time()\nif FAIL_RIGHT:\n    raise RuntimeError('right failed on purpose')\n"
             "time.sleep(SLEEP)\nright = base + 2\nright_end = time.time()"),
    ("markdown", "## join"),
    ("code", "total = left + right\nspans = [(left_start, left_end), (right_start, right_end)]\nprint(total)"),
])


def converted(nb, name):
    """A new directory holding notebook NB as NAME.ipynb, converted into NAME/."""
    work = tempfile.mkdtemp(prefix="nb2pipe-run-")
    with open(os.path.join(work, name + ".ipynb"), "w") as f:
        json.dump(nb, f, indent=1)
    ok(nb2pipe(["convert", name + ".ipynb"], work))
    return work


def diamond():
    return converted(DIAMOND, "diamond")


def records(pipeline):
    """{run id: {"status": ..., "steps": {step: (status, reason)}}} from the database."""
    db = sqlite3.connect(os.path.join(pipeline, ".nb2pipe", "runs.sqlite"))
    runs = {}
    for run_id, status in db.execute("SELECT id, status FROM runs"):
        runs[run_id] = {"status": status, "steps": {}}
    for run_id, step, status, reason in db.execute("SELECT run, step, status, reason FROM steps"):
        runs[run_id]["steps"][step] = (status, reason)
    db.close()
    return runs


def executed(pipeline, run_id):
    return sorted(step for step, (status, _) in records(pipeline)[run_id]["steps"].items()
                  if status in ("ok", "failed", "interrupted"))


def load(path):
    # the pickles hold plain floats and ints: no pandas needed to read them
    import pickle
    with open(path, "rb") as f:
        return pickle.load(f)


def read(path):
    with open(path, "rb") as f:
        return f.read()


# ---- incremental -------------------------------------------------------------------------

TITANIC_STEPS = ["clean", "evaluate", "feature_engineering", "load_data", "train"]


def cell_source(work, cell_id):
    nb = json.load(open(os.path.join(work, "titanic.ipynb"), encoding="utf-8"))
    return "".join(next(c["source"] for c in nb["cells"] if c.get("id") == cell_id))


@check("incremental: a second run executes nothing; a one-cell edit reruns that step and its dependents")
def _():
    work = workdir("titanic.ipynb", "titanic.csv")
    ok(nb2pipe(["convert", "titanic.ipynb"], work))
    pipe = os.path.join(work, "titanic")
    ok(nb2pipe(["run", "titanic"], work))
    assert executed(pipe, 1) == TITANIC_STEPS, executed(pipe, 1)
    r = ok(nb2pipe(["run", "titanic"], work))
    assert executed(pipe, 2) == [], executed(pipe, 2)
    assert "run 2 ok: 0 ran, 5 up to date" in r.stdout, r.stdout
    r = ok(nb2pipe(["status", "titanic"], work))
    assert r.stdout.count("up to date") == 5, r.stdout
    # an edit that changes the cleaned data: clean and everything after it reruns
    edit_cell(os.path.join(work, "titanic.ipynb"), "clean",
              'df["Age"] = df["Age"].fillna(df["Age"].mean())\n'
              'df["Embarked"] = df["Embarked"].fillna("S")\n'
              'df.drop(columns=["Cabin", "Ticket"], inplace=True)\n'
              'df["Fare"] = df["Fare"].fillna(df["Fare"].median())')
    ok(nb2pipe(["convert", "titanic.ipynb"], work))
    r = ok(nb2pipe(["status", "titanic"], work))
    assert "clean                    stale       code changed" in r.stdout, r.stdout
    assert "evaluate                 stale       upstream train is not up to date" in r.stdout, r.stdout
    ok(nb2pipe(["run", "titanic"], work))
    assert executed(pipe, 3) == ["clean", "evaluate", "feature_engineering", "train"], executed(pipe, 3)
    assert records(pipe)[3]["steps"]["clean"] == ("ok", "code changed"), records(pipe)[3]
    assert records(pipe)[3]["steps"]["train"] == ("ok", "upstream output changed"), records(pipe)[3]
    # a comment changes the step's code but not what it saves: the steps after it stay
    edit_cell(os.path.join(work, "titanic.ipynb"), "clean",
              "# fill with the mean, not the group median\n" + cell_source(work, "clean"))
    ok(nb2pipe(["convert", "titanic.ipynb"], work))
    ok(nb2pipe(["run", "titanic"], work))
    assert executed(pipe, 4) == ["clean"], executed(pipe, 4)
    # a parameter reruns exactly the steps that read it (and what their outputs change)
    ok(nb2pipe(["run", "titanic", "--param", "N_ESTIMATORS=20"], work))
    assert executed(pipe, 5) == ["evaluate", "train"], executed(pipe, 5)
    # an output deleted behind nb2pipe's back is noticed, and put back from the object
    # store (the run cache) rather than computed again
    # X's file: X.pkl, or the file of the group X is saved in (X__y.pkl)
    x_name = sorted(os.listdir(os.path.join(pipe, "output", "feature_engineering")))[0]
    assert x_name.startswith("X") and x_name.endswith(".pkl"), x_name
    x_path = os.path.join(pipe, "output", "feature_engineering", x_name)
    x_bytes = read(x_path)
    os.remove(x_path)
    ok(nb2pipe(["run", "titanic", "--param", "N_ESTIMATORS=20"], work))
    assert records(pipe)[6]["steps"]["feature_engineering"] == (
        "up-to-date", f"output feature_engineering/{x_name} is missing; outputs of run 5 restored"), \
        records(pipe)[6]
    assert executed(pipe, 6) == [] and read(x_path) == x_bytes, executed(pipe, 6)
    r = ok(nb2pipe(["run", "titanic", "--force", "--only", "clean", "--param", "N_ESTIMATORS=20"], work))
    assert executed(pipe, 7) == ["clean"], executed(pipe, 7)


# ---- parallel ----------------------------------------------------------------------------

def spans(pipe):
    out = os.path.join(pipe, "output")
    left = (load(os.path.join(out, "left", "left_start.pkl")), load(os.path.join(out, "left", "left_end.pkl")))
    right = (load(os.path.join(out, "right", "right_start.pkl")), load(os.path.join(out, "right", "right_end.pkl")))
    return left, right


def overlap(a, b):
    return min(a[1], b[1]) - max(a[0], b[0])


@check("parallel: the branches of a diamond overlap with -j 2 and do not with -j 1")
def _():
    work = diamond()
    pipe = os.path.join(work, "diamond")
    ok(nb2pipe(["run", "diamond", "-j", "2"], work))
    left, right = spans(pipe)
    assert overlap(left, right) > 0.5, (left, right)
    ok(nb2pipe(["run", "diamond", "-j", "1", "--force"], work))
    left, right = spans(pipe)
    assert overlap(left, right) < 0, (left, right)
    assert executed(pipe, 2) == ["join", "left", "right", "source"], executed(pipe, 2)


@check("selection: --only, --from, --until pick the steps; an unknown step is exit 2")
def _():
    work = diamond()
    pipe = os.path.join(work, "diamond")
    ok(nb2pipe(["run", "diamond", "--until", "left", "--param", "SLEEP=0"], work))
    assert sorted(records(pipe)[1]["steps"]) == ["left", "source"], records(pipe)[1]
    ok(nb2pipe(["run", "diamond", "--only", "right", "--param", "SLEEP=0"], work))
    assert sorted(records(pipe)[2]["steps"]) == ["right"], records(pipe)[2]
    ok(nb2pipe(["run", "diamond", "--from", "left", "--force", "--param", "SLEEP=0"], work))
    assert sorted(records(pipe)[3]["steps"]) == ["join", "left"], records(pipe)[3]
    r = nb2pipe(["run", "diamond", "--only", "nope"], work)
    assert r.returncode == 2 and "[unknown-step]" in r.stderr and "its steps: source, left, right, join" in r.stderr, r.stderr


# ---- failure and interrupt ---------------------------------------------------------------

@check("failure: dependents are skipped, the independent branch finishes, exit 1")
def _():
    work = diamond()
    pipe = os.path.join(work, "diamond")
    r = nb2pipe(["run", "diamond", "-j", "2", "--param", "FAIL_RIGHT=True", "--param", "SLEEP=0.5"], work)
    assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)
    steps = records(pipe)[1]["steps"]
    assert steps["left"][0] == "ok" and steps["right"][0] == "failed", steps
    assert steps["join"] == ("skipped", "upstream right failed"), steps
    assert records(pipe)[1]["status"] == "failed"
    assert "right failed on purpose" in r.stdout, r.stdout
    # --fail-fast stops the branch still running
    r = nb2pipe(["run", "diamond", "-j", "2", "--fail-fast", "--force",
                 "--param", "FAIL_RIGHT=True", "--param", "SLEEP=5"], work)
    assert r.returncode == 1, (r.returncode, r.stdout)
    steps = records(pipe)[2]["steps"]
    assert steps["right"][0] == "failed" and steps["left"] == ("interrupted", "stopped by --fail-fast"), steps


def step_processes(pipe):
    """Processes whose command line runs a script of PIPE, or its warm interpreter (the
    path as given, relative to the directory the run started in: another test's pipeline
    of the same name is not this one)."""
    found = []
    name = os.path.basename(pipe)
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            cmd = read(f"/proc/{pid}/cmdline").replace(b"\0", b" ").decode(errors="replace")
            cwd = os.readlink(f"/proc/{pid}/cwd")
        except OSError:
            continue
        relative = (f"{name}/steps/" in cmd or f"{name}/.nb2pipe/" in cmd) and \
            cwd == os.path.dirname(pipe)
        if os.path.join(pipe, "steps") in cmd or relative:
            found.append((pid, cmd))
    return found


def group_members(groups):
    """Processes in the process groups GROUPS (ids as strings)."""
    found = []
    for pid in os.listdir("/proc"):
        try:
            stat = read(f"/proc/{pid}/stat").decode()
        except OSError:
            continue
        if stat.rsplit(")", 1)[1].split()[2] in groups:  # field 5, after "pid (comm) state ppid"
            found.append(pid)
    return found


def wait_for_event(proc, event, count):
    """Reads PROC's JSON events until the COUNT-th EVENT; returns those events."""
    seen = []
    deadline = time.time() + 60
    while time.time() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        if json.loads(line).get("event") == event:
            seen.append(json.loads(line))
            if len(seen) == count:
                return seen
    raise AssertionError(f"no {count} {event} events")


@check("interrupt: SIGINT kills the steps, records the run interrupted; the next run resumes")
def _():
    work = diamond()
    pipe = os.path.join(work, "diamond")
    proc = subprocess.Popen(command(["run", "diamond", "-j", "2", "--json", "--param", "SLEEP=30"]),
                            cwd=work, stdout=subprocess.PIPE, text=True)
    starts = wait_for_event(proc, "start", 3)  # source, then both branches
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=20)
    assert proc.returncode == 130, proc.returncode
    proc.stdout.close()
    assert step_processes(pipe) == [], step_processes(pipe)
    # a forked step's command line is the warm interpreter's: look for its process group
    groups = {str(event["pid"]) for event in starts}
    assert len(groups) == 3 and not group_members(groups), group_members(groups)
    run = records(pipe)[1]
    assert run["status"] == "interrupted", run
    assert run["steps"]["left"][0] == "interrupted" and run["steps"]["right"][0] == "interrupted", run
    assert run["steps"]["join"] == ("skipped", "the run was interrupted"), run
    assert not os.path.exists(os.path.join(pipe, "output", "left")), os.listdir(os.path.join(pipe, "output"))
    ok(nb2pipe(["run", "diamond", "-j", "2", "--param", "SLEEP=0.1"], work))
    assert executed(pipe, 2) == ["join", "left", "right"], executed(pipe, 2)
    assert read(os.path.join(pipe, ".nb2pipe", "logs", "run-2", "join.log")) == b"23\n"


@check("lock: a second run of the same pipeline fails clearly, or waits with --wait")
def _():
    work = diamond()
    proc = subprocess.Popen(command(["run", "diamond", "--json", "--param", "SLEEP=2"]),
                            cwd=work, stdout=subprocess.PIPE, text=True)
    wait_for_event(proc, "start", 1)
    r = nb2pipe(["run", "diamond"], work)
    assert r.returncode == 2 and "[locked]" in r.stderr and f"pid {proc.pid}" in r.stderr, r.stderr
    r = nb2pipe(["run", "diamond", "--wait", "--param", "SLEEP=2"], work)
    proc.stdout.read()
    assert proc.wait() == 0
    assert r.returncode == 0, r.stdout + r.stderr
    runs = records(os.path.join(work, "diamond"))
    assert [runs[i]["status"] for i in sorted(runs)] == ["ok", "ok"], runs
    assert executed(os.path.join(work, "diamond"), 2) == [], "the waiting run found everything up to date"


@check("records: damaged or foreign database is exit 2 with a clear message; --no-record still runs")
def _():
    work = diamond()
    db = os.path.join(work, "diamond", ".nb2pipe", "runs.sqlite")
    os.makedirs(os.path.dirname(db))
    with open(db, "wb") as f:
        f.write(b"this is not a database\n" * 100)
    for command in (["run", "diamond"], ["status", "diamond"], ["runs", "diamond"]):
        r = nb2pipe(command, work)
        assert r.returncode == 2 and "[bad-run-records]" in r.stderr, (command, r.returncode, r.stderr)
        assert "Traceback" not in r.stderr and "runs.sqlite" in r.stderr
    os.remove(db)
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE mine (x)")
    con.commit()
    con.close()
    r = nb2pipe(["run", "diamond"], work)
    assert r.returncode == 2 and "not written by nb2pipe" in r.stderr, r.stderr
    r = ok(nb2pipe(["run", "diamond", "--no-record", "--param", "SLEEP=0"], work))
    assert "4 ran" in r.stdout, r.stdout


@check("json: one event per line, begin/start/finish/end")
def _():
    work = diamond()
    r = ok(nb2pipe(["run", "diamond", "--json", "--param", "SLEEP=0"], work))
    events = [json.loads(line) for line in r.stdout.splitlines()]
    kinds = [e["event"] for e in events]
    assert kinds[0] == "begin" and kinds[-1] == "end" and kinds.count("start") == 4, kinds
    assert kinds.count("finish") == 4 and events[-1]["status"] == "ok" and events[-1]["run"] == 1, events


# ---- restore and gc ----------------------------------------------------------------------

def execute_notebook(path, cwd):
    """Runs the code cells of a notebook in one namespace, as a kernel would."""
    nb = json.load(open(path))
    code = "\n\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
    return subprocess.run(["/usr/bin/python3", "-c", code], cwd=cwd, capture_output=True, text=True,
                          timeout=300)


@check("restore: inputs byte-equal to the chosen run's; run --from then gives that run's results")
def _():
    work = workdir("titanic.ipynb", "titanic.csv")
    with open(os.path.join(work, "titanic.csv")) as f:
        lines = f.readlines()
    with open(os.path.join(work, "titanic_small.csv"), "w") as f:
        f.writelines(lines[:401])
    ok(nb2pipe(["convert", "titanic.ipynb"], work))
    pipe = os.path.join(work, "titanic")
    df_path = os.path.join(pipe, "output", "load_data", "df.pkl")
    metrics_path = os.path.join(pipe, "output", "evaluate", "metrics.json")
    ok(nb2pipe(["run", "titanic"], work))
    first_df, first_metrics = read(df_path), read(metrics_path)
    ok(nb2pipe(["run", "titanic", "--param", "DATA_PATH=titanic_small.csv"], work))
    assert read(df_path) != first_df and read(metrics_path) != first_metrics
    r = ok(nb2pipe(["restore", "clean", "--run", "1", "titanic"], work))
    assert read(df_path) == first_df, "restored input differs from run 1's"
    assert "restored titanic/output/load_data/df.pkl (df from step load_data, run 1)" in r.stdout, r.stdout
    assert "resume with: nb2pipe run titanic --from clean" in r.stdout, r.stdout
    # resuming: the steps have run 1's fingerprints again, so the run cache gives run 1's
    # outputs; forced, they execute and compute the same bytes
    ok(nb2pipe(["run", "titanic", "--from", "clean"], work))
    assert read(metrics_path) == first_metrics, (read(metrics_path), first_metrics)
    assert executed(pipe, 3) == [], executed(pipe, 3)
    ok(nb2pipe(["run", "titanic", "--from", "clean", "--force"], work))
    assert read(metrics_path) == first_metrics, (read(metrics_path), first_metrics)
    assert executed(pipe, 4) == ["clean", "evaluate", "feature_engineering", "train"], executed(pipe, 4)
    # the resume command carries the run's parameters
    r = ok(nb2pipe(["restore", "train", "--run", "2", "titanic"], work))
    assert "--from train --param DATA_PATH=titanic_small.csv" in r.stdout, r.stdout
    # a notebook that loads exactly those inputs and runs the step's code
    r = ok(nb2pipe(["restore", "evaluate", "--run", "1", "--notebook", "debug.ipynb", "titanic"], work))
    done = execute_notebook(os.path.join(work, "debug.ipynb"), work)
    assert done.returncode == 0, done.stderr
    assert "best_accuracy" in done.stdout or "logreg" in done.stdout, done.stdout
    r = nb2pipe(["restore", "evaluate", "--notebook", "titanic.ipynb", "titanic"], work)
    assert r.returncode == 2 and "[would-overwrite]" in r.stderr, r.stderr
    r = nb2pipe(["restore", "evaluate", "--run", "99", "titanic"], work)
    assert r.returncode == 2 and "[no-such-run]" in r.stderr, r.stderr


@check("cache: a parameter set back restores the earlier run's outputs without running; gc'd objects run again")
def _():
    work = diamond()
    pipe = os.path.join(work, "diamond")
    data = os.path.join(pipe, "output")
    ok(nb2pipe(["run", "diamond", "--param", "SLEEP=0"], work))
    first = {step: read(os.path.join(data, step, step + ".pkl")) for step in ("left", "right")}
    ok(nb2pipe(["run", "diamond", "--param", "SLEEP=0.01"], work))
    assert executed(pipe, 2) == ["join", "left", "right"], executed(pipe, 2)
    r = ok(nb2pipe(["status", "diamond", "--param", "SLEEP=0"], work))
    assert "run 1 has the outputs" in r.stdout, r.stdout
    ok(nb2pipe(["run", "diamond", "--param", "SLEEP=0"], work))
    assert executed(pipe, 3) == [], executed(pipe, 3)
    steps = records(pipe)[3]["steps"]
    for step in ("left", "right", "join"):
        status, reason = steps[step]
        assert status == "up-to-date" and reason.endswith("outputs of run 1 restored"), (step, steps)
    for step, content in first.items():
        assert read(os.path.join(data, step, step + ".pkl")) == content, f"{step}: not run 1's bytes"
    # --force runs whatever the cache holds
    ok(nb2pipe(["run", "diamond", "--param", "SLEEP=0.01", "--force", "--only", "left"], work))
    assert executed(pipe, 4) == ["left"], executed(pipe, 4)
    # gc keeps run 4 alone (left's record): the other steps' records and objects are
    # gone, so they run again; left, recorded in run 4, is up to date
    ok(nb2pipe(["gc", "--keep", "1", "diamond"], work))
    ok(nb2pipe(["run", "diamond", "--param", "SLEEP=0.01"], work))
    assert executed(pipe, 5) == ["join", "right", "source"], executed(pipe, 5)


@check("gc: keeps the newest runs and the newest successful one; restore of a forgotten run is refused")
def _():
    work = diamond()
    pipe = os.path.join(work, "diamond")
    for sleep in ("0", "0.01", "0.02"):
        ok(nb2pipe(["run", "diamond", "--param", "SLEEP=" + sleep], work))
    nb2pipe(["run", "diamond", "--param", "FAIL_RIGHT=True", "--param", "SLEEP=0.03"], work)
    objects = os.path.join(pipe, ".nb2pipe", "objects")
    before = sum(len(files) for _, _, files in os.walk(objects))
    r = ok(nb2pipe(["gc", "--keep", "1", "diamond"], work))
    assert r.stdout.startswith("removed 2 runs and "), r.stdout
    assert sorted(records(pipe)) == [3, 4], sorted(records(pipe))
    after = sum(len(files) for _, _, files in os.walk(objects))
    assert 0 < after < before, (before, after)
    assert not os.path.exists(os.path.join(pipe, ".nb2pipe", "logs", "run-1"))
    r = nb2pipe(["restore", "join", "--run", "1", "diamond"], work)
    assert r.returncode == 2 and "[no-such-run]" in r.stderr, r.stderr
    ok(nb2pipe(["restore", "join", "--run", "3", "diamond"], work))
    r = ok(nb2pipe(["runs", "--json", "diamond"], work))
    assert [run["status"] for run in json.loads(r.stdout)] == ["ok", "failed"], r.stdout


# ---- the warm interpreter -----------------------------------------------------------------

# What a step's process starts with, recorded by each step of PROBE.
PROBE_STATE = """
state = {
    "argv": sys.argv, "orig_argv": sys.orig_argv[1:], "name": __name__,
    "file": sys.modules["__main__"].__file__, "path0": sys.path[0], "spec": repr(__spec__),
    "loader": type(__loader__).__name__,
    "cached": getattr(sys.modules["__main__"], "__cached__", "unset"),
    "main": sys.modules["__main__"].__dict__ is sys._getframe(0).f_globals,
    "fds": sorted(os.listdir("/proc/self/fd")), "stdin": os.readlink("/proc/self/fd/0"),
    "stdout": os.path.basename(os.readlink("/proc/self/fd/1")),
    "stderr": os.path.basename(os.readlink("/proc/self/fd/2")), "own_group": os.getpgrp() == os.getpid(),
    "handlers": [str(signal.getsignal(s)) for s in (signal.SIGINT, signal.SIGTERM,
                                                     signal.SIGPIPE, signal.SIGCHLD, signal.SIGHUP)],
    "blocked": sorted(int(s) for s in signal.pthread_sigmask(signal.SIG_BLOCK, [])),
    "threads": threading.active_count(), "cwd": os.getcwd(), "environ": dict(os.environ),
    "stdio": [sys.stdout.line_buffering, sys.stderr.line_buffering, sys.stdout.encoding,
              sys.stdout.errors, sys.stderr.errors], "flags": str(sys.flags),
    "recursion": sys.getrecursionlimit(), "umask": os.umask(0o22),
    "local_colorsys": hasattr(colorsys, "LOCAL"), "path": sys.path,
}
forked = b"nb2pipe_zygote" in open("/proc/self/cmdline", "rb").read()
"""

PROBE = notebook([
    ("code", "import os, sys, signal, threading, atexit\nimport numpy as np\nimport colorsys"),
    ("markdown", "## first"),
    ("code", PROBE_STATE + "first, first_forked = state, forked"),
    ("markdown", "## second"),
    ("code", PROBE_STATE + "second, second_forked = state, forked\n"
             "atexit.register(lambda: open('atexit-ran.txt', 'w').write('yes'))\n"
             "unclosed = open('unclosed.txt', 'w')\n"
             "unclosed.write('flushed at exit')\n"
             "print('no newline, no flush', end='')"),
    ("markdown", "## fallback"),
    ("code", "try:\n    import tensorflow\nexcept ImportError:\n    pass\n" + PROBE_STATE +
             "fallback, fallback_forked = state, forked"),
    ("markdown", "## report"),
    ("code", "report = dict(first=first, second=second, fallback=fallback,\n"
             "              forked=[first_forked, second_forked, fallback_forked])"),
    ("markdown", "## end"),
    ("code", "print(len(report))"),
])


def probe_run(work, *options):
    """Runs the probe pipeline afresh; returns its report and the second step's log."""
    for name in ("atexit-ran.txt", "unclosed.txt"):
        if os.path.exists(os.path.join(work, name)):
            os.remove(os.path.join(work, name))
    r = ok(subprocess.run([BINARY, "run", "probe", "--force", "-j", "1"] + list(options),
                          cwd=work, capture_output=True, text=True, timeout=300))
    report = load(os.path.join(work, "probe", "output", "report", "report.pkl"))
    run_id = len(records(os.path.join(work, "probe")))
    log = read(os.path.join(work, "probe", ".nb2pipe", "logs", f"run-{run_id}", "second.log"))
    effects = [read(os.path.join(work, name)) for name in ("atexit-ran.txt", "unclosed.txt")]
    return r, report, log, effects


@check("warm: a forked step starts as `python3 script` would, and its results are the fresh run's")
def _():
    work = converted(PROBE, "probe")
    # a module beside the notebook named like a standard one: a step imports this one
    with open(os.path.join(work, "colorsys.py"), "w") as f:
        f.write("LOCAL = True\n")
    r, warm, warm_log, warm_effects = probe_run(work)
    assert "fresh process: it imports tensorflow, which does not survive fork" in r.stdout, r.stdout
    assert warm["forked"] == [True, True, False], warm["forked"]
    _, fresh, fresh_log, fresh_effects = probe_run(work, "--no-warm")
    assert fresh["forked"] == [False, False, False], fresh["forked"]
    assert fresh["first"]["local_colorsys"], fresh["first"]
    for step in ("first", "second", "fallback"):
        for key, value in fresh[step].items():
            assert warm[step][key] == value, (step, key, warm[step][key], value)
    # atexit handlers ran, an unclosed file was flushed, so was print() without newline
    assert warm_effects == fresh_effects == [b"yes", b"flushed at exit"], (warm_effects, fresh_effects)
    assert warm_log == fresh_log == b"no newline, no flush", (warm_log, fresh_log)
    assert not [p for p in step_processes(os.path.join(work, "probe")) if "zygote" in p[1]], \
        "the warm interpreter outlived the run"


# Prints the global random states a process starts with (Python's, numpy's legacy one).
DRAWS = """import random, sys
import numpy as np
with open(sys.argv[1], "w") as f:
    f.write(repr((random.getstate()[1][:4], [int(x) for x in np.random.get_state()[1][:4]])))
"""


@check("warm: every forked step starts from new random states, as a fresh process does")
def _():
    # the steps of a pipeline may get their random state from the step before (the
    # runtime's hand-over): ask the warm interpreter itself for processes instead
    work = diamond()
    ok(nb2pipe(["run", "diamond", "--param", "SLEEP=0"], work))
    zygote = os.path.join(work, "diamond", ".nb2pipe", "nb2pipe_zygote.py")
    script = os.path.join(work, "draws.py")
    with open(script, "w") as f:
        f.write(DRAWS)
    ours, theirs = socket.socketpair()
    proc = subprocess.Popen(["/usr/bin/python3", zygote, str(theirs.fileno())], cwd=work,
                            pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL)
    theirs.close()
    replies = ours.makefile("rb")

    def ask(message):
        ours.sendall(json.dumps(message).encode() + b"\n")
        return json.loads(replies.readline())

    assert ask({"workdir": work, "scripts": [script], "also": []})["ready"]
    outputs = []
    for k in range(2):
        outputs.append(os.path.join(work, f"draws-{k}.txt"))
        pid = ask({"argv": ["/usr/bin/python3", script, outputs[-1]],
                   "log": os.path.join(work, f"draws-{k}.log")})["pid"]
        deadline = time.time() + 30
        while not os.path.exists(outputs[-1]) and time.time() < deadline:
            time.sleep(0.05)
        assert os.path.exists(outputs[-1]), (pid, read(os.path.join(work, f"draws-{k}.log")))
    replies.close()
    ours.close()
    assert proc.wait(timeout=30) == 0
    time.sleep(0.2)  # the second process may still be writing
    first, second = (eval(read(path)) for path in outputs)  # noqa: S307 - our own output
    assert first[0] != second[0] and first[1] != second[1], (first, second)


FAILING = notebook([
    ("code", "MODE = 'raise'", ["parameters"]),
    ("code", "import sys\nimport numpy as np"),
    ("markdown", "## fail"),
    ("code", "def boom():\n    raise ValueError('bad value')\n"
             "if MODE == 'raise':\n    boom()\n"
             "elif MODE == 'message':\n    sys.exit('leaving with a message')\n"
             "elif MODE == 'code':\n    sys.exit(3)\n"
             "elif MODE == 'interrupt':\n    raise KeyboardInterrupt\n"
             "elif MODE == 'syntax':\n    compile('1 +', 'x', 'exec')\n"
             "x = 1"),
])


@check("warm: a failing forked step fails as a fresh one: same log, exit status, signal")
def _():
    work = converted(FAILING, "failing")
    pipe = os.path.join(work, "failing")
    run_id = 0
    for mode in ("raise", "message", "code", "interrupt", "syntax"):
        seen = []
        for options in ([], ["--no-warm"]):
            r = subprocess.run([BINARY, "run", "failing", "--json", "--param", "MODE=" + mode] + options,
                               cwd=work, capture_output=True, text=True, timeout=300)
            run_id += 1
            finish = [json.loads(line) for line in r.stdout.splitlines()
                      if json.loads(line)["event"] == "finish"][0]
            log = read(os.path.join(pipe, ".nb2pipe", "logs", f"run-{run_id}", "fail.log"))
            seen.append((r.returncode, finish["status"], finish["exit_code"], log))
        assert seen[0] == seen[1], (mode, seen)
        assert seen[0][1] == "failed" and b"zygote" not in seen[0][3], (mode, seen[0])
    assert seen[0][3].startswith(b"Traceback (most recent call last):\n  File \"" + pipe.encode()), seen


@check("warm: when the warm interpreter cannot start, the run says so once and every step runs fresh")
def _():
    work = diamond()
    fake = os.path.join(work, "python3")
    with open(fake, "w") as f:  # a Python that refuses to be the warm interpreter
        f.write("#!/bin/sh\ncase \"$1\" in *nb2pipe_zygote.py) echo refused >&2; exit 7;; esac\n"
                "exec /usr/bin/python3 \"$@\"\n")
    os.chmod(fake, 0o755)
    r = ok(nb2pipe(["run", "diamond", "--python", fake, "--param", "SLEEP=0"], work))
    assert r.stdout.count("warm        off: ") == 1, r.stdout
    assert "it exited (see its log)" in r.stdout, r.stdout
    assert executed(os.path.join(work, "diamond"), 1) == ["join", "left", "right", "source"]
    log = read(os.path.join(work, "diamond", ".nb2pipe", "logs", "run-1", "warm-interpreter.log"))
    assert log == b"refused\n", log
    # --no-warm does not start it at all
    r = ok(nb2pipe(["run", "diamond", "--no-warm", "--force", "--param", "SLEEP=0"], work))
    assert "warm" not in r.stdout, r.stdout
    # nothing to run: no warm interpreter either (a no-op run stays fast)
    r = ok(nb2pipe(["run", "diamond", "--param", "SLEEP=0"], work))
    assert "warm" not in r.stdout and "0 ran, 4 up to date" in r.stdout, r.stdout


def main():
    global BINARY, FIXTURES, MODE
    args = sys.argv[1:]
    if "--no-warm" in args:
        args.remove("--no-warm")
        MODE = ["--no-warm"]
        CHECKS[:] = [(name, fn) for name, fn in CHECKS if not name.startswith("warm:")]
    BINARY, FIXTURES = os.path.abspath(args[0]), os.path.abspath(args[1])
    title = "run behaviour" + (" (--no-warm)" if MODE else "")
    return run_checks(title, only=args[2] if len(args) > 2 else "")


if __name__ == "__main__":
    sys.exit(main())
