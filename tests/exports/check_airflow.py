#!/usr/bin/env python3
"""Checks `nb2pipe convert --target airflow` (dags/NAME.py).

    /usr/bin/python3 tests/exports/check_airflow.py NB2PIPE_BINARY REPO_ROOT SHARED_DIR

For each fixture and each option set (Airflow 3 and 2, BashOperator and
KubernetesPodOperator, and a few with --name/--schedule/--data-root/--image): convert,
py_compile the DAG, and check it three ways:

- its syntax tree (ast): the imports for the version, no name of the other version, one
  task per step with the right task_id and operator, the `>>` edges equal to the
  manifest's, Param defaults equal to the manifest's parameters, nothing at top level but
  what the emitter writes, constant shell commands;
- by running it against a stub `airflow` package that records the DAG, the operators and
  their arguments, and accepts only the arguments the real constructors take
  (../shared/reference/airflow/NOTES.md): the templated arguments are then rendered with
  Jinja (python3-jinja2, as Airflow does; a small built-in renderer when it is missing)
  and compared with what the notebook says (image, resources, annotations, labels, data
  directory, parameters);
- for BashOperator DAGs of titanic and hostile_tags, by running every task's command the
  way BashOperator would (rendered env, cwd) in dependency order, with a hostile value
  given for a parameter at trigger time.

Hostile values of fixtures/hostile_tags.ipynb must come out literally. Converting twice gives the same bytes; golden
copies under tests/exports/golden/airflow/ are compared byte for byte
(NB2PIPE_UPDATE_GOLDEN=1 rewrites them). The real `airflow` package is imported too when
it happens to be installed. Exit 0 when every check passed, 1 otherwise.
"""
import ast
import io
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import tokenize

PYTHON = "/usr/bin/python3"
RUN_ID = "manual__2024-01-01T00:00:00+00:00"
CLAIM_PARAM = "nb2pipe-data-claim"

FIXTURES = ["titanic.ipynb", "titanic_kale.ipynb", "titanic_untagged.ipynb",
            "dataflow/diamond.ipynb", "hostile_tags.ipynb"]
MODES = {
    "v3-bash": (3, False, []),
    "v2-bash": (2, False, ["--airflow-version", "2"]),
    "v3-kube": (3, True, ["--airflow-operator", "kubernetes"]),
    "v2-kube": (2, True, ["--airflow-version", "2", "--airflow-operator", "kubernetes"]),
}
# (fixture, mode, extra options, case name)
EXTRA = [
    ("titanic_kale.ipynb", "v3-bash",
     ["--name", "My Titanic! $(id) {{x}} é", "--schedule", "@daily", "--data-root", "shared/data"],
     "titanic_kale-v3-bash-options"),
    ("titanic_kale.ipynb", "v2-kube", ["--schedule", "0 3 * * *", "--data-root", "/mnt/data/"],
     "titanic_kale-v2-kube-options"),
    ("hostile_tags.ipynb", "v3-kube",
     ["--name", "Hostile {{ name }}", "--image", "reg.example.com/x:{{ bad }}",
      "--data-root", "/mnt/{% raw %}"], "hostile_tags-v3-kube-options"),
    ("hostile_tags.ipynb", "v2-bash", ["--data-root", "data/it's $(id) {{ x }}.sh"],
     "hostile_tags-v2-bash-options"),
]
GOLDEN = {"titanic_kale-v3-bash", "hostile_tags-v3-kube", "diamond-v2-bash"}

V3_IMPORTS = {"dag": ("airflow.sdk", "DAG"), "param": ("airflow.sdk", "Param"),
              "bash": ("airflow.providers.standard.operators.bash", "BashOperator")}
V2_IMPORTS = {"dag": ("airflow", "DAG"), "param": ("airflow.models.param", "Param"),
              "bash": ("airflow.operators.bash", "BashOperator")}
KPO_IMPORT = ("airflow.providers.cncf.kubernetes.operators.pod", "KubernetesPodOperator")
K8S_IMPORT = ("kubernetes.client", "models")
# names of one version that must not appear in a file for the other (outside strings)
V2_ONLY = ["airflow.operators.bash", "from airflow import DAG", "days_ago", "schedule_interval",
           "airflow.models.dag", "airflow.models.param"]
V3_ONLY = ["airflow.sdk", "airflow.providers.standard"]

DNS_LABEL_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
HOSTILE_FRAGMENTS = ["$(", "`", "{{", "{%", "whoami", "rm -rf", "workflow.name", "&anchor", "#c: d"]

results = {"passed": 0, "failed": 0}


def report(case, what, problem=None):
    if problem is None:
        results["passed"] += 1
        print(f"ok {case}: {what}")
    else:
        results["failed"] += 1
        print(f"FAIL {case}: {what}: {problem}")


class CheckFailed(Exception):
    pass


def expect(cond, message):
    if not cond:
        raise CheckFailed(message)


def check(case, what, fn, *args):
    """Runs FN; a CheckFailed (or any exception) is one failed check."""
    try:
        value = fn(*args)
    except CheckFailed as e:
        report(case, what, str(e))
        return None
    except Exception as e:  # a bug in the file under test shows up here too
        report(case, what, f"{type(e).__name__}: {e}")
        return None
    report(case, what)
    return value


# --- what the notebook says -------------------------------------------------------------

