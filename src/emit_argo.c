/* PLACEHOLDER while the argo emitter is being written: refuses to emit. */
#include "nb2pipe/emit.h"

int nb_emit_argo(const nb_pipeline *p, const nb_emit_opts *opts, nb_fileset *fs, nb_diags *diags)
{
    (void)p;
    (void)opts;
    (void)fs;
    nb_diag_add(diags, NB_ERROR, "internal", (nb_loc){ .file = "argo" }, "the argo target is not written yet");
    return -1;
}
