#!/usr/bin/python3
"""Hostile inputs (issue 8): nb2pipe reads files written by other tools and by people and
writes code and YAML other systems execute. For every input generated here, at run time
into a temporary directory, each command must

  - end with exit 2 and a diagnostic naming the notebook (refused), or 0 (accepted);
    cases that must be refused or accepted say so;
  - finish within a time limit, with its peak memory under a limit (both set per case;
    in the plain build the memory limit is also an RLIMIT_AS the kernel enforces);
  - create or change no file outside its output directory (a refused command changes
    nothing at all);
  - when accepted, generate files that parse (Python with ast, YAML with python3-yaml's
    safe loader, JSON, shell with bash -n) and carry hostile values literally.

usage: hostile.py NB2PIPE [--sanitized] [-k SUBSTRING]
"""
import ast
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

import yaml

NB2PIPE = None
SANITIZED = False
MB = 1024 * 1024
TARGETS = ["airflow", "argo", "kfp", "slurm", "batch"]
WINDOWS_RESERVED = {"con", "prn", "aux", "nul"} | {f"com{i}" for i in range(1, 10)} | \
    {f"lpt{i}" for i in range(1, 10)}


class Failure(Exception):
    pass


def expect(cond, msg):
    if not cond:
        raise Failure(msg)


# --- notebooks -------------------------------------------------------------------------

def code(source, tags=()):
    return {"cell_type": "code", "execution_count": None, "metadata": {"tags": list(tags)},
            "outputs": [], "source": source}


def markdown(source):
    return {"cell_type": "markdown", "metadata": {}, "source": source}


def notebook(cells, **top):
    nb = {"cells": cells, "metadata": {"kernelspec": {"display_name": "Python 3",
                                                      "language": "python", "name": "python3"},
                                       "language_info": {"name": "python"}},
          "nbformat": 4, "nbformat_minor": 4}
    nb.update(top)
    return json.dumps(nb, indent=1, ensure_ascii=False).encode("utf-8", "surrogatepass")


def small_notebook():
    return notebook([code("import json\n", ["imports"]),
                     code("N = 3\n", ["parameters"]),
                     code("data = list(range(N))\n", ["block:load"]),
                     code("total = sum(data)\nprint(json.dumps(total))\n", ["block:report", "prev:load"])])


# --- running nb2pipe under limits --------------------------------------------------------

class Run:
    def __init__(self, status, stdout, stderr, seconds, peak_mb):
        self.status, self.stdout, self.stderr = status, stdout, stderr
        self.seconds, self.peak_mb = seconds, peak_mb


def run(args, cwd, seconds, mem_mb):
    """Runs nb2pipe ARGS in CWD; kills it after SECONDS; peak RSS from wait4."""
    def limit():
        os.setsid()
        if not SANITIZED:  # ASan reserves terabytes of address space: no RLIMIT_AS there
            resource.setrlimit(resource.RLIMIT_AS, (mem_mb * MB, mem_mb * MB))
        resource.setrlimit(resource.RLIMIT_CPU, (seconds + 5, seconds + 5))
        resource.setrlimit(resource.RLIMIT_FSIZE, (1024 * MB, 1024 * MB))

    out_f = tempfile.TemporaryFile()
    err_f = tempfile.TemporaryFile()
    start = time.monotonic()
    p = subprocess.Popen([NB2PIPE] + args, cwd=cwd, stdin=subprocess.DEVNULL, stdout=out_f,
                         stderr=err_f, preexec_fn=limit)
    deadline = start + seconds
    while True:
        pid, status, usage = os.wait4(p.pid, os.WNOHANG)
        if pid:
            break
        if time.monotonic() > deadline:
            os.killpg(p.pid, signal.SIGKILL)
            os.wait4(p.pid, 0)
            raise Failure(f"`nb2pipe {short(args)}` still running after {seconds} s (killed)")
        time.sleep(0.01)
    p.returncode = os.waitstatus_to_exitcode(status)
    elapsed = time.monotonic() - start
    out_f.seek(0)
    err_f.seek(0)
    r = Run(p.returncode, out_f.read(), err_f.read().decode("utf-8", "replace"), elapsed,
            usage.ru_maxrss / 1024)
    expect(r.status in (0, 1, 2),
           f"`nb2pipe {short(args)}` ended with status {r.status}: {r.stderr[-2000:]}")
    expect(r.peak_mb <= mem_mb,
           f"`nb2pipe {short(args)}` peaked at {r.peak_mb:.0f} MB (limit {mem_mb} MB)")
    sanitizer = [line for line in r.stderr.splitlines()
                 if "Sanitizer" in line or "runtime error:" in line or "LeakSanitizer" in line]
    expect(not sanitizer, f"sanitizer report from `nb2pipe {short(args)}`: {sanitizer[:3]}")
    return r


