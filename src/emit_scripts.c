/* steps/NAME.py: one runnable script per step, in jupytext's percent format, and the
 * runtime module they share (src/runtime/nb2pipe_runtime.py). */
#include "nb2pipe/emit.h"

#include "nb2pipe/writer.h"

#include <string.h>

extern const char nb_runtime_py[];
extern const size_t nb_runtime_py_len;

static void py_string(nb_buf *b, const char *s)
{
    nb_write_py_string(b, s, strlen(s));
}

/* `# %% title` starting a new cell, after a blank line. */
static void cell_marker(nb_buf *b, const char *title)
{
    if (b->len && b->data[b->len - 1] == '\n' && !(b->len > 1 && b->data[b->len - 2] == '\n'))
        nb_buf_putc(b, '\n');
    nb_buf_printf(b, "# %%%% %s\n", title);
}

/* A cell's name in a marker: its nbformat id when it has one (stable when other cells
 * move), else its number. */
static void cell_name(nb_buf *b, const nb_code *code)
{
    if (code->id) {
        nb_buf_puts(b, "cell ");
        nb_buf_add_printable(b, code->id, strlen(code->id));
    } else {
        nb_buf_printf(b, "cell %d", code->cell);
    }
}

static void parameters_cell(nb_buf *b, const nb_pipeline *p, const nb_step *s)
{
    /* what Ploomber reads statically and replaces at run time */
    nb_buf_puts(b, "# %% tags=[\"parameters\"]\n");
    if (s->nupstream == 0) {
        nb_buf_puts(b, "upstream = None\n");
    } else {
        nb_buf_puts(b, "upstream = [");
        for (size_t i = 0; i < s->nupstream; i++) {
            if (i)
                nb_buf_puts(b, ", ");
            py_string(b, p->steps[s->upstream[i]].name);
        }
        nb_buf_puts(b, "]\n");
    }
    nb_buf_puts(b, "product = None\n");
    for (size_t i = 0; i < s->nparams; i++) {
        const nb_param *param = &p->params[s->params[i]];
        nb_buf_printf(b, "%s = %s\n", param->name, param->python);
    }
}

static void py_list(nb_buf *b, const char *const *items, size_t n)
{
    nb_buf_puts(b, "[");
    for (size_t i = 0; i < n; i++) {
        if (i)
            nb_buf_puts(b, ", ");
        py_string(b, items[i]);
    }
    nb_buf_puts(b, "]");
}

/* Whether input IN is a file of several variables (or one not named after it). */
static bool input_is_group(const nb_input *in)
{
    return in->nbinds != 1 || strcmp(in->binds[0], in->name) != 0;
}

static const nb_group *output_group(const nb_step *s, const char *name)
{
    for (size_t i = 0; i < s->ngroups; i++)
        if (strcmp(s->groups[i].name, name) == 0)
            return &s->groups[i];
    return NULL;
}

/* {file: [variables]} for the files of several variables: what the step takes from
 * each group it loads, and what each group it saves holds. */
static void groups_dict(nb_buf *b, const nb_step *s)
{
    bool first = true;
    for (size_t i = 0; i < s->ninputs; i++) {
        if (!input_is_group(&s->inputs[i]) || output_group(s, s->inputs[i].name))
            continue;
        nb_buf_puts(b, first ? "" : ", ");
        first = false;
        py_string(b, s->inputs[i].name);
        nb_buf_puts(b, ": ");
        py_list(b, s->inputs[i].binds, s->inputs[i].nbinds);
    }
    for (size_t i = 0; i < s->ngroups; i++) {
        nb_buf_puts(b, first ? "" : ", ");
        first = false;
        py_string(b, s->groups[i].name);
        nb_buf_puts(b, ": ");
        py_list(b, s->groups[i].members, s->groups[i].nmembers);
    }
}

/* The runtime, and the parameters' values (--param and the environment override). */
static void setup_cell(nb_buf *b, const nb_pipeline *p, const nb_step *s, const nb_emit_opts *opts)
{
    cell_marker(b, "tags=[\"nb2pipe-setup\"]");
    nb_buf_puts(b, "import os as _os, sys as _sys\n"
                   "_sys.path.append(_os.path.dirname(_os.path.dirname(_os.path.abspath(__file__)))"
                   " if \"__file__\" in globals() else _os.getcwd())\n"
                   "from nb2pipe_runtime import Step as _Step\n");
    nb_buf_puts(b, "_step = _Step(");
    py_string(b, s->name);
    nb_buf_puts(b, ", upstream, product, inputs={");
    for (size_t i = 0; i < s->ninputs; i++) {
        if (i)
            nb_buf_puts(b, ", ");
        py_string(b, s->inputs[i].name);
        nb_buf_puts(b, ": ");
        py_string(b, p->steps[s->inputs[i].from].name);
    }
    nb_buf_puts(b, "}, groups={");
    groups_dict(b, s);
    nb_buf_puts(b, "}, outputs=");
    py_list(b, s->outputs, s->noutputs);
    nb_buf_puts(b, ", metrics=");
    py_list(b, s->metrics, s->nmetrics);
    nb_buf_puts(b, ", uses={");
    for (size_t i = 0; i < s->ninputs; i++) {
        nb_buf_puts(b, i ? ", " : "");
        py_string(b, s->inputs[i].name);
        nb_buf_puts(b, ": [");
        for (size_t c = 0; c < s->inputs[i].ncells; c++)
            nb_buf_printf(b, "%s%d", c ? ", " : "", s->inputs[i].cells[c]);
        nb_buf_puts(b, "]");
    }
    nb_buf_puts(b, "}, ");
    if (s->nchanges) {
        nb_buf_puts(b, "changes=");
        py_list(b, s->changes, s->nchanges);
        nb_buf_puts(b, ", ");
    }
    if (s->after_seed)
        nb_buf_puts(b, s->draws ? "seeded=True, draws=True, " : "seeded=True, ");
    nb_buf_puts(b, "workdir=");
    py_string(b, opts && opts->workdir ? opts->workdir : ".");
    nb_buf_puts(b, ", script=globals().get(\"__file__\"))\n");
    for (size_t i = 0; i < s->nparams; i++) {
        const char *name = p->params[s->params[i]].name;
        nb_buf_printf(b, "%s = _step.param(\"%s\", %s)\n", name, name, name);
    }
}

