#!/usr/bin/python3
"""Real notebooks: the pipeline ends with every value the notebook ends with.

For each notebook (the ones under ../shared/realrun, listed in its MANIFEST.tsv, and our
own under fixtures/realrun/NAME/NAME.ipynb):

1. An oracle cell is appended. It names every module-level variable the notebook binds
   (found here with Python's own ast on IPython's translation of each cell, not with
   nb2pipe's analysis) and writes a fingerprint of each value to a JSON file: exact for
   builtins, shape/dtypes/content hash for frames and arrays, class, parameters and
   fitted attributes for estimators, the attributes of instances of the notebook's own
   classes, the type name otherwise. A name the notebook ends without is "absent".
   A first cell seeds the random and numpy.random generators (SEED_CELL).
2. Reference: the notebook runs twice with nbclient (jupyter-execute, python3 kernel,
   cwd = its directory, each run in a fresh copy). Values that differ between the two
   runs are nondeterministic and left out.
3. Pipelines: the notebook is converted with `--split auto` ("auto"), with every code
   cell tagged `block:cN` ("cells") and with `--split dataflow` ("dataflow": cut where
   the fewest values cross, whatever tags or headings it has), and run with `nb2pipe run`. The oracle cell is the
   last step (or part of it), so the fingerprints it writes are the pipeline's values.
4. Every deterministic value must be equal. A difference is accepted only when it traces
   back to a cell where nb2pipe warned that values may differ (VALUE_WARNINGS): the
   variable is written by that cell, or by a later cell that reads a variable so traced
   (the warning is printed with it). A failed run is accepted the same way when one of
   the failing step's cells was warned about or reads such a variable. Anything else, a
   refused conversion or a failed run fails the test.

usage: realrun.py NB2PIPE [--shared DIR] [--fixtures DIR] [--jobs N] [--only SUBSTRING]
                          [--modes auto,cells,dataflow] [--keep DIR]
Prints a line per notebook and mode, then per mode `realrun MODE: N equal of M`. Exits 77
(skipped) when neither ../shared/realrun nor fixtures/realrun has a notebook.
"""
import argparse
import ast
import concurrent.futures
import csv
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

import nbformat
from IPython.core.inputtransformer2 import TransformerManager

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
FINGERPRINT_ENV = "NB2PIPE_FINGERPRINT"
ROLE_TAGS = {"skip", "imports", "functions", "pipeline-parameters", "parameters",
             "pipeline-metrics"}
# The warnings that say a step's values may differ from the notebook's (code nb2pipe
# cannot see, state it does not replay, values it cannot carry); only these excuse a
# difference. The others (an unused step, a star import, the order of file access) do not.
VALUE_WARNINGS = {"dynamic-code", "state-not-replayed", "unpicklable", "global-in-function",
                  "stateful-function", "stateful-code", "unsupported-magic", "timeit-draws"}

