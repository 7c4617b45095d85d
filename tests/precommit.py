#!/usr/bin/python3
"""The pre-commit hooks, through the real pre-commit, in scratch git repositories.

The hook source is a local clone of this checkout (its working tree as it is, committed
in the clone), given as `repo:` with no nb2pipe on PATH, as a new user would have it:

1. the first commit of a notebook with outputs builds nb2pipe inside pre-commit's
   checkout of the hook repository, fails, and leaves the notebook cleaned and its
   pipeline generated;
2. committing again (everything added) passes, without building again;
3. after editing one cell, the commit fails and `git diff` shows exactly that cell in
   the notebook and one step file; adding that and committing passes;
4. a source file newer than the build, or a deleted binary, makes the next run build
   again;
5. a missing build tool, or missing libraries, end the hook with the apt-get command
   that installs them;
6. the -system hooks run the nb2pipe on PATH (NB2PIPE_BINARY).

The time of each commit is printed.
usage: precommit.py NB2PIPE_BINARY REPO_ROOT
Exits 77 (skipped) when pre-commit or git is missing, or the checkout is not a git
repository with a commit.
"""
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

FAILURES = []
CHECKS = [0]


def run(cmd, cwd, env, check=False):
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} exited {proc.returncode}:\n{proc.stdout}{proc.stderr}")
    return proc


def timed(what, cmd, cwd, env):
    start = time.monotonic()
    proc = run(cmd, cwd, env)
    print(f"time: {what}: {time.monotonic() - start:.1f} s")
    return proc


def expect(condition, what, detail=""):
    CHECKS[0] += 1
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


def clone_working_tree(repo, dest, env):
    """A clone of REPO whose HEAD commit holds REPO's working tree as it is (tracked
    files as edited, new files not ignored), so that the hooks under test are the ones
    on disk. Returns that commit."""
    run(["git", "clone", "-q", "--no-local", repo, dest], repo, env, check=True)
    changed = run(["git", "diff", "--name-only", "HEAD"], repo, env, check=True).stdout.split("\n")
    new = run(["git", "ls-files", "--others", "--exclude-standard"], repo, env, check=True).stdout.split("\n")
    paths = [p for p in changed + new if p]
    for path in paths:
        source, target = os.path.join(repo, path), os.path.join(dest, path)
        if os.path.exists(source):
            os.makedirs(os.path.dirname(target), exist_ok=True)
            shutil.copy2(source, target)
        elif os.path.exists(target):
            os.remove(target)
    if paths:
        print(f"note: the hook repository includes {len(paths)} uncommitted file(s) of {repo}")
        run(["git", "add", "-A"], dest, env, check=True)
        run(["git", "commit", "-q", "-m", "uncommitted changes"], dest, env, check=True)
    return run(["git", "rev-parse", "HEAD"], dest, env, check=True).stdout.strip()


def path_without_nb2pipe():
    """PATH with every directory that holds an nb2pipe left out."""
    dirs = [d for d in os.environ.get("PATH", "").split(os.pathsep)
            if d and not os.path.exists(os.path.join(d, "nb2pipe"))]
    return os.pathsep.join(dirs)


def new_project(root, name, repo, rev, hooks, env):
    proj = os.path.join(root, name)
    os.makedirs(os.path.join(proj, "notebooks"))
    run(["git", "init", "-q", "-b", "main", proj], root, env, check=True)
    with_outputs(os.path.join(repo, "fixtures", "titanic.ipynb"),
                 os.path.join(proj, "notebooks", "titanic.ipynb"))
    shutil.copy(os.path.join(repo, "fixtures", "titanic.csv"), os.path.join(proj, "notebooks"))
    with open(os.path.join(proj, "nb2pipe.yaml"), "w") as f:
        f.write("pipelines:\n  - notebook: notebooks/*.ipynb\n    output: pipelines/{name}\n")
    with open(os.path.join(proj, ".pre-commit-config.yaml"), "w") as f:
        f.write(f"repos:\n  - repo: {repo}\n    rev: {rev}\n    hooks:\n"
                + "".join(f"      - id: {hook}\n" for hook in hooks))
    run(["pre-commit", "install"], proj, env, check=True)
    run(["git", "add", "-A"], proj, env, check=True)
    return proj


