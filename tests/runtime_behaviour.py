#!/usr/bin/python3
"""What the step runtime (src/runtime/nb2pipe_runtime.py) promises, tested the way
generated steps use it: small hand-written step scripts in a temporary pipeline
directory, each run as its own process. Artifacts (one variable, a group that keeps
shared objects shared, absent values), the random-state hand-over, the dill and
cloudpickle fallbacks and the message when nothing can save a value, the guard
(stderr, guard.json, NB2PIPE_STRICT, NB2PIPE_GUARD), Ploomber's paths, metrics.
usage: runtime_behaviour.py [ONLY]
"""
import json
import os
import pickle
import shutil
import subprocess
import sys
import textwrap

from checks import check, run_checks

HERE = os.path.dirname(os.path.abspath(__file__))
RUNTIME = os.path.join(HERE, "..", "src", "runtime", "nb2pipe_runtime.py")
PYTHON = "/usr/bin/python3"
sys.path.insert(0, os.path.dirname(RUNTIME))
import nb2pipe_runtime as rt  # noqa: E402 - the module under test, to read what steps wrote


def block(text):
    return textwrap.dedent(text).strip("\n") + "\n"


def write_step(work, name, inputs=None, outputs=(), groups=None, uses=None, metrics=(),
               carried="", body="", ploomber=None):
    """Writes WORK/steps/NAME.py as the generator writes a step (the runtime next to the
    steps directory). PLOOMBER: (upstream, product) dicts to run it as Ploomber does."""
    os.makedirs(os.path.join(work, "steps"), exist_ok=True)
    shutil.copy(RUNTIME, os.path.join(work, "nb2pipe_runtime.py"))
    upstream, product = ploomber or (None, None)
    script = block(f"""
        # %% tags=["parameters"]
        upstream = {upstream!r}
        product = {product!r}
        LIMIT = 3

        # %% tags=["nb2pipe-setup"]
        import os as _os, sys as _sys
        _sys.path.append(_os.path.dirname(_os.path.dirname(_os.path.abspath(__file__))))
        from nb2pipe_runtime import Step as _Step
        _step = _Step({name!r}, upstream, product,
            inputs={dict(inputs or {})!r},
            groups={dict(groups or {})!r},
            outputs={list(outputs)!r},
            metrics={list(metrics)!r},
            uses={dict(uses or {})!r},
            workdir=".", script=globals().get("__file__"))
        LIMIT = _step.param("LIMIT", LIMIT)
        """) + block(carried or "pass") + "_step.load(globals())\n" + block(body or "pass") + block("""
        _step.save(globals())
        _step.done(globals())
        """)
    path = os.path.join(work, "steps", name + ".py")
    with open(path, "w", encoding="utf-8") as f:
        f.write(script)
    return path


def run(work, name, *args, env=None, cwd=None):
    environment = {k: v for k, v in os.environ.items()
                   if not k.startswith("NB2PIPE_") and k != "PYTHONHASHSEED"}
    environment.update(env or {})
    return subprocess.run([PYTHON, os.path.join(work, "steps", name + ".py"), *args],
                          cwd=cwd or work, capture_output=True, text=True, env=environment)


def step(work, name, *args, env=None, **script):
    """Writes and runs a step; it must succeed. Returns its stdout."""
    write_step(work, name, **script)
    r = run(work, name, *args, env=env)
    assert r.returncode == 0, f"step {name} exited {r.returncode}: {r.stderr}"
    return r


def artifact(work, producer, name):
    return rt.read_artifact(os.path.join(work, "output", producer, name + ".pkl"))[0]


def leftovers(directory):
    return [f for f in os.listdir(directory) if ".tmp-" in f] if os.path.isdir(directory) else []


@check("one variable round-trips as a plain protocol-5 pickle; no temporary file left")
def _(work):
    step(work, "a", outputs=["x"], body="x = {'k': [1, 2, 3]}")
    path = os.path.join(work, "output", "a", "x.pkl")
    with open(path, "rb") as f:
        data = f.read()
    assert data[:2] == b"\x80\x05", data[:2]
    assert pickle.loads(data) == {"k": [1, 2, 3]}
    r = step(work, "b", inputs={"x": "a"}, body="print('got', x['k'])")
    assert r.stdout == "got [1, 2, 3]\n", r.stdout
    assert not leftovers(os.path.dirname(path))


