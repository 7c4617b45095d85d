#include "nb2pipe/restore.h"

#include "nb2pipe/buf.h"
#include "nb2pipe/fsout.h"
#include "nb2pipe/notebook.h"
#include "nb2pipe/runplan.h"
#include "nb2pipe/runrec.h"
#include "nb2pipe/writer.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* One input of the step, as a recorded run had it. */
typedef struct restored_input {
    const char *var;     /* the artifact */
    const char **takes;  /* the variables taken from a group's file, or NULL */
    size_t ntakes;
    const char *producer;
    char *path; /* relative to the data directory */
    char hash[NB_HASH_HEX];
    long long run; /* the run whose record has it: RUN, or an earlier one when the
                      producer was not part of RUN */
} restored_input;

typedef struct restore {
    const nb_restore_opts *opts;
    nb_diags *diags;
    nb_plan plan;
    nb_runrec *rec;
    long long run;
    size_t step;
    const char *params; /* the run's parameter overrides, JSON */
    restored_input *inputs;
    size_t ninputs;
    nb_pool pool;
} restore;

/* Finds, for every input of the step, the file its producer had left by the run. */
static int find_inputs(restore *rs)
{
    const nb_plan_step *step = &rs->plan.steps[rs->step];
    rs->ninputs = step->ninputs;
    rs->inputs = nb_pool_alloc(&rs->pool, (step->ninputs + 1) * sizeof *rs->inputs);
    memset(rs->inputs, 0, (step->ninputs + 1) * sizeof *rs->inputs);
    for (size_t k = 0; k < step->ninputs; k++) {
        restored_input *in = &rs->inputs[k];
        const nb_plan_step *producer = &rs->plan.steps[step->inputs[k].producer];
        in->var = step->inputs[k].var;
        in->takes = step->inputs[k].takes;
        in->ntakes = step->inputs[k].ntakes;
        in->producer = producer->name;
        in->path = nb_plan_output_path(producer, in->var);
        nb_step_record record;
        int found = nb_runrec_last_good(rs->rec, producer->name, rs->run, &rs->pool, &record,
                                        &in->run, rs->diags);
        if (found < 0)
            return -1;
        for (size_t o = 0; found && o < record.noutputs; o++)
            if (strcmp(record.outputs[o].path, in->path) == 0) {
                memcpy(in->hash, record.outputs[o].hash, NB_HASH_HEX);
                found = 2;
            }
        if (found != 2) {
            nb_diag_add(rs->diags, NB_ERROR, "no-snapshot", (nb_loc){ .file = rs->plan.dir },
                        "run %lld has no record of '%s' from step %s (the step had not "
                        "succeeded by then)",
                        rs->run, in->var, producer->name);
            return -1;
        }
    }
    return 0;
}

static int make_dir(const char *path)
{
    return mkdir(path, 0777) == 0 || errno == EEXIST ? 0 : -1;
}

static int restore_inputs(restore *rs, FILE *out)
{
    nb_buf dest = NB_BUF_INIT;
    int status = make_dir(rs->plan.data_dir);
    for (size_t k = 0; status == 0 && k < rs->ninputs; k++) {
        const restored_input *in = &rs->inputs[k];
        nb_buf_reset(&dest);
        nb_buf_printf(&dest, "%s/%s", rs->plan.data_dir, in->producer);
        if (make_dir(dest.data) != 0) {
            nb_diag_add(rs->diags, NB_ERROR, "io-error", (nb_loc){ .file = dest.data },
                        "cannot create: %s", strerror(errno));
            status = -1;
            break;
        }
        nb_buf_printf(&dest, "/%s.pkl", in->var);
        status = nb_runrec_restore(rs->rec, in->hash, dest.data, rs->diags);
        if (status == 0)
            fprintf(out, "restored %s (%s from step %s, run %lld)\n", dest.data, in->var,
                    in->producer, in->run);
    }
    nb_buf_release(&dest);
    return status;
}

/* The command that resumes at the step with the run's parameters. */
static void resume_command(const restore *rs, nb_buf *out)
{
    nb_buf_puts(out, "nb2pipe run ");
    nb_write_sh_word(out, rs->plan.dir, strlen(rs->plan.dir));
    nb_buf_printf(out, " --from %s", rs->plan.steps[rs->step].name);
    json_t *params = json_loads(rs->params, 0, NULL);
    const char *name;
    json_t *value;
    nb_buf pair = NB_BUF_INIT;
    json_object_foreach(params, name, value) {
        nb_buf_reset(&pair);
        nb_buf_printf(&pair, "%s=%s", name, json_string_value(value));
        nb_buf_puts(out, " --param ");
        nb_write_sh_word(out, pair.data, pair.len);
    }
    nb_buf_release(&pair);
    json_decref(params);
}

