/* kfp/NAME.yaml: the pipeline as a compiled Kubeflow Pipelines v2 PipelineSpec (the IR
 * YAML the KFP SDK writes, ../shared/reference/kfp/pipeline_spec.proto), written
 * directly: one container component, executor and task per step, keys sorted at every
 * level as the SDK writes them.
 *
 * - Data between steps: each output variable is a system.Dataset output artifact named
 *   after the variable; a step that loads it has an input artifact of the same name,
 *   wired with taskOutputArtifact. The step gets the local paths KFP provides:
 *   `--input VAR={{$.inputs.artifacts['VAR'].path}}`,
 *   `--output VAR={{$.outputs.artifacts['VAR'].path}}`. No data directory is used.
 * - Metrics: a system.Metrics output artifact `pipeline-metrics` (not a Python name,
 *   so it cannot clash with a variable), passed as `--metrics PATH`.
 * - Parameters: root inputDefinitions with defaults, read by the tasks that use them
 *   through componentInputParameter and passed as `--param NAME=VALUE`. A None default
 *   is a STRING "None": the step reads a parameter whose default is None with
 *   ast.literal_eval, so a run may give any Python literal.
 * - Resources from limit: tags: cpu and memory as K8s quantities in
 *   resourceCpuLimit/resourceMemoryLimit (what the backend reads, with
 *   k8s ParseQuantity), any other resource as the accelerator (resourceType/
 *   resourceCount). Like the KFP SDK, the deprecated numeric fields are set too for
 *   older backends: cpuLimit in cores, memoryLimit in GB (10^9 bytes), accelerator
 *   type/count.
 * - Annotations and labels: a second YAML document, the Kubernetes PlatformSpec
 *   (platforms.kubernetes.deploymentSpec.executors.EXEC.podMetadata), which the
 *   backend's Argo compiler puts on the step's pod.
 * - Caching is off: the default image tag (:latest) stays the same when the notebook
 *   changes, and KFP's cache key only sees the image's name, so a cached task would
 *   return what older code computed. A run can turn caching on.
 * - Values from the notebook containing "{{" are refused: the launcher replaces
 *   "{{$...}}" placeholders in a step's arguments after putting parameter values in
 *   (in no fixed order), and the backend hands the spec to Argo Workflows inside
 *   workflow parameters, whose "{{...}}" expressions Argo expands. */
#include "nb2pipe/emit.h"

#include "nb2pipe/k8s.h"
#include "nb2pipe/text.h"
#include "nb2pipe/writer.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef NB2PIPE_VERSION
#define NB2PIPE_VERSION "0.0.0"
#endif

/* KFP's rule for pipeline names: lower-case letters, digits and '-', at most 128 (the
 * SDK's check). Task names are kept DNS labels; step names have at most 48 characters,
 * so a "-N" suffix still fits. */
enum { PIPELINE_NAME_MAX = 128, TASK_NAME_MAX = 63 };

static const char METRICS_ARTIFACT[] = "pipeline-metrics";

/* A name and the index of what it names, to sort by name. */
typedef struct named {
    const char *name;
    size_t index;
} named;

static int by_name(const void *a, const void *b)
{
    return strcmp(((const named *)a)->name, ((const named *)b)->name);
}

typedef struct kfp {
    const nb_pipeline *p;
    nb_diags *diags;
    nb_yaml y;
    nb_pool pool;
    const char **task; /* task name of each step */
    named *order;      /* the steps sorted by task name */
    const char *image; /* the pipeline's image */
    nb_buf scratch;
} kfp;

/* ---- Names ------------------------------------------------------------------------- */

static bool task_taken(const kfp *k, size_t upto, const char *name)
{
    for (size_t i = 0; i < upto; i++)
        if (strcmp(k->task[i], name) == 0)
            return true;
    return false;
}

/* Task names as the KFP SDK makes them (lower case, '-' for other characters), made
 * unique in step order with -2, -3 as the SDK does: "load_data" -> "load-data". */
