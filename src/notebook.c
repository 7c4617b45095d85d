#include "nb2pipe/notebook.h"

#include "nb2pipe/buf.h"
#include "nb2pipe/elide.h"
#include "nb2pipe/text.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* State of one read: where errors go and where the model is built. */
typedef struct reader {
    nb_notebook *nb;
    nb_diags *diags;
    const char *path;
} reader;

static nb_loc file_loc(const reader *r, int line, int col)
{
    return (nb_loc){ .file = r->path, .line = line, .col = col };
}

static nb_loc cell_loc(const reader *r, int cell)
{
    return (nb_loc){ .file = r->path, .cell = cell };
}

/* Checks what JSON parsing would report badly or not at all: emptiness, NUL bytes and
 * invalid UTF-8, each with the line:col of the offending byte. */
static bool check_bytes(reader *r, const char *data, size_t len)
{
    size_t i = 0;
    while (i < len && isspace((unsigned char)data[i]))
        i++;
    if (i == len) {
        nb_diag_add(r->diags, NB_ERROR, "invalid-json", file_loc(r, 0, 0),
                    "file is empty, expected a notebook (a JSON object)");
        return false;
    }
    const char *nul = memchr(data, '\0', len);
    if (nul) {
        int line, col;
        nb_text_position(data, (size_t)(nul - data), &line, &col);
        nb_diag_add(r->diags, NB_ERROR, "nul-byte", file_loc(r, line, col),
                    "NUL byte in the file: a notebook is UTF-8 JSON text");
        return false;
    }
    size_t bad = nb_utf8_check(data, len);
    if (bad < len) {
        int line, col;
        nb_text_position(data, bad, &line, &col);
        nb_diag_add(r->diags, NB_ERROR, "invalid-utf8", file_loc(r, line, col),
                    "invalid UTF-8 (byte 0x%02x): a notebook must be UTF-8 encoded",
                    (unsigned char)data[bad]);
        return false;
    }
    return true;
}

static bool has_conflict_markers(const char *data, size_t len)
{
    const char *p = data, *end = data + len;
    while (p < end) {
        if (end - p >= 8 && memcmp(p, "<<<<<<< ", 8) == 0)
            return true;
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl)
            break;
        p = nl + 1;
    }
    return false;
}

static json_t *parse_json(reader *r, const char *data, size_t len)
{
    json_error_t err;
    /* \u0000 is valid JSON and shows up in outputs; a NUL in a cell's text is refused
     * when the cell is read */
    json_t *root = json_loadb(data, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
    if (root)
        return root;
    nb_diag *d = nb_diag_add(r->diags, NB_ERROR, "invalid-json",
                             file_loc(r, err.line > 0 ? err.line : 0,
                                      err.column > 0 ? err.column : 0),
                             "invalid JSON: %s%s", err.text,
                             has_conflict_markers(data, len)
                                 ? " (the file holds unresolved git merge conflict markers)"
                                 : "");
    nb_diag_set_source(d, data, len);
    return NULL;
}

/* Parses DATA with the cells' outputs cut out (elide.h): most of a big notebook's bytes
 * are outputs, which the reader never looks at. NULL when the text is not one that can be
 * cut safely, or does not parse: the caller then parses DATA as it is, which reports any
 * error with its exact place. With KEEP, NB records where the outputs were, OFFSET
 * bytes on from DATA (past a byte order mark) in the text nb_notebook_read_mem got. */
static json_t *parse_elided(nb_notebook *nb, const char *data, size_t len, bool keep,
                            size_t offset)
{
    nb_elided cut;
    if (!nb_elide_outputs(data, len, &cut))
        return NULL;
    json_t *root = nb_elided_parse(&cut);
    if (root && keep) {
        for (size_t i = 0; i < cut.ncells; i++) {
            cut.start[i] += offset;
            cut.end[i] += offset;
        }
        nb->elided_start = cut.start;
        nb->elided_end = cut.end;
        nb->nelided = cut.ncells;
        cut.start = cut.end = NULL;
    }
    nb_elided_release(&cut);
    return root;
}

json_t *nb_notebook_elided_outputs(const nb_notebook *nb, const char *data, size_t index)
{
    if (index >= nb->nelided || nb->elided_end[index] <= nb->elided_start[index])
        return NULL;
    json_error_t err;
    /* nb_elide_outputs checked that this parses */
    return json_loadb(data + nb->elided_start[index],
                      nb->elided_end[index] - nb->elided_start[index], JSON_ALLOW_NUL, &err);
}

/* Joins a nbformat multiline string (a string or a list of strings) into the pool,
 * turning CRLF into LF. Returns false when VALUE is neither; *BAD_ITEM is then the
 * 1-based position of the list item that is not a string (0 when VALUE is no list). */
static bool multiline_text(reader *r, json_t *value, const char **text, size_t *text_len,
                           size_t *bad_item)
{
    nb_buf joined = NB_BUF_INIT;
    *bad_item = 0;
    if (json_is_string(value)) {
        nb_buf_add(&joined, json_string_value(value), json_string_length(value));
    } else if (json_is_array(value)) {
        size_t i;
        json_t *item;
        json_array_foreach(value, i, item) {
            if (!json_is_string(item)) {
                *bad_item = i + 1;
                nb_buf_release(&joined);
                return false;
            }
            nb_buf_add(&joined, json_string_value(item), json_string_length(item));
        }
    } else {
        return false;
    }
    size_t out = 0;
    for (size_t i = 0; i < joined.len; i++) {
        if (joined.data[i] == '\r' && i + 1 < joined.len && joined.data[i + 1] == '\n')
            continue;
        joined.data[out++] = joined.data[i];
    }
    nb_buf_truncate(&joined, out);
    *text = nb_pool_strndup(&r->nb->pool, joined.data, joined.len);
    *text_len = joined.len;
    nb_buf_release(&joined);
    return true;
}

static const char *json_type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "a list";
    case JSON_STRING: return "a string";
    case JSON_INTEGER:
    case JSON_REAL: return "a number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    case JSON_NULL: return "null";
    }
    return "a value";
}

