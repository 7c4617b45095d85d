#!/usr/bin/python3
"""Runs `nb2pipe analyze --json` over every notebook of the shared corpus.

Checks, per notebook: no crash or signal, no sanitizer report, exit 0 or 2, a JSON
document on stdout; an exit 2 must carry an error whose code names a real problem, and
must agree with the corpus manifest (invalid JSON, non-Python kernel). Prints the counts
of ok / error by kind. Exits 77 (ctest's "skipped") when the corpus is absent.
usage: corpus_sweep.py NB2PIPE_BINARY CORPUS_DIR
"""
import collections
import concurrent.futures
import csv
import json
import os
import subprocess
import sys

REAL_PROBLEMS = {
    "invalid-json", "not-a-notebook", "unsupported-nbformat", "bad-cell", "invalid-utf8",
    "nul-byte", "too-large", "not-python", "syntax-error", "python2-syntax", "too-deep",
    "undefined-name", "use-before-def", "use-after-del",
}
SANITIZER_MARKS = ("AddressSanitizer", "LeakSanitizer", "runtime error:", "UndefinedBehaviorSanitizer")


def analyze(binary, path):
    try:
        proc = subprocess.run([binary, "analyze", "--json", path], capture_output=True, timeout=60,
                              env=dict(os.environ, NO_COLOR="1"))
    except subprocess.TimeoutExpired:
        return None, b"", b"timeout"
    return proc.returncode, proc.stdout, proc.stderr


def corpus_rows(corpus):
    """The rows of CORPUS's MANIFEST.tsv, or None (after printing why) when it is absent."""
    manifest = os.path.join(corpus, "MANIFEST.tsv")
    if not os.path.exists(manifest):
        print(f"SKIP: corpus not found at {corpus} (expected MANIFEST.tsv); "
              "the corpus tests need ../shared/corpus next to the checkout")
        return None
    with open(manifest, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def main():
    binary, corpus = sys.argv[1], sys.argv[2]
    rows = corpus_rows(corpus)
    if rows is None:
        return 77

    problems = []
    kinds = collections.Counter()
    with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        futures = {pool.submit(analyze, binary, os.path.join(corpus, row["file"])): row for row in rows}
        for future in concurrent.futures.as_completed(futures):
            row = futures[future]
            name = row["file"]
            status, out, err = future.result()
            text_err = err.decode(errors="replace")
            if status is None:
                problems.append(f"{name}: timeout")
                continue
            if status not in (0, 2):
                problems.append(f"{name}: exit status {status}\n{text_err[-2000:]}")
                continue
            if any(mark in text_err for mark in SANITIZER_MARKS):
                problems.append(f"{name}: sanitizer report\n{text_err[-4000:]}")
                continue
            try:
                doc = json.loads(out)
            except ValueError:
                problems.append(f"{name}: stdout is not JSON")
                continue
            errors = [d for d in doc.get("diagnostics", []) if d["severity"] == "error"]
            if status == 0:
                if errors:
                    problems.append(f"{name}: exit 0 with errors {errors[:1]}")
                kinds["ok"] += 1
                continue
            if not errors:
                problems.append(f"{name}: exit 2 without an error diagnostic")
                continue
            codes = {d["code"] for d in errors}
            unknown = codes - REAL_PROBLEMS
            if unknown:
                problems.append(f"{name}: unexpected error codes {sorted(unknown)}")
            first = errors[0]["code"]
            kinds[first] += 1
            if row["valid_json"] == "0" and first != "invalid-json":
                problems.append(f"{name}: manifest says invalid JSON, nb2pipe says {first}")
            language = row["language"]
            if row["valid_json"] == "1" and first == "not-python" and language.startswith("python"):
                problems.append(f"{name}: manifest language {language}, nb2pipe says not-python")

    print(f"corpus sweep over {len(rows)} notebooks: {kinds['ok']} ok, "
          f"{len(rows) - kinds['ok']} exit 2")
    for kind, count in sorted(kinds.items(), key=lambda kv: (-kv[1], kv[0])):
        if kind != "ok":
            print(f"  {count:4d}  {kind}")
    if problems:
        print(f"{len(problems)} problems:")
        for p in sorted(problems):
            print("  " + p)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
