/* argo/NAME.yaml: an Argo Workflow (or, with --argo-kind template, a WorkflowTemplate)
 * whose entrypoint is a DAG template with one task per step, `dependencies` = the
 * step's upstream, and one container template per step running
 *   python3 steps/STEP.py --data-dir DIR --param NAME={{workflow.parameters.NAME}}...
 * in the pipeline image. One template per step rather than one parametrised template:
 * steps differ in image, resources, pod metadata and (with artifacts) in their input
 * and output lists, which Argo cannot vary through parameters; separate templates also
 * name the pods and UI nodes after the steps.
 *
 * Data between steps, --argo-data pvc (default): one volumeClaimTemplates PVC mounted
 * by every step at the data root, each run in its own directory <root>/{{workflow.name}}.
 * --argo-data artifacts: each output is an output artifact and each input an input
 * artifact `from` the producing task, in the cluster's default artifact repository.
 * Metrics are written with --metrics and exposed as the output parameter `metrics`.
 *
 * Argo evaluates every "{{...}}" in a template (and in spec.arguments), and a '{{'
 * without '}}' makes the whole template unparseable; Argo has no escape for it (its
 * maintainers: "You cannot escape {{", argoproj/argo-workflows#8253). Notebook values
 * and options holding '{{' are therefore refused, naming where they come from, rather
 * than carried into a field Argo would evaluate; so are values Kubernetes would expand in
 * the steps' arguments ("$$", "$(NAME)"). */
#include "nb2pipe/emit.h"

#include "nb2pipe/k8s.h"
#include "nb2pipe/writer.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* The DAG template; step templates are renamed around it. */
static const char entry_name[] = "main";
/* Step names are at most 48 characters: room for a "step-" prefix and "-N" suffixes
 * within Kubernetes' 63. */
#define TASK_NAME_MAX 50
/* A generated workflow name is the prefix plus 5 characters; Argo allows 63. */
#define WORKFLOW_NAME_MAX 57

typedef struct argo {
    const nb_pipeline *p;
    const nb_emit_opts *opts;
    nb_diags *diags;
    nb_yaml y;
    char **tasks;  /* DNS-1123 task and template name of each step */
    char *root;    /* the data root, without trailing '/' */
    nb_buf dir;    /* every step's --data-dir */
    nb_buf image;  /* the pipeline's image */
    nb_buf text;   /* scratch */
} argo;

/* ---- checks on untrusted values ----------------------------------------------- */

static bool has_template(const char *s)
{
    return strstr(s, "{{") != NULL;
}

/* Records a bad-value error; returns 1 (one more error). */
__attribute__((format(printf, 3, 4))) static int refuse(argo *a, nb_loc loc, const char *fmt, ...)
{
    nb_buf msg = NB_BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    nb_buf_vprintf(&msg, fmt, ap);
    va_end(ap);
    nb_diag_add(a->diags, NB_ERROR, "bad-value", loc, "%s", msg.data);
    nb_buf_release(&msg);
    return 1;
}

static const char templating[] = "contains '{{', which Argo would evaluate as a template "
                                 "expression (Argo has no escape for it)";

/* Kubernetes expands "$(NAME)" in a container's args from its environment and turns "$$"
 * into "$", after Argo has put the parameters in. The environment is Argo's ARGO_*
 * variables and the namespace's service links (FOO_SERVICE_HOST): upper-case names, not
 * known when converting, so any "$(UPPER_CASE)" may change; "$(whoami)" cannot. Default
 * values and the data root, which end up in args, must hold neither. (Values given at
 * submit time are the submitter's to escape as "$$".) */
