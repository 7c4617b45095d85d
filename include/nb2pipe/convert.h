/* Convert in memory: a notebook's analysis, steps, pipeline IR and every target's
 * files, without touching the disk. `nb2pipe convert` writes the file set this builds
 * (fsout.h); the fuzz target (fuzz/fuzz_convert.c) runs the same path on arbitrary
 * notebooks. */
#ifndef NB2PIPE_CONVERT_H
#define NB2PIPE_CONVERT_H

#include "nb2pipe/diag.h"
#include "nb2pipe/emit.h"
#include "nb2pipe/fsout.h"
#include "nb2pipe/notebook.h"
#include "nb2pipe/pipeline.h"
#include "nb2pipe/segment.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct nb_convert_opts {
    nb_split split;
    size_t max_steps;         /* --max-steps: the dataflow split's most steps (0: default) */
    const char *const *allow; /* names the runtime provides (--allow-undefined) */
    size_t nallow;
    const bool *targets;      /* by index into nb_targets: asked for with --target; the
                                 targets written always are written regardless */
    const char *notebook_dir; /* where local modules are looked for */
    const char *regenerate;   /* the command that regenerates the output, for headers */
} nb_convert_opts;

/* Notebook -> analysis -> steps -> IR. Returns NULL after recording errors in DIAGS.
 * Free the result with nb_pipeline_free. */
nb_pipeline *nb_convert_pipeline(const nb_notebook *nb, const nb_convert_opts *opts,
                                 nb_diags *diags);

/* Every asked-for target's files and the manifest, into FS, sorted and sealed: what
 * nb_fileset_write writes. Returns 0, or -1 after recording an error. */
int nb_convert_emit(const nb_pipeline *p, const nb_convert_opts *opts, const nb_emit_opts *eo,
                    nb_fileset *fs, nb_diags *diags);

#endif
