#!/usr/bin/python3
"""`nb2pipe convert --target kfp`: the Kubeflow Pipelines v2 spec it writes.

usage: check_kfp.py NB2PIPE_BINARY REPO_ROOT SHARED_DIR

For each fixture (and option set) it converts a copy in a temporary directory and checks
kfp/NAME.yaml:
- the PipelineSpec parses into ml_pipelines.PipelineSpec (pipeline_spec.proto from
  SHARED_DIR/reference/kfp, compiled with protoc) with json_format.ParseDict and
  ignore_unknown_fields=False; its deploymentSpec (a Struct in PipelineSpec) into
  PipelineDeploymentConfig; the second document, when there is one, into PlatformSpec,
  and each executor's config into kfp_kubernetes.KubernetesExecutorConfig (the
  PodMetadata part of kubernetes_executor_config.proto, written below);
- the same top-level keys as the SDK-compiled examples, and keys they use below;
- every reference resolves (componentRef, executorLabel, producerTask, outputArtifactKey,
  componentInputParameter, placeholders in args), dependentTasks are the manifest's
  upstream, data, parameters (types, defaults), metrics, image, resources, annotations
  and labels are what the notebook says;
- names are valid for KFP and one per step; hostile values stay literal (or, with
  "{{", are refused); the same conversion twice gives the same bytes;
- the steps run as KFP would run them (placeholders replaced by the launcher's rules);
- golden copies (NB2PIPE_UPDATE_GOLDEN=1 rewrites them).

Prints `ok ...` or `FAIL ...: why` per check and a summary; exit 1 on failure, 77 when
protoc, python3-protobuf or python3-yaml is missing, or the KFP reference files
(SHARED_DIR/reference/kfp) are absent.
"""
import ast
import decimal
import json
import os
import pickle
import re
import shutil
import subprocess
import sys
import tempfile

try:
    import yaml
    from google.protobuf import json_format
except ImportError as e:
    print(f"skipped: {e} (apt-get install python3-yaml python3-protobuf)")
    sys.exit(77)
if not shutil.which("protoc"):
    print("skipped: protoc not found (apt-get install protobuf-compiler)")
    sys.exit(77)

BINARY, REPO, SHARED = (os.path.abspath(a) for a in sys.argv[1:4])
# KFP's own proto and example specs come from the shared reference files, which a clone
# of the project alone does not have
for needed in ("pipeline_spec.proto", "examples"):
    if not os.path.exists(os.path.join(SHARED, "reference", "kfp", needed)):
        print(f"skipped: {os.path.join(SHARED, 'reference', 'kfp', needed)} not found "
              "(the KFP reference files beside the checkout, in ../shared)")
        sys.exit(77)
FIXTURES = os.path.join(REPO, "fixtures")
GOLDEN = os.path.join(REPO, "tests", "exports", "golden", "kfp")
UPDATE = os.environ.get("NB2PIPE_UPDATE_GOLDEN") == "1"
TMP = tempfile.mkdtemp(prefix="nb2pipe-kfp-")
RESULTS = {"ok": 0, "fail": 0}

# google/rpc/status.proto, which pipeline_spec.proto imports (googleapis; not in Debian's
# protobuf packages): the same message.
STATUS_PROTO = """syntax = "proto3";
package google.rpc;
import "google/protobuf/any.proto";
message Status {
  int32 code = 1;
  string message = 2;
  repeated google.protobuf.Any details = 3;
}
"""
# The pod metadata part of kfp's kubernetes_platform/proto/kubernetes_executor_config.proto
# (same package, field numbers and names): the only platform config nb2pipe writes, so
# anything else in an executor's config fails to parse.
K8S_PROTO = """syntax = "proto3";
package kfp_kubernetes;
message KubernetesExecutorConfig {
  PodMetadata pod_metadata = 5;
}
message PodMetadata {
  map<string, string> labels = 1;
  map<string, string> annotations = 2;
}
"""


def compile_protos():
    src, gen = os.path.join(TMP, "protos"), os.path.join(TMP, "gen")
    os.makedirs(os.path.join(src, "google", "rpc"))
    os.makedirs(gen)
    shutil.copy(os.path.join(SHARED, "reference", "kfp", "pipeline_spec.proto"), src)
    with open(os.path.join(src, "google", "rpc", "status.proto"), "w") as f:
        f.write(STATUS_PROTO)
    with open(os.path.join(src, "kubernetes_executor_config_subset.proto"), "w") as f:
        f.write(K8S_PROTO)
    includes = ["-I", src] + (["-I", "/usr/include"] if os.path.isdir("/usr/include/google/protobuf") else [])
    r = subprocess.run(["protoc"] + includes + ["--python_out", gen, "pipeline_spec.proto",
                        "google/rpc/status.proto", "kubernetes_executor_config_subset.proto"],
                       capture_output=True, text=True)
    if r.returncode != 0:
        print(f"FAIL protoc: {r.stderr.strip()}")
        sys.exit(1)
    sys.path.insert(0, gen)
    import pipeline_spec_pb2
    import kubernetes_executor_config_subset_pb2
    return pipeline_spec_pb2, kubernetes_executor_config_subset_pb2


