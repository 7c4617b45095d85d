#!/usr/bin/python3
"""What `nb2pipe convert` and `nb2pipe run` promise about files and exit codes.

usage: convert_behaviour.py NB2PIPE_BINARY FIXTURES_DIR
Each check prints `ok NAME` or `FAIL NAME: why`; a summary line ends the run.
"""
import json
import os
import re
import shutil
import stat
import subprocess
import sys

from checks import check, copy_fixtures, edit_cell, run_checks

BINARY = FIXTURES = None


def nb2pipe(args, cwd, env=None):
    full_env = dict(os.environ, NO_COLOR="1")
    full_env.update(env or {})
    return subprocess.run([BINARY] + args, cwd=cwd, capture_output=True, text=True, env=full_env)


def tree(root):
    """relative path -> bytes, for every file under root."""
    files = {}
    for dirpath, _, names in os.walk(root):
        for name in names:
            path = os.path.join(dirpath, name)
            with open(path, "rb") as f:
                files[os.path.relpath(path, root)] = f.read()
    return files


def workdir(*fixtures):
    return copy_fixtures(FIXTURES, *fixtures)


@check("deterministic: same bytes from another directory, locale and time zone")
def _():
    outputs = []
    for env in ({"LC_ALL": "C", "TZ": "UTC"}, {"LC_ALL": "C.UTF-8", "TZ": "Asia/Tokyo", "LANG": "de_DE.UTF-8"}):
        work = workdir("titanic.ipynb", "titanic_kale.ipynb")
        deeper = os.path.join(work, "a", "much", "longer", "path")
        os.makedirs(deeper)
        for nb in ("titanic.ipynb", "titanic_kale.ipynb"):
            shutil.copy(os.path.join(work, nb), deeper)
            r = nb2pipe(["convert", nb], deeper, env)
            assert r.returncode == 0, r.stderr
        outputs.append(tree(deeper))
    assert outputs[0] == outputs[1], "outputs differ: " + ", ".join(
        sorted(k for k in outputs[0] if outputs[0].get(k) != outputs[1].get(k)))


@check("--check: 0 when up to date, nothing written")
def _():
    work = workdir("titanic.ipynb")
    assert nb2pipe(["convert", "titanic.ipynb"], work).returncode == 0
    before = tree(work)
    r = nb2pipe(["convert", "--check", "titanic.ipynb"], work)
    assert r.returncode == 0 and r.stdout == "", (r.returncode, r.stdout)
    assert tree(work) == before


@check("editing one cell changes exactly the step file that holds it (--check lists it)")
def _():
    work = workdir("titanic.ipynb")
    assert nb2pipe(["convert", "titanic.ipynb"], work).returncode == 0
    before = tree(work)
    edit_cell(os.path.join(work, "titanic.ipynb"), "clean",
              'df["Age"] = df["Age"].fillna(df["Age"].median())\n'
              'df["Embarked"] = df["Embarked"].fillna("S")\n'
              'df.drop(columns=["Cabin", "Ticket"], inplace=True)\n'
              'df["Fare"] = df["Fare"].fillna(df["Fare"].median())')
    r = nb2pipe(["convert", "--check", "titanic.ipynb"], work)
    assert r.returncode == 1, r.returncode
    assert r.stdout.split() == ["titanic/steps/clean.py"], r.stdout
    assert nb2pipe(["convert", "titanic.ipynb"], work).returncode == 0
    after = tree(work)
    changed = sorted(k for k in after if before.get(k) != after[k])
    assert changed == ["titanic.ipynb", "titanic/steps/clean.py"], changed


@check("a file nb2pipe did not write is not overwritten without --force")
def _():
    work = workdir("titanic.ipynb")
    os.makedirs(os.path.join(work, "titanic"))
    with open(os.path.join(work, "titanic", "pipeline.yaml"), "w") as f:
        f.write("mine: true\n")
    before = tree(work)
    r = nb2pipe(["convert", "titanic.ipynb"], work)
    assert r.returncode == 2, r.returncode
    assert "[would-overwrite]" in r.stderr and "pipeline.yaml" in r.stderr, r.stderr
    assert tree(work) == before, "files changed"
    r = nb2pipe(["convert", "--force", "titanic.ipynb"], work)
    assert r.returncode == 0, r.stderr
    assert b"mine: true" not in tree(work)["titanic/pipeline.yaml"]


@check("an edited generated file is protected; --force replaces it")
def _():
    work = workdir("titanic.ipynb")
    assert nb2pipe(["convert", "titanic.ipynb"], work).returncode == 0
    edit_cell(os.path.join(work, "titanic.ipynb"), "load-data", "df = pd.read_csv(DATA_PATH)")
    path = os.path.join(work, "titanic", "steps", "load_data.py")
    with open(path, "a") as f:
        f.write("# my change\n")
    before = tree(work)
    r = nb2pipe(["convert", "titanic.ipynb"], work)
    assert r.returncode == 2 and "load_data.py" in r.stderr, (r.returncode, r.stderr)
    assert tree(work) == before, "files changed"
    assert nb2pipe(["convert", "--force", "titanic.ipynb"], work).returncode == 0
    assert b"# my change" not in open(path, "rb").read()


