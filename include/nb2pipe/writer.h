/* The one escaping layer: every string nb2pipe writes into Python source, a shell
 * command or a Graphviz file passes through here. (YAML goes through libyaml.) */
#ifndef NB2PIPE_WRITER_H
#define NB2PIPE_WRITER_H

#include "nb2pipe/buf.h"

#include <stddef.h>

/* Appends S as a double-quoted Python string literal: backslash, quote and control
 * characters escaped, other text kept as UTF-8. */
void nb_write_py_string(nb_buf *out, const char *s, size_t len);

/* Appends S escaped for the text part of a double-quoted f-string (as above, with
 * braces doubled), without the quotes. */
void nb_write_py_fstring_text(nb_buf *out, const char *s, size_t len);

/* Appends S as one POSIX shell word: unchanged when it only holds safe characters,
 * otherwise single-quoted. */
void nb_write_sh_word(nb_buf *out, const char *s, size_t len);

/* Appends S as a double-quoted Graphviz ID. */
void nb_write_dot_string(nb_buf *out, const char *s, size_t len);

#endif
