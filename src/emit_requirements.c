/* requirements.txt: the distributions the steps import, and those install magics name. */
#include "nb2pipe/emit.h"

int nb_emit_requirements(const nb_pipeline *p, const nb_emit_opts *opts, nb_fileset *fs,
                         nb_diags *diags)
{
    (void)opts;
    (void)diags;
    nb_buf *out = nb_fileset_add(fs, "requirements.txt");
    nb_emit_header(out, p, "#");
    for (size_t i = 0; i < p->nrequirements; i++)
        nb_buf_printf(out, "%s\n", p->requirements[i]);
    return 0;
}
