/* Segmentation: which code cells form which step (DESIGN §4). Kale cell tags, markdown
 * headings, the dataflow (split_dataflow.h), or one step; and the cells with a role of
 * their own (imports, functions, parameters, metrics, skipped). */
#ifndef NB2PIPE_SEGMENT_H
#define NB2PIPE_SEGMENT_H

#include "nb2pipe/analysis.h"
#include "nb2pipe/pipeline.h"
#include "nb2pipe/split_dataflow.h"

typedef enum nb_split {
    NB_SPLIT_AUTO,
    NB_SPLIT_TAGS,
    NB_SPLIT_HEADINGS,
    NB_SPLIT_SINGLE,
    NB_SPLIT_DATAFLOW,
} nb_split;

typedef enum nb_cell_role {
    NB_ROLE_STEP,       /* part of a step */
    NB_ROLE_PRELUDE,    /* imports/functions (tagged, or set-up cells before the first
                           step): run at the start of every step */
    NB_ROLE_PARAMETERS, /* `parameters`/`pipeline-parameters`: literals become pipeline
                           parameters, anything else runs at the start of every step */
    NB_ROLE_METRICS,    /* `pipeline-metrics`: what it reads are the pipeline's metrics */
    NB_ROLE_SKIP,       /* `skip`: not part of the pipeline */
} nb_cell_role;

typedef struct nb_segment_step {
    const char *name;  /* sanitised and unique */
    const char *title; /* as written */
    size_t *cells;     /* indexes into nb_analysis.cells, ascending */
    size_t ncells, cells_cap;
    size_t *prev; /* steps named by `prev:` tags, as indexes into steps */
    size_t nprev, prev_cap;
    nb_kv *limits;
    size_t nlimits, limits_cap;
    const char *image;
    int image_cell;
    nb_kv *annotations;
    size_t nannotations, annotations_cap;
    nb_kv *labels;
    size_t nlabels, labels_cap;
} nb_segment_step;

typedef struct nb_segmentation {
    nb_split split;      /* the method used (never AUTO) */
    int heading_level;   /* NB_SPLIT_HEADINGS: the level of the headings that start steps */
    const char *reason;  /* why AUTO chose SPLIT, one line; NULL when SPLIT was asked for */
    /* NB_SPLIT_DATAFLOW: the cells it split (indexes into nb_analysis.cells) and the
     * boundaries between them, for `analyze` */
    size_t *dataflow_cells;
    size_t ndataflow_cells;
    nb_dataflow_cuts cuts;
    nb_cell_role *roles; /* by index into nb_analysis.cells */
    long *step_of;       /* by index into nb_analysis.cells: step index, or -1 */
    nb_segment_step *steps;
    size_t nsteps, steps_cap;
    nb_pool pool;
} nb_segmentation;

/* Reads every code cell's tags into roles (before analysis resolution, which must not
 * see skipped cells). Returns 0, or -1 after recording errors for malformed tags. */
int nb_segment_roles(const nb_analysis *an, nb_segmentation *seg, nb_diags *diags);

typedef struct nb_segment_opts {
    nb_split split;
    size_t max_steps;          /* NB_SPLIT_DATAFLOW: at most this many steps (0: default) */
    const char *pipeline_name; /* the name of a single step */
} nb_segment_opts;

/* Splits the cells of AN into steps with OPTS->split. AUTO picks the first that applies:
 * Kale tags; `## ` headings; the heading level that gives the most steps of two or more
 * code cells (at least two such steps); one step when there are fewer than
 * NB_DATAFLOW_MIN_CELLS code cells; else the dataflow split. AUTO records its choice and
 * why in SEG->reason. Needs nb_segment_roles first and a
 * resolved analysis. Returns 0, or -1 after recording errors (an empty `block:` name, a
 * `prev:` naming no step, a notebook with no code). */
int nb_segment_steps(const nb_analysis *an, const nb_segment_opts *opts, nb_segmentation *seg,
                     nb_diags *diags);

void nb_segmentation_release(nb_segmentation *seg);

/* Turns TEXT into a step name: [a-z0-9_], at most 48 characters, never empty, never a
 * Python keyword, never starting with a digit. Writes into OUT. */
void nb_step_name(const char *text, size_t len, nb_buf *out);

const char *nb_split_name(nb_split split);

/* The text of the last markdown heading of LEVEL (`## ` for 2) in CELL, its length in
 * *LEN; any level (1 to 6) when LEVEL is 0. NULL when the cell has none. */
const char *nb_heading_title(const nb_cell *cell, int level, size_t *len);

#endif
