/* The local runner: executes a converted pipeline's steps on this machine, in
 * parallel where the dependencies allow, each in its own process with its own log;
 * skips the steps whose fingerprint (code, parameters, inputs, python) and outputs are
 * as recorded; records every run (runrec.h). */
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
    const char *const *only; /* run just these steps */
    size_t nonly;
    const char *from;  /* run this step and those downstream of it */
    const char *until; /* run this step and those upstream of it */
    int jobs;          /* steps at once; 0: the number of processors */
    bool force;        /* run selected steps even when up to date */
    bool fail_fast;    /* on a failure, stop every running step */
    bool no_record;    /* neither read nor write run records (every selected step runs) */
    bool no_warm;      /* a fresh Python per step, no warm interpreter forking them */
    bool wait;         /* wait for another run of the same pipeline instead of failing */
    bool strict;       /* a guard report fails its step (NB2PIPE_STRICT=1) */
    bool no_guard;     /* steps skip the guard (NB2PIPE_GUARD=0) */
    bool quiet;        /* nothing on success but errors */
    bool json;         /* one JSON event per line instead of text */
} nb_run_opts;

enum {
    NB_RUN_OK = 0,
    NB_RUN_FAILED = 1,       /* a step failed; the others that could ran */
    NB_RUN_INTERRUPTED = 130, /* SIGINT/SIGTERM: steps killed, the run recorded so */
    NB_RUN_ERROR = -1        /* the pipeline cannot be run; an error is recorded */
};

/* Runs the pipeline in OPTS->dir, printing progress and a summary to OUT. Returns one
 * of the NB_RUN_* values. */
int nb_run(const nb_run_opts *opts, nb_diags *diags, FILE *out);

/* Prints, per step, whether it is up to date, stale (and why) or never ran, as a run
 * with OPTS would see it. Returns 0, or -1 after recording an error. */
int nb_run_status(const nb_run_opts *opts, nb_diags *diags, FILE *out);

#endif
