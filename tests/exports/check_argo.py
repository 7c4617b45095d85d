#!/usr/bin/python3
"""The Argo export (`--target argo`): argo/NAME.yaml for every fixture, data mode
(--argo-data pvc|artifacts) and kind (--argo-kind workflow|template).

usage: check_argo.py NB2PIPE_BINARY REPO_ROOT SHARED_DIR

Every generated file must pass SHARED_DIR/tools/validate-argo (exit 77 when it is
missing) and match the pipeline's manifest (nb2pipe.lock.json): one task per step,
dependencies = upstream, parameters with their defaults, each step's args passing
exactly its parameters, Kale resources/annotations/labels, artifact wiring, metrics.
The workflows are also run here, task by task, as Argo would run them (templates
substituted, artifacts handed from task to task), so the arguments are proven to work.
Values Argo would evaluate ('{{') are refused; everything else stays literal.
Prints `ok NAME` / `FAIL NAME: why` per check and a summary; golden copies under
tests/exports/golden/argo/ are rewritten with NB2PIPE_UPDATE_GOLDEN=1.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

try:
    import yaml
except ImportError:
    yaml = None

BINARY = REPO = SHARED = VALIDATOR = None
WORK = None
RESULTS = {"passed": 0, "failed": 0}
MODES = [("pvc", "workflow"), ("pvc", "template"), ("artifacts", "workflow"), ("artifacts", "template")]
FIXTURES = ["titanic.ipynb", "titanic_kale.ipynb", "titanic_untagged.ipynb", "dataflow/diamond.ipynb"]
GOLDEN_CASES = [("titanic_kale.ipynb", "pvc", "workflow"), ("diamond.ipynb", "artifacts", "template"),
                ("hostile_literal.ipynb", "artifacts", "workflow")]
TASK_NAME = re.compile(r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")
EXPRESSION = re.compile(r"\{\{(.*?)\}\}")


def ok(name):
    RESULTS["passed"] += 1
    print("ok " + name)


def fail(name, why):
    RESULTS["failed"] += 1
    print("FAIL %s: %s" % (name, why))


def check(name, problems):
    """PROBLEMS: a list of strings; none means the check passed."""
    if problems:
        fail(name, "; ".join(problems[:5]) + (" (and %d more)" % (len(problems) - 5) if len(problems) > 5 else ""))
    else:
        ok(name)


# ---- notebooks ------------------------------------------------------------------------

def load_nb(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def write_nb(nb, path):
    with open(path, "w", encoding="utf-8") as f:
        f.write(json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n")


def code_cell(source, tags):
    return {"cell_type": "code", "execution_count": None, "metadata": {"tags": tags} if tags else {},
            "outputs": [], "source": source}


def notebook(cells):
    return {"cells": cells, "nbformat": 4, "nbformat_minor": 5,
            "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
                         "language_info": {"name": "python"}}}


LONG_LABEL = "a" + "b" * 61 + "c"  # 63 characters: the longest label value


def hostile_literal():
    """hostile_tags.ipynb without '{{' (which Argo evaluates): every other hostile
    character stays, and its labels become valid edge cases (labels are refused otherwise)."""
    nb = load_nb(os.path.join(REPO, "fixtures", "hostile_tags.ipynb"))
    for cell in nb["cells"]:
        src = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        cell["source"] = src.replace("{{", "{ {")
        tags = cell.get("metadata", {}).get("tags")
        if not tags:
            continue
        new = []
        for t in tags:
            t = t.replace("{{", "{ {")
            if t.startswith("label:team:"):
                t = "label:team:A.b-c_9"
            elif t.startswith("label:stage:"):
                t = "label:example.com/stage:" + LONG_LABEL
            new.append(t)
        if "block:use" in new:
            new.append("label:empty:")
        cell["metadata"]["tags"] = new
    return nb


def names_notebook():
    """Step names that collide with the DAG template or start with a digit, a non-ASCII
    variable (an artifact name Argo refuses as it is), and numbers the step's int()/float()
    would not read as written."""
    return notebook([
        code_cell("N = 0x1F\nM = - 5\nBIG = 0xFFFF_FFFF_FFFF_FFFF_FFFF\nF = - 1.5e3\nC = 2j\nO = 0o17\n"
                  "B = 0b101\nU = 1_000\n", ["pipeline-parameters"]),
        code_cell("données = N + M + BIG\n", ["block:main"]),
        code_cell("x = données + O + B + U\n", ["block:2nd", "prev:main"]),
        code_cell("w = x + F + C.real\n", ["block:main_2", "prev:2nd"]),
        code_cell("print(w)\n", ["pipeline-metrics"]),
    ])


NAMES_W = 31 - 5 + 0xFFFFFFFFFFFFFFFFFFFF + 0o17 + 0b101 + 1000 - 1.5e3 + 0.0


def refused_notebook():
    """Values Argo or Kubernetes would change in the workflow."""
    return notebook([
        code_cell("T = ~5\nS = '{{=1+1}}'\nD = 'price: $$5'\nE = '$(KUBERNETES_SERVICE_HOST)'\n"
                  "OK = '$(whoami) $ $( $x'\n", ["pipeline-parameters"]),
        code_cell("a = T\n", ["block:one", "image:img:{{x}}"]),
        code_cell("b = a\n", ["block:two", "annotation:note:{{=sprig.b64enc('x')}}"]),
    ])


def bad_tags_notebook():
    """Tags Kubernetes would refuse: the tag reader refuses them for every target."""
    return notebook([
        code_cell("a = 1\n", ["block:one", "limit:cpu:1K", "limit:bad key:1", "annotation:bad key:v",
                              "label:team:has space", "label:long:" + LONG_LABEL + "d"]),
    ])


def kale_tags(nb):
    """step name -> {'limits','annotations','labels','image'} from a Kale-tagged notebook:
    tags of a `block:NAME` cell apply to that step (the fixtures put them there)."""
    steps = {}
    for cell in nb["cells"]:
        tags = cell.get("metadata", {}).get("tags") or []
        block = [t[len("block:"):] for t in tags if t.startswith("block:")]
        if not block:
            continue
        s = steps.setdefault(block[0], {"limits": {}, "annotations": {}, "labels": {}, "image": None})
        for t in tags:
            kind, _, arg = t.partition(":")
            if kind == "limit":
                k, _, v = arg.rpartition(":")
                s["limits"][k] = v
            elif kind in ("annotation", "label"):
                k, _, v = arg.partition(":")
                s[kind + "s"][k] = v
            elif kind == "image":
                s["image"] = arg
    return steps


# ---- running nb2pipe ------------------------------------------------------------------

def case_dir(nb_source, label):
    """A fresh directory holding the notebook (a fixture path or a notebook dict) and
    titanic.csv; returns (dir, notebook file name)."""
    d = tempfile.mkdtemp(prefix=label + "-", dir=WORK)
    if isinstance(nb_source, tuple):
        name, nb = nb_source
        write_nb(nb, os.path.join(d, name))
    else:
        name = os.path.basename(nb_source)
        shutil.copy(os.path.join(REPO, "fixtures", nb_source), d)
    shutil.copy(os.path.join(REPO, "fixtures", "titanic.csv"), d)
    return d, name


def convert(d, name, data, kind, extra=()):
    args = [BINARY, "convert", name, "-o", "out", "--target", "argo", "--argo-data", data,
            "--argo-kind", kind] + list(extra)
    env = dict(os.environ, NO_COLOR="1")
    return subprocess.run(args, cwd=d, capture_output=True, text=True, env=env)


def argo_files(d):
    out = os.path.join(d, "out", "argo")
    return sorted(os.path.join(out, f) for f in os.listdir(out)) if os.path.isdir(out) else []


def validate(path):
    r = subprocess.run([VALIDATOR, path], capture_output=True, text=True)
    return r.returncode, (r.stdout + r.stderr).strip()


# ---- structure checks -----------------------------------------------------------------

def k8s_name(text, limit):
    """nb_k8s_name: ASCII lower-case, other runs of characters as one '-'."""
    text = text.translate({c: c + 32 for c in range(ord("A"), ord("Z") + 1)})
    s = re.sub(r"[^a-z0-9]+", "-", text).strip("-")[:limit].rstrip("-")
    return s or "pipeline"


def argo_name(var):
    return "".join(chr(b) if chr(b).isalnum() and b < 128 or chr(b) == "_" else "-%02x" % b
                   for b in var.encode("utf-8"))


def parse_args(args):
    """The step's command line after the script: flag -> list of values."""
    flags = {}
    it = iter(args[1:])
    for flag in it:
        flags.setdefault(flag, []).append(next(it, None))
    return flags