/* ---- the debugging notebook --------------------------------------------------------------- */

static json_t *new_cell(const char *type, const char *source, size_t index)
{
    char id[32];
    snprintf(id, sizeof id, "nb2pipe-restore-%zu", index);
    json_t *cell = json_pack("{s:s, s:s, s:{}, s:s}", "cell_type", type, "id", id, "metadata",
                             "source", source);
    if (strcmp(type, "code") == 0) {
        json_object_set_new(cell, "execution_count", json_null());
        json_object_set_new(cell, "outputs", json_array());
    }
    return cell;
}

static void py_string(nb_buf *out, const char *s)
{
    nb_write_py_string(out, s, strlen(s));
}

/* The first code cell: a stand-in for the runtime's Step that loads the snapshots,
 * answers parameters as the run had them, and saves nothing. */
static void setup_cell(const restore *rs, nb_buf *out)
{
    char *dir = nb_path_absolute(rs->plan.dir);
    nb_buf workdir = NB_BUF_INIT;
    nb_buf_printf(&workdir, "%s/%s", dir, rs->plan.workdir);
    char *workdir_abs = nb_path_absolute(workdir.data);
    nb_buf_puts(out, "import os, sys\nsys.path.insert(0, ");
    py_string(out, dir);
    nb_buf_puts(out, ")\nfrom nb2pipe_runtime import _coerce, load_artifacts\n\n\n"
                     "class _RestoredStep:\n    inputs = {");
    for (size_t k = 0; k < rs->ninputs; k++) {
        char *object = nb_runrec_object_path(rs->rec, rs->inputs[k].hash);
        char *absolute = nb_path_absolute(object);
        nb_buf_puts(out, k ? ",\n              " : "");
        py_string(out, rs->inputs[k].var);
        nb_buf_puts(out, ": ");
        py_string(out, absolute);
        free(absolute);
        free(object);
    }
    nb_buf_puts(out, "}\n    groups = {");
    bool first = true;
    for (size_t k = 0; k < rs->ninputs; k++) {
        if (!rs->inputs[k].takes)
            continue;
        nb_buf_puts(out, first ? "" : ", ");
        first = false;
        py_string(out, rs->inputs[k].var);
        nb_buf_puts(out, ": [");
        for (size_t t = 0; t < rs->inputs[k].ntakes; t++) {
            nb_buf_puts(out, t ? ", " : "");
            py_string(out, rs->inputs[k].takes[t]);
        }
        nb_buf_puts(out, "]");
    }
    nb_buf_puts(out, "}\n    params = ");
    nb_buf_puts(out, rs->params); /* a JSON object of strings is a Python dict literal */
    nb_buf_puts(out, "\n\n    def load(self, ns):\n"
                     "        load_artifacts(ns, self.inputs, self.groups)\n\n"
                     "    def param(self, name, default):\n"
                     "        return _coerce(default, self.params[name]) if name in self.params "
                     "else default\n\n"
                     "    def save(self, ns):\n"
                     "        pass  # a debugging session writes nothing back\n\n"
                     "    def done(self, ns):\n"
                     "        pass\n\n\n"
                     "_step = _RestoredStep()\nos.chdir(");
    py_string(out, workdir_abs);
    nb_buf_puts(out, ")");
    free(workdir_abs);
    nb_buf_release(&workdir);
    free(dir);
}

static void add_code_cell(json_t *cells, nb_buf *source)
{
    while (source->len && source->data[source->len - 1] == '\n')
        nb_buf_truncate(source, source->len - 1);
    if (source->len)
        json_array_append_new(cells, new_cell("code", source->data, json_array_size(cells)));
    nb_buf_reset(source);
}

/* Splits the step script into its "# %%" cells, leaving out the header, the
 * parameters cell Ploomber fills and the runtime setup the first cell replaces. */
