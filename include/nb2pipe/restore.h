/* Going back to the state before a step: `nb2pipe restore` puts the inputs a step had
 * in a recorded run back into the data directory, and can write a notebook that loads
 * them, with the step's code, to debug it interactively. `nb2pipe runs` and `nb2pipe
 * gc` list and prune the records this relies on. */
#ifndef NB2PIPE_RESTORE_H
#define NB2PIPE_RESTORE_H

#include "nb2pipe/diag.h"

#include <stdbool.h>
#include <stdio.h>

typedef struct nb_restore_opts {
    const char *dir;      /* the pipeline directory */
    const char *step;     /* whose inputs to restore */
    long long run;        /* as in this run; 0: the newest */
    const char *notebook; /* also write this debugging notebook, or NULL */
    bool wait;            /* wait for a run in progress instead of failing */
} nb_restore_opts;

/* Restores the inputs of OPTS->step; prints what it did and how to resume. Returns 0,
 * or -1 after recording an error (nothing is changed then). */
int nb_restore(const nb_restore_opts *opts, nb_diags *diags, FILE *out);

/* Lists the recorded runs of the pipeline in DIR, as a table or JSON. */
int nb_list_runs(const char *dir, bool json, nb_diags *diags, FILE *out);

/* Forgets all but the newest KEEP runs (and the newest successful one) and deletes the
 * snapshots and logs only they used. */
int nb_gc_runs(const char *dir, long keep, nb_diags *diags, FILE *out);

#endif