def short(args):
    text = " ".join(a if len(a) < 40 else a[:37] + "..." for a in args)
    return text.encode("unicode_escape").decode("ascii")


def snapshot(root, skip=None):
    """relative path -> (size, mtime_ns) of every file under ROOT except under SKIP."""
    files = {}
    for dirpath, dirnames, names in os.walk(root):
        if skip and os.path.abspath(dirpath) == os.path.abspath(skip):
            dirnames[:] = []
            continue
        for name in names:
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            files[os.path.relpath(path, root)] = (st.st_size, st.st_mtime_ns)
        for name in dirnames:
            if skip and os.path.abspath(os.path.join(dirpath, name)) == os.path.abspath(skip):
                continue
            files.setdefault(os.path.relpath(os.path.join(dirpath, name), root) + "/", (0, 0))
    return files


def refused(r, nb_name, what, options=False):
    """A refusal: exit 2 and a first message naming the notebook (or, for a bad option
    value, nb2pipe itself and the option)."""
    expect(r.status == 2, f"{what}: expected exit 2, got {r.status}; stderr: {r.stderr[:500]}")
    first = r.stderr.splitlines()[0] if r.stderr else ""
    named = first.startswith(nb_name + ":") or \
        (options and first.startswith("nb2pipe: error: --"))
    expect(named and " error: " in first,
           f"{what}: the first message does not name the notebook: {first[:300]!r}")


# --- checking generated files ------------------------------------------------------------

def strings_in(obj, acc):
    if isinstance(obj, str):
        acc.add(obj)
    elif isinstance(obj, dict):
        for k, v in obj.items():
            strings_in(k, acc)
            strings_in(v, acc)
    elif isinstance(obj, list):
        for v in obj:
            strings_in(v, acc)
    return acc


def parse_output(out_dir):
    """Parses every generated file; returns {relative path: set of its strings}."""
    parsed = {}
    for dirpath, _, names in os.walk(out_dir):
        for name in names:
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, out_dir)
            for part in rel.split(os.sep):
                stem = part.split(".")[0].lower()
                expect(part not in (".", "..") and stem not in WINDOWS_RESERVED,
                       f"generated file name {rel!r} is a reserved or relative name")
                expect(part.isascii() and part.isprintable(),
                       f"generated file name {rel!r} is not printable ASCII")
            with open(path, "rb") as f:
                data = f.read()
            text = data.decode("utf-8")
            try:
                if name.endswith(".py"):
                    tree = ast.parse(text, rel)
                    compile(tree, rel, "exec")
                    parsed[rel] = {n.value for n in ast.walk(tree)
                                   if isinstance(n, ast.Constant) and isinstance(n.value, str)}
                elif name.endswith((".yaml", ".yml")):
                    parsed[rel] = strings_in(list(yaml.safe_load_all(text)), set())
                elif name.endswith(".json"):
                    parsed[rel] = strings_in(json.loads(text), set())
                elif name.endswith((".sh", ".sbatch")):
                    r = subprocess.run(["bash", "-n", path], capture_output=True, text=True)
                    expect(r.returncode == 0, f"{rel}: bash -n: {r.stderr[:300]}")
            except (SyntaxError, yaml.YAMLError, ValueError) as e:
                raise Failure(f"generated {rel} does not parse: {str(e)[:300]}")
    return parsed


# Where a parameter's default must arrive as the same string, per file: (path prefix,
# how the value appears). Only files the conversion wrote are checked.
PARAM_HOMES = [("steps/", "{v}"), ("pipeline.yaml", "{v}"), ("dags/", "{v}"),
               ("argo/", "{v}"), ("kfp/", "{v}"), ("nb2pipe.lock.json", "{v}"),
               ("batch/", "{p}={v}")]


