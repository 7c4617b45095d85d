/* dags/NAME.py: an Airflow DAG with one task per step (../shared/reference/airflow/NOTES.md
 * lists the import paths and arguments used here).
 *
 * Airflow 3 by default, Airflow 2.7+ with --airflow-version 2. Each task runs
 * `python3 steps/NAME.py --data-dir DIR` with DIR = DATA_ROOT/<dag id>/<run id>:
 * - BashOperator (default): on the worker, in the pipeline directory, which the DAG finds
 *   from its own location (it lives in the pipeline's dags/ folder);
 * - KubernetesPodOperator: in the pipeline's image, whose working directory is the
 *   pipeline directory, with a PersistentVolumeClaim mounted at the data root.
 *
 * Airflow renders many operator arguments with Jinja before running a task (BashOperator:
 * bash_command, env, cwd; KubernetesPodOperator: image, arguments, env_vars, labels,
 * annotations, resources, volumes). Text that reaches one of those from the notebook or the
 * command line is written so that rendering gives it back unchanged (jinja_text), and
 * parameter values reach the steps through templated environment variables, never through
 * a shell command line: a value may hold `$(...)`. */
#include "nb2pipe/emit.h"

#include "nb2pipe/k8s.h"
#include "nb2pipe/writer.h"

#include <stdlib.h>
#include <string.h>

enum {
    DAG_ID_MAX = 250,     /* Airflow's validate_key limit */
    POD_NAME_MAX = 53,    /* KubernetesPodOperator appends "-" and 8 random characters */
    CLAIM_NAME_MAX = 58,  /* so that "<name>-data" stays a 63-character DNS label */
};

/* The DAG parameter naming the data volume's claim: not a Python identifier, so it cannot
 * collide with a notebook parameter. */
static const char claim_param[] = "nb2pipe-data-claim";
static const char volume_name[] = "nb2pipe-data";

typedef struct dag_ctx {
    const nb_pipeline *p;
    const nb_emit_opts *opts;
    nb_diags *diags;
    nb_buf *out;
    const char *dag_id;
    bool v2;   /* Airflow 2.7+ instead of 3 */
    bool kube; /* KubernetesPodOperator instead of BashOperator */
} dag_ctx;

static bool is_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static void py_string(nb_buf *b, const char *s)
{
    nb_write_py_string(b, s, strlen(s));
}

/* NAME under Airflow's key rules: ASCII letters, digits, '-', '.', '_' (one '_' for each
 * other character), at most DAG_ID_MAX characters. A leading '.' becomes '_' too: the
 * file dags/<dag id>.py would be hidden. */
static void sanitise_dag_id(const char *name, nb_buf *out)
{
    size_t start = out->len;
    for (const char *s = name; *s && out->len - start < DAG_ID_MAX; s++) {
        if (((unsigned char)*s & 0xC0) == 0x80)
            continue; /* a UTF-8 continuation byte: its character already has its '_' */
        bool keep = is_alnum(*s) || *s == '-' || *s == '.' || *s == '_';
        nb_buf_putc(out, keep ? *s : '_');
    }
    if (out->len > start && out->data[start] == '.')
        out->data[start] = '_';
    if (out->len == start)
        nb_buf_puts(out, "pipeline");
}

/* True when Jinja would not render S as S itself: S holds the start of an expression,
 * statement or comment, or a control character (Jinja turns "\r\n" into "\n" and drops a
 * final newline). BashOperator's template extensions (.sh, .bash) never matter here: it
 * gets no notebook text, and KubernetesPodOperator has none [NOTES D]. */
static bool jinja_changes(const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c < 0x20 || c == 0x7F)
            return true;
        if (c == '{' && (s[1] == '{' || s[1] == '%' || s[1] == '#'))
            return true;
    }
    return false;
}

/* Appends S as template text that renders as S: S itself when Jinja leaves it alone,
 * otherwise an expression holding a Jinja string literal, {{ '...' }}. Jinja decodes the
 * literal's backslash escapes as Python does, and the literal swallows any "}}" or "{%"
 * inside it; the same literal is a Python string with the same value. */