static void script_cells(const char *script, json_t *cells)
{
    nb_buf source = NB_BUF_INIT;
    bool keep = false; /* the lines before the first marker are the header */
    for (const char *line = script; *line;) {
        size_t len = strcspn(line, "\n");
        if (strncmp(line, "# %%", 4) == 0) {
            if (keep)
                add_code_cell(cells, &source);
            nb_buf_reset(&source);
            nb_buf_add(&source, line, len);
            keep = !strstr(source.data, "\"parameters\"") && !strstr(source.data, "\"nb2pipe-setup\"");
            nb_buf_reset(&source);
            if (len > 5) { /* the marker's title, kept as a comment */
                nb_buf_puts(&source, "#");
                nb_buf_add(&source, line + 4, len - 4);
                nb_buf_putc(&source, '\n');
            }
        } else {
            nb_buf_add(&source, line, len);
            nb_buf_putc(&source, '\n');
        }
        line += len + (line[len] == '\n');
    }
    if (keep)
        add_code_cell(cells, &source);
    nb_buf_release(&source);
}

/* An existing file is replaced only when an earlier restore wrote it. */
static bool may_write_notebook(const char *path)
{
    nb_buf old = NB_BUF_INIT;
    bool ok = nb_buf_read_file(&old, path, (size_t)64 << 20) != 0 && errno == ENOENT;
    ok = ok || strstr(old.data, "Generated by nb2pipe restore") != NULL;
    nb_buf_release(&old);
    return ok;
}

static int write_notebook(restore *rs)
{
    const char *path = rs->opts->notebook;
    const nb_plan_step *step = &rs->plan.steps[rs->step];
    if (!may_write_notebook(path)) {
        nb_diag_add(rs->diags, NB_ERROR, "would-overwrite", (nb_loc){ .file = path },
                    "the file exists and nb2pipe restore did not write it: choose another name");
        return -1;
    }
    nb_buf script_path = NB_BUF_INIT, script = NB_BUF_INIT, text = NB_BUF_INIT;
    nb_buf_printf(&script_path, "%s/%s", rs->plan.dir, step->script);
    if (nb_buf_read_file(&script, script_path.data, (size_t)64 << 20) != 0) {
        nb_diag_add(rs->diags, NB_ERROR, "io-error", (nb_loc){ .file = script_path.data },
                    "cannot read the step's script: %s", strerror(errno));
        nb_buf_release(&script_path);
        return -1;
    }
    json_t *cells = json_array();
    nb_buf_printf(&text,
                  "Generated by nb2pipe restore; do not edit. Regenerate: nb2pipe restore %s "
                  "--run %lld --notebook %s\n\nStep **%s** of `%s`, with its inputs as they were "
                  "in run %lld.",
                  step->name, rs->run, path, step->name, rs->plan.dir, rs->run);
    json_array_append_new(cells, new_cell("markdown", text.data, 0));
    nb_buf_reset(&text);
    setup_cell(rs, &text);
    json_array_append_new(cells, new_cell("code", text.data, 1));
    script_cells(script.data, cells);
    json_t *root = json_pack("{s:o, s:{s:{s:s, s:s, s:s}, s:{s:s}}, s:i, s:i}", "cells", cells,
                             "metadata", "kernelspec", "display_name", "Python 3", "language",
                             "python", "name", "python3", "language_info", "name", "python",
                             "nbformat", 4, "nbformat_minor", 5);
    nb_buf_reset(&text);
    nb_notebook_write_json(root, &text);
    json_decref(root);
    int status = nb_write_file_atomic(path, text.data, text.len, 0644, rs->diags);
    nb_buf_release(&script_path);
    nb_buf_release(&script);
    nb_buf_release(&text);
    return status;
}

/* ---- restore ---------------------------------------------------------------------------- */

static int prepare(restore *rs)
{
    const nb_restore_opts *o = rs->opts;
    if (nb_plan_load(&rs->plan, o->dir, rs->diags) != 0)
        return -1;
    long step = nb_plan_find(&rs->plan, o->step, rs->diags);
    if (step < 0 || !(rs->rec = nb_runrec_open(o->dir, false, rs->diags)))
        return -1;
    rs->step = (size_t)step;
    rs->run = o->run ? o->run : nb_runrec_latest(rs->rec, false);
    if (!(rs->params = nb_runrec_run_params(rs->rec, rs->run, &rs->pool, rs->diags)))
        return -1;
    return find_inputs(rs);
}

