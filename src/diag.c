#include "nb2pipe/diag.h"

#include "nb2pipe/alloc.h"
#include "nb2pipe/text.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static const char *const severity_names[] = { "note", "warning", "error" };
static const char *const severity_colors[] = { "\033[1;36m", "\033[1;35m", "\033[1;31m" };

void nb_diags_init(nb_diags *d)
{
    memset(d, 0, sizeof *d);
}

void nb_diags_release(nb_diags *d)
{
    for (size_t i = 0; i < d->len; i++) {
        free(d->items[i].file);
        free(d->items[i].message);
        free(d->items[i].source_line);
    }
    free(d->items);
    nb_diags_init(d);
}

nb_diag *nb_diag_add(nb_diags *d, nb_severity severity, const char *code, nb_loc loc,
                     const char *fmt, ...)
{
    d->items = nb_xgrow(d->items, &d->cap, d->len + 1, sizeof *d->items);
    nb_diag *diag = &d->items[d->len++];
    nb_buf msg = NB_BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    nb_buf_vprintf(&msg, fmt, ap);
    va_end(ap);
    *diag = (nb_diag){ .severity = severity, .code = code, .loc = loc };
    diag->file = loc.file ? nb_xstrdup(loc.file) : NULL;
    diag->loc.file = diag->file;
    diag->message = nb_buf_detach(&msg, NULL);
    if (severity == NB_ERROR)
        d->errors++;
    else if (severity == NB_WARNING)
        d->warnings++;
    return diag;
}

void nb_diag_set_source(nb_diag *diag, const char *text, size_t len)
{
    if (diag->loc.line <= 0 || !text)
        return;
    size_t n;
    const char *p = nb_text_line(text, len, diag->loc.line, &n);
    if (!p)
        return;
    if (n && p[n - 1] == '\r')
        n--;
    free(diag->source_line);
    diag->source_line = nb_xstrndup(p, n);
}

void nb_buf_add_printable(nb_buf *out, const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        size_t n = nb_utf8_sequence(s + i, len - i);
        if (n == 0 || p[i] < 0x20 || p[i] == 0x7F) {
            nb_buf_printf(out, "\\x%02x", p[i]);
            i++;
            continue;
        }
        /* C1 control characters U+0080..U+009F are encoded C2 80..C2 9F */
        if (n == 2 && p[i] == 0xC2 && p[i + 1] < 0xA0) {
            nb_buf_printf(out, "\\u%04x", p[i + 1]);
            i += 2;
            continue;
        }
        /* U+2028/U+2029 end a line for YAML (and JavaScript), so one in a generated
         * file's comment would end the comment; the bidirectional overrides and isolates
         * (U+202A..U+202E, U+2066..U+2069) make text read differently from what it is */
        if (n == 3 && p[i] == 0xE2 &&
            ((p[i + 1] == 0x80 && p[i + 2] >= 0xA8 && p[i + 2] <= 0xAE) ||
             (p[i + 1] == 0x81 && p[i + 2] >= 0xA6 && p[i + 2] <= 0xA9))) {
            nb_buf_printf(out, "\\u%04x",
                          (unsigned)(((p[i] & 0x0F) << 12) | ((p[i + 1] & 0x3F) << 6) | (p[i + 2] & 0x3F)));
            i += 3;
            continue;
        }
        nb_buf_add(out, p + i, n);
        i += n;
    }
}

static void render_location(const nb_diag *diag, nb_buf *out)
{
    const nb_loc *loc = &diag->loc;
    nb_buf_add_printable(out, loc->file ? loc->file : "nb2pipe", loc->file ? strlen(loc->file) : 7);
    if (loc->cell > 0)
        nb_buf_printf(out, ":cell %d", loc->cell);
    if (loc->line > 0) {
        nb_buf_printf(out, ":%d", loc->line);
        if (loc->col > 0)
            nb_buf_printf(out, ":%d", loc->col);
    }
    nb_buf_putc(out, ':');
}

/* Byte offset of character CHARS in S (of LEN bytes). */
static size_t char_offset(const char *s, size_t len, int chars)
{
    size_t i = 0;
    for (int c = 0; c < chars && i < len; c++) {
        i++;
        while (i < len && ((unsigned char)s[i] & 0xC0) == 0x80)
            i++;
    }
    return i;
}