def notebook_step_tags(nb_path):
    """{step: {"limit": {}, "annotation": {}, "label": {}, "image": str|None}} from Kale
    tags: a block:/step: tag names the cell's step; other cells continue the step above."""
    with open(nb_path, encoding="utf-8") as f:
        nb = json.load(f)
    steps, current = {}, None
    for cell in nb["cells"]:
        tags = cell.get("metadata", {}).get("tags", [])
        for tag in tags:
            kind, _, arg = tag.partition(":")
            if kind in ("block", "step") and arg:
                current = arg
                steps.setdefault(current, {"limit": {}, "annotation": {}, "label": {}, "image": None})
        if current is None:
            continue
        for tag in tags:
            kind, _, arg = tag.partition(":")
            if kind == "limit":
                key, _, value = arg.rpartition(":")
                steps[current]["limit"][key] = value
            elif kind in ("annotation", "label"):
                key, _, value = arg.partition(":")
                steps[current][kind][key] = value
            elif kind == "image":
                steps[current]["image"] = arg
    return steps


def notebook_params(nb_path):
    """The literal assignments of the parameters cells, evaluated: {name: value}."""
    with open(nb_path, encoding="utf-8") as f:
        nb = json.load(f)
    values = {}
    for cell in nb["cells"]:
        tags = cell.get("metadata", {}).get("tags", [])
        if cell["cell_type"] != "code" or not ({"parameters", "pipeline-parameters"} & set(tags)):
            continue
        source = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
        for node in ast.parse(source).body:
            if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
                values[node.targets[0].id] = ast.literal_eval(node.value)
    return values


def manifest_value(param):
    """A manifest parameter's default as the Python value of its type."""
    kind, text = param["type"], param["default"]
    if kind == "string":
        return text
    if kind == "bool":
        return text == "True"
    if kind == "none":
        return None
    return ast.literal_eval(text)


SCHEMA_TYPES = {"string": "string", "int": "integer", "float": "number", "bool": "boolean",
                "none": ["null", "string"]}


def expected_dag_id(name):
    out = []
    for ch in name:
        out.append(ch if (ch.isascii() and ch.isalnum()) or ch in "-._" else "_")
    dag_id = "".join(out)[:250]
    if dag_id.startswith("."):
        dag_id = "_" + dag_id[1:]
    return dag_id or "pipeline"


def option(args, flag):
    return args[args.index(flag) + 1] if flag in args else None


# --- Jinja, as Airflow renders templated arguments -------------------------------------

try:
    import jinja2
    from jinja2.sandbox import SandboxedEnvironment
    JINJA = SandboxedEnvironment(undefined=jinja2.StrictUndefined, cache_size=0)
except ImportError:  # the built-in renderer below handles what the emitter writes
    JINJA = None


def render_builtin(text, params, run_id):
    """Renders the expressions the emitter writes: {{ 'literal' }}, {{ params.X }},
    {{ params['X'] }}, {{ run_id }}. Anything else is an error."""
    out, i = [], 0
    while True:
        j = text.find("{", i)
        if j < 0 or j + 1 >= len(text):
            out.append(text[i:])
            break
        if text[j + 1] not in "{%#":
            out.append(text[i:j + 1])
            i = j + 1
            continue
        out.append(text[i:j])
        expect(text.startswith("{{ ", j), f"unexpected template syntax at {text[j:j + 20]!r}")
        k = j + 3
        if text[k] == "'":
            m = re.compile(r"'(?:[^'\\]|\\.)*'", re.S).match(text, k)
            expect(m, "unterminated Jinja string literal")
            out.append(ast.literal_eval(m.group(0)))
            k = m.end()
        else:
            m = re.compile(r"params\.(\w+)|params\['([^']*)'\]|run_id").match(text, k)
            expect(m, f"unexpected expression at {text[k:k + 20]!r}")
            if m.group(0) == "run_id":
                out.append(run_id)
            else:
                out.append(str(params[m.group(1) or m.group(2)]))
            k = m.end()
        expect(text.startswith(" }}", k), f"expression not closed at {text[k:k + 20]!r}")
        i = k + 3
    return "".join(out)


def render(value, params, run_id=RUN_ID):
    """VALUE with every string rendered, recursively through lists, dicts and k8s
    objects (as KubernetesPodOperator does), keys left alone."""
    if isinstance(value, str):
        if JINJA is not None:
            return JINJA.from_string(value).render(params=params, run_id=run_id)
        return render_builtin(value, params, run_id)
    if isinstance(value, list):
        return [render(v, params, run_id) for v in value]
    if isinstance(value, dict):
        return {k: (v if k == "__k8s__" else render(v, params, run_id)) for k, v in value.items()}
    return value


def jinja_literal_value(text):
    """TEXT, or the value of the Jinja string literal when TEXT is {{ '...' }}: the emitter
    writes a literal whose escapes mean the same in Python."""
    m = re.fullmatch(r"\{\{ ('(?:[^'\\]|\\.)*') \}\}", text, re.S)
    return ast.literal_eval(m.group(1)) if m else text


# --- a stub Airflow that records what the DAG file builds ------------------------------