int nb_restore(const nb_restore_opts *opts, nb_diags *diags, FILE *out)
{
    restore rs = { .opts = opts, .diags = diags };
    int lock = -1;
    int status = prepare(&rs);
    if (status == 0 && (lock = nb_runrec_lock(opts->dir, opts->wait, diags)) < 0)
        status = -1;
    if (status == 0)
        status = restore_inputs(&rs, out);
    if (status == 0 && rs.ninputs == 0)
        fprintf(out, "step %s has no inputs: nothing to restore\n", opts->step);
    if (status == 0 && opts->notebook) {
        status = write_notebook(&rs);
        if (status == 0)
            fprintf(out, "wrote %s: step %s with its inputs as in run %lld\n", opts->notebook,
                    opts->step, rs.run);
    }
    if (status == 0) {
        nb_buf resume = NB_BUF_INIT;
        resume_command(&rs, &resume);
        fprintf(out, "resume with: %s\n", resume.data);
        nb_buf_release(&resume);
    }
    if (lock >= 0)
        close(lock);
    for (size_t k = 0; k < rs.ninputs; k++)
        free(rs.inputs[k].path);
    nb_runrec_close(rs.rec);
    nb_plan_release(&rs.plan);
    nb_pool_release(&rs.pool);
    return status;
}

/* ---- runs and gc ------------------------------------------------------------------------- */

static void format_time(double seconds, nb_buf *out)
{
    time_t t = (time_t)seconds;
    struct tm tm;
    char text[32];
    localtime_r(&t, &tm);
    strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S", &tm);
    nb_buf_puts(out, text);
}

int nb_list_runs(const char *dir, bool json, nb_diags *diags, FILE *out)
{
    nb_runrec *rec = nb_runrec_open(dir, false, diags);
    if (!rec)
        return -1;
    nb_pool pool = NB_POOL_INIT;
    nb_run_summary *runs;
    long count = nb_runrec_list(rec, &pool, &runs, diags);
    json_t *array = json ? json_array() : NULL;
    if (!json && count > 0)
        fprintf(out, "%-5s %-19s %9s  %-11s %5s %10s %6s %7s  %s\n", "run", "started", "time",
                "status", "ran", "up-to-date", "failed", "skipped", "params");
    nb_buf when = NB_BUF_INIT;
    for (long i = 0; i < count; i++) {
        const nb_run_summary *r = &runs[i];
        double took = r->ended > 0 ? r->ended - r->started : 0;
        nb_buf_reset(&when);
        format_time(r->started, &when);
        if (json)
            json_array_append_new(
                array, json_pack("{s:I, s:s, s:f, s:s, s:i, s:i, s:i, s:i, s:o, s:s}", "run",
                                 (json_int_t)r->id, "started", when.data, "duration", took,
                                 "status", r->status, "ran", r->executed, "up_to_date",
                                 r->up_to_date, "failed", r->failed, "skipped", r->skipped,
                                 "params", json_loads(r->params, 0, NULL), "python", r->python));
        else
            fprintf(out, "%-5lld %-19s %7.2f s  %-11s %5d %10d %6d %7d  %s\n", r->id, when.data,
                    took, r->status, r->executed, r->up_to_date, r->failed, r->skipped,
                    strcmp(r->params, "{}") == 0 ? "" : r->params);
    }
    if (json) {
        char *text = json_dumps(array, JSON_INDENT(2));
        fprintf(out, "%s\n", text);
        free(text);
        json_decref(array);
    } else if (count == 0) {
        fprintf(out, "no runs recorded\n");
    }
    nb_buf_release(&when);
    nb_pool_release(&pool);
    nb_runrec_close(rec);
    return count < 0 ? -1 : 0;
}

int nb_gc_runs(const char *dir, long keep, nb_diags *diags, FILE *out)
{
    nb_runrec *rec = nb_runrec_open(dir, false, diags);
    if (!rec)
        return -1;
    int lock = nb_runrec_lock(dir, false, diags);
    long runs = 0, objects = 0;
    long long bytes = 0;
    int status = lock < 0 ? -1 : nb_runrec_gc(rec, keep, &runs, &objects, &bytes, diags);
    if (status == 0)
        fprintf(out, "removed %ld run%s and %ld snapshot%s (%.1f MB)\n", runs,
                runs == 1 ? "" : "s", objects, objects == 1 ? "" : "s", (double)bytes / 1e6);
    if (lock >= 0)
        close(lock);
    nb_runrec_close(rec);
    return status;
}