static bool kubelet_expands(const char *s)
{
    for (s = strchr(s, '$'); s; s = strchr(s + 1, '$')) {
        size_t name = s[1] == '(' ? strspn(s + 2, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") : 0;
        if (s[1] == '$' || (name > 0 && s[2 + name] == ')'))
            return true;
    }
    return false;
}

static const char expansion[] = "contains '$$' or '$(NAME)', which Kubernetes would replace "
                                "in the step's arguments (by '$' or environment variable NAME)";

/* Keys, label values and quantities already follow Kubernetes' syntax (the tag reader
 * holds them to it); an image or an annotation value may still hold '{{'. */
static int check_step(argo *a, const nb_step *s)
{
    int errors = 0;
    if (s->image && has_template(s->image))
        errors += refuse(a, nb_emit_loc(a->p, s->image_cell, 0), "step '%s': tag 'image:%s' %s",
                         s->name, s->image, templating);
    for (size_t i = 0; i < s->nannotations; i++) {
        const nb_kv *kv = &s->annotations[i];
        if (has_template(kv->value))
            errors += refuse(a, nb_emit_loc(a->p, kv->cell, 0),
                             "step '%s': the value of annotation '%s' %s", s->name, kv->key,
                             templating);
    }
    return errors;
}

/* ---- parameters ---------------------------------------------------------------- */

static int check_params(argo *a)
{
    int errors = 0;
    nb_buf text = NB_BUF_INIT;
    for (size_t i = 0; i < a->p->nparams; i++) {
        const nb_param *param = &a->p->params[i];
        nb_buf_reset(&text);
        nb_loc loc = nb_emit_loc(a->p, param->cell, param->line);
        if (!nb_emit_param_text(param, &text))
            errors += refuse(a, loc, "parameter '%s': default '%s' cannot be passed as "
                             "text the step reads back; write it as a plain decimal number",
                             param->name, param->python);
        else if (has_template(text.data))
            errors += refuse(a, loc, "parameter '%s': the default value %s",
                             param->name, templating);
        else if (kubelet_expands(text.data))
            errors += refuse(a, loc, "parameter '%s': the default value %s",
                             param->name, expansion);
    }
    nb_buf_release(&text);
    return errors;
}

/* --image and --data-root come from the command line. The data root is a mount point
 * and a path in the container: absolute, not '/', no ':' (Kubernetes' mountPath). */
static int check_options(argo *a)
{
    int errors = 0;
    const char *root = nb_emit_data_root(a->opts);
    if (has_template(a->image.data))
        errors += refuse(a, (nb_loc){ 0 }, "--image '%s' %s", a->image.data, templating);
    if (has_template(root))
        errors += refuse(a, (nb_loc){ 0 }, "--data-root '%s' %s", root, templating);
    else if (kubelet_expands(root))
        errors += refuse(a, (nb_loc){ 0 }, "--data-root '%s' %s", root, expansion);
    else if (root[0] != '/' || a->root[0] == '\0' || strchr(root, ':'))
        errors += refuse(a, (nb_loc){ 0 }, "--data-root '%s' cannot be a volume's mount point in "
                         "a container: give an absolute directory other than '/', without ':'", root);
    return errors;
}

/* ---- names ----------------------------------------------------------------------- */

/* A Python identifier as an Argo parameter or artifact name ([-A-Za-z0-9_]+): ASCII
 * identifiers as they are, other bytes as "-xx" (hex). Injective: identifiers hold no
 * '-'. "nb2pipe-metrics" is never produced ('m' is not a hex digit). */
static void argo_name(const char *var, nb_buf *out)
{
    for (const unsigned char *s = (const unsigned char *)var; *s; s++) {
        if (*s < 0x80) /* an identifier's ASCII bytes are letters, digits and '_' */
            nb_buf_putc(out, (char)*s);
        else
            nb_buf_printf(out, "-%02x", *s);
    }
}

static bool name_taken(char *const *names, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (names[i] && strcmp(names[i], name) == 0)
            return true;
    return strcmp(name, entry_name) == 0;
}

/* Task (and template) names: the step name as a DNS-1123 label ("load_data" ->
 * "load-data"), "step-" before a leading digit (Argo refuses task names starting with
 * one when dependencies are used). A name that two steps share, or "main", gets "-2",
 * "-3"... on every step after the first, skipping any name another step has, so that
 * the steps with distinct names keep them. */
static char **task_names(const nb_pipeline *p)
{
    char **base = calloc(p->nsteps + 1, sizeof *base);
    char **names = calloc(p->nsteps + 1, sizeof *names);
    if (!base || !names)
        abort();
    nb_buf b = NB_BUF_INIT;
    for (size_t i = 0; i < p->nsteps; i++) {
        nb_k8s_name(p->steps[i].name, TASK_NAME_MAX, &b);
        if (b.data[0] >= '0' && b.data[0] <= '9') {
            char *digits = nb_buf_detach(&b, NULL);
            nb_buf_printf(&b, "step-%s", digits);
            free(digits);
        }
        base[i] = nb_buf_detach(&b, NULL);
    }
    for (size_t i = 0; i < p->nsteps; i++) {
        if (!name_taken(names, i, base[i])) {
            names[i] = base[i];
            base[i] = NULL;
            continue;
        }
        for (unsigned n = 2;; n++) {
            nb_buf_reset(&b);
            nb_buf_printf(&b, "%s-%u", base[i], n);
            if (!name_taken(names, i, b.data) && !name_taken(base, p->nsteps, b.data))
                break;
        }
        names[i] = nb_buf_detach(&b, NULL);
    }
    for (size_t i = 0; i < p->nsteps; i++)
        free(base[i]);
    free(base);
    nb_buf_release(&b);
    return names;
}

/* True when two steps may run at once: one is not an ancestor of the other. */
static bool has_parallel_steps(const nb_pipeline *p)
{
    size_t n = p->nsteps;
    bool *anc = calloc(n * n + 1, sizeof *anc); /* anc[j * n + i]: i runs before j */
    if (!anc)
        abort();
    bool parallel = false;
    for (size_t j = 0; j < n; j++) {
        const nb_step *s = &p->steps[j];
        for (size_t u = 0; u < s->nupstream; u++) {
            size_t up = s->upstream[u];
            anc[j * n + up] = true;
            for (size_t i = 0; i < up; i++)
                anc[j * n + i] |= anc[up * n + i];
        }
        for (size_t i = 0; i < j; i++)
            parallel |= !anc[j * n + i];
    }
    free(anc);
    return parallel;
}

/* ---- YAML ----------------------------------------------------------------------- */

static void key(argo *a, const char *k)
{
    nb_yaml_string(&a->y, k);
}

/* Indexes of N key/value pairs sorted by key (tags come in notebook order; the output
 * lists them sorted). */
static size_t *sorted_kvs(const nb_kv *kvs, size_t n)
{
    size_t *order = calloc(n + 1, sizeof *order);
    if (!order)
        abort();
    for (size_t i = 0; i < n; i++) {
        size_t j = i;
        for (; j > 0 && strcmp(kvs[order[j - 1]].key, kvs[i].key) > 0; j--)
            order[j] = order[j - 1];
        order[j] = i;
    }
    return order;
}

static void kv_map(argo *a, const char *name, const nb_kv *kvs, size_t n)
{
    size_t *order = sorted_kvs(kvs, n);
    key(a, name);
    nb_yaml_map_begin(&a->y);
    for (size_t i = 0; i < n; i++)
        nb_yaml_pair(&a->y, kvs[order[i]].key, kvs[order[i]].value);
    nb_yaml_map_end(&a->y);
    free(order);
}

static void metadata(argo *a, const char *name)
{
    key(a, "metadata");
    nb_yaml_map_begin(&a->y);
    nb_buf_reset(&a->text);
    nb_buf_puts(&a->text, name);
    if (a->opts->argo_template) {
        nb_yaml_pair(&a->y, "name", a->text.data);
    } else {
        nb_buf_putc(&a->text, '-');
        nb_yaml_pair(&a->y, "generateName", a->text.data);
    }
    key(a, "labels");
    nb_yaml_map_begin(&a->y);
    nb_yaml_pair(&a->y, "app.kubernetes.io/managed-by", "nb2pipe");
    nb_yaml_map_end(&a->y);
    nb_yaml_map_end(&a->y);
}

/* spec.arguments.parameters: every pipeline parameter, overridable with argo submit -p. */
static void arguments(argo *a)
{
    if (a->p->nparams == 0)
        return;
    key(a, "arguments");
    nb_yaml_map_begin(&a->y);
    key(a, "parameters");
    nb_yaml_seq_begin(&a->y, false);
    for (size_t i = 0; i < a->p->nparams; i++) {
        const nb_param *param = &a->p->params[i];
        nb_yaml_map_begin(&a->y);
        nb_buf_reset(&a->text);
        argo_name(param->name, &a->text);
        nb_yaml_pair(&a->y, "name", a->text.data);
        nb_buf_reset(&a->text);
        nb_emit_param_text(param, &a->text);
        nb_yaml_pair(&a->y, "value", a->text.data);
        nb_yaml_map_end(&a->y);
    }
    nb_yaml_seq_end(&a->y);
    nb_yaml_map_end(&a->y);
}

/* The shared volume. Steps are separate pods: steps that may run at the same time (two
 * branches of a DAG) can land on different nodes, where only a ReadWriteMany volume can
 * be mounted by both at once. A pipeline whose steps all run one after the other gets
 * ReadWriteOnce, which every storage class offers and which one pod after another can
 * mount wherever it is scheduled. Clusters without ReadWriteMany storage can run
 * parallel pipelines with --argo-data artifacts. */
static void volume_claim(argo *a)
{
    key(a, "volumeClaimTemplates");
    nb_yaml_seq_begin(&a->y, false);
    nb_yaml_map_begin(&a->y);
    key(a, "metadata");
    nb_yaml_map_begin(&a->y);
    nb_yaml_pair(&a->y, "name", "data");
    nb_yaml_map_end(&a->y);
    key(a, "spec");
    nb_yaml_map_begin(&a->y);
    key(a, "accessModes");
    nb_yaml_seq_begin(&a->y, true);
    nb_yaml_string(&a->y, has_parallel_steps(a->p) ? "ReadWriteMany" : "ReadWriteOnce");
    nb_yaml_seq_end(&a->y);
    key(a, "resources");
    nb_yaml_map_begin(&a->y);
    key(a, "requests");
    nb_yaml_map_begin(&a->y);
    nb_yaml_pair(&a->y, "storage", "1Gi");
    nb_yaml_map_end(&a->y);
    nb_yaml_map_end(&a->y);
    nb_yaml_map_end(&a->y);
    nb_yaml_map_end(&a->y);
    nb_yaml_seq_end(&a->y);
}

/* Where step PRODUCER keeps VAR: <dir>/<producer>/<var>.pkl, the layout the step reads
 * and writes by default, in both data modes. */
static void data_path(argo *a, const char *producer, const char *var, nb_buf *out)
{
    nb_buf_printf(out, "%s/", a->dir.data);
    nb_data_path(producer, var, out);
}

static void metrics_path(argo *a, const nb_step *s, nb_buf *out)
{
    nb_buf_printf(out, "%s/%s/metrics.json", a->dir.data, s->name);
}

static void dag_task(argo *a, size_t index)
{
    const nb_step *s = &a->p->steps[index];
    nb_yaml_map_begin(&a->y);
    nb_yaml_pair(&a->y, "name", a->tasks[index]);
    nb_yaml_pair(&a->y, "template", a->tasks[index]);
    if (s->nupstream) {
        key(a, "dependencies");
        nb_yaml_seq_begin(&a->y, true);
        for (size_t i = 0; i < s->nupstream; i++)
            nb_yaml_string(&a->y, a->tasks[s->upstream[i]]);
        nb_yaml_seq_end(&a->y);
    }
    if (a->opts->argo_artifacts && s->ninputs) {
        key(a, "arguments");
        nb_yaml_map_begin(&a->y);
        key(a, "artifacts");
        nb_yaml_seq_begin(&a->y, false);
        for (size_t i = 0; i < s->ninputs; i++) {
            nb_yaml_map_begin(&a->y);
            nb_buf_reset(&a->text);
            argo_name(s->inputs[i].name, &a->text);
            nb_yaml_pair(&a->y, "name", a->text.data);
            nb_buf_reset(&a->text);
            nb_buf_printf(&a->text, "{{tasks.%s.outputs.artifacts.", a->tasks[s->inputs[i].from]);
            argo_name(s->inputs[i].name, &a->text);
            nb_buf_puts(&a->text, "}}");
            nb_yaml_pair(&a->y, "from", a->text.data);
            nb_yaml_map_end(&a->y);
        }
        nb_yaml_seq_end(&a->y);
        nb_yaml_map_end(&a->y);
    }
    nb_yaml_map_end(&a->y);
}

static void dag_template(argo *a)
{
    nb_yaml_map_begin(&a->y);
    nb_yaml_pair(&a->y, "name", entry_name);
    key(a, "dag");
    nb_yaml_map_begin(&a->y);
    key(a, "tasks");
    nb_yaml_seq_begin(&a->y, false);
    for (size_t i = 0; i < a->p->nsteps; i++)
        dag_task(a, i);
    nb_yaml_seq_end(&a->y);
    nb_yaml_map_end(&a->y);
    nb_yaml_map_end(&a->y);
}

/* "--flag", "NAME=VALUE" as two items of args. */
static void arg_pair(argo *a, const char *flag, const char *name, const char *value)
{
    nb_yaml_string(&a->y, flag);
    nb_buf_reset(&a->text);
    nb_buf_printf(&a->text, "%s=%s", name, value);
    nb_yaml_string(&a->y, a->text.data);
}

/* The command line: no shell, one list item per word. */
static void step_args(argo *a, const nb_step *s)
{
    nb_buf path = NB_BUF_INIT;
    key(a, "args");
    nb_yaml_seq_begin(&a->y, false);
    nb_step_script_path(s, &path);
    nb_yaml_string(&a->y, path.data);
    nb_yaml_string(&a->y, "--data-dir");
    nb_yaml_string(&a->y, a->dir.data);
    for (size_t i = 0; i < s->nparams; i++) {
        const char *name = a->p->params[s->params[i]].name;
        nb_buf_reset(&path);
        nb_buf_puts(&path, "{{workflow.parameters.");
        argo_name(name, &path);
        nb_buf_puts(&path, "}}");
        arg_pair(a, "--param", name, path.data);
    }
    for (size_t i = 0; a->opts->argo_artifacts && i < s->ninputs; i++) {
        nb_buf_reset(&path);
        data_path(a, a->p->steps[s->inputs[i].from].name, s->inputs[i].name, &path);
        arg_pair(a, "--input", s->inputs[i].name, path.data);
    }
    for (size_t i = 0; a->opts->argo_artifacts && i < s->noutputs; i++) {
        nb_buf_reset(&path);
        data_path(a, s->name, s->outputs[i], &path);
        arg_pair(a, "--output", s->outputs[i], path.data);
    }
    if (s->nmetrics) {
        nb_buf_reset(&path);
        metrics_path(a, s, &path);
        nb_yaml_string(&a->y, "--metrics");
        nb_yaml_string(&a->y, path.data);
    }
    nb_yaml_seq_end(&a->y);
    nb_buf_release(&path);
}

/* Limits and the same requests: the pod gets what the tags ask for, and Kubernetes
 * requires requests = limits for extended resources such as nvidia.com/gpu anyway. */
static void resources(argo *a, const nb_step *s)
{
    if (!s->nlimits)
        return;
    key(a, "resources");
    nb_yaml_map_begin(&a->y);
    kv_map(a, "limits", s->limits, s->nlimits);
    kv_map(a, "requests", s->limits, s->nlimits);
    nb_yaml_map_end(&a->y);
}

static void container(argo *a, const nb_step *s)
{
    key(a, "container");
    nb_yaml_map_begin(&a->y);
    nb_yaml_pair(&a->y, "image", s->image ? s->image : a->image.data);
    key(a, "command");
    nb_yaml_seq_begin(&a->y, true);
    nb_yaml_string(&a->y, "python3");
    nb_yaml_seq_end(&a->y);
    step_args(a, s);
    resources(a, s);
    if (!a->opts->argo_artifacts) {
        key(a, "volumeMounts");
        nb_yaml_seq_begin(&a->y, false);
        nb_yaml_map_begin(&a->y);
        nb_yaml_pair(&a->y, "name", "data");
        nb_yaml_pair(&a->y, "mountPath", a->root);
        nb_yaml_map_end(&a->y);
        nb_yaml_seq_end(&a->y);
    }
    nb_yaml_map_end(&a->y);
}

/* One artifact: NAME at PATH. */
static void artifact(argo *a, const char *name, const char *path)
{
    nb_yaml_map_begin(&a->y);
    nb_yaml_pair(&a->y, "name", name);
    nb_yaml_pair(&a->y, "path", path);
    nb_yaml_map_end(&a->y);
}

static void input_artifacts(argo *a, const nb_step *s)
{
    if (!a->opts->argo_artifacts || !s->ninputs)
        return;
    nb_buf name = NB_BUF_INIT, path = NB_BUF_INIT;
    key(a, "inputs");
    nb_yaml_map_begin(&a->y);
    key(a, "artifacts");
    nb_yaml_seq_begin(&a->y, false);
    for (size_t i = 0; i < s->ninputs; i++) {
        nb_buf_reset(&name);
        nb_buf_reset(&path);
        argo_name(s->inputs[i].name, &name);
        data_path(a, a->p->steps[s->inputs[i].from].name, s->inputs[i].name, &path);
        artifact(a, name.data, path.data);
    }
    nb_yaml_seq_end(&a->y);
    nb_yaml_map_end(&a->y);
    nb_buf_release(&name);
    nb_buf_release(&path);
}

/* Outputs: the metrics as the output parameter `metrics` (kept in the workflow's status
 * after the volume is gone) and, with artifacts, as artifact "nb2pipe-metrics" too;
 * each output variable as an artifact. */
static void outputs(argo *a, const nb_step *s)
{
    bool artifacts = a->opts->argo_artifacts && (s->noutputs || s->nmetrics);
    if (!artifacts && !s->nmetrics)
        return;
    nb_buf name = NB_BUF_INIT, path = NB_BUF_INIT;
    metrics_path(a, s, &path);
    key(a, "outputs");
    nb_yaml_map_begin(&a->y);
    if (s->nmetrics) {
        key(a, "parameters");
        nb_yaml_seq_begin(&a->y, false);
        nb_yaml_map_begin(&a->y);
        nb_yaml_pair(&a->y, "name", "metrics");
        key(a, "valueFrom");
        nb_yaml_map_begin(&a->y);
        nb_yaml_pair(&a->y, "path", path.data);
        nb_yaml_map_end(&a->y);
        nb_yaml_map_end(&a->y);
        nb_yaml_seq_end(&a->y);
    }
    if (artifacts) {
        key(a, "artifacts");
        nb_yaml_seq_begin(&a->y, false);
        if (s->nmetrics)
            artifact(a, "nb2pipe-metrics", path.data);
        for (size_t i = 0; i < s->noutputs; i++) {
            nb_buf_reset(&name);
            nb_buf_reset(&path);
            argo_name(s->outputs[i], &name);
            data_path(a, s->name, s->outputs[i], &path);
            artifact(a, name.data, path.data);
        }
        nb_yaml_seq_end(&a->y);
    }
    nb_yaml_map_end(&a->y);
    nb_buf_release(&name);
    nb_buf_release(&path);
}

/* Pod metadata from the step's annotation: and label: tags. */
static void pod_metadata(argo *a, const nb_step *s)
{
    if (!s->nannotations && !s->nlabels)
        return;
    key(a, "metadata");
    nb_yaml_map_begin(&a->y);
    if (s->nannotations)
        kv_map(a, "annotations", s->annotations, s->nannotations);
    if (s->nlabels)
        kv_map(a, "labels", s->labels, s->nlabels);
    nb_yaml_map_end(&a->y);
}

static void step_template(argo *a, size_t index)
{
    const nb_step *s = &a->p->steps[index];
    nb_yaml_map_begin(&a->y);
    nb_yaml_pair(&a->y, "name", a->tasks[index]);
    pod_metadata(a, s);
    input_artifacts(a, s);
    container(a, s);
    outputs(a, s);
    nb_yaml_map_end(&a->y);
}

static void document(argo *a, const char *name)
{
    nb_yaml_map_begin(&a->y);
    nb_yaml_pair(&a->y, "apiVersion", "argoproj.io/v1alpha1");
    nb_yaml_pair(&a->y, "kind", a->opts->argo_template ? "WorkflowTemplate" : "Workflow");
    metadata(a, name);
    key(a, "spec");
    nb_yaml_map_begin(&a->y);
    nb_yaml_pair(&a->y, "entrypoint", entry_name);
    arguments(a);
    if (!a->opts->argo_artifacts)
        volume_claim(a);
    key(a, "templates");
    nb_yaml_seq_begin(&a->y, false);
    dag_template(a);
    for (size_t i = 0; i < a->p->nsteps; i++)
        step_template(a, i);
    nb_yaml_seq_end(&a->y);
    nb_yaml_map_end(&a->y);
    nb_yaml_map_end(&a->y);
}

static int check_all(argo *a)
{
    int errors = check_options(a) + check_params(a);
    for (size_t i = 0; i < a->p->nsteps; i++)
        errors += check_step(a, &a->p->steps[i]);
    return errors;
}

/* The data root without trailing slashes ("/" gives ""). Caller frees. */
static char *data_root(const nb_emit_opts *opts)
{
    nb_buf root = NB_BUF_INIT;
    nb_buf_puts(&root, nb_emit_data_root(opts));
    while (root.len > 0 && root.data[root.len - 1] == '/')
        nb_buf_truncate(&root, root.len - 1);
    return nb_buf_detach(&root, NULL);
}

static int write_file(argo *a, nb_fileset *fs)
{
    /* a volume keeps runs apart by directory; artifacts live in each pod's own
     * filesystem, where no other run can see them */
    nb_buf_puts(&a->dir, a->root);
    if (!a->opts->argo_artifacts)
        nb_buf_puts(&a->dir, "/{{workflow.name}}");
    nb_buf name = NB_BUF_INIT, path = NB_BUF_INIT;
    nb_k8s_name(nb_emit_name(a->p, a->opts), WORKFLOW_NAME_MAX, &name);
    nb_buf_puts(&path, "argo/");
    nb_buf_add_file_name(&path, name.data, ".yaml");
    nb_buf *out = nb_fileset_add(fs, path.data);
    nb_emit_header(out, a->p, "#");
    a->tasks = task_names(a->p);
    nb_yaml_begin(&a->y, out);
    document(a, name.data);
    int status = 0;
    if (!nb_yaml_end(&a->y)) {
        nb_diag_add(a->diags, NB_ERROR, "internal", (nb_loc){ .file = path.data }, "%s", a->y.error);
        status = -1;
    }
    for (size_t i = 0; i < a->p->nsteps; i++)
        free(a->tasks[i]);
    free(a->tasks);
    nb_buf_release(&name);
    nb_buf_release(&path);
    return status;
}

int nb_emit_argo(const nb_pipeline *p, const nb_emit_opts *opts, nb_fileset *fs, nb_diags *diags)
{
    static const nb_emit_opts no_opts;
    argo a = { .p = p, .opts = opts ? opts : &no_opts, .diags = diags, .root = data_root(opts) };
    nb_buf_init(&a.dir);
    nb_buf_init(&a.image);
    nb_buf_init(&a.text);
    nb_emit_image(p, opts, &a.image);
    int status = check_all(&a) ? -1 : write_file(&a, fs);
    free(a.root);
    nb_buf_release(&a.dir);
    nb_buf_release(&a.image);
    nb_buf_release(&a.text);
    return status;
}
