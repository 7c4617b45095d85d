#!/usr/bin/python3
"""Check `nb2pipe convert` (and `run`) against the dataflow fixtures.

    /usr/bin/python3 tests/dataflow_fixtures.py NB2PIPE_BINARY FIXTURES_DIR

For every NAME.ipynb in FIXTURES_DIR, NAME.expect.json says what must happen
(see fixtures/make_dataflow_notebooks.py for the format). Each notebook (and the
data files its sidecar lists under "files") is copied into a fresh temporary
directory and converted there with `nb2pipe convert NAME.ipynb -o out`:

- "exit": the exit status convert must return;
- "errors": diagnostic codes that must appear in stderr as `[code]`; for a failing
  conversion `out` must not exist afterwards;
- "steps": the manifest's steps (out/nb2pipe.lock.json), in order, each with exactly
  these inputs, outputs and upstream (and metrics / params when the sidecar gives
  them; list order is ignored for those lists);
- "params": the pipeline parameters and their defaults, exactly, in this order;
- "requirements": distributions that must be lines of out/requirements.txt;
- "script_contains": text that must appear in out/steps/STEP.py;
- "script_lacks": text that must not appear in out/steps/STEP.py;
- "warnings" / "no_warnings": diagnostic codes that must / must not appear in the
  conversion's stderr as `[code]`;
- per step, "takes" and "groups" (when the sidecar gives them): the manifest's
  {artifact: [variables]} maps, exactly (variable order ignored);
- "runs": true: `nb2pipe run out` must then exit 0.

Prints `ok NAME` or `FAIL NAME: details` per fixture and a summary line; exits 1
when any fixture fails. Nothing about a fixture is known here beyond its sidecar.
"""
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

TIMEOUT = 300


def tail(text, lines=15):
    return "\n".join(text.rstrip().splitlines()[-lines:])


def load_pipeline(out_dir):
    with open(os.path.join(out_dir, "nb2pipe.lock.json"), encoding="utf-8") as f:
        return json.load(f)["pipeline"]


def req_names(path):
    names = set()
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            m = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", line)
            if m:
                names.add(re.sub(r"[-_.]+", "-", m.group(0)).lower())
    return names


def compare_pipeline(expect, pipeline, problems):
    exp_steps = expect.get("steps", {})
    got_steps = pipeline.get("steps", [])
    got_names = [s.get("name") for s in got_steps]
    if got_names != list(exp_steps):
        problems.append("steps %s, expected %s" % (got_names, list(exp_steps)))
    by_name = {s.get("name"): s for s in got_steps}
    for name, exp in exp_steps.items():
        got = by_name.get(name)
        if got is None:
            continue
        for key in ("inputs", "outputs", "upstream", "metrics", "params", "takes",
                    "groups"):
            if key not in exp:
                continue
            want, have = exp[key], got.get(key)
            if key in ("takes", "groups"):
                want = {k: sorted(v) for k, v in want.items()}
                have = ({k: sorted(v) for k, v in have.items()}
                        if isinstance(have, dict) else have)
            if isinstance(want, list):
                same = isinstance(have, list) and sorted(have) == sorted(want)
            else:
                same = have == want
            if not same:
                problems.append("step %s: %s %s, expected %s"
                                % (name, key, json.dumps(have, sort_keys=True),
                                   json.dumps(want, sort_keys=True)))
    if "params" in expect:
        have = [(p.get("name"), p.get("default")) for p in pipeline.get("params", [])]
        want = list(expect["params"].items())
        if have != want:
            problems.append("params %s, expected %s"
                            % (json.dumps(dict(have)), json.dumps(dict(want))))


