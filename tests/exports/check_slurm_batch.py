#!/usr/bin/python3
"""The SLURM and AWS Batch exports (`--target slurm,batch`): slurm/STEP.sbatch and
slurm/submit.sh, batch/STEP.json and batch/submit.sh.

usage: check_slurm_batch.py NB2PIPE_BINARY REPO_ROOT SHARED_DIR

For every fixture (and options with hostile --name/--data-root/--image): shellcheck (exit
77 when it is missing) and `bash -n` on every script; the job definitions parse and match
the RegisterJobDefinition input shape (botocore's service model when python3-botocore is
installed, and our own checks); one script/definition per step of the manifest
(nb2pipe.lock.json), resources from limit: tags, parameters with their defaults.
submit.sh is run with fake `sbatch` and `aws` first on PATH that log their arguments and
print job ids: the calls must come in dependency order, wait for exactly the upstream
jobs, and pass parameters byte for byte (quotes, newlines, commas, '=', $(...)).
Then the fakes run the jobs (sbatch runs the script in --chdir; aws substitutes Ref::
placeholders as Batch does and runs the command in the pipeline directory) so titanic
and the hostile notebook really run through both submit scripts.
Determinism: converting twice gives the same bytes. Golden copies under
tests/exports/golden/slurm_batch/ are rewritten with NB2PIPE_UPDATE_GOLDEN=1.
Prints `ok NAME` / `FAIL NAME: why` per check and a summary.
"""
import json
import os
import pickle
import re
import shlex
import shutil
import stat
import subprocess
import sys
import tempfile

try:
    import botocore.session
    import botocore.validate
except ImportError:
    botocore = None

BINARY = REPO = None
WORK = None
RESULTS = {"passed": 0, "failed": 0}
GOLDEN_CASES = ["titanic_kale", "hostile_tags", "diamond"]
# the checks shellcheck can add that are about correctness, not style
SHELLCHECK = ["shellcheck", "--norc", "-s", "bash", "-o",
              "add-default-case,avoid-nullary-conditions,check-extra-masked-returns,"
              "check-set-e-suppressed,check-unassigned-uppercase,quote-safe-variables"]
NAME_RULE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$")
HOSTILE = "a 'b' \"c\" $(rm -rf /) `id` {{workflow.name}} {% raw %} &anchor *alias !!python/object #c: d; echo x | cat"
# what submit.sh gets as --param values: the shell's, Batch shorthand's and sbatch's
# special characters, a newline, a comma and '='
HOSTILE_PARAM = "x,y=z 'q' \"d\" $(id) `id` \\ back\nline2 {{a}} %j ${HOME} é"
HOSTILE_NAME = "My Pipe'; $(rm -rf /) `x` {{y}} %j"
HOSTILE_ROOT = "/shared/it's $(x) 100% \"q\""
HOSTILE_IMAGE = "registry.example.com/img:1 $(id) \"q\""

# resources per case and step: sbatch directives, Batch resourceRequirements
DEFAULT_BATCH = {"VCPU": "1", "MEMORY": "2048"}
RESOURCES = {
    "titanic_kale": {"train": ({"cpus-per-task": "2", "mem": "2G"}, {"VCPU": "2", "MEMORY": "2048"})},
    "hostile_tags": {"prep": ({"cpus-per-task": "1", "mem": "2G", "gres": "gpu:1"},
                              {"VCPU": "1", "MEMORY": "2048", "GPU": "1"})},
    "limits": {
        "a": ({"cpus-per-task": "3", "mem": "954M", "gres": "gpu:2"}, {"VCPU": "3", "MEMORY": "954", "GPU": "2"}),
        "b": ({"cpus-per-task": "1", "mem": "500M"}, {"VCPU": "1", "MEMORY": "500"}),
        "c": ({"cpus-per-task": "4", "mem": "1536M"}, {"VCPU": "4", "MEMORY": "1536"}),
        "d": ({"mem": "1T"}, {"VCPU": "1", "MEMORY": "1048576"}),
        "e": ({"mem": "1M"}, {"VCPU": "1", "MEMORY": "4"}),
    },
}
RESOURCES["hostile_options"] = RESOURCES["hostile_tags"]


def ok(name):
    RESULTS["passed"] += 1
    print("ok " + name)


def fail(name, why):
    RESULTS["failed"] += 1
    print("FAIL %s: %s" % (name, why))


def check(name, problems):
    """PROBLEMS: a list of strings; none means the check passed."""
    if problems:
        more = " (and %d more)" % (len(problems) - 5) if len(problems) > 5 else ""
        fail(name, "; ".join(str(p) for p in problems[:5]) + more)
    else:
        ok(name)


# ---- notebooks and conversion ------------------------------------------------------------

def code_cell(source, tags):
    return {"cell_type": "code", "execution_count": None, "metadata": {"tags": tags} if tags else {},
            "outputs": [], "source": source}


