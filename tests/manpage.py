#!/usr/bin/python3
"""The man page, docs/nb2pipe.1, is what scripts/gen_manpage.py writes from the
program's --help texts (NB2PIPE_UPDATE_GOLDEN=1 rewrites it), has a subsection for
every command, and groff formats it without a warning.
usage: manpage.py NB2PIPE_BINARY REPO_ROOT
"""
import os
import re
import shutil
import subprocess
import sys

from checks import check, run_checks

BINARY = REPO = None


def page_path():
    return os.path.join(REPO, "docs", "nb2pipe.1")


@check("docs/nb2pipe.1 is what gen_manpage.py writes from --help")
def _():
    proc = subprocess.run(["/usr/bin/python3", os.path.join(REPO, "scripts", "gen_manpage.py"), BINARY],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    if os.environ.get("NB2PIPE_UPDATE_GOLDEN") == "1":
        with open(page_path(), "w") as f:
            f.write(proc.stdout)
    with open(page_path()) as f:
        committed = f.read()
    assert committed == proc.stdout, ("docs/nb2pipe.1 differs from the --help texts: regenerate it "
                                      "with NB2PIPE_UPDATE_GOLDEN=1 (or scripts/gen_manpage.py)")


@check("a subsection per command of nb2pipe --help")
def _():
    top = subprocess.run([BINARY, "--help"], capture_output=True, text=True).stdout
    names = re.findall(r"^  (\w+) ", top.split("commands:")[1], re.M)
    with open(page_path()) as f:
        sections = [n for line in f if line.startswith(".SS ") for n in line[4:].strip().split(", ")]
    assert names and sorted(names) == sorted(sections), (names, sections)


@check("groff formats it without warnings")
def _():
    if not shutil.which("groff"):
        raise AssertionError("groff is not installed (apt-get install groff-base)")
    proc = subprocess.run(["groff", "-man", "-ww", "-z", "-Tutf8", page_path()], capture_output=True,
                          text=True)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr


def main():
    global BINARY, REPO
    BINARY, REPO = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    return run_checks("man page")


if __name__ == "__main__":
    sys.exit(main())