static void name_tasks(kfp *k)
{
    const nb_pipeline *p = k->p;
    k->task = nb_pool_alloc(&k->pool, (p->nsteps + 1) * sizeof *k->task);
    k->order = nb_pool_alloc(&k->pool, (p->nsteps + 1) * sizeof *k->order);
    nb_buf base = NB_BUF_INIT, name = NB_BUF_INIT;
    for (size_t i = 0; i < p->nsteps; i++) {
        nb_buf_reset(&base);
        nb_k8s_name(p->steps[i].name, TASK_NAME_MAX, &base);
        nb_buf_reset(&name);
        nb_buf_puts(&name, base.data);
        for (unsigned n = 2; task_taken(k, i, name.data); n++) {
            nb_buf_reset(&name);
            nb_buf_printf(&name, "%s-%u", base.data, n);
        }
        k->task[i] = nb_pool_strdup(&k->pool, name.data);
        k->order[i] = (named){ k->task[i], i };
    }
    nb_buf_release(&base);
    nb_buf_release(&name);
    qsort(k->order, p->nsteps, sizeof *k->order, by_name);
}

/* PREFIX + the task name of step S, in the pool ("comp-clean", "exec-clean"). */
static const char *task_key(kfp *k, const char *prefix, size_t s)
{
    nb_buf_reset(&k->scratch);
    nb_buf_printf(&k->scratch, "%s%s", prefix, k->task[s]);
    return nb_pool_strdup(&k->pool, k->scratch.data);
}

/* ---- Checks on notebook values ---------------------------------------------------------- */

/* Refuses VALUE (from LOC) when it holds "{{"; FMT... describes it ("annotation 'x' of
 * step 'y'"). Keys and label values cannot hold braces: the tag reader holds them to
 * Kubernetes' syntax. */
__attribute__((format(printf, 4, 5))) static void check_literal(kfp *k, nb_loc loc,
                                                               const char *value,
                                                               const char *fmt, ...)
{
    if (!strstr(value, "{{"))
        return;
    nb_buf what = NB_BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    nb_buf_vprintf(&what, fmt, ap);
    va_end(ap);
    nb_diag_add(k->diags, NB_ERROR, "bad-value", loc,
                "%s contains '{{', which Kubeflow Pipelines would take for a placeholder "
                "('{{$...}}' in the launcher, '{{...}}' in Argo Workflows): not exported to kfp",
                what.data);
    nb_buf_release(&what);
}

/* ---- Numbers ------------------------------------------------------------------------- */

/* Skips the sign of a Python number literal and the blanks it allows after it ("- 5"). */
static const char *skip_sign(const char *s, bool *negative)
{
    *negative = *s == '-';
    if (*s == '-' || *s == '+')
        s++;
    return s + strspn(s, " \t\r\n\\");
}

/* A Python int literal (sign, 0x/0o/0b, underscores) as a decimal YAML/JSON integer.
 * False when it is none (1j) or KFP cannot hold it: parameter values are doubles,
 * exact up to 2^53. */
static bool int_text(const char *text, nb_buf *out)
{
    bool negative;
    const char *s = skip_sign(text, &negative);
    unsigned base = 10;
    if (s[0] == '0' && s[1] && strchr("xXoObB", s[1])) {
        base = s[1] == 'x' || s[1] == 'X' ? 16 : s[1] == 'o' || s[1] == 'O' ? 8 : 2;
        s += 2;
    }
    const unsigned long long limit = 1ULL << 53;
    unsigned long long v = 0;
    bool any = false;
    for (; *s; s++) {
        if (*s == '_')
            continue;
        int digit = nb_hex_digit((unsigned char)*s);
        unsigned d = (unsigned)digit;
        if (digit < 0 || d >= base || v > (limit - d) / base)
            return false;
        v = v * base + d;
        any = true;
    }
    if (!any)
        return false;
    nb_buf_printf(out, "%s%llu", negative && v ? "-" : "", v);
    return true;
}

/* Appends the decimal digits at *S (skipping Python's underscores); returns how many. */
static size_t take_digits(const char **s, nb_buf *out)
{
    size_t n = 0;
    for (; (**s >= '0' && **s <= '9') || **s == '_'; (*s)++) {
        if (**s != '_') {
            nb_buf_putc(out, **s);
            n++;
        }
    }
    return n;
}

/* A Python float literal as a number every YAML reader takes for a float, the same
 * value written canonically: "[-]D.D[e±D]" (".5" -> "0.5", "1e5" -> "1.0e+5"; YAML 1.1
 * readers want the dot and the exponent's sign). False for 1.5j or an infinite value. */