@check("a group is one pickle of a dict: objects shared in the step stay shared after loading")
def _(work):
    groups = {"combine__test__train": ["combine", "test", "train"]}
    step(work, "a", outputs=["combine__test__train"], groups=groups,
         body="train = [1, 2]\ntest = [3]\ncombine = [train, test]")
    loaded = artifact(work, "a", "combine__test__train")
    assert set(loaded) == {"combine", "test", "train"}, loaded
    assert loaded["combine"][0] is loaded["train"] and loaded["combine"][1] is loaded["test"]
    ns = {"test": "stale"}  # what nb2pipe restore's notebook does
    rt.load_artifacts(ns, {"combine__test__train": os.path.join(work, "output", "a",
                                                                "combine__test__train.pkl")}, groups)
    assert ns["combine"][0] is ns["train"] and ns["test"] == [3], ns
    r = step(work, "b", inputs={"combine__test__train": "a"}, groups=groups, body="""
        for df in combine:
            df.append(0)
        print(train, test, combine[0] is train)
        """)
    assert r.stdout == "[1, 2, 0] [3, 0] True\n", r.stdout


@check("absent values: save does not raise, load leaves the name unbound; a group member may be absent")
def _(work):
    groups = {"g__h": ["g", "h"]}
    r = step(work, "a", outputs=["q", "g__h"], groups=groups, body="""
        try:
            q = int("not a number")
        except ValueError:
            pass
        g = [1]
        """)
    assert r.stderr == "", r.stderr
    assert artifact(work, "a", "q") is rt.ABSENT
    assert artifact(work, "a", "g__h") == {"g": [1]}
    r = step(work, "b", inputs={"q": "a", "g__h": "a"}, groups=groups,
             carried="q = 'stale'\nh = 'stale'",
             body="print('q' in globals(), 'h' in globals(), g)")
    assert r.stdout == "False False [1]\n", r.stdout
    assert r.stderr == "", r.stderr


def one_process_draws():
    code = ("import random, numpy as np\nrandom.seed(7); np.random.seed(7)\n"
            "a = [random.random(), float(np.random.rand())]\n"
            "b = [random.random(), float(np.random.rand())]\nprint(repr(a), repr(b))")
    return subprocess.run([PYTHON, "-c", code], capture_output=True, text=True, check=True).stdout


@check("random-state hand-over: the next step continues the sequence one process would draw")
def _(work):
    expected = one_process_draws().strip()  # "[a1, a2] [b1, b2]"
    seed = "import random, numpy as np\nrandom.seed(7); np.random.seed(7)"
    step(work, "a", outputs=["random-state", "a"], carried=seed,
         body="a = [random.random(), float(np.random.rand())]")
    # the replayed seed in the carried code is overridden by the state handed over
    r = step(work, "b", inputs={"random-state": "a", "a": "a"}, carried=seed,
             body="b = [random.random(), float(np.random.rand())]\nprint(repr(a), repr(b))")
    assert r.stdout.strip() == expected, (r.stdout, expected)
    # numpy's state is applied even when the step imports numpy only in its own cells
    r = step(work, "c", inputs={"random-state": "a", "a": "a"}, carried="import random",
             body="import numpy as np\nb = [random.random(), float(np.random.rand())]\n"
                  "print(repr(a), repr(b))")
    assert r.stdout.strip() == expected, (r.stdout, expected)
    state = artifact(work, "a", "random-state")
    assert set(state) == {"random", "numpy"}, set(state)


@check("random-state without numpy imported: only random's state is saved, numpy is not imported")
def _(work):
    step(work, "a", outputs=["random-state"], carried="import random\nrandom.seed(3)",
         body="import sys\nassert 'numpy' not in sys.modules\nrandom.random()")
    state = artifact(work, "a", "random-state")
    assert set(state) == {"random"}, set(state)


FAKE_TORCH = """
    # a stand-in for torch: the calls the runtime makes, on an 8-byte state
    uint8 = "uint8"
    _state = [0] * 8

    class _Tensor:
        def __init__(self, values):
            self.values = list(values)

        def tolist(self):
            return list(self.values)

    def get_rng_state():
        return _Tensor(_state)

    def set_rng_state(t):
        _state[:] = t.tolist()

    def tensor(values, dtype=None):
        assert dtype == uint8
        return _Tensor(values)

    def manual_seed(n):
        _state[:] = [n] * 8

    def rand():
        _state[0] += 1
        return _state[0]

    class cuda:
        is_available = staticmethod(lambda: False)
    """


