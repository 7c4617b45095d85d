#include "nb2pipe/writer.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static void py_escaped(nb_buf *out, const char *s, size_t len, bool double_braces, char quote)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        switch (c) {
        case '\\': nb_buf_puts(out, "\\\\"); break;
        case '"':
        case '\'':
            if (c == (unsigned char)quote)
                nb_buf_putc(out, '\\');
            nb_buf_putc(out, (char)c);
            break;
        case '\n': nb_buf_puts(out, "\\n"); break;
        case '\r': nb_buf_puts(out, "\\r"); break;
        case '\t': nb_buf_puts(out, "\\t"); break;
        case '{':
        case '}':
            nb_buf_putc(out, (char)c);
            if (double_braces)
                nb_buf_putc(out, (char)c);
            break;
        default:
            if (c < 0x20 || c == 0x7F)
                nb_buf_printf(out, "\\x%02x", c);
            else
                nb_buf_putc(out, (char)c);
        }
    }
}

void nb_write_py_string(nb_buf *out, const char *s, size_t len)
{
    nb_buf_putc(out, '"');
    py_escaped(out, s, len, false, '"');
    nb_buf_putc(out, '"');
}

void nb_write_py_fstring_text(nb_buf *out, const char *s, size_t len, char quote)
{
    py_escaped(out, s, len, true, quote);
}

void nb_write_sh_word(nb_buf *out, const char *s, size_t len)
{
    static const char safe[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                               "0123456789_-./:=@%+,";
    bool plain = len > 0;
    for (size_t i = 0; i < len && plain; i++)
        plain = s[i] != '\0' && strchr(safe, s[i]) != NULL;
    if (plain) {
        nb_buf_add(out, s, len);
        return;
    }
    nb_buf_putc(out, '\'');
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '\'')
            nb_buf_puts(out, "'\\''");
        else
            nb_buf_putc(out, s[i]);
    }
    nb_buf_putc(out, '\'');
}

void nb_write_sh_assignment(nb_buf *out, const char *name, const char *value)
{
    if (strpbrk(value, "$`"))
        nb_buf_puts(out, "# shellcheck disable=SC2016 # the quoted $ and ` are part of the value\n");
    nb_buf_printf(out, "%s=", name);
    nb_write_sh_word(out, value, strlen(value));
    nb_buf_putc(out, '\n');
}

/* A DOT string of S, each newline written as NEWLINE (\\n centres a line, \\l ends a
 * left-aligned one). */
static void dot_string(nb_buf *out, const char *s, size_t len, const char *newline)
{
    nb_buf_putc(out, '"');
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '"' || s[i] == '\\')
            nb_buf_putc(out, '\\');
        if (s[i] == '\n')
            nb_buf_puts(out, newline);
        else
            nb_buf_putc(out, s[i]);
    }
    nb_buf_putc(out, '"');
}

void nb_write_dot_string(nb_buf *out, const char *s, size_t len)
{
    dot_string(out, s, len, "\\n");
}

void nb_write_dot_lines(nb_buf *out, const char *s, size_t len)
{
    dot_string(out, s, len, "\\l");
}

/* ---- YAML ------------------------------------------------------------------------ */

static int yaml_to_buf(void *data, unsigned char *buffer, size_t size)
{
    nb_buf_add(data, buffer, size);
    return 1;
}

static void emit(nb_yaml *y, yaml_event_t *event, bool made)
{
    if (y->failed)
        return;
    if (!made || !yaml_emitter_emit(&y->emitter, event)) {
        y->failed = true;
        snprintf(y->error, sizeof y->error, "YAML emitter: %s",
                 y->emitter.problem ? y->emitter.problem : "cannot create event");
    }
}

void nb_yaml_begin(nb_yaml *y, nb_buf *out)
{
    memset(y, 0, sizeof *y);
    y->out = out;
    yaml_emitter_initialize(&y->emitter);
    yaml_emitter_set_output(&y->emitter, yaml_to_buf, out);
    yaml_emitter_set_unicode(&y->emitter, 1);
    yaml_emitter_set_width(&y->emitter, -1);
    yaml_emitter_set_indent(&y->emitter, 2);
    yaml_event_t event;
    emit(y, &event, yaml_stream_start_event_initialize(&event, YAML_UTF8_ENCODING));
    emit(y, &event, yaml_document_start_event_initialize(&event, NULL, NULL, NULL, 1));
}

void nb_yaml_map_begin(nb_yaml *y)
{
    yaml_event_t event;
    emit(y, &event, yaml_mapping_start_event_initialize(&event, NULL, NULL, 1,
                                                        YAML_BLOCK_MAPPING_STYLE));
}