STUB_CORE = r'''
import datetime

# keyword arguments the real constructors accept (NOTES.md [B], [C], [D])
DAG_ARGS = {
    "description", "default_args", "start_date", "end_date", "schedule", "template_searchpath",
    "template_undefined", "user_defined_macros", "user_defined_filters", "max_active_tasks",
    "max_active_runs", "max_consecutive_failed_dag_runs", "dagrun_timeout", "deadline",
    "sla_miss_callback", "catchup", "on_success_callback", "on_failure_callback", "doc_md",
    "params", "access_control", "is_paused_upon_creation", "jinja_environment_kwargs",
    "render_template_as_native_obj", "tags", "owner_links", "auto_register", "fail_fast",
    "dag_display_name", "disable_bundle_versioning"}
BASE_ARGS = {"task_id", "retries", "do_xcom_push", "owner", "pool", "queue", "doc_md",
             "execution_timeout", "retry_delay", "trigger_rule", "depends_on_past"}
BASH_ARGS = {"bash_command", "env", "append_env", "output_encoding", "skip_on_exit_code",
             "cwd", "output_processor"}
KPO_ARGS = {
    "kubernetes_conn_id", "namespace", "image", "name", "random_name_suffix", "cmds", "arguments",
    "ports", "volume_mounts", "volumes", "env_vars", "env_from", "secrets", "in_cluster",
    "cluster_context", "labels", "reattach_on_restart", "startup_timeout_seconds",
    "startup_check_interval_seconds", "schedule_timeout_seconds", "get_logs",
    "base_container_name", "base_container_status_polling_interval", "init_container_logs",
    "container_logs", "image_pull_policy", "annotations", "container_resources", "affinity",
    "config_file", "node_selector", "image_pull_secrets", "service_account_name",
    "automount_service_account_token", "hostnetwork", "host_aliases", "tolerations",
    "security_context", "container_security_context", "dnspolicy", "dns_config", "hostname",
    "subdomain", "schedulername", "full_pod_spec", "init_containers", "log_events_on_failure",
    "do_xcom_push", "pod_template_file", "pod_template_dict", "priority_class_name",
    "pod_runtime_info_envs", "termination_grace_period", "configmaps", "skip_on_exit_code",
    "deferrable", "poll_interval", "log_pod_spec_on_failure", "on_finish_action",
    "termination_message_policy", "active_deadline_seconds", "callbacks", "progress_callback",
    "logging_interval", "trigger_kwargs", "container_name_log_prefix_enabled", "log_formatter"}

RECORD = {"dags": [], "tasks": [], "edges": []}
_CURRENT = []


def _check(kind, kwargs, allowed):
    unknown = set(kwargs) - allowed
    if unknown:
        raise TypeError(f"{kind} got unexpected keyword arguments {sorted(unknown)}")


class DAG:
    def __init__(self, dag_id, **kwargs):
        _check("DAG", kwargs, DAG_ARGS)
        RECORD["dags"].append({"dag_id": dag_id, **kwargs})

    def __enter__(self):
        _CURRENT.append(self)
        return self

    def __exit__(self, *exc):
        _CURRENT.pop()


class Param:
    def __init__(self, default, **kwargs):
        _check("Param", kwargs, {"type", "description", "title", "enum", "minimum", "maximum"})
        self.default, self.kwargs = default, kwargs


class _Operator:
    ALLOWED = set()

    def __init__(self, **kwargs):
        _check(type(self).__name__, kwargs, self.ALLOWED | BASE_ARGS)
        if not _CURRENT:
            raise RuntimeError("operator created outside a DAG")
        self.task_id = kwargs["task_id"]
        RECORD["tasks"].append({"class": type(self).__name__, "kwargs": kwargs})

    def __rshift__(self, other):
        RECORD["edges"].append([self.task_id, other.task_id])
        return other


class BashOperator(_Operator):
    ALLOWED = BASH_ARGS


class KubernetesPodOperator(_Operator):
    ALLOWED = KPO_ARGS


def encode(obj):
    if isinstance(obj, datetime.datetime):
        return obj.isoformat()
    if isinstance(obj, Param):
        return {"__param__": obj.default, **obj.kwargs}
    if hasattr(obj, "_k8s_kwargs"):
        return {"__k8s__": type(obj).__name__, **obj._k8s_kwargs}
    raise TypeError(f"cannot record {obj!r}")
'''

STUB_K8S = r'''
class _Model:
    FIELDS = set()

    def __init__(self, **kwargs):
        unknown = set(kwargs) - self.FIELDS
        if unknown:
            raise TypeError(f"{type(self).__name__} got unexpected {sorted(unknown)}")
        self._k8s_kwargs = kwargs


class V1Volume(_Model):
    FIELDS = {"name", "persistent_volume_claim", "empty_dir", "host_path", "config_map", "secret"}


class V1PersistentVolumeClaimVolumeSource(_Model):
    FIELDS = {"claim_name", "read_only"}


class V1VolumeMount(_Model):
    FIELDS = {"name", "mount_path", "sub_path", "read_only", "mount_propagation", "sub_path_expr"}


class V1ResourceRequirements(_Model):
    FIELDS = {"limits", "requests", "claims"}
'''

