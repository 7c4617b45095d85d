#!/usr/bin/env python3
"""Builds a fuzz target's seed corpus in a build directory, at run time: notebooks we
wrote (fixtures/, tests/cases/) and the shared corpus read in place, with outputs
dropped so seeds stay small; for the magics and analysis targets the code-cell sources.
Nothing here is committed: the corpus is third-party text.

usage: make_seeds.py TARGET OUT_DIR [CORPUS_DIR]"""
import hashlib
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MAX_SEED = 64 * 1024  # larger seeds only slow the fuzzer down


def notebooks(corpus):
    dirs = [os.path.join(ROOT, "fixtures"), os.path.join(ROOT, "tests", "cases"),
            os.path.join(ROOT, "tests", "fuzz-regressions")]
    if corpus and os.path.isdir(corpus):
        dirs.append(corpus)
    for d in dirs:
        for base, _, files in os.walk(d):
            for f in sorted(files):
                if f.endswith(".ipynb"):
                    yield os.path.join(base, f)


def strip_outputs(nb):
    cells = nb.get("cells")
    if cells is None:
        cells = [c for ws in nb.get("worksheets", []) if isinstance(ws, dict)
                 for c in ws.get("cells", [])]
    for c in cells if isinstance(cells, list) else []:
        if isinstance(c, dict):
            if "outputs" in c:
                c["outputs"] = []
            if isinstance(c.get("metadata"), dict):
                c["metadata"].pop("execution", None)
    return cells


def write(out, data, target):
    if target == "convert":
        # the convert target's first byte picks the split and export options
        # (fuzz_convert.c): spread the seeds over them
        data = bytes([int(hashlib.sha1(data).hexdigest()[:2], 16) & 63]) + data
    name = hashlib.sha1(data).hexdigest()
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)


def main():
    target, out = sys.argv[1], sys.argv[2]
    corpus = sys.argv[3] if len(sys.argv) > 3 else None
    os.makedirs(out, exist_ok=True)
    for path in notebooks(corpus):
        with open(path, "rb") as f:
            raw = f.read()
        try:
            nb = json.loads(raw)
            cells = strip_outputs(nb) if isinstance(nb, dict) else None
        except (ValueError, RecursionError):
            nb, cells = None, None
        if target in ("reader", "convert"):
            if len(raw) <= MAX_SEED:
                write(out, raw, target)  # as found, malformed ones included
            if nb is not None:
                small = json.dumps(nb, indent=1).encode()
                if len(small) <= MAX_SEED:
                    write(out, small, target)
            continue
        for c in cells or []:
            if not isinstance(c, dict) or c.get("cell_type") != "code":
                continue
            src = c.get("source", c.get("input", ""))
            if isinstance(src, list):
                src = "".join(s for s in src if isinstance(s, str))
            if isinstance(src, str) and src.strip():
                data = src.encode("utf-8", "surrogatepass")
                if len(data) <= MAX_SEED:
                    write(out, data, target)
    print(f"seeds: {len(os.listdir(out))} files in {out}")


if __name__ == "__main__":
    main()