static void jinja_text(nb_buf *b, const char *s)
{
    if (!jinja_changes(s)) {
        nb_buf_puts(b, s);
        return;
    }
    nb_buf_puts(b, "{{ '");
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        switch (c) {
        case '\\': nb_buf_puts(b, "\\\\"); break;
        case '\'': nb_buf_puts(b, "\\'"); break;
        case '\n': nb_buf_puts(b, "\\n"); break;
        case '\r': nb_buf_puts(b, "\\r"); break;
        case '\t': nb_buf_puts(b, "\\t"); break;
        default:
            if (c < 0x20 || c == 0x7F)
                nb_buf_printf(b, "\\x%02x", c);
            else
                nb_buf_putc(b, (char)c);
        }
    }
    nb_buf_puts(b, "' }}");
}

/* S as a Python string literal for a templated operator argument. */
static void py_templated(nb_buf *b, const char *s)
{
    nb_buf text = NB_BUF_INIT;
    jinja_text(&text, s);
    nb_write_py_string(b, text.data, text.len);
    nb_buf_release(&text);
}

/* A number as the IR writes it (sign, digits, '.', exponent, '_', hex/octal/binary
 * prefixes), checked before it is written into Python source unquoted. */
static bool is_number(const char *s)
{
    if (*s == '-' || *s == '+')
        s++;
    if (!(*s >= '0' && *s <= '9') && !(*s == '.' && s[1] >= '0' && s[1] <= '9'))
        return false;
    for (; *s; s++)
        if (!is_alnum(*s) && !strchr("._+-", *s))
            return false;
    return true;
}

/* The default of PARAM as a Python literal of its type. */
static int param_default(dag_ctx *c, const nb_param *param)
{
    switch (param->type) {
    case NB_TYPE_STRING: py_string(c->out, param->value); return 0;
    case NB_TYPE_BOOL: nb_buf_puts(c->out, strcmp(param->value, "True") == 0 ? "True" : "False"); return 0;
    case NB_TYPE_NONE: nb_buf_puts(c->out, "None"); return 0;
    case NB_TYPE_INT:
    case NB_TYPE_FLOAT: {
        nb_buf text = NB_BUF_INIT;
        bool ok = nb_emit_param_text(param, &text) && is_number(text.data);
        if (ok)
            nb_buf_puts(c->out, text.data);
        nb_buf_release(&text);
        if (ok)
            return 0;
        break;
    }
    }
    nb_diag_add(c->diags, NB_ERROR, "bad-value", nb_emit_loc(c->p, param->cell, param->line),
                "parameter '%s': default '%s' cannot be an Airflow Param; write it as a plain "
                "decimal number", param->name, param->python);
    return -1;
}

/* The JSON-schema type Airflow validates a value given at trigger time against. A None
 * default takes null or text, which the step reads as a Python literal. */
static const char *param_schema(nb_value_type type)
{
    switch (type) {
    case NB_TYPE_STRING: return "\"string\"";
    case NB_TYPE_INT: return "\"integer\"";
    case NB_TYPE_FLOAT: return "\"number\"";
    case NB_TYPE_BOOL: return "\"boolean\"";
    case NB_TYPE_NONE: break;
    }
    return "[\"null\", \"string\"]";
}

/* What the pods need that Kubernetes would refuse at run time is refused now: parameter
 * names that are not environment variable names, a mount path that is not absolute.
 * (Keys and label values follow Kubernetes' syntax already: the tag reader checks them.) */
static int check_kube(dag_ctx *c)
{
    int status = 0;
    const char *root = nb_emit_data_root(c->opts);
    if (root[0] != '/') {
        nb_diag_add(c->diags, NB_ERROR, "bad-value", (nb_loc){ 0 },
                    "--data-root '%s' is not an absolute path: the kubernetes operator mounts the "
                    "data volume there", root);
        status = -1;
    }
    if (nb_emit_check_ascii_params(c->p, "the kubernetes operator", c->diags) != 0)
        status = -1;
    return status;
}