static bool float_text(const char *text, nb_buf *out)
{
    bool negative;
    const char *s = skip_sign(text, &negative);
    nb_buf ip = NB_BUF_INIT, fp = NB_BUF_INIT, ep = NB_BUF_INIT;
    size_t digits = take_digits(&s, &ip);
    if (*s == '.') {
        s++;
        digits += take_digits(&s, &fp);
    }
    bool ok = digits > 0;
    char esign = '+';
    if (ok && (*s == 'e' || *s == 'E')) {
        s++;
        if (*s == '-' || *s == '+')
            esign = *s++;
        ok = take_digits(&s, &ep) > 0;
    }
    ok = ok && *s == '\0';
    if (ok) {
        size_t start = out->len;
        const char *i = ip.data + strspn(ip.data, "0");
        nb_buf_printf(out, "%s%s.%s", negative ? "-" : "", *i ? i : "0", fp.len ? fp.data : "0");
        if (ep.len)
            nb_buf_printf(out, "e%c%s", esign, ep.data);
        ok = isfinite(strtod(out->data + start, NULL));
    }
    nb_buf_release(&ip);
    nb_buf_release(&fp);
    nb_buf_release(&ep);
    return ok;
}

/* V in the shortest "%g" form that reads back as V, with a dot in the mantissa. */
static void double_text(double v, nb_buf *out)
{
    char text[40];
    for (int precision = 1; precision <= 17; precision++) {
        snprintf(text, sizeof text, "%.*g", precision, v);
        if (strtod(text, NULL) == v)
            break;
    }
    char *e = strchr(text, 'e');
    size_t mantissa = e ? (size_t)(e - text) : strlen(text);
    nb_buf_add(out, text, mantissa);
    if (!memchr(text, '.', mantissa))
        nb_buf_puts(out, ".0");
    if (e)
        nb_buf_puts(out, e);
}

/* ---- YAML pieces ---------------------------------------------------------------------- */

static void key(kfp *k, const char *name)
{
    nb_yaml_string(&k->y, name);
}

/* KEY: and a mapping begins. */
static void open_map(kfp *k, const char *name)
{
    key(k, name);
    nb_yaml_map_begin(&k->y);
}

/* KEY: VALUE with VALUE a YAML number or boolean. */
static void pair_plain(kfp *k, const char *name, const char *value)
{
    key(k, name);
    nb_yaml_plain(&k->y, value);
}

static void artifact_type(kfp *k, const char *name, const char *schema)
{
    open_map(k, name);
    open_map(k, "artifactType");
    nb_yaml_pair(&k->y, "schemaTitle", schema);
    nb_yaml_pair(&k->y, "schemaVersion", "0.0.1");
    nb_yaml_map_end(&k->y);
    nb_yaml_map_end(&k->y);
}

static const char *param_type(const nb_param *param)
{
    switch (param->type) {
    case NB_TYPE_INT: return "NUMBER_INTEGER";
    case NB_TYPE_FLOAT: return "NUMBER_DOUBLE";
    case NB_TYPE_BOOL: return "BOOLEAN";
    default: return "STRING"; /* strings, and None (see the top of the file) */
    }
}

/* Step S's parameters sorted by name; the caller frees the array. */
static named *step_params(const kfp *k, const nb_step *s)
{
    named *out = nb_xcalloc(s->nparams + 1, sizeof *out);
    for (size_t i = 0; i < s->nparams; i++)
        out[i] = (named){ k->p->params[s->params[i]].name, s->params[i] };
    qsort(out, s->nparams, sizeof *out, by_name);
    return out;
}

/* The output artifacts of step S sorted by name (variables, and the metrics, whose
 * index is -1); *N is set to their number; the caller frees the array. */
static named *step_outputs(const nb_step *s, size_t *n)
{
    named *out = nb_xcalloc(s->noutputs + 2, sizeof *out);
    *n = 0;
    for (size_t i = 0; i < s->noutputs; i++)
        out[(*n)++] = (named){ s->outputs[i], i };
    if (s->nmetrics)
        out[(*n)++] = (named){ METRICS_ARTIFACT, (size_t)-1 };
    qsort(out, *n, sizeof *out, by_name);
    return out;
}

