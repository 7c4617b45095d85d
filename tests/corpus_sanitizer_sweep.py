#!/usr/bin/python3
"""Every notebook of the shared corpus through `analyze --json`, `convert --target all`
and `clean --stdout` (issue 8), meant for the AddressSanitizer+UBSan build: 0 sanitizer
reports, no crash, signal or timeout. --commands picks some of the three: the test
suite's sanitizer build runs only clean here, since corpus/analyze and corpus/convert
(with --target all) already run the other two there and fail on any sanitizer report. Reuses the checks of corpus_sweep.py (analyze:
exit 0 or 2 with a real problem named, agreeing with the manifest) and
corpus_convert.py (convert: exit 2 names its problem and writes nothing; exit 0 gives
files that compile or parse and a complete manifest); clean must exit 0 with nbformat
JSON on stdout, or 2 with an error naming the notebook. Prints counts per command and
the number of sanitizer reports. Exits 77 (ctest's "skipped") when the corpus is absent.
usage: corpus_sanitizer_sweep.py NB2PIPE_BINARY CORPUS_DIR [--commands analyze,convert,clean]
"""
import collections
import concurrent.futures
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import corpus_convert  # noqa: E402
import corpus_sweep  # noqa: E402

MARKS = corpus_sweep.SANITIZER_MARKS


def clean(binary, path):
    try:
        proc = subprocess.run([binary, "clean", "--stdout", path], capture_output=True,
                              timeout=120, env=dict(os.environ, NO_COLOR="1"))
    except subprocess.TimeoutExpired:
        return None, b"", "timeout"
    return proc.returncode, proc.stdout, proc.stderr.decode(errors="replace")


def one(binary, path, commands):
    """COMMANDS on one notebook: {command: (status, problems, sanitized, stderr)}."""
    results = {}
    if "analyze" in commands:
        results["analyze"] = run_analyze(binary, path)
    if "convert" in commands:
        results["convert"] = run_convert(binary, path)
    if "clean" in commands:
        results["clean"] = run_clean(binary, path)
    return results


def run_analyze(binary, path):
    status, out, err = corpus_sweep.analyze(binary, path)
    err = err.decode(errors="replace")
    problems = []
    if status is None:
        problems.append("timeout")
    elif status not in (0, 2):
        problems.append(f"exit status {status}\n{err[-2000:]}")
    else:
        try:
            json.loads(out)
        except ValueError:
            problems.append("stdout is not JSON")
    return status, problems, any(m in err for m in MARKS), err


def run_convert(binary, path):
    r = corpus_convert.convert(binary, path, ["--target", "all"])
    problems = list(r.get("problems", [])) + [f"compile: {e}" for e in r.get("compile_errors", [])]
    if r["status"] == "timeout":
        problems.append("timeout")
    elif r["status"] not in (0, 2):
        problems.append(f"exit status {r['status']}\n{r['stderr'][-2000:]}")
    elif r["status"] == 2 and ": error: " not in r["stderr"]:
        problems.append("exit 2 without an error diagnostic")
    return r["status"], problems, any(m in r.get("stderr", "") for m in MARKS), r.get("stderr", "")


def run_clean(binary, path):
    status, out, err = clean(binary, path)
    problems = []
    if status is None:
        problems.append("timeout")
    elif status == 0:
        try:
            json.loads(out)
        except ValueError:
            problems.append("clean --stdout printed no JSON")
    elif status == 2:
        if not err.startswith(path + ":") or " error: " not in err:
            problems.append(f"exit 2 without a diagnostic naming the notebook: {err[:300]}")
    else:
        problems.append(f"exit status {status}\n{err[-2000:]}")
    return status, problems, any(m in err for m in MARKS), err


def main():
    binary, corpus = os.path.abspath(sys.argv[1]), sys.argv[2]
    commands = ["analyze", "convert", "clean"]
    if len(sys.argv) == 5 and sys.argv[3] == "--commands":
        commands = sys.argv[4].split(",")
    elif len(sys.argv) != 3:
        sys.exit(__doc__)
    rows = corpus_sweep.corpus_rows(corpus)
    if rows is None:
        return 77
    counts = {c: collections.Counter() for c in commands}
    problems, reports = [], []
    with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        futures = {pool.submit(one, binary, os.path.join(corpus, r["file"]), commands): r for r in rows}
        for future in concurrent.futures.as_completed(futures):
            name = futures[future]["file"]
            for command, (status, probs, sanitized, err) in future.result().items():
                counts[command][f"exit {status}"] += 1
                problems += [f"{command} {name}: {p}" for p in probs]
                if sanitized:
                    reports.append(f"{command} {name}:\n{err[-4000:]}")
    print(f"corpus sanitizer sweep over {len(rows)} notebooks:")
    for command, c in counts.items():
        print(f"  {command:8s} " + ", ".join(f"{k}: {v}" for k, v in sorted(c.items())))
    print(f"  sanitizer reports: {len(reports)}")
    for line in sorted(reports) + sorted(problems):
        print("  PROBLEM " + line)
    return 1 if problems or reports else 0


if __name__ == "__main__":
    sys.exit(main())
