/* Writing a notebook's JSON byte for byte as nbformat.write does:
 * json.dumps(nb, indent=1, sort_keys=True, separators=(",", ": ")), with
 * ensure_ascii=False for nbformat 4 and Python's default (True) for nbformat 3, after
 * nbformat's own reading and writing transformations for that version (multiline
 * strings joined on read, split with str.splitlines(True) on write, transient keys
 * dropped), and a final newline. */
#include "nb2pipe/notebook.h"

#include "nb2pipe/buf.h"
#include "nb2pipe/text.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- Python's repr(float) ---------------------------------------------------------- */

/* The shortest digits that read back as X ("%.Ne" with the fewest N), as Python's repr
 * chooses them, then laid out as repr does: positional for exponents -4..15, else
 * d[.ddd]e+XX. */
static void float_repr(double x, nb_buf *out)
{
    if (isnan(x)) {
        nb_buf_puts(out, "NaN");
        return;
    }
    if (isinf(x)) {
        nb_buf_puts(out, x < 0 ? "-Infinity" : "Infinity");
        return;
    }
    char buf[40];
    for (int precision = 0; precision < 17; precision++) {
        snprintf(buf, sizeof buf, "%.*e", precision, x);
        if (strtod(buf, NULL) == x)
            break;
    }
    /* buf: [-]d[.ddd]e[+-]XX */
    const char *p = buf;
    bool negative = *p == '-';
    if (negative)
        p++;
    char digits[24];
    size_t n = 0;
    for (; *p && *p != 'e'; p++)
        if (*p != '.')
            digits[n++] = *p;
    while (n > 1 && digits[n - 1] == '0')
        n--;
    int exponent = atoi(p + 1);
    if (negative)
        nb_buf_putc(out, '-');
    if (exponent >= -4 && exponent < 16) {
        if (exponent < 0) {
            nb_buf_puts(out, "0.");
            nb_buf_pad(out, '0', (size_t)(-exponent - 1));
            nb_buf_add(out, digits, n);
        } else {
            size_t whole = (size_t)exponent + 1;
            nb_buf_add(out, digits, n < whole ? n : whole);
            if (n < whole)
                nb_buf_pad(out, '0', whole - n);
            nb_buf_putc(out, '.');
            if (n > whole)
                nb_buf_add(out, digits + whole, n - whole);
            else
                nb_buf_putc(out, '0');
        }
    } else {
        nb_buf_putc(out, digits[0]);
        if (n > 1) {
            nb_buf_putc(out, '.');
            nb_buf_add(out, digits + 1, n - 1);
        }
        nb_buf_printf(out, "e%c%02d", exponent < 0 ? '-' : '+', exponent < 0 ? -exponent : exponent);
    }
}

/* ---- json.dumps ---------------------------------------------------------------------- */

/* \uXXXX for a UTF-16 code unit, in lower case as Python writes it. */
static void write_unit(nb_buf *out, unsigned long unit)
{
    nb_buf_printf(out, "\\u%04lx", unit);
}

/* Code point CP as json.dumps escapes it: \uXXXX, or a surrogate pair above U+FFFF. */
static void write_code_point(nb_buf *out, unsigned long cp)
{
    if (cp < 0x10000) {
        write_unit(out, cp);
        return;
    }
    cp -= 0x10000;
    write_unit(out, 0xD800 | (cp >> 10));
    write_unit(out, 0xDC00 | (cp & 0x3FF));
}

/* Writes the escape for the character at S (LEN bytes left) and returns its length in
 * bytes. */
static size_t write_escape(nb_buf *out, const char *s, size_t len)
{
    unsigned char c = (unsigned char)*s;
    switch (c) {
    case '"': nb_buf_puts(out, "\\\""); return 1;
    case '\\': nb_buf_puts(out, "\\\\"); return 1;
    case '\n': nb_buf_puts(out, "\\n"); return 1;
    case '\r': nb_buf_puts(out, "\\r"); return 1;
    case '\t': nb_buf_puts(out, "\\t"); return 1;
    case '\b': nb_buf_puts(out, "\\b"); return 1;
    case '\f': nb_buf_puts(out, "\\f"); return 1;
    }
    unsigned long cp = c;
    size_t n = c < 0x80 ? 1 : nb_utf8_decode(s, len, &cp);
    if (n == 0) /* not reached: jansson holds valid UTF-8 only */
        n = 1;
    write_code_point(out, cp);
    return n;
}

