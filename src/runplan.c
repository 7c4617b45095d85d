#include "nb2pipe/runplan.h"

#include "nb2pipe/buf.h"
#include "nb2pipe/emit.h"
#include "nb2pipe/fsout.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

/* ---- loading the manifest ------------------------------------------------------------ */

static const char *pool_string(nb_plan *plan, json_t *value)
{
    const char *s = json_string_value(value);
    return s ? nb_pool_strdup(&plan->pool, s) : NULL;
}

static long index_of(const nb_plan *plan, size_t before, const char *name)
{
    for (size_t i = 0; i < before; i++)
        if (strcmp(plan->steps[i].name, name) == 0)
            return (long)i;
    return -1;
}

static const char **string_list(nb_plan *plan, json_t *array, size_t *count)
{
    *count = json_array_size(array);
    const char **items = nb_pool_alloc(&plan->pool, (*count + 1) * sizeof *items);
    for (size_t i = 0; i < *count; i++) {
        items[i] = pool_string(plan, json_array_get(array, i));
        if (!items[i])
            return NULL;
    }
    return items;
}

/* The step's notebook cell numbers, which only `plot` shows: a manifest written before
 * they were recorded has none, and that is no damage. */
static bool load_cells(nb_plan *plan, nb_plan_step *step, json_t *entry)
{
    json_t *cells = json_object_get(entry, "cells");
    step->ncells = json_array_size(cells);
    step->cells = nb_pool_alloc(&plan->pool, (step->ncells + 1) * sizeof *step->cells);
    for (size_t k = 0; k < step->ncells; k++) {
        json_t *cell = json_array_get(cells, k);
        if (!json_is_integer(cell) || json_integer_value(cell) < 0 ||
            json_integer_value(cell) > 10000000)
            return false;
        step->cells[k] = (int)json_integer_value(cell);
    }
    return true;
}

/* Reads one step; its upstream steps and producers must come before it (the manifest
 * lists steps in dependency order). Returns false when the entry is damaged. */
static bool load_step(nb_plan *plan, size_t i, json_t *entry)
{
    nb_plan_step *step = &plan->steps[i];
    step->name = pool_string(plan, json_object_get(entry, "name"));
    step->script = pool_string(plan, json_object_get(entry, "script"));
    if (!step->name || !step->script || !nb_path_is_safe(step->name) ||
        !nb_path_is_safe(step->script) || index_of(plan, i, step->name) >= 0)
        return false;
    json_t *upstream = json_object_get(entry, "upstream");
    step->nupstream = json_array_size(upstream);
    step->upstream = nb_pool_alloc(&plan->pool, (step->nupstream + 1) * sizeof *step->upstream);
    for (size_t k = 0; k < step->nupstream; k++) {
        const char *name = json_string_value(json_array_get(upstream, k));
        long at = name ? index_of(plan, i, name) : -1;
        if (at < 0)
            return false;
        step->upstream[k] = (size_t)at;
    }
    json_t *inputs = json_object_get(entry, "inputs");
    step->ninputs = json_object_size(inputs);
    step->inputs = nb_pool_alloc(&plan->pool, (step->ninputs + 1) * sizeof *step->inputs);
    const char *var;
    json_t *producer;
    size_t k = 0;
    json_object_foreach(inputs, var, producer) {
        const char *name = json_string_value(producer);
        long at = name ? index_of(plan, i, name) : -1;
        if (at < 0 || !nb_path_is_safe(var))
            return false;
        step->inputs[k].var = nb_pool_strdup(&plan->pool, var);
        json_t *takes = json_object_get(json_object_get(entry, "takes"), var);
        if (takes && !(step->inputs[k].takes = string_list(plan, takes, &step->inputs[k].ntakes)))
            return false;
        step->inputs[k++].producer = (size_t)at;
    }
    step->outputs = string_list(plan, json_object_get(entry, "outputs"), &step->noutputs);
    step->params = string_list(plan, json_object_get(entry, "params"), &step->nparams);
    step->has_metrics = json_array_size(json_object_get(entry, "metrics")) > 0;
    step->metrics = string_list(plan, json_object_get(entry, "metrics"), &step->nmetrics);
    if (!step->outputs || !step->params || !step->metrics || !load_cells(plan, step, entry))
        return false;
    for (k = 0; k < step->noutputs; k++)
        if (!nb_path_is_safe(step->outputs[k]))
            return false;
    return true;
}