@check("a step that no longer exists is removed; an unchanged file keeps its mtime")
def _():
    work = workdir("titanic.ipynb")
    assert nb2pipe(["convert", "titanic.ipynb"], work).returncode == 0
    untouched = os.path.join(work, "titanic", "steps", "load_data.py")
    mtime = os.stat(untouched).st_mtime_ns
    nb = json.load(open(os.path.join(work, "titanic.ipynb")))
    nb["cells"] = [c for c in nb["cells"]
                   if c.get("id") not in ("evaluate-md", "evaluate", "pipeline-metrics")]
    json.dump(nb, open(os.path.join(work, "titanic.ipynb"), "w"), indent=1)
    r = nb2pipe(["convert", "titanic.ipynb"], work)
    assert r.returncode == 0, r.stderr
    assert not os.path.exists(os.path.join(work, "titanic", "steps", "evaluate.py"))
    assert os.stat(untouched).st_mtime_ns == mtime, "unchanged file rewritten"


@check("bad input: exit 2, one message, nothing written")
def _():
    work = workdir("titanic.ipynb")
    nb = json.load(open(os.path.join(work, "titanic.ipynb")))
    nb["cells"][4]["source"] = ["df = pd.read_csv(DATA_PATH)\n", "x = (1,\n"]
    json.dump(nb, open(os.path.join(work, "titanic.ipynb"), "w"))
    before = tree(work)
    r = nb2pipe(["convert", "titanic.ipynb"], work)
    assert r.returncode == 2, r.returncode
    assert r.stderr.count(": error:") == 1 and "titanic.ipynb:cell 5:" in r.stderr, r.stderr
    assert tree(work) == before


@check("an output directory that cannot be written: exit 2, no partial output")
def _():
    if os.geteuid() == 0:
        return  # root writes anywhere; the check needs an unprivileged user
    work = workdir("titanic.ipynb")
    os.makedirs(os.path.join(work, "titanic"))
    os.chmod(os.path.join(work, "titanic"), stat.S_IRUSR | stat.S_IXUSR)
    r = nb2pipe(["convert", "titanic.ipynb"], work)
    os.chmod(os.path.join(work, "titanic"), stat.S_IRWXU)
    assert r.returncode == 2 and os.listdir(os.path.join(work, "titanic")) == [], r.stderr


@check("run: a failing step stops the steps after it and shows its log; exit 1")
def _():
    work = workdir("titanic.ipynb", "titanic.csv")
    edit_cell(os.path.join(work, "titanic.ipynb"), "train-fit",
              'models = {"logreg": LogisticRegression(max_iter=1000)}\n'
              'raise RuntimeError("training failed on purpose")')
    assert nb2pipe(["convert", "titanic.ipynb"], work).returncode == 0
    r = nb2pipe(["run", "titanic"], work)
    assert r.returncode == 1, r.returncode
    assert "step train failed (exit 1); end of its log titanic/.nb2pipe/logs/run-1/train.log:" \
        in r.stdout, r.stdout
    assert "training failed on purpose" in r.stdout, r.stdout
    assert re.search(r"^evaluate +skipped +upstream train failed$", r.stdout, re.M), r.stdout
    assert "run 1 failed: 4 ran, 0 up to date, 1 failed, 1 skipped" in r.stdout, r.stdout


@check("run --param overrides a parameter; an unknown one is refused with exit 2")
def _():
    work = workdir("titanic.ipynb", "titanic.csv")
    assert nb2pipe(["convert", "titanic.ipynb"], work).returncode == 0
    r = nb2pipe(["run", "titanic", "--param", "TEST_SIZE=0.3"], work)
    assert r.returncode == 0, r.stdout + r.stderr
    x_test = os.path.join(work, "titanic", "output", "train", "X_test.pkl")
    import pickle
    rows = len(pickle.load(open(x_test, "rb")))
    assert rows == 268, rows  # 30% of 891, rounded up
    r = nb2pipe(["run", "titanic", "--param", "NOPE=1"], work)
    assert r.returncode == 2 and "[unknown-param]" in r.stderr, (r.returncode, r.stderr)


@check("run on a directory without a pipeline: exit 2 and a hint")
def _():
    work = workdir()
    r = nb2pipe(["run", "."], work)
    assert r.returncode == 2 and "nb2pipe convert" in r.stderr, r.stderr


def main():
    global BINARY, FIXTURES
    BINARY, FIXTURES = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    return run_checks("convert behaviour")


if __name__ == "__main__":
    sys.exit(main())