@check("random-state with torch (a stand-in module): saved as bytes, restored over a replayed seed")
def _(work):
    os.makedirs(os.path.join(work, "torch"))
    with open(os.path.join(work, "torch", "__init__.py"), "w") as f:
        f.write(block(FAKE_TORCH))
    seed = "import torch\ntorch.manual_seed(5)"
    step(work, "a", outputs=["random-state"], carried=seed, body="torch.rand()")
    state = artifact(work, "a", "random-state")  # this process has no torch
    assert state["torch"] == bytes([6, 5, 5, 5, 5, 5, 5, 5]), state
    r = step(work, "b", inputs={"random-state": "a"}, carried=seed, body="print(torch.rand())")
    assert r.stdout == "7\n", r.stdout
    r = step(work, "c", inputs={"random-state": "a"}, body="import torch\nprint(torch.rand())")
    assert r.stdout == "7\n", r.stdout


@check("a lambda in a dict falls back to dill; the next step loads it with dill")
def _(work):
    step(work, "a", outputs=["fns"], body="fns = {'inc': lambda x: x + 1}")
    with open(os.path.join(work, "output", "a", "fns.pkl"), "rb") as f:
        assert f.readline() == b"#nb2pipe-artifact 1 dill\n"
    r = step(work, "b", inputs={"fns": "a"}, body="print(fns['inc'](1))")
    assert r.stdout == "2\n" and r.stderr == "", (r.stdout, r.stderr)


@check("without dill, cloudpickle saves it")
def _(work):
    no_dill = "import sys as _s\n_s.modules['dill'] = None  # import dill fails"
    step(work, "a", outputs=["fns"], carried=no_dill, body="fns = {'inc': lambda x: x + 1}")
    with open(os.path.join(work, "output", "a", "fns.pkl"), "rb") as f:
        assert f.readline() == b"#nb2pipe-artifact 1 cloudpickle\n"
    r = step(work, "b", inputs={"fns": "a"}, body="print(fns['inc'](41))")
    assert r.stdout == "42\n", r.stdout


@check("a value nothing can pickle: one clear line naming it, exit 1, no traceback, no file")
def _(work):
    write_step(work, "a", outputs=["x", "gen"], body="x = 1\ngen = (i for i in range(3))")
    r = run(work, "a")
    assert r.returncode == 1, r.returncode
    assert "Traceback" not in r.stderr, r.stderr
    lines = r.stderr.splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("nb2pipe: step 'a' cannot save 'gen' (a generator): it cannot be "
                               "pickled (pickle: cannot pickle 'generator' object; dill: "), lines[0]
    assert "cloudpickle: cannot pickle 'generator' object). Keep the cells that create and use it " \
           "in one step (e.g. give them one block: tag), or recreate it in the step that uses it." \
           in lines[0], lines[0]
    out = os.path.join(work, "output", "a")
    assert sorted(os.listdir(out)) == ["x.pkl"], os.listdir(out)


@check("a group nothing can pickle names the members that cannot be saved")
def _(work):
    groups = {"box__gen__n": ["box", "gen", "n"]}
    write_step(work, "a", outputs=["box__gen__n"], groups=groups,
               body="import ctypes\ngen = ctypes.pointer(ctypes.c_int(1))\nbox = [gen]\nn = 1")
    r = run(work, "a")
    assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr
    assert r.stderr.startswith("nb2pipe: step 'a' cannot save 'box' (a list) and 'gen' (a "
                               "LP_c_int), saved with 'n' (they share objects): it cannot "
                               "be pickled (pickle: ctypes objects containing pointers cannot be "
                               "pickled;"), r.stderr
    assert len(r.stderr.splitlines()) == 1, r.stderr
    out = os.path.join(work, "output", "a")
    assert not os.path.exists(out) or os.listdir(out) == [], os.listdir(out)


GUARD_A = """
    import pandas as pd
    train_df = pd.DataFrame({"age": [22.0, None, 35.0], "name": ["a", "b", "c"]})
    # large: pickle hands its array to the file as a buffer of its own (protocol 5)
    test_df = pd.DataFrame({"age": [float(i) for i in range(50_000)], "n": range(50_000)})
    tags = {f"tag{i}" for i in range(40)}
    """


