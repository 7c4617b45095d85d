/* The resolver's view of the notebook as it walks the cells in order: how each name is
 * bound just before the cell being resolved. analysis.c keeps it; effects.c, alias.c
 * and fileio.c read it to decide what a cell's calls and aliases do. Private to those
 * modules. */
#ifndef NB2PIPE_RESOLVE_H
#define NB2PIPE_RESOLVE_H

#include "nb2pipe/analysis.h"
#include "nb2pipe/buf.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct nb_bindings {
    const nb_analysis *an;
    const nb_code_cell *cell;           /* the cell being resolved */
    int *latest;                        /* by name: cell number of the latest binding or
                                           change so far, -N when cell N deleted it, 0 none */
    uint8_t *kind;                      /* by name: nb_binding_kind of that binding */
    const nb_definition **definition;   /* by name: the def or class it is bound to */
    const nb_import **import;           /* by name: the import that bound it */
    uint8_t *immutable;                 /* by name: bound to a literal (x = 5), which no
                                           change in place can reach */
    const nb_definition **classes;      /* the notebook's classes bound so far */
    size_t nclasses;
    bool seeded;                        /* a global random generator was seeded */
    nb_name random_state;               /* the pseudo-name "random-state" */
} nb_bindings;

/* The definition (function or class) NAME is bound to when the cell runs: the cell's
 * own, if it defines NAME, else the one bound before it; NULL when NAME is not code the
 * notebook defines. */
const nb_definition *nb_bound_definition(const nb_bindings *b, nb_name name);

/* The canonical dotted path of PATH ("np.random.seed" -> "numpy.random.seed") through
 * the import that binds its first name, in OUT; false when that name is not bound by an
 * import (data, a notebook function, nothing). A builtin's name stands for itself. */
bool nb_canonical_path(const nb_bindings *b, const char *path, nb_buf *out);

/* Whether NAME holds data now: bound, not code, not a literal. */
bool nb_holds_data(const nb_bindings *b, nb_name name);

#endif
