/* Segmentation: which code cells form which step (DESIGN §4). Kale cell tags, markdown
 * `## ` headings, or one step; and the cells with a role of their own (imports,
 * functions, parameters, metrics, skipped). */
#ifndef NB2PIPE_SEGMENT_H
#define NB2PIPE_SEGMENT_H

#include "nb2pipe/analysis.h"
#include "nb2pipe/pipeline.h"

typedef enum nb_split { NB_SPLIT_AUTO, NB_SPLIT_TAGS, NB_SPLIT_HEADINGS, NB_SPLIT_SINGLE } nb_split;

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
    nb_cell_role *roles; /* by index into nb_analysis.cells */
    long *step_of;       /* by index into nb_analysis.cells: step index, or -1 */
    nb_segment_step *steps;
    size_t nsteps, steps_cap;
    nb_pool pool;
} nb_segmentation;

/* Reads every code cell's tags into roles (before analysis resolution, which must not
 * see skipped cells). Returns 0, or -1 after recording errors for malformed tags. */
int nb_segment_roles(const nb_analysis *an, nb_segmentation *seg, nb_diags *diags);

/* Splits the cells of AN into steps with SPLIT (AUTO picks tags, then headings, then a
 * single step named PIPELINE_NAME, with a warning that says how to split). Needs
 * nb_segment_roles first and a resolved analysis. Returns 0, or -1 after recording
 * errors (an empty `block:` name, a `prev:` naming no step, a notebook with no code). */
int nb_segment_steps(const nb_analysis *an, nb_split split, const char *pipeline_name,
                     nb_segmentation *seg, nb_diags *diags);

void nb_segmentation_release(nb_segmentation *seg);

/* Turns TEXT into a step name: [a-z0-9_], at most 48 characters, never empty, never a
 * Python keyword, never starting with a digit. Writes into OUT. */
void nb_step_name(const char *text, size_t len, nb_buf *out);

const char *nb_split_name(nb_split split);

#endif