/* json.dumps of a string: with ASCII (ensure_ascii=True) every byte outside ' '..'~'
 * is escaped, DEL and non-ASCII included; without it only quotes, backslashes and
 * control characters are. Runs of bytes that need no escape are copied at once: most
 * of a notebook's text is such runs. */
static void write_string(nb_buf *out, const char *s, size_t len, bool ascii)
{
    nb_buf_putc(out, '"');
    size_t plain = 0, i = 0; /* s[plain..i) is waiting to be copied */
    while (i < len) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\' && !(ascii && c >= 0x7f)) {
            i++;
            continue;
        }
        nb_buf_add(out, s + plain, i - plain);
        i += write_escape(out, s + i, len - i);
        plain = i;
    }
    nb_buf_add(out, s + plain, len - plain);
    nb_buf_putc(out, '"');
}

static int compare_keys(const void *a, const void *b)
{
    /* UTF-8 byte order is code point order, which is how Python sorts str keys */
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void newline(nb_buf *out, int depth)
{
    nb_buf_putc(out, '\n');
    nb_buf_pad(out, ' ', (size_t)depth);
}

static void write_value(nb_buf *out, json_t *v, int depth, bool ascii);

static void write_object(nb_buf *out, json_t *obj, int depth, bool ascii)
{
    size_t n = json_object_size(obj);
    if (n == 0) {
        nb_buf_puts(out, "{}");
        return;
    }
    const char **keys = nb_xmalloc(n * sizeof *keys);
    size_t i = 0;
    const char *key;
    json_t *value;
    json_object_foreach(obj, key, value)
        keys[i++] = key;
    qsort(keys, n, sizeof *keys, compare_keys);
    nb_buf_putc(out, '{');
    for (i = 0; i < n; i++) {
        if (i)
            nb_buf_putc(out, ',');
        newline(out, depth + 1);
        write_string(out, keys[i], strlen(keys[i]), ascii);
        nb_buf_puts(out, ": ");
        write_value(out, json_object_get(obj, keys[i]), depth + 1, ascii);
    }
    newline(out, depth);
    nb_buf_putc(out, '}');
    free(keys);
}

static void write_value(nb_buf *out, json_t *v, int depth, bool ascii)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        write_object(out, v, depth, ascii);
        break;
    case JSON_ARRAY: {
        size_t n = json_array_size(v);
        if (n == 0) {
            nb_buf_puts(out, "[]");
            break;
        }
        nb_buf_putc(out, '[');
        for (size_t i = 0; i < n; i++) {
            if (i)
                nb_buf_putc(out, ',');
            newline(out, depth + 1);
            write_value(out, json_array_get(v, i), depth + 1, ascii);
        }
        newline(out, depth);
        nb_buf_putc(out, ']');
        break;
    }
    case JSON_STRING:
        write_string(out, json_string_value(v), json_string_length(v), ascii);
        break;
    case JSON_INTEGER:
        nb_buf_printf(out, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        break;
    case JSON_REAL:
        float_repr(json_real_value(v), out);
        break;
    case JSON_TRUE: nb_buf_puts(out, "true"); break;
    case JSON_FALSE: nb_buf_puts(out, "false"); break;
    case JSON_NULL: nb_buf_puts(out, "null"); break;
    }
}

/* ---- nbformat's line handling -------------------------------------------------------- */

/* Length of the line break at S (Python's str.splitlines boundaries), or 0. */
static size_t line_break(const unsigned char *s, size_t left)
{
    switch (s[0]) {
    case '\r': return left > 1 && s[1] == '\n' ? 2 : 1;
    case '\n': case 0x0b: case 0x0c: case 0x1c: case 0x1d: case 0x1e: return 1;
    case 0xc2: return left > 1 && s[1] == 0x85 ? 2 : 0;                       /* U+0085 */
    case 0xe2: return left > 2 && s[1] == 0x80 && (s[2] == 0xa8 || s[2] == 0xa9) ? 3 : 0;
    default: return 0;
    }
}

/* A string value as a list of its lines, str.splitlines(True) style. */
static json_t *split_lines(const json_t *text)
{
    const unsigned char *s = (const unsigned char *)json_string_value(text);
    size_t len = json_string_length(text), start = 0, i = 0;
    json_t *lines = json_array();
    while (i < len) {
        size_t brk = line_break(s + i, len - i);
        if (brk == 0) {
            i++;
            continue;
        }
        json_array_append_new(lines, json_stringn((const char *)s + start, i + brk - start));
        i += brk;
        start = i;
    }
    if (start < len)
        json_array_append_new(lines, json_stringn((const char *)s + start, len - start));
    return lines;
}

