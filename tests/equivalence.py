#!/usr/bin/python3
"""The pipeline gives the notebook's results.

For each notebook: convert it, run the pipeline with `nb2pipe run`, then run the
notebook itself top to bottom in one namespace (each cell as nb2pipe translates its
magics, from `analyze --json --python`; cells tagged `skip` left out, as the pipeline
leaves them out). Right after the last cell of each step, every variable that step
outputs must equal, in the notebook's namespace, the value the pipeline saved.

usage: equivalence.py NB2PIPE_BINARY NOTEBOOK[:DATA_FILE,...] ...
Data files are copied next to the notebook. Prints one line per notebook and a summary.
"""
import builtins
import contextlib
import io
import json
import os
import pickle
import re
import shutil
import subprocess
import sys
import tempfile
import types


def same(a, b):
    """Equality that works for DataFrames, arrays and fitted models."""
    try:
        if pickle.dumps(a, protocol=4) == pickle.dumps(b, protocol=4):
            return True
    except Exception:
        pass
    try:
        import pandas as pd
        if isinstance(a, (pd.DataFrame, pd.Series, pd.Index)):
            return type(a) is type(b) and a.equals(b)
    except ImportError:
        pass
    try:
        import numpy as np
        if isinstance(a, np.ndarray):
            return isinstance(b, np.ndarray) and a.shape == b.shape and bool(
                np.array_equal(a, b, equal_nan=a.dtype.kind in "fc"))
    except ImportError:
        pass
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(map(same, a, b))
    if hasattr(a, "__dict__") and type(a) is type(b) and not isinstance(a, type):
        return same(vars(a), vars(b))
    try:
        return bool(a == b)
    except Exception:
        return False


def run(cmd, cwd):
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True,
                          env=dict(os.environ, NO_COLOR="1"))


def step_cells(pipe, manifest):
    """Cell key (id or number, as the step scripts name them) -> step name."""
    owner = {}
    for step in manifest["pipeline"]["steps"]:
        with open(os.path.join(pipe, step["script"]), encoding="utf-8") as f:
            for line in f:
                m = re.match(r"# %% cell (\S+)$", line.rstrip("\n"))
                if m:
                    owner[m.group(1)] = step["name"]
    return owner


def check(binary, spec):
    notebook, _, data = spec.partition(":")
    work = tempfile.mkdtemp(prefix="nb2pipe-equiv-")
    try:
        name = os.path.basename(notebook)
        shutil.copy(notebook, work)
        for extra in filter(None, data.split(",")):
            shutil.copy(extra, work)
        for cmd in (["convert", name, "-o", "pipe"], ["run", "pipe"]):
            proc = run([binary] + cmd, work)
            if proc.returncode != 0:
                return f"nb2pipe {' '.join(cmd)} exited {proc.returncode}:\n{proc.stdout}{proc.stderr}"
        manifest = json.load(open(os.path.join(work, "pipe", "nb2pipe.lock.json"), encoding="utf-8"))
        owner = step_cells(os.path.join(work, "pipe"), manifest)
        outputs = {s["name"]: s["outputs"] for s in manifest["pipeline"]["steps"]}
        groups = {s["name"]: s.get("groups", {}) for s in manifest["pipeline"]["steps"]}
        # the pipeline's own reader: groups, serializer headers, absent values
        sys.path.insert(0, os.path.join(work, "pipe"))
        sys.modules.pop("nb2pipe_runtime", None)
        import nb2pipe_runtime as runtime
        analysis = json.loads(run([binary, "analyze", "--json", "--python", name], work).stdout)
        raw = json.load(open(os.path.join(work, name), encoding="utf-8"))
        tags = [c.get("metadata", {}).get("tags", []) for c in raw["cells"]]

        cells = [c for c in analysis["cells"] if "skip" not in tags[c["cell"] - 1]]
        keys = [c.get("id") or str(c["cell"]) for c in cells]
        last_cell = {}
        for key in keys:
            if key in owner:
                last_cell[owner[key]] = key

        # run the notebook as one program, in a fresh __main__ (so that pickles of its
        # classes resolve)
        module = types.ModuleType("__main__")
        saved_main, saved_cwd = sys.modules["__main__"], os.getcwd()
        had_display = hasattr(builtins, "display")
        if not had_display:
            builtins.display = lambda *args, **kwargs: None
        compared = 0
        try:
            sys.modules["__main__"] = module
            os.chdir(work)
            for cell, key in zip(cells, keys):
                with contextlib.redirect_stdout(io.StringIO()):  # what the cells print
                    exec(compile(cell["python"], f"cell {key}", "exec"), module.__dict__)
                for step, last in last_cell.items():
                    if last != key:
                        continue
                    for artifact in outputs[step]:
                        if artifact == "random-state":
                            continue
                        path = os.path.join(work, "pipe", "output", step, artifact + ".pkl")
                        saved, _ = runtime.read_artifact(path)
                        members = groups[step].get(artifact)
                        values = saved if members else {artifact: saved}
                        for var, value in values.items():
                            if value is runtime.ABSENT:
                                if var in module.__dict__:
                                    return f"step {step}: {var} saved as absent, the notebook has it"
                            elif not same(module.__dict__[var], value):
                                return f"step {step}: {var} differs from the notebook's value"
                            compared += 1
        finally:
            sys.path.remove(os.path.join(work, "pipe"))
            sys.modules["__main__"] = saved_main
            os.chdir(saved_cwd)
            if not had_display:
                del builtins.display
        return f"ok: {len(outputs)} steps, {compared} outputs equal to the notebook's"
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main():
    binary = os.path.abspath(sys.argv[1])
    failed = 0
    for spec in sys.argv[2:]:
        result = check(binary, spec)
        ok = result.startswith("ok")
        failed += not ok
        print(f"{'equivalent' if ok else 'FAIL'} {os.path.basename(spec.partition(':')[0])}: {result}")
        sys.stdout.flush()
    print(f"equivalence: {len(sys.argv) - 2 - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
