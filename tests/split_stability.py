#!/usr/bin/python3
"""The dataflow split is stable under one-cell edits, on real notebooks.

For each notebook (our realistic fixtures, fixtures/realrun/*/*.ipynb, the split
fixtures and titanic_untagged; with --corpus DIR also the corpus notebooks the default
split sends to the dataflow split), `nb2pipe analyze --json --split dataflow` gives the
boundaries between cells, their facts and the cuts. Then, for every code cell that is
part of the split, one line is appended that reads a value the code cell before it
binds (`print(type(NAME))`), and the notebook is analysed again. Checked:

- the edit changes the facts (score, set-up, unsaveable) of few boundaries: only those
  between the cell the value comes from and the edited cell (where the value now
  crosses), so at most the two around the edit;
- every boundary whose window (the smallest step minus one on either side) holds no
  boundary with changed facts keeps its cut or no-cut: the cut points the edit does not
  touch do not move;
- a cut point moves at most as far as the edit's window reaches.

Prints the number of notebooks, edits and moved cuts; exits 1 on a violation.
usage: split_stability.py NB2PIPE FIXTURES_DIR [--corpus DIR]
"""
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile


def analyze(binary, path):
    proc = subprocess.run([binary, "analyze", "--json", "--split", "dataflow", path],
                          capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, NO_COLOR="1"))
    if proc.returncode != 0:
        return None
    return json.loads(proc.stdout)


def facts(boundary):
    return (boundary["score"], boundary["setup"], boundary["unsaveable"])


def check_notebook(binary, path, work, problems):
    """Returns (edits, moved cuts) for the notebook at PATH (copied into WORK, where the
    edited copies are written too: nothing is written next to the notebook)."""
    with open(path, encoding="utf-8") as f:
        doc = json.load(f)
    if not isinstance(doc.get("cells"), list):
        return 0, 0  # nbformat 3: cells inside worksheets; the others cover the rule
    original = os.path.join(work, "original.ipynb")
    with open(original, "w", encoding="utf-8") as f:
        json.dump(doc, f)
    base = analyze(binary, original)
    if not base or not base.get("split") or not base["split"]["boundaries"]:
        return 0, 0
    split = base["split"]
    window = split["min_cells"] - 1
    bounds = split["boundaries"]
    cells_in_split = [b["after_cell"] for b in bounds]
    defs = {c["cell"]: [d["name"] for d in c["defs"] if d["kind"] == "data"]
            for c in base["cells"]}
    code_cells = [c["cell"] for c in base["cells"]]
    edits = moved = 0
    for position in range(1, len(cells_in_split) + 1):
        # the edited cell: the code cell after boundary position-1
        edited = bounds[position]["after_cell"] if position < len(bounds) else None
        if edited is None:
            continue
        before = code_cells[code_cells.index(edited) - 1]
        names = defs.get(before) or []
        if not names:
            continue
        copy = json.loads(json.dumps(doc))
        cell = copy["cells"][edited - 1]
        source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        cell["source"] = source.rstrip("\n") + f"\nprint(type({names[0]}))\n"
        edited_path = os.path.join(work, "edited.ipynb")
        with open(edited_path, "w", encoding="utf-8") as f:
            json.dump(copy, f)
        after = analyze(binary, edited_path)
        if not after or not after.get("split"):
            continue
        edits += 1
        new = after["split"]["boundaries"]
        label = f"{os.path.relpath(path)}: edit of cell {edited} (reads {names[0]})"
        if len(new) != len(bounds):
            problems.append(f"{label}: {len(bounds)} boundaries became {len(new)}")
            continue
        changed = [k for k in range(len(bounds)) if facts(bounds[k]) != facts(new[k])]
        if len(changed) > 2:
            problems.append(f"{label}: the facts of {len(changed)} boundaries changed "
                            f"(after cells {[bounds[k]['after_cell'] for k in changed]})")
        for k in range(len(bounds)):
            touched = any(abs(j - k) <= window for j in changed)
            if bounds[k]["cut"] != new[k]["cut"]:
                moved += 1
                if not touched:
                    problems.append(f"{label}: the cut after cell {bounds[k]['after_cell']} "
                                    f"{'went away' if bounds[k]['cut'] else 'appeared'}, "
                                    f"though no boundary within {window} of it changed")
    return edits, moved


def corpus_notebooks(binary, corpus):
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import corpus_sweep  # noqa: E402
    if not os.path.exists(os.path.join(corpus, "MANIFEST.tsv")):
        print(f"split stability: no corpus at {corpus}; our fixtures only")
        return []
    rows = corpus_sweep.corpus_rows(corpus)
    found = []
    for r in rows:
        if r.get("valid_json") != "1" or r.get("language") != "python":
            continue
        path = os.path.join(corpus, r["file"])
        doc = subprocess.run([binary, "analyze", "--json", path], capture_output=True,
                             text=True, timeout=120)
        split = json.loads(doc.stdout)["split"] if doc.returncode == 0 else None
        if split and split["mode"] == "dataflow":
            found.append(path)
    return found


def main():
    binary, fixtures = os.path.abspath(sys.argv[1]), sys.argv[2]
    notebooks = sorted(glob.glob(os.path.join(fixtures, "realrun", "*", "*.ipynb")) +
                       glob.glob(os.path.join(fixtures, "split", "*.ipynb")) +
                       [os.path.join(fixtures, "titanic_untagged.ipynb")])
    if "--corpus" in sys.argv:
        notebooks += corpus_notebooks(binary, sys.argv[sys.argv.index("--corpus") + 1])
    problems = []
    total_edits = total_moved = checked = 0
    work = tempfile.mkdtemp(prefix="nb2pipe-stability-")
    for path in notebooks:
        edits, moved = check_notebook(binary, path, work, problems)
        checked += edits > 0
        total_edits += edits
        total_moved += moved
    shutil.rmtree(work, ignore_errors=True)
    print(f"split stability: {checked} notebooks, {total_edits} one-line edits, "
          f"{total_moved} cut points moved (all next to their edit), {len(problems)} problems")
    for line in problems:
        print("  PROBLEM " + line)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