/* A list of strings joined into one string; anything else stays as it is. Joined by
 * "" as nbformat 4 does, or, with OLD_LISTS, as nbformat 3's _join_lines does: by "\n"
 * when the first line has no line break (a list old IPython wrote with
 * str.splitlines(), without the breaks). */
static void join_lines(json_t *parent, const char *key, bool old_lists)
{
    json_t *value = json_object_get(parent, key);
    if (!json_is_array(value))
        return;
    const char *first = json_string_value(json_array_get(value, 0));
    size_t first_len = json_string_length(json_array_get(value, 0));
    bool newline_between = old_lists && !(first && first_len > 0 &&
                                          (first[first_len - 1] == '\n' ||
                                           first[first_len - 1] == '\r'));
    nb_buf joined = NB_BUF_INIT;
    size_t i;
    json_t *item;
    json_array_foreach(value, i, item) {
        if (!json_is_string(item)) {
            nb_buf_release(&joined);
            return;
        }
        if (i > 0 && newline_between)
            nb_buf_putc(&joined, '\n');
        nb_buf_add(&joined, json_string_value(item), json_string_length(item));
    }
    json_object_set_new(parent, key, json_stringn(joined.data, joined.len));
    nb_buf_release(&joined);
}

static void split_member(json_t *parent, const char *key)
{
    json_t *value = json_object_get(parent, key);
    if (json_is_string(value))
        json_object_set_new(parent, key, split_lines(value));
}

static bool is_json_mime(const char *mime)
{
    size_t n = strlen(mime);
    return strcmp(mime, "application/json") == 0 ||
           (strncmp(mime, "application/", 12) == 0 && n > 5 && strcmp(mime + n - 5, "+json") == 0);
}

/* nbformat's rejoin_lines: what reading a notebook does to multiline strings. */
static void rejoin_bundle(json_t *bundle)
{
    const char *key;
    json_t *value;
    void *tmp;
    json_object_foreach_safe(bundle, tmp, key, value) {
        (void)value;
        if (!is_json_mime(key))
            join_lines(bundle, key, false);
    }
}

static void rejoin_lines(json_t *root)
{
    size_t i;
    json_t *cell;
    json_array_foreach(json_object_get(root, "cells"), i, cell) {
        join_lines(cell, "source", false);
        const char *name;
        json_t *attachment;
        json_object_foreach(json_object_get(cell, "attachments"), name, attachment)
            rejoin_bundle(attachment);
        if (!json_is_string(json_object_get(cell, "cell_type")) ||
            strcmp(json_string_value(json_object_get(cell, "cell_type")), "code") != 0)
            continue;
        size_t j;
        json_t *output;
        json_array_foreach(json_object_get(cell, "outputs"), j, output) {
            const char *type = json_string_value(json_object_get(output, "output_type"));
            if (!type)
                continue;
            if (strcmp(type, "execute_result") == 0 || strcmp(type, "display_data") == 0)
                rejoin_bundle(json_object_get(output, "data"));
            else
                join_lines(output, "text", false);
        }
    }
}

/* nbformat's split_lines: what writing does. */
static void split_bundle(json_t *bundle)
{
    const char *key;
    json_t *value;
    void *tmp;
    json_object_foreach_safe(bundle, tmp, key, value) {
        (void)value;
        if (strncmp(key, "text/", 5) == 0 || strcmp(key, "application/javascript") == 0 ||
            strcmp(key, "image/svg+xml") == 0)
            split_member(bundle, key);
    }
}

static void split_all_lines(json_t *root)
{
    size_t i;
    json_t *cell;
    json_array_foreach(json_object_get(root, "cells"), i, cell) {
        split_member(cell, "source");
        const char *type = json_string_value(json_object_get(cell, "cell_type"));
        if (!type || strcmp(type, "code") != 0)
            continue;
        size_t j;
        json_t *output;
        json_array_foreach(json_object_get(cell, "outputs"), j, output) {
            const char *otype = json_string_value(json_object_get(output, "output_type"));
            if (!otype)
                continue;
            if (strcmp(otype, "execute_result") == 0 || strcmp(otype, "display_data") == 0)
                split_bundle(json_object_get(output, "data"));
            else if (strcmp(otype, "stream") == 0)
                split_member(output, "text");
        }
    }
}