/* Step S's inputs sorted by name; the caller frees the array. */
static named *step_inputs(const nb_step *s)
{
    named *out = nb_xcalloc(s->ninputs + 1, sizeof *out);
    for (size_t i = 0; i < s->ninputs; i++)
        out[i] = (named){ s->inputs[i].name, i };
    qsort(out, s->ninputs, sizeof *out, by_name);
    return out;
}

/* ---- components ------------------------------------------------------------------------ */

static void component(kfp *k, size_t si)
{
    const nb_step *s = &k->p->steps[si];
    open_map(k, task_key(k, "comp-", si));
    nb_yaml_pair(&k->y, "executorLabel", task_key(k, "exec-", si));
    if (s->ninputs || s->nparams) {
        open_map(k, "inputDefinitions");
        if (s->ninputs) {
            named *inputs = step_inputs(s);
            open_map(k, "artifacts");
            for (size_t i = 0; i < s->ninputs; i++)
                artifact_type(k, inputs[i].name, "system.Dataset");
            nb_yaml_map_end(&k->y);
            free(inputs);
        }
        if (s->nparams) {
            named *params = step_params(k, s);
            open_map(k, "parameters");
            for (size_t i = 0; i < s->nparams; i++) {
                open_map(k, params[i].name);
                nb_yaml_pair(&k->y, "parameterType", param_type(&k->p->params[params[i].index]));
                nb_yaml_map_end(&k->y);
            }
            nb_yaml_map_end(&k->y);
            free(params);
        }
        nb_yaml_map_end(&k->y);
    }
    size_t n;
    named *outputs = step_outputs(s, &n);
    if (n) {
        open_map(k, "outputDefinitions");
        open_map(k, "artifacts");
        for (size_t i = 0; i < n; i++)
            artifact_type(k, outputs[i].name,
                          outputs[i].index == (size_t)-1 ? "system.Metrics" : "system.Dataset");
        nb_yaml_map_end(&k->y);
        nb_yaml_map_end(&k->y);
    }
    free(outputs);
    nb_yaml_map_end(&k->y);
}

/* ---- deploymentSpec ------------------------------------------------------------------------ */

/* OPTION and NAME=PLACEHOLDER as two arguments. */
static void arg_pair(kfp *k, const char *option, const char *name, const char *fmt)
{
    nb_yaml_string(&k->y, option);
    nb_buf_reset(&k->scratch);
    nb_buf_printf(&k->scratch, "%s=", name);
    nb_buf_printf(&k->scratch, fmt, name);
    nb_yaml_string(&k->y, k->scratch.data);
}

static void args(kfp *k, const nb_step *s)
{
    key(k, "args");
    nb_yaml_seq_begin(&k->y, false);
    nb_buf_reset(&k->scratch);
    nb_step_script_path(s, &k->scratch);
    nb_yaml_string(&k->y, k->scratch.data);
    named *params = step_params(k, s);
    for (size_t i = 0; i < s->nparams; i++)
        arg_pair(k, "--param", params[i].name, "{{$.inputs.parameters['%s']}}");
    free(params);
    named *inputs = step_inputs(s);
    for (size_t i = 0; i < s->ninputs; i++)
        arg_pair(k, "--input", inputs[i].name, "{{$.inputs.artifacts['%s'].path}}");
    free(inputs);
    for (size_t i = 0; i < s->noutputs; i++) /* sorted in the IR */
        arg_pair(k, "--output", s->outputs[i], "{{$.outputs.artifacts['%s'].path}}");
    if (s->nmetrics) {
        nb_yaml_string(&k->y, "--metrics");
        nb_buf_reset(&k->scratch);
        nb_buf_printf(&k->scratch, "{{$.outputs.artifacts['%s'].path}}", METRICS_ARTIFACT);
        nb_yaml_string(&k->y, k->scratch.data);
    }
    nb_yaml_seq_end(&k->y);
}

/* The accelerator: the one limit that is neither cpu nor memory, or NULL. Several are
 * refused: a KFP task has one accelerator. */
