/* nb2pipe.lock.json: what one conversion generated (the list of files, so that a later
 * conversion can remove the ones it no longer generates) and the step graph that
 * `nb2pipe run` follows. Its "generated_by" holds its seal (fsout.h). */
#include "nb2pipe/emit.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#ifndef NB2PIPE_VERSION
#define NB2PIPE_VERSION "0.0.0"
#endif

static json_t *string_list(const char *const *items, size_t n)
{
    json_t *list = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(list, json_string(items[i]));
    return list;
}

static json_t *step_json(const nb_pipeline *p, const nb_step *s)
{
    json_t *o = json_object();
    json_object_set_new(o, "name", json_string(s->name));
    nb_buf path = NB_BUF_INIT;
    nb_step_script_path(s, &path);
    json_object_set_new(o, "script", json_string(path.data));
    nb_buf_release(&path);
    json_t *upstream = json_array();
    for (size_t i = 0; i < s->nupstream; i++)
        json_array_append_new(upstream, json_string(p->steps[s->upstream[i]].name));
    json_object_set_new(o, "upstream", upstream);
    json_t *inputs = json_object();
    for (size_t i = 0; i < s->ninputs; i++)
        json_object_set_new(inputs, s->inputs[i].name, json_string(p->steps[s->inputs[i].from].name));
    json_object_set_new(o, "inputs", inputs);
    /* inputs that are files of several variables (or of one not named after it): the
     * variables the step takes from each */
    json_t *takes = json_object();
    for (size_t i = 0; i < s->ninputs; i++) {
        const nb_input *in = &s->inputs[i];
        if (in->nbinds != 1 || strcmp(in->binds[0], in->name) != 0)
            json_object_set_new(takes, in->name, string_list(in->binds, in->nbinds));
    }
    json_object_set_new(o, "takes", takes);
    json_object_set_new(o, "outputs", string_list(s->outputs, s->noutputs));
    json_t *groups = json_object();
    for (size_t i = 0; i < s->ngroups; i++)
        json_object_set_new(groups, s->groups[i].name,
                            string_list(s->groups[i].members, s->groups[i].nmembers));
    json_object_set_new(o, "groups", groups);
    json_object_set_new(o, "metrics", string_list(s->metrics, s->nmetrics));
    json_t *params = json_array();
    for (size_t i = 0; i < s->nparams; i++)
        json_array_append_new(params, json_string(p->params[s->params[i]].name));
    json_object_set_new(o, "params", params);
    /* for `nb2pipe plot` of the directory: which cells the step holds */
    json_t *cells = json_array();
    for (size_t i = 0; i < s->ncells; i++)
        json_array_append_new(cells, json_integer(s->cells[i].cell));
    json_object_set_new(o, "cells", cells);
    return o;
}

int nb_emit_manifest(const nb_pipeline *p, const nb_emit_opts *opts, nb_fileset *fs, nb_diags *diags)
{
    nb_buf header = NB_BUF_INIT;
    nb_emit_header(&header, p, "nb2pipe " NB2PIPE_VERSION ":");
    nb_buf_truncate(&header, header.len - 1); /* no newline inside the JSON string */
    json_t *root = json_object();
    json_object_set_new(root, "generated_by", json_string(header.data));
    nb_buf_release(&header);
    json_object_set_new(root, "notebook", json_string(opts && opts->notebook ? opts->notebook : p->notebook));
    json_object_set_new(root, "workdir", json_string(opts && opts->workdir ? opts->workdir : "."));

    json_t *pipeline = json_object();
    json_object_set_new(pipeline, "name", json_string(p->name));
    json_t *params = json_array();
    for (size_t i = 0; i < p->nparams; i++) {
        json_t *o = json_object();
        json_object_set_new(o, "name", json_string(p->params[i].name));
        json_object_set_new(o, "type", json_string(nb_value_type_name(p->params[i].type)));
        json_object_set_new(o, "default", json_string(p->params[i].value));
        json_array_append_new(params, o);
    }
    json_object_set_new(pipeline, "params", params);
    json_t *steps = json_array();
    for (size_t i = 0; i < p->nsteps; i++)
        json_array_append_new(steps, step_json(p, &p->steps[i]));
    json_object_set_new(pipeline, "steps", steps);
    json_object_set_new(root, "pipeline", pipeline);

    nb_fileset_sort(fs);
    json_t *files = json_array();
    for (size_t i = 0; i < fs->len; i++)
        json_array_append_new(files, json_string(fs->files[i].path));
    json_array_append_new(files, json_string(NB_MANIFEST));
    json_object_set_new(root, "files", files);

    char *text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(root);
    if (!text) {
        nb_diag_add(diags, NB_ERROR, "internal", (nb_loc){ .file = NB_MANIFEST },
                    "cannot encode the manifest (a name that is not valid UTF-8?)");
        return -1;
    }
    nb_buf *out = nb_fileset_add(fs, NB_MANIFEST);
    nb_buf_puts(out, text);
    nb_buf_putc(out, '\n');
    free(text);
    return 0;
}