def guard_pipeline(work, body_b, env_b=None, **script):
    # different hash seeds: the set of strings pickles in another order in each process
    step(work, "a", outputs=["train_df", "test_df", "tags"], carried="import pandas as pd",
         body=GUARD_A, env={"PYTHONHASHSEED": "1"})
    write_step(work, "b", inputs={"train_df": "a", "test_df": "a", "tags": "a"},
               uses={"train_df": [7], "tags": [7, 8]}, carried="import pandas as pd",
               body=body_b, **script)
    return run(work, "b", env=dict({"PYTHONHASHSEED": "2"}, **(env_b or {})))


@check("guard: an unsaved input changed in place is reported on stderr and in guard.json")
def _(work):
    r = guard_pipeline(work, "train_df.fillna(0, inplace=True)\nprint(len(tags), len(test_df))")
    assert r.returncode == 0, r.stderr
    assert r.stderr == ("nb2pipe: warning: step 'b' changed 'train_df' in place (cell 7), but does "
                        "not save it: later steps that read 'train_df' get the value step 'a' "
                        "saved [guard]\n"), r.stderr
    with open(os.path.join(work, "output", "b", "guard.json"), encoding="utf-8") as f:
        report = json.load(f)
    assert [(e["variable"], e["step"], e["producer"], e["cells"], e["kind"]) for e in report] == \
        [("train_df", "b", "a", [7], "in-place")], report


@check("guard: no report when nothing changes (a set of strings, DataFrames), nor on a rebinding")
def _(work):
    # the set's pickle from step a differs from its pickle in step b (hash seeds): the
    # guard compares pickles made in step b only
    assert pickled_set(1) != pickled_set(2), "the hash seeds give the set one order: the check proves nothing"
    r = guard_pipeline(work, "s = sorted(tags)\nm = train_df.age.mean()\n"
                             "kept = train_df\ntrain_df = train_df.dropna().assign(age=0)\n"
                             "test_df.describe()\nprint(len(train_df))")
    assert r.returncode == 0 and r.stderr == "" and r.stdout == "2\n", (r.stdout, r.stderr)
    assert not os.path.exists(os.path.join(work, "output", "b", "guard.json"))


def pickled_set(seed):
    code = ("import pickle, sys\ntags = {f'tag{i}' for i in range(40)}\n"
            "sys.stdout.buffer.write(pickle.dumps(tags, protocol=5))")
    return subprocess.run([PYTHON, "-c", code], capture_output=True, check=True,
                          env=dict(os.environ, PYTHONHASHSEED=str(seed))).stdout


@check("guard: pandas consolidating a DataFrame's blocks on a read (df.values) is no change")
def _(work):
    step(work, "a", outputs=["df"], body="""
        import pandas as pd
        df = pd.DataFrame({"a": [1.0, 2.0]})
        df["b"] = df.a * 2
        df["c"] = df.a * 3
        """)
    r = step(work, "b", inputs={"df": "a"}, carried="import pandas as pd",
             body="X = df.values\nprint(df._mgr.nblocks)")
    assert r.stdout == "1\n" and r.stderr == "", (r.stdout, r.stderr)


@check("guard: a fitted random forest used to predict is no change (strings interned on loading)")
def _(work):
    # unpickling interns attribute names: the loaded model shares its strings in another
    # way than the fitted one did, and a second load differs again, so its pickle is not
    # the file's bytes; the guard compares pickles of the one object it loaded
    fit = """
        from sklearn.ensemble import RandomForestClassifier
        X = [[i, i % 3] for i in range(60)]
        y = [i % 2 for i in range(60)]
        model = RandomForestClassifier(n_estimators=3, max_depth=3, random_state=0).fit(X, y)
        """
    step(work, "a", outputs=["model", "X"], body=fit)
    r = step(work, "b", inputs={"model": "a", "X": "a"}, body="print(list(model.predict(X[:3])))")
    assert r.stdout == "[1, 0, 1]\n" and r.stderr == "", (r.stdout, r.stderr)
    r = step(work, "c", inputs={"model": "a", "X": "a"}, body="model.set_params(max_depth=2)")
    assert "step 'c' changed 'model' in place" in r.stderr, r.stderr