void nb_yaml_map_end(nb_yaml *y)
{
    yaml_event_t event;
    emit(y, &event, yaml_mapping_end_event_initialize(&event));
}

void nb_yaml_seq_begin(nb_yaml *y, bool flow)
{
    yaml_event_t event;
    emit(y, &event, yaml_sequence_start_event_initialize(
                        &event, NULL, NULL, 1, flow ? YAML_FLOW_SEQUENCE_STYLE : YAML_BLOCK_SEQUENCE_STYLE));
}

void nb_yaml_seq_end(nb_yaml *y)
{
    yaml_event_t event;
    emit(y, &event, yaml_sequence_end_event_initialize(&event));
}

static void scalar(nb_yaml *y, const char *s, yaml_scalar_style_t style)
{
    yaml_event_t event;
    /* libyaml copies the value but declares it non-const */
    emit(y, &event, yaml_scalar_event_initialize(&event, NULL, NULL, (yaml_char_t *)(uintptr_t)s,
                                                 (int)strlen(s), 1, 1, style));
}

void nb_yaml_string(nb_yaml *y, const char *s)
{
    scalar(y, s, nb_yaml_looks_typed(s) ? YAML_DOUBLE_QUOTED_SCALAR_STYLE : YAML_ANY_SCALAR_STYLE);
}

void nb_yaml_plain(nb_yaml *y, const char *s)
{
    scalar(y, s, YAML_PLAIN_SCALAR_STYLE);
}

void nb_yaml_pair(nb_yaml *y, const char *key, const char *value)
{
    nb_yaml_string(y, key);
    nb_yaml_string(y, value);
}

void nb_yaml_next_document(nb_yaml *y)
{
    yaml_event_t event;
    emit(y, &event, yaml_document_end_event_initialize(&event, 1));
    /* not implicit: the "---" separates the documents */
    emit(y, &event, yaml_document_start_event_initialize(&event, NULL, NULL, NULL, 0));
}

bool nb_yaml_end(nb_yaml *y)
{
    yaml_event_t event;
    emit(y, &event, yaml_document_end_event_initialize(&event, 1));
    emit(y, &event, yaml_stream_end_event_initialize(&event));
    if (!y->failed && !yaml_emitter_flush(&y->emitter)) {
        y->failed = true;
        snprintf(y->error, sizeof y->error, "YAML emitter: cannot flush");
    }
    yaml_emitter_delete(&y->emitter);
    return !y->failed;
}

static bool all_in(const char *s, const char *set)
{
    return *s && strspn(s, set) == strlen(s);
}

/* [-+]? digits with _ and at most one dot, and an optional exponent */
static bool looks_number(const char *s)
{
    if (*s == '-' || *s == '+')
        s++;
    if ((s[0] == '0' && (s[1] == 'x' || s[1] == 'o' || s[1] == 'b')) && s[2])
        return all_in(s + 2, "0123456789abcdefABCDEF_");
    size_t digits = 0, dots = 0;
    const char *p = s;
    for (; *p && (isdigit((unsigned char)*p) || *p == '_' || *p == '.'); p++) {
        digits += isdigit((unsigned char)*p) != 0;
        dots += *p == '.';
    }
    if (digits == 0 || dots > 1)
        return false;
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '-' || *p == '+')
            p++;
        if (!isdigit((unsigned char)*p))
            return false;
        while (isdigit((unsigned char)*p))
            p++;
    }
    if (*p == ':') /* YAML 1.1 sexagesimal: 1:20:30 */
        return all_in(p, "0123456789:._");
    return *p == '\0';
}

bool nb_yaml_looks_typed(const char *s)
{
    static const char *const words[] = {
        "", "~", "null", "Null", "NULL", "true", "True", "TRUE", "false", "False", "FALSE",
        "yes", "Yes", "YES", "no", "No", "NO", "on", "On", "ON", "off", "Off", "OFF", "y", "Y",
        "n", "N", ".inf", ".Inf", ".INF", "-.inf", "-.Inf", "-.INF", "+.inf", ".nan", ".NaN",
        ".NAN", "<<", "=",
    };
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        if (strcmp(s, words[i]) == 0)
            return true;
    /* timestamps: 2024-01-31... */
    if (isdigit((unsigned char)s[0]) && isdigit((unsigned char)s[1]) && isdigit((unsigned char)s[2]) &&
        isdigit((unsigned char)s[3]) && s[4] == '-')
        return true;
    return looks_number(s);
}
