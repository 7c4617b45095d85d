#!/usr/bin/python3
"""What `nb2pipe clean` promises: idempotence, --check, untouched clean files,
atomic writes that keep the mode, several files with one bad, the options.
usage: clean_behaviour.py NB2PIPE_BINARY
"""
import json
import os
import stat
import subprocess
import sys

from checks import check, run_checks

BINARY = None


def clean(args, cwd):
    return subprocess.run([BINARY, "clean"] + args, cwd=cwd, capture_output=True, text=True,
                          env=dict(os.environ, NO_COLOR="1"))


def notebook(path, **cell_metadata):
    """A small notebook with outputs, counts and volatile metadata."""
    nb = {
        "cells": [
            {"cell_type": "code", "execution_count": 7, "id": "c1",
             "metadata": dict({"collapsed": True, "scrolled": "auto", "tags": ["keepme"],
                               "ExecuteTime": {"end_time": "2024-01-01"}}, **cell_metadata),
             "outputs": [{"output_type": "stream", "name": "stdout", "text": ["hello\n"]},
                         {"output_type": "execute_result", "execution_count": 7, "metadata": {},
                          "data": {"text/plain": ["42"]}}],
             "source": ["x = 42\n", "x"]},
            {"cell_type": "markdown", "id": "m1", "metadata": {"hidden": True}, "source": "# Ünïcode ✓"},
        ],
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
                     "widgets": {"state": {}}, "signature": "sha256:abc", "custom": {"keep": 1}},
        "nbformat": 4, "nbformat_minor": 5,
    }
    with open(path, "w", encoding="utf-8") as f:
        json.dump(nb, f)


def load(path):
    return json.load(open(path, encoding="utf-8"))


@check("strips outputs, counts and volatile metadata; keeps tags, ids, custom metadata")
def _(work):
    notebook(os.path.join(work, "a.ipynb"))
    r = clean(["a.ipynb"], work)
    assert r.returncode == 0 and r.stdout == "cleaned a.ipynb\n", (r.returncode, r.stdout, r.stderr)
    nb = load(os.path.join(work, "a.ipynb"))
    c = nb["cells"][0]
    assert c["outputs"] == [] and c["execution_count"] is None, c
    assert c["metadata"] == {"tags": ["keepme"]}, c["metadata"]
    assert c["id"] == "c1" and nb["cells"][1]["metadata"] == {}
    assert nb["metadata"] == {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                             "language": "python"}, "custom": {"keep": 1}}, nb["metadata"]


@check("cleaning twice is cleaning once; a clean file is not rewritten (mtime kept)")
def _(work):
    path = os.path.join(work, "a.ipynb")
    notebook(path)
    assert clean(["a.ipynb"], work).returncode == 0
    once = open(path, "rb").read()
    os.utime(path, ns=(1_000_000_000, 1_000_000_000))
    r = clean(["a.ipynb"], work)
    assert r.returncode == 0 and r.stdout == "", r.stdout
    assert open(path, "rb").read() == once
    assert os.stat(path).st_mtime_ns == 1_000_000_000, "rewritten"


@check("--check and --dry-run: exit 1 listing what would change, exit 0 when clean, nothing written")
def _(work):
    path = os.path.join(work, "a.ipynb")
    notebook(path)
    before = open(path, "rb").read()
    for flag in ("--check", "--dry-run"):
        r = clean([flag, "a.ipynb"], work)
        assert r.returncode == 1 and r.stdout == "a.ipynb\n", (flag, r.returncode, r.stdout)
        assert open(path, "rb").read() == before
    assert clean(["a.ipynb"], work).returncode == 0
    r = clean(["--check", "a.ipynb"], work)
    assert r.returncode == 0 and r.stdout == "", (r.returncode, r.stdout)


@check("--stdout writes the cleaned notebook and leaves the file alone")
def _(work):
    path = os.path.join(work, "a.ipynb")
    notebook(path)
    before = open(path, "rb").read()
    r = clean(["--stdout", "a.ipynb"], work)
    assert r.returncode == 0 and json.loads(r.stdout)["cells"][0]["outputs"] == []
    assert open(path, "rb").read() == before


@check("the file's mode is kept; the write is atomic (a read-only directory: exit 2, file intact)")
def _(work):
    path = os.path.join(work, "a.ipynb")
    notebook(path)
    os.chmod(path, 0o640)
    assert clean(["a.ipynb"], work).returncode == 0
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o640, oct(os.stat(path).st_mode)
    if os.geteuid() == 0:
        return  # root can write into a read-only directory
    sub = os.path.join(work, "ro")
    os.mkdir(sub)
    notebook(os.path.join(sub, "b.ipynb"))
    before = open(os.path.join(sub, "b.ipynb"), "rb").read()
    os.chmod(sub, 0o555)
    r = clean(["ro/b.ipynb"], work)
    os.chmod(sub, 0o755)
    assert r.returncode == 2 and open(os.path.join(sub, "b.ipynb"), "rb").read() == before
    assert os.listdir(sub) == ["b.ipynb"], os.listdir(sub)


