#!/usr/bin/python3
"""`nb2pipe clean --stdout` must give, byte for byte, what nbformat writes after
nbstripout's default stripping (keeping cell ids).

The expected bytes come from python3-nbformat: read the notebook without converting it,
strip it as nbstripout does by default, write it with nbformat.write. Run over our
fixtures and every notebook of the shared corpus (when present). Notebooks nbformat
cannot read are not compared (nb2pipe must refuse them with exit 2); nbformat 3/2
notebooks must be refused by nb2pipe with exit 2 and a message saying why.
usage: clean_oracle.py NB2PIPE_BINARY REPO_ROOT CORPUS_DIR
"""
import collections
import concurrent.futures
import glob
import io
import json
import os
import subprocess
import sys

import warnings

import nbformat

warnings.filterwarnings("ignore")  # nbformat warns about cells without ids; counted below

# outcomes that are right without a byte comparison (each explained where it is made)
ACCEPTED = {
    "identical",
    "not a notebook nbformat reads: refused",
    "nbformat cannot read it (a UTF-8 BOM): nb2pipe cleans it",
    "nbformat 3/2 (or none): refused as documented",
    "invalid per nbformat's schema: refused",
    "NUL or lone surrogate in the text: refused",
}
CELL_KEYS = ("collapsed", "scrolled", "ExecuteTime", "execution", "heading_collapsed", "hidden")


def keep_output(cell, default):
    """nbstripout's determine_keep_output."""
    meta = cell.get("metadata", {})
    if "init_cell" in meta:
        return bool(meta["init_cell"])
    has_meta = "keep_output" in meta
    has_tag = "keep_output" in meta.get("tags", [])
    if has_meta or has_tag:
        return bool(meta.get("keep_output", False)) or has_tag
    return default


def expected(path):
    nb = nbformat.read(path, as_version=nbformat.NO_CONVERT)
    raw = json.load(open(path, encoding="utf-8"))
    default_keep = bool(nb.metadata.get("keep_output", False))
    for key in ("signature", "widgets"):
        nb.metadata.pop(key, None)
    for cell in nb.cells:
        if "outputs" in cell:
            if not keep_output(cell, default_keep):
                cell["outputs"] = []
            for output in cell["outputs"]:
                if "execution_count" in output:
                    output["execution_count"] = None
        if "execution_count" in cell:
            cell["execution_count"] = None
        for key in CELL_KEYS:
            cell.metadata.pop(key, None)
    out = io.StringIO()
    nbformat.write(nb, out, version=nbformat.NO_CONVERT)
    text = out.getvalue()
    # nbformat gives nbformat 4.5 cells without an id a random one when it validates;
    # nb2pipe keeps such cells as they are (random ids cannot be reproduced, and
    # inventing any would rewrite the notebook). Compare everything else: drop the ids
    # nbformat invented and serialise again exactly as nbformat does (json.dumps).
    if any("id" not in c for c in raw.get("cells", [])) and raw.get("nbformat_minor", 0) >= 5:
        doc = json.loads(text)
        for cell, raw_cell in zip(doc["cells"], raw["cells"]):
            if "id" not in raw_cell:
                cell.pop("id", None)
        text = json.dumps(doc, sort_keys=True, indent=1, ensure_ascii=False,
                          separators=(",", ": ")) + "\n"
    return text.encode("utf-8")


def compare(binary, path):
    proc = subprocess.run([binary, "clean", "--stdout", path], capture_output=True,
                          env=dict(os.environ, NO_COLOR="1"))
    try:
        nb = nbformat.read(path, as_version=nbformat.NO_CONVERT)
        major = nb.get("nbformat", 0)
    except Exception:
        if proc.returncode == 2:
            return "not a notebook nbformat reads: refused", None
        return "nbformat cannot read it (a UTF-8 BOM): nb2pipe cleans it", None
    if major < 4:
        if proc.returncode == 2:
            return "nbformat 3/2 (or none): refused as documented", None
        return f"nbformat {major}: expected a refusal, got exit {proc.returncode}", None
    if proc.returncode != 0:
        try:
            nbformat.validate(nb)
        except Exception:
            return "invalid per nbformat's schema: refused", None
        reason = proc.stderr.decode(errors="replace")
        if "[nul-byte]" in reason or "invalid Unicode" in reason:
            return "NUL or lone surrogate in the text: refused", None
        return "nb2pipe refused a notebook nbformat reads", reason
    try:
        want = expected(path)
    except Exception as e:  # nbformat could read but not write it
        return "nbformat cannot write it (not compared)", str(e)
    if proc.stdout == want:
        return "identical", None
    mine, theirs = proc.stdout.decode(errors="replace").splitlines(), want.decode().splitlines()
    for i, (a, b) in enumerate(zip(mine, theirs)):
        if a != b:
            return "differing", f"line {i + 1}: nb2pipe {a!r} / nbformat {b!r}"
    return "differing", f"lengths {len(mine)} / {len(theirs)} lines"


def main():
    binary, repo, corpus = os.path.abspath(sys.argv[1]), sys.argv[2], sys.argv[3]
    paths = sorted(glob.glob(os.path.join(repo, "fixtures", "**", "*.ipynb"), recursive=True))
    paths += sorted(glob.glob(os.path.join(repo, "tests", "cases", "*", "input", "*.ipynb")))
    if os.path.isdir(os.path.join(corpus, "notebooks")):
        paths += sorted(glob.glob(os.path.join(corpus, "notebooks", "**", "*.ipynb"), recursive=True))
    else:
        print(f"note: corpus not found at {corpus}; comparing our fixtures only")
    counts = collections.Counter()
    problems = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        for path, (kind, detail) in zip(paths, pool.map(lambda p: compare(binary, p), paths)):
            counts[kind] += 1
            if kind not in ACCEPTED:
                problems.append(f"{kind}: {os.path.relpath(path, repo)}: {detail}")
    print(f"clean oracle over {len(paths)} notebooks:")
    for kind, n in sorted(counts.items(), key=lambda kv: -kv[1]):
        print(f"  {n:4d}  {kind}")
    for p in problems:
        print("  " + p)
    print(f"clean oracle: {counts['identical']} identical, {len(problems)} differing")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
