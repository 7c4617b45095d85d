/* Diagnostics: every message nb2pipe gives about its input goes through here, so that
 * all of them have one shape, `file:cell N:line:col: severity: message [code]`, in
 * text or JSON. Library code records diagnostics and returns; only the CLI decides exit
 * codes and prints. */
#ifndef NB2PIPE_DIAG_H
#define NB2PIPE_DIAG_H

#include "nb2pipe/buf.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

typedef enum nb_severity { NB_NOTE, NB_WARNING, NB_ERROR } nb_severity;

/* Where a diagnostic points. Zero fields are unknown and not printed. */
typedef struct nb_loc {
    const char *file; /* path as the user gave it */
    int cell;         /* 1-based position of the cell among all cells of the notebook */
    int line, col;    /* 1-based; within the cell when cell != 0, else within the file */
} nb_loc;

typedef struct nb_diag {
    nb_severity severity;
    const char *code; /* a stable identifier such as "invalid-json"; static storage */
    nb_loc loc;       /* loc.file points at `file` */
    char *file;       /* a copy of the file name the location had */
    char *message;
    char *source_line; /* the text of line loc.line, or NULL */
} nb_diag;

typedef struct nb_diags {
    nb_diag *items;
    size_t len, cap;
    size_t errors, warnings;
} nb_diags;

#define NB_DIAGS_INIT { NULL, 0, 0, 0, 0 }

void nb_diags_init(nb_diags *d);
/* Frees every diagnostic; D is empty and reusable afterwards. */
void nb_diags_release(nb_diags *d);

/* Records a diagnostic and returns it (valid until the next add). */
nb_diag *nb_diag_add(nb_diags *d, nb_severity severity, const char *code, nb_loc loc,
                     const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Attaches the line DIAG points at, taken from TEXT (the cell or file it refers to). */
void nb_diag_set_source(nb_diag *diag, const char *text, size_t len);

/* Appends every diagnostic as text: the location line, then (when known) the source
 * line and a caret. Control characters from notebook text are shown escaped. COLOR adds
 * ANSI colours. */
void nb_diags_render_text(const nb_diags *d, nb_buf *out, bool color);

/* The diagnostics as a JSON array of objects {file, cell, line, column, severity, code,
 * message}; the caller owns the reference. */
json_t *nb_diags_to_json(const nb_diags *d);

/* Appends S to OUT with control characters and invalid UTF-8 made visible as \xNN (C1
 * controls, U+2028/U+2029 and the bidirectional overrides as \uNNNN), so notebook text
 * can never move the cursor or change a terminal's state, end a generated file's
 * comment, or read as something else. */
void nb_buf_add_printable(nb_buf *out, const char *s, size_t len);

#endif