STUB_FILES = {
    "airflow/__init__.py": "from airflow._stub import DAG\n",
    "airflow/_stub.py": STUB_CORE,
    "airflow/sdk.py": "from airflow._stub import DAG, Param\n",
    "airflow/models/__init__.py": "",
    "airflow/models/param.py": "from airflow._stub import Param\n",
    "airflow/operators/__init__.py": "",
    "airflow/operators/bash.py": "from airflow._stub import BashOperator\n",
    "airflow/providers/__init__.py": "",
    "airflow/providers/standard/__init__.py": "",
    "airflow/providers/standard/operators/__init__.py": "",
    "airflow/providers/standard/operators/bash.py": "from airflow._stub import BashOperator\n",
    "airflow/providers/cncf/__init__.py": "",
    "airflow/providers/cncf/kubernetes/__init__.py": "",
    "airflow/providers/cncf/kubernetes/operators/__init__.py": "",
    "airflow/providers/cncf/kubernetes/operators/pod.py":
        "from airflow._stub import KubernetesPodOperator\n",
    "kubernetes/__init__.py": "",
    "kubernetes/client/__init__.py": "",
    "kubernetes/client/models.py": STUB_K8S,
    "pendulum.py": "import datetime as _dt\n\n\ndef datetime(y, m, d, tz='UTC'):\n"
                   "    assert tz == 'UTC'\n    return _dt.datetime(y, m, d, tzinfo=_dt.timezone.utc)\n",
    "run_dag.py": "import json, runpy, sys\nfrom airflow import _stub\n"
                  "runpy.run_path(sys.argv[1], run_name='nb2pipe_dag')\n"
                  "print(json.dumps(_stub.RECORD, default=_stub.encode))\n",
}


def write_stubs(root):
    for rel, text in STUB_FILES.items():
        path = os.path.join(root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)


def run_with_stubs(stubs, dag_path):
    proc = subprocess.run([PYTHON, "-B", os.path.join(stubs, "run_dag.py"), dag_path],
                          capture_output=True, text=True, timeout=60)
    expect(proc.returncode == 0,
           f"the DAG file failed against the stub Airflow:\n{proc.stderr[-1500:]}")
    return json.loads(proc.stdout)


# --- converting --------------------------------------------------------------------------

def convert(binary, repo, fixture, args, workdir, out="out"):
    """Copies FIXTURE (and titanic.csv) into WORKDIR, converts it there into OUT."""
    os.makedirs(workdir, exist_ok=True)
    name = os.path.basename(fixture)
    shutil.copy(os.path.join(repo, "fixtures", fixture), os.path.join(workdir, name))
    shutil.copy(os.path.join(repo, "fixtures", "titanic.csv"), workdir)
    cmd = [binary, "convert", name, "-o", out, "--target", "airflow"] + args
    return subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, timeout=120)


def code_text(source):
    """The file without its string literals, for looking up names."""
    kept = []
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type != tokenize.STRING:
            kept.append(tok.string)
    return " ".join(kept)


def literal(node):
    return ast.literal_eval(node)


def keywords(call):
    return {k.arg: k.value for k in call.keywords}


# --- the checks of one converted DAG ------------------------------------------------------