def code_cells(proj):
    nb = json.load(open(os.path.join(proj, "notebooks", "titanic.ipynb"), encoding="utf-8"))
    return nb, [c for c in nb["cells"] if c["cell_type"] == "code"]


def is_clean(cells):
    return all(c["outputs"] == [] and c["execution_count"] is None and "ExecuteTime" not in c["metadata"]
               for c in cells)


def check_from_source(work, clone, rev, env):
    """Steps 1-4: the hooks that build nb2pipe from their checkout."""
    proj = new_project(work, "proj", clone, rev, ["nb2pipe-clean", "nb2pipe-sync"], env)

    first = timed("first commit (builds nb2pipe in the hook's checkout, cleans, syncs)",
                  ["git", "commit", "-q", "-m", "first"], proj, env)
    nb, code = code_cells(proj)
    out = first.stdout + first.stderr
    print("what pre-commit printed:\n  " + "\n  ".join(out.strip().splitlines()))
    expect(first.returncode != 0, "a commit of a notebook with outputs fails", out)
    expect("building nb2pipe" in out and "built nb2pipe" in out,
           "the first commit built nb2pipe (no nb2pipe on PATH)", out)
    expect(is_clean(code), "the notebook is left cleaned")
    expect(os.path.exists(os.path.join(proj, "pipelines", "titanic", "steps", "clean.py")),
           "the pipeline is generated")
    builds = glob.glob(os.path.join(env["PRE_COMMIT_HOME"], "repo*", "build-hook"))
    expect(len(builds) == 1, "one build, inside pre-commit's checkout of the hook repository",
           f"found {builds}")
    if len(builds) != 1:
        return
    build = builds[0]
    binary, stamp = os.path.join(build, "nb2pipe"), os.path.join(build, "built.stamp")
    built_at = os.stat(stamp).st_mtime_ns

    run(["git", "add", "-A"], proj, env, check=True)
    start = time.monotonic()
    second = timed("second commit (reuses the build)", ["git", "commit", "-q", "-m", "second"], proj, env)
    seconds = time.monotonic() - start
    expect(second.returncode == 0, "the second commit passes", second.stdout + second.stderr)
    # the bound only catches a build in disguise; the stamp says whether one ran
    expect(os.stat(stamp).st_mtime_ns == built_at and seconds < 15,
           "and does not build again (under 15 s)", f"{seconds:.1f} s")

    for cell in nb["cells"]:
        if cell.get("id") == "clean":
            cell["source"][-1] = cell["source"][-1].replace("missing values left", "values missing")
    with open(os.path.join(proj, "notebooks", "titanic.ipynb"), "w", encoding="utf-8") as f:
        f.write(json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n")
    run(["git", "add", "notebooks/titanic.ipynb"], proj, env, check=True)
    staged = run(["git", "diff", "--cached", "-U0", "notebooks/titanic.ipynb"], proj, env).stdout
    third = timed("commit of a one-cell edit", ["git", "commit", "-q", "-m", "edit"], proj, env)
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
    fourth = timed("commit after adding the step file", ["git", "commit", "-q", "-m", "edit"], proj, env)
    expect(fourth.returncode == 0, "adding it and committing passes", fourth.stdout + fourth.stderr)

    # a stale build: a source file newer than the last build
    checkout = os.path.dirname(build)
    later = time.time() + 5
    os.utime(os.path.join(checkout, "src", "cli.c"), (later, later))
    stale = timed("run after a source file changed (rebuilds)",
                  ["pre-commit", "run", "--all-files"], proj, env)
    expect(stale.returncode == 0 and os.stat(stamp).st_mtime_ns != built_at,
           "a source file newer than the build: built again, hooks pass", stale.stdout + stale.stderr)
    os.remove(binary)
    missing = timed("run after the binary was deleted (rebuilds)",
                    ["pre-commit", "run", "--all-files"], proj, env)
    expect(missing.returncode == 0 and os.access(binary, os.X_OK),
           "a deleted binary: built again, hooks pass", missing.stdout + missing.stderr)


def path_without(tools, root):
    """A PATH directory with every program of /usr/bin and /bin except TOOLS."""
    bindir = os.path.join(root, "bin-without-" + "-".join(tools))
    os.makedirs(bindir)
    for d in ("/usr/bin", "/bin"):
        for name in os.listdir(d):
            if name not in tools and not os.path.lexists(os.path.join(bindir, name)):
                os.symlink(os.path.join(d, name), os.path.join(bindir, name))
    return bindir


def check_missing_dependencies(work, clone, env):
    """Step 5, on the clone's own copy of the hook script (nothing built there yet)."""
    hook = os.path.join(clone, "scripts", "pre-commit-hook.sh")
    no_tools = dict(env, PATH=path_without(["cmake", "make", "cc", "gcc"], work))
    r = run([hook, "clean", "x.ipynb"], work, no_tools)
    expect(r.returncode == 2 and "sudo apt-get install cmake make gcc" in r.stderr,
           "without cmake, make and a compiler: exit 2 naming their apt packages", r.stderr)
    no_libs = dict(env, PKG_CONFIG_LIBDIR=os.path.join(work, "no-pkgconfig"), PKG_CONFIG_PATH="")
    r = run([hook, "clean", "x.ipynb"], work, no_libs)
    expect(r.returncode == 2 and "sudo apt-get install libjansson-dev libpcre2-dev libyaml-dev "
           "libtree-sitter-dev libxxhash-dev libsqlite3-dev" in r.stderr,
           "without the libraries: exit 2 naming all their apt packages in one command", r.stderr)
    shutil.rmtree(os.path.join(clone, "build-hook"), ignore_errors=True)


def check_system(work, binary, clone, rev, env):
    """Step 6: the -system hooks with the nb2pipe under test on PATH."""
    bindir = os.path.join(work, "system-bin")
    os.makedirs(bindir)
    os.symlink(binary, os.path.join(bindir, "nb2pipe"))
    env = dict(env, PATH=bindir + os.pathsep + env["PATH"])
    proj = new_project(work, "proj-system", clone, rev, ["nb2pipe-clean-system", "nb2pipe-sync-system"], env)
    first = timed("first commit with the -system hooks", ["git", "commit", "-q", "-m", "first"], proj, env)
    _, code = code_cells(proj)
    expect(first.returncode != 0 and is_clean(code) and "building" not in first.stdout + first.stderr,
           "-system hooks: the nb2pipe on PATH cleans and syncs, nothing is built",
           first.stdout + first.stderr)
    run(["git", "add", "-A"], proj, env, check=True)
    second = timed("second commit with the -system hooks", ["git", "commit", "-q", "-m", "second"], proj, env)
    expect(second.returncode == 0, "-system hooks: the second commit passes", second.stdout + second.stderr)


def main():
    binary, repo = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    if not shutil.which("pre-commit") or not shutil.which("git"):
        print("SKIP: pre-commit or git is not installed (apt-get install pre-commit git)")
        return 77
    if subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True).returncode != 0:
        print("SKIP: the checkout is not a git repository with a commit")
        return 77
    work = tempfile.mkdtemp(prefix="nb2pipe-precommit-")
    try:
        env = dict(os.environ, PATH=path_without_nb2pipe(),
                   PRE_COMMIT_HOME=os.path.join(work, "cache"), NO_COLOR="1",
                   GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@example.invalid",
                   GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@example.invalid",
                   GIT_CONFIG_GLOBAL=os.path.join(work, "gitconfig"))
        expect(shutil.which("nb2pipe", path=env["PATH"]) is None, "no nb2pipe on the hooks' PATH")
        clone = os.path.join(work, "nb2pipe")
        rev = clone_working_tree(repo, clone, env)
        check_from_source(work, clone, rev, env)
        check_missing_dependencies(work, clone, env)
        check_system(work, binary, clone, rev, env)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"pre-commit: {CHECKS[0] - len(FAILURES)} passed, {len(FAILURES)} failed")
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