static void imports(dag_ctx *c)
{
    nb_buf *b = c->out;
    if (!c->kube)
        nb_buf_puts(b, "import os\n\n");
    nb_buf_puts(b, "import pendulum\n");
    if (c->v2) {
        nb_buf_puts(b, "from airflow import DAG\n");
        if (c->p->nparams || c->kube)
            nb_buf_puts(b, "from airflow.models.param import Param\n");
        if (!c->kube)
            nb_buf_puts(b, "from airflow.operators.bash import BashOperator\n");
    } else if (!c->kube) {
        nb_buf_puts(b, "from airflow.providers.standard.operators.bash import BashOperator\n");
    }
    if (c->kube)
        nb_buf_puts(b, "from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator\n");
    if (!c->v2)
        nb_buf_puts(b, c->p->nparams || c->kube ? "from airflow.sdk import DAG, Param\n"
                                                : "from airflow.sdk import DAG\n");
    if (c->kube)
        nb_buf_puts(b, "from kubernetes.client import models as k8s\n");
}

/* PIPELINE_DIR, DATA_ROOT and the templated values every BashOperator task shares. */
static void bash_preamble(dag_ctx *c)
{
    nb_buf *b = c->out;
    const char *root = c->opts ? c->opts->data_root : NULL;
    nb_buf_puts(b, "\n# The pipeline directory: this file is in its dags/ folder (also when a dags folder\n"
                   "# elsewhere links to it). Tasks run there.\n"
                   "PIPELINE_DIR = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))\n");
    if (!root) {
        nb_buf_puts(b, "# Each run keeps its data in DATA_ROOT/<dag id>/<run id>.\n"
                       "DATA_ROOT = os.path.join(PIPELINE_DIR, \"output\")\n");
    } else if (root[0] == '/') {
        nb_buf_puts(b, "# Each run keeps its data in DATA_ROOT/<dag id>/<run id> (--data-root).\n"
                       "DATA_ROOT = ");
        py_string(b, root);
        nb_buf_putc(b, '\n');
    } else {
        nb_buf_puts(b, "# Each run keeps its data in DATA_ROOT/<dag id>/<run id> (--data-root, "
                       "relative to\n# the pipeline directory).\n"
                       "DATA_ROOT = os.path.join(PIPELINE_DIR, ");
        py_string(b, root);
        nb_buf_puts(b, ")\n");
    }
    nb_buf_puts(b, "\n\n"
                   "def _jinja_literal(text):\n"
                   "    \"\"\"A Jinja expression that renders as TEXT. Airflow renders the env and cwd\n"
                   "    arguments as templates, and a path may hold \"{{\" or end in \".sh\".\"\"\"\n"
                   "    return \"{{ %r }}\" % (text,)\n"
                   "\n\n"
                   "RUN_DATA_DIR = _jinja_literal(os.path.join(DATA_ROOT, ");
    py_string(b, c->dag_id);
    nb_buf_puts(b, ")) + \"/{{ run_id }}\"\n"
                   "WORKDIR = _jinja_literal(PIPELINE_DIR)\n");
}

/* The data volume, made anew for each task: Airflow renders the templated fields of these
 * objects in place. */
static void kube_preamble(dag_ctx *c)
{
    nb_buf *b = c->out;
    const char *root = nb_emit_data_root(c->opts);
    nb_buf_puts(b, "\n\n# Every pod mounts one PersistentVolumeClaim at ");
    nb_buf_add_printable(b, root, strlen(root));
    nb_buf_puts(b, ", where each run keeps its data in\n"
                   "# <dag id>/<run id>. The claim must exist in the pods' namespace "
                   "(ReadWriteMany when pods\n"
                   "# may run on different nodes); its name is the DAG parameter ");
    py_string(b, claim_param);
    nb_buf_puts(b, ".\n"
                   "# New objects for each task: Airflow renders their templated fields in place.\n"
                   "def data_volume():\n"
                   "    return k8s.V1Volume(\n"
                   "        name=");
    py_string(b, volume_name);
    nb_buf_puts(b, ",\n"
                   "        persistent_volume_claim=k8s.V1PersistentVolumeClaimVolumeSource(\n"
                   "            claim_name=");
    nb_buf expr = NB_BUF_INIT;
    nb_buf_printf(&expr, "{{ params['%s'] }}", claim_param);
    py_string(b, expr.data);
    nb_buf_release(&expr);
    nb_buf_puts(b, "\n"
                   "        ),\n"
                   "    )\n"
                   "\n\n"
                   "def data_mount():\n"
                   "    return k8s.V1VolumeMount(name=");
    py_string(b, volume_name);
    nb_buf_puts(b, ", mount_path=");
    py_string(b, root);
    nb_buf_puts(b, ")\n");
}