static const nb_kv *accelerator(kfp *k, const nb_step *s)
{
    const nb_kv *found = NULL;
    for (size_t i = 0; i < s->nlimits; i++) {
        const nb_kv *kv = &s->limits[i];
        if (strcmp(kv->key, "cpu") == 0 || strcmp(kv->key, "memory") == 0)
            continue;
        if (found)
            nb_diag_add(k->diags, NB_ERROR, "bad-value", nb_emit_loc(k->p, kv->cell, 0),
                        "step '%s' has limits for '%s' and '%s': a Kubeflow Pipelines task "
                        "takes cpu, memory and one accelerator",
                        s->name, found->key, kv->key);
        found = kv;
    }
    return found;
}

static const char *limit_of(const nb_step *s, const char *resource)
{
    for (size_t i = 0; i < s->nlimits; i++)
        if (strcmp(s->limits[i].key, resource) == 0)
            return s->limits[i].value;
    return NULL;
}

/* KEY: VALUE for the deprecated double fields (cpuLimit, memoryLimit). */
static void pair_double(kfp *k, const char *name, double value)
{
    nb_buf_reset(&k->scratch);
    double_text(value, &k->scratch);
    pair_plain(k, name, k->scratch.data);
}

static void resources(kfp *k, const nb_step *s)
{
    const char *cpu = limit_of(s, "cpu"), *memory = limit_of(s, "memory");
    const nb_kv *acc = accelerator(k, s);
    if (!cpu && !memory && !acc)
        return;
    open_map(k, "resources");
    if (acc) {
        open_map(k, "accelerator");
        /* the deprecated int64 count only holds a whole number */
        if (acc->value[strspn(acc->value, "0123456789")] == '\0')
            pair_plain(k, "count", acc->value);
        nb_yaml_pair(&k->y, "resourceCount", acc->value);
        nb_yaml_pair(&k->y, "resourceType", acc->key);
        nb_yaml_pair(&k->y, "type", acc->key);
        nb_yaml_map_end(&k->y);
    }
    if (cpu)
        pair_double(k, "cpuLimit", nb_quantity_value(cpu));
    if (memory)
        pair_double(k, "memoryLimit", nb_quantity_value(memory) / 1e9);
    if (cpu)
        nb_yaml_pair(&k->y, "resourceCpuLimit", cpu);
    if (memory)
        nb_yaml_pair(&k->y, "resourceMemoryLimit", memory);
    nb_yaml_map_end(&k->y);
}

static void executor(kfp *k, size_t si)
{
    const nb_step *s = &k->p->steps[si];
    open_map(k, task_key(k, "exec-", si));
    open_map(k, "container");
    args(k, s);
    key(k, "command");
    nb_yaml_seq_begin(&k->y, false);
    nb_yaml_string(&k->y, "python3");
    nb_yaml_seq_end(&k->y);
    if (s->image)
        check_literal(k, nb_emit_loc(k->p, s->image_cell, 0), s->image, "the image of step '%s'",
                      s->name);
    nb_yaml_pair(&k->y, "image", s->image ? s->image : k->image);
    resources(k, s);
    nb_yaml_map_end(&k->y);
    nb_yaml_map_end(&k->y);
}

/* ---- root ------------------------------------------------------------------------------ */

/* A parameter's default as a YAML value of its KFP type. */
static void default_value(kfp *k, const nb_param *param)
{
    key(k, "defaultValue");
    nb_buf_reset(&k->scratch);
    bool ok = true;
    switch (param->type) {
    case NB_TYPE_INT: ok = int_text(param->value, &k->scratch); break;
    case NB_TYPE_FLOAT: ok = float_text(param->value, &k->scratch); break;
    case NB_TYPE_BOOL: nb_buf_puts(&k->scratch, param->value[0] == 'T' ? "true" : "false"); break;
    case NB_TYPE_NONE:
    case NB_TYPE_STRING:
        check_literal(k, nb_emit_loc(k->p, param->cell, param->line), param->value,
                      "the default of parameter '%s'", param->name);
        nb_yaml_string(&k->y, param->type == NB_TYPE_NONE ? "None" : param->value);
        return;
    }
    if (!ok) {
        nb_diag_add(k->diags, NB_ERROR, "bad-value", nb_emit_loc(k->p, param->cell, param->line),
                    "the default of parameter '%s' (%s) is not a number Kubeflow Pipelines "
                    "can hold (a double: integers up to 2^53)",
                    param->name, param->python);
        nb_buf_puts(&k->scratch, "0");
    }
    nb_yaml_plain(&k->y, k->scratch.data);
}