# The oracle: a helper and one try/except per name, so that a name the notebook ends
# without is recorded as absent rather than failing. Everything it binds starts with
# `_nb2pipe`, so it changes nothing the fingerprints cover.
FINGERPRINT_HELPER = r'''
def _nb2pipe_fingerprint(values, path):
    import hashlib, json, sys
    np = sys.modules.get("numpy")
    pd = sys.modules.get("pandas")
    root = __import__("os").environ.get("NB2PIPE_FINGERPRINT_ROOT") or "\0"

    def digest(data):
        return hashlib.sha1(data).hexdigest()

    def fp(v, depth, seen):
        t = type(v)
        if v is None or t in (bool, int, float, complex):
            return t.__name__ + ":" + repr(v)
        if t is str:
            v = v.replace(root, "<dir>")
        if t in (str, bytes):
            return t.__name__ + ":" + (repr(v) if len(v) < 200 else digest(
                v if t is bytes else v.encode("utf-8", "surrogatepass")))
        if depth > 8:
            return "deep:" + t.__qualname__
        if id(v) in seen:
            return "cycle:" + t.__qualname__
        seen = seen | {id(v)}
        name = t.__module__ + "." + t.__qualname__
        if np is not None and isinstance(v, np.ndarray):
            if v.dtype.kind == "O":
                return "ndarray:%s:O:[%s]" % (v.shape, ",".join(fp(x, depth + 1, seen) for x in v.ravel()))
            return "ndarray:%s:%s:%s" % (v.shape, v.dtype.str, digest(np.ascontiguousarray(v).tobytes()))
        if np is not None and isinstance(v, np.generic):
            return "npscalar:%s:%r" % (v.dtype.str, v.item())
        if np is not None and isinstance(v, np.random.Generator):
            return "Generator:" + fp(v.bit_generator.state, depth + 1, seen)
        if np is not None and isinstance(v, np.random.RandomState):
            return "RandomState:" + fp(v.get_state(legacy=False), depth + 1, seen)
        if pd is not None and isinstance(v, (pd.DataFrame, pd.Series)):
            try:
                content = digest(pd.util.hash_pandas_object(v, index=True).values.tobytes())
            except Exception:
                content = fp(v.to_dict() if isinstance(v, pd.Series) else v.to_dict("split"), depth + 1, seen)
            if isinstance(v, pd.DataFrame):
                return "DataFrame:%s:%s:%s:%s" % (v.shape, fp(list(v.columns), depth + 1, seen),
                                                 fp([str(d) for d in v.dtypes], depth + 1, seen), content)
            return "Series:%s:%s:%s:%s" % (v.shape, fp(v.name, depth + 1, seen), v.dtype, content)
        if pd is not None and isinstance(v, pd.Index):
            return "Index:%s:%s" % (v.dtype, fp(list(v), depth + 1, seen))
        if pd is not None and isinstance(v, (pd.Timestamp, pd.Timedelta, pd.Period, pd.Interval)):
            return name + ":" + repr(v)
        if isinstance(v, dict):
            return name + ":{" + ",".join(fp(k, depth + 1, seen) + "=" + fp(x, depth + 1, seen)
                                          for k, x in v.items()) + "}"
        if isinstance(v, (list, tuple)) or name == "collections.deque":
            return name + ":[" + ",".join(fp(x, depth + 1, seen) for x in v) + "]"
        if isinstance(v, (set, frozenset)):
            return name + ":{" + ",".join(sorted(fp(x, depth + 1, seen) for x in v)) + "}"
        if t.__module__ in ("datetime", "decimal", "fractions", "pathlib"):
            return name + ":" + repr(v)
        if t.__module__ == "random" and hasattr(v, "getstate"):
            return name + ":" + fp(v.getstate(), depth + 1, seen)
        if t.__module__.startswith("sklearn") and hasattr(v, "get_params"):
            fitted = {k: x for k, x in sorted(vars(v).items()) if k.endswith("_") and not k.startswith("_")}
            return name + ":" + fp(v.get_params(deep=False), depth + 1, seen) + ":" + fp(fitted, depth + 1, seen)
        if t.__module__ == "__main__" and not isinstance(v, type):
            state = dict(vars(v)) if hasattr(v, "__dict__") else {}
            for slot in getattr(t, "__slots__", ()):
                if hasattr(v, slot):
                    state[slot] = getattr(v, slot)
            return name + ":" + fp(state, depth + 1, seen)
        return "type:" + name

    out = {}
    for key, value in values.items():
        try:
            text = fp(value, 0, frozenset())
        except Exception as e:
            text = "error:" + type(e).__name__
        out[key] = {"hash": digest(text.encode("utf-8", "surrogatepass")), "summary": text[:120]}
    with open(path, "w", encoding="utf-8") as f:
        json.dump(out, f, indent=1, sort_keys=True)
'''


def oracle_cell(names):
    lines = [FINGERPRINT_HELPER.strip("\n"), "", "_nb2pipe_values = {}"]
    for name in names:
        lines += ["try:", f"    _nb2pipe_values[{name!r}] = {name}", "except NameError:", "    pass"]
    lines.append("_nb2pipe_fingerprint(_nb2pipe_values, __import__('os').environ['%s'])"
                 % FINGERPRINT_ENV)
    return "\n".join(lines) + "\n"


