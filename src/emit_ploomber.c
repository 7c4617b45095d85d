/* pipeline.yaml for Ploomber: one script task per step. Ploomber reads each task's
 * upstream from the `upstream` list of the script's parameters cell
 * (../shared/reference/ploomber/NOTES.md). */
#include "nb2pipe/emit.h"

#include "nb2pipe/writer.h"

/* A parameter's default as a YAML scalar of the same type. */
static void param_value(nb_yaml *y, const nb_param *param)
{
    switch (param->type) {
    case NB_TYPE_STRING: nb_yaml_string(y, param->value); break;
    case NB_TYPE_BOOL: nb_yaml_plain(y, param->value[0] == 'T' ? "true" : "false"); break;
    case NB_TYPE_NONE: nb_yaml_plain(y, "null"); break;
    default: nb_yaml_plain(y, param->value); break;
    }
}

static void task(nb_yaml *y, const nb_pipeline *p, const nb_step *s, nb_buf *scratch)
{
    nb_yaml_map_begin(y);
    nb_buf_reset(scratch);
    nb_step_script_path(s, scratch);
    nb_yaml_pair(y, "source", scratch->data);
    nb_yaml_pair(y, "name", s->name);
    nb_yaml_string(y, "product");
    nb_yaml_map_begin(y);
    nb_buf_reset(scratch);
    nb_buf_printf(scratch, "output/%s.ipynb", s->name);
    nb_yaml_pair(y, "nb", scratch->data);
    for (size_t i = 0; i < s->noutputs; i++) {
        nb_buf_reset(scratch);
        nb_buf_puts(scratch, "output/");
        nb_data_path(s->name, s->outputs[i], scratch);
        nb_yaml_pair(y, s->outputs[i], scratch->data);
    }
    if (s->nmetrics) {
        nb_buf_reset(scratch);
        nb_buf_printf(scratch, "output/%s/metrics.json", s->name);
        nb_yaml_pair(y, "nb2pipe-metrics", scratch->data);
    }
    nb_yaml_map_end(y);
    if (s->nparams) {
        nb_yaml_string(y, "params");
        nb_yaml_map_begin(y);
        for (size_t i = 0; i < s->nparams; i++) {
            const nb_param *param = &p->params[s->params[i]];
            nb_yaml_string(y, param->name);
            param_value(y, param);
        }
        nb_yaml_map_end(y);
    }
    nb_yaml_map_end(y);
}

int nb_emit_ploomber(const nb_pipeline *p, const nb_emit_opts *opts, nb_fileset *fs, nb_diags *diags)
{
    (void)opts;
    nb_buf *out = nb_fileset_add(fs, "pipeline.yaml");
    nb_emit_header(out, p, "#");
    nb_yaml y;
    nb_yaml_begin(&y, out);
    nb_yaml_map_begin(&y);
    nb_yaml_string(&y, "meta");
    nb_yaml_map_begin(&y);
    nb_yaml_string(&y, "extract_upstream");
    nb_yaml_plain(&y, "true");
    nb_yaml_string(&y, "extract_product");
    nb_yaml_plain(&y, "false");
    nb_yaml_map_end(&y);
    nb_yaml_string(&y, "tasks");
    nb_yaml_seq_begin(&y, false);
    nb_buf scratch = NB_BUF_INIT;
    for (size_t i = 0; i < p->nsteps; i++)
        task(&y, p, &p->steps[i], &scratch);
    nb_buf_release(&scratch);
    nb_yaml_seq_end(&y);
    nb_yaml_map_end(&y);
    if (!nb_yaml_end(&y)) {
        nb_diag_add(diags, NB_ERROR, "internal", (nb_loc){ .file = "pipeline.yaml" }, "%s", y.error);
        return -1;
    }
    return 0;
}