static void root_inputs(kfp *k)
{
    const nb_pipeline *p = k->p;
    if (!p->nparams)
        return;
    named *params = nb_xcalloc(p->nparams, sizeof *params);
    for (size_t i = 0; i < p->nparams; i++)
        params[i] = (named){ p->params[i].name, i };
    qsort(params, p->nparams, sizeof *params, by_name);
    open_map(k, "inputDefinitions");
    open_map(k, "parameters");
    for (size_t i = 0; i < p->nparams; i++) {
        const nb_param *param = &p->params[params[i].index];
        open_map(k, param->name);
        default_value(k, param);
        pair_plain(k, "isOptional", "true");
        nb_yaml_pair(&k->y, "parameterType", param_type(param));
        nb_yaml_map_end(&k->y);
    }
    nb_yaml_map_end(&k->y);
    nb_yaml_map_end(&k->y);
    free(params);
}

static void task_inputs(kfp *k, const nb_step *s)
{
    if (!s->ninputs && !s->nparams)
        return;
    open_map(k, "inputs");
    if (s->ninputs) {
        named *inputs = step_inputs(s);
        open_map(k, "artifacts");
        for (size_t i = 0; i < s->ninputs; i++) {
            const nb_input *in = &s->inputs[inputs[i].index];
            open_map(k, in->name);
            open_map(k, "taskOutputArtifact");
            nb_yaml_pair(&k->y, "outputArtifactKey", in->name);
            nb_yaml_pair(&k->y, "producerTask", k->task[in->from]);
            nb_yaml_map_end(&k->y);
            nb_yaml_map_end(&k->y);
        }
        nb_yaml_map_end(&k->y);
        free(inputs);
    }
    if (s->nparams) {
        named *params = step_params(k, s);
        open_map(k, "parameters");
        for (size_t i = 0; i < s->nparams; i++) {
            open_map(k, params[i].name);
            nb_yaml_pair(&k->y, "componentInputParameter", params[i].name);
            nb_yaml_map_end(&k->y);
        }
        nb_yaml_map_end(&k->y);
        free(params);
    }
    nb_yaml_map_end(&k->y);
}

static void task(kfp *k, size_t si)
{
    const nb_step *s = &k->p->steps[si];
    open_map(k, k->task[si]);
    open_map(k, "cachingOptions");
    pair_plain(k, "enableCache", "false");
    nb_yaml_map_end(&k->y);
    open_map(k, "componentRef");
    nb_yaml_pair(&k->y, "name", task_key(k, "comp-", si));
    nb_yaml_map_end(&k->y);
    if (s->nupstream) {
        key(k, "dependentTasks");
        nb_yaml_seq_begin(&k->y, false);
        for (size_t i = 0; i < s->nupstream; i++)
            nb_yaml_string(&k->y, k->task[s->upstream[i]]);
        nb_yaml_seq_end(&k->y);
    }
    task_inputs(k, s);
    open_map(k, "taskInfo");
    nb_yaml_pair(&k->y, "name", k->task[si]);
    nb_yaml_map_end(&k->y);
    nb_yaml_map_end(&k->y);
}

/* ---- The Kubernetes platform spec ----------------------------------------------------------- */

/* Ends the PipelineSpec document and starts the platform spec's, with "---": KFP reads
 * the Kubernetes config as the file's second document. nb_yaml has no call for this, so
 * the two events go to its libyaml emitter here. */
/* KEY: {k: v...} from KVS, sorted by key. */
static void string_map(kfp *k, const char *name, const nb_kv *kvs, size_t n)
{
    named *sorted = nb_xcalloc(n + 1, sizeof *sorted);
    for (size_t i = 0; i < n; i++)
        sorted[i] = (named){ kvs[i].key, i };
    qsort(sorted, n, sizeof *sorted, by_name);
    open_map(k, name);
    for (size_t i = 0; i < n; i++)
        nb_yaml_pair(&k->y, kvs[sorted[i].index].key, kvs[sorted[i].index].value);
    nb_yaml_map_end(&k->y);
    free(sorted);
}