/* nbformat's strip_transient: keys that are never stored. */
static void strip_transient(json_t *root)
{
    json_t *meta = json_object_get(root, "metadata");
    json_object_del(meta, "orig_nbformat");
    json_object_del(meta, "orig_nbformat_minor");
    json_object_del(meta, "signature");
    size_t i;
    json_t *cell;
    json_array_foreach(json_object_get(root, "cells"), i, cell)
        json_object_del(json_object_get(cell, "metadata"), "trusted");
}

/* ---- nbformat 3 ------------------------------------------------------------------------ */

static bool is_nbformat3(json_t *root)
{
    return json_integer_value(json_object_get(root, "nbformat")) == 3;
}

/* Appends the cells of the JSON array LIST to CELLS. */
static json_t **append_cells(json_t **cells, size_t *n, size_t *cap, json_t *list)
{
    size_t i;
    json_t *cell;
    json_array_foreach(list, i, cell) {
        cells = nb_xgrow(cells, cap, *n + 1, sizeof *cells);
        cells[(*n)++] = cell;
    }
    return cells;
}

json_t **nb_notebook_json_cells(json_t *root, size_t *ncells)
{
    json_t **cells = NULL;
    size_t n = 0, cap = 0;
    if (json_integer_value(json_object_get(root, "nbformat")) >= 4) {
        cells = append_cells(cells, &n, &cap, json_object_get(root, "cells"));
    } else {
        size_t w;
        json_t *worksheet;
        json_array_foreach(json_object_get(root, "worksheets"), w, worksheet)
            cells = append_cells(cells, &n, &cap, json_object_get(worksheet, "cells"));
    }
    *ncells = n;
    return cells;
}

static bool is_code_cell(json_t *cell)
{
    const char *type = json_string_value(json_object_get(cell, "cell_type"));
    return type && strcmp(type, "code") == 0;
}

/* nbformat 3 keeps multiline text in a code cell's input and its outputs' text, html,
 * svg, latex, javascript and json, and in other cells' source and rendered. Applies
 * MEMBER to each of those places, as nbformat 3's rejoin_lines and split_lines visit
 * them. */
static void each_multiline_v3(json_t *root, void (*member)(json_t *parent, const char *key))
{
    static const char *const output_keys[] = { "text", "html", "svg", "latex", "javascript", "json" };
    size_t ncells;
    json_t **cells = nb_notebook_json_cells(root, &ncells);
    for (size_t i = 0; i < ncells; i++) {
        if (!is_code_cell(cells[i])) {
            member(cells[i], "source");
            member(cells[i], "rendered");
            continue;
        }
        member(cells[i], "input");
        size_t j;
        json_t *output;
        json_array_foreach(json_object_get(cells[i], "outputs"), j, output)
            for (size_t k = 0; k < sizeof output_keys / sizeof output_keys[0]; k++)
                member(output, output_keys[k]);
    }
    free(cells);
}

static void join_lines_v3(json_t *parent, const char *key)
{
    join_lines(parent, key, true);
}

/* nbformat 3's strip_transient: the notebook's orig_nbformat keys (at the top level,
 * not in its metadata) and each cell's "trusted", in its metadata or on the cell. */
static void strip_transient_v3(json_t *root)
{
    json_object_del(root, "orig_nbformat");
    json_object_del(root, "orig_nbformat_minor");
    size_t ncells;
    json_t **cells = nb_notebook_json_cells(root, &ncells);
    for (size_t i = 0; i < ncells; i++) {
        json_object_del(json_object_get(cells[i], "metadata"), "trusted");
        json_object_del(cells[i], "trusted");
    }
    free(cells);
}

/* ---- either version ---------------------------------------------------------------------- */

void nb_notebook_normalize(json_t *root)
{
    if (is_nbformat3(root)) {
        each_multiline_v3(root, join_lines_v3);
        strip_transient_v3(root);
        return;
    }
    rejoin_lines(root);
    strip_transient(root);
}

void nb_notebook_write_json(json_t *root, nb_buf *out)
{
    bool v3 = is_nbformat3(root);
    if (v3)
        each_multiline_v3(root, split_member);
    else
        split_all_lines(root);
    /* nbformat 4's writer passes ensure_ascii=False; nbformat 3's keeps json's default */
    write_value(out, root, 0, v3);
    nb_buf_putc(out, '\n');
}