class Case:
    def __init__(self, name, fixture, mode, extra, workdir, proc):
        self.name, self.fixture, self.extra = name, fixture, extra
        self.version, self.kube, mode_args = MODES[mode]
        self.args = mode_args + extra
        self.workdir, self.proc = workdir, proc
        self.out = os.path.join(workdir, "out")
        self.nb_path = os.path.join(workdir, os.path.basename(fixture))
        with open(os.path.join(self.out, "nb2pipe.lock.json"), encoding="utf-8") as f:
            self.manifest = json.load(f)["pipeline"]
        self.steps = self.manifest["steps"]
        self.params = {p["name"]: p for p in self.manifest["params"]}
        self.dag_id = expected_dag_id(option(self.args, "--name") or self.manifest["name"])
        self.path = os.path.join(self.out, "dags", self.dag_id + ".py")
        self.tags = notebook_step_tags(self.nb_path)
        self.source = None
        self.tree = None
        self.tasks = {}  # task_id -> (variable, ast.Call)

    def param_values(self):
        return {name: manifest_value(p) for name, p in self.params.items()}

    # file and syntax
    def files(self):
        listing = sorted(os.listdir(os.path.join(self.out, "dags")))
        expect(listing == [self.dag_id + ".py"], f"dags/ holds {listing}, not {self.dag_id}.py")
        with open(self.path, encoding="utf-8") as f:
            self.source = f.read()
        expect(self.source.startswith("# Generated by nb2pipe from "), "no generated-file header")

    def compiles(self):
        proc = subprocess.run([PYTHON, "-m", "py_compile", self.path], capture_output=True,
                              text=True, timeout=60)
        expect(proc.returncode == 0, proc.stderr.strip())
        shutil.rmtree(os.path.join(self.out, "dags", "__pycache__"), ignore_errors=True)
        self.tree = ast.parse(self.source)

    def imports(self):
        table = V2_IMPORTS if self.version == 2 else V3_IMPORTS
        want = {("pendulum", None), table["dag"]}
        if self.params or self.kube:
            want.add(table["param"])
        if self.kube:
            want |= {KPO_IMPORT, K8S_IMPORT}
        else:
            want |= {("os", None), table["bash"]}
        got = set()
        for node in self.tree.body:
            if isinstance(node, ast.Import):
                got |= {(a.name, None) for a in node.names}
            elif isinstance(node, ast.ImportFrom):
                got |= {(node.module, a.name) for a in node.names}
                if node.module == "kubernetes.client":
                    expect([a.asname for a in node.names] == ["k8s"], "models not imported as k8s")
        expect(got == want, f"imports {sorted(got, key=str)}, expected {sorted(want, key=str)}")

    def other_version_names(self):
        text = code_text(self.source)
        for name in V2_ONLY if self.version == 3 else V3_ONLY:
            expect(name not in text and name not in self.source,
                   f"{name!r} appears in an Airflow {self.version} file")

    def top_level(self):
        """Nothing at top level but imports, the emitter's constants and helpers, one with."""
        allowed = ({"data_volume", "data_mount"} if self.kube else
                   {"PIPELINE_DIR", "DATA_ROOT", "RUN_DATA_DIR", "WORKDIR", "_jinja_literal"})
        withs = 0
        for node in self.tree.body:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                continue
            if isinstance(node, ast.Assign):
                names = [t.id for t in node.targets if isinstance(t, ast.Name)]
                expect(len(names) == 1 and names[0] in allowed, f"unexpected assignment {names}")
            elif isinstance(node, ast.FunctionDef):
                expect(node.name in allowed, f"unexpected function {node.name}")
            elif isinstance(node, ast.With):
                withs += 1
            else:
                raise CheckFailed(f"unexpected {type(node).__name__} at line {node.lineno}")
        expect(withs == 1, f"{withs} with-statements")

    def dag_call(self):
        node = next(n for n in self.tree.body if isinstance(n, ast.With))
        call = node.items[0].context_expr
        expect(isinstance(call, ast.Call) and isinstance(call.func, ast.Name)
               and call.func.id == "DAG", "the with-statement does not open a DAG")
        kw = keywords(call)
        expect(not call.args, "positional DAG arguments")
        expect(literal(kw["dag_id"]) == self.dag_id, f"dag_id {ast.dump(kw['dag_id'])}")
        expect(literal(kw["schedule"]) == option(self.args, "--schedule"),
               f"schedule {ast.unparse(kw['schedule'])}")
        expect(literal(kw["catchup"]) is False, "catchup is not False")
        expect(ast.unparse(kw["start_date"]) == "pendulum.datetime(2024, 1, 1, tz='UTC')",
               f"start_date {ast.unparse(kw['start_date'])}")
        for bad in ("schedule_interval", "timetable", "concurrency"):
            expect(bad not in kw, f"DAG gets {bad}")
        return node, kw

    def params_literals(self):
        _, kw = self.dag_call()
        want = dict(self.param_values())
        if not want and not self.kube:
            expect("params" not in kw, "params without parameters")
            return
        got = {}
        for key, value in zip(kw["params"].keys, kw["params"].values):
            expect(isinstance(value, ast.Call) and ast.unparse(value.func) == "Param",
                   f"param {ast.unparse(key)} is not a Param(...)")
            got[literal(key)] = (literal(value.args[0]), literal(keywords(value)["type"]))
        if self.kube:
            claim = got.pop(CLAIM_PARAM, None)
            expect(claim and DNS_LABEL_RE.match(claim[0]) and claim[1] == "string",
                   f"data claim param {claim}")
        expect(list(got) == list(want), f"params {list(got)}, manifest {list(want)}")
        for name, (default, schema) in got.items():
            expect(type(default) is type(want[name]) and default == want[name],
                   f"{name}: default {default!r}, manifest {want[name]!r}")
            expect(schema == SCHEMA_TYPES[self.params[name]["type"]], f"{name}: type {schema!r}")

    def task_calls(self):
        with_node, _ = self.dag_call()
        operator = "KubernetesPodOperator" if self.kube else "BashOperator"
        for node in with_node.body:
            if isinstance(node, ast.Expr):
                continue
            expect(isinstance(node, ast.Assign) and isinstance(node.value, ast.Call),
                   f"unexpected statement at line {node.lineno} in the DAG")
            call = node.value
            expect(ast.unparse(call.func) == operator, f"operator {ast.unparse(call.func)}")
            task_id = literal(keywords(call)["task_id"])
            expect(task_id not in self.tasks, f"task {task_id} twice")
            self.tasks[task_id] = (node.targets[0].id, call)
        names = [s["name"] for s in self.steps]
        expect(list(self.tasks) == names, f"tasks {list(self.tasks)}, steps {names}")

    def edges(self):
        with_node, _ = self.dag_call()
        by_var = {var: task_id for task_id, (var, _) in self.tasks.items()}
        got = []
        for node in with_node.body:
            if not isinstance(node, ast.Expr):
                continue
            e = node.value
            expect(isinstance(e, ast.BinOp) and isinstance(e.op, ast.RShift)
                   and isinstance(e.left, ast.Name) and isinstance(e.right, ast.Name),
                   f"unexpected expression {ast.unparse(e)}")
            got.append((by_var[e.left.id], by_var[e.right.id]))
        want = [(u, s["name"]) for s in self.steps for u in s["upstream"]]
        expect(len(got) == len(set(got)), "an edge twice")
        expect(sorted(got) == sorted(want), f"edges {got}, manifest {want}")

    def bash_commands(self):
        for task_id, (_, call) in self.tasks.items():
            kw = keywords(call)
            command = literal(kw["bash_command"])
            expect(shlex.split(command) == ["python3", f"steps/{task_id}.py", "--data-dir",
                                            "$NB2PIPE_DATA_DIR"], f"{task_id}: {command!r}")
            for fragment in HOSTILE_FRAGMENTS:
                expect(fragment not in command, f"{task_id}: {fragment!r} in the command")
            expect(literal(kw["append_env"]) is True, f"{task_id}: append_env")
            expect(literal(kw["skip_on_exit_code"]) is None, f"{task_id}: skip_on_exit_code")
            expect(ast.unparse(kw["cwd"]) == "WORKDIR", f"{task_id}: cwd")
            env = kw["env"]
            keys = [literal(k) for k in env.keys]
            step = next(s for s in self.steps if s["name"] == task_id)
            want = ["NB2PIPE_DATA_DIR"] + [f"NB2PIPE_PARAM_{p}" for p in step["params"]]
            expect(keys == want, f"{task_id}: env {keys}, expected {want}")
            for key, value in zip(keys[1:], env.values[1:]):
                expect(literal(value) == "{{ params.%s }}" % key[len("NB2PIPE_PARAM_"):],
                       f"{task_id}: {key} = {ast.unparse(value)}")

    def kube_literals(self):
        """Notebook text in annotations, labels, image, limits: the Python literal holds
        the value (or a Jinja literal whose Python value it is)."""
        for task_id, (_, call) in self.tasks.items():
            kw = keywords(call)
            tags = self.tags.get(task_id, {"limit": {}, "annotation": {}, "label": {}, "image": None})
            got = {}
            if "annotations" in kw:
                got = {literal(k): jinja_literal_value(literal(v))
                       for k, v in zip(kw["annotations"].keys, kw["annotations"].values)}
            expect(got == tags["annotation"], f"{task_id}: annotations {got!r}")
            image = jinja_literal_value(literal(kw["image"]))
            expect(image == self.expected_image(task_id), f"{task_id}: image {image!r}")

    def expected_image(self, task_id):
        tags = self.tags.get(task_id)
        if tags and tags["image"]:
            return tags["image"]
        return option(self.args, "--image") or self.manifest["name"] + ":latest"

    # the stub run
    def stub_checks(self, stubs):
        record = run_with_stubs(stubs, self.path)
        expect(len(record["dags"]) == 1, f"{len(record['dags'])} DAGs")
        dag = record["dags"][0]
        expect(dag["dag_id"] == self.dag_id, f"dag_id {dag['dag_id']!r}")
        expect(dag.get("schedule") == option(self.args, "--schedule"), "schedule")
        expect(dag.get("catchup") is False, "catchup")
        expect(dag.get("start_date") == "2024-01-01T00:00:00+00:00", "start_date")
        params = {k: v["__param__"] for k, v in dag.get("params", {}).items()}
        want = self.param_values()
        expect({k: v for k, v in params.items() if k != CLAIM_PARAM} == want, f"params {params}")
        expect([t["kwargs"]["task_id"] for t in record["tasks"]] == [s["name"] for s in self.steps],
               "tasks")
        expect(sorted(map(tuple, record["edges"])) ==
               sorted((u, s["name"]) for s in self.steps for u in s["upstream"]), "edges")
        for task in record["tasks"]:
            step = next(s for s in self.steps if s["name"] == task["kwargs"]["task_id"])
            if self.kube:
                self.stub_kube_task(task, step, params)
            else:
                self.stub_bash_task(task, step, params)
        return record

    def stub_bash_task(self, task, step, params):
        kw = task["kwargs"]
        expect(task["class"] == "BashOperator", task["class"])
        env = render(kw["env"], params)
        pipeline_dir = os.path.realpath(self.out)
        root = option(self.args, "--data-root")
        data_root = os.path.join(pipeline_dir, root if root else "output")
        expect(env["NB2PIPE_DATA_DIR"] == os.path.join(data_root, self.dag_id) + "/" + RUN_ID,
               f"{step['name']}: data dir {env['NB2PIPE_DATA_DIR']!r}")
        for name in step["params"]:
            expect(env[f"NB2PIPE_PARAM_{name}"] == str(params[name]),
                   f"{step['name']}: {name} renders {env[f'NB2PIPE_PARAM_{name}']!r}")
        expect(render(kw["cwd"], params) == pipeline_dir, f"{step['name']}: cwd")
        expect(kw["skip_on_exit_code"] is None and kw["append_env"] is True, "exit code / env")

    def stub_kube_task(self, task, step, params):
        kw = task["kwargs"]
        name = step["name"]
        expect(task["class"] == "KubernetesPodOperator", task["class"])
        tags = self.tags.get(name, {"limit": {}, "annotation": {}, "label": {}, "image": None})
        expect(render(kw["image"], params) == self.expected_image(name), f"{name}: image")
        expect(kw["cmds"] == ["python3"], f"{name}: cmds {kw['cmds']}")
        root = option(self.args, "--data-root") or "/data"
        expect(render(kw["arguments"], params) ==
               [f"steps/{name}.py", "--data-dir",
                (root.rstrip("/") or "") + f"/{self.dag_id}/{RUN_ID}"],
               f"{name}: arguments {render(kw['arguments'], params)}")
        env = render(kw.get("env_vars", {}), params)
        expect(env == {f"NB2PIPE_PARAM_{p}": str(params[p]) for p in step["params"]},
               f"{name}: env_vars {env}")
        resources = kw.get("container_resources")
        if tags["limit"]:
            expect(resources and resources["__k8s__"] == "V1ResourceRequirements", "resources")
            expect(render(resources["limits"], params) == tags["limit"] ==
                   render(resources["requests"], params), f"{name}: resources {resources}")
        else:
            expect(resources is None, f"{name}: resources without limit: tags")
        volume, mount = kw["volumes"][0], kw["volume_mounts"][0]
        claim = render(volume["persistent_volume_claim"]["claim_name"], params)
        expect(claim == params[CLAIM_PARAM], f"{name}: claim {claim!r}")
        expect(volume["name"] == mount["name"] and mount["mount_path"] == root, f"{name}: mount")
        expect(render(kw.get("annotations", {}), params) == tags["annotation"],
               f"{name}: annotations {kw.get('annotations')}")
        labels = render(kw.get("labels", {}), params)
        expect(set(labels) == set(tags["label"]), f"{name}: label keys {sorted(labels)}")
        for key, value in labels.items():
            expect(value == tags["label"][key], f"{name}: label {key} changed to {value!r}")
        expect(DNS_LABEL_RE.match(kw["name"]) and len(kw["name"]) <= 53, f"{name}: pod name")
        expect(kw["on_finish_action"] == "delete_pod" and kw["get_logs"] is True, "pod options")

    def real_airflow(self):
        proc = subprocess.run([PYTHON, "-c", "import runpy, sys; runpy.run_path(sys.argv[1])",
                               self.path], capture_output=True, text=True, timeout=300)
        expect(proc.returncode == 0, proc.stderr[-2000:])