@check("guard: matplotlib figures are not compared (savefig and reads update their caches)")
def _(work):
    env = {"MPLBACKEND": "Agg"}
    groups = {"ax__fig": ["ax", "fig"]}
    step(work, "a", outputs=["ax__fig", "points"], groups=groups, env=env, body="""
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots()
        points = [1, 3, 2]
        ax.plot(points)
        """)
    r = step(work, "b", inputs={"ax__fig": "a", "points": "a"}, groups=groups, env=env,
             carried="import matplotlib.pyplot as plt",
             body="ax.get_xlim()\nfig.savefig('plot.png')\npoints.append(0)")
    assert r.stderr == ("nb2pipe: warning: step 'b' changed 'points' in place, but does not "
                        "save it: later steps that read 'points' get the value step 'a' saved "
                        "[guard]\n"), r.stderr


@check("guard: a change in a large array (pickled out of the frames) is reported")
def _(work):
    r = guard_pipeline(work, "test_df.loc[49_999, 'age'] = -1.0")
    assert r.returncode == 0, r.stderr
    assert "step 'b' changed 'test_df' in place, but does not save it" in r.stderr, r.stderr
    assert "train_df" not in r.stderr and "tags" not in r.stderr, r.stderr


@check("guard: a set changed in place is reported; NB2PIPE_STRICT=1 fails the step with exit 3")
def _(work):
    r = guard_pipeline(work, "tags.add('new')", env_b={"NB2PIPE_STRICT": "1"})
    assert r.returncode == 3, (r.returncode, r.stderr)
    lines = r.stderr.splitlines()
    assert lines[0] == ("nb2pipe: warning: step 'b' changed 'tags' in place (cells 7, 8), but does "
                        "not save it: later steps that read 'tags' get the value step 'a' saved "
                        "[guard]"), lines
    assert lines[1].startswith("nb2pipe: step 'b' fails: the guard reported 1 problem and "
                               "NB2PIPE_STRICT=1"), lines
    assert os.path.exists(os.path.join(work, "output", "b", "guard.json"))


@check("guard: NB2PIPE_GUARD=0 reports nothing; a stale guard.json is removed at the start")
def _(work):
    r = guard_pipeline(work, "train_df.fillna(0, inplace=True)")
    guard = os.path.join(work, "output", "b", "guard.json")
    assert r.returncode == 0 and os.path.exists(guard), r.stderr
    r = run(work, "b", env={"NB2PIPE_GUARD": "0", "NB2PIPE_STRICT": "1"})
    assert r.returncode == 0 and r.stderr == "", r.stderr
    assert not os.path.exists(guard), "stale guard.json kept"


@check("guard: a group names the members whose value changed")
def _(work):
    groups = {"combine__test__train": ["combine", "test", "train"]}
    step(work, "a", outputs=["combine__test__train"], groups=groups,
         body="train = [1, 2]\ntest = [3]\ncombine = [train, test]")
    write_step(work, "b", inputs={"combine__test__train": "a"}, groups=groups,
               uses={"combine__test__train": [4]}, body="train.append(9)\nprint(test)")
    r = run(work, "b")
    assert r.returncode == 0, r.stderr
    with open(os.path.join(work, "output", "b", "guard.json"), encoding="utf-8") as f:
        report = json.load(f)
    assert sorted(e["variable"] for e in report) == ["combine", "train"], report
    assert all(e["cells"] == [4] for e in report), report
    assert "step 'b' changed 'train' in place (cell 4)" in r.stderr, r.stderr


@check("guard: drawing from the global random state after a seed is reported (NB2PIPE_RANDOM_SEEDED=1)")
def _(work):
    seed = "import numpy as np\nnp.random.seed(0)"
    step(work, "a", outputs=["x"], carried=seed, body="x = 1")
    write_step(work, "b", inputs={"x": "a"}, carried=seed, body="y = np.random.rand()")
    r = run(work, "b")
    assert r.returncode == 0 and r.stderr == "", r.stderr
    r = run(work, "b", env={"NB2PIPE_RANDOM_SEEDED": "1"})
    assert r.returncode == 0, r.stderr
    assert r.stderr == ("nb2pipe: warning: step 'b' drew from the global random state (numpy), "
                        "which nb2pipe did not expect; later steps start from the state before "
                        "it [guard]\n"), r.stderr
    # a step that saves the state it ends with is expected to draw
    write_step(work, "c", inputs={"x": "a"}, outputs=["random-state"], carried=seed,
               body="y = np.random.rand()")
    r = run(work, "c", env={"NB2PIPE_RANDOM_SEEDED": "1"})
    assert r.returncode == 0 and r.stderr == "", r.stderr