static int dag_params(dag_ctx *c)
{
    nb_buf *b = c->out;
    if (c->p->nparams == 0 && !c->kube)
        return 0;
    nb_buf_puts(b, "    params={\n");
    for (size_t i = 0; i < c->p->nparams; i++) {
        const nb_param *param = &c->p->params[i];
        nb_buf_puts(b, "        ");
        py_string(b, param->name);
        nb_buf_puts(b, ": Param(");
        if (param_default(c, param) != 0)
            return -1;
        nb_buf_printf(b, ", type=%s),\n", param_schema(param->type));
    }
    if (c->kube) {
        nb_buf claim = NB_BUF_INIT;
        nb_k8s_name(c->dag_id, CLAIM_NAME_MAX, &claim);
        nb_buf_puts(&claim, "-data");
        nb_buf_puts(b, "        ");
        py_string(b, claim_param);
        nb_buf_puts(b, ": Param(");
        py_string(b, claim.data);
        nb_buf_puts(b, ", type=\"string\"),\n");
        nb_buf_release(&claim);
    }
    nb_buf_puts(b, "    },\n");
    return 0;
}

static int dag_open(dag_ctx *c)
{
    nb_buf *b = c->out;
    nb_buf_puts(b, "\n\nwith DAG(\n    dag_id=");
    py_string(b, c->dag_id);
    nb_buf_puts(b, ",\n    description=");
    nb_buf desc = NB_BUF_INIT;
    nb_buf_printf(&desc, "Generated by nb2pipe from %s", c->p->notebook);
    py_string(b, desc.data);
    nb_buf_release(&desc);
    nb_buf_puts(b, ",\n    schedule=");
    if (c->opts && c->opts->schedule)
        py_string(b, c->opts->schedule);
    else
        nb_buf_puts(b, "None");
    /* a fixed date: the same file every time; never in the future */
    nb_buf_puts(b, ",\n    start_date=pendulum.datetime(2024, 1, 1, tz=\"UTC\"),\n"
                   "    catchup=False,\n"
                   "    tags=[\"nb2pipe\"],\n");
    if (dag_params(c) != 0)
        return -1;
    nb_buf_puts(b, "):\n");
    return 0;
}

/* env / env_vars: each parameter the step reads, as NB2PIPE_PARAM_<NAME>, rendered from
 * the run's params (the defaults, or the values given when triggering). */
static void param_env(dag_ctx *c, const nb_step *s)
{
    nb_buf text = NB_BUF_INIT;
    for (size_t i = 0; i < s->nparams; i++) {
        const char *name = c->p->params[s->params[i]].name;
        nb_buf_reset(&text);
        nb_buf_printf(&text, "NB2PIPE_PARAM_%s", name);
        nb_buf_puts(c->out, "            ");
        py_string(c->out, text.data);
        nb_buf_reset(&text);
        nb_buf_printf(&text, "{{ params.%s }}", name);
        nb_buf_puts(c->out, ": ");
        py_string(c->out, text.data);
        nb_buf_puts(c->out, ",\n");
    }
    nb_buf_release(&text);
}

static void bash_task(dag_ctx *c, const nb_step *s)
{
    nb_buf *b = c->out;
    nb_buf cmd = NB_BUF_INIT, script = NB_BUF_INIT;
    nb_step_script_path(s, &script);
    /* paths reach the command through the environment, so the shell line is constant */
    nb_buf_puts(&cmd, "python3 ");
    nb_write_sh_word(&cmd, script.data, script.len);
    nb_buf_puts(&cmd, " --data-dir \"$NB2PIPE_DATA_DIR\"");
    nb_buf_printf(b, "    %s_task = BashOperator(\n        task_id=", s->name);
    py_string(b, s->name);
    nb_buf_puts(b, ",\n        bash_command=");
    py_string(b, cmd.data);
    nb_buf_puts(b, ",\n        env={\n            \"NB2PIPE_DATA_DIR\": RUN_DATA_DIR,\n");
    param_env(c, s);
    nb_buf_puts(b, "        },\n"
                   "        append_env=True,\n"
                   "        cwd=WORKDIR,\n"
                   "        skip_on_exit_code=None,\n"
                   "        do_xcom_push=False,\n"
                   "    )\n");
    nb_buf_release(&cmd);
    nb_buf_release(&script);
}

