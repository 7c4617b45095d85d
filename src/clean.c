#include "nb2pipe/clean.h"

#include <stdlib.h>
#include <string.h>

/* nbstripout's default extra keys: volatile metadata that changes on every run. */
static const char *const default_drops[] = {
    "metadata.signature",         "metadata.widgets",
    "cell.metadata.collapsed",    "cell.metadata.scrolled",
    "cell.metadata.ExecuteTime",  "cell.metadata.execution",
    "cell.metadata.heading_collapsed", "cell.metadata.hidden",
};

bool nb_clean_valid_key(const char *key)
{
    return (strncmp(key, "metadata.", 9) == 0 && key[9]) ||
           (strncmp(key, "cell.metadata.", 14) == 0 && key[14]);
}

/* dict.pop for a dotted path, as nbstripout's pop_recursive: the whole dotted key
 * first, then one level down. */
static void pop_recursive(json_t *d, const char *key)
{
    if (!json_is_object(d))
        return;
    if (json_object_get(d, key)) {
        json_object_del(d, key);
        return;
    }
    const char *dot = strchr(key, '.');
    if (!dot)
        return;
    char head[256];
    size_t n = (size_t)(dot - key);
    if (n >= sizeof head)
        return;
    memcpy(head, key, n);
    head[n] = '\0';
    pop_recursive(json_object_get(d, head), dot + 1);
}

static bool listed(const char *key, const char *const *keys, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(keys[i], key) == 0)
            return true;
    return false;
}

/* Applies each dropped key under PREFIX ("metadata." or "cell.") to OBJ. */
static void drop_keys(json_t *obj, const char *prefix, const nb_clean_opts *opts)
{
    size_t n = strlen(prefix);
    size_t ndefaults = sizeof default_drops / sizeof default_drops[0];
    for (size_t i = 0; i < ndefaults; i++)
        if (strncmp(default_drops[i], prefix, n) == 0 &&
            !(opts && listed(default_drops[i], opts->keep_metadata, opts->nkeep_metadata)))
            pop_recursive(obj, default_drops[i] + n);
    for (size_t i = 0; opts && i < opts->ndrop_metadata; i++)
        if (strncmp(opts->drop_metadata[i], prefix, n) == 0)
            pop_recursive(obj, opts->drop_metadata[i] + n);
}

static bool has_tag(json_t *metadata, const char *tag)
{
    size_t i;
    json_t *t;
    json_array_foreach(json_object_get(metadata, "tags"), i, t)
        if (json_is_string(t) && strcmp(json_string_value(t), tag) == 0)
            return true;
    return false;
}

/* Python's bool() of a JSON value. */
static bool truthy(json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_TRUE: return true;
    case JSON_FALSE:
    case JSON_NULL: return false;
    case JSON_INTEGER: return json_integer_value(v) != 0;
    case JSON_REAL: return json_real_value(v) != 0.0;
    case JSON_STRING: return json_string_length(v) != 0;
    case JSON_ARRAY: return json_array_size(v) != 0;
    case JSON_OBJECT: return json_object_size(v) != 0;
    }
    return false;
}

/* nbstripout's determine_keep_output: init_cell, then keep_output metadata or tag. */
static int keep_cell_output(json_t *cell, bool keep, bool *result)
{
    json_t *meta = json_object_get(cell, "metadata");
    *result = keep;
    if (!json_is_object(meta))
        return 0;
    json_t *init = json_object_get(meta, "init_cell");
    if (init) {
        *result = truthy(init);
        return 0;
    }
    json_t *keep_meta = json_object_get(meta, "keep_output");
    bool tag = has_tag(meta, "keep_output");
    if (keep_meta && tag && !truthy(keep_meta))
        return -1;
    if (keep_meta || tag)
        *result = (keep_meta && truthy(keep_meta)) || tag;
    return 0;
}

/* Whether outputs are kept unless a cell says otherwise: --keep-output, or the
 * notebook's keep_output metadata. */
