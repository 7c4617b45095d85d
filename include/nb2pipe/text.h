/* Small facts about text: UTF-8 validity and turning byte offsets into line:col. */
#ifndef NB2PIPE_TEXT_H
#define NB2PIPE_TEXT_H

#include <stdbool.h>
#include <stddef.h>

/* Length of the valid UTF-8 sequence at S (at most LEN bytes, LEN > 0), or 0 when the
 * bytes there are not valid UTF-8 (overlong forms and surrogates included). */
size_t nb_utf8_sequence(const char *s, size_t len);

/* Same, and the code point it encodes in *CODE_POINT (set only when valid). */
size_t nb_utf8_decode(const char *s, size_t len, unsigned long *code_point);

/* Offset of the first byte of S that is not part of valid UTF-8, or LEN. */
size_t nb_utf8_check(const char *s, size_t len);

/* Counts the code points in the LEN bytes at S: turns byte columns into the
 * character columns diagnostics show. */
int nb_utf8_columns(const char *s, size_t len);

/* The value of the hex digit C (0-9, a-f, A-F), or -1. */
int nb_hex_digit(int c);

/* The 1-based line and character column of byte OFFSET in TEXT. */
void nb_text_position(const char *text, size_t offset, int *line, int *col);

/* Line LINE (1-based) of the LEN bytes at TEXT, without its newline: its start, and its
 * length in *LINE_LEN. NULL when TEXT has fewer lines. */
const char *nb_text_line(const char *text, size_t len, int line, size_t *line_len);

#endif