# The first cell of every notebook under test seeds Python's and numpy's global random
# generators, so that a notebook drawing unseeded random numbers (Kale's candies_sharing)
# ends with the same values in every run: they are compared rather than left out as
# nondeterministic (two or three runs agreeing by chance made that a coin flip), and the
# pipeline must hand the generators' state from step to step as the notebook does.
SEED_CELL = """\
import random as _nb2pipe_random
import numpy as _nb2pipe_numpy
_nb2pipe_random.seed(20261204)
_nb2pipe_numpy.random.seed(20261204)
"""


def seed_cell(kale):
    cell = nbformat.v4.new_code_cell(SEED_CELL)
    if kale:  # a step of its own: Kale's untagged first cell would join no step
        cell.metadata["tags"] = ["block:nb2pipe_seed"]
    return cell


# ---- Which names the notebook binds (Python's ast, independent of nb2pipe) --------------

class ModuleNames(ast.NodeVisitor):
    """Names bound at module level, names `global`-assigned in functions, and names
    deleted at module level."""

    def __init__(self):
        self.bound, self.deleted = [], set()

    def bind(self, name):
        if name not in self.bound:
            self.bound.append(name)

    def visit_Name(self, node):
        if isinstance(node.ctx, ast.Store):
            self.bind(node.id)
        elif isinstance(node.ctx, ast.Del):
            self.deleted.add(node.id)

    def visit_FunctionDef(self, node):
        for sub in ast.walk(node):
            if isinstance(sub, ast.Global):
                for name in sub.names:
                    self.bind(name)
        for deco in node.decorator_list:
            self.visit(deco)

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_ClassDef(self, node):
        for deco in node.decorator_list:
            self.visit(deco)

    def visit_Lambda(self, node):
        pass

    def visit_ListComp(self, node):  # comprehension targets do not leak
        for sub in ast.walk(node):
            if isinstance(sub, ast.NamedExpr):
                self.bind(sub.target.id)

    visit_SetComp = visit_DictComp = visit_GeneratorExp = visit_ListComp

    def visit_ExceptHandler(self, node):  # `except E as e` unbinds e at the end
        for stmt in node.body:
            self.visit(stmt)

    def visit_Import(self, node):
        pass

    visit_ImportFrom = visit_Import


def python_of(source):
    return TransformerManager().transform_cell(source)


def notebook_names(cells):
    """The names the oracle fingerprints: data the cells bind at module level."""
    visitor = ModuleNames()
    for cell in cells:
        try:
            visitor.visit(ast.parse(python_of(cell.source)))
        except SyntaxError:
            continue
    return [n for n in visitor.bound if not n.startswith("_") and n not in visitor.deleted]


def written_and_read(source):
    """The names a cell binds or changes (assignment targets, roots of attribute and item
    targets, receivers of method calls) and the names it reads."""
    try:
        tree = ast.parse(python_of(source))
    except SyntaxError:
        return set(), set()
    written, read = set(), set()

    def root(node):
        while isinstance(node, (ast.Attribute, ast.Subscript)):
            node = node.value
        return node.id if isinstance(node, ast.Name) else None

    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (written if isinstance(node.ctx, (ast.Store, ast.Del)) else read).add(node.id)
        elif isinstance(node, (ast.Attribute, ast.Subscript)) and isinstance(node.ctx, ast.Store):
            written.add(root(node))
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            written.add(root(node.func.value))
        elif isinstance(node, ast.Global):
            written.update(node.names)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            written.add(node.name)
    written.discard(None)
    return written, read


RANDOM_STATE = "<random-state>"  # the global random generators' state, as a name
# the warnings that may leave the random state different (code that is not run as the
# notebook ran it)
RANDOM_WARNINGS = {"timeit-draws", "dynamic-code", "unsupported-magic"}