static bool notebook_keeps_output(json_t *root, const nb_clean_opts *opts)
{
    json_t *meta = json_object_get(root, "metadata");
    if (opts && opts->keep_output)
        return true;
    return json_object_get(meta, "keep_output") && truthy(json_object_get(meta, "keep_output"));
}

void nb_clean_restore_outputs(nb_notebook *nb, const char *data, const nb_clean_opts *opts)
{
    if (nb->nelided == 0)
        return;
    bool keep_output = notebook_keeps_output(nb->json, opts);
    /* the elided outputs are those of the top-level "cells"; nbformat 3 keeps its cells
     * in worksheets and such a key is not stripped there, so all of it goes back */
    bool keep_all = nb->nbformat < 4;
    size_t i;
    json_t *cell;
    json_array_foreach(json_object_get(nb->json, "cells"), i, cell) {
        bool keep;
        /* a contradiction is reported by nb_clean_strip; keep the outputs until then */
        if (keep_all || keep_cell_output(cell, keep_output, &keep) != 0)
            keep = true;
        json_t *outputs = keep ? nb_notebook_elided_outputs(nb, data, i) : NULL;
        if (outputs)
            json_object_set_new(cell, "outputs", outputs);
    }
}

/* Strips one cell as nbstripout's strip_output does. */
static int strip_cell(json_t *cell, bool keep_output, const nb_clean_opts *opts,
                      nb_loc loc, nb_diags *diags)
{
    bool keep_count = opts && opts->keep_count;
    bool keep;
    if (keep_cell_output(cell, keep_output, &keep) != 0) {
        nb_diag_add(diags, NB_ERROR, "bad-cell", loc,
                    "cell metadata keep_output is false but the cell is tagged keep_output");
        return -1;
    }
    json_t *outputs = json_object_get(cell, "outputs");
    if (json_is_array(outputs)) {
        if (!keep)
            json_array_clear(outputs);
        size_t j;
        json_t *output;
        json_array_foreach(outputs, j, output)
            if (!keep_count && json_object_get(output, "execution_count"))
                json_object_set_new(output, "execution_count", json_null());
    }
    /* nbformat 3 calls the count prompt_number; nbstripout nulls either key where it is
     * (a kept nbformat 3 output's prompt_number stays: the format requires a number) */
    static const char *const counts[] = { "execution_count", "prompt_number" };
    for (size_t k = 0; k < 2; k++)
        if (!keep_count && json_object_get(cell, counts[k]))
            json_object_set_new(cell, counts[k], json_null());
    drop_keys(cell, "cell.", opts);
    return 0;
}

int nb_clean_strip(json_t *root, const nb_clean_opts *opts, const char *path, nb_diags *diags)
{
    bool keep_output = notebook_keeps_output(root, opts);
    drop_keys(json_object_get(root, "metadata"), "metadata.", opts);
    size_t ncells;
    json_t **cells = nb_notebook_json_cells(root, &ncells);
    int status = 0;
    for (size_t i = 0; i < ncells && status == 0; i++)
        status = strip_cell(cells[i], keep_output, opts,
                            (nb_loc){ .file = path, .cell = (int)i + 1 }, diags);
    free(cells);
    return status;
}

int nb_clean_notebook(nb_notebook *nb, const char *data, const nb_clean_opts *opts,
                      nb_diags *diags, nb_buf *out)
{
    if (nb->nbformat < 3) {
        nb_diag_add(diags, NB_ERROR, "unsupported-nbformat", (nb_loc){ .file = nb->path },
                    "nbformat %d notebooks are not cleaned (nb2pipe writes nbformat 3 and 4); "
                    "upgrade it with `jupyter nbconvert --to notebook --inplace`",
                    nb->nbformat);
        return -1;
    }
    nb_clean_restore_outputs(nb, data, opts);
    nb_notebook_normalize(nb->json);
    if (nb_clean_strip(nb->json, opts, nb->path, diags) != 0)
        return -1;
    nb_notebook_write_json(nb->json, out);
    return 0;
}