static bool read_tags(reader *r, nb_cell *cell, json_t *metadata)
{
    if (!metadata)
        return true;
    if (!json_is_object(metadata)) {
        nb_diag_add(r->diags, NB_ERROR, "bad-cell", cell_loc(r, cell->number),
                    "cell metadata is %s, expected an object", json_type_name(metadata));
        return false;
    }
    json_t *tags = json_object_get(metadata, "tags");
    if (!tags)
        return true;
    if (!json_is_array(tags)) {
        nb_diag_add(r->diags, NB_ERROR, "bad-cell", cell_loc(r, cell->number),
                    "cell metadata 'tags' is %s, expected a list of strings",
                    json_type_name(tags));
        return false;
    }
    cell->ntags = json_array_size(tags);
    cell->tags = nb_pool_alloc(&r->nb->pool, (cell->ntags + 1) * sizeof *cell->tags);
    size_t i;
    json_t *tag;
    json_array_foreach(tags, i, tag) {
        if (!json_is_string(tag)) {
            nb_diag_add(r->diags, NB_ERROR, "bad-cell", cell_loc(r, cell->number),
                        "cell tag %zu is %s, expected a string", i + 1, json_type_name(tag));
            return false;
        }
        cell->tags[i] = nb_pool_strndup(&r->nb->pool, json_string_value(tag),
                                        json_string_length(tag));
    }
    return true;
}

/* nbformat 3 heading cells become markdown "## title" on one line, as nbformat's
 * v3-to-v4 upgrade does. */
static void heading_to_markdown(reader *r, nb_cell *cell, json_t *level_json)
{
    int level = json_is_integer(level_json) ? (int)json_integer_value(level_json) : 1;
    if (level < 1 || level > 6)
        level = 1;
    nb_buf md = NB_BUF_INIT;
    nb_buf_pad(&md, '#', (size_t)level);
    nb_buf_putc(&md, ' ');
    bool pending_space = false;
    for (size_t i = 0; i < cell->source_len; i++) {
        char c = cell->source[i];
        if (c == '\n' || c == '\r') {
            pending_space = md.len > (size_t)level + 1;
            continue;
        }
        if (pending_space)
            nb_buf_putc(&md, ' ');
        pending_space = false;
        nb_buf_putc(&md, c);
    }
    cell->source = nb_pool_strndup(&r->nb->pool, md.data, md.len);
    cell->source_len = md.len;
    cell->type = NB_CELL_MARKDOWN;
    nb_buf_release(&md);
}