# --- the hostile notebook: values arrive literally ---------------------------------------

def hostile_checks(case):
    values = notebook_params(case.nb_path)
    _, kw = case.dag_call()
    defaults = {literal(k): literal(v.args[0]) for k, v in zip(kw["params"].keys, kw["params"].values)}
    for name, value in values.items():
        expect(defaults[name] == value and type(defaults[name]) is type(value),
               f"param {name}: {defaults[name]!r} != {value!r}")
    if not case.kube:
        return
    for task_id, (_, call) in case.tasks.items():
        tags = case.tags[task_id]
        ann = keywords(call).get("annotations")
        got = {} if ann is None else {literal(k): literal(v) for k, v in zip(ann.keys, ann.values)}
        for key, value in tags["annotation"].items():
            expect(jinja_literal_value(got[key]) == value, f"annotation {key}: {got[key]!r}")


def simulate_bash_run(case, record, override):
    """Runs every task's command as BashOperator would, in step order, with the params
    defaults and OVERRIDE given at trigger time."""
    params = {k: v["__param__"] for k, v in record["dags"][0].get("params", {}).items()}
    params.update(override)
    marker = os.path.join(case.workdir, "INJECTED")
    for task in record["tasks"]:
        kw = task["kwargs"]
        env = dict(os.environ)
        env.update(render(kw["env"], params))
        env["PATH"] = "/usr/bin:" + env.get("PATH", "")  # python3 with pandas and sklearn
        env["MPLBACKEND"] = "Agg"
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        proc = subprocess.run(["bash", "-c", render(kw["bash_command"], params)],
                              cwd=render(kw["cwd"], params), env=env, capture_output=True,
                              text=True, timeout=300)
        expect(proc.returncode == 0, f"task {kw['task_id']} failed:\n{proc.stderr[-3000:]}")
    expect(not os.path.exists(marker), "a parameter value ran as a shell command")
    return render(record["tasks"][0]["kwargs"]["env"], params)["NB2PIPE_DATA_DIR"]


