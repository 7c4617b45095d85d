#!/usr/bin/python3
"""Every `--- python` section of tests/magics/*.txt must compile with this Python: a
magic translation that is not valid Python would break every step that holds it.
usage: compile_magic_cases.py DIR"""
import glob
import re
import sys

bad = checked = 0
for path in sorted(glob.glob(sys.argv[1] + "/*.txt")):
    text = open(path, encoding="utf-8").read()
    for case in re.split(r"^=== ", text, flags=re.M)[1:]:
        title = case.split("\n", 1)[0]
        section = re.search(r"^--- python\n(.*?)(?=^--- |\Z)", case, flags=re.M | re.S)
        if not section or "not valid Python on purpose" in title:
            continue
        checked += 1
        try:
            compile(section.group(1), title, "exec")
        except SyntaxError as e:
            bad += 1
            print(f"FAIL {path}: {title}: {e}")
print(f"magic translations: {checked - bad} passed, {bad} failed")
sys.exit(1 if bad else 0)