def taint(cells, warnings, changed, draws):
    """Names whose values may differ because of something nb2pipe warned about: what a
    warned cell writes, and what any later cell writes from a tainted name. CHANGED adds,
    per cell number, what nb2pipe's analysis says the cell changes inside the functions
    it calls (ast cannot see into calls). The random state is a name too: a cell warned
    about with one of RANDOM_WARNINGS may leave it different, and the cells DRAWS lists (nb2pipe's analysis: they draw
    from a seeded global generator) read and write it. Returns {name: the warning it
    traces back to}."""
    warned, random_warned = {}, set()
    for cell, line, message, code in warnings:
        warned.setdefault(cell, f"cell {cell}:{line}: {message} [{code}]")
        if code in RANDOM_WARNINGS:
            random_warned.add(cell)
    tainted = {}
    for number, cell in enumerate(cells, 1):
        if cell.cell_type != "code":
            continue
        written, read = written_and_read(cell.source)
        written |= changed.get(number, set())
        if number in draws or number in random_warned:
            written.add(RANDOM_STATE)
        if number in draws:
            read.add(RANDOM_STATE)
        cause = warned.get(number) or next((tainted[n] for n in sorted(read) if n in tainted), None)
        if cause:
            for name in written:
                tainted.setdefault(name, cause)
    return tainted


# ---- Running -----------------------------------------------------------------------------

def base_env(home, fingerprint, root):
    env = {
        "PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": home, "MPLBACKEND": "Agg",
        "PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1", "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "NO_COLOR": "1", "LANG": "C.UTF-8",
        FINGERPRINT_ENV: fingerprint,
        # paths inside the copy the notebook runs in are compared without the copy's name
        "NB2PIPE_FINGERPRINT_ROOT": root,
    }
    return env


def copy_tree(src, dst):
    shutil.copytree(src, dst, symlinks=True)


def tagged_per_cell(nb):
    """A copy of NB with every code cell in a step of its own (`block:cN`); cells with a
    role (skip, imports, functions, parameters, metrics) keep it."""
    nb = nbformat.from_dict(json.loads(json.dumps(nb)))
    for number, cell in enumerate(nb.cells, 1):
        if cell.cell_type != "code":
            continue
        tags = list(cell.get("metadata", {}).get("tags", []))
        if ROLE_TAGS & set(tags):
            continue
        tags = [t for t in tags if not re.match(r"(block|step|prev):", t)]
        cell.setdefault("metadata", {})["tags"] = tags + [f"block:c{number}"]
    return nb


WARNING = re.compile(r"^.*?:cell (\d+):(\d+):(\d+): warning: (.*) \[([a-z0-9-]+)\]$")


def parse_warnings(stderr):
    found = []
    for line in stderr.splitlines():
        m = WARNING.match(line)
        if m and m.group(5) in VALUE_WARNINGS:
            found.append((int(m.group(1)), int(m.group(2)), m.group(4), m.group(5)))
    return found


class Case:
    def __init__(self, label, source_dir, notebook):
        self.label, self.source_dir, self.notebook = label, source_dir, notebook


