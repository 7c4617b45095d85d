"""The harness the *_behaviour.py tests share: named checks, run in order, one line
each, and a summary line `TITLE: N passed, M failed`.

    from checks import check, run_checks

    @check("what it promises")
    def _(): ...          # or def _(work): ... to get a fresh temporary directory

    sys.exit(run_checks("clean behaviour", only=""))
"""
import inspect
import json
import os
import shutil
import sys
import tempfile
import time

CHECKS = []


def check(name):
    def register(fn):
        CHECKS.append((name, fn))
        return fn
    return register


def copy_fixtures(directory, *names):
    """A new temporary directory holding copies of the files NAMES of DIRECTORY."""
    work = tempfile.mkdtemp(prefix="nb2pipe-check-")
    for name in names:
        shutil.copy(os.path.join(directory, name), work)
    return work


def edit_cell(path, cell_id, new_source):
    """Rewrites the notebook PATH with the cell whose id is CELL_ID holding NEW_SOURCE."""
    with open(path, encoding="utf-8") as f:
        nb = json.load(f)
    for cell in nb["cells"]:
        if cell.get("id") == cell_id:
            cell["source"] = new_source
    with open(path, "w", encoding="utf-8") as f:
        f.write(json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n")


def run_checks(title, only=""):
    """Runs the checks whose name contains ONLY; an unexpected exception fails the check,
    not the suite. Returns the exit status: 1 when a check failed or none ran."""
    failed = ran = 0
    for name, fn in CHECKS:
        if only not in name:
            continue
        ran += 1
        started = time.monotonic()
        try:
            if inspect.signature(fn).parameters:
                with tempfile.TemporaryDirectory(prefix="nb2pipe-check-") as work:
                    fn(work)
            else:
                fn()
            print(f"ok {name} ({time.monotonic() - started:.1f} s)")
        except Exception as e:  # noqa: BLE001 - reported, counted
            failed += 1
            print(f"FAIL {name} ({time.monotonic() - started:.1f} s): {type(e).__name__}: {e}")
        sys.stdout.flush()
    print(f"{title}: {ran - failed} passed, {failed} failed")
    return 1 if failed or not ran else 0