def check(binary, fixtures, nb_path):
    name = os.path.basename(nb_path)[:-len(".ipynb")]
    sidecar = os.path.join(fixtures, name + ".expect.json")
    if not os.path.exists(sidecar):
        return name, ["no sidecar %s" % os.path.basename(sidecar)]
    with open(sidecar, encoding="utf-8") as f:
        expect = json.load(f)
    problems = []
    work = tempfile.mkdtemp(prefix="nb2pipe-dataflow-")
    try:
        shutil.copy(nb_path, work)
        for data in expect.get("files", []):
            dest = os.path.join(work, data)
            os.makedirs(os.path.dirname(dest) or work, exist_ok=True)
            shutil.copy(os.path.join(fixtures, data), dest)
        nb = os.path.basename(nb_path)
        proc = subprocess.run([binary, "convert", nb, "-o", "out"], cwd=work,
                              capture_output=True, text=True, timeout=TIMEOUT)
        want_exit = expect.get("exit", 0)
        if proc.returncode != want_exit:
            problems.append("convert exit %d, expected %d; stderr:\n%s"
                            % (proc.returncode, want_exit, tail(proc.stderr)))
        for code in expect.get("errors", []) + expect.get("warnings", []):
            if "[%s]" % code not in proc.stderr:
                problems.append("no [%s] in stderr:\n%s" % (code, tail(proc.stderr)))
        for code in expect.get("no_warnings", []):
            if "[%s]" % code in proc.stderr:
                problems.append("unexpected [%s] in stderr:\n%s"
                                % (code, tail(proc.stderr)))
        out_dir = os.path.join(work, "out")
        if want_exit != 0:
            if os.path.exists(out_dir):
                problems.append("out/ was created by a failing conversion")
            return name, problems
        if proc.returncode != 0:
            return name, problems
        try:
            pipeline = load_pipeline(out_dir)
        except (OSError, ValueError, KeyError) as e:
            problems.append("cannot read out/nb2pipe.lock.json: %s" % e)
            return name, problems
        compare_pipeline(expect, pipeline, problems)
        reqs = expect.get("requirements", [])
        if reqs:
            path = os.path.join(out_dir, "requirements.txt")
            have = req_names(path) if os.path.exists(path) else set()
            for req in reqs:
                if re.sub(r"[-_.]+", "-", req).lower() not in have:
                    problems.append("requirements.txt lacks %s (has %s)"
                                    % (req, sorted(have)))
        for key, wanted in (("script_contains", True), ("script_lacks", False)):
            for step, texts in expect.get(key, {}).items():
                path = os.path.join(out_dir, "steps", step + ".py")
                try:
                    with open(path, encoding="utf-8") as f:
                        script = f.read()
                except OSError:
                    problems.append("no steps/%s.py" % step)
                    continue
                for text in texts:
                    if (text in script) != wanted:
                        problems.append("steps/%s.py %s %r"
                                        % (step, "lacks" if wanted else "holds", text))
        if expect.get("runs"):
            run = subprocess.run([binary, "run", "out"], cwd=work,
                                 capture_output=True, text=True, timeout=TIMEOUT)
            if run.returncode != 0:
                problems.append("run exit %d:\n%s"
                                % (run.returncode, tail(run.stdout + run.stderr)))
    except subprocess.TimeoutExpired as e:
        problems.append("timed out: %s" % " ".join(e.cmd))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return name, problems


def main(argv):
    if len(argv) != 3:
        sys.stderr.write("usage: dataflow_fixtures.py NB2PIPE_BINARY FIXTURES_DIR\n")
        return 2
    binary, fixtures = os.path.abspath(argv[1]), os.path.abspath(argv[2])
    notebooks = sorted(glob.glob(os.path.join(fixtures, "*.ipynb")))
    if not notebooks:
        sys.stderr.write("no notebooks in %s\n" % fixtures)
        return 2
    passed = failed = 0
    for nb_path in notebooks:
        name, problems = check(binary, fixtures, nb_path)
        if problems:
            failed += 1
            print("FAIL %s: %s" % (name, "\n    ".join(
                p.replace("\n", "\n      ") for p in problems)))
        else:
            passed += 1
            print("ok %s" % name)
        sys.stdout.flush()
    print("dataflow fixtures: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