def shared_cases(shared):
    manifest = os.path.join(shared, "realrun", "MANIFEST.tsv")
    if not os.path.isfile(manifest):
        return []
    with open(manifest, encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    return [Case(r["dir"], os.path.join(shared, "realrun", r["dir"]), r["notebook"]) for r in rows]


def fixture_cases(fixtures):
    cases = []
    for name in sorted(os.listdir(fixtures)) if os.path.isdir(fixtures) else []:
        path = os.path.join(fixtures, name, name + ".ipynb")
        if os.path.isfile(path):
            cases.append(Case("fixtures/" + name, os.path.join(fixtures, name), name + ".ipynb"))
    return cases


def run_reference(case, nb, work, index):
    """Runs NB (already holding the oracle) in a fresh copy; returns (fingerprints, error)."""
    copy = os.path.join(work, f"ref{index}")
    copy_tree(case.source_dir, copy)
    path = os.path.join(copy, case.notebook)
    nbformat.write(nb, path)
    home = os.path.join(work, f"home-ref{index}")
    os.makedirs(home)
    out = os.path.join(work, f"ref{index}.json")
    proc = subprocess.run(["jupyter-execute", "--kernel_name=python3", "--timeout=300",
                           os.path.basename(path)], cwd=os.path.dirname(path),
                          env=base_env(home, out, copy), capture_output=True, text=True, timeout=900)
    if proc.returncode != 0 or not os.path.exists(out):
        return None, f"reference run failed ({proc.returncode}): {proc.stderr[-1500:]}"
    with open(out, encoding="utf-8") as f:
        return json.load(f), None


def run_pipeline(binary, case, nb, work, mode):
    """Converts and runs NB; returns (fingerprints, warnings, error)."""
    copy = os.path.join(work, mode)
    copy_tree(case.source_dir, copy)
    path = os.path.join(copy, case.notebook)
    nbformat.write(tagged_per_cell(nb) if mode == "cells" else nb, path)
    pipe = os.path.join(work, "pipe-" + mode)
    home = os.path.join(work, "home-" + mode)
    os.makedirs(home)
    out = os.path.join(work, mode + ".json")
    env = base_env(home, out, copy)
    split = {"auto": "auto", "cells": "tags", "dataflow": "dataflow"}[mode]
    conv = subprocess.run([binary, "convert", path, "-o", pipe, "--split", split],
                          env=env, capture_output=True, text=True, timeout=300)
    warnings = parse_warnings(conv.stderr)
    analysis = subprocess.run([binary, "analyze", "--json", path], env=env, capture_output=True,
                              text=True, timeout=300)
    changed, draws = {}, set()
    if analysis.returncode == 0:
        for c in json.loads(analysis.stdout)["cells"]:
            changed[c["cell"]] = {m["name"] for m in c.get("mutations", []) + c.get("rebinds", [])}
            if c.get("random", {}).get("draws"):
                draws.add(c["cell"])
    warnings = (warnings, changed, draws)
    if conv.returncode != 0:
        errors = [l for l in conv.stderr.splitlines() if ": error: " in l]
        return None, warnings, "convert refused: " + "; ".join(errors[:3])
    run = subprocess.run([binary, "run", pipe, "-q"], env=env, capture_output=True, text=True,
                         timeout=1800)
    if run.returncode != 0 or not os.path.exists(out):
        output = run.stdout + run.stderr
        return None, warnings, (f"run failed ({run.returncode}): {output[-1500:]}",
                                failed_cells(pipe, output))
    with open(out, encoding="utf-8") as f:
        return json.load(f), warnings, None


def failed_cells(pipe, output):
    """The notebook cell numbers of the steps the run output says failed."""
    cells = set()
    for step in re.findall(r"step (\S+) failed", output):
        script = os.path.join(pipe, "steps", step + ".py")
        if os.path.exists(script):
            with open(script, encoding="utf-8") as f:
                cells.update(int(n) for n in re.findall(r"^# %% cell (\d+)$", f.read(), re.M))
    return cells


def check(binary, case, modes, keep):
    work = tempfile.mkdtemp(prefix="nb2pipe-realrun-")
    started = time.monotonic()
    try:
        nb = nbformat.read(os.path.join(case.source_dir, case.notebook), as_version=4)
        nb.cells = [c for c in nb.cells
                    if "skip" not in c.get("metadata", {}).get("tags", [])]
        names = notebook_names([c for c in nb.cells if c.cell_type == "code"])
        oracle = nbformat.v4.new_code_cell(oracle_cell(names))
        kale = any(re.match(r"(block|step):.", t) for c in nb.cells
                   for t in c.get("metadata", {}).get("tags", []))
        if kale:
            # with Kale tags an untagged last cell would join the step (or the metrics
            # cell) above it; the oracle is a step of its own
            oracle.metadata["tags"] = ["block:nb2pipe_oracle"]
        nb.cells.append(oracle)
        nb.cells.insert(0, seed_cell(kale))
        for cell in nb.cells:  # ids as nbformat 4.5 wants them (v3 and 4.0-4.4 have none)
            cell.pop("id", None)
        nb.nbformat_minor = 4
        refs = []
        for index in (1, 2):
            ref, err = run_reference(case, nb, work, index)
            if err:
                return {m: ("error", "reference: " + err) for m in modes}
            refs.append(ref)
        stable = {k: v for k, v in refs[0].items() if refs[1].get(k) == v}
        third = []  # a third reference, run only when a difference needs one
        results = {}
        for mode in modes:
            got, (warnings, changed, draws), err = run_pipeline(binary, case, nb, work, mode)
            tainted = taint(nb.cells, warnings, changed, draws)
            if isinstance(err, tuple):  # the run failed: warned about, or not
                message, cells = err
                warned = {c for c, _, _, _ in warnings}
                why = next((f"cell {c} was warned about" for c in sorted(cells & warned)), None)
                if not why:
                    for c in sorted(cells):
                        _, read = written_and_read(nb.cells[c - 1].source)
                        why = next((f"cell {c} reads {n}: {tainted[n]}" for n in sorted(read)
                                    if n in tainted), None)
                        if why:
                            break
                results[mode] = ("warned", f"run failed where nb2pipe warned ({why})\n    {message[-300:]}") \
                    if why else ("error", message)
                continue
            if err:
                results[mode] = ("error", err)
                continue
            unexcused, excused = [], []
            for name, want in stable.items():
                have = got.get(name)
                if have and have["hash"] == want["hash"]:
                    continue
                # two runs may agree by chance (a coin flip): a third decides
                if not third:
                    ref, err = run_reference(case, nb, work, 3)
                    third.append(ref or {})
                if third[0].get(name) != want:
                    continue
                detail = (f"{name}: notebook {want['summary'][:60]!r}, pipeline "
                          f"{have['summary'][:60] if have else 'missing'!r}")
                why = tainted.get(name)
                (excused if why else unexcused).append(detail + (f" (warned: {why})" if why else ""))
            status = "differs" if unexcused else ("warned" if excused else "equal")
            results[mode] = (status, f"{len(stable)} values, {len(refs[0]) - len(stable)} "
                                     f"nondeterministic" + "".join("\n    " + d for d in unexcused + excused))
        return results
    except Exception as e:  # a broken harness is a failure, reported per notebook
        return {m: ("error", f"harness: {type(e).__name__}: {e}") for m in modes}
    finally:
        elapsed = time.monotonic() - started
        case.seconds = elapsed
        if keep:
            dest = os.path.join(keep, re.sub(r"[^\w.-]", "_", case.label))
            shutil.rmtree(dest, ignore_errors=True)
            shutil.move(work, dest)
        else:
            shutil.rmtree(work, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("--shared", default=os.path.join(ROOT, "..", "shared"))
    ap.add_argument("--fixtures", default=os.path.join(ROOT, "fixtures", "realrun"))
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--only", action="append")
    ap.add_argument("--modes", default="auto,cells,dataflow")
    ap.add_argument("--keep")
    args = ap.parse_args()
    binary = os.path.abspath(args.binary)
    modes = args.modes.split(",")
    cases = shared_cases(args.shared) + fixture_cases(args.fixtures)
    if args.only:
        cases = [c for c in cases if any(s in c.label for s in args.only)]
    if not cases:
        print("realrun: skipped: no notebooks (../shared/realrun and fixtures/realrun absent)")
        return 77
    if not os.path.isdir(os.path.join(args.shared, "realrun")):
        print(f"realrun: note: {args.shared}/realrun is absent; only our own fixtures run")
    counts = {m: {} for m in modes}
    with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
        futures = {pool.submit(check, binary, c, modes, args.keep): c for c in cases}
        for future in concurrent.futures.as_completed(futures):
            case = futures[future]
            results = future.result()
            for mode in modes:
                status, detail = results[mode]
                counts[mode][status] = counts[mode].get(status, 0) + 1
                print(f"{status:8} {mode:5} {case.label} ({case.seconds:.0f} s): {detail}")
            sys.stdout.flush()
    failed = False
    for mode in modes:
        c = counts[mode]
        total = sum(c.values())
        ok = c.get("equal", 0) + c.get("warned", 0)
        failed = failed or ok != total
        print(f"realrun {mode}: {c.get('equal', 0)} equal of {total} "
              f"({c.get('warned', 0)} differ only where nb2pipe warned, {c.get('differs', 0)} differ "
              f"silently, {c.get('error', 0)} refused or failed)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
