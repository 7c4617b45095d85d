#!/usr/bin/python3
"""Runs one command-line case: tests/cases/NAME/.

A case directory holds
  args              the nb2pipe arguments, one per line
  env               optional KEY=VALUE lines added to the environment
  input/            files copied into a fresh working directory for the run
  copy              optional repository paths (one per line, e.g. fixtures/titanic.ipynb)
                    also copied into the working directory, by file name
  expected/status   the exit code
  expected/stdout   standard output, exactly ($TMP stands for the working directory)
  expected/stderr   standard error, exactly
  expected/files/   files the run must create or change; every other file must end
                    exactly as it started (so a case without it proves nothing is written)

With NB2PIPE_UPDATE_GOLDEN=1 the expected/ files are rewritten from the run, so the
change shows up in review.
usage: run_case.py NB2PIPE_BINARY CASE_DIR
"""
import os
import shutil
import subprocess
import sys
import tempfile


def snapshot(root):
    """Map of relative path -> (bytes, mtime_ns) for every file under root."""
    files = {}
    for dirpath, _, names in os.walk(root):
        for name in names:
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, root)
            with open(path, "rb") as f:
                files[rel] = (f.read(), os.stat(path).st_mtime_ns)
    return files


def read(path, default=None):
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        return default


def main():
    binary, case = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    update = os.environ.get("NB2PIPE_UPDATE_GOLDEN") == "1"
    with open(os.path.join(case, "args"), encoding="utf-8") as f:
        args = [line.rstrip("\n") for line in f if line.rstrip("\n")]
    env = dict(os.environ, NO_COLOR="1", LC_ALL="C.UTF-8")
    env.pop("NB2PIPE_UPDATE_GOLDEN", None)
    extra_env = read(os.path.join(case, "env"), b"").decode()
    for line in extra_env.splitlines():
        if "=" in line:
            key, value = line.split("=", 1)
            env[key] = value

    work = tempfile.mkdtemp(prefix="nb2pipe-case-")
    try:
        if os.path.isdir(os.path.join(case, "input")):
            shutil.copytree(os.path.join(case, "input"), work, dirs_exist_ok=True)
        repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        for line in read(os.path.join(case, "copy"), b"").decode().splitlines():
            if line.strip():
                shutil.copy(os.path.join(repo, line.strip()), work)
        before = snapshot(work)
        proc = subprocess.run([binary] + args, cwd=work, env=env, capture_output=True,
                              timeout=120)
        after = snapshot(work)
        out = proc.stdout.replace(work.encode(), b"$TMP")
        err = proc.stderr.replace(work.encode(), b"$TMP")
        status = f"{proc.returncode}\n".encode()

        changed = {p: data for p, (data, mtime) in after.items()
                   if p not in before or before[p] != (data, mtime)}
        vanished = sorted(p for p in before if p not in after)
        expected_dir = os.path.join(case, "expected")

        if update:
            os.makedirs(expected_dir, exist_ok=True)
            for name, data in (("status", status), ("stdout", out), ("stderr", err)):
                with open(os.path.join(expected_dir, name), "wb") as f:
                    f.write(data)
            files_dir = os.path.join(expected_dir, "files")
            shutil.rmtree(files_dir, ignore_errors=True)
            for rel, data in changed.items():
                dest = os.path.join(files_dir, rel)
                os.makedirs(os.path.dirname(dest), exist_ok=True)
                with open(dest, "wb") as f:
                    f.write(data)
            print(f"updated {case}")
            return 0

        failures = []
        for name, actual in (("status", status), ("stdout", out), ("stderr", err)):
            expected = read(os.path.join(expected_dir, name), b"")
            if expected != actual:
                failures.append(f"--- expected {name}\n{expected.decode(errors='replace')}"
                                f"--- actual {name}\n{actual.decode(errors='replace')}")
        files_dir = os.path.join(expected_dir, "files")
        expected_files = snapshot(files_dir) if os.path.isdir(files_dir) else {}
        for rel, (data, _) in sorted(expected_files.items()):
            if rel not in changed:
                failures.append(f"file {rel} was not written")
            elif changed[rel] != data:
                failures.append(f"file {rel} differs from expected/files/{rel}")
        for rel in sorted(changed):
            if rel not in expected_files:
                failures.append(f"file {rel} was written or changed, and should not be")
        for rel in vanished:
            failures.append(f"file {rel} was removed")
        if failures:
            print(f"FAIL {os.path.basename(case)}: nb2pipe {' '.join(args)}")
            print("\n".join(failures))
            return 1
        print(f"ok {os.path.basename(case)}")
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
