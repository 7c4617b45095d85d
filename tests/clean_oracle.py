#!/usr/bin/python3
"""`nb2pipe clean --stdout` must give, byte for byte, what nbformat writes after
nbstripout's default stripping (keeping cell ids), in the notebook's own nbformat.

The expected bytes come from python3-nbformat: read the notebook without converting it,
strip it as nbstripout does by default, write it with nbformat.write (nbformat 4's
writer for nbformat 4, nbformat 3's for nbformat 3). Run over our fixtures and every
notebook of the shared corpus (when present). Notebooks nbformat cannot read are not
compared (nb2pipe must refuse them with exit 2); nbformat 2 notebooks must be refused by
nb2pipe with exit 2 and a message saying why. The summary counts the outcomes, and the
identical ones per nbformat.
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
    "identical (nbformat 4)",
    "identical (nbformat 3)",
    "not a notebook nbformat reads: refused",
    "nbformat cannot read it (a UTF-8 BOM): nb2pipe cleans it",
    "nbformat 2 (or none): refused as documented",
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


def cells(nb):
    """The cells, as nbstripout's _cells visits them: in worksheets before nbformat 4."""
    if nb.nbformat < 4:
        return [cell for ws in nb.worksheets for cell in ws.cells]
    return nb.cells


def expected(path, keep_all):
    nb = nbformat.read(path, as_version=nbformat.NO_CONVERT)
    raw = json.load(open(path, encoding="utf-8"))
    metadata = nb.get("metadata", {})  # nbformat's test3_no_metadata has none
    default_keep = keep_all or bool(metadata.get("keep_output", False))
    for key in ("signature", "widgets"):
        metadata.pop(key, None)
    for cell in cells(nb):
        if "outputs" in cell:
            if not keep_output(cell, default_keep):
                cell["outputs"] = []
            for output in cell["outputs"]:
                if "execution_count" in output:
                    output["execution_count"] = None
        for key in ("execution_count", "prompt_number"):
            if key in cell:
                cell[key] = None
        for key in CELL_KEYS:
            cell.get("metadata", {}).pop(key, None)
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


def compare(binary, path, keep_all=False):
    options = ["--keep-output"] if keep_all else []
    proc = subprocess.run([binary, "clean", "--stdout"] + options + [path], capture_output=True,
                          env=dict(os.environ, NO_COLOR="1"))
    try:
        nb = nbformat.read(path, as_version=nbformat.NO_CONVERT)
        major = nb.get("nbformat", 0)
    except Exception:
        if proc.returncode == 2:
            return "not a notebook nbformat reads: refused", None
        return "nbformat cannot read it (a UTF-8 BOM): nb2pipe cleans it", None
    if major < 3:
        if proc.returncode == 2 and "nbformat" in proc.stderr.decode(errors="replace"):
            return "nbformat 2 (or none): refused as documented", None
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
        want = expected(path, keep_all)
    except Exception as e:  # nbformat could read but not write it
        return "nbformat cannot write it (not compared)", str(e)
    if proc.stdout == want:
        return f"identical (nbformat {major})", None
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
    # every notebook as cleaned by default, and again with --keep-output, so that the
    # writer is compared on outputs too (nbformat 3's and 4's)
    jobs = [(path, keep_all) for keep_all in (False, True) for path in paths]
    with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        for (path, keep_all), (kind, detail) in zip(jobs, pool.map(lambda j: compare(binary, *j), jobs)):
            mode = "--keep-output" if keep_all else "default"
            counts[mode, kind] += 1
            if kind not in ACCEPTED:
                problems.append(f"{mode}: {kind}: {os.path.relpath(path, repo)}: {detail}")
    for mode in ("default", "--keep-output"):
        print(f"clean {mode} oracle over {len(paths)} notebooks:")
        for (m, kind), n in sorted(counts.items(), key=lambda kv: -kv[1]):
            if m == mode:
                print(f"  {n:4d}  {kind}")
    for p in problems:
        print("  " + p)
    for mode in ("default", "--keep-output"):
        v4, v3 = counts[mode, "identical (nbformat 4)"], counts[mode, "identical (nbformat 3)"]
        print(f"clean oracle, {mode}: {v4 + v3} identical ({v4} nbformat 4, {v3} nbformat 3)")
    print(f"clean oracle: {len(problems)} differing")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
