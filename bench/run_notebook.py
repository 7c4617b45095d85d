#!/usr/bin/env python3
"""Runs a notebook top to bottom as Jupyter does (nbclient, a python3 kernel, the
notebook's directory as the working directory) and prints the seconds it took, from
before the kernel starts to the end of the last cell. bench/measure_run.py times
Jupyter with it.

    run_notebook.py NOTEBOOK
"""
import os
import sys
import time

import nbformat
from nbclient import NotebookClient


def main():
    path = os.path.abspath(sys.argv[1])
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, kernel_name="python3", timeout=600,
                            resources={"metadata": {"path": os.path.dirname(path)}})
    start = time.perf_counter()
    client.execute()
    print("%.3f" % (time.perf_counter() - start))


if __name__ == "__main__":
    main()
