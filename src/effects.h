/* effects: what a cell's code does beyond binding names, once the notebook's functions
 * and classes are known (DESIGN §3 "function effects"): the objects it changes in place
 * (itself, or inside the functions and methods it calls, transitively), the globals
 * those functions rebind, the objects it makes share, whether it seeds or draws from a
 * global random generator, the interpreter state it sets, the files it touches, and the
 * code nb2pipe cannot see (exec, globals()). Private to the analysis. */
#ifndef NB2PIPE_EFFECTS_H
#define NB2PIPE_EFFECTS_H

#include "resolve.h"

#include "nb2pipe/diag.h"

typedef struct nb_namevec {
    nb_name *items;
    size_t len, cap;
} nb_namevec;

void nb_namevec_add(nb_namevec *v, nb_name name); /* no repeats */
void nb_namevec_release(nb_namevec *v);

/* What the analysis found a cell's calls and changes do. */
typedef struct nb_cell_effects {
    nb_touch *changes; /* names whose objects change in place, direct or in a call */
    size_t nchanges, changes_cap;
    nb_namevec *links; /* sets of names made to share objects */
    size_t nlinks, links_cap;
    nb_ref *rebinds;   /* globals the called functions rebind */
    size_t nrebinds, rebinds_cap;
    bool seeds, draws;
    int random_line, random_col; /* the first seed or draw */
    bool dynamic; /* runs code nb2pipe cannot see (exec, globals()[...]) */
    bool warned_stateful; /* a stateful-code warning was given for the cell */
    int warned_run_line;   /* the line of a %run already warned about */
} nb_cell_effects;

/* The effects of cell B->cell, with B's bindings as they are just before it. State
 * statements, file accesses and warnings about code nb2pipe cannot see are stored in
 * the cell (POOL) and DIAGS. */
void nb_effects_of_cell(const nb_bindings *b, nb_code_cell *cc, nb_pool *pool, nb_diags *diags,
                        nb_cell_effects *out);
void nb_cell_effects_release(nb_cell_effects *e);

/* The names a def's SHARES stand for: in OLD, names of data from earlier cells,
 * through calls of notebook functions as far as they hand back their arguments or
 * globals; in HERE, names whose new objects of this cell it shares. */
void nb_effects_share_names(const nb_bindings *b, nb_shares shares, nb_namevec *old,
                            nb_namevec *here);

#endif
