#!/usr/bin/python3
"""The Debian package: `cpack -G DEB` on the build directory writes
nb2pipe_<version>_<arch>.deb; dpkg-deb shows its control fields (Depends covering every
shared library the binary links, as dpkg-shlibdeps computes it) and its files (the
stripped binary, the man page, the copyright notes, nothing else); unpacked into a
temporary root with dpkg -x, the installed binary converts the titanic fixture to the
same bytes as the build's binary, and its man page is docs/nb2pipe.1.
usage: package_deb.py NB2PIPE_BINARY BUILD_DIR REPO_ROOT
Exits 77 (skipped) when cpack, dpkg-deb or dpkg-shlibdeps (dpkg-dev) is missing.
"""
import filecmp
import gzip
import os
import re
import shutil
import subprocess
import sys
import tempfile

from checks import check, run_checks

BINARY = BUILD = REPO = None
STATE = {}  # what the first check made, for the others


def run(cmd, **kwargs):
    proc = subprocess.run(cmd, capture_output=True, text=True, **kwargs)
    assert proc.returncode == 0, f"{' '.join(cmd)} exited {proc.returncode}:\n{proc.stdout}{proc.stderr}"
    return proc.stdout


def package():
    assert "deb" in STATE, "no package was built"
    return STATE["deb"]


@check("cpack -G DEB writes nb2pipe_<version>_<arch>.deb")
def _():
    out = STATE["work"]
    run(["cpack", "-G", "DEB", "--config", os.path.join(BUILD, "CPackConfig.cmake"), "-B", out])
    version = run([BINARY, "--version"]).split()[1]
    arch = run(["dpkg", "--print-architecture"]).strip()
    deb = os.path.join(out, f"nb2pipe_{version}_{arch}.deb")
    assert os.path.exists(deb), os.listdir(out)
    STATE.update(deb=deb, version=version, arch=arch)


@check("dpkg-deb -I: name, version, architecture, Depends from the shared libraries")
def _():
    info = run(["dpkg-deb", "-I", package()])
    print("  " + "\n  ".join(info.rstrip().splitlines()))
    fields = dict(re.findall(r"^ ([A-Z][\w-]*): (.*)$", info, re.M))
    assert fields.get("Package") == "nb2pipe" and fields.get("Version") == STATE["version"] \
        and fields.get("Architecture") == STATE["arch"], fields
    depends = {d.split()[0] for d in fields.get("Depends", "").split(", ") if d}
    assert not any(d.endswith("-dev") for d in depends), depends
    needed = re.findall(r"\(NEEDED\)\s+Shared library: \[(.+)\]", run(["readelf", "-d", BINARY]))
    assert needed, "readelf found no shared library"
    for soname in needed:
        owners = subprocess.run(["dpkg", "-S", "*/" + soname], capture_output=True, text=True).stdout
        packages = {p.split(":")[0] for line in owners.splitlines() for p in line.split(": ")[0].split(", ")}
        assert packages & depends, f"{soname} (from {sorted(packages)}) is not in Depends {sorted(depends)}"


@check("dpkg-deb -c: the binary, the man page, the copyright notes, nothing else")
def _():
    listing = run(["dpkg-deb", "-c", package()])
    print("  " + "\n  ".join(listing.rstrip().splitlines()))
    files = {line.split()[-1]: line.split()[0] for line in listing.splitlines() if not line.startswith("d")}
    assert files == {"./usr/bin/nb2pipe": "-rwxr-xr-x",
                     "./usr/share/man/man1/nb2pipe.1.gz": "-rw-r--r--",
                     "./usr/share/doc/nb2pipe/copyright": "-rw-r--r--"}, files
    assert all("root/root" in line for line in listing.splitlines()), listing


@check("dpkg -x into a temporary root: the installed binary is stripped and runs")
def _():
    root = os.path.join(STATE["work"], "root")
    run(["dpkg", "-x", package(), root])
    installed = os.path.join(root, "usr", "bin", "nb2pipe")
    assert ".debug_info" not in run(["readelf", "-S", installed]), "the binary is not stripped"
    assert run([installed, "--version"]).strip() == f"nb2pipe {STATE['version']}"
    STATE["installed"] = installed
    STATE["root"] = root


@check("the installed binary converts the titanic fixture to the build's bytes")
def _():
    assert "installed" in STATE, "nothing installed"
    outputs = []
    for name, binary in (("installed", STATE["installed"]), ("build", BINARY)):
        work = os.path.join(STATE["work"], name)
        os.makedirs(work)
        for fixture in ("titanic.ipynb", "titanic.csv"):
            shutil.copy(os.path.join(REPO, "fixtures", fixture), work)
        printed = run([binary, "convert", "titanic.ipynb"], cwd=work)
        assert "5 steps" in printed, printed
        run([binary, "analyze", "titanic.ipynb"], cwd=work)
        run([binary, "clean", "--check", "titanic.ipynb"], cwd=work)
        outputs.append(os.path.join(work, "titanic"))
    assert os.path.exists(os.path.join(outputs[0], "steps", "train.py")), os.listdir(outputs[0])
    differ = compare_trees(*outputs)
    assert not differ, f"the installed binary wrote other bytes: {differ}"


def compare_trees(a, b):
    """Files that differ or exist on one side only, relative to A and B."""
    cmp = filecmp.dircmp(a, b)
    differ = cmp.left_only + cmp.right_only + cmp.diff_files + cmp.funny_files
    for sub in cmp.common_dirs:
        differ += [os.path.join(sub, f) for f in compare_trees(os.path.join(a, sub), os.path.join(b, sub))]
    return differ


@check("the installed man page is docs/nb2pipe.1, and man renders it")
def _():
    assert "root" in STATE, "nothing installed"
    page = os.path.join(STATE["root"], "usr", "share", "man", "man1", "nb2pipe.1.gz")
    with gzip.open(page, "rb") as f, open(os.path.join(REPO, "docs", "nb2pipe.1"), "rb") as g:
        assert f.read() == g.read()
    if shutil.which("man"):
        text = run(["man", "-l", page], env=dict(os.environ, MANWIDTH="80"))
        text = re.sub(".\x08", "", text)  # the overstrikes of bold and underlined text
        assert "COMMANDS" in text and "nb2pipe clean" in text, text[:500]


def main():
    global BINARY, BUILD, REPO
    BINARY, BUILD, REPO = (os.path.abspath(a) for a in sys.argv[1:4])
    missing = [tool for tool in ("cpack", "dpkg-deb", "dpkg-shlibdeps", "readelf") if not shutil.which(tool)]
    if missing:
        print(f"SKIP: {', '.join(missing)} not found (apt-get install cmake dpkg-dev binutils)")
        return 77
    STATE["work"] = tempfile.mkdtemp(prefix="nb2pipe-deb-")
    try:
        return run_checks("debian package")
    finally:
        shutil.rmtree(STATE["work"], ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
