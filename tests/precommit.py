#!/usr/bin/python3
"""The pre-commit hooks, through the real pre-commit, in a scratch git repository that
uses this checkout (at its HEAD commit) as the hook source:

1. committing a notebook with outputs fails, and leaves it cleaned and its pipeline
   generated;
2. committing again (everything added) passes;
3. after editing one cell, the commit fails and `git diff` shows exactly that cell in
   the notebook and one step file;
4. adding that and committing passes.

usage: precommit.py NB2PIPE_BINARY REPO_ROOT
Exits 77 (skipped) when pre-commit or git is missing.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

FAILURES = []


def run(cmd, cwd, env, check=False):
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} exited {proc.returncode}:\n{proc.stdout}{proc.stderr}")
    return proc


def expect(condition, what, detail=""):
    print(f"{'ok' if condition else 'FAIL'} {what}")
    if not condition:
        FAILURES.append(what)
        if detail:
            print(detail)


def with_outputs(source, target):
    """The titanic fixture, as if it had been run: outputs and counts."""
    nb = json.load(open(source, encoding="utf-8"))
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] == "code":
            cell["execution_count"] = i
            cell["outputs"] = [{"output_type": "stream", "name": "stdout", "text": [f"run {i}\n"]}]
            cell["metadata"]["ExecuteTime"] = {"end_time": "2026-01-01T00:00:00"}
    with open(target, "w", encoding="utf-8") as f:
        json.dump(nb, f, indent=2)


def main():
    binary, repo = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    if not shutil.which("pre-commit") or not shutil.which("git"):
        print("SKIP: pre-commit or git is not installed (apt-get install pre-commit git)")
        return 77
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True)
    if head.returncode != 0:
        print("SKIP: the checkout is not a git repository with a commit")
        return 77
    work = tempfile.mkdtemp(prefix="nb2pipe-precommit-")
    try:
        bindir = os.path.join(work, "bin")
        os.makedirs(bindir)
        os.symlink(binary, os.path.join(bindir, "nb2pipe"))
        env = dict(os.environ, PATH=bindir + os.pathsep + os.environ.get("PATH", ""),
                   PRE_COMMIT_HOME=os.path.join(work, "cache"), NO_COLOR="1",
                   GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@example.invalid",
                   GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@example.invalid",
                   GIT_CONFIG_GLOBAL=os.path.join(work, "gitconfig"))
        proj = os.path.join(work, "proj")
        os.makedirs(os.path.join(proj, "notebooks"))
        run(["git", "init", "-q", "-b", "main", proj], work, env, check=True)
        with_outputs(os.path.join(repo, "fixtures", "titanic.ipynb"),
                     os.path.join(proj, "notebooks", "titanic.ipynb"))
        shutil.copy(os.path.join(repo, "fixtures", "titanic.csv"), os.path.join(proj, "notebooks"))
        with open(os.path.join(proj, "nb2pipe.yaml"), "w") as f:
            f.write("pipelines:\n  - notebook: notebooks/*.ipynb\n    output: pipelines/{name}\n")
        with open(os.path.join(proj, ".pre-commit-config.yaml"), "w") as f:
            f.write(f"repos:\n  - repo: {repo}\n    rev: {head.stdout.strip()}\n    hooks:\n"
                    "      - id: nb2pipe-clean\n      - id: nb2pipe-sync\n")
        run(["pre-commit", "install"], proj, env, check=True)
        run(["git", "add", "-A"], proj, env, check=True)

        first = run(["git", "commit", "-q", "-m", "first"], proj, env)
        nb = json.load(open(os.path.join(proj, "notebooks", "titanic.ipynb"), encoding="utf-8"))
        code = [c for c in nb["cells"] if c["cell_type"] == "code"]
        expect(first.returncode != 0, "a commit of a notebook with outputs fails",
               first.stdout + first.stderr)
        expect(all(c["outputs"] == [] and c["execution_count"] is None and "ExecuteTime" not in c["metadata"]
                   for c in code), "the notebook is left cleaned")
        expect(os.path.exists(os.path.join(proj, "pipelines", "titanic", "steps", "clean.py")),
               "the pipeline is generated")

        run(["git", "add", "-A"], proj, env, check=True)
        second = run(["git", "commit", "-q", "-m", "second"], proj, env)
        expect(second.returncode == 0, "the second commit passes", second.stdout + second.stderr)

        for cell in nb["cells"]:
            if cell.get("id") == "clean":
                cell["source"][-1] = cell["source"][-1].replace("missing values left", "values missing")
        with open(os.path.join(proj, "notebooks", "titanic.ipynb"), "w", encoding="utf-8") as f:
            f.write(json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n")
        run(["git", "add", "notebooks/titanic.ipynb"], proj, env, check=True)
        staged = run(["git", "diff", "--cached", "-U0", "notebooks/titanic.ipynb"], proj, env).stdout
        third = run(["git", "commit", "-q", "-m", "edit"], proj, env)
        expect(third.returncode != 0, "after a one-cell edit the commit fails (the pipeline changed)",
               third.stdout + third.stderr)
        changed = run(["git", "diff", "--name-only"], proj, env).stdout.split()
        expect(changed == ["pipelines/titanic/steps/clean.py"],
               "git diff shows exactly one step file", f"changed: {changed}")
        notebook_lines = [l for l in staged.splitlines() if l[:1] in "+-" and l[:3] not in ("+++", "---")]
        expect(len(notebook_lines) == 2 and "values missing" in notebook_lines[1],
               "and the notebook's diff is that cell's line", "\n".join(notebook_lines))
        step_diff = run(["git", "diff", "-U0"], proj, env).stdout
        step_lines = [l for l in step_diff.splitlines() if l[:1] in "+-" and l[:3] not in ("+++", "---")]
        expect(len(step_lines) == 4 and any("values missing" in l for l in step_lines),
               "and the step file's diff is that line and its seal", "\n".join(step_lines))

        run(["git", "add", "-A"], proj, env, check=True)
        fourth = run(["git", "commit", "-q", "-m", "edit"], proj, env)
        expect(fourth.returncode == 0, "adding it and committing passes", fourth.stdout + fourth.stderr)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"pre-commit: {9 - len(FAILURES)} passed, {len(FAILURES)} failed")
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