enum { SOURCE_WINDOW = 100 }; /* characters of a long source line shown around the caret */

/* The source line (a window of it around the caret when it is long), tabs shown as one
 * space so that the caret lines up. */
static void render_source(const nb_diag *diag, nb_buf *out)
{
    const char *src = diag->source_line;
    size_t len = strlen(src);
    int total = nb_utf8_columns(src, len);
    int col = diag->loc.col > 0 ? diag->loc.col : 1;
    int first = 0;
    if (total > SOURCE_WINDOW) {
        first = col - 1 - SOURCE_WINDOW / 2;
        if (first > total - SOURCE_WINDOW)
            first = total - SOURCE_WINDOW;
        if (first < 0)
            first = 0;
    }
    size_t start = char_offset(src, len, first);
    size_t end = total > SOURCE_WINDOW ? start + char_offset(src + start, len - start, SOURCE_WINDOW)
                                       : len;
    bool cut_left = start > 0, cut_right = end < len;
    nb_buf line = NB_BUF_INIT;
    if (cut_left)
        nb_buf_puts(&line, "...");
    nb_buf_add_printable(&line, src + start, end - start);
    if (cut_right)
        nb_buf_puts(&line, "...");
    for (size_t i = 0; i < line.len; i++)
        if (line.data[i] == '\t')
            line.data[i] = ' ';
    char gutter[16];
    int width = snprintf(gutter, sizeof gutter, "%5d", diag->loc.line);
    nb_buf_printf(out, "%s | %s\n", gutter, line.data);
    if (diag->loc.col > 0) {
        nb_buf_pad(out, ' ', (size_t)width);
        nb_buf_puts(out, " | ");
        nb_buf_pad(out, ' ', (size_t)(col - 1 - first + (cut_left ? 3 : 0)));
        nb_buf_puts(out, "^\n");
    }
    nb_buf_release(&line);
}

void nb_diags_render_text(const nb_diags *d, nb_buf *out, bool color)
{
    for (size_t i = 0; i < d->len; i++) {
        const nb_diag *diag = &d->items[i];
        if (color)
            nb_buf_puts(out, "\033[1m");
        render_location(diag, out);
        if (color)
            nb_buf_printf(out, "\033[0m %s%s:\033[0m ", severity_colors[diag->severity],
                          severity_names[diag->severity]);
        else
            nb_buf_printf(out, " %s: ", severity_names[diag->severity]);
        nb_buf_add_printable(out, diag->message, strlen(diag->message));
        if (diag->code)
            nb_buf_printf(out, " [%s]", diag->code);
        nb_buf_putc(out, '\n');
        if (diag->source_line)
            render_source(diag, out);
    }
}

/* A JSON string for S; a file name or message that is not valid UTF-8 is escaped. */
static json_t *json_text(const char *s)
{
    json_t *str = json_string(s);
    if (str)
        return str;
    nb_buf safe = NB_BUF_INIT;
    nb_buf_add_printable(&safe, s, strlen(s));
    str = json_string(safe.data);
    nb_buf_release(&safe);
    return str;
}

json_t *nb_diags_to_json(const nb_diags *d)
{
    json_t *list = json_array();
    for (size_t i = 0; i < d->len; i++) {
        const nb_diag *diag = &d->items[i];
        json_t *o = json_object();
        json_object_set_new(o, "file", diag->loc.file ? json_text(diag->loc.file) : json_null());
        json_object_set_new(o, "cell", diag->loc.cell ? json_integer(diag->loc.cell) : json_null());
        json_object_set_new(o, "line", diag->loc.line ? json_integer(diag->loc.line) : json_null());
        json_object_set_new(o, "column", diag->loc.col ? json_integer(diag->loc.col) : json_null());
        json_object_set_new(o, "severity", json_string(severity_names[diag->severity]));
        json_object_set_new(o, "code", json_string(diag->code ? diag->code : ""));
        json_object_set_new(o, "message", json_text(diag->message));
        json_array_append_new(list, o);
    }
    return list;
}