/* The inputs, after the carried code: unpickling an instance needs its class, and the
 * random state handed over overrides a replayed seed. A comment names the variables. */
static void load_cell(nb_buf *b, const nb_pipeline *p, const nb_step *s)
{
    cell_marker(b, "tags=[\"nb2pipe-load\"]");
    for (size_t i = 0; i < s->ninputs; i++) {
        const nb_input *in = &s->inputs[i];
        nb_buf_puts(b, "# ");
        for (size_t v = 0; v < in->nbinds; v++)
            nb_buf_printf(b, "%s%s", v ? ", " : "", in->binds[v]);
        nb_buf_printf(b, " from step %s", p->steps[in->from].name);
        if (input_is_group(in))
            nb_buf_printf(b, " (file %s)", in->name);
        nb_buf_putc(b, '\n');
    }
    nb_buf_puts(b, "_step.load(globals())\n");
}

/* Code from other cells, before or after the load (AFTER_LOAD): consecutive pieces of
 * one cell share one marker. */
static void carried_cells(nb_buf *b, const nb_step *s, bool after_load)
{
    nb_buf title = NB_BUF_INIT;
    const nb_code *previous = NULL;
    for (size_t i = 0; i < s->ncarried; i++) {
        const nb_code *code = &s->carried[i];
        if (code->after_load != after_load)
            continue;
        if (!previous || previous->cell != code->cell) {
            nb_buf_reset(&title);
            nb_buf_puts(&title, "code from ");
            cell_name(&title, code);
            cell_marker(b, title.data);
        }
        nb_buf_puts(b, code->text);
        previous = code;
    }
    nb_buf_release(&title);
}

static void own_cells(nb_buf *b, const nb_step *s)
{
    nb_buf title = NB_BUF_INIT;
    for (size_t i = 0; i < s->ncells; i++) {
        nb_buf_reset(&title);
        cell_name(&title, &s->cells[i]);
        cell_marker(b, title.data);
        nb_buf_puts(b, s->cells[i].text);
    }
    nb_buf_release(&title);
}

static void save_cell(nb_buf *b, const nb_step *s)
{
    cell_marker(b, "tags=[\"nb2pipe-save\"]");
    if (s->noutputs) {
        nb_buf_puts(b, "# ");
        for (size_t i = 0; i < s->noutputs; i++)
            nb_buf_printf(b, "%s%s", i ? ", " : "", s->outputs[i]);
        nb_buf_puts(b, "\n_step.save(globals())\n");
    }
    nb_buf_puts(b, "_step.done(globals())\n");
}

static void step_script(const nb_pipeline *p, const nb_step *s, const nb_emit_opts *opts, nb_buf *b)
{
    nb_emit_header(b, p, "#");
    nb_buf_puts(b, "# Step ");
    py_string(b, s->name);
    nb_buf_puts(b, ": ");
    nb_buf_add_printable(b, s->title, strlen(s->title));
    nb_buf_puts(b, "\n");
    for (size_t i = 0; i < s->nfuture; i++) /* Python wants these first */
        nb_buf_printf(b, "%s\n", s->future[i]);
    parameters_cell(b, p, s);
    setup_cell(b, p, s, opts);
    carried_cells(b, s, false);
    load_cell(b, p, s);
    carried_cells(b, s, true);
    own_cells(b, s);
    save_cell(b, s);
}

int nb_emit_scripts(const nb_pipeline *p, const nb_emit_opts *opts, nb_fileset *fs, nb_diags *diags)
{
    (void)diags;
    nb_buf path = NB_BUF_INIT;
    for (size_t i = 0; i < p->nsteps; i++) {
        nb_buf_reset(&path);
        nb_step_script_path(&p->steps[i], &path);
        step_script(p, &p->steps[i], opts, nb_fileset_add(fs, path.data));
    }
    nb_buf_release(&path);
    nb_buf *runtime = nb_fileset_add(fs, NB_RUNTIME_FILE);
    nb_emit_header(runtime, p, "#");
    nb_buf_add(runtime, nb_runtime_py, nb_runtime_py_len);
    return 0;
}