# --- main ---------------------------------------------------------------------------------

def run_case(binary, repo, tmp, stubs, fixture, mode, extra, name):
    workdir = os.path.join(tmp, name)
    proc = convert(binary, repo, fixture, MODES[mode][2] + extra, workdir)
    if proc.returncode != 0:
        report(name, "convert", f"exit {proc.returncode}: {proc.stderr.strip()}")
        return None
    report(name, "convert")
    case = Case(name, fixture, mode, extra, workdir, proc)
    if check(name, "dags/ holds the one DAG file", case.files) is None and case.source is None:
        return None
    if check(name, "py_compile", case.compiles) is None and case.tree is None:
        return None
    check(name, f"imports for Airflow {case.version}", case.imports)
    check(name, "no name of the other Airflow version", case.other_version_names)
    check(name, "top-level statements", case.top_level)
    check(name, "DAG arguments", case.dag_call)
    check(name, "Param defaults equal the manifest's", case.params_literals)
    check(name, "one task per step", case.task_calls)
    check(name, ">> edges equal the manifest's", case.edges)
    if case.kube:
        check(name, "notebook text in the pods' arguments", case.kube_literals)
    else:
        check(name, "constant shell commands, parameters in env", case.bash_commands)
    record = check(name, "stub Airflow: arguments rendered", case.stub_checks, stubs)
    if subprocess.run([PYTHON, "-c", "import airflow"], capture_output=True).returncode == 0:
        check(name, "imported by the real airflow package", case.real_airflow)
    if fixture == "hostile_tags.ipynb":
        check(name, "hostile values literally in Python literals", hostile_checks, case)

    def deterministic():
        again = convert(binary, repo, fixture, MODES[mode][2] + extra,
                        os.path.join(tmp, name + "-again"))
        expect(again.returncode == 0, again.stderr)
        with open(os.path.join(tmp, name + "-again", "out", "dags", case.dag_id + ".py"),
                  encoding="utf-8") as f:
            expect(f.read() == case.source, "a second conversion differs")
    check(name, "deterministic", deterministic)
    return case, record