static bool load_params(nb_plan *plan, json_t *params)
{
    plan->nparams = json_array_size(params);
    plan->params = nb_pool_alloc(&plan->pool, (plan->nparams + 1) * sizeof *plan->params);
    for (size_t i = 0; i < plan->nparams; i++) {
        json_t *entry = json_array_get(params, i);
        plan->params[i].name = pool_string(plan, json_object_get(entry, "name"));
        plan->params[i].value = pool_string(plan, json_object_get(entry, "default"));
        if (!plan->params[i].name || !plan->params[i].value)
            return false;
    }
    return true;
}

static int load_manifest(nb_plan *plan, json_t *root, const char *path, nb_diags *diags)
{
    json_t *pipeline = json_object_get(root, "pipeline");
    json_t *steps = json_object_get(pipeline, "steps");
    json_t *params = json_object_get(pipeline, "params");
    if (!json_is_array(steps) || !json_is_array(params)) {
        nb_diag_add(diags, NB_ERROR, "bad-manifest", (nb_loc){ .file = path },
                    "the manifest has no pipeline steps: convert the notebook again");
        return -1;
    }
    plan->name = pool_string(plan, json_object_get(pipeline, "name"));
    plan->notebook = pool_string(plan, json_object_get(root, "notebook"));
    plan->workdir = pool_string(plan, json_object_get(root, "workdir"));
    if (!plan->workdir)
        plan->workdir = ".";
    plan->nsteps = json_array_size(steps);
    plan->steps = nb_pool_alloc(&plan->pool, (plan->nsteps + 1) * sizeof *plan->steps);
    memset(plan->steps, 0, (plan->nsteps + 1) * sizeof *plan->steps);
    for (size_t i = 0; i < plan->nsteps; i++) {
        if (!load_step(plan, i, json_array_get(steps, i))) {
            nb_diag_add(diags, NB_ERROR, "bad-manifest", (nb_loc){ .file = path },
                        "step %zu of the manifest is damaged (name, script, upstream steps, "
                        "inputs or outputs): convert the notebook again", i + 1);
            return -1;
        }
    }
    if (!load_params(plan, params)) {
        nb_diag_add(diags, NB_ERROR, "bad-manifest", (nb_loc){ .file = path },
                    "the manifest's parameters are damaged: convert the notebook again");
        return -1;
    }
    return 0;
}

int nb_plan_load(nb_plan *plan, const char *dir, nb_diags *diags)
{
    memset(plan, 0, sizeof *plan);
    plan->dir = nb_pool_strdup(&plan->pool, dir);
    nb_buf path = NB_BUF_INIT;
    nb_buf_printf(&path, "%s/output", dir);
    plan->data_dir = nb_pool_strdup(&plan->pool, path.data);
    nb_buf_reset(&path);
    nb_buf_printf(&path, "%s/%s", dir, NB_MANIFEST);
    json_error_t err;
    json_t *root = json_load_file(path.data, 0, &err);
    int status = -1;
    struct stat st;
    if (!root && stat(path.data, &st) != 0)
        nb_diag_add(diags, NB_ERROR, "not-a-pipeline", (nb_loc){ .file = dir },
                    "no %s here: convert a notebook first (nb2pipe convert NOTEBOOK)",
                    NB_MANIFEST);
    else if (!root)
        nb_diag_add(diags, NB_ERROR, "bad-manifest",
                    (nb_loc){ .file = path.data, .line = err.line, .col = err.column },
                    "cannot read the manifest: %s", err.text);
    else
        status = load_manifest(plan, root, path.data, diags);
    json_decref(root);
    nb_buf_release(&path);
    return status;
}

void nb_plan_release(nb_plan *plan)
{
    nb_pool_release(&plan->pool);
    memset(plan, 0, sizeof *plan);
}

