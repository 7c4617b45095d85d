#!/usr/bin/python3
"""Steps forked by the warm interpreter save what steps in fresh processes save.

For each notebook (our runnable fixtures, then every notebook of ../shared/realrun):
convert it in two copies of its directory, run the pipeline in one with `nb2pipe run`
(warm) and in the other with `nb2pipe run --no-warm`, and compare: the same steps
succeed and fail with the same exit codes, the same files are saved under output/,
every saved value is equal once loaded (pickles with equivalence.same, metrics.json as
JSON), and every step printed the same (its log, with the copies' directories and
object addresses masked, and without what modules print when they are imported: a
warm run prints that once, into the warm interpreter's log). Most realrun notebooks are
one step, which saves nothing: for them the logs are what is compared. A notebook that
`nb2pipe convert` refuses is counted as skipped, with the reason, not as passed. A
notebook whose output changes from run to run (`deterministic` = no in the realrun
manifest: unseeded random numbers, timings, `df -h`) is compared by its step outcomes
and the files it saves only, and counted apart: its values and what it prints differ
between two fresh runs too (and a value drawn from a few possible ones can agree by
chance, so a third run cannot tell which are stable). A notebook whose steps hand the
global random states on (random-state.pkl) runs a third time, fresh again: a library's
state is compared when the two fresh runs agree on it (it was seeded), and a forked
step may hold the state of one more library (see equal_random_state). Temporary
files a failed save left behind (NAME.pkl.tmp-PID) are not outputs and are ignored.

usage: warm_equivalence.py NB2PIPE REALRUN_DIR NOTEBOOK[:DATA_FILE,...] ...
Runs with the environment the realrun notebooks were checked with, one step at a time
(-j 1; parallel steps are run_behaviour's). Prints one line per notebook and a summary;
exits 1 when any notebook differs.
"""
import importlib.util
import json
import os
import pickle
import re
import shutil
import subprocess
import sys
import tempfile

from corpus_sweep import corpus_rows
from equivalence import same

# as ../shared/realrun/README.md ran the notebooks
ENV = {"MPLBACKEND": "Agg", "PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1",
       "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
       "NO_COLOR": "1"}
RUN_TIMEOUT = 600
RUNTIMES = {}  # the runtime's text -> its module, loaded to read the artifacts
ZYGOTE_LOG = "warm-interpreter.log"
RANDOM_STATE = "random-state.pkl"  # the global random states a step hands to the next
ADDRESS = re.compile(r"0x[0-9a-f]{6,}")
DEBRIS = re.compile(r"\.tmp-\d+$")


class Notebook:
    def __init__(self, name, source_dir, notebook, data=(), volatile=False):
        self.name = name
        self.source_dir = source_dir  # copied whole (realrun), or None (a fixture)
        self.notebook = notebook      # path inside the copy, or the fixture's path
        self.data = data              # fixture data files copied next to it
        self.volatile = volatile


def copy(nb, home):
    """A fresh copy of NB's directory; returns (work dir, notebook path inside it)."""
    work = tempfile.mkdtemp(prefix="nb2pipe-warm-", dir=home)
    if nb.source_dir:
        shutil.copytree(nb.source_dir, work, dirs_exist_ok=True, symlinks=True)
        return work, os.path.join(work, nb.notebook)
    for path in (nb.notebook,) + tuple(nb.data):
        shutil.copy(path, work)
    return work, os.path.join(work, os.path.basename(nb.notebook))


def nb2pipe(binary, args, cwd, env):
    return subprocess.run([binary] + args, cwd=cwd, capture_output=True, text=True, env=env,
                          timeout=RUN_TIMEOUT)