def limits_notebook(path):
    """Steps a..e with limit: tags covering the unit conversions (and one unknown)."""
    cells = [
        code_cell("a = 1\n", ["block:a", "limit:cpu:2500m", "limit:memory:1G", "limit:nvidia.com/gpu:2"]),
        code_cell("b = a + 1\n", ["block:b", "limit:cpu:0.1", "limit:memory:500Mi"]),
        code_cell("c = b + 1\n", ["block:c", "limit:memory:1.5Gi", "limit:cpu:4",
                                  "limit:ephemeral-storage:1Gi"]),
        code_cell("d = c + 1\n", ["block:d", "limit:memory:1Ti", "limit:nvidia.com/gpu:0"]),
        code_cell("e = d + 1\nprint(e)\n", ["block:e", "limit:memory:3k"]),
    ]
    nb = {"cells": cells, "nbformat": 4, "nbformat_minor": 5,
          "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
                       "language_info": {"name": "python"}}}
    with open(path, "w", encoding="utf-8") as f:
        f.write(json.dumps(nb, indent=1, sort_keys=True) + "\n")


def case_list():
    """(case, notebook path in the repo or None for a generated one, convert options)."""
    return [
        ("titanic", "fixtures/titanic.ipynb", []),
        ("titanic_kale", "fixtures/titanic_kale.ipynb", []),
        ("titanic_untagged", "fixtures/titanic_untagged.ipynb", []),
        ("diamond", "fixtures/dataflow/diamond.ipynb", []),
        ("hostile_tags", "fixtures/hostile_tags.ipynb", []),
        ("hostile_options", "fixtures/hostile_tags.ipynb",
         ["--name", HOSTILE_NAME, "--data-root", HOSTILE_ROOT, "--image", HOSTILE_IMAGE]),
        ("limits", None, []),
    ]


def prepare(case, source, where):
    """Copies the case's notebook (and titanic.csv) into WHERE; returns its file name."""
    os.makedirs(where, exist_ok=True)
    shutil.copy(os.path.join(REPO, "fixtures", "titanic.csv"), where)
    if source is None:
        name = case + ".ipynb"
        limits_notebook(os.path.join(where, name))
        return name
    shutil.copy(os.path.join(REPO, source), where)
    return os.path.basename(source)


def convert(where, notebook, options, out="out"):
    return subprocess.run([BINARY, "convert", notebook, "-o", out, "--target", "slurm,batch"] + options,
                          cwd=where, capture_output=True, text=True, env=dict(os.environ, NO_COLOR="1"))


def read_tree(root, subdirs=("slurm", "batch")):
    files = {}
    for sub in subdirs:
        for dirpath, _, names in os.walk(os.path.join(root, sub)):
            for name in names:
                path = os.path.join(dirpath, name)
                with open(path, "rb") as f:
                    files[os.path.relpath(path, root)] = f.read()
    return files


def option(options, flag, default):
    return options[options.index(flag) + 1] if flag in options else default


def safe_name(text, limit=64):
    """What the emitters make of --name (emit_slurm.c/emit_batch.c safe_name)."""
    out, gap = "", False
    for ch in text:
        if ch.isascii() and (ch.isalnum() or ch in "_-"):
            if not out and not ch.isalnum():
                continue
            if gap and out and ch != "-" and out[-1] != "-":
                out += "-"
            gap = False
            out += ch
            if len(out) >= limit:
                break
        else:
            gap = True
    out = out[:limit]
    while out and not out[-1].isalnum():
        out = out[:-1]
    return out or "pipeline"


# ---- fake sbatch and aws ------------------------------------------------------------------

FAKE_SBATCH = r'''#!/usr/bin/python3
"""Fake sbatch: logs its arguments; with FAKE_RUN=1 runs the job right away."""
import json, os, subprocess, sys
state_path = os.path.join(os.environ["FAKE_STATE"], "sbatch.json")
state = json.load(open(state_path)) if os.path.exists(state_path) else {"jobs": {}}
args = [os.fsencode(a).decode("utf-8", "surrogateescape") for a in sys.argv[1:]]
with open(os.environ["FAKE_LOG"], "a", encoding="utf-8", errors="surrogateescape") as log:
    log.write(json.dumps({"tool": "sbatch", "argv": args, "cwd": os.getcwd()}) + "\n")
n = len(state["jobs"]) + 1
if os.environ.get("FAKE_FAIL") == str(n):
    sys.exit("sbatch: error: fake failure")
opts, i = {}, 0
while i < len(args) and args[i].startswith("-"):
    key, _, value = args[i].partition("=")
    opts[key] = value
    i += 1
script, script_args = args[i], args[i + 1:]
job = str(1000 + n)
for dep in opts.get("--dependency", "afterok:").split(":", 1)[1].split(":"):
    if dep and state["jobs"].get(dep) != "ok":
        sys.exit("sbatch: dependency %r not met" % dep)
status = "ok"
if os.environ.get("FAKE_RUN") == "1":
    def path(pattern):
        out, k = "", 0
        while k < len(pattern):
            if pattern[k] == "%" and k + 1 < len(pattern):
                out += {"%": "%", "j": job, "x": opts.get("--job-name", "")}.get(pattern[k + 1], "%" + pattern[k + 1])
                k += 2
            else:
                out += pattern[k]
                k += 1
        return out
    with open(path(opts["--output"]), "w") as out, open(path(opts["--error"]), "w") as err:
        rc = subprocess.run(["bash", script] + script_args, cwd=opts["--chdir"], stdout=out, stderr=err).returncode
    if rc != 0:
        sys.exit("sbatch: job %s (%s) failed; see %s" % (job, script, path(opts["--error"])))
state["jobs"][job] = status
json.dump(state, open(state_path, "w"))
print(job + (";fakecluster" if os.environ.get("FAKE_CLUSTER") else ""))
'''

