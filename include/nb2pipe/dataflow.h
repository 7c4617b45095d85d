/* Dataflow: from the analysed, segmented notebook to the pipeline IR (DESIGN §5). Each
 * use binds to the latest earlier cell that defines or changes the name; across steps
 * that is an input (data, loaded from a file) or carried code (imports, functions,
 * classes, re-run from source). */
#ifndef NB2PIPE_DATAFLOW_H
#define NB2PIPE_DATAFLOW_H

#include "nb2pipe/analysis.h"
#include "nb2pipe/pipeline.h"
#include "nb2pipe/segment.h"

typedef struct nb_dataflow_opts {
    const char *notebook_dir; /* where local modules are looked for (not requirements) */
    const char *regenerate;   /* the command that regenerates the output, for headers */
} nb_dataflow_opts;

/* Builds the IR. AN must be resolved with the segmentation's skipped cells excluded.
 * Returns NULL after recording errors in DIAGS (steps that depend on each other, a
 * step that would load one name from two steps, set-up cells that read a step's data).
 * Warnings: cells that only display values, steps whose results no later step uses.
 * Free the result with nb_pipeline_free. */
nb_pipeline *nb_dataflow_build(const nb_analysis *an, const nb_segmentation *seg,
                               const nb_dataflow_opts *opts, nb_diags *diags);

#endif