static bool read_cell(reader *r, json_t *cell_json, int major, nb_cell *cell)
{
    if (!json_is_object(cell_json)) {
        nb_diag_add(r->diags, NB_ERROR, "bad-cell", cell_loc(r, cell->number),
                    "cell is %s, expected an object", json_type_name(cell_json));
        return false;
    }
    json_t *type = json_object_get(cell_json, "cell_type");
    const char *type_name = json_string_value(type);
    if (!type_name) {
        nb_diag_add(r->diags, NB_ERROR, "bad-cell", cell_loc(r, cell->number),
                    "cell has no 'cell_type' string");
        return false;
    }
    bool heading = false, future = false;
    if (strcmp(type_name, "code") == 0)
        cell->type = NB_CELL_CODE;
    else if (strcmp(type_name, "markdown") == 0)
        cell->type = NB_CELL_MARKDOWN;
    else if (strcmp(type_name, "raw") == 0)
        cell->type = NB_CELL_RAW;
    else if (major < 4 && strcmp(type_name, "heading") == 0)
        heading = true;
    else if (major < 4 && strcmp(type_name, "plaintext") == 0)
        cell->type = NB_CELL_RAW;
    else if (major == 4 && r->nb->nbformat_minor > 5) {
        /* a notebook from a newer nbformat may hold cell types we do not know; nbformat
         * itself keeps them and so we pass them by, like raw cells */
        nb_diag_add(r->diags, NB_WARNING, "unknown-cell-type", cell_loc(r, cell->number),
                    "unknown cell type '%s' from nbformat 4.%d: ignored", type_name,
                    r->nb->nbformat_minor);
        cell->type = NB_CELL_RAW;
        future = true;
    } else {
        nb_diag_add(r->diags, NB_ERROR, "bad-cell", cell_loc(r, cell->number),
                    "unknown cell type '%s' (expected code, markdown or raw)", type_name);
        return false;
    }
    const char *source_key = (major < 4 && cell->type == NB_CELL_CODE && !heading) ? "input" : "source";
    json_t *source = json_object_get(cell_json, source_key);
    size_t bad_item;
    if (!source && (major < 4 || future)) {
        cell->source = ""; /* nbformat 3 (and future cell types) may have no text */
        cell->source_len = 0;
    } else if (!source) {
        nb_diag_add(r->diags, NB_ERROR, "bad-cell", cell_loc(r, cell->number),
                    "cell has no 'source'");
        return false;
    } else if (!multiline_text(r, source, &cell->source, &cell->source_len, &bad_item)) {
        if (bad_item)
            nb_diag_add(r->diags, NB_ERROR, "bad-cell", cell_loc(r, cell->number),
                        "item %zu of cell '%s' is %s, expected a string", bad_item, source_key,
                        json_type_name(json_array_get(source, bad_item - 1)));
        else
            nb_diag_add(r->diags, NB_ERROR, "bad-cell", cell_loc(r, cell->number),
                        "cell '%s' is %s, expected a string or a list of strings", source_key,
                        json_type_name(source));
        return false;
    }
    if (memchr(cell->source, '\0', cell->source_len)) {
        int line, col;
        nb_text_position(cell->source, (size_t)((const char *)memchr(cell->source, '\0',
                                                                     cell->source_len) - cell->source),
                         &line, &col);
        nb_diag_add(r->diags, NB_ERROR, "nul-byte",
                    (nb_loc){ .file = r->path, .cell = cell->number, .line = line, .col = col },
                    "NUL character (\\u0000) in the cell's text");
        return false;
    }
    if (heading)
        heading_to_markdown(r, cell, json_object_get(cell_json, "level"));
    json_t *id = json_object_get(cell_json, "id");
    if (json_is_string(id))
        cell->id = nb_pool_strndup(&r->nb->pool, json_string_value(id), json_string_length(id));
    return read_tags(r, cell, json_object_get(cell_json, "metadata"));
}

typedef struct cell_list {
    json_t **items;
    size_t len, cap;
} cell_list;

static void append_cells(cell_list *list, json_t *cells)
{
    size_t i;
    json_t *cell;
    json_array_foreach(cells, i, cell) {
        list->items = nb_xgrow(list->items, &list->cap, list->len + 1, sizeof *list->items);
        list->items[list->len++] = cell;
    }
}

