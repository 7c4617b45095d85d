/* PLACEHOLDER while the slurm emitter is being written: refuses to emit. */
#include "nb2pipe/emit.h"

int nb_emit_slurm(const nb_pipeline *p, const nb_emit_opts *opts, nb_fileset *fs, nb_diags *diags)
{
    (void)p;
    (void)opts;
    (void)fs;
    nb_diag_add(diags, NB_ERROR, "internal", (nb_loc){ .file = "slurm" }, "the slurm target is not written yet");
    return -1;
}
