/* The plan of a converted pipeline as the local runner sees it: the steps of the
 * manifest (nb2pipe.lock.json) with their scripts, inputs, outputs and parameters, the
 * files each step reads and writes in the data directory, and the fingerprint that
 * decides whether a step must run again. */
#ifndef NB2PIPE_RUNPLAN_H
#define NB2PIPE_RUNPLAN_H

#include "nb2pipe/alloc.h"
#include "nb2pipe/diag.h"

#include <stdbool.h>
#include <stddef.h>

/* A value a step reads: variable VAR saved by step PRODUCER (an index into the plan). */
typedef struct nb_plan_input {
    const char *var;     /* the artifact: a variable, a group's file, "random-state" */
    size_t producer;
    const char **takes;  /* the variables the step takes from a group's file; NULL when
                            the artifact is the one variable VAR */
    size_t ntakes;
} nb_plan_input;

typedef struct nb_plan_step {
    const char *name;
    const char *script; /* relative to the pipeline directory */
    size_t *upstream;   /* indices of the steps this one waits for */
    size_t nupstream;
    nb_plan_input *inputs;
    size_t ninputs;
    const char **outputs; /* variables it saves */
    size_t noutputs;
    bool has_metrics; /* it writes metrics.json */
    const char **metrics; /* the variables it reports as metrics */
    size_t nmetrics;
    int *cells;           /* its notebook cells (for plot); none in older manifests */
    size_t ncells;
    const char **params; /* names of the pipeline parameters it reads */
    size_t nparams;
} nb_plan_step;

typedef struct nb_plan_param {
    const char *name;
    const char *value; /* the default, or the --param override */
    bool overridden;
} nb_plan_param;

typedef struct nb_plan {
    const char *name;     /* the pipeline's name */
    const char *dir;      /* the pipeline directory, as given */
    const char *data_dir; /* DIR/output: where steps keep their values */
    const char *notebook; /* the notebook it was converted from, relative to DIR */
    const char *workdir;  /* where the notebook ran, relative to DIR */
    nb_plan_step *steps;  /* in the manifest's order, which is a topological order */
    size_t nsteps;
    nb_plan_param *params;
    size_t nparams;
    nb_pool pool;
} nb_plan;

/* Loads the manifest of the pipeline in DIR. Returns 0, or -1 after recording an error
 * (no pipeline there, a damaged manifest). */
int nb_plan_load(nb_plan *plan, const char *dir, nb_diags *diags);
void nb_plan_release(nb_plan *plan);

/* Applies NAME=VALUE overrides; an unknown name or a missing '=' is an error (-1). */
int nb_plan_set_params(nb_plan *plan, const char *const *assignments, size_t count,
                       nb_diags *diags);

/* The index of the step called NAME, or -1 after recording an error that lists the
 * steps there are. */
long nb_plan_find(const nb_plan *plan, const char *name, nb_diags *diags);

/* Marks in SELECTED (nsteps entries) the steps that are STEP or depend on it
 * (DOWNSTREAM) or that STEP depends on (!DOWNSTREAM), transitively. */
void nb_plan_reach(const nb_plan *plan, size_t step, bool downstream, bool *selected);

/* The path, relative to the data directory, of output VAR of step STEP, or of its
 * metrics file when VAR is NULL: "STEP/VAR.pkl", "STEP/metrics.json". Caller frees. */
char *nb_plan_output_path(const nb_plan_step *step, const char *var);

/* 128-bit content hashes, written as 32 lower-case hex digits and a NUL. */
enum { NB_HASH_HEX = 33 };

/* Hashes the file at PATH into HEX. Returns 0, or -1 when it cannot be read (errno). */
int nb_hash_file(const char *path, char hex[NB_HASH_HEX]);

/* What a step's result depends on, each part hashed separately so that a change can
 * be named: the code (its script and the runtime), the values of the parameters it
 * reads, the content of the inputs it loads, and the Python that runs it. */
typedef struct nb_fingerprint {
    char code[NB_HASH_HEX];
    char params[NB_HASH_HEX];
    char inputs[NB_HASH_HEX];
    char python[NB_HASH_HEX];
    char whole[NB_HASH_HEX]; /* all four together */
    bool inputs_missing;     /* an input file does not exist */
} nb_fingerprint;

/* Computes the fingerprint of step I as things are on disk now; PYTHON is the
 * interpreter's absolute path. */
void nb_plan_fingerprint(const nb_plan *plan, size_t i, const char *python, nb_fingerprint *fp);

/* The interpreter to run steps with: PYTHON when given (a path, or a name looked up on
 * PATH), else /usr/bin/python3 when present, else python3 from PATH; made an
 * absolute path (symbolic links kept). NULL when it cannot be found. Caller frees. */
char *nb_plan_resolve_python(const char *python);

#endif