static void platform_spec(kfp *k)
{
    const nb_pipeline *p = k->p;
    bool any = false;
    for (size_t i = 0; i < p->nsteps; i++)
        any = any || p->steps[i].nannotations || p->steps[i].nlabels;
    if (!any)
        return;
    nb_yaml_next_document(&k->y);
    nb_yaml_map_begin(&k->y);
    open_map(k, "platforms");
    open_map(k, "kubernetes");
    open_map(k, "deploymentSpec");
    open_map(k, "executors");
    for (size_t i = 0; i < p->nsteps; i++) {
        const nb_step *s = &p->steps[k->order[i].index];
        if (!s->nannotations && !s->nlabels)
            continue;
        for (size_t a = 0; a < s->nannotations; a++)
            check_literal(k, nb_emit_loc(p, s->annotations[a].cell, 0), s->annotations[a].value,
                          "annotation '%s' of step '%s'", s->annotations[a].key, s->name);
        open_map(k, task_key(k, "exec-", k->order[i].index));
        open_map(k, "podMetadata");
        if (s->nannotations)
            string_map(k, "annotations", s->annotations, s->nannotations);
        if (s->nlabels)
            string_map(k, "labels", s->labels, s->nlabels);
        nb_yaml_map_end(&k->y);
        nb_yaml_map_end(&k->y);
    }
    for (int depth = 0; depth < 5; depth++) /* executors ... platforms, the document */
        nb_yaml_map_end(&k->y);
}

/* ---- The file ------------------------------------------------------------------------------ */

static void pipeline_spec(kfp *k, const char *name)
{
    const nb_pipeline *p = k->p;
    nb_yaml_map_begin(&k->y);
    open_map(k, "components");
    for (size_t i = 0; i < p->nsteps; i++)
        component(k, k->order[i].index);
    nb_yaml_map_end(&k->y);
    open_map(k, "deploymentSpec");
    open_map(k, "executors");
    for (size_t i = 0; i < p->nsteps; i++)
        executor(k, k->order[i].index);
    nb_yaml_map_end(&k->y);
    nb_yaml_map_end(&k->y);
    open_map(k, "pipelineInfo");
    nb_yaml_pair(&k->y, "name", name);
    nb_yaml_map_end(&k->y);
    open_map(k, "root");
    open_map(k, "dag");
    open_map(k, "tasks");
    for (size_t i = 0; i < p->nsteps; i++)
        task(k, k->order[i].index);
    nb_yaml_map_end(&k->y);
    nb_yaml_map_end(&k->y);
    root_inputs(k);
    nb_yaml_map_end(&k->y);
    nb_yaml_pair(&k->y, "schemaVersion", "2.1.0");
    nb_yaml_pair(&k->y, "sdkVersion", "nb2pipe-" NB2PIPE_VERSION);
    nb_yaml_map_end(&k->y);
}

int nb_emit_kfp(const nb_pipeline *p, const nb_emit_opts *opts, nb_fileset *fs, nb_diags *diags)
{
    kfp k = { .p = p, .diags = diags, .pool = NB_POOL_INIT, .scratch = NB_BUF_INIT };
    size_t errors = diags->errors;
    name_tasks(&k);
    nb_buf image = NB_BUF_INIT, name = NB_BUF_INIT, path = NB_BUF_INIT;
    nb_emit_image(p, opts, &image);
    k.image = image.data;
    check_literal(&k, (nb_loc){ 0 }, k.image, "--image '%s'", k.image);
    nb_k8s_name(nb_emit_name(p, opts), PIPELINE_NAME_MAX, &name);
    nb_buf_puts(&path, "kfp/");
    nb_buf_add_file_name(&path, name.data, ".yaml");

    nb_buf text = NB_BUF_INIT;
    nb_emit_header(&text, p, "#");
    nb_yaml_begin(&k.y, &text);
    pipeline_spec(&k, name.data);
    platform_spec(&k);
    int status = 0;
    if (!nb_yaml_end(&k.y)) {
        nb_diag_add(diags, NB_ERROR, "internal", (nb_loc){ .file = path.data }, "%s", k.y.error);
        status = -1;
    } else if (diags->errors > errors) {
        status = -1;
    } else {
        nb_buf *out = nb_fileset_add(fs, path.data);
        nb_buf_add(out, text.data, text.len);
    }
    nb_buf_release(&text);
    nb_buf_release(&image);
    nb_buf_release(&name);
    nb_buf_release(&path);
    nb_buf_release(&k.scratch);
    nb_pool_release(&k.pool);
    return status;
}
