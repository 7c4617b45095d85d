/* The local runner: executes a converted pipeline's steps on this machine, in
 * dependency order, one process each, with a log per step. */
#ifndef NB2PIPE_RUNNER_H
#define NB2PIPE_RUNNER_H

#include "nb2pipe/diag.h"

#include <stdbool.h>
#include <stdio.h>

typedef struct nb_run_opts {
    const char *dir;    /* the pipeline directory (it holds nb2pipe.lock.json) */
    const char *python; /* the interpreter; NULL: /usr/bin/python3 when present, else python3 */
    const char *const *params; /* NAME=VALUE pipeline parameter overrides */
    size_t nparams;
    bool quiet; /* no per-step lines */
} nb_run_opts;

/* Runs every step of the pipeline in OPTS->dir, printing a line per step to PROGRESS
 * (name, status, time) and, at the end, the metrics the steps recorded. Returns 0 when
 * every step succeeded, 1 when one failed (its log path and last lines are printed; the
 * steps after it do not run), -1 after recording an error when the pipeline cannot be
 * run (no manifest, a broken one, an unknown parameter). */
int nb_run(const nb_run_opts *opts, nb_diags *diags, FILE *progress);

#endif