def convert_and_run(binary, nb, home, env, options):
    """Converts NB in a fresh copy and runs it. Returns (None, refusal) when convert
    refuses it, else (outcome, pipeline directory)."""
    work, notebook = copy(nb, home)
    pipe = os.path.join(work, "nb2pipe-pipeline")
    converted = nb2pipe(binary, ["convert", notebook, "-o", pipe], os.path.dirname(notebook), env)
    if converted.returncode != 0:
        errors = [line for line in converted.stderr.splitlines() if ": error: " in line]
        return None, (errors or converted.stderr.splitlines() or ["exit %d" % converted.returncode])[0]
    # one step at a time: a step the dataflow should have ordered after another (a file
    # one writes and the other reads) must not make the two runs differ by a race
    ran = nb2pipe(binary, ["run", "--json", "-j", "1", pipe] + options, os.path.dirname(notebook), env)
    steps = {}
    for line in ran.stdout.splitlines():
        event = json.loads(line)
        if event["event"] == "finish":
            steps[event["step"]] = (event["status"], event.get("exit_code"))
    return (ran.returncode, steps), pipe


def saved_files(pipe):
    out = os.path.join(pipe, "output")
    found = set()
    for root, _, files in os.walk(out):
        for name in files:
            if not DEBRIS.search(name):
                found.add(os.path.relpath(os.path.join(root, name), out))
    return found


def step_logs(pipe):
    """{step: its log's lines}, masked: the copy's directory, object addresses, and the
    lines the warm interpreter printed while importing (absent from a forked step's log,
    in a fresh step's log)."""
    logs = os.path.join(pipe, ".nb2pipe", "logs", "run-1")
    work = os.path.dirname(pipe)

    def lines(name):
        with open(os.path.join(logs, name), encoding="utf-8", errors="replace") as f:
            return [ADDRESS.sub("0x?", line.replace(work, "<copy>")) for line in f]

    found = {name[:-4]: lines(name) for name in os.listdir(logs) if name != ZYGOTE_LOG}
    imports = lines(ZYGOTE_LOG) if os.path.exists(os.path.join(logs, ZYGOTE_LOG)) else []
    ended = [i for i, line in enumerate(imports) if line.startswith("nb2pipe: imported ")]
    return found, set(imports[:ended[0]] if ended else imports)


def differing_logs(pipe_a, pipe_b, steps):
    """The steps among STEPS whose logs differ between the two pipelines."""
    (a, imports_a), (b, imports_b) = step_logs(pipe_a), step_logs(pipe_b)
    imports = imports_a | imports_b
    return sorted(step for step in steps
                  if [l for l in a.get(step, []) if l not in imports] !=
                  [l for l in b.get(step, []) if l not in imports])


def load(path):
    """The value a step saved in PATH, read as the pipeline's runtime reads it (an
    artifact may start with a header naming its serializer)."""
    if path.endswith(".json"):
        with open(path, "rb") as f:
            return json.load(f)
    runtime = os.path.join(path.split(os.sep + "output" + os.sep)[0], "nb2pipe_runtime.py")
    with open(runtime, "rb") as f:
        code = f.read()
    module = RUNTIMES.get(code)  # one module for both copies: ABSENT is one object
    if module is None:
        spec = importlib.util.spec_from_file_location("nb2pipe_runtime_of_test", runtime)
        module = RUNTIMES[code] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    if hasattr(module, "read_artifact"):
        return module.read_artifact(path)[0]
    with open(path, "rb") as f:
        return pickle.load(f)


def equal_random_state(warm, fresh, again):
    """Whether a forked step saved the global random states a fresh one saved. The
    artifact holds the state of each library the process had imported: a forked step
    may hold one more (numpy, imported by the warm interpreter for another step; drawn
    anew from the OS, as a fresh process's would be), and a state that differs between
    two fresh runs (AGAIN: a second one's, or None) was never seeded: left out."""
    if not set(fresh) <= set(warm):
        return False
    return all(same(warm[lib], fresh[lib]) for lib in fresh
               if again is None or same(fresh[lib], again.get(lib)))


def equal_file(a, b, again=None):
    """Whether the saved files A and B hold equal values; (equal, how compared). AGAIN
    is the same file of a second fresh run, or None."""
    if not (a.endswith(".pkl") or a.endswith(".json")):
        return open(a, "rb").read() == open(b, "rb").read(), "bytes"
    try:
        if os.path.basename(a) == RANDOM_STATE:
            return equal_random_state(load(a), load(b), again and load(again)), "loaded"
        return same(load(a), load(b)), "loaded"
    except Exception:  # noqa: BLE001 - a class of the notebook's __main__: compare bytes
        return open(a, "rb").read() == open(b, "rb").read(), "bytes"


