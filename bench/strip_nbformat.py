#!/usr/bin/env python3
"""The Python baseline for `nb2pipe clean --stdout`: nbstripout's default stripping done
with python3-nbformat, as nbstripout does it (read with NO_CONVERT, strip, nbformat.write).

    strip_nbformat.py NOTEBOOK > cleaned.ipynb

Stripped: every code cell's outputs and execution_count; notebook metadata signature and
widgets; cell metadata collapsed, scrolled, ExecuteTime, execution, heading_collapsed,
hidden.
"""

import sys

import nbformat

NOTEBOOK_KEYS = ("signature", "widgets")
CELL_KEYS = ("collapsed", "scrolled", "ExecuteTime", "execution", "heading_collapsed", "hidden")


def strip(nb):
    for key in NOTEBOOK_KEYS:
        nb.metadata.pop(key, None)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        for key in CELL_KEYS:
            cell.metadata.pop(key, None)
    return nb


def main(argv):
    if len(argv) != 2:
        sys.stderr.write("usage: strip_nbformat.py NOTEBOOK\n")
        return 2
    with open(argv[1], encoding="utf-8") as f:
        nb = nbformat.read(f, as_version=nbformat.NO_CONVERT)
    nbformat.write(strip(nb), sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