FAKE_AWS = r'''#!/usr/bin/python3
"""Fake aws (batch register-job-definition / submit-job): logs its arguments, prints
ARNs and job ids; with FAKE_RUN=1 runs each job as Batch would (Ref:: substitution of
whole command elements) in FAKE_WORKDIR, the image's working directory."""
import json, os, subprocess, sys
state_path = os.path.join(os.environ["FAKE_STATE"], "aws.json")
state = json.load(open(state_path)) if os.path.exists(state_path) else {"defs": {}, "jobs": {}}
args = [os.fsencode(a).decode("utf-8", "surrogateescape") for a in sys.argv[1:]]
with open(os.environ["FAKE_LOG"], "a", encoding="utf-8", errors="surrogateescape") as log:
    log.write(json.dumps({"tool": "aws", "argv": args, "cwd": os.getcwd()}) + "\n")
if args[:1] != ["batch"] or len(args) < 2:
    sys.exit("aws: fake knows only batch")
opts, key = {}, None
for a in args[2:]:
    if a.startswith("--"):
        key = a
        opts[key] = []
    else:
        opts[key].append(a)
if os.environ.get("FAKE_FAIL") == args[1]:
    sys.exit("aws: fake failure")
if args[1] == "register-job-definition":
    source = opts["--cli-input-json"][0]
    assert source.startswith("file://"), source
    definition = json.load(open(source[len("file://"):]))
    arn = "arn:aws:batch:eu-west-1:123456789012:job-definition/%s:%d" % (definition["jobDefinitionName"], len(state["defs"]) + 1)
    state["defs"][arn] = definition
    print(arn)
elif args[1] == "submit-job":
    definition = state["defs"][opts["--job-definition"][0]]
    for dep in opts.get("--depends-on", []):
        if state["jobs"].get(dep.partition("jobId=")[2]) != "ok":
            sys.exit("aws: dependency %r not met" % dep)
    job = "00000000-0000-4000-8000-%012d" % (len(state["jobs"]) + 1)
    if os.environ.get("FAKE_RUN") == "1":
        params = dict(definition.get("parameters", {}))
        params.update(json.loads(opts["--parameters"][0]))
        command = [params.get(c[5:], c) if c.startswith("Ref::") else c
                   for c in definition["containerProperties"]["command"]]
        # the job's output is not the CLI's: keep stdout for the job id
        rc = subprocess.run(command, cwd=os.environ["FAKE_WORKDIR"], stdout=sys.stderr).returncode
        if rc != 0:
            sys.exit("aws: job %s failed: %r" % (job, command))
    state["jobs"][job] = "ok"
    print(job)
else:
    sys.exit("aws: fake does not know batch " + args[1])
json.dump(state, open(state_path, "w"))
'''


def fake_env(run=False, extra=None):
    """A fresh log and state; PATH with the fakes and python3 = /usr/bin/python3."""
    state = tempfile.mkdtemp(dir=WORK, prefix="state-")
    env = dict(os.environ, FAKE_STATE=state, FAKE_LOG=os.path.join(state, "log.jsonl"),
               PATH=os.path.join(WORK, "bin") + os.pathsep + os.environ.get("PATH", "/usr/bin:/bin"))
    env.pop("JOB_QUEUE", None)
    if run:
        env["FAKE_RUN"] = "1"
    env.update(extra or {})
    return env


def install_fakes():
    bin_dir = os.path.join(WORK, "bin")
    os.makedirs(bin_dir)
    for name, text in (("sbatch", FAKE_SBATCH), ("aws", FAKE_AWS)):
        path = os.path.join(bin_dir, name)
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, 0o755)
    os.symlink("/usr/bin/python3", os.path.join(bin_dir, "python3"))


def run_submit(script, args, env, cwd="/"):
    proc = subprocess.run([script] + args, cwd=cwd, env=env, capture_output=True)
    calls = []
    if os.path.exists(env["FAKE_LOG"]):
        with open(env["FAKE_LOG"], encoding="utf-8", errors="surrogateescape") as f:
            calls = [json.loads(line) for line in f]
    return proc, calls


# ---- checks of the files ---------------------------------------------------------------

def manifest(out):
    with open(os.path.join(out, "nb2pipe.lock.json"), encoding="utf-8") as f:
        return json.load(f)["pipeline"]


def check_files(label, out, steps):
    expected = {"slurm/submit.sh", "batch/submit.sh"}
    expected |= {"slurm/%s.sbatch" % s["name"] for s in steps} | {"batch/%s.json" % s["name"] for s in steps}
    got = set(read_tree(out))
    problems = []
    if got != expected:
        problems.append("missing %s, unexpected %s" % (sorted(expected - got), sorted(got - expected)))
    for script in ("slurm/submit.sh", "batch/submit.sh"):
        path = os.path.join(out, script)
        if os.path.exists(path) and not os.stat(path).st_mode & stat.S_IXUSR:
            problems.append(script + " is not executable")
    check("%s: one sbatch script and one job definition per step, executable submit scripts" % label, problems)


