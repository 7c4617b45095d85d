#include "nb2pipe/convert.h"

#include "nb2pipe/alloc.h"
#include "nb2pipe/analysis.h"
#include "nb2pipe/buf.h"
#include "nb2pipe/dataflow.h"

#include <stdlib.h>
#include <string.h>

nb_pipeline *nb_convert_pipeline(const nb_notebook *nb, const nb_convert_opts *o, nb_diags *diags)
{
    nb_analysis *an = nb_analysis_scan(nb, diags);
    nb_segmentation seg;
    nb_segment_roles(an, &seg, diags);
    bool *exclude = nb_xcalloc(an->ncells + 1, sizeof *exclude);
    for (size_t i = 0; i < an->ncells; i++)
        exclude[i] = seg.roles[i] == NB_ROLE_SKIP;
    nb_analysis_opts an_opts = { .allow_undefined = o->allow, .nallow_undefined = o->nallow,
                                 .exclude = exclude };
    nb_analysis_resolve(an, &an_opts, diags);
    nb_pipeline *p = NULL;
    const char *base = strrchr(nb->path, '/') ? strrchr(nb->path, '/') + 1 : nb->path;
    nb_buf name = NB_BUF_INIT;
    const char *dot = strrchr(base, '.');
    nb_step_name(base, dot ? (size_t)(dot - base) : strlen(base), &name);
    nb_segment_opts so = { .split = o->split, .max_steps = o->max_steps, .pipeline_name = name.data };
    if (nb_segment_steps(an, &so, &seg, diags) == 0 && diags->errors == 0) {
        nb_dataflow_opts df = { .notebook_dir = o->notebook_dir, .regenerate = o->regenerate };
        p = nb_dataflow_build(an, &seg, &df, diags);
    }
    if (p && diags->errors) {
        nb_pipeline_free(p);
        p = NULL;
    }
    if (p && seg.reason)
        p->split_reason = nb_pool_strdup(&p->pool, seg.reason);
    const char *broken = p ? nb_pipeline_check(p) : NULL;
    if (broken) {
        nb_diag_add(diags, NB_ERROR, "internal", (nb_loc){ .file = nb->path },
                    "nb2pipe built an inconsistent pipeline (%s); please report this", broken);
        nb_pipeline_free(p);
        p = NULL;
    }
    nb_buf_release(&name);
    free(exclude);
    nb_segmentation_release(&seg);
    nb_analysis_free(an);
    return p;
}

int nb_convert_emit(const nb_pipeline *p, const nb_convert_opts *o, const nb_emit_opts *eo,
                    nb_fileset *fs, nb_diags *diags)
{
    for (size_t t = 0; nb_targets[t].name; t++)
        if ((nb_targets[t].always || (o->targets && o->targets[t])) &&
            nb_targets[t].emit(p, eo, fs, diags) != 0)
            return -1;
    if (nb_emit_manifest(p, eo, fs, diags) != 0)
        return -1;
    nb_fileset_sort(fs);
    nb_fileset_seal(fs);
    return 0;
}