def check_literal(parsed, param, value, annotation):
    for prefix, form in PARAM_HOMES:
        files = [rel for rel in parsed if rel.startswith(prefix)]
        if not files:
            continue
        want = form.format(p=param, v=value)
        expect(any(want in parsed[rel] for rel in files),
               f"the parameter's value {value!r} is not carried literally by {prefix}*")
    if annotation is not None:
        for prefix in ("argo/", "kfp/"):
            files = [rel for rel in parsed if rel.startswith(prefix)]
            if files:
                expect(any(annotation in parsed[rel] for rel in files),
                       f"the annotation {annotation!r} is not carried literally by {prefix}*")


# --- one case ------------------------------------------------------------------------------

class Case:
    def __init__(self, name, data, expect="either", seconds=60, mem_mb=1024, args=(),
                 convert=True, clean=True, literal=None, targets_each=False, read_args=(),
                 analyze=True):
        self.name, self.data, self.expect = name, data, expect
        self.seconds, self.mem_mb, self.args = seconds, mem_mb, list(args)
        self.convert, self.clean, self.literal = convert, clean, literal
        self.targets_each = targets_each
        self.read_args = list(read_args)  # given to analyze, convert and clean
        self.analyze = analyze  # names and values only matter to convert


def check_command(case, work, nb_name, args, out_dir=None):
    """Runs one command on the case's notebook; returns the run."""
    before = snapshot(work, skip=out_dir)
    r = run(args, work, case.seconds, case.mem_mb)
    after = snapshot(work, skip=out_dir)
    changed = sorted(set(before.items()) ^ set(after.items()))
    what = f"`nb2pipe {short(args)}`"
    if r.status == 2:
        refused(r, nb_name, what, options=bool(case.args))
        expect(not changed, f"{what} was refused but changed {changed[:3]}")
        if out_dir:
            expect(not os.path.exists(out_dir) or not os.listdir(out_dir),
                   f"{what} was refused but wrote into its output directory")
    else:
        expect(not changed, f"{what} changed files outside its output directory: {changed[:3]}")
    if case.expect == "refuse":
        expect(r.status == 2, f"{what} should refuse the input, got exit {r.status}")
    elif case.expect == "accept":
        expect(r.status == 0, f"{what} should accept the input, got exit {r.status}: "
                              f"{r.stderr[:400]}")
    return r


def run_case(case, root):
    work = os.path.join(root, "work")
    os.makedirs(work)
    nb_name = "nb.ipynb"
    with open(os.path.join(work, nb_name), "wb") as f:
        f.write(case.data)
    del case.data  # the 200 MB cases
    summary = []
    peak = slowest = 0
    if case.analyze:
        r = check_command(case, work, nb_name, ["analyze", nb_name] + case.read_args)
        summary.append(f"analyze {r.status}")
        peak, slowest = r.peak_mb, r.seconds
    if case.convert:
        runs = [["--target", "all"]]
        for i, extra in enumerate(runs):
            out_dir = os.path.join(work, f"out{i}")
            args = ["convert", nb_name, "-o", f"out{i}"] + extra + case.args + case.read_args
            r = check_command(case, work, nb_name, args, out_dir)
            peak, slowest = max(peak, r.peak_mb), max(slowest, r.seconds)
            if r.status == 0:
                parsed = parse_output(out_dir)
                if case.literal:
                    check_literal(parsed, *case.literal)
            elif i == 0 and case.targets_each:
                # refused for some target: every target that accepts it must still be right
                runs.extend([[]] + [["--target", t] for t in TARGETS])
            summary.append(f"convert{' ' + ' '.join(extra) if extra else ''} {r.status}")
            shutil.rmtree(out_dir, ignore_errors=True)
    if case.clean:
        copy = os.path.join(work, "copy.ipynb")
        shutil.copyfile(os.path.join(work, nb_name), copy)
        before = snapshot(work, skip=None)
        r = run(["clean", "copy.ipynb"] + case.read_args, work, case.seconds, case.mem_mb)
        after = snapshot(work)
        changed = sorted(p for p, _ in set(before.items()) ^ set(after.items()))
        expect(set(changed) <= {"copy.ipynb"}, f"clean changed other files: {changed[:3]}")
        if r.status == 2:
            refused(r, "copy.ipynb", "`nb2pipe clean`")
            expect(not changed, "clean was refused but changed the notebook")
        else:
            with open(copy, "rb") as f:
                json.loads(f.read())  # what clean writes is JSON
        peak, slowest = max(peak, r.peak_mb), max(slowest, r.seconds)
        summary.append(f"clean {r.status}")
    return f"{', '.join(summary)}; slowest {slowest:.1f} s, peak {peak:.0f} MB"


