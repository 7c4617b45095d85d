#include "nb2pipe/writer.h"

#include <string.h>

static void py_escaped(nb_buf *out, const char *s, size_t len, bool double_braces)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        switch (c) {
        case '\\': nb_buf_puts(out, "\\\\"); break;
        case '"': nb_buf_puts(out, "\\\""); break;
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
    py_escaped(out, s, len, false);
    nb_buf_putc(out, '"');
}

void nb_write_py_fstring_text(nb_buf *out, const char *s, size_t len)
{
    py_escaped(out, s, len, true);
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

void nb_write_dot_string(nb_buf *out, const char *s, size_t len)
{
    nb_buf_putc(out, '"');
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '"' || s[i] == '\\')
            nb_buf_putc(out, '\\');
        if (s[i] == '\n')
            nb_buf_puts(out, "\\n");
        else
            nb_buf_putc(out, s[i]);
    }
    nb_buf_putc(out, '"');
}