def pairs(values):
    out = {}
    for v in values or []:
        k, _, val = v.partition("=")
        out[k] = val
    return out


def ancestors(steps):
    anc = {}
    for s in steps:
        a = set()
        for u in s["upstream"]:
            a |= {u} | anc[u]
        anc[s["name"]] = a
    return anc


def strings_in(obj, path=""):
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield path + "." + str(k) + "(key)", k
            yield from strings_in(v, path + "." + str(k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from strings_in(v, "%s[%d]" % (path, i))
    elif isinstance(obj, str):
        yield path, obj


def check_expressions(doc, tasks):
    """Every '{{' in the document is one of nb2pipe's own expressions."""
    problems = []
    wf_params = {p["name"] for p in doc["spec"].get("arguments", {}).get("parameters", [])}
    for path, s in strings_in(doc):
        for expr in EXPRESSION.findall(s):
            m = re.fullmatch(r"workflow\.parameters\.([-A-Za-z0-9_]+)", expr)
            t = re.fullmatch(r"tasks\.([a-z0-9-]+)\.outputs\.artifacts\.([-A-Za-z0-9_]+)", expr)
            if expr == "workflow.name" or (m and m.group(1) in wf_params) or (t and t.group(1) in tasks):
                continue
            problems.append("%s: unexpected expression {{%s}}" % (path, expr))
        if "{{" in EXPRESSION.sub("", s):
            problems.append("%s: stray '{{' in %r" % (path, s))
    return problems


def check_yaml_events(text):
    """No anchors, aliases or explicit tags: values are plain data."""
    problems = []
    for ev in yaml.parse(text):
        if isinstance(ev, yaml.AliasEvent) or getattr(ev, "anchor", None):
            problems.append("anchor or alias in the YAML")
        if getattr(ev, "tag", None) is not None:
            problems.append("explicit tag %s" % ev.tag)
    return problems


def check_structure(doc, manifest, data, kind, opts):
    """The document against the manifest. OPTS: expected 'name', 'image', 'root',
    'tags' (Kale tags per step), 'params' (name -> expected value)."""
    problems = []
    pl = manifest["pipeline"]
    steps = pl["steps"]
    want_kind = "WorkflowTemplate" if kind == "template" else "Workflow"
    if doc.get("apiVersion") != "argoproj.io/v1alpha1" or doc.get("kind") != want_kind:
        problems.append("apiVersion/kind %r/%r" % (doc.get("apiVersion"), doc.get("kind")))
    meta = doc.get("metadata", {})
    if kind == "template" and meta.get("name") != opts["name"]:
        problems.append("metadata.name %r, expected %r" % (meta.get("name"), opts["name"]))
    if kind == "workflow" and meta.get("generateName") != opts["name"] + "-":
        problems.append("metadata.generateName %r" % meta.get("generateName"))
    spec = doc["spec"]
    templates = {t["name"]: t for t in spec["templates"]}
    entry = templates.get(spec.get("entrypoint"), {})
    tasks = entry.get("dag", {}).get("tasks")
    if not tasks:
        return problems + ["entrypoint %r is not a dag template" % spec.get("entrypoint")]

    # parameters with their defaults, in the notebook's order
    got = [(p["name"], p.get("value")) for p in spec.get("arguments", {}).get("parameters", [])]
    want = [(argo_name(p["name"]), opts["params"].get(p["name"], p["default"])) for p in pl["params"]]
    if got != want:
        problems.append("arguments.parameters %r, expected %r" % (got, want))

    # one task per step, in step order, found by the script it runs
    task_step = {}
    if len(tasks) != len(steps):
        problems.append("%d tasks for %d steps" % (len(tasks), len(steps)))
    for task, step in zip(tasks, steps):
        tmpl = templates.get(task.get("template"), {})
        args = tmpl.get("container", {}).get("args", [])
        if not args or args[0] != "steps/%s.py" % step["name"]:
            problems.append("task %r runs %r, expected step %r" % (task["name"], args[:1], step["name"]))
        task_step[task["name"]] = step["name"]
    names = [t["name"] for t in tasks]
    if len(set(names)) != len(names) or not all(TASK_NAME.match(n) for n in names):
        problems.append("task names %r not unique DNS-1123 labels starting with a letter" % names)
    if any(t["template"] != t["name"] for t in tasks) or spec["entrypoint"] in names:
        problems.append("templates are not named after their tasks")
    step_task = {v: k for k, v in task_step.items()}

    anc = ancestors(steps)
    parallel = any(a not in anc[b] and b not in anc[a] for a in anc for b in anc if a < b)
    data_dir = opts["root"] + ("/{{workflow.name}}" if data == "pvc" else "")
    if data == "pvc":
        vcts = spec.get("volumeClaimTemplates", [])
        modes = [v["spec"]["accessModes"] for v in vcts]
        if len(vcts) != 1 or vcts[0]["metadata"]["name"] != "data" or \
                modes[0] != ["ReadWriteMany" if parallel else "ReadWriteOnce"]:
            problems.append("volumeClaimTemplates %r (parallel steps: %s)" % (vcts, parallel))
    elif "volumeClaimTemplates" in spec:
        problems.append("a volume with --argo-data artifacts")

    for task, step in zip(tasks, steps):
        name = step["name"]
        tmpl = templates.get(task["template"], {})
        c = tmpl.get("container", {})
        deps = [task_step.get(d) for d in task.get("dependencies", [])]
        if deps != step["upstream"]:
            problems.append("%s: dependencies %r, upstream %r" % (name, deps, step["upstream"]))
        if c.get("command") != ["python3"]:
            problems.append("%s: command %r" % (name, c.get("command")))
        flags = parse_args(c.get("args", []))
        if flags.get("--data-dir") != [data_dir]:
            problems.append("%s: --data-dir %r" % (name, flags.get("--data-dir")))
        params = pairs(flags.get("--param"))
        want_params = {p: "{{workflow.parameters.%s}}" % argo_name(p) for p in step["params"]}
        if params != want_params or len(flags.get("--param") or []) != len(want_params):
            problems.append("%s: --param %r, expected %r" % (name, params, want_params))
        tags = opts["tags"].get(name, {"limits": {}, "annotations": {}, "labels": {}, "image": None})
        image = tags["image"] or opts["image"]
        if c.get("image") != image:
            problems.append("%s: image %r, expected %r" % (name, c.get("image"), image))
        res = c.get("resources")
        want_res = {"limits": tags["limits"], "requests": tags["limits"]} if tags["limits"] else None
        if res != want_res:
            problems.append("%s: resources %r, expected %r" % (name, res, want_res))
        md = tmpl.get("metadata", {})
        if md.get("annotations", {}) != tags["annotations"] or md.get("labels", {}) != tags["labels"]:
            problems.append("%s: metadata %r, expected annotations %r labels %r"
                            % (name, md, tags["annotations"], tags["labels"]))
        mounts = c.get("volumeMounts")
        if data == "pvc" and mounts != [{"name": "data", "mountPath": opts["root"]}]:
            problems.append("%s: volumeMounts %r" % (name, mounts))
        if data == "artifacts" and mounts:
            problems.append("%s: volumeMounts with artifacts" % name)

        # metrics: --metrics PATH, output parameter `metrics` from PATH
        metrics_path = "%s/%s/metrics.json" % (data_dir, name)
        out_params = tmpl.get("outputs", {}).get("parameters", [])
        if step["metrics"]:
            if flags.get("--metrics") != [metrics_path] or \
                    out_params != [{"name": "metrics", "valueFrom": {"path": metrics_path}}]:
                problems.append("%s: metrics %r / %r" % (name, flags.get("--metrics"), out_params))
        elif "--metrics" in flags or out_params:
            problems.append("%s: metrics without pipeline-metrics" % name)

        # artifacts: inputs from the producing task's outputs, paths = --input/--output
        in_arts = {a["name"]: a["path"] for a in tmpl.get("inputs", {}).get("artifacts", [])}
        out_arts = {a["name"]: a["path"] for a in tmpl.get("outputs", {}).get("artifacts", [])}
        given = {a["name"]: a["from"] for a in task.get("arguments", {}).get("artifacts", [])}
        if data == "pvc":
            if in_arts or out_arts or given or "--input" in flags or "--output" in flags:
                problems.append("%s: artifacts with --argo-data pvc" % name)
            continue
        inputs, outputs = pairs(flags.get("--input")), pairs(flags.get("--output"))
        want_in = {var: "%s/%s/%s.pkl" % (data_dir, prod, var) for var, prod in step["inputs"].items()}
        want_out = {var: "%s/%s/%s.pkl" % (data_dir, name, var) for var in step["outputs"]}
        if inputs != want_in or outputs != want_out:
            problems.append("%s: --input %r --output %r" % (name, inputs, outputs))
        if in_arts != {argo_name(v): p for v, p in want_in.items()}:
            problems.append("%s: input artifacts %r" % (name, in_arts))
        want_out_arts = {argo_name(v): p for v, p in want_out.items()}
        if step["metrics"]:
            want_out_arts["nb2pipe-metrics"] = metrics_path
        if out_arts != want_out_arts:
            problems.append("%s: output artifacts %r, expected %r" % (name, out_arts, want_out_arts))
        for var, prod in step["inputs"].items():
            f = given.get(argo_name(var))
            m = re.fullmatch(r"\{\{tasks\.([^.]+)\.outputs\.artifacts\.(.+)\}\}", f or "")
            producer = templates.get(m.group(1), {}) if m else {}
            if not m or m.group(1) != step_task.get(prod) or m.group(2) not in \
                    {a["name"] for a in producer.get("outputs", {}).get("artifacts", [])}:
                problems.append("%s: input %r from %r, not an artifact of task of step %r" % (name, var, f, prod))
        if set(given) != set(in_arts):
            problems.append("%s: arguments.artifacts %r for inputs %r" % (name, sorted(given), sorted(in_arts)))
    problems += check_expressions(doc, set(names))
    return problems


# ---- running the workflow as Argo would ---------------------------------------------

def substitute(s, params, run_name):
    def one(m):
        expr = m.group(1)
        if expr == "workflow.name":
            return run_name
        return params[expr[len("workflow.parameters."):]]
    return EXPRESSION.sub(one, s)


# what a step's container environment holds when kubelet expands its args: Argo's
# variables and service links (a sample; the real set depends on the namespace)
POD_ENV = {"ARGO_POD_NAME": "wf-step-123", "ARGO_TEMPLATE": "{}", "ARGO_NODE_ID": "wf-123",
           "KUBERNETES_SERVICE_HOST": "10.0.0.1", "KUBERNETES_PORT": "tcp://10.0.0.1:443"}


def kubelet_expand(s, env):
    """Kubernetes' expansion of container args: $$ -> $, $(NAME) -> env[NAME] when set."""
    out, i = [], 0
    while i < len(s):
        if s[i] == "$" and i + 1 < len(s) and s[i + 1] == "$":
            out.append("$")
            i += 2
        elif s.startswith("$(", i) and ")" in s[i + 2:]:
            end = s.index(")", i + 2)
            name = s[i + 2:end]
            out.append(env.get(name, s[i:end + 1]))
            i = end + 1
        else:
            out.append(s[i])
            i += 1
    return "".join(out)


def run_workflow(doc, out_dir, data, root):
    """Runs every task's container command in the pipeline directory (the image's
    WORKDIR), substituting workflow parameters and the workflow's name. With artifacts,
    each task starts from an empty data root holding only its input artifacts, taken from
    what its producers' output artifacts left. Returns (problems, metrics per task)."""
    problems, metrics = [], {}
    spec = doc["spec"]
    params = {p["name"]: p["value"] for p in spec.get("arguments", {}).get("parameters", [])}
    templates = {t["name"]: t for t in spec["templates"]}
    store, done = {}, set()
    env = {k: v for k, v in os.environ.items() if not k.startswith("NB2PIPE_")}
    for task in templates[spec["entrypoint"]]["dag"]["tasks"]:
        if not set(task.get("dependencies", [])) <= done:
            return problems + ["%s runs before its dependencies" % task["name"]], metrics
        tmpl = templates[task["template"]]
        sub = lambda s: substitute(s, params, "run-1")  # noqa: E731
        if data == "artifacts":
            shutil.rmtree(root, ignore_errors=True)
            paths = {a["name"]: sub(a["path"]) for a in tmpl.get("inputs", {}).get("artifacts", [])}
            for a in task.get("arguments", {}).get("artifacts", []):
                m = re.fullmatch(r"\{\{tasks\.([^.]+)\.outputs\.artifacts\.(.+)\}\}", a["from"])
                os.makedirs(os.path.dirname(paths[a["name"]]), exist_ok=True)
                with open(paths[a["name"]], "wb") as f:
                    f.write(store[(m.group(1), m.group(2))])
        c = tmpl["container"]
        cmd = [sys.executable] + [kubelet_expand(sub(a), POD_ENV) for a in c["args"]]
        r = subprocess.run(cmd, cwd=out_dir, capture_output=True, text=True, env=env)
        if r.returncode != 0:
            return problems + ["task %s failed: %s" % (task["name"], r.stderr.strip()[-400:])], metrics
        for a in tmpl.get("outputs", {}).get("artifacts", []):
            path = sub(a["path"])
            if not os.path.exists(path):
                return problems + ["task %s left no %s" % (task["name"], path)], metrics
            with open(path, "rb") as f:
                store[(task["name"], a["name"])] = f.read()
        for p in tmpl.get("outputs", {}).get("parameters", []):
            with open(sub(p["valueFrom"]["path"]), encoding="utf-8") as f:
                metrics[task["name"]] = json.load(f)
        done.add(task["name"])
    return problems, metrics


# ---- the cases ------------------------------------------------------------------------

def convert_and_check(label, nb_source, data, kind, extra=(), opts=None, run=None):
    """Converts, validates, checks the structure and determinism; returns the file's
    text (or None)."""
    opts = dict(opts or {})
    name = "%s [%s, %s]" % (label, data, kind)
    d, nb_name = case_dir(nb_source, "case")
    r = convert(d, nb_name, data, kind, extra)
    files = argo_files(d)
    if r.returncode != 0 or len(files) != 1:
        fail(name + ": convert", "exit %d, files %r: %s" % (r.returncode, files, r.stderr.strip()))
        return None
    path = files[0]
    want_file = opts["name"] + ".yaml"
    if os.path.basename(path) != want_file:
        fail(name + ": file name", "%s, expected argo/%s" % (os.path.basename(path), want_file))
    rc, output = validate(path)
    if rc == 0 and output.endswith(": ok"):
        ok(name + ": validate-argo")
    else:
        fail(name + ": validate-argo", output)
    with open(path, encoding="utf-8") as f:
        text = f.read()
    with open(os.path.join(d, "out", "nb2pipe.lock.json"), encoding="utf-8") as f:
        manifest = json.load(f)
    problems = [] if text.startswith("# Generated by nb2pipe from ") else ["no header line"]
    problems += check_yaml_events(text)
    doc = yaml.safe_load(text)
    opts.setdefault("image", manifest["pipeline"]["name"] + ":latest")
    opts.setdefault("root", "/data")
    opts.setdefault("tags", {})
    opts.setdefault("params", {})
    check(name + ": structure", problems + check_structure(doc, manifest, data, kind, opts))

    d2, _ = case_dir(nb_source, "again")
    convert(d2, nb_name, data, kind, extra)
    again = argo_files(d2)
    same = len(again) == 1 and open(again[0], "rb").read() == text.encode("utf-8")
    check(name + ": deterministic (converted twice, same bytes)", [] if same else ["bytes differ"])

    if run:
        root = os.path.join(d, "data-root")
        r = convert(d, nb_name, data, kind, list(extra) + ["--data-root", root, "--force"])
        files = argo_files(d)
        if r.returncode != 0:
            fail(name + ": run", r.stderr.strip())
        else:
            with open(files[0], encoding="utf-8") as f:
                rdoc = yaml.safe_load(f)
            problems, metrics = run_workflow(rdoc, os.path.join(d, "out"), data, root)
            check(name + ": runs as Argo would run it", problems + run(metrics))
    return text


def golden(case, text):
    path = os.path.join(REPO, "tests", "exports", "golden", "argo", case)
    name = "golden %s" % os.path.relpath(path, os.path.join(REPO, "tests", "exports", "golden"))
    if os.environ.get("NB2PIPE_UPDATE_GOLDEN") == "1":
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8", newline="") as f:
            f.write(text)
        ok(name + " (updated)")
        return
    try:
        with open(path, encoding="utf-8", newline="") as f:
            want = f.read()
    except FileNotFoundError:
        fail(name, "missing (NB2PIPE_UPDATE_GOLDEN=1 writes it)")
        return
    check(name, [] if want == text else ["differs from the generated file"])


def expect_refusal(label, nb_source, data, kind, extra, messages):
    d, nb_name = case_dir(nb_source, "refuse")
    r = convert(d, nb_name, data, kind, extra)
    problems = []
    if r.returncode != 2:
        problems.append("exit %d, expected 2" % r.returncode)
    if os.path.exists(os.path.join(d, "out")):
        problems.append("files were written")
    for m in messages:
        if m not in r.stderr:
            problems.append("no message %r in %r" % (m, r.stderr))
    if "parameter 'OK'" in r.stderr:
        problems.append("'$(whoami) $ $( $x' refused: Kubernetes leaves it alone")
    check("%s [%s, %s]: refused" % (label, data, kind), problems)


def metrics_equal(task, want):
    """A run check: the output parameter `metrics` of TASK equals WANT (None: any
    JSON object with those keys when WANT is a set)."""
    def run_check(metrics):
        got = metrics.get(task)
        good = set(got or ()) == want if isinstance(want, set) else got == want
        return [] if good else ["metrics of task %s: %r, expected %r" % (task, got, want)]
    return run_check


def fixtures(goldens):
    kale = kale_tags(load_nb(os.path.join(REPO, "fixtures", "titanic_kale.ipynb")))
    runs = {("titanic_kale", "workflow"): metrics_equal("evaluate", {"best_accuracy", "best_f1"}),
            ("diamond", "template"): lambda metrics: []}
    for fixture in FIXTURES:
        stem = os.path.basename(fixture)[:-len(".ipynb")]
        for data, kind in MODES:
            opts = {"name": k8s_name(stem, 57), "tags": kale if stem == "titanic_kale" else {}}
            text = convert_and_check(stem, fixture, data, kind, opts=opts, run=runs.get((stem, kind)))
            if (os.path.basename(fixture), data, kind) in GOLDEN_CASES:
                goldens["%s-%s-%s/argo/%s.yaml" % (stem, data, kind, opts["name"])] = text


def hostile(goldens):
    # '{{' is refused, with the value's source named ...
    for data, kind in MODES:
        expect_refusal("hostile_tags", "hostile_tags.ipynb", data, kind, [], [
            "hostile_tags.ipynb:cell 3:1:1: error: parameter 'GREETING': the default value contains '{{'",
            "hostile_tags.ipynb:cell 4: error: step 'prep': the value of annotation 'note' contains '{{'",
            "hostile_tags.ipynb:cell 5: error: step 'use': the value of annotation 'stage' contains '{{'",
            "[bad-value]"])
    # ... and every other hostile character is carried literally, through YAML, Argo's
    # substitution and Kubernetes' expansion of args, into the step
    lit = hostile_literal()
    tags = kale_tags(lit)
    note = tags["prep"]["annotations"].get("note", "")
    check("hostile_literal: the derived notebook still holds the hostile values",
          [] if tags["prep"]["annotations"].get("multi") == "line one\nline two" and
          all(x in note for x in ("'b' \"c\" $(rm -rf /) `id`", "{% raw %} &anchor *alias !!python/object #c: d"))
          and tags["use"]["labels"].get("example.com/stage") == LONG_LABEL else ["fixture changed: %r" % tags])
    greeting = "it's \"quoted\" $(whoami) `id` { { workflow.name }} &a *a #x: y\n"
    sent = json.dumps([greeting] * 3) + "0.5" + "False" + "None"  # what step `use` measures
    for data, kind in MODES:
        text = convert_and_check("hostile_literal", ("hostile_literal.ipynb", lit), data, kind,
                                 opts={"name": "hostile-literal", "tags": tags, "params": {"GREETING": greeting}},
                                 run=metrics_equal("use", {"n": len(sent)}) if kind == "workflow" else None)
        if ("hostile_literal.ipynb", data, kind) in GOLDEN_CASES:
            goldens["hostile_literal-%s-%s/argo/hostile-literal.yaml" % (data, kind)] = text


def names():
    """Reserved and digit-led step names, non-ASCII variables, --name, numbers."""
    want = {"N": "31", "M": "-5", "BIG": str(0xFFFFFFFFFFFFFFFFFFFF), "F": "-1.5e3", "C": "2j", "O": "15",
            "B": "5", "U": "1_000"}
    for data, kind in MODES:
        convert_and_check("names", ("names.ipynb", names_notebook()), data, kind,
                          extra=["--name", "My Pipeline!! {{x}} ünïcode"],
                          opts={"name": "my-pipeline-x-n-code", "params": want},
                          run=metrics_equal("main-2", {"w": NAMES_W}))
    long_name, image = "A_Very-Long " * 10, "reg.example.com/x/y:1 #'\"&a"
    convert_and_check("long --name", "dataflow/diamond.ipynb", "pvc", "workflow",
                      extra=["--name", long_name, "--image", image],
                      opts={"name": k8s_name(long_name, 57), "image": image})


def refusals():
    expect_refusal("bad values", ("bad.ipynb", refused_notebook()), "pvc", "workflow", [], [
        "bad.ipynb:cell 1:1:1: error: parameter 'T': default '~5' cannot be passed as text",
        "bad.ipynb:cell 1:2:1: error: parameter 'S': the default value contains '{{'",
        "bad.ipynb:cell 1:3:1: error: parameter 'D': the default value contains '$$' or '$(NAME)'",
        "bad.ipynb:cell 1:4:1: error: parameter 'E': the default value contains '$$' or '$(NAME)'",
        "bad.ipynb:cell 2: error: step 'one': tag 'image:img:{{x}}' contains '{{'",
        "bad.ipynb:cell 3: error: step 'two': the value of annotation 'note' contains '{{'"])
    expect_refusal("bad tags", ("tags.ipynb", bad_tags_notebook()), "pvc", "workflow", [], [
        "tags.ipynb:cell 1: error: tag 'limit:cpu:1K' has a quantity",
        "tags.ipynb:cell 1: error: tag 'limit:bad key:1' names a resource that is not a Kubernetes key",
        "tags.ipynb:cell 1: error: tag 'annotation:bad key:v' has a key that is not a Kubernetes key",
        "tags.ipynb:cell 1: error: tag 'label:team:has space' has a value Kubernetes does not accept",
        "tags.ipynb:cell 1: error: tag 'label:long:%s' has a value Kubernetes does not accept"
        % (LONG_LABEL + "d"), "[bad-tag]"])
    mount = "cannot be a volume's mount point"
    for flag, value, message in [
            ("--image", "reg/img:{{workflow.name}}", "contains '{{'"),
            ("--data-root", "/d/{{=x}}", "contains '{{'"),
            ("--data-root", "/d/$(ARGO_POD_NAME)", "contains '$$' or '$(NAME)'"),
            ("--data-root", "relative/dir", mount),
            ("--data-root", "/", mount),
            ("--data-root", "/a:b", mount)]:
        expect_refusal("%s %s" % (flag, value), "dataflow/diamond.ipynb", "artifacts", "workflow",
                       [flag, value], ["%s '%s' %s" % (flag, value, message)])


def main(argv):
    global BINARY, REPO, SHARED, VALIDATOR, WORK
    if len(argv) != 4:
        sys.stderr.write(__doc__)
        return 2
    BINARY, REPO, SHARED = os.path.abspath(argv[1]), os.path.abspath(argv[2]), os.path.abspath(argv[3])
    VALIDATOR = os.path.join(SHARED, "tools", "validate-argo")
    if not os.access(VALIDATOR, os.X_OK):
        print("skip: %s is missing" % VALIDATOR)
        return 77
    if yaml is None:
        print("skip: PyYAML (python3-yaml) is missing")
        return 77
    WORK = tempfile.mkdtemp(prefix="nb2pipe-argo-")
    goldens = {}
    try:
        fixtures(goldens)
        hostile(goldens)
        names()
        refusals()
        for case, text in sorted(goldens.items()):
            if text is not None:
                golden(case, text)
    finally:
        shutil.rmtree(WORK, ignore_errors=True)
    print("argo export: %d passed, %d failed" % (RESULTS["passed"], RESULTS["failed"]))
    return 1 if RESULTS["failed"] else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
