/* The pipeline IR: steps, the data that flows between them, parameters, resources.
 * Built by dataflow.c from the notebook's analysis and segmentation; every emitter reads
 * only this, through a const pointer, and nothing downstream looks at JSON or syntax
 * trees again. One pool owns all of it; nb_pipeline_free releases everything. */
#ifndef NB2PIPE_PIPELINE_H
#define NB2PIPE_PIPELINE_H

#include "nb2pipe/alloc.h"

#include <stdbool.h>
#include <stddef.h>

typedef enum nb_value_type {
    NB_TYPE_STRING,
    NB_TYPE_INT,
    NB_TYPE_FLOAT,
    NB_TYPE_BOOL,
    NB_TYPE_NONE,
} nb_value_type;

/* A pipeline parameter: a literal assignment of a cell tagged `parameters` or
 * `pipeline-parameters`, overridable at run time on every target. */
typedef struct nb_param {
    const char *name;       /* a Python identifier */
    nb_value_type type;
    const char *python;     /* the default as a Python literal, as the notebook writes it */
    const char *value;      /* the default as text: numbers as written, strings decoded,
                               "True"/"False", "None" */
    int cell, line;         /* where the default is assigned, for diagnostics */
} nb_param;

/* A `limit:`, `annotation:` or `label:` tag: KEY is a Kubernetes key, a limit's VALUE a
 * quantity, a label's VALUE a Kubernetes label value (segment.c checks them). */
typedef struct nb_kv {
    const char *key;
    const char *value;
    int cell; /* the cell whose tag it is, for diagnostics */
} nb_kv;

/* A file of values a step loads, as step FROM left it: one variable (NAME is the
 * variable), a group of variables that share objects and so cross in one file (NAME is
 * the group's: "combine__test_df__train_df", see nb_group), or the global random
 * generators' state ("random-state"). */
typedef struct nb_input {
    const char *name;
    size_t from;                /* index into nb_pipeline.steps */
    const char *const *binds;   /* the variables the step takes from it, sorted */
    size_t nbinds;
    const int *cells;           /* the step's cells that read them, ascending */
    size_t ncells;
} nb_input;

/* An output holding several variables, saved as one pickle of {variable: value}. */
typedef struct nb_group {
    const char *name;
    const char *const *members; /* sorted */
    size_t nmembers;
} nb_group;

/* Python source taken from a cell: a whole cell or some of its top-level statements. */
typedef struct nb_code {
    int cell;          /* the notebook cell number */
    const char *id;    /* the cell's nbformat id, or NULL */
    const char *text;  /* whole lines, ending with a newline (magics already translated) */
    bool after_load;   /* carried code that reads values the step loads: a replayed
                          statement (pd.options.display.max_rows = PREVIOUS), run after
                          loading them */
} nb_code;

typedef struct nb_step {
    const char *name;  /* [a-z0-9_]+, unique, not a Python keyword, at most 48 characters */
    const char *title; /* as the notebook names it: the heading or the block name */
    /* `from __future__ import ...` statements of its code, which Python only accepts at
     * the top of a script: taken out of the cells below (left there as comments) */
    const char *const *future;
    size_t nfuture;
    /* code from outside the step that it runs first: the imports/functions/parameter
     * cells (carried into every step), then imports, functions and classes defined in
     * other steps that this one needs, in notebook order */
    const nb_code *carried;
    size_t ncarried;
    const nb_code *cells; /* the step's own cells, in notebook order */
    size_t ncells;
    const nb_input *inputs; /* sorted by name */
    size_t ninputs;
    const char *const *outputs; /* what later steps load (variables, groups, the random
                                   state), sorted */
    size_t noutputs;
    const nb_group *groups;     /* the outputs that are groups, sorted by name */
    size_t ngroups;
    const size_t *upstream; /* steps it must follow (data and `prev:`), ascending */
    size_t nupstream;
    const size_t *params; /* indexes into nb_pipeline.params it reads, ascending */
    size_t nparams;
    const char *const *metrics; /* variables it reports as pipeline metrics, sorted */
    size_t nmetrics;
    const nb_kv *limits; /* resource -> quantity from `limit:` tags (cpu, memory, ...) */
    size_t nlimits;
    bool after_seed;     /* an earlier cell seeds a global random generator */
    bool draws;          /* its cells draw from a seeded global generator */
    const char *const *changes; /* variables its cells change in place, sorted */
    size_t nchanges;
    const char *image;   /* from an `image:` tag, or NULL for the pipeline's image */
    int image_cell;      /* the cell of that tag */
    const nb_kv *annotations;
    size_t nannotations;
    const nb_kv *labels;
    size_t nlabels;
} nb_step;

typedef struct nb_pipeline {
    const char *name;     /* the notebook's file name without extension, sanitised */
    const char *notebook; /* the notebook's file name (no directory) */
    const char *path;     /* the notebook's path as the user gave it, for diagnostics */
    /* how to regenerate the files, for their headers: "nb2pipe convert titanic.ipynb
     * --split tags", run in the notebook's directory */
    const char *regenerate;
    const nb_param *params;
    size_t nparams;
    const nb_step *steps; /* in an order that runs every step after its upstream */
    size_t nsteps;
    const char *const *requirements; /* pip requirement lines, sorted, unique */
    size_t nrequirements;
    /* what --split auto chose and why, one line ("dataflow, 4 steps cut where ..."); NULL
     * when a split was asked for by name */
    const char *split_reason;
    nb_pool pool;
} nb_pipeline;

void nb_pipeline_free(nb_pipeline *p);

/* Index of the step named NAME, or -1. */
long nb_pipeline_step_index(const nb_pipeline *p, const char *name);

/* True when a later step lists step I as upstream. */
bool nb_pipeline_has_dependents(const nb_pipeline *p, size_t i);

/* Checks the IR's invariants (names valid and unique, upstream acyclic and earlier in
 * the order, inputs produced by an upstream step that lists them as outputs, sorted
 * lists, params in range). Returns NULL when they hold, or a static description of the
 * first one broken. Run on every fixture by the tests. */
const char *nb_pipeline_check(const nb_pipeline *p);

const char *nb_value_type_name(nb_value_type type);

#endif
