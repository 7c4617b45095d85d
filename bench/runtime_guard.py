#!/usr/bin/python3
"""What the step runtime's guard costs on a realistic step: a 200,000-row DataFrame and a
fitted RandomForest that one step saves and the next loads, uses and does not save.
Times load() and done() of the second step with NB2PIPE_GUARD=1 (the default) and 0,
and done() when the step changed the DataFrame in place (the guard then reads the file
again to confirm). Prints a markdown table.
usage: bench/runtime_guard.py [--reps N]
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
RUNTIME = os.path.join(HERE, "..", "src", "runtime", "nb2pipe_runtime.py")
PYTHON = "/usr/bin/python3"

HEAD = """\
import os as _os, sys as _sys, time as _time
_sys.path.append(_os.path.dirname(_os.path.dirname(_os.path.abspath(__file__))))
from nb2pipe_runtime import Step as _Step
"""

MAKE = HEAD + """\
import numpy as np, pandas as pd
from sklearn.ensemble import RandomForestClassifier
_step = _Step("make", None, None, inputs={}, outputs=["df", "model"], metrics=[],
              workdir=".", script=__file__)
_step.load(globals())
rng = np.random.default_rng(0)
n = 200_000
df = pd.DataFrame({f"x{i}": rng.normal(size=n) for i in range(8)})
df["city"] = rng.choice(["Paris", "Lyon", "Nice", "Lille"], size=n)
df["age"] = rng.integers(1, 90, size=n)
df["y"] = (df.x0 + df.x1 * df.x2 + rng.normal(scale=0.5, size=n) > 0).astype(int)
features = [f"x{i}" for i in range(8)] + ["age"]
model = RandomForestClassifier(n_estimators=100, max_depth=12, random_state=0, n_jobs=2)
model.fit(df[features].iloc[:50_000], df.y.iloc[:50_000])
_step.save(globals())
_step.done(globals())
"""

USE = HEAD + """\
import numpy as np, pandas as pd
from sklearn.ensemble import RandomForestClassifier
_step = _Step("use", None, None, inputs={"df": "make", "model": "make"}, outputs=["score"],
              metrics=[], uses={"df": [3], "model": [3]}, workdir=".", script=__file__)
_c0, _t0 = _time.process_time(), _time.perf_counter()
_step.load(globals())
_c1, _t1 = _time.process_time(), _time.perf_counter()
features = [f"x{i}" for i in range(8)] + ["age"]
score = float((model.predict(df[features]) == df.y).mean())
if _os.environ.get("BENCH_CHANGE") == "1":
    df["x0"] *= 2
_step.save(globals())
_c3, _t3 = _time.process_time(), _time.perf_counter()
_step.done(globals())
_c4, _t4 = _time.process_time(), _time.perf_counter()
print(__import__("json").dumps({"load": [_t1 - _t0, _c1 - _c0], "done": [_t4 - _t3, _c4 - _c3]}))
"""


def run(work, name, env):
    r = subprocess.run([PYTHON, os.path.join(work, "steps", name + ".py")], cwd=work,
                       capture_output=True, text=True, env=dict(os.environ, **env))
    if r.returncode != 0:
        raise SystemExit(f"{name} failed: {r.stderr}")
    return r


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--reps", type=int, default=5)
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="nb2pipe-guard-bench-")
    try:
        os.makedirs(os.path.join(work, "steps"))
        shutil.copy(RUNTIME, work)
        for name, text in (("make", MAKE), ("use", USE)):
            with open(os.path.join(work, "steps", name + ".py"), "w") as f:
                f.write(text)
        run(work, "make", {})
        sizes = {a: os.path.getsize(os.path.join(work, "output", "make", a + ".pkl"))
                 for a in ("df", "model")}
        cases = [("guard off (NB2PIPE_GUARD=0)", {"NB2PIPE_GUARD": "0"}),
                 ("guard on, nothing changed", {}),
                 ("guard on, df changed in place (reported)", {"BENCH_CHANGE": "1"})]
        times = {label: {k: [] for k in ("load", "done", "load cpu", "done cpu")}
                 for label, _ in cases}
        for _ in range(args.reps):  # the cases take turns
            for label, env in cases:
                r = run(work, "use", env)
                reported = "[guard]" in r.stderr
                if reported != (env.get("BENCH_CHANGE") == "1"):
                    raise SystemExit(f"{label}: the guard's report is not as expected: {r.stderr}")
                t = json.loads(r.stdout.splitlines()[-1])
                for part in ("load", "done"):
                    times[label][part].append(t[part][0] * 1000)
                    times[label][part + " cpu"].append(t[part][1] * 1000)
        print(f"df.pkl {sizes['df'] / 1e6:.1f} MB, model.pkl {sizes['model'] / 1e6:.1f} MB; "
              f"{args.reps} runs each; ms, min / median, of wall time and of the process's "
              f"CPU time\n")
        print("| case | load() wall | load() CPU | done() wall | done() CPU |\n"
              "|---|---:|---:|---:|---:|")
        for label, _ in cases:
            cells = [f"{min(v):.0f} / {statistics.median(v):.0f}" for v in (
                times[label][k] for k in ("load", "load cpu", "done", "done cpu"))]
            print(f"| {label} | {' | '.join(cells)} |")
    finally:
        shutil.rmtree(work)


if __name__ == "__main__":
    sys.exit(main())
