#!/usr/bin/python3
"""How many real notebooks the default split makes into more than one step.

Of the valid Python notebooks of the shared corpus (MANIFEST.tsv: valid JSON, language
python) with more than four code cells that `nb2pipe convert` converts (exit 0; Python 2
code and the other refusals are not counted), prints the share that gets at least two
steps with the default split (`--split auto`), with the split mode convert chose for
each, and fails when the share is below 90% (issue 16: before the dataflow split and
the heading levels it was 115 of 162, 70%). Exits 77 (ctest's "skipped") when the
corpus is absent.
usage: corpus_split.py NB2PIPE_BINARY CORPUS_DIR [--list]
(--list: also print each notebook that stays one step, with the reason convert gave)
"""
import collections
import concurrent.futures
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import corpus_sweep  # noqa: E402  (the manifest reader, the sanitizer marks)

TARGET = 0.90
SPLIT_NOTE = re.compile(r"note: split: ([a-z]+)")


def code_cells(path):
    """The number of code cells of the notebook at PATH, or None if it does not read."""
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    except (OSError, ValueError):
        return None
    cells = doc.get("cells") if isinstance(doc, dict) else None
    if not isinstance(cells, list):  # nbformat 3: worksheets
        cells = [c for ws in doc.get("worksheets", []) if isinstance(ws, dict)
                 for c in ws.get("cells", [])] if isinstance(doc, dict) else []
    return sum(1 for c in cells if isinstance(c, dict) and c.get("cell_type") == "code")


def convert(binary, source):
    """Converts a copy of SOURCE: (exit status, steps, split mode, stderr)."""
    work = tempfile.mkdtemp(prefix="nb2pipe-split-")
    try:
        shutil.copy(source, os.path.join(work, "nb.ipynb"))
        try:
            proc = subprocess.run([binary, "convert", "nb.ipynb", "-o", "out"], cwd=work,
                                  capture_output=True, timeout=120,
                                  env=dict(os.environ, NO_COLOR="1"))
        except subprocess.TimeoutExpired:
            return "timeout", 0, None, ""
        stderr = proc.stderr.decode(errors="replace")
        steps = 0
        if proc.returncode == 0:
            manifest = json.load(open(os.path.join(work, "out", "nb2pipe.lock.json"),
                                      encoding="utf-8"))
            steps = len(manifest["pipeline"]["steps"])
        mode = SPLIT_NOTE.search(stderr)
        return proc.returncode, steps, mode.group(1) if mode else None, stderr
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main():
    binary, corpus = os.path.abspath(sys.argv[1]), sys.argv[2]
    listing = "--list" in sys.argv[3:]
    rows = corpus_sweep.corpus_rows(corpus)
    if rows is None:
        return 77
    candidates = [r for r in rows if r.get("valid_json") == "1" and r.get("language") == "python"
                  and (code_cells(os.path.join(corpus, r["file"])) or 0) > 4]
    problems, single = [], []
    counted, split, modes = 0, 0, collections.Counter()
    with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        futures = {pool.submit(convert, binary, os.path.join(corpus, r["file"])): r
                   for r in candidates}
        for future in concurrent.futures.as_completed(futures):
            name = futures[future]["file"]
            status, steps, mode, stderr = future.result()
            if status not in (0, 2):
                problems.append(f"{name}: exit status {status}\n{stderr[-2000:]}")
                continue
            if any(mark in stderr for mark in corpus_sweep.SANITIZER_MARKS):
                problems.append(f"{name}: sanitizer report\n{stderr[-4000:]}")
                continue
            if status != 0:
                continue
            counted += 1
            modes[mode or "?"] += 1
            if steps >= 2:
                split += 1
            else:
                note = [line for line in stderr.splitlines() if "split:" in line]
                single.append(f"{name}: {note[0] if note else '(no split note)'}")
    share = split / counted if counted else 0.0
    print(f"corpus split: {split} of {counted} notebooks with more than four code cells "
          f"that convert get >= 2 steps ({share:.0%}; target {TARGET:.0%})")
    print("  modes chosen: " + ", ".join(f"{m} {n}" for m, n in sorted(modes.items())))
    if listing:
        for line in sorted(single):
            print("  ONE STEP " + line)
    for line in sorted(problems):
        print("  PROBLEM " + line)
    if problems:
        return 1
    return 0 if share >= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