def golden(repo, case):
    rel = os.path.join("dags", case.dag_id + ".py")
    path = os.path.join(repo, "tests", "exports", "golden", "airflow", case.name, rel)

    def compare():
        if os.environ.get("NB2PIPE_UPDATE_GOLDEN") == "1":
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w", encoding="utf-8") as f:
                f.write(case.source)
        expect(os.path.exists(path), f"no golden {path} (NB2PIPE_UPDATE_GOLDEN=1 writes it)")
        with open(path, encoding="utf-8") as f:
            expect(f.read() == case.source, f"differs from {path}")
    check(case.name, f"golden {rel}", compare)


def refusals(binary, repo, tmp):
    # (case, fixture, options, notebook edit, what stderr must say)
    def bad_label(nb):
        nb["cells"][3]["metadata"]["tags"].append("label:team:x{{y}}")
    cases = [
        ("refuse-relative-root", "hostile_tags.ipynb",
         ["--airflow-operator", "kubernetes", "--data-root", "data"], None, "is not an absolute path",
         "[bad-value]"),
        ("refuse-label-value", "hostile_tags.ipynb", ["--airflow-operator", "kubernetes"], bad_label,
         "hostile_tags.ipynb:cell 4: error: tag 'label:team:x{{y}}' has a value Kubernetes does "
         "not accept as a label value", "[bad-tag]"),
        ("refuse-empty-schedule", "titanic.ipynb", ["--schedule", ""], None, "--schedule is empty",
         "[bad-value]"),
    ]
    for name, fixture, args, edit, message, code in cases:
        workdir = os.path.join(tmp, name)
        os.makedirs(workdir)
        src = os.path.join(repo, "fixtures", fixture)
        with open(src, encoding="utf-8") as f:
            nb = json.load(f)
        if edit:
            edit(nb)
        with open(os.path.join(workdir, os.path.basename(fixture)), "w", encoding="utf-8") as f:
            json.dump(nb, f)
        shutil.copy(os.path.join(repo, "fixtures", "titanic.csv"), workdir)
        cmd = [binary, "convert", os.path.basename(fixture), "-o", "out", "--target", "airflow"]
        proc = subprocess.run(cmd + args, cwd=workdir, capture_output=True, text=True, timeout=120)

        def refused():
            expect(proc.returncode == 2, f"exit {proc.returncode}")
            expect(message in proc.stderr and code in proc.stderr, proc.stderr.strip())
            expect(not os.path.exists(os.path.join(workdir, "out")), "files were written")
        check(name, "refused with exit 2 and a clear message", refused)


def main():
    if len(sys.argv) != 4:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    binary, repo = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    if not os.access(PYTHON, os.X_OK):
        print(f"{PYTHON} is missing", file=sys.stderr)
        return 77
    if JINJA is None:
        print("note: jinja2 is not importable; templated values use the built-in renderer")
    tmp = tempfile.mkdtemp(prefix="nb2pipe-airflow-")
    try:
        stubs = os.path.join(tmp, "stubs")
        write_stubs(stubs)
        runs = [(f, m, [], f"{os.path.splitext(os.path.basename(f))[0]}-{m}")
                for f in FIXTURES for m in MODES]
        runs += EXTRA
        for fixture, mode, extra, name in runs:
            done = run_case(binary, repo, tmp, stubs, fixture, mode, extra, name)
            if not done:
                continue
            case, record = done
            if name in GOLDEN:
                golden(repo, case)
            if record and mode == "v3-bash" and not extra and fixture == "titanic.ipynb":
                def linked():
                    # a dags folder elsewhere that links to the file: same pipeline dir
                    link = os.path.join(tmp, "linked-dags", os.path.basename(case.path))
                    os.makedirs(os.path.dirname(link))
                    os.symlink(case.path, link)
                    task = run_with_stubs(stubs, link)["tasks"][0]["kwargs"]
                    cwd = render(task["cwd"], {})
                    expect(cwd == os.path.realpath(case.out), f"cwd {cwd!r}")
                check(name, "the DAG linked from another dags folder finds the pipeline", linked)
                def titanic_run():
                    data = simulate_bash_run(case, record, {})
                    metrics = os.path.join(data, "evaluate", "metrics.json")
                    expect(os.path.exists(metrics), f"no {metrics}")
                check(name, "tasks run as BashOperator runs them", titanic_run)
            if record and not case.kube and fixture == "hostile_tags.ipynb":
                hostile = "x'\"$(touch INJECTED) `touch INJECTED` {{ run_id }} {% raw %}\n;"

                def hostile_run():
                    import pickle
                    data = simulate_bash_run(case, record, {"GREETING": hostile})
                    with open(os.path.join(data, "prep", "data.pkl"), "rb") as f:
                        expect(pickle.load(f) == [hostile] * 3, "the step got another value")
                check(name, "hostile parameter value given at trigger time arrives literally",
                      hostile_run)
        refusals(binary, repo, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"airflow export: {results['passed']} passed, {results['failed']} failed")
    return 1 if results["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