int nb_plan_set_params(nb_plan *plan, const char *const *assignments, size_t count,
                       nb_diags *diags)
{
    for (size_t i = 0; i < count; i++) {
        const char *eq = strchr(assignments[i], '=');
        size_t n = eq ? (size_t)(eq - assignments[i]) : 0;
        nb_plan_param *param = NULL;
        for (size_t k = 0; eq && k < plan->nparams && !param; k++)
            if (strlen(plan->params[k].name) == n &&
                strncmp(plan->params[k].name, assignments[i], n) == 0)
                param = &plan->params[k];
        if (!param) {
            nb_diag_add(diags, NB_ERROR, "unknown-param", (nb_loc){ .file = plan->dir },
                        "--param '%s': the pipeline has no such parameter (NAME=VALUE)",
                        assignments[i]);
            return -1;
        }
        param->value = nb_pool_strdup(&plan->pool, eq + 1);
        param->overridden = true;
    }
    return 0;
}

long nb_plan_find(const nb_plan *plan, const char *name, nb_diags *diags)
{
    long at = index_of(plan, plan->nsteps, name);
    if (at < 0) {
        nb_buf names = NB_BUF_INIT;
        for (size_t i = 0; i < plan->nsteps; i++)
            nb_buf_printf(&names, "%s%s", i ? ", " : "", plan->steps[i].name);
        nb_diag_add(diags, NB_ERROR, "unknown-step", (nb_loc){ .file = plan->dir },
                    "the pipeline has no step '%s' (its steps: %s)", name, names.data);
        nb_buf_release(&names);
    }
    return at;
}

void nb_plan_reach(const nb_plan *plan, size_t step, bool downstream, bool *selected)
{
    bool *reached = nb_xcalloc(plan->nsteps, sizeof *reached);
    reached[step] = true;
    /* steps are in dependency order, so one pass in the right direction is transitive */
    if (downstream) {
        for (size_t i = step + 1; i < plan->nsteps; i++)
            for (size_t k = 0; k < plan->steps[i].nupstream; k++)
                if (reached[plan->steps[i].upstream[k]])
                    reached[i] = true;
    } else {
        for (size_t i = step + 1; i-- > 0;)
            for (size_t k = 0; reached[i] && k < plan->steps[i].nupstream; k++)
                reached[plan->steps[i].upstream[k]] = true;
    }
    for (size_t i = 0; i < plan->nsteps; i++)
        selected[i] = selected[i] || reached[i];
    free(reached);
}

char *nb_plan_output_path(const nb_plan_step *step, const char *var)
{
    nb_buf path = NB_BUF_INIT;
    if (var)
        nb_data_path(step->name, var, &path); /* the convention the emitters share */
    else
        nb_buf_printf(&path, "%s/metrics.json", step->name);
    return nb_buf_detach(&path, NULL);
}

/* ---- hashing ------------------------------------------------------------------------- */

static void hash_hex(XXH3_state_t *state, char hex[NB_HASH_HEX])
{
    XXH128_canonical_t canonical;
    XXH128_canonicalFromHash(&canonical, XXH3_128bits_digest(state));
    for (size_t i = 0; i < sizeof canonical.digest; i++)
        snprintf(hex + 2 * i, 3, "%02x", canonical.digest[i]);
}

/* Feeds the file at PATH to STATE; -1 when it cannot be read. */
static int hash_update_file(XXH3_state_t *state, const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    static char chunk[1 << 16];
    ssize_t n;
    while ((n = read(fd, chunk, sizeof chunk)) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int saved = errno;
            close(fd);
            errno = saved;
            return -1;
        }
        XXH3_128bits_update(state, chunk, (size_t)n);
    }
    close(fd);
    return 0;
}

int nb_hash_file(const char *path, char hex[NB_HASH_HEX])
{
    XXH3_state_t *state = XXH3_createState();
    XXH3_128bits_reset(state);
    int status = hash_update_file(state, path);
    if (status == 0)
        hash_hex(state, hex);
    XXH3_freeState(state);
    return status;
}

/* Hashes strings, each ended by a NUL so that ("ab", "c") and ("a", "bc") differ. */
static void hash_strings(XXH3_state_t *state, const char *const *items, size_t count)
{
    for (size_t i = 0; i < count; i++)
        XXH3_128bits_update(state, items[i], strlen(items[i]) + 1);
}

