#!/usr/bin/python3
"""Converts every notebook of the shared corpus and checks the result.

Per notebook (a copy in a temporary directory): `nb2pipe convert nb.ipynb -o out` must
exit 0 or 2 with no crash, signal or sanitizer report; an exit 2 must name its problem
with an error diagnostic and write nothing; an exit 0 must give step scripts that
compile with this Python, a pipeline.yaml that parses, and a manifest whose files all
exist. Prints the counts (ok / error by kind, compile failures). Exits 77 (ctest's
"skipped") when the corpus is absent.
usage: corpus_convert.py NB2PIPE_BINARY CORPUS_DIR [CONVERT_ARG...]
(e.g. --target all: every target's files, each YAML and JSON file parsed too)
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

import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import corpus_sweep  # noqa: E402  (the manifest reader, the sanitizer marks)


def convert(binary, source, extra=()):
    """Converts a copy of SOURCE; EXTRA are more convert arguments (--target all)."""
    work = tempfile.mkdtemp(prefix="nb2pipe-corpus-")
    try:
        shutil.copy(source, os.path.join(work, "nb.ipynb"))
        try:
            proc = subprocess.run([binary, "convert", "nb.ipynb", "-o", "out", *extra], cwd=work,
                                  capture_output=True, timeout=120, env=dict(os.environ, NO_COLOR="1"))
        except subprocess.TimeoutExpired:
            return {"status": "timeout"}
        result = {"status": proc.returncode, "stderr": proc.stderr.decode(errors="replace"),
                  "compile_errors": [], "problems": []}
        out = os.path.join(work, "out")
        if proc.returncode == 2 and os.path.exists(out):
            result["problems"].append("exit 2 but the output directory was created")
        if proc.returncode == 0:
            check_output(out, result)
        return result
    finally:
        shutil.rmtree(work, ignore_errors=True)


def check_output(out, result):
    manifest = json.load(open(os.path.join(out, "nb2pipe.lock.json"), encoding="utf-8"))
    for rel in manifest["files"]:
        if not os.path.exists(os.path.join(out, rel)):
            result["problems"].append(f"manifest lists {rel}, which is missing")
    for rel in manifest["files"]:
        if rel.endswith(".py"):
            source = open(os.path.join(out, rel), encoding="utf-8").read()
            try:
                compile(source, rel, "exec")
            except SyntaxError as e:
                result["compile_errors"].append(f"{rel}:{e.lineno}: {e.msg}")
    for rel in manifest["files"]:
        path = os.path.join(out, rel)
        try:
            if rel.endswith((".yaml", ".yml")):
                list(yaml.safe_load_all(open(path, encoding="utf-8")))
            elif rel.endswith(".json"):
                json.load(open(path, encoding="utf-8"))
        except (yaml.YAMLError, ValueError) as e:
            result["problems"].append(f"{rel} does not parse: {e}")


def main():
    binary, corpus, extra = os.path.abspath(sys.argv[1]), sys.argv[2], sys.argv[3:]
    rows = corpus_sweep.corpus_rows(corpus)
    if rows is None:
        return 77
    kinds = collections.Counter()
    problems, compile_failures = [], []
    with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        futures = {pool.submit(convert, binary, os.path.join(corpus, r["file"]), extra): r for r in rows}
        for future in concurrent.futures.as_completed(futures):
            name = futures[future]["file"]
            r = future.result()
            if r["status"] == "timeout":
                problems.append(f"{name}: timeout")
                continue
            if r["status"] not in (0, 2):
                problems.append(f"{name}: exit status {r['status']}\n{r['stderr'][-2000:]}")
                continue
            if any(mark in r["stderr"] for mark in corpus_sweep.SANITIZER_MARKS):
                problems.append(f"{name}: sanitizer report\n{r['stderr'][-4000:]}")
                continue
            problems += [f"{name}: {p}" for p in r["problems"]]
            compile_failures += [f"{name}: {e}" for e in r["compile_errors"]]
            if r["status"] == 0:
                kinds["ok"] += 1
                continue
            codes = re.findall(r": error: .*\[([a-z0-9-]+)\]", r["stderr"])
            if not codes:
                problems.append(f"{name}: exit 2 without an error diagnostic:\n{r['stderr'][-1000:]}")
                continue
            kinds[codes[0]] += 1
    print(f"corpus convert {' '.join(extra)} over {len(rows)} notebooks: {kinds['ok']} converted, "
          f"{len(rows) - kinds['ok']} refused (exit 2), {len(compile_failures)} compile failures")
    for kind, count in sorted(kinds.items(), key=lambda kv: (-kv[1], kv[0])):
        if kind != "ok":
            print(f"  {count:4d}  {kind}")
    for line in sorted(compile_failures):
        print("  COMPILE " + line)
    for line in sorted(problems):
        print("  PROBLEM " + line)
    return 1 if problems or compile_failures else 0


if __name__ == "__main__":
    sys.exit(main())