@check("Ploomber: inputs from upstream's products, outputs and guard.json to this task's")
def _(work):
    out = os.path.join(work, "output")
    write_step(work, "a", outputs=["x"], body="x = [1]", ploomber=(
        None, {"nb": "output/a.ipynb", "x": "output/a/x.pkl"}))
    r = run(work, "a")
    assert r.returncode == 0, r.stderr
    write_step(work, "b", inputs={"x": "a"}, outputs=["y"], metrics=["n"], uses={"x": [2]},
               body="x.append(2)\ny = len(x)\nn = y", ploomber=(
                   {"a": {"nb": "output/a.ipynb", "x": "output/a/x.pkl"}},
                   {"nb": "output/b.ipynb", "y": "output/b/y.pkl",
                    "nb2pipe-metrics": "output/b/metrics.json"}))
    r = run(work, "b")
    assert r.returncode == 0, r.stderr
    assert artifact(work, "b", "y") == 2
    with open(os.path.join(out, "b", "metrics.json"), encoding="utf-8") as f:
        assert json.load(f) == {"n": 2}
    with open(os.path.join(out, "b", "guard.json"), encoding="utf-8") as f:
        assert [e["variable"] for e in json.load(f)] == ["x"]


@check("--input/--output/--data-dir/--metrics/--param, metrics without an absent one")
def _(work):
    step(work, "a", outputs=["x"], body="x = 5")
    os.rename(os.path.join(work, "output", "a", "x.pkl"), os.path.join(work, "given.pkl"))
    r = step(work, "b", "--input", "x=given.pkl", "--output", "y=out/y.pkl", "--param", "LIMIT=9",
             "--metrics", "m/metrics.json", "--data-dir", "elsewhere",
             inputs={"x": "a"}, outputs=["y", "z"], metrics=["score", "missing"],
             body="y = x * LIMIT\nscore = 0.5\nprint(type(LIMIT).__name__)")
    assert r.stdout == "int\n", r.stdout
    assert rt.read_artifact(os.path.join(work, "out", "y.pkl"))[0] == 45
    assert rt.read_artifact(os.path.join(work, "elsewhere", "b", "z.pkl"))[0] is rt.ABSENT
    with open(os.path.join(work, "m", "metrics.json"), encoding="utf-8") as f:
        assert json.load(f) == {"score": 0.5}


@check("a missing input: one line naming the step to run first, exit 1")
def _(work):
    write_step(work, "b", inputs={"g__h": "a"}, groups={"g__h": ["g", "h"]})
    r = run(work, "b")
    assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr
    assert r.stderr.startswith("nb2pipe: step 'b' needs 'g' and 'h' from step 'a', but "), r.stderr
    assert r.stderr.rstrip().endswith("does not exist: run that step first"), r.stderr


@check("%run as IPython: an error in the script is printed, the step goes on with the names bound before it")
def _(work):
    with open(os.path.join(work, "helper.py"), "w", encoding="utf-8") as f:
        f.write(block("""
            import sys
            ready = sys.argv == ["helper.py"] and __name__ == "__main__"
            import no_such_module_here
            late = 1
            """))
    with open(os.path.join(work, "quits.py"), "w", encoding="utf-8") as f:
        f.write("import sys\nquiet = True\nsys.exit(0)\n")
    r = step(work, "a", outputs=["seen"], body=block("""
        globals().update(__import__("nb2pipe_runtime").run_script("helper.py"))
        globals().update(__import__("nb2pipe_runtime").run_script("quits.py"))
        globals().update(__import__("nb2pipe_runtime").run_script("absent.py"))
        seen = (ready, "late" in globals(), quiet)
        """))
    assert artifact(work, "a", "seen") == (True, False, True)
    assert "ModuleNotFoundError: No module named 'no_such_module_here'" in r.stderr, r.stderr
    assert "File `absent.py` not found." in r.stderr and "SystemExit" not in r.stderr, r.stderr


def main():
    return run_checks("runtime behaviour", only=sys.argv[1] if len(sys.argv) > 1 else "")


if __name__ == "__main__":
    sys.exit(main())