static void code_hash(const nb_plan *plan, const nb_plan_step *step, XXH3_state_t *state,
                      char hex[NB_HASH_HEX])
{
    nb_buf path = NB_BUF_INIT;
    XXH3_128bits_reset(state);
    const char *files[] = { step->script, NB_RUNTIME_FILE };
    for (size_t i = 0; i < 2; i++) {
        nb_buf_reset(&path);
        nb_buf_printf(&path, "%s/%s", plan->dir, files[i]);
        hash_strings(state, &files[i], 1);
        if (hash_update_file(state, path.data) != 0)
            XXH3_128bits_update(state, "\1missing", 8);
    }
    hash_hex(state, hex);
    nb_buf_release(&path);
}

static const char *param_value(const nb_plan *plan, const char *name)
{
    for (size_t i = 0; i < plan->nparams; i++)
        if (strcmp(plan->params[i].name, name) == 0)
            return plan->params[i].value;
    return "";
}

static void params_hash(const nb_plan *plan, const nb_plan_step *step, XXH3_state_t *state,
                        char hex[NB_HASH_HEX])
{
    XXH3_128bits_reset(state);
    for (size_t i = 0; i < step->nparams; i++) {
        const char *pair[] = { step->params[i], param_value(plan, step->params[i]) };
        hash_strings(state, pair, 2);
    }
    hash_hex(state, hex);
}

/* The inputs part covers the bytes of every file the step loads, so a step whose
 * upstream ran again but saved the same values stays up to date. */
static bool inputs_hash(const nb_plan *plan, const nb_plan_step *step, XXH3_state_t *state,
                        char hex[NB_HASH_HEX])
{
    bool missing = false;
    nb_buf path = NB_BUF_INIT;
    XXH3_128bits_reset(state);
    for (size_t i = 0; i < step->ninputs; i++) {
        const nb_plan_step *producer = &plan->steps[step->inputs[i].producer];
        char *relative = nb_plan_output_path(producer, step->inputs[i].var);
        nb_buf_reset(&path);
        nb_buf_printf(&path, "%s/%s", plan->data_dir, relative);
        char file_hex[NB_HASH_HEX] = "missing";
        if (nb_hash_file(path.data, file_hex) != 0)
            missing = true;
        const char *parts[] = { relative, file_hex };
        hash_strings(state, parts, 2);
        free(relative);
    }
    hash_hex(state, hex);
    nb_buf_release(&path);
    return missing;
}

/* The interpreter is known by its path and the identity of its file: an upgrade of the
 * python3 package changes its size or time. */
static void python_hash(const char *python, XXH3_state_t *state, char hex[NB_HASH_HEX])
{
    nb_buf identity = NB_BUF_INIT;
    struct stat st;
    if (stat(python, &st) == 0)
        nb_buf_printf(&identity, "%s\n%jd\n%jd.%09ld", python, (intmax_t)st.st_size,
                      (intmax_t)st.st_mtim.tv_sec, (long)st.st_mtim.tv_nsec);
    else
        nb_buf_printf(&identity, "%s\nmissing", python);
    XXH3_128bits_reset(state);
    XXH3_128bits_update(state, identity.data, identity.len);
    hash_hex(state, hex);
    nb_buf_release(&identity);
}

void nb_plan_fingerprint(const nb_plan *plan, size_t i, const char *python, nb_fingerprint *fp)
{
    const nb_plan_step *step = &plan->steps[i];
    XXH3_state_t *state = XXH3_createState();
    code_hash(plan, step, state, fp->code);
    params_hash(plan, step, state, fp->params);
    fp->inputs_missing = inputs_hash(plan, step, state, fp->inputs);
    python_hash(python, state, fp->python);
    const char *parts[] = { fp->code, fp->params, fp->inputs, fp->python };
    XXH3_128bits_reset(state);
    hash_strings(state, parts, 4);
    hash_hex(state, fp->whole);
    XXH3_freeState(state);
}

/* ---- the interpreter ------------------------------------------------------------------ */

char *nb_plan_resolve_python(const char *python)
{
    if (!python)
        python = access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3" : "python3";
    /* not resolved through symbolic links: a virtualenv's python is a link whose
     * location is what makes it the virtualenv's */
    if (strchr(python, '/'))
        return access(python, X_OK) == 0 ? nb_path_absolute(python) : NULL;
    return nb_path_search(python);
}