/* KV sorted by key, as indexes (the IR keeps tag order). */
static void sorted_order(const nb_kv *kv, size_t n, size_t *order)
{
    for (size_t i = 0; i < n; i++) {
        size_t j = i;
        for (; j > 0 && strcmp(kv[order[j - 1]].key, kv[i].key) > 0; j--)
            order[j] = order[j - 1];
        order[j] = i;
    }
}

/* One dict argument: {"key": templated value, ...}, keys sorted. */
static void kube_dict(dag_ctx *c, const char *arg, const nb_kv *kv, size_t n)
{
    nb_buf *b = c->out;
    if (n == 0)
        return;
    size_t *order = nb_xmalloc(n * sizeof *order);
    sorted_order(kv, n, order);
    nb_buf_printf(b, "        %s={\n", arg);
    for (size_t i = 0; i < n; i++) {
        const nb_kv *item = &kv[order[i]];
        nb_buf_puts(b, "            ");
        py_string(b, item->key);
        nb_buf_puts(b, ": ");
        py_templated(b, item->value);
        nb_buf_puts(b, ",\n");
    }
    nb_buf_puts(b, "        },\n");
    free(order);
}

static void kube_resources(dag_ctx *c, const nb_step *s)
{
    nb_buf *b = c->out;
    if (s->nlimits == 0)
        return;
    size_t *order = nb_xmalloc(s->nlimits * sizeof *order);
    sorted_order(s->limits, s->nlimits, order);
    nb_buf_puts(b, "        container_resources=k8s.V1ResourceRequirements(\n");
    /* requests = limits: the pod is scheduled where what it may use is free (and
     * extended resources such as GPUs must have both equal) */
    static const char *const kinds[] = { "limits", "requests" };
    for (size_t k = 0; k < 2; k++) {
        nb_buf_printf(b, "            %s={", kinds[k]);
        for (size_t i = 0; i < s->nlimits; i++) {
            const nb_kv *item = &s->limits[order[i]];
            if (i)
                nb_buf_puts(b, ", ");
            py_string(b, item->key);
            nb_buf_puts(b, ": ");
            py_templated(b, item->value);
        }
        nb_buf_puts(b, "},\n");
    }
    nb_buf_puts(b, "        ),\n");
    free(order);
}

/* The run's data directory in the pods, <root>/<dag id>/{{ run_id }}, as template text:
 * the root (trailing '/' dropped) may need a Jinja literal, the rest never does. */
static void kube_run_dir(const dag_ctx *c, nb_buf *out)
{
    const char *root = nb_emit_data_root(c->opts);
    size_t len = strlen(root);
    while (len > 0 && root[len - 1] == '/')
        len--;
    nb_buf trimmed = NB_BUF_INIT;
    nb_buf_add(&trimmed, root, len);
    jinja_text(out, trimmed.data);
    nb_buf_release(&trimmed);
    nb_buf_printf(out, "/%s/{{ run_id }}", c->dag_id);
}

static void kube_task(dag_ctx *c, const nb_step *s)
{
    nb_buf *b = c->out;
    nb_buf scratch = NB_BUF_INIT;
    nb_buf_printf(b, "    %s_task = KubernetesPodOperator(\n        task_id=", s->name);
    py_string(b, s->name);
    nb_buf_printf(&scratch, "%s-%s", c->dag_id, s->name);
    nb_buf pod = NB_BUF_INIT;
    nb_k8s_name(scratch.data, POD_NAME_MAX, &pod);
    nb_buf_puts(b, ",\n        name=");
    py_string(b, pod.data);
    nb_buf_release(&pod);
    nb_buf_puts(b, ",\n        image=");
    nb_buf_reset(&scratch);
    if (s->image)
        nb_buf_puts(&scratch, s->image);
    else
        nb_emit_image(c->p, c->opts, &scratch);
    py_templated(b, scratch.data);
    nb_buf_puts(b, ",\n        cmds=[\"python3\"],\n        arguments=[");
    nb_buf_reset(&scratch);
    nb_step_script_path(s, &scratch);
    py_templated(b, scratch.data);
    nb_buf_puts(b, ", \"--data-dir\", ");
    nb_buf_reset(&scratch);
    kube_run_dir(c, &scratch);
    nb_write_py_string(b, scratch.data, scratch.len);
    nb_buf_puts(b, "],\n");
    if (s->nparams) {
        nb_buf_puts(b, "        env_vars={\n");
        param_env(c, s);
        nb_buf_puts(b, "        },\n");
    }
    kube_resources(c, s);
    nb_buf_puts(b, "        volumes=[data_volume()],\n        volume_mounts=[data_mount()],\n");
    kube_dict(c, "labels", s->labels, s->nlabels);
    kube_dict(c, "annotations", s->annotations, s->nannotations);
    nb_buf_puts(b, "        on_finish_action=\"delete_pod\",\n"
                   "        get_logs=True,\n"
                   "    )\n");
    nb_buf_release(&scratch);
}

