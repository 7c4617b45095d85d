#!/usr/bin/python3
"""valgrind memcheck over the fixtures (issue 8): every notebook under fixtures/ through
`analyze`, `convert --target all` and `clean --stdout`, each under
`valgrind --leak-check=full --error-exitcode=99`. A run passes when valgrind reports no
error (exit status is nb2pipe's own: 0, or 2 for a notebook it refuses) and its summary
says "definitely lost: 0 bytes" (or that no leak is possible). Registered for the plain
build only: valgrind and AddressSanitizer do not run together.
usage: valgrind_fixtures.py NB2PIPE FIXTURES_DIR
"""
import concurrent.futures
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile

VALGRIND_ERROR = 99


def memcheck(binary, notebook, command):
    work = tempfile.mkdtemp(prefix="nb2pipe-valgrind-")
    try:
        shutil.copy(notebook, os.path.join(work, "nb.ipynb"))
        args = {"analyze": ["analyze", "nb.ipynb"],
                "convert": ["convert", "nb.ipynb", "-o", "out", "--target", "all"],
                "clean": ["clean", "--stdout", "nb.ipynb"]}[command]
        log = os.path.join(work, "valgrind.log")
        proc = subprocess.run(
            ["valgrind", "--tool=memcheck", "--leak-check=full", "--show-leak-kinds=definite",
             f"--error-exitcode={VALGRIND_ERROR}", "--errors-for-leak-kinds=definite",
             f"--log-file={log}", binary] + args,
            cwd=work, capture_output=True, timeout=600, env=dict(os.environ, NO_COLOR="1"))
        with open(log, encoding="utf-8", errors="replace") as f:
            text = f.read()
        return proc.returncode, text
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    binary, fixtures = os.path.abspath(sys.argv[1]), sys.argv[2]
    if not shutil.which("valgrind"):
        print("valgrind not found: apt-get install valgrind (scripts/deps.sh --tests)")
        return 1
    notebooks = sorted(glob.glob(os.path.join(fixtures, "**", "*.ipynb"), recursive=True))
    if not notebooks:
        print(f"no notebooks under {fixtures}")
        return 1
    jobs = [(nb, cmd) for nb in notebooks for cmd in ("analyze", "convert", "clean")]
    failures, lost_lines = [], []
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        futures = {pool.submit(memcheck, binary, nb, cmd): (nb, cmd) for nb, cmd in jobs}
        for future in concurrent.futures.as_completed(futures):
            nb, cmd = futures[future]
            name = f"{cmd} {os.path.relpath(nb, fixtures)}"
            status, log = future.result()
            errors = re.search(r"ERROR SUMMARY: (\d+) errors", log)
            lost = re.search(r"definitely lost: ([\d,]+) bytes in ([\d,]+) blocks", log)
            no_leaks = "All heap blocks were freed -- no leaks are possible" in log
            if lost:
                lost_lines.append(lost.group(0))
            if status == VALGRIND_ERROR or status not in (0, 2):
                failures.append(f"{name}: exit {status}\n{log[-3000:]}")
            elif not errors or errors.group(1) != "0":
                failures.append(f"{name}: {errors.group(0) if errors else 'no error summary'}\n"
                                f"{log[-3000:]}")
            elif not no_leaks and not (lost and lost.group(1) == "0"):
                failures.append(f"{name}: {lost.group(0) if lost else 'no leak summary'}\n"
                                f"{log[-3000:]}")
    print(f"valgrind memcheck: {len(jobs)} runs ({len(notebooks)} fixtures x analyze, "
          f"convert --target all, clean --stdout), {len(failures)} with errors or leaks")
    print(f"  'definitely lost: 0 bytes' in {sum(l.startswith('definitely lost: 0 ') for l in lost_lines)}"
          f" runs, 'no leaks are possible' in {len(jobs) - len(lost_lines)}")
    for f in sorted(failures):
        print("FAIL " + f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