/* nbformat 4 keeps cells in "cells"; nbformat 3 and 2 in "worksheets"[*]["cells"]. */
static bool collect_cells(reader *r, json_t *root, int major, cell_list *out)
{
    if (major >= 4) {
        json_t *cells = json_object_get(root, "cells");
        if (!cells) {
            nb_diag_add(r->diags, NB_ERROR, "not-a-notebook", file_loc(r, 0, 0),
                        "no 'cells' list: not a Jupyter notebook");
            return false;
        }
        if (!json_is_array(cells)) {
            nb_diag_add(r->diags, NB_ERROR, "not-a-notebook", file_loc(r, 0, 0),
                        "'cells' is %s, expected a list", json_type_name(cells));
            return false;
        }
        append_cells(out, cells);
        return true;
    }
    json_t *worksheets = json_object_get(root, "worksheets");
    if (worksheets && !json_is_array(worksheets)) {
        nb_diag_add(r->diags, NB_ERROR, "not-a-notebook", file_loc(r, 0, 0),
                    "'worksheets' is %s, expected a list", json_type_name(worksheets));
        return false;
    }
    size_t i;
    json_t *ws;
    json_array_foreach(worksheets, i, ws) {
        json_t *cells = json_object_get(ws, "cells");
        if (!json_is_array(cells)) {
            nb_diag_add(r->diags, NB_ERROR, "not-a-notebook", file_loc(r, 0, 0),
                        "worksheet %zu has no 'cells' list", i + 1);
            return false;
        }
        append_cells(out, cells);
    }
    return true;
}

