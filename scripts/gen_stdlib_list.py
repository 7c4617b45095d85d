#!/usr/bin/python3
"""Prints the C initializer lines of the standard-library table in src/pydist.c.

Run with /usr/bin/python3 (3.10 or later: it reads sys.stdlib_module_names):

    /usr/bin/python3 scripts/gen_stdlib_list.py

One line per top-level module, sorted by byte value as the binary search in
src/pydist.c expects. The table there is this output plus a few hand-added lines,
each marked with a comment, for modules of other Python versions (3.8-3.13) that the
running interpreter does not list.
"""
import sys

if sys.version_info < (3, 10):
    sys.exit("gen_stdlib_list.py: needs Python 3.10 or later (sys.stdlib_module_names)")

for name in sorted(sys.stdlib_module_names, key=lambda n: n.encode()):
    print(f'    "{name}",')
