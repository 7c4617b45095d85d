/* The one escaping layer: every string nb2pipe writes into Python source, a shell
 * command or a Graphviz file passes through here. (YAML goes through libyaml.) */
#ifndef NB2PIPE_WRITER_H
#define NB2PIPE_WRITER_H

#include "nb2pipe/buf.h"

#include <stdbool.h>
#include <stddef.h>
#include <yaml.h>

/* Appends S as a double-quoted Python string literal: backslash, quote and control
 * characters escaped, other text kept as UTF-8. */
void nb_write_py_string(nb_buf *out, const char *s, size_t len);

/* Appends S escaped for the text part of an f-string quoted with QUOTE (' or "), braces
 * doubled, without the quotes. */
void nb_write_py_fstring_text(nb_buf *out, const char *s, size_t len, char quote);

/* Appends S as one POSIX shell word: unchanged when it only holds safe characters,
 * otherwise single-quoted. */
void nb_write_sh_word(nb_buf *out, const char *s, size_t len);

/* Appends the shell line NAME=VALUE with VALUE one shell word. A single-quoted '$' or
 * '`' looks like a mistake to shellcheck (SC2016), so such a line is preceded by a
 * directive saying the text is literal. */
void nb_write_sh_assignment(nb_buf *out, const char *name, const char *value);

/* Appends S as a double-quoted Graphviz ID. */
void nb_write_dot_string(nb_buf *out, const char *s, size_t len);
/* The same for a label of lines, each ending with a newline: left-aligned. */
void nb_write_dot_lines(nb_buf *out, const char *s, size_t len);

/* YAML through libyaml's event API, into an nb_buf: no YAML is ever pasted together
 * from strings. Calls after a failure do nothing; nb_yaml_end reports it. */
typedef struct nb_yaml {
    yaml_emitter_t emitter;
    nb_buf *out;
    bool failed;
    char error[200];
} nb_yaml;

/* Starts a stream with one (implicit) document, appending to OUT. */
void nb_yaml_begin(nb_yaml *y, nb_buf *out);
void nb_yaml_map_begin(nb_yaml *y);
void nb_yaml_map_end(nb_yaml *y);
/* FLOW gives [a, b] instead of one item per line. */
void nb_yaml_seq_begin(nb_yaml *y, bool flow);
void nb_yaml_seq_end(nb_yaml *y);
/* A string: quoted when a YAML reader would otherwise take it for a number, a boolean
 * or null ("0.2", "yes", "~"), or when its characters need it. */
void nb_yaml_string(nb_yaml *y, const char *s);
/* A number or boolean as written: 0.2, 50, true. */
void nb_yaml_plain(nb_yaml *y, const char *s);
/* KEY: VALUE with VALUE a string. */
void nb_yaml_pair(nb_yaml *y, const char *key, const char *value);
/* Ends document and stream. Returns false with y->error set when an event failed. */
bool nb_yaml_end(nb_yaml *y);
/* Ends the current document and starts another ("---"), as in a multi-document file. */
void nb_yaml_next_document(nb_yaml *y);

/* True when plain scalar S would be read by YAML 1.1 or 1.2 as something other than a
 * string (null, boolean, number, timestamp). */
bool nb_yaml_looks_typed(const char *s);

#endif