static const char *lower_copy(nb_pool *pool, const char *s)
{
    char *copy = nb_pool_strdup(pool, s);
    for (char *p = copy; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    return copy;
}

/* The kernel language, from the most to the least explicit place a notebook keeps it. */
static const char *detect_language(nb_notebook *nb, json_t *root, json_t **cells, size_t ncells)
{
    json_t *meta = json_object_get(root, "metadata");
    json_t *kernelspec = json_object_get(meta, "kernelspec");
    const char *lang = json_string_value(json_object_get(kernelspec, "language"));
    if (!lang)
        lang = json_string_value(json_object_get(json_object_get(meta, "language_info"), "name"));
    if (!lang) {
        const char *kernel = json_string_value(json_object_get(kernelspec, "name"));
        if (kernel && strncmp(kernel, "python", 6) == 0)
            lang = "python";
    }
    if (!lang)
        lang = json_string_value(json_object_get(meta, "language"));
    for (size_t i = 0; !lang && nb->nbformat < 4 && i < ncells; i++)
        lang = json_string_value(json_object_get(cells[i], "language"));
    if (!lang && nb->nbformat < 4)
        lang = "python"; /* IPython notebooks before nbformat 4 were Python */
    return lower_copy(&nb->pool, lang && *lang ? lang : "unknown");
}

static bool read_version(reader *r, json_t *root)
{
    json_t *major = json_object_get(root, "nbformat");
    if (!major) {
        nb_diag_add(r->diags, NB_ERROR, "not-a-notebook", file_loc(r, 0, 0),
                    "no 'nbformat' key: not a Jupyter notebook");
        return false;
    }
    if (!json_is_integer(major)) {
        nb_diag_add(r->diags, NB_ERROR, "unsupported-nbformat", file_loc(r, 0, 0),
                    "'nbformat' is %s, expected an integer", json_type_name(major));
        return false;
    }
    json_int_t v = json_integer_value(major);
    json_t *minor = json_object_get(root, "nbformat_minor");
    json_int_t m = json_is_integer(minor) ? json_integer_value(minor) : 0;
    if (v < 2 || v > 4) {
        nb_diag_add(r->diags, NB_ERROR, "unsupported-nbformat", file_loc(r, 0, 0),
                    v > 4 ? "nbformat %lld is newer than nb2pipe understands (2, 3 and 4.0-4.5)"
                          : "nbformat %lld is too old (nb2pipe reads 2, 3 and 4); upgrade it "
                            "with `jupyter nbconvert --to notebook`",
                    (long long)v);
        return false;
    }
    if (v == 4 && (m < 0 || m > 5))
        nb_diag_add(r->diags, NB_WARNING, "newer-nbformat", file_loc(r, 0, 0),
                    "nbformat 4.%lld is newer than 4.5; reading it as 4.5", (long long)m);
    r->nb->nbformat = (int)v;
    r->nb->nbformat_minor = m < 0 || m > 1000 ? 0 : (int)m;
    return true;
}

static bool read_model(reader *r, json_t *root)
{
    if (!json_is_object(root)) {
        nb_diag_add(r->diags, NB_ERROR, "not-a-notebook", file_loc(r, 0, 0),
                    "top-level JSON value is %s, expected an object", json_type_name(root));
        return false;
    }
    if (!read_version(r, root))
        return false;
    nb_notebook *nb = r->nb;
    cell_list cells = { 0 };
    if (!collect_cells(r, root, nb->nbformat, &cells)) {
        free(cells.items);
        return false;
    }
    size_t ncells = cells.len;
    nb->language = detect_language(nb, root, cells.items, ncells);
    const char *kernel =
        json_string_value(json_object_get(json_object_get(json_object_get(root, "metadata"),
                                                          "kernelspec"), "name"));
    nb->kernel_name = kernel ? nb_pool_strdup(&nb->pool, kernel) : NULL;
    nb->cells = nb_pool_alloc(&nb->pool, (ncells + 1) * sizeof *nb->cells);
    nb->ncells = ncells;
    bool ok = true;
    for (size_t i = 0; i < ncells && ok; i++) {
        nb->cells[i].number = (int)i + 1;
        ok = read_cell(r, cells.items[i], nb->nbformat, &nb->cells[i]);
    }
    free(cells.items);
    return ok;
}

nb_notebook *nb_notebook_read_mem(const char *path, const char *data, size_t len,
                                  const nb_read_opts *opts, nb_diags *diags)
{
    nb_notebook *nb = nb_xcalloc(1, sizeof *nb);
    nb->path = nb_pool_strdup(&nb->pool, path);
    reader r = { .nb = nb, .diags = diags, .path = path };
    size_t limit = opts && opts->max_bytes ? opts->max_bytes : NB_DEFAULT_MAX_BYTES;
    if (len > limit) {
        nb_diag_add(diags, NB_ERROR, "too-large", file_loc(&r, 0, 0),
                    "notebook is %zu bytes, over the limit of %zu (see --max-size)", len, limit);
        goto fail;
    }
    const char *given = data; /* elided outputs are found from here */
    /* jansson and Python both skip nothing before the JSON; Windows editors may add a
     * UTF-8 byte order mark, which Jupyter tolerates, so we do too */
    if (len >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0) {
        data += 3;
        len -= 3;
    }
    if (!check_bytes(&r, data, len))
        goto fail;
    bool keep_json = opts && opts->keep_json;
    json_t *root = NULL;
    if (!keep_json || opts->elide_outputs)
        root = parse_elided(nb, data, len, keep_json, (size_t)(data - given));
    if (!root)
        root = parse_json(&r, data, len);
    if (!root)
        goto fail;
    bool ok = read_model(&r, root);
    if (ok && keep_json)
        nb->json = root;
    else
        json_decref(root);
    if (ok)
        return nb;
fail:
    nb_notebook_free(nb);
    return NULL;
}

int nb_notebook_open_file(const char *path, const nb_read_opts *opts, nb_file_view *view,
                          nb_diags *diags)
{
    size_t limit = opts && opts->max_bytes ? opts->max_bytes : NB_DEFAULT_MAX_BYTES;
    /* read one byte past the limit so that read_mem reports the size */
    if (nb_file_view_open(view, path, limit + 1) == 0)
        return 0;
    nb_loc loc = { .file = path };
    if (errno == EFBIG)
        nb_diag_add(diags, NB_ERROR, "too-large", loc,
                    "notebook is over the limit of %zu bytes (see --max-size)", limit);
    else
        nb_diag_add(diags, NB_ERROR, "io-error", loc, "cannot read notebook: %s",
                    strerror(errno));
    nb_file_view_release(view);
    return -1;
}

nb_notebook *nb_notebook_read_file(const char *path, const nb_read_opts *opts, nb_diags *diags)
{
    nb_file_view data;
    if (nb_notebook_open_file(path, opts, &data, diags) != 0)
        return NULL;
    nb_notebook *nb = nb_notebook_read_mem(path, data.data, data.len, opts, diags);
    nb_file_view_release(&data);
    return nb;
}

void nb_notebook_free(nb_notebook *nb)
{
    if (!nb)
        return;
    json_decref(nb->json);
    free(nb->elided_start);
    free(nb->elided_end);
    nb_pool_release(&nb->pool);
    free(nb);
}

bool nb_notebook_is_python(const nb_notebook *nb)
{
    return strncmp(nb->language, "python", 6) == 0 || strcmp(nb->language, "ipython") == 0 ||
           strcmp(nb->language, "unknown") == 0;
}

size_t nb_notebook_count(const nb_notebook *nb, nb_cell_type type)
{
    size_t n = 0;
    for (size_t i = 0; i < nb->ncells; i++)
        n += nb->cells[i].type == type;
    return n;
}

const char *nb_cell_type_name(nb_cell_type type)
{
    switch (type) {
    case NB_CELL_CODE: return "code";
    case NB_CELL_MARKDOWN: return "markdown";
    case NB_CELL_RAW: return "raw";
    }
    return "?";
}