# --- the cases -------------------------------------------------------------------------------

def deep_json(depth):
    return b'{"cells": [], "metadata": {"x": ' + b"[" * depth + b"]" * depth + b'}, "nbformat": 4, "nbformat_minor": 4}'


def deep_output(depth):
    nb = json.loads(small_notebook())
    nb["cells"][2]["outputs"] = ["@@DEEP@@"]
    text = json.dumps(nb).encode()
    return text.replace(b'"@@DEEP@@"', b'{"output_type": "display_data", "metadata": {}, "data": {"x": '
                        + b"[" * depth + b"]" * depth + b"}}")


def big_output(mb):
    nb = json.loads(small_notebook())
    nb["cells"][2]["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "@@BIG@@"}]
    text = json.dumps(nb).encode()
    return text.replace(b"@@BIG@@", b"x" * (mb * MB))


def big_markdown(mb):
    nb = json.loads(small_notebook())
    nb["cells"].insert(0, markdown("@@BIG@@"))
    return json.dumps(nb).encode().replace(b"@@BIG@@", b"y" * (mb * MB))


def many_cells(n):
    """N cells, code and markdown alternating; each code cell uses the one before."""
    cells = [code("v0 = 0\n", ["block:start"])]
    last = 0
    for i in range(1, n - 1):
        if i % 2:
            cells.append(code(f"v{i} = v{last} + 1\n"))
            last = i
        else:
            cells.append(markdown(f"text {i}\n"))
    cells.append(code(f"print(v{last})\n", ["block:end", "prev:start"]))
    return notebook(cells)


def with_cell(source, tags=(), extra_cells=()):
    return notebook([code("import json\n", ["imports"])] + list(extra_cells) +
                    [code(source, tags)])


def replace_raw(data, old, new):
    expect(old in data, "case generator: marker missing")
    return data.replace(old, new, 1)


def reader_cases():
    src_marker = "@@SRC@@"
    base = small_notebook()
    with_marker = notebook([code(src_marker, [])])
    yield Case("json nested 100,000 deep", deep_json(100_000), "refuse")
    yield Case("json nested 100,000 deep in an output", deep_output(100_000))
    yield Case("a 200 MB string in an output", big_output(200), "accept", seconds=120,
               mem_mb=1500)
    yield Case("a 200 MB string in a markdown cell", big_markdown(200), "accept", seconds=120,
               mem_mb=2500)
    yield Case("a 200 MB notebook over --max-size 100M", big_output(200), "refuse",
               read_args=["--max-size", "100M"], mem_mb=1500)
    yield Case("100,000 cells", many_cells(100_000), "accept", seconds=180, mem_mb=2500)
    yield Case("a NUL byte in the file", replace_raw(base, b'"N = 3', b'"N\x00 = 3'), "refuse")
    yield Case("an escaped NUL in a source", replace_raw(base, b'"N = 3', b'"N\\u0000 = 3'),
               "refuse")
    yield Case("an escaped NUL in an output", replace_raw(big_output(0), b'"text": ""',
                                                           b'"text": "a\\u0000b"'))
    yield Case("invalid UTF-8", replace_raw(base, b'"N = 3', b'"N\xff\xfe = 3'), "refuse")
    yield Case("an overlong UTF-8 slash", replace_raw(base, b'"N = 3', b'"N\xc0\xaf = 3'), "refuse")
    yield Case("a UTF-8 encoded surrogate", replace_raw(base, b'"N = 3', b'"N\xed\xa0\x80 = 3'),
               "refuse")
    yield Case("a lone high surrogate escape", replace_raw(base, b'"N = 3', b'"N\\ud800 = 3'),
               "refuse")
    yield Case("a lone low surrogate escape", replace_raw(base, b'"N = 3', b'"\\udc00N = 3'),
               "refuse")
    yield Case("a lone surrogate in an output", replace_raw(big_output(0), b'"text": ""',
                                                             b'"text": "\\ud800"'))
    yield Case("duplicate keys", replace_raw(base, b'"nbformat": 4,',
                                             b'"nbformat": 4, "nbformat": 4, "cells": [],'))
    yield Case("duplicate source keys", replace_raw(with_marker, b'"source": "@@SRC@@"',
                                                    b'"source": "x = 1\\n", "source": "y = 2\\n"'))
    yield Case("nbformat 1e999", replace_raw(base, b'"nbformat": 4', b'"nbformat": 1e999'),
               "refuse")
    yield Case("nbformat 2^64", replace_raw(base, b'"nbformat": 4', b'"nbformat": 18446744073709551616'),
               "refuse")
    yield Case("nbformat_minor out of range",
               replace_raw(base, b'"nbformat_minor": 4', b'"nbformat_minor": 99999999999999999999999'))
    yield Case("execution_count out of range",
               replace_raw(base, b'"execution_count": null', b'"execution_count": 1e400'))
    yield Case("nbformat -4", replace_raw(base, b'"nbformat": 4', b'"nbformat": -4'), "refuse")
    yield Case("nbformat 99", replace_raw(base, b'"nbformat": 4', b'"nbformat": 99'), "refuse")
    yield Case("a cell source that is a number", replace_raw(with_marker, b'"@@SRC@@"', b"42"),
               "refuse")
    yield Case("a cell source list holding null",
               replace_raw(with_marker, b'"@@SRC@@"', b'["x = 1\\n", null]'), "refuse")
    yield Case("tags that are not strings", replace_raw(base, b'"imports"', b'{"a": 1}'), "refuse")
    yield Case("an empty file", b"", "refuse")
    yield Case("a JSON string", b'"nbformat"', "refuse")


def python_cases():
    yield Case("Python nesting 10,000 parentheses",
               with_cell("x = " + "(" * 10_000 + "1" + ")" * 10_000 + "\n"), seconds=60)
    yield Case("Python nesting 10,000 brackets in a def",
               with_cell("def f():\n    return " + "[" * 10_000 + "]" * 10_000 + "\n"
                         "y = f()\n"), seconds=60)
    yield Case("1,000 nested ifs",
               with_cell("".join(" " * i + "if True:\n" for i in range(1_000)) +
                         " " * 1_000 + "z = 1\n"), seconds=60)
    yield Case("a cell of 1 MB on one line",
               with_cell("data = [" + "1, " * (MB // 3) + "]\ntotal = sum(data)\n",
                         ["block:sum"]), "accept", seconds=90)
    one_mb = "s" * MB
    yield Case("a 1 MB string parameter",
               notebook([code(f"P = {one_mb!r}\n", ["parameters"]),
                         code("n = len(P)\n", ["block:count"])]),
               "accept", seconds=90, literal=("P", one_mb, None))


HOSTILE_NAMES = ["../evil", "..", ".", "a/b", "/etc/passwd", "/abs", "C:\\Windows",
                 "a\\..\\b", "", " ", "CON", "nul", "com1", "LPT9.txt", "aux.py",
                 "x" * 10_000, "a\x01b", "tab\there", "new\nline", "esc\x1b[31m",
                 "ｅｖｉｌ", "еvil", "a\u202eb", "a\u200bb", "-rf", "$(id)", "`id`", "a;b",
                 "{{x}}", "%(x)s", "*", "?", "~", "step name"]


# names also tried as a prev: reference and a markdown heading (both go through the same
# naming as block: tags; a few of each kind suffice)
SOME_NAMES = {"../evil", "/abs", "", "CON", "x" * 10_000, "a\x01b", "ｅｖｉｌ", "a\u202eb"}


def name_cases():
    for n in HOSTILE_NAMES:
        label = n if len(n) < 20 else n[:8] + f"...({len(n)} chars)"
        label = label.encode("unicode_escape").decode("ascii")
        # a step name from a block: tag
        yield Case(f"step name {label!r}",
                   notebook([code("import json\n", ["imports"]),
                             code("a = 1\n", [f"block:{n}"]),
                             code("b = a + 1\nprint(b)\n", ["block:second"])]),
                   clean=False, analyze=False)
        if n not in SOME_NAMES:
            yield Case(f"--name {label!r}", small_notebook(), args=["--name", n], clean=False,
                       analyze=False)
            continue
        # a step that depends on it by name
        yield Case(f"prev: name {label!r}",
                   notebook([code("a = 1\n", ["block:first"]),
                             code("b = 2\n", ["block:second", f"prev:{n}"])]),
                   clean=False, analyze=False)
        # the pipeline's name on the targets
        yield Case(f"--name {label!r}", small_notebook(), args=["--name", n], clean=False,
                   analyze=False)
        # a markdown heading naming a step (--split headings)
        yield Case(f"heading {label!r}",
                   notebook([markdown(f"## {n}\n"), code("a = 1\n"), markdown("## next\n"),
                             code("print(a)\n")]),
                   args=["--split", "headings"], clean=False, analyze=False)
    # tags carrying other keys
    for tag in ["image:../x", "limit:memory:../../1Gi", "label:../a:b", "annotation:../a:b",
                "label:a:" + "x" * 10_000, "skip:..", "block:a:b:c", "prev:", "block:a\x00b"]:
        label = tag if len(tag) < 30 else tag[:20] + "..."
        yield Case(f"tag {label!r}",
                   notebook([code("a = 1\n", ["block:first"]),
                             code("b = a\n", ["block:second", tag])]), clean=False, analyze=False)


HOSTILE_VALUES = [
    "&a", "*a", "&a [1, 2]", "!!python/object/apply:os.system ['id']", "!!binary aGk=",
    "key: value", "a #comment", "#", "- item", "? q", "| block", "> fold", "---", "...",
    "%YAML 1.1", "@at", "yes", "no", "on", "off", "null", "~", "0x1f", "0o17", "1e3",
    ".inf", "2001-12-14", "", " leading space", "trailing space ", "\ttab",
    "$(touch INJECTED)", "`touch INJECTED`", "; touch INJECTED", "&& touch INJECTED",
    "| cat", "$HOME", "${HOME}", "'single'", '"double"', "'''triple'''", '"""triple"""',
    "back\\slash", "new\nline", "cr\rreturn", "line\u2028sep", "nel\x85", "nbsp\xa0",
    "bell\x07", "{{ workflow.name }}", "{{x}}", "{% raw %}", "{% endraw %}", "{#c#}",
    "%(x)s", "{x}", "$$", "%%", "\u202eevil", "ｅｖｉｌ", "日本語",
    "it's \"all\" $(id) `id` {{ x }} {% if %} &a *a !!python #c: d; echo x | cat\n",
]


def value_cases():
    for v in HOSTILE_VALUES:
        label = v.encode("unicode_escape").decode("ascii")
        label = label if len(label) < 30 else label[:27] + "..."
        nb = notebook([code("import json\n", ["imports"]),
                       code(f"P = {v!r}\nQ = 1\n", ["pipeline-parameters"]),
                       code("out = json.dumps(P)\n", ["block:work", f"annotation:note:{v}"]),
                       code("print(out, Q)\n", ["block:show", "prev:work"])])
        yield Case(f"value {label!r}", nb, clean=False, analyze=False, literal=("P", v, v),
                   targets_each=True)
        yield Case(f"--data-root/--image/--schedule {label!r}", small_notebook(), clean=False,
                   analyze=False, args=["--data-root", "/data/" + v, "--image", v, "--schedule", v])


def main():
    global NB2PIPE, SANITIZED
    args = sys.argv[1:]
    only = None
    if "-k" in args:
        i = args.index("-k")
        only = args[i + 1]
        del args[i:i + 2]
    if "--sanitized" in args:
        SANITIZED = True
        args.remove("--sanitized")
    if len(args) != 1:
        sys.exit(__doc__)
    NB2PIPE = os.path.abspath(args[0])
    started = time.monotonic()
    # two cases at a time; cases are generated one by one as workers take them (some
    # hold 200 MB)
    cases = (c for group in (reader_cases, python_cases, name_cases, value_cases)
             for c in group() if not only or only in c.name)
    lock = threading.Lock()
    counts = {"total": 0, "failures": 0}

    def worker():
        while True:
            with lock:
                case = next(cases, None)
                if case is None:
                    return
                counts["total"] += 1
            root = tempfile.mkdtemp(prefix="nb2pipe-hostile-")
            try:
                line = f"ok   {case.name}: {run_case(case, root)}"
            except Failure as e:
                line = f"FAIL {case.name}: {e}"
                with lock:
                    counts["failures"] += 1
            finally:
                shutil.rmtree(root, ignore_errors=True)
            print(line, flush=True)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    total, failures = counts["total"], counts["failures"]
    print(f"hostile: {total - failures} of {total} cases pass "
          f"({time.monotonic() - started:.0f} s{', sanitized build' if SANITIZED else ''})")
    sys.exit(1 if failures or total == 0 else 0)


if __name__ == "__main__":
    main()