/* One `a_task >> b_task` line per edge, in step order. Task variables end in "_task", so
 * they never shadow the module's other names (DAG, k8s, data_volume, ...). */
static void edges(dag_ctx *c)
{
    bool any = false;
    for (size_t i = 0; i < c->p->nsteps; i++) {
        const nb_step *s = &c->p->steps[i];
        for (size_t u = 0; u < s->nupstream; u++) {
            nb_buf_printf(c->out, "%s    %s_task >> %s_task\n", any ? "" : "\n",
                          c->p->steps[s->upstream[u]].name, s->name);
            any = true;
        }
    }
}

static void intro(dag_ctx *c)
{
    nb_buf_printf(c->out,
                  "# Airflow %s DAG: one %s task per step, each running\n"
                  "# `python3 steps/<step>.py --data-dir <data root>/<dag id>/<run id>`%s.\n"
                  "# Parameters are DAG params, overridable when triggering; steps read them from\n"
                  "# NB2PIPE_PARAM_<NAME> environment variables.\n",
                  c->v2 ? "2.7+" : "3", c->kube ? "KubernetesPodOperator" : "BashOperator",
                  c->kube ? " in the pipeline's image" : " in the pipeline directory");
    /* the provider releases that have the module and arguments used below */
    if (c->kube)
        nb_buf_puts(c->out, "# Needs apache-airflow-providers-cncf-kubernetes 7.2 or later.\n");
    else if (!c->v2)
        nb_buf_puts(c->out, "# Needs apache-airflow-providers-standard.\n");
}

int nb_emit_airflow(const nb_pipeline *p, const nb_emit_opts *opts, nb_fileset *fs, nb_diags *diags)
{
    nb_buf id = NB_BUF_INIT;
    sanitise_dag_id(nb_emit_name(p, opts), &id);
    dag_ctx c = { .p = p, .opts = opts, .diags = diags, .dag_id = id.data,
                  .v2 = opts && opts->airflow_version == 2, .kube = opts && opts->airflow_kubernetes };
    int status = 0;
    if (opts && opts->schedule && !*opts->schedule) {
        nb_diag_add(diags, NB_ERROR, "bad-value", (nb_loc){ 0 },
                    "--schedule is empty (leave it out for a DAG that is only triggered)");
        status = -1;
    }
    if (c.kube && check_kube(&c) != 0)
        status = -1;
    nb_buf text = NB_BUF_INIT;
    c.out = &text;
    if (status == 0) {
        nb_emit_header(&text, p, "#");
        intro(&c);
        imports(&c);
        if (c.kube)
            kube_preamble(&c);
        else
            bash_preamble(&c);
        status = dag_open(&c);
    }
    for (size_t i = 0; status == 0 && i < p->nsteps; i++) {
        if (i)
            nb_buf_putc(&text, '\n');
        if (c.kube)
            kube_task(&c, &p->steps[i]);
        else
            bash_task(&c, &p->steps[i]);
    }
    if (status == 0) {
        edges(&c);
        nb_buf path = NB_BUF_INIT;
        nb_buf_puts(&path, "dags/");
        nb_buf_add_file_name(&path, id.data, ".py");
        nb_buf *out = nb_fileset_add(fs, path.data);
        nb_buf_add(out, text.data, text.len);
        nb_buf_release(&path);
    }
    nb_buf_release(&text);
    nb_buf_release(&id);
    return status;
}