def check_scripts(label, out):
    scripts = sorted(p for p in read_tree(out) if p.endswith((".sh", ".sbatch")))
    problems = []
    for rel in scripts:
        path = os.path.join(out, rel)
        sc = subprocess.run(SHELLCHECK + [path], capture_output=True, text=True)
        if sc.returncode != 0 or sc.stdout.strip():
            problems.append("%s: %s" % (rel, sc.stdout.strip()[:400]))
        syntax = subprocess.run(["bash", "-n", path], capture_output=True, text=True)
        if syntax.returncode != 0:
            problems.append("%s: bash -n: %s" % (rel, syntax.stderr.strip()))
        with open(path, encoding="utf-8") as f:
            lines = f.read().split("\n")
        if lines[0] != "#!/bin/bash" or not lines[1].startswith("# Generated by nb2pipe from "):
            problems.append("%s: does not start with #!/bin/bash and the generated-file header" % rel)
    check("%s: shellcheck and bash -n on %d scripts (zero findings)" % (label, len(scripts)), problems)


def sbatch_directives(text):
    """{option: value} of the #SBATCH lines sbatch reads (those before the first command)."""
    found = {}
    for line in text.split("\n")[1:]:
        if line.startswith("#SBATCH "):
            key, _, value = line[len("#SBATCH "):].partition("=")
            found[key.lstrip("-")] = value
        elif line and not line.startswith("#"):
            break
    return found


def check_sbatch(label, case, out, steps, pipeline):
    problems = []
    for step in steps:
        name = step["name"]
        with open(os.path.join(out, "slurm", name + ".sbatch"), encoding="utf-8") as f:
            text = f.read()
        found = sbatch_directives(text)
        want = {"job-name": "%s-%s" % (pipeline, name), "output": "%s-%s-%%j.out" % (pipeline, name),
                "error": "%s-%s-%%j.err" % (pipeline, name)}
        want.update(RESOURCES.get(case, {}).get(name, ({}, {}))[0])
        if found != want:
            problems.append("%s: #SBATCH %s, expected %s" % (name, found, want))
        if 'exec python3 steps/%s.py --data-dir "$RUN_DIR" "$@"\n' % name not in text:
            problems.append("%s: does not run steps/%s.py with --data-dir and its arguments" % (name, name))
    check("%s: #SBATCH job names, logs and resources" % label, problems)


def botocore_problems(operation, params):
    if botocore is None:
        return []
    model = botocore.session.get_session().get_service_model("batch")
    report = botocore.validate.ParamValidator().validate(params, model.operation_model(operation).input_shape)
    return [report.generate_report()] if report.has_errors() else []



def check_job_definitions(label, case, out, steps, pipe, options, pipeline, notebook):
    problems, names = [], set()
    data_root = option(options, "--data-root", "/data")
    images = {"hostile_tags": {"prep": "registry.example.com/team/img:1.0"},
              "hostile_options": {"prep": "registry.example.com/team/img:1.0"}}.get(case, {})
    defaults = {p["name"]: p["default"] for p in pipe["params"]}
    for step in steps:
        name = step["name"]
        with open(os.path.join(out, "batch", name + ".json"), encoding="utf-8") as f:
            definition = json.load(f)
        problems += ["%s: %s" % (name, p) for p in botocore_problems("RegisterJobDefinition", definition)]
        want_keys = ["jobDefinitionName", "type", "parameters", "platformCapabilities", "containerProperties", "tags"]
        if list(definition) != want_keys:
            problems.append("%s: keys %s" % (name, list(definition)))
            continue
        jd_name = definition["jobDefinitionName"]
        if not NAME_RULE.match(jd_name) or jd_name != "%s-%s" % (pipeline, name) or jd_name in names:
            problems.append("%s: job definition name %r" % (name, jd_name))
        names.add(jd_name)
        if definition["type"] != "container" or definition["platformCapabilities"] != ["EC2"]:
            problems.append("%s: type/platform %r %r" % (name, definition["type"], definition["platformCapabilities"]))
        params = definition["parameters"]
        want_params = {"datadir": data_root}
        want_params.update({"param_" + p: "%s=%s" % (p, defaults[p]) for p in step["params"]})
        notice = params.pop("nb2pipe-notice", "")
        if not notice.startswith("Generated by nb2pipe from %s; do not edit. Regenerate: nb2pipe convert " % notebook) \
                or not re.search(r" \[xxh3:[0-9a-f]{16}\]$", notice):
            problems.append("%s: notice %r" % (name, notice))
        if params != want_params:
            problems.append("%s: parameters %r, expected %r" % (name, params, want_params))
        container = definition["containerProperties"]
        want_command = ["python3", "steps/%s.py" % name, "--data-dir", "Ref::datadir"]
        for p in step["params"]:
            want_command += ["--param", "Ref::param_" + p]
        if container.get("command") != want_command:
            problems.append("%s: command %r" % (name, container.get("command")))
        image = images.get(name, option(options, "--image", pipe["name"] + ":latest"))
        if container.get("image") != image:
            problems.append("%s: image %r, expected %r" % (name, container.get("image"), image))
        want_res = RESOURCES.get(case, {}).get(name, ({}, DEFAULT_BATCH))[1]
        got_res = {r["type"]: r["value"] for r in container.get("resourceRequirements", [])}
        if got_res != want_res or len(got_res) != len(container.get("resourceRequirements", [])):
            problems.append("%s: resources %r, expected %r" % (name, container.get("resourceRequirements"), want_res))
        if container.get("volumes") != [{"name": "nb2pipe-data", "host": {"sourcePath": data_root}}] or \
                container.get("mountPoints") != [{"sourceVolume": "nb2pipe-data", "containerPath": data_root,
                                                  "readOnly": False}]:
            problems.append("%s: data volume %r %r" % (name, container.get("volumes"), container.get("mountPoints")))
        if definition["tags"] != {"generated-by": "nb2pipe"}:
            problems.append("%s: tags %r" % (name, definition["tags"]))
    what = "RegisterJobDefinition shape (botocore model)" if botocore else "RegisterJobDefinition shape"
    check("%s: job definitions: %s, names, image, command, parameters, resources, volume" % (label, what), problems)


