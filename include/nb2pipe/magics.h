/* IPython syntax in code cells: line and cell magics, shell escapes, help syntax.
 * nb_magics_translate turns a cell into Python text with exactly as many lines as the
 * cell, so that positions in the Python point at the cell's own lines, and records
 * what it did with each magic. */
#ifndef NB2PIPE_MAGICS_H
#define NB2PIPE_MAGICS_H

#include "nb2pipe/buf.h"

#include <stddef.h>

typedef enum nb_magic_action {
    NB_MAGIC_KEPT,        /* its Python runs: the body of %%time, the statement of %time */
    NB_MAGIC_DROPPED,     /* affects only display or the interactive session: commented out */
    NB_MAGIC_TRANSLATED,  /* replaced by Python with the same effect (!cmd, %cd, %%bash...) */
    NB_MAGIC_REQUIREMENT, /* %pip/!pip/conda install: commented out, packages recorded */
    NB_MAGIC_UNSUPPORTED, /* no faithful translation: commented out, to be reported */
} nb_magic_action;

typedef struct nb_magic {
    int line, col;   /* 1-based position of the magic in the cell */
    char name[40];   /* as written, e.g. "%matplotlib", "%%bash", "!", "!!", "?" */
    nb_magic_action action;
    const char *why; /* a short static explanation for reports */
} nb_magic;

/* One cell, translated. */
typedef struct nb_magic_result {
    nb_buf python;
    nb_magic *magics;
    size_t nmagics, magics_cap;
    char **packages; /* requirement specifiers from install commands, in order */
    size_t npackages, packages_cap;
} nb_magic_result;

void nb_magic_result_init(nb_magic_result *res);
/* Frees everything; RES is empty and reusable afterwards. */
void nb_magic_result_release(nb_magic_result *res);

/* The compiled patterns; one per program, shared read-only by every translation. */
typedef struct nb_magics nb_magics;

nb_magics *nb_magics_new(void);
void nb_magics_free(nb_magics *magics);

/* Translates the LEN bytes of cell text at SRC into RES (which it resets first). */
void nb_magics_translate(const nb_magics *magics, const char *src, size_t len,
                         nb_magic_result *res);

const char *nb_magic_action_name(nb_magic_action action);

#endif