def differing(pipe_a, pipe_b, files, pipe_again=None):
    """The files among FILES whose values differ between the two pipelines, and how
    many were compared loaded."""
    differ, loaded = [], 0
    for rel in sorted(files):
        again = os.path.join(pipe_again, "output", rel) if pipe_again else None
        equal, how = equal_file(os.path.join(pipe_a, "output", rel),
                                os.path.join(pipe_b, "output", rel),
                                again if again and os.path.exists(again) else None)
        loaded += how == "loaded"
        if not equal:
            differ.append(rel)
    return differ, loaded


def compare(binary, nb, home):
    """One notebook: returns (verdict, text) with verdict ok, skipped or FAIL."""
    env = dict(os.environ, **ENV, HOME=tempfile.mkdtemp(prefix="home-", dir=home))
    warm, warm_pipe = convert_and_run(binary, nb, home, env, [])
    if warm is None:
        return "skipped", f"convert refuses it: {warm_pipe}"
    fresh, fresh_pipe = convert_and_run(binary, nb, home, env, ["--no-warm"])
    if warm != fresh:
        return "FAIL", f"steps ended differently: warm {warm}, --no-warm {fresh}"
    files = saved_files(warm_pipe)
    if files != saved_files(fresh_pipe):
        return "FAIL", f"saved files differ: {sorted(files ^ saved_files(fresh_pipe))}"
    status, steps = warm
    failed = sorted(step for step, (state, _) in steps.items() if state != "ok" and state != "up-to-date")
    if nb.volatile:
        text = (f"{len(steps)} steps ended alike, {len(files)} files saved by both; values and "
                "logs not compared (they change from run to run)")
    else:
        again_pipe = None
        if any(os.path.basename(f) == RANDOM_STATE for f in files):
            _, again_pipe = convert_and_run(binary, nb, home, env, ["--no-warm"])
        differ, loaded = differing(warm_pipe, fresh_pipe, files, again_pipe)
        if differ:
            return "FAIL", f"values differ: {differ}"
        differ = differing_logs(warm_pipe, fresh_pipe, steps)
        if differ:
            return "FAIL", f"the logs of steps {differ} differ"
        text = (f"{len(steps)} steps, {len(files)} saved files equal ({loaded} loaded and "
                f"compared), {len(steps)} logs equal")
    if failed:
        text += f"; exit {status} in both modes, steps not ok in both: {', '.join(failed)}"
    return "ok", text


def notebooks(realrun, specs):
    found = []
    for spec in specs:
        path, _, data = spec.partition(":")
        found.append(Notebook(os.path.basename(path), None, path, tuple(filter(None, data.split(",")))))
    for row in corpus_rows(realrun) or []:
        found.append(Notebook(row["dir"], os.path.join(realrun, row["dir"]), row["notebook"],
                              volatile=row["deterministic"] == "no"))
    return found


def main():
    binary, realrun = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    only = os.environ.get("NB2PIPE_WARM_ONLY", "")
    counts = {"ok": 0, "skipped": 0, "FAIL": 0}
    failing_steps = outcomes_only = 0
    with tempfile.TemporaryDirectory(prefix="nb2pipe-warm-equiv-") as home:
        for nb in notebooks(realrun, sys.argv[3:]):
            if only not in nb.name:
                continue
            try:
                verdict, text = compare(binary, nb, home)
            except subprocess.TimeoutExpired as e:
                verdict, text = "FAIL", f"timed out: {' '.join(e.cmd[1:3])}"
            counts[verdict] += 1
            failing_steps += verdict == "ok" and "not ok in both" in text
            outcomes_only += verdict == "ok" and "not compared" in text
            print(f"{verdict} {nb.name}: {text}")
            sys.stdout.flush()
    print(f"warm equivalence: {counts['ok']} passed ({failing_steps} of them with steps that "
          f"fail in both modes, {outcomes_only} compared by outcomes only), {counts['FAIL']} "
          f"failed, {counts['skipped']} skipped")
    return 1 if counts["FAIL"] or not counts["ok"] else 0


if __name__ == "__main__":
    sys.exit(main())