# ---- submit.sh with the fakes ---------------------------------------------------------------

def given_params(pipe):
    """--param values for submit.sh: hostile text for every parameter (one kept default)."""
    params = [(p["name"], HOSTILE_PARAM if i % 2 == 0 else "") for i, p in enumerate(pipe["params"])]
    return params[:-1] if len(params) > 2 else params


def param_args(params):
    args = []
    for i, (name, value) in enumerate(params):
        # both spellings
        args += ["--param", "%s=%s" % (name, value)] if i % 2 == 0 else ["--param=%s=%s" % (name, value)]
    return args


def check_slurm_submit(label, out, steps, pipeline, data_root):
    pipe = manifest(out)
    params = given_params(pipe)
    env = fake_env(extra={"FAKE_CLUSTER": "1"})
    proc, calls = run_submit(os.path.join(out, "slurm", "submit.sh"),
                             ["--data-root", data_root] + param_args(params), env)
    problems = []
    if proc.returncode != 0:
        check("%s: slurm/submit.sh with a fake sbatch" % label,
              ["exit %d: %s" % (proc.returncode, proc.stderr.decode(errors="replace")[-500:])])
        return
    pipeline_dir = os.path.realpath(out)
    ids, run_dirs = {}, set()
    if [c["tool"] for c in calls] != ["sbatch"] * len(steps):
        problems.append("calls %r" % [c["tool"] for c in calls])
    for step, call in zip(steps, calls):
        argv = call["argv"]
        k = 0
        opts = {}
        while k < len(argv) and argv[k].startswith("-"):
            key, _, value = argv[k].partition("=")
            opts[key] = value
            k += 1
        script, script_args = argv[k], argv[k + 1:]
        name = step["name"]
        if script != os.path.join(pipeline_dir, "slurm", name + ".sbatch"):
            problems.append("%s: script %r (calls must follow the manifest's order)" % (name, script))
        if "--parsable" not in opts or opts.get("--chdir") != pipeline_dir or \
                opts.get("--job-name") != "%s-%s" % (pipeline, name):
            problems.append("%s: options %r" % (name, opts))
        run_dir = script_args[0] if script_args else ""
        run_dirs.add(run_dir)
        want_args = [run_dir]
        for pname, value in params:
            want_args += ["--param", "%s=%s" % (pname, value)]
        if script_args != want_args:
            problems.append("%s: script arguments %r, expected %r" % (name, script_args, want_args))
        log_pattern = run_dir.replace("%", "%%") + "/slurm-logs/" + name
        if opts.get("--output") != log_pattern + "-%j.out" or opts.get("--error") != log_pattern + "-%j.err":
            problems.append("%s: logs %r %r" % (name, opts.get("--output"), opts.get("--error")))
        upstream_ids = [ids[u] for u in step["upstream"]]
        dependency = opts.get("--dependency")
        want_dependency = "afterok:" + ":".join(upstream_ids) if upstream_ids else None
        if dependency != want_dependency:
            problems.append("%s: dependency %r, expected %r" % (name, dependency, want_dependency))
        ids[name] = str(1000 + len(ids) + 1)
    root = os.path.join("/", data_root) if os.path.isabs(data_root) else os.path.join(pipeline_dir, data_root)
    if len(run_dirs) != 1:
        problems.append("run directories %r" % run_dirs)
    else:
        run_dir = run_dirs.pop()
        if not re.fullmatch(re.escape(root) + "/" + re.escape(pipeline) + r"-\d{8}T\d{6}Z-\d+", run_dir) or \
                not os.path.isdir(os.path.join(run_dir, "slurm-logs")):
            problems.append("run directory %r not made under %r" % (run_dir, root))
        stdout = proc.stdout.decode(errors="replace")
        want_out = "run directory: %s\n" % run_dir + "".join("%s: job %s\n" % (s["name"], ids[s["name"]]) for s in steps)
        if stdout != want_out:
            problems.append("printed %r, expected %r" % (stdout, want_out))
    check("%s: slurm/submit.sh (from /, fake sbatch): order, afterok = upstream, %d parameters byte-exact, "
          "run directory, logs" % (label, len(params)), problems)