PB, K8S = compile_protos()


def report(name, error):
    if error is None:
        RESULTS["ok"] += 1
        print(f"ok {name}")
    else:
        RESULTS["fail"] += 1
        print(f"FAIL {name}: {error}")


def check(name, fn, *args):
    try:
        fn(*args)
    except AssertionError as e:
        report(name, str(e) or "assertion failed")
    except Exception as e:  # a crash in a check is a failure of that check
        report(name, f"{type(e).__name__}: {e}")
    else:
        report(name, None)


# ---- conversions ------------------------------------------------------------------------

def workdir(case, notebook, edit=None, folder=None):
    """A fresh directory (FOLDER, default CASE) holding the notebook (renamed CASE.ipynb
    when EDIT changes it) and titanic.csv."""
    work = os.path.join(TMP, folder or case)
    os.makedirs(work)
    shutil.copy(os.path.join(FIXTURES, "titanic.csv"), work)
    name = os.path.basename(notebook)
    if edit:
        with open(notebook, encoding="utf-8") as f:
            nb = edit(json.load(f))
        name = case + ".ipynb"
        with open(os.path.join(work, name), "w", encoding="utf-8") as f:
            f.write(json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n")
    else:
        shutil.copy(notebook, work)
    return work, name


def convert(work, name, options, out="out"):
    env = dict(os.environ, NO_COLOR="1")
    return subprocess.run([BINARY, "convert", name, "-o", out, "--target", "kfp"] + options,
                          cwd=work, capture_output=True, text=True, env=env)


def kfp_file(out):
    files = os.listdir(os.path.join(out, "kfp"))
    assert len(files) == 1 and files[0].endswith(".yaml"), f"kfp/ holds {files}"
    return os.path.join(out, "kfp", files[0])


# ---- what the notebook says ---------------------------------------------------------------

def step_name(block):
    return re.sub(r"[^a-z0-9_]", "_", block.lower())


def notebook_tags(path):
    """step -> {limits, annotations, labels, image} from Kale tags (block: cells and the
    untagged cells after them)."""
    with open(path, encoding="utf-8") as f:
        nb = json.load(f)
    steps, current = {}, None
    for cell in nb["cells"]:
        tags = cell.get("metadata", {}).get("tags", [])
        for t in tags:
            if t.startswith(("block:", "step:")) and t.split(":", 1)[1]:
                current = step_name(t.split(":", 1)[1])
        if current is None:
            continue
        info = steps.setdefault(current, {"limits": {}, "annotations": {}, "labels": {}, "image": None})
        for t in tags:
            kind, _, arg = t.partition(":")
            if kind == "limit":
                resource, _, qty = arg.rpartition(":")
                info["limits"][resource] = qty
            elif kind in ("annotation", "label"):
                k, _, v = arg.partition(":")
                info[kind + "s"][k] = v
            elif kind == "image":
                info["image"] = arg
    return steps


# ---- checks on one generated file ------------------------------------------------------------

def load_examples():
    docs = {}
    folder = os.path.join(SHARED, "reference", "kfp", "examples")
    for name in sorted(os.listdir(folder)):
        with open(os.path.join(folder, name), encoding="utf-8") as f:
            docs[name] = list(yaml.safe_load_all(f))
    return docs


EXAMPLES = load_examples()


def example_keys(path):
    """Union of the keys found at PATH ('*' = any key) in the examples' PipelineSpecs."""
    keys = set()
    for docs in EXAMPLES.values():
        nodes = [docs[0]]
        for part in path:
            nodes = [v for n in nodes if isinstance(n, dict)
                     for k, v in n.items() if part == "*" or k == part]
        for n in nodes:
            if isinstance(n, dict):
                keys |= set(n)
    return keys


def parse_docs(path):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    assert text.startswith("# Generated by nb2pipe from "), "no nb2pipe header line"
    for event in yaml.parse(text):
        assert not isinstance(event, yaml.AliasEvent), "an alias in the YAML"
        assert getattr(event, "anchor", None) is None, "an anchor in the YAML"
        tag = getattr(event, "tag", None)
        assert tag is None or tag.startswith("tag:yaml.org,2002:"), f"tag {tag} in the YAML"
    docs = list(yaml.safe_load_all(text))
    assert 1 <= len(docs) <= 2, f"{len(docs)} YAML documents"
    return text, docs


def check_proto(spec, platform):
    json_format.ParseDict(spec, PB.PipelineSpec(), ignore_unknown_fields=False)
    json_format.ParseDict(spec["deploymentSpec"], PB.PipelineDeploymentConfig(),
                          ignore_unknown_fields=False)
    if platform is not None:
        json_format.ParseDict(platform, PB.PlatformSpec(), ignore_unknown_fields=False)
        executors = platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
        for label, config in executors.items():
            assert label in spec["deploymentSpec"]["executors"], f"platform executor {label} unknown"
            json_format.ParseDict(config, K8S.KubernetesExecutorConfig(), ignore_unknown_fields=False)


def check_shape(spec, platform):
    top = set(EXAMPLES["two_step_pipeline_containerized.yaml"][0])
    for name, docs in EXAMPLES.items():
        assert set(docs[0]) == top, f"examples disagree: {name}"
    assert set(spec) == top, f"top-level keys {sorted(spec)} != examples' {sorted(top)}"
    assert spec["schemaVersion"] == "2.1.0", spec["schemaVersion"]
    assert re.fullmatch(r"nb2pipe-\d+\.\d+\.\d+", spec["sdkVersion"]), spec["sdkVersion"]
    for path, found in ((("root",), [spec["root"]]),
                        (("root", "dag", "tasks", "*"), list(spec["root"]["dag"]["tasks"].values())),
                        (("components", "*"), list(spec["components"].values())),
                        (("deploymentSpec", "executors", "*", "container"),
                         [e["container"] for e in spec["deploymentSpec"]["executors"].values()])):
        allowed = example_keys(path) | ({"resources"} if path[-1] == "container" else set())
        for node in found:
            assert set(node) <= allowed, f"keys {sorted(set(node) - allowed)} at {'/'.join(path)} not in the examples"
    if platform is not None:
        second = EXAMPLES["pvc_mount.yaml"][1]
        assert set(platform) == set(second), f"platform spec keys {sorted(platform)}"
        assert set(platform["platforms"]) == {"kubernetes"}
        assert set(platform["platforms"]["kubernetes"]) == set(second["platforms"]["kubernetes"])


PLACEHOLDER = re.compile(r"\{\{\$\.(inputs|outputs)\.(artifacts|parameters)\['([^']*)'\](\.path)?\}\}")


def step_of_tasks(spec):
    """task -> step, through componentRef, executorLabel and the script in args[0]."""
    tasks = {}
    for task, t in spec["root"]["dag"]["tasks"].items():
        comp = spec["components"][t["componentRef"]["name"]]
        container = spec["deploymentSpec"]["executors"][comp["executorLabel"]]["container"]
        m = re.fullmatch(r"steps/([a-z0-9_]+)\.py", container["args"][0])
        assert m, f"task {task}: first argument {container['args'][0]!r}"
        tasks[task] = m.group(1)
    return tasks


def check_references(spec):
    tasks = spec["root"]["dag"]["tasks"]
    comps = spec["components"]
    executors = spec["deploymentSpec"]["executors"]
    root_params = spec["root"].get("inputDefinitions", {}).get("parameters", {})
    assert set(tasks), "no tasks"
    used_comps = set()
    for name, t in tasks.items():
        assert t["taskInfo"]["name"] == name, f"task {name}: taskInfo.name {t['taskInfo']['name']}"
        ref = t["componentRef"]["name"]
        assert ref in comps, f"task {name}: componentRef {ref} is no component"
        used_comps.add(ref)
        comp = comps[ref]
        assert comp["executorLabel"] in executors, f"component {ref}: executor {comp['executorLabel']} missing"
        deps = t.get("dependentTasks", [])
        assert len(deps) == len(set(deps)) and all(d in tasks for d in deps), f"task {name}: dependentTasks {deps}"
        defs = comp.get("inputDefinitions", {})
        wired = t.get("inputs", {})
        for art, spec_in in wired.get("artifacts", {}).items():
            src = spec_in["taskOutputArtifact"]
            producer, key = src["producerTask"], src["outputArtifactKey"]
            assert producer in deps, f"task {name}: producer {producer} not in dependentTasks"
            outs = comps[tasks[producer]["componentRef"]["name"]].get("outputDefinitions", {}).get("artifacts", {})
            assert key in outs, f"task {name}: {producer} has no output artifact {key}"
            assert outs[key]["artifactType"] == defs["artifacts"][art]["artifactType"], f"{name}.{art}: types differ"
        for param, spec_in in wired.get("parameters", {}).items():
            src = spec_in["componentInputParameter"]
            assert src in root_params, f"task {name}: {src} is no pipeline parameter"
            assert defs["parameters"][param]["parameterType"] == root_params[src]["parameterType"], \
                f"task {name}: parameter {param} type differs from the pipeline's"
        for kind in ("artifacts", "parameters"):
            assert set(defs.get(kind, {})) == set(wired.get(kind, {})), \
                f"task {name}: {kind} defined {sorted(defs.get(kind, {}))} but wired {sorted(wired.get(kind, {}))}"
        outs = comp.get("outputDefinitions", {})
        container = executors[comp["executorLabel"]]["container"]
        used = set()
        for arg in container["args"]:
            for direction, kind, key, path in PLACEHOLDER.findall(arg):
                table = (defs if direction == "inputs" else outs).get(kind, {})
                assert key in table, f"task {name}: {arg!r} names no {direction} {kind} {key}"
                assert (kind == "artifacts") == bool(path), f"task {name}: {arg!r}"
                used.add((direction, kind, key))
            assert "{{" not in PLACEHOLDER.sub("", arg), f"task {name}: stray '{{{{' in {arg!r}"
        declared = {("inputs", k, n) for k in ("artifacts", "parameters") for n in defs.get(k, {})}
        declared |= {("outputs", "artifacts", n) for n in outs.get("artifacts", {})}
        assert used == declared, f"task {name}: placeholders {sorted(used ^ declared)} unmatched"
    assert used_comps == set(comps), f"unused components {sorted(set(comps) - used_comps)}"
    assert {c["executorLabel"] for c in comps.values()} == set(executors), "executors without components"


def check_names(spec, expected_pipeline_name):
    assert re.fullmatch(r"[a-z0-9][a-z0-9-]{0,127}", spec["pipelineInfo"]["name"]), spec["pipelineInfo"]
    if expected_pipeline_name:
        assert spec["pipelineInfo"]["name"] == expected_pipeline_name, spec["pipelineInfo"]["name"]
    tasks = spec["root"]["dag"]["tasks"]
    for task, t in tasks.items():
        assert re.fullmatch(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?", task), f"task name {task!r}"
        assert t["componentRef"]["name"] == "comp-" + task, t["componentRef"]
        assert spec["components"]["comp-" + task]["executorLabel"] == "exec-" + task
    steps = step_of_tasks(spec)
    assert len(set(steps.values())) == len(steps), f"two tasks run one step: {steps}"
    for comp in spec["components"].values():
        for side in ("inputDefinitions", "outputDefinitions"):
            for kind in ("artifacts", "parameters"):
                for key in comp.get(side, {}).get(kind, {}):
                    assert re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*|pipeline-metrics", key), f"key {key!r}"


def go_format(value):
    """A parameter value as KFP's launcher puts it into arguments (strconv.FormatFloat
    'f' -1 for numbers, strconv.FormatBool)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        d = decimal.Decimal(repr(float(value)))
        text = format(d, "f")
        return text.rstrip("0").rstrip(".") if "." in text else text
    return value


KFP_TYPES = {"string": "STRING", "int": "NUMBER_INTEGER", "float": "NUMBER_DOUBLE",
             "bool": "BOOLEAN", "none": "STRING"}


def typed_default(param):
    text = param["default"]
    return {"int": lambda: ast.literal_eval(text), "float": lambda: ast.literal_eval(text),
            "bool": lambda: text == "True", "none": lambda: "None"}.get(param["type"], lambda: text)()


def check_manifest(spec, manifest):
    steps = {s["name"]: s for s in manifest["pipeline"]["steps"]}
    task_of = {step: task for task, step in step_of_tasks(spec).items()}
    assert set(task_of) == set(steps), f"steps {sorted(steps)} but tasks run {sorted(task_of)}"
    root_params = spec["root"].get("inputDefinitions", {}).get("parameters", {})
    params = {p["name"]: p for p in manifest["pipeline"]["params"]}
    assert set(root_params) == set(params), f"pipeline parameters {sorted(root_params)} != {sorted(params)}"
    for name, p in params.items():
        rp = root_params[name]
        assert rp["parameterType"] == KFP_TYPES[p["type"]], f"{name}: {rp['parameterType']}"
        want = typed_default(p)
        assert rp["defaultValue"] == want and type(rp["defaultValue"]) is type(want), \
            f"{name}: default {rp['defaultValue']!r}, notebook {want!r}"
    for name, s in steps.items():
        task = spec["root"]["dag"]["tasks"][task_of[name]]
        comp = spec["components"][task["componentRef"]["name"]]
        args = spec["deploymentSpec"]["executors"][comp["executorLabel"]]["container"]["args"]
        assert task.get("dependentTasks", []) == [task_of[u] for u in s["upstream"]], \
            f"{name}: dependentTasks {task.get('dependentTasks')} != upstream {s['upstream']}"
        arts = task.get("inputs", {}).get("artifacts", {})
        assert set(arts) == set(s["inputs"]), f"{name}: input artifacts {sorted(arts)} != {sorted(s['inputs'])}"
        for var, producer in s["inputs"].items():
            src = arts[var]["taskOutputArtifact"]
            assert src == {"producerTask": task_of[producer], "outputArtifactKey": var}, f"{name}.{var}: {src}"
            assert comp["inputDefinitions"]["artifacts"][var]["artifactType"]["schemaTitle"] == "system.Dataset"
        outs = comp.get("outputDefinitions", {}).get("artifacts", {})
        want_outs = set(s["outputs"]) | ({"pipeline-metrics"} if s["metrics"] else set())
        assert set(outs) == want_outs, f"{name}: outputs {sorted(outs)} != {sorted(want_outs)}"
        for var in s["outputs"]:
            assert outs[var]["artifactType"]["schemaTitle"] == "system.Dataset", f"{name}.{var}"
        wired = task.get("inputs", {}).get("parameters", {})
        assert set(wired) == set(s["params"]), f"{name}: parameters {sorted(wired)} != {sorted(s['params'])}"
        for p in s["params"]:
            assert wired[p] == {"componentInputParameter": p}, f"{name}.{p}: {wired[p]}"
        want_args = [f"steps/{name}.py"]
        want_args += [a for p in sorted(s["params"]) for a in ("--param", f"{p}={{{{$.inputs.parameters['{p}']}}}}")]
        want_args += [a for v in sorted(s["inputs"]) for a in ("--input", f"{v}={{{{$.inputs.artifacts['{v}'].path}}}}")]
        want_args += [a for v in sorted(s["outputs"]) for a in ("--output", f"{v}={{{{$.outputs.artifacts['{v}'].path}}}}")]
        if s["metrics"]:
            assert outs["pipeline-metrics"]["artifactType"]["schemaTitle"] == "system.Metrics"
            want_args += ["--metrics", "{{$.outputs.artifacts['pipeline-metrics'].path}}"]
        assert args == want_args, f"{name}: args {args} != {want_args}"


def check_tags(spec, platform, manifest, tags, image):
    steps = {step: task for task, step in step_of_tasks(spec).items()}
    executors = spec["deploymentSpec"]["executors"]
    pods = (platform or {}).get("platforms", {}).get("kubernetes", {}).get("deploymentSpec", {}).get("executors", {})
    for step in (s["name"] for s in manifest["pipeline"]["steps"]):
        info = tags.get(step, {"limits": {}, "annotations": {}, "labels": {}, "image": None})
        exec_label = "exec-" + steps[step]
        container = executors[exec_label]["container"]
        assert container["command"] == ["python3"], f"{step}: command {container['command']}"
        want_image = info["image"] or image
        assert container["image"] == want_image, f"{step}: image {container['image']!r} != {want_image!r}"
        limits = info["limits"]
        res = container.get("resources")
        if not limits:
            assert res is None, f"{step}: resources {res} without limit: tags"
        else:
            want = {}
            if "cpu" in limits:
                q = limits["cpu"]
                want["resourceCpuLimit"] = q
                want["cpuLimit"] = float(q[:-1]) / 1000 if q.endswith("m") else float(q)
            if "memory" in limits:
                q = limits["memory"]
                units = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "K": 1e3, "M": 1e6, "G": 1e9}
                unit = next((u for u in units if q.endswith(u)), "")
                want["resourceMemoryLimit"] = q
                want["memoryLimit"] = float(q[:len(q) - len(unit)]) * units.get(unit, 1) / 1e9
            others = {k: v for k, v in limits.items() if k not in ("cpu", "memory")}
            if others:
                (kind, count), = others.items()
                want["accelerator"] = {"resourceType": kind, "resourceCount": count, "type": kind,
                                       "count": int(count)}
            assert res == want, f"{step}: resources {res} != {want}"
        meta = {k: v for k, v in (("annotations", info["annotations"]), ("labels", info["labels"])) if v}
        if meta:
            assert pods.get(exec_label) == {"podMetadata": meta}, f"{step}: pod metadata {pods.get(exec_label)} != {meta}"
        else:
            assert exec_label not in pods, f"{step}: pod metadata without tags"


def run_like_kfp(spec, out, manifest):
    """Runs the tasks in dependency order from OUT (the image's working directory) with
    the placeholders replaced as KFP's launcher does (plain string replacement of each
    placeholder; artifact paths are local files)."""
    tasks = spec["root"]["dag"]["tasks"]
    root_params = spec["root"].get("inputDefinitions", {}).get("parameters", {})
    done, paths = [], {}
    art_root = os.path.join(os.path.dirname(out), "kfp-artifacts")
    while len(done) < len(tasks):
        ready = [t for t in sorted(tasks) if t not in done and all(d in done for d in tasks[t].get("dependentTasks", []))]
        assert ready, "dependentTasks have a cycle"
        name = ready[0]
        t = tasks[name]
        comp = spec["components"][t["componentRef"]["name"]]
        container = spec["deploymentSpec"]["executors"][comp["executorLabel"]]["container"]
        values = {}
        for key, src in t.get("inputs", {}).get("parameters", {}).items():
            values[f"{{{{$.inputs.parameters['{key}']}}}}"] = go_format(root_params[src["componentInputParameter"]]["defaultValue"])
        for key, src in t.get("inputs", {}).get("artifacts", {}).items():
            src = src["taskOutputArtifact"]
            values[f"{{{{$.inputs.artifacts['{key}'].path}}}}"] = paths[(src["producerTask"], src["outputArtifactKey"])]
        for key in comp.get("outputDefinitions", {}).get("artifacts", {}):
            path = os.path.join(art_root, name, key)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            paths[(name, key)] = path
            values[f"{{{{$.outputs.artifacts['{key}'].path}}}}"] = path
        args = []
        for arg in container["args"]:
            for placeholder, value in values.items():
                arg = arg.replace(placeholder, value)
            args.append(arg)
        assert container["command"] == ["python3"]
        env = dict(os.environ, MPLBACKEND="Agg", PYTHONDONTWRITEBYTECODE="1")
        r = subprocess.run([sys.executable] + args, cwd=out, capture_output=True, text=True, env=env)
        assert r.returncode == 0, f"task {name} failed: {r.stderr[-800:]}"
        for key in comp.get("outputDefinitions", {}).get("artifacts", {}):
            assert os.path.isfile(paths[(name, key)]), f"task {name} wrote no {key}"
        done.append(name)
    for s in manifest["pipeline"]["steps"]:
        if s["metrics"]:
            task = next(t for t, step in step_of_tasks(spec).items() if step == s["name"])
            with open(paths[(task, "pipeline-metrics")], encoding="utf-8") as f:
                metrics = json.load(f)
            assert set(s["metrics"]) <= set(metrics), f"metrics {metrics} lack {s['metrics']}"
    return paths


def check_golden(case, path):
    rel = os.path.relpath(path, os.path.dirname(os.path.dirname(path)))
    golden = os.path.join(GOLDEN, case, rel)
    with open(path, "rb") as f:
        data = f.read()
    if UPDATE:
        if os.path.isdir(os.path.join(GOLDEN, case)):
            shutil.rmtree(os.path.join(GOLDEN, case))
        os.makedirs(os.path.dirname(golden))
        with open(golden, "wb") as f:
            f.write(data)
        return
    assert os.path.isfile(golden), f"no golden {os.path.relpath(golden, REPO)} (NB2PIPE_UPDATE_GOLDEN=1 writes it)"
    with open(golden, "rb") as f:
        assert f.read() == data, f"differs from {os.path.relpath(golden, REPO)}"


# ---- cases ------------------------------------------------------------------------------

def break_braces(nb):
    """The hostile notebook with every '{{' and '}}' split: what kfp refuses removed,
    everything else (quotes, newlines, $(...), anchors, '#', ': ') kept."""
    def walk(v):
        if isinstance(v, str):
            return v.replace("{{", "{ {").replace("}}", "} }")
        if isinstance(v, list):
            return [walk(x) for x in v]
        if isinstance(v, dict):
            return {k: walk(x) for k, x in v.items()}
        return v
    return walk(nb)


def one_step_notebook(params):
    """A notebook with a pipeline-parameters cell PARAMS and one step reading them all."""
    names = [line.split("=")[0].strip() for line in params.splitlines()]
    cells = [{"cell_type": "code", "execution_count": None, "id": "params",
              "metadata": {"tags": ["pipeline-parameters"]}, "outputs": [], "source": [params]},
             {"cell_type": "code", "execution_count": None, "id": "use", "metadata": {"tags": ["block:use"]},
              "outputs": [], "source": [f"print({', '.join(names)})\n"]}]
    return {"cells": cells, "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python",
                                                       "name": "python3"},
                                        "language_info": {"name": "python"}},
            "nbformat": 4, "nbformat_minor": 5}


# Python number literals as KFP numbers: base prefixes, underscores, a blank after the
# sign, a missing digit before or after the dot, exponents, 2^53.
NUMBERS = ("A = 0x1F\nB = 1_000\nC = - 5\nD = .5\nE = 5.\nF = 1e5\nG = -1.5E-3\n"
           "H = 9007199254740992\nK = 0.0\nL = 007.50\nM = True\nN = None\n")


def names_notebook(_):
    """Step names that KFP spells differently: capitals, '-', a leading digit, a keyword,
    an identifier-like name with capitals, non-ASCII, a long name."""
    blocks = ["Load-Data", "2nd pass", "class", "X_test", "Ünïcode Step", "A" * 30 + "_" + "b" * 30]
    cells, prev = [], None
    for i, block in enumerate(blocks):
        src = f"v{i} = 1\n" if prev is None else f"v{i} = {prev} + 1\n"
        cells.append({"cell_type": "code", "execution_count": None, "id": f"c{i}",
                      "metadata": {"tags": [f"block:{block}"]}, "outputs": [], "source": [src]})
        prev = f"v{i}"
    cells.append({"cell_type": "code", "execution_count": None, "id": "end", "metadata": {},
                  "outputs": [], "source": [f"print({prev})\n"]})
    return {"cells": cells, "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python",
                                                       "name": "python3"},
                                        "language_info": {"name": "python"}},
            "nbformat": 4, "nbformat_minor": 5}


CASES = [
    # case, notebook, options, expected pipelineInfo.name, image, golden, run
    ("titanic", "titanic.ipynb", [], "titanic", None, False, False),
    ("titanic_kale", "titanic_kale.ipynb", [], "titanic-kale", None, True, True),
    ("titanic_kale_named", "titanic_kale.ipynb",
     ["--name", "Titanic: Kale Demo!", "--image", "registry.example.com/ml/titanic:1.2"],
     "titanic-kale-demo", "registry.example.com/ml/titanic:1.2", False, False),
    ("titanic_untagged", "titanic_untagged.ipynb", [], "titanic-untagged", None, False, False),
    ("diamond", "dataflow/diamond.ipynb", ["--name", "Diamond DAG", "--image", "registry.example.com/team/diamond:2"],
     "diamond-dag", "registry.example.com/team/diamond:2", True, True),
    ("hostile_nobraces", "hostile_tags.ipynb", [], "hostile-nobraces", None, True, True),
    ("names", None, ["--name", "My Pipeline: v2 (test)!"], "my-pipeline-v2-test", None, False, False),
    ("numbers", None, [], "numbers", None, False, True),
]
EDITS = {"hostile_nobraces": break_braces, "names": names_notebook,
         "numbers": lambda _: one_step_notebook(NUMBERS)}


def run_case(case, notebook, options, pipeline_name, image, golden, run):
    edit = EDITS.get(case)
    source = os.path.join(FIXTURES, notebook) if notebook else os.path.join(FIXTURES, "titanic.ipynb")
    work, name = workdir(case, source, edit)
    r = convert(work, name, options)
    report(f"{case}: convert exits 0", None if r.returncode == 0 else f"exit {r.returncode}: {r.stderr.strip()}")
    if r.returncode != 0:
        return
    out = os.path.join(work, "out")
    with open(os.path.join(out, "nb2pipe.lock.json"), encoding="utf-8") as f:
        manifest = json.load(f)
    path = kfp_file(out)
    text, docs = parse_docs(path)
    spec, platform = docs[0], docs[1] if len(docs) > 1 else None
    def file_name():
        assert os.path.basename(path) == spec["pipelineInfo"]["name"] + ".yaml", os.path.basename(path)
    check(f"{case}: file is kfp/<pipelineInfo.name>.yaml", file_name)
    check(f"{case}: parses as PipelineSpec/PipelineDeploymentConfig/PlatformSpec (protobuf, no unknown fields)",
          check_proto, spec, platform)
    check(f"{case}: same structure as the SDK-compiled examples", check_shape, spec, platform)
    check(f"{case}: references resolve (componentRef, executorLabel, producerTask, parameters, placeholders)",
          check_references, spec)
    check(f"{case}: names valid for KFP, one task per step", check_names, spec, pipeline_name)
    check(f"{case}: tasks, edges, data, parameters and metrics match the manifest", check_manifest, spec, manifest)
    want_image = image or manifest["pipeline"]["name"] + ":latest"
    check(f"{case}: image, resources, annotations and labels from the tags",
          check_tags, spec, platform, manifest, notebook_tags(os.path.join(work, name)), want_image)

    def deterministic():
        work2, name2 = workdir(case, source, edit, folder=case + "-again")
        again = convert(work2, name2, options)
        assert again.returncode == 0, again.stderr
        with open(kfp_file(os.path.join(work2, "out")), encoding="utf-8") as f:
            assert f.read() == text, "second conversion differs"
    check(f"{case}: deterministic (converted twice)", deterministic)
    if case == "hostile_nobraces":
        check(f"{case}: hostile values literal", check_hostile, spec, platform, manifest, work, name)
    if run:
        def runs():
            paths = run_like_kfp(spec, out, manifest)
            if case == "hostile_nobraces":
                greeting = next(p["default"] for p in manifest["pipeline"]["params"] if p["name"] == "GREETING")
                with open(paths[("prep", "data")], "rb") as f:
                    assert pickle.load(f) == [greeting] * 3, "GREETING changed on its way to the step"
        check(f"{case}: steps run as KFP runs them (launcher placeholder rules)", runs)
    if golden:
        check(f"{case}: golden {'written' if UPDATE else 'matches'}", check_golden, case, path)


def check_hostile(spec, platform, manifest, work, name):
    with open(os.path.join(work, name), encoding="utf-8") as f:
        nb = json.load(f)
    source = "".join(next(c for c in nb["cells"] if c.get("id") == "params")["source"])
    literals = {t.targets[0].id: ast.literal_eval(t.value) for t in ast.parse(source).body}
    root = spec["root"]["inputDefinitions"]["parameters"]
    for pname, value in literals.items():
        want = "None" if value is None else value
        assert root[pname]["defaultValue"] == want, f"{pname}: {root[pname]['defaultValue']!r} != {want!r}"
    assert "\n" in root["GREETING"]["defaultValue"] and "$(whoami)" in root["GREETING"]["defaultValue"]
    tags = notebook_tags(os.path.join(work, name))
    pods = platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
    assert pods["exec-prep"]["podMetadata"]["annotations"] == tags["prep"]["annotations"]
    assert pods["exec-prep"]["podMetadata"]["labels"] == tags["prep"]["labels"]
    assert pods["exec-use"]["podMetadata"]["labels"] == tags["use"]["labels"]
    assert pods["exec-use"]["podMetadata"]["annotations"] == tags["use"]["annotations"]
    hostile = tags["use"]["annotations"]["stage"]
    assert "&anchor *alias !!python/object #c: d" in hostile and "$(rm -rf /)" in hostile


def refusals():
    work, name = workdir("hostile_tags", os.path.join(FIXTURES, "hostile_tags.ipynb"))
    r = convert(work, name, [])

    def refused():
        assert r.returncode == 2, f"exit {r.returncode}"
        assert not os.path.exists(os.path.join(work, "out")), "files written"
        for where, what in (("cell 3:1:1", "the default of parameter 'GREETING'"),
                            ("cell 4", "annotation 'note' of step 'prep'"),
                            ("cell 5", "annotation 'stage' of step 'use'")):
            assert re.search(re.escape(f"{name}:{where}: error: {what}") + r" contains '\{\{'.*\[bad-value\]",
                             r.stderr), f"no error for {what} at {where}: {r.stderr}"
    check("hostile_tags: '{{' in parameter defaults and annotations refused, naming the cell "
          "(exit 2, nothing written)",
          refused)
    work, name = workdir("image_braces", os.path.join(FIXTURES, "titanic.ipynb"))
    r2 = convert(work, name, ["--image", "img:{{$.inputs.parameters['DATA_PATH']}}"])

    def image_refused():
        assert r2.returncode == 2 and "image" in r2.stderr and "[bad-value]" in r2.stderr, \
            f"exit {r2.returncode}: {r2.stderr}"
    check("--image with '{{$' refused", image_refused)
    bad = "A = 9007199254740993\nB = 1j\nC = 1e999\n"
    work, name = workdir("bad_numbers", os.path.join(FIXTURES, "titanic.ipynb"), lambda _: one_step_notebook(bad))
    r3 = convert(work, name, [])

    def numbers_refused():
        assert r3.returncode == 2, f"exit {r3.returncode}"
        for p in "ABC":
            assert f"the default of parameter '{p}'" in r3.stderr, f"no error for {p}: {r3.stderr}"
    check("numbers KFP cannot hold (> 2^53, complex, infinite) refused", numbers_refused)


def main():
    for case in CASES:
        try:
            run_case(*case)
        except Exception as e:
            report(f"{case[0]}", f"{type(e).__name__}: {e}")
    refusals()
    shutil.rmtree(TMP, ignore_errors=True)
    print(f"kfp export: {RESULTS['ok']} passed, {RESULTS['fail']} failed")
    return 1 if RESULTS["fail"] else 0


if __name__ == "__main__":
    sys.exit(main())