@check("several files with one bad: the others are cleaned, exit 2, the bad one untouched")
def _(work):
    notebook(os.path.join(work, "a.ipynb"))
    notebook(os.path.join(work, "c.ipynb"))
    with open(os.path.join(work, "bad.ipynb"), "w") as f:
        f.write("{not json")
    r = clean(["a.ipynb", "bad.ipynb", "c.ipynb"], work)
    assert r.returncode == 2, r.returncode
    assert "bad.ipynb:1:4: error: invalid JSON" in r.stderr, r.stderr
    assert r.stdout == "cleaned a.ipynb\ncleaned c.ipynb\n", r.stdout
    assert open(os.path.join(work, "bad.ipynb")).read() == "{not json"


@check("--keep-output and --keep-count; a keep_output tag keeps that cell's outputs")
def _(work):
    notebook(os.path.join(work, "a.ipynb"))
    r = clean(["--keep-output", "--keep-count", "--stdout", "a.ipynb"], work)
    c = json.loads(r.stdout)["cells"][0]
    assert len(c["outputs"]) == 2 and c["execution_count"] == 7 and c["outputs"][1]["execution_count"] == 7
    r = clean(["--keep-output", "--stdout", "a.ipynb"], work)
    c = json.loads(r.stdout)["cells"][0]
    assert len(c["outputs"]) == 2 and c["execution_count"] is None and c["outputs"][1]["execution_count"] is None
    notebook(os.path.join(work, "t.ipynb"), tags=["keep_output"])
    c = json.loads(clean(["--stdout", "t.ipynb"], work).stdout)["cells"][0]
    assert len(c["outputs"]) == 2, c


@check("--keep-metadata and --drop-metadata with dotted paths; a bad key is refused")
def _(work):
    notebook(os.path.join(work, "a.ipynb"))
    r = clean(["--keep-metadata", "cell.metadata.collapsed", "--drop-metadata", "metadata.custom.keep",
               "--drop-metadata", "cell.metadata.tags", "--stdout", "a.ipynb"], work)
    nb = json.loads(r.stdout)
    assert nb["cells"][0]["metadata"] == {"collapsed": True}, nb["cells"][0]["metadata"]
    assert nb["metadata"]["custom"] == {}, nb["metadata"]
    r = clean(["--drop-metadata", "tags", "a.ipynb"], work)
    assert r.returncode == 2 and "not metadata.KEY or cell.metadata.KEY" in r.stderr, r.stderr


def notebook_v3(path):
    """An nbformat 3 notebook with outputs, prompt numbers and a signature."""
    with open(path, "w", encoding="utf-8") as f:
        json.dump({"nbformat": 3, "nbformat_minor": 0,
                   "metadata": {"name": "old", "signature": "sha256:abc"},
                   "worksheets": [{"cells": [
                       {"cell_type": "code", "language": "python", "collapsed": False, "metadata": {},
                        "input": "x = 1\nx", "prompt_number": 3,
                        "outputs": [{"output_type": "pyout", "prompt_number": 3, "metadata": {},
                                     "text": "1"}]},
                       {"cell_type": "heading", "level": 2, "metadata": {}, "source": "Caf\u00e9"}]}]},
                  f)


@check("nbformat 3: stripped and written back in nbformat 3; twice is once; --check")
def _(work):
    path = os.path.join(work, "old.ipynb")
    notebook_v3(path)
    r = clean(["--check", "old.ipynb"], work)
    assert r.returncode == 1 and r.stdout == "old.ipynb\n", (r.returncode, r.stdout, r.stderr)
    r = clean(["old.ipynb"], work)
    assert r.returncode == 0 and r.stdout == "cleaned old.ipynb\n", (r.returncode, r.stdout, r.stderr)
    text = open(path, encoding="utf-8").read()
    nb = json.loads(text)
    cell = nb["worksheets"][0]["cells"][0]
    assert nb["nbformat"] == 3 and "cells" not in nb, nb
    assert nb["metadata"] == {"name": "old"}, nb["metadata"]
    assert cell["outputs"] == [] and cell["prompt_number"] is None, cell
    assert cell["input"] == ["x = 1\n", "x"] and cell["collapsed"] is False, cell
    assert "Caf\\u00e9" in text, "nbformat 3's writer escapes non-ASCII"
    mtime = os.stat(path).st_mtime_ns
    r = clean(["old.ipynb"], work)
    assert r.returncode == 0 and r.stdout == "" and os.stat(path).st_mtime_ns == mtime, r
    r = clean(["--keep-output", "--stdout", "old.ipynb"], work)
    assert r.returncode == 0 and json.loads(r.stdout) == nb, r.stdout


@check("nbformat 2 notebooks are refused with a message saying how to upgrade, untouched")
def _(work):
    path = os.path.join(work, "old.ipynb")
    with open(path, "w") as f:
        json.dump({"nbformat": 2, "metadata": {}, "worksheets": [
            {"cells": [{"cell_type": "code", "input": "x = 1", "outputs": [], "prompt_number": 3}]}]}, f)
    before = open(path, "rb").read()
    r = clean(["old.ipynb"], work)
    assert r.returncode == 2 and "nbformat 2 notebooks are not cleaned" in r.stderr \
        and "nbconvert --to notebook" in r.stderr, r.stderr
    assert open(path, "rb").read() == before


def main():
    global BINARY
    BINARY = os.path.abspath(sys.argv[1])
    return run_checks("clean behaviour")


if __name__ == "__main__":
    sys.exit(main())