def check_batch_submit(label, out, steps, pipeline, data_root):
    pipe = manifest(out)
    params = dict(given_params(pipe))
    queue = "queue, with 'odd' name"
    env = fake_env()
    proc, calls = run_submit(os.path.join(out, "batch", "submit.sh"),
                             ["--job-queue", queue] + param_args(list(params.items())), env)
    if proc.returncode != 0:
        check("%s: batch/submit.sh with a fake aws" % label,
              ["exit %d: %s" % (proc.returncode, proc.stderr.decode(errors="replace")[-500:])])
        return
    problems = []
    batch_dir = os.path.realpath(os.path.join(out, "batch"))
    registers, submits = calls[:len(steps)], calls[len(steps):]
    arns = {}
    for k, (step, call) in enumerate(zip(steps, registers)):
        name = step["name"]
        want = ["batch", "register-job-definition", "--cli-input-json", "file://%s.json" % name,
                "--query", "jobDefinitionArn", "--output", "text"]
        if call["argv"] != want or call["cwd"] != batch_dir:
            problems.append("register %s: %r in %r" % (name, call["argv"], call["cwd"]))
        with open(os.path.join(batch_dir, name + ".json")) as f:
            jd_name = json.load(f)["jobDefinitionName"]
        arns[name] = "arn:aws:batch:eu-west-1:123456789012:job-definition/%s:%d" % (jd_name, k + 1)
    ids, run_dirs = {}, set()
    if len(submits) != len(steps):
        problems.append("%d submit calls for %d steps" % (len(submits), len(steps)))
    for step, call in zip(steps, submits):
        name = step["name"]
        argv = call["argv"]
        opts, key = {}, None
        for a in argv[2:]:
            if a.startswith("--"):
                key = a
                opts[key] = []
            else:
                opts[key].append(a)
        if argv[:2] != ["batch", "submit-job"] or opts.get("--job-name") != ["%s-%s" % (pipeline, name)] or \
                opts.get("--job-queue") != [queue] or opts.get("--job-definition") != [arns[name]] or \
                opts.get("--query") != ["jobId"] or opts.get("--output") != ["text"]:
            problems.append("submit %s: %r" % (name, argv))
            continue
        depends = opts.get("--depends-on", [])
        want_depends = ["jobId=" + ids[u] for u in step["upstream"]]
        if depends != want_depends:
            problems.append("%s: --depends-on %r, expected %r" % (name, depends, want_depends))
        try:
            parameters = json.loads(opts["--parameters"][0])
        except (KeyError, ValueError) as e:
            problems.append("%s: --parameters is not JSON: %s" % (name, e))
            continue
        run_dirs.add(parameters.get("datadir"))
        want = {"datadir": parameters.get("datadir")}
        want.update({"param_" + p: "%s=%s" % (p, params[p]) for p in step["params"] if p in params})
        if parameters != want:
            problems.append("%s: --parameters %r, expected %r" % (name, parameters, want))
        request = {"jobName": opts["--job-name"][0], "jobQueue": queue, "jobDefinition": arns[name],
                   "parameters": parameters, "dependsOn": [{"jobId": d[len("jobId="):]} for d in depends]}
        problems += ["%s: %s" % (name, p) for p in botocore_problems("SubmitJob", request)]
        ids[name] = "00000000-0000-4000-8000-%012d" % (len(ids) + 1)
    if len(run_dirs) != 1 or not re.fullmatch(re.escape(data_root) + "/" + re.escape(pipeline) + r"-\d{8}T\d{6}Z-\d+",
                                               next(iter(run_dirs)) or ""):
        problems.append("run directories %r" % run_dirs)
    check("%s: batch/submit.sh (fake aws): registers every definition, submits in order, --depends-on = "
          "upstream, JSON --parameters byte-exact" % label, problems)


def check_submit_errors(label, out, steps):
    problems = []
    pipe = manifest(out)
    for target, base in (("slurm", ["--data-root", os.path.join(WORK, "errors")]), ("batch", ["--job-queue", "q"])):
        script = os.path.join(out, target, "submit.sh")
        env = fake_env()
        proc, calls = run_submit(script, base + ["--param", "NO_SUCH_PARAM=1"], env)
        said = b"NO_SUCH_PARAM" in proc.stderr or (not pipe["params"] and b"no parameters" in proc.stderr)
        if proc.returncode != 2 or calls or not said:
            problems.append("%s: unknown parameter: exit %d, %d calls, %r" % (target, proc.returncode, len(calls), proc.stderr))
        if pipe["params"]:
            proc, calls = run_submit(script, base + ["--param", pipe["params"][0]["name"]], fake_env())
            if proc.returncode != 2 or calls:
                problems.append("%s: --param without '=': exit %d, %d calls" % (target, proc.returncode, len(calls)))
        if len(steps) > 1:
            fail_at = {"slurm": "2", "batch": "submit-job"}[target]
            proc, calls = run_submit(script, base, fake_env(extra={"FAKE_FAIL": fail_at}))
            tools = [c["argv"][1] if c["tool"] == "aws" else "sbatch" for c in calls]
            want = 2 if target == "slurm" else len(steps) + 1
            if proc.returncode == 0 or len(calls) != want:
                problems.append("%s: a failing %s: exit %d after %r" % (target, tools[-1:], proc.returncode, tools))
    proc, calls = run_submit(os.path.join(out, "batch", "submit.sh"), [], fake_env())
    if proc.returncode != 2 or calls or b"job queue" not in proc.stderr:
        problems.append("batch without a job queue: exit %d, %d calls" % (proc.returncode, len(calls)))
    check("%s: submit scripts refuse unknown parameters and stop at the first failing submission" % label, problems)


# ---- running the jobs ----------------------------------------------------------------

def run_dir_of(stdout):
    match = re.search(r"^run directory: (.*)$", stdout.decode("utf-8", "surrogateescape"), re.M)
    return match.group(1) if match else None


def check_runs():
    """titanic and the hostile notebook, run through both submit scripts by the fakes."""
    for case, source in (("titanic", "fixtures/titanic.ipynb"), ("hostile_tags", "fixtures/hostile_tags.ipynb")):
        where = os.path.join(WORK, "run-" + case)
        notebook = prepare(case, source, where)
        data_root = os.path.join(where, "batch data")
        proc = convert(where, notebook, ["--data-root", data_root])
        if proc.returncode != 0:
            check("%s: convert for the runs" % case, [proc.stderr])
            continue
        out = os.path.join(where, "out")
        if case == "titanic":
            variants = [([], "evaluate/metrics.json", None)]
        else:
            hostile = HOSTILE_PARAM + "\n"
            variants = [(["--param", "GREETING=" + hostile, "--param", "COUNT=2"], "prep/data.pkl", [hostile] * 2),
                        ([], "prep/data.pkl", None)]
        for args, product, want in variants:
            for target, base in (("slurm", ["--data-root", os.path.join(where, "slurm data")]),
                                 ("batch", ["--job-queue", "q"])):
                env = fake_env(run=True, extra={"FAKE_WORKDIR": out})
                proc, calls = run_submit(os.path.join(out, target, "submit.sh"), base + args, env)
                problems = []
                run_dir = run_dir_of(proc.stdout)
                if proc.returncode != 0 or not run_dir:
                    problems.append("exit %d: %s" % (proc.returncode, proc.stderr.decode(errors="replace")[-800:]))
                elif not os.path.isfile(os.path.join(run_dir, product)):
                    problems.append("no %s in %s" % (product, run_dir))
                elif product.endswith(".pkl"):
                    with open(os.path.join(run_dir, product), "rb") as f:
                        data = pickle.load(f)
                    if want is None:
                        nb = json.load(open(os.path.join(where, notebook)))
                        want = None
                        for cell in nb["cells"]:
                            if "pipeline-parameters" in cell.get("metadata", {}).get("tags", []):
                                scope = {}
                                exec("".join(cell["source"]), scope)
                                want = [scope["GREETING"]] * scope["COUNT"]
                    if data != want:
                        problems.append("data %r, expected %r" % (data, want))
                else:
                    with open(os.path.join(run_dir, product)) as f:
                        metrics = json.load(f)
                    if not metrics or not all(isinstance(v, (int, float)) for v in metrics.values()):
                        problems.append("metrics %r" % metrics)
                what = "with hostile --param values" if args else "with defaults"
                check("%s: %s/submit.sh runs the pipeline through the fake %s (%s): %s" %
                      (case, target, "sbatch" if target == "slurm" else "aws", what, product), problems)


def check_refusals():
    where = os.path.join(WORK, "refusals")
    notebook = prepare("diamond", "fixtures/dataflow/diamond.ipynb", where)
    proc = convert(where, notebook, ["--data-root", "relative/data"])
    problems = []
    if proc.returncode != 2 or "not an absolute path" not in proc.stderr or os.path.exists(os.path.join(where, "out")):
        problems.append("batch with a relative data root: exit %d, %r" % (proc.returncode, proc.stderr))
    proc = subprocess.run([BINARY, "convert", notebook, "-o", "out", "--target", "slurm", "--data-root", "relative/data"],
                          cwd=where, capture_output=True, text=True)
    if proc.returncode != 0:
        problems.append("slurm with a relative data root: exit %d, %r" % (proc.returncode, proc.stderr))
    else:
        env = fake_env()
        proc, calls = run_submit(os.path.join(where, "out", "slurm", "submit.sh"), [], env, cwd=WORK)
        run_dir = run_dir_of(proc.stdout)
        if proc.returncode != 0 or not run_dir or \
                not run_dir.startswith(os.path.join(os.path.realpath(os.path.join(where, "out")), "relative/data/")):
            problems.append("slurm: relative data root not taken from the pipeline directory: %r" % run_dir)
    check("a relative --data-root: refused for batch (exit 2), resolved from the pipeline directory for slurm",
          problems)


# ---- per case ------------------------------------------------------------------------

def check_case(case, source, options):
    where_a = os.path.join(WORK, case, "a")
    where_b = os.path.join(WORK, case, "b")
    notebook = prepare(case, source, where_a)
    prepare(case, source, where_b)
    proc = convert(where_a, notebook, options)
    if proc.returncode != 0:
        check("%s: convert --target slurm,batch" % case, ["exit %d: %s" % (proc.returncode, proc.stderr)])
        return
    warnings = [line for line in proc.stderr.splitlines() if "unsupported-limit" in line]
    if case == "limits":
        check("%s: unknown limit: resources are warned about, once per target" % case,
              [] if len(warnings) == 2 and all("ephemeral-storage" in w for w in warnings) else [proc.stderr])
    out = os.path.join(where_a, "out")
    pipe = manifest(out)
    steps = pipe["steps"]
    pipeline = safe_name(option(options, "--name", pipe["name"]))
    label = "%s (%d steps)" % (case, len(steps))
    check_files(label, out, steps)
    check_scripts(label, out)
    check_sbatch(label, case, out, steps, pipeline)
    check_job_definitions(label, case, out, steps, pipe, options, pipeline, notebook)
    slurm_root = os.path.join(WORK, case, "slurm data 100% $(x) 'q'")
    check_slurm_submit(label, out, steps, pipeline, slurm_root)
    check_batch_submit(label, out, steps, pipeline, option(options, "--data-root", "/data"))
    if case in ("titanic", "diamond", "titanic_untagged"):
        check_submit_errors(label, out, steps)
    if case.startswith("hostile"):
        check_hostile(label, out, options)
    proc = convert(where_b, notebook, options)
    first, second = read_tree(out), read_tree(os.path.join(where_b, "out"))
    check("%s: deterministic (converted twice, same bytes)" % label,
          [] if proc.returncode == 0 and first == second else
          ["differs: %s" % sorted(k for k in set(first) | set(second) if first.get(k) != second.get(k))])
    if case in GOLDEN_CASES:
        check_golden(case, first)


def check_hostile(label, out, options):
    """Every hostile text stays literal: JSON values decode to it, shell words unquote to it."""
    problems = []
    files = read_tree(out)
    for rel, data in files.items():
        text = data.decode("utf-8")
        if rel.endswith(".json"):
            continue
        # nothing hostile outside a comment or a single-quoted word
        for line in text.split("\n"):
            if line.startswith("#"):
                continue
            for bad in ("rm -rf", "whoami", "{{", "`id`", "$(x)"):
                if bad in line and not line.lstrip().startswith(("DATA_ROOT='",)):
                    problems.append("%s: %r in %r" % (rel, bad, line))
    if "--data-root" in options:
        root = option(options, "--data-root", None)
        for target in ("slurm", "batch"):
            text = files["%s/submit.sh" % target].decode()
            line = next(l for l in text.split("\n") if l.startswith("DATA_ROOT="))
            if shlex.split(line[len("DATA_ROOT="):]) != [root]:
                problems.append("%s: DATA_ROOT line %r does not unquote to %r" % (target, line, root))
    check("%s: hostile values stay literal (quoted words, JSON strings), no notebook text as code" % label, problems)


def check_golden(case, files):
    golden = os.path.join(REPO, "tests", "exports", "golden", "slurm_batch", case)
    if os.environ.get("NB2PIPE_UPDATE_GOLDEN") == "1":
        shutil.rmtree(golden, ignore_errors=True)
        for rel, data in files.items():
            path = os.path.join(golden, rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as f:
                f.write(data)
        ok("%s: golden files rewritten (%d)" % (case, len(files)))
        return
    want = read_tree(golden) if os.path.isdir(golden) else {}
    differs = sorted(k for k in set(files) | set(want) if files.get(k) != want.get(k))
    check("%s: golden files (tests/exports/golden/slurm_batch/%s)" % (case, case),
          ["differ: %s (NB2PIPE_UPDATE_GOLDEN=1 rewrites them)" % differs] if differs else [])


def main():
    global BINARY, REPO, WORK
    if len(sys.argv) != 4:
        sys.exit("usage: check_slurm_batch.py NB2PIPE_BINARY REPO_ROOT SHARED_DIR")
    BINARY, REPO = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    if not shutil.which("shellcheck"):
        print("skip: shellcheck is not installed (apt-get install shellcheck)")
        sys.exit(77)
    if botocore is None:
        print("note: python3-botocore is not installed: job definitions are checked without AWS's model")
    WORK = tempfile.mkdtemp(prefix="nb2pipe-slurm-batch-")
    try:
        install_fakes()
        for case, source, options in case_list():
            check_case(case, source, options)
        check_refusals()
        check_runs()
    finally:
        shutil.rmtree(WORK, ignore_errors=True)
    print("slurm_batch export: %d passed, %d failed" % (RESULTS["passed"], RESULTS["failed"]))
    sys.exit(1 if RESULTS["failed"] else 0)


if __name__ == "__main__":
    main()
