#include "nb2pipe/cli.h"

#include "cli_private.h"

#include "nb2pipe/analysis.h"
#include "nb2pipe/buf.h"
#include "nb2pipe/clean.h"
#include "nb2pipe/config.h"
#include "nb2pipe/convert.h"
#include "nb2pipe/dataflow.h"
#include "nb2pipe/diag.h"
#include "nb2pipe/dump.h"
#include "nb2pipe/emit.h"
#include "nb2pipe/fsout.h"
#include "nb2pipe/notebook.h"
#include "nb2pipe/plot.h"
#include "nb2pipe/runplan.h"
#include "nb2pipe/segment.h"
#include "nb2pipe/writer.h"

#include <errno.h>
#include <stdarg.h>
#include <getopt.h>
#include <glob.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef NB2PIPE_VERSION
#define NB2PIPE_VERSION "0.0.0"
#endif

static void write_all(FILE *f, const nb_buf *b)
{
    fwrite(b->data, 1, b->len, f);
    fflush(f);
}

void flush_diags(cli *c)
{
    if (c->json || c->diags.len == 0)
        return;
    nb_buf out = NB_BUF_INIT;
    nb_diags_render_text(&c->diags, &out, c->color);
    write_all(stderr, &out);
    nb_buf_release(&out);
}

static void print_json(json_t *doc)
{
    char *text = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII);
    if (text) {
        fputs(text, stdout);
        fputc('\n', stdout);
        free(text);
    }
    fflush(stdout);
}

/* Ends a command that failed before it had a result: diagnostics as text on stderr, or
 * as a JSON document {file, diagnostics} on stdout. */
static int fail_with_diags(cli *c, const char *file)
{
    if (c->json) {
        json_t *doc = json_object();
        json_object_set_new(doc, "file", file ? json_string(file) : json_null());
        json_object_set_new(doc, "diagnostics", nb_diags_to_json(&c->diags));
        print_json(doc);
        json_decref(doc);
    } else {
        flush_diags(c);
    }
    return NB_EXIT_BAD;
}

int usage_error(const char *command, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("nb2pipe: ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\ntry 'nb2pipe %s--help'\n", command ? command : "");
    return NB_EXIT_BAD;
}

static bool parse_size(const char *s, size_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || v == 0)
        return false;
    if (*end == 'K' || *end == 'k')
        v *= 1024ULL, end++;
    else if (*end == 'M' || *end == 'm')
        v *= 1024ULL * 1024, end++;
    else if (*end == 'G' || *end == 'g')
        v *= 1024ULL * 1024 * 1024, end++;
    if (*end != '\0' || v > (unsigned long long)SIZE_MAX / 2)
        return false;
    *out = (size_t)v;
    return true;
}

static bool parse_split(const char *s, nb_split *out)
{
    static const nb_split all[] = { NB_SPLIT_AUTO, NB_SPLIT_TAGS, NB_SPLIT_HEADINGS,
                                    NB_SPLIT_SINGLE, NB_SPLIT_DATAFLOW };
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (strcmp(s, nb_split_name(all[i])) == 0) {
            *out = all[i];
            return true;
        }
    return false;
}

/* A count of 1 or more, in decimal (--max-steps). */
static bool parse_count(const char *s, size_t *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || end == s || *end || v == 0 || v > 100000 || *s == '-' || *s == '+')
        return false;
    *out = (size_t)v;
    return true;
}

/* Reads a notebook whose code nb2pipe will analyse: it must be Python. */
static nb_notebook *read_python_notebook(cli *c, const char *path, const nb_read_opts *opts)
{
    nb_notebook *nb = nb_notebook_read_file(path, opts, &c->diags);
    if (nb && !nb_notebook_is_python(nb)) {
        nb_diag_add(&c->diags, NB_ERROR, "not-python", (nb_loc){ .file = path },
                    "the notebook's kernel language is '%s': nb2pipe analyses Python notebooks",
                    nb->language);
        nb_notebook_free(nb);
        return NULL;
    }
    return nb;
}

/* ---- analyze --------------------------------------------------------------------- */

static const char analyze_help[] =
    "usage: nb2pipe analyze [options] NOTEBOOK\n"
    "\n"
    "Print, for each code cell, the names it defines, uses and changes in place, its\n"
    "imports, functions, classes and magics, and for each use the cell that provides it;\n"
    "then the split convert would make: the mode and why, each step's cells and, for the\n"
    "dataflow split, the facts of each boundary between cells.\n"
    "\n"
    "options:\n"
    "  --json                   print the analysis as JSON (shape: docs/analyze.md)\n"
    "  --python                 with --json: include each cell's Python after magic translation\n"
    "  --dot                    print the cell graph for Graphviz\n"
    "  --split MODE             the split to show: auto (default), tags, headings, dataflow,\n"
    "                           single, as convert takes it\n"
    "  --max-steps N            the dataflow split makes at most N steps (default 8)\n"
    "  --allow-undefined NAME   a name the runtime provides (repeatable)\n"
    "  --max-size BYTES         refuse larger notebooks (default 256M; K, M, G suffixes)\n"
    "  -h, --help               show this help\n"
    "\n"
    "Diagnostics go to stderr as 'file:cell N:line:col: severity: message [code]', or into\n"
    "the JSON document with --json.\n"
    "exit status: 0 no errors; 2 bad usage, unreadable notebook or errors in its code\n";

static int cmd_analyze(cli *c, int argc, char **argv)
{
    enum { OPT_JSON = 256, OPT_DOT, OPT_ALLOW, OPT_MAX_SIZE, OPT_PYTHON, OPT_SPLIT, OPT_MAX_STEPS };
    static const struct option options[] = {
        { "json", no_argument, NULL, OPT_JSON },
        { "split", required_argument, NULL, OPT_SPLIT },
        { "max-steps", required_argument, NULL, OPT_MAX_STEPS },
        { "python", no_argument, NULL, OPT_PYTHON },
        { "dot", no_argument, NULL, OPT_DOT },
        { "allow-undefined", required_argument, NULL, OPT_ALLOW },
        { "max-size", required_argument, NULL, OPT_MAX_SIZE },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    bool dot = false, with_python = false;
    nb_segment_opts split = { .split = NB_SPLIT_AUTO };
    nb_read_opts read_opts = { 0 };
    const char **allow = nb_xcalloc((size_t)argc + 1, sizeof *allow);
    size_t nallow = 0;
    int opt, status = NB_EXIT_OK;
    while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        switch (opt) {
        case OPT_JSON: c->json = true; break;
        case OPT_DOT: dot = true; break;
        case OPT_PYTHON: with_python = true; break;
        case OPT_ALLOW: allow[nallow++] = optarg; break;
        case OPT_SPLIT:
            if (!parse_split(optarg, &split.split)) {
                status = usage_error("analyze ", "--split '%s': expected auto, tags, headings, "
                                                 "dataflow or single", optarg);
                goto done;
            }
            break;
        case OPT_MAX_STEPS:
            if (!parse_count(optarg, &split.max_steps)) {
                status = usage_error("analyze ", "--max-steps '%s': expected a number of steps, "
                                                 "1 or more", optarg);
                goto done;
            }
            break;
        case OPT_MAX_SIZE:
            if (!parse_size(optarg, &read_opts.max_bytes)) {
                status = usage_error("analyze ", "invalid --max-size '%s'", optarg);
                goto done;
            }
            break;
        case 'h': fputs(analyze_help, stdout); goto done;
        default: status = usage_error("analyze ", "unknown option '%s'", argv[optind - 1]); goto done;
        }
    }
    if (optind != argc - 1) {
        status = usage_error("analyze ", optind >= argc ? "missing NOTEBOOK"
                                                        : "analyze takes one NOTEBOOK");
        goto done;
    }
    if (c->json && dot) {
        status = usage_error("analyze ", "--json and --dot exclude each other");
        goto done;
    }
    const char *path = argv[optind];
    nb_notebook *nb = read_python_notebook(c, path, &read_opts);
    if (!nb) {
        status = fail_with_diags(c, path);
        goto done;
    }
    nb_analysis_opts an_opts = { .allow_undefined = allow, .nallow_undefined = nallow };
    nb_analysis *an = nb_analysis_run(nb, &an_opts, &c->diags);
    /* the split, as convert would make it; its diagnostics are convert's to give */
    nb_diags quiet = NB_DIAGS_INIT;
    nb_segmentation seg;
    nb_segment_roles(an, &seg, &quiet);
    nb_buf step_name = NB_BUF_INIT;
    const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    const char *dot_at = strrchr(base, '.');
    nb_step_name(base, dot_at ? (size_t)(dot_at - base) : strlen(base), &step_name);
    split.pipeline_name = step_name.data;
    /* with errors, convert makes no steps: there is no split to show */
    bool split_ok = nb_segment_steps(an, &split, &seg, &quiet) == 0 && c->diags.errors == 0;
    nb_diags_release(&quiet);
    if (c->json) {
        json_t *doc = nb_dump_analysis_json(an, with_python);
        json_object_set_new(doc, "split", split_ok ? nb_dump_split_json(an, &seg) : json_null());
        json_object_set_new(doc, "diagnostics", nb_diags_to_json(&c->diags));
        print_json(doc);
        json_decref(doc);
    } else {
        nb_buf out = NB_BUF_INIT;
        if (dot) {
            nb_dump_analysis_dot(an, &out);
        } else {
            nb_dump_analysis_text(an, &out);
            if (split_ok) {
                nb_buf_putc(&out, '\n');
                nb_dump_split_text(an, &seg, &out);
            }
        }
        write_all(stdout, &out);
        nb_buf_release(&out);
        flush_diags(c);
    }
    status = c->diags.errors ? NB_EXIT_BAD : NB_EXIT_OK;
    nb_buf_release(&step_name);
    nb_segmentation_release(&seg);
    nb_analysis_free(an);
    nb_notebook_free(nb);
done:
    free(allow);
    return status;
}

/* ---- convert --------------------------------------------------------------------- */

static const char convert_help[] =
    "usage: nb2pipe convert [options] NOTEBOOK\n"
    "\n"
    "Split NOTEBOOK into steps, work out which step needs which variable from which\n"
    "earlier step, and write a pipeline: steps/NAME.py (one runnable script per step),\n"
    "pipeline.yaml (Ploomber), requirements.txt, nb2pipe_runtime.py and nb2pipe.lock.json.\n"
    "\n"
    "options:\n"
    "  -o, --output DIR         where to write (default: next to the notebook, named after it)\n"
    "  --split MODE             auto (default), tags (Kale cell tags), headings ('## ' markdown),\n"
    "                           dataflow (cut where the fewest values cross), single (one step);\n"
    "                           auto takes tags, then '## ' headings, then the heading level\n"
    "                           giving the most steps, then dataflow (one step under 4 code\n"
    "                           cells), and says which on stderr\n"
    "  --max-steps N            the dataflow split makes at most N steps (default 8)\n"
    "  --target LIST            also write these, comma-separated: airflow, argo, kfp, slurm,\n"
    "                           batch, or all (scripts, pipeline.yaml, requirements.txt and\n"
    "                           the Dockerfile are always written)\n"
    "  --name NAME              the pipeline's name on the targets (default: the notebook's)\n"
    "  --image IMAGE            container image holding the steps (default NAME:latest, built\n"
    "                           from the generated Dockerfile)\n"
    "  --data-root PATH         where step data lives on the targets (default /data)\n"
    "  --schedule SCHEDULE      Airflow schedule (default: none, triggered by hand)\n"
    "  --airflow-version 3|2    Airflow 3 (default) or 2.7+\n"
    "  --airflow-operator bash|kubernetes   BashOperator (default) or KubernetesPodOperator\n"
    "  --argo-kind workflow|template        an Argo Workflow (default) or WorkflowTemplate\n"
    "  --argo-data pvc|artifacts            a shared volume (default) or artifacts\n"
    "  --allow-undefined NAME   a name the runtime provides (repeatable)\n"
    "  --force                  overwrite files nb2pipe did not write, or that were edited\n"
    "  --check                  write nothing; list the files that would change (exit 1)\n"
    "  --max-size BYTES         refuse larger notebooks (default 256M)\n"
    "  -h, --help               show this help\n"
    "\n"
    "Files are written to a temporary directory and renamed into place; on any error\n"
    "nothing is written. Same notebook and options give the same bytes.\n"
    "exit status: 0 written (or up to date); 1 --check found changes; 2 bad usage or input\n";

typedef struct convert_opts {
    const char *notebook;
    const char *output;
    nb_split split;
    size_t max_steps;
    bool force, check;
    const char **allow;
    size_t nallow;
    nb_read_opts read;
    bool targets[16];  /* by index into nb_targets: asked for with --target */
    nb_emit_opts emit; /* the export options (paths are filled in later) */
    size_t changed;    /* set by run_convert: files written or removed (or, with check,
                          that would be) */
} convert_opts;

/* The default output directory: the notebook's path without its extension. */
static char *default_output(const char *notebook)
{
    const char *slash = strrchr(notebook, '/');
    const char *dot = strrchr(notebook, '.');
    size_t len = dot && (!slash || dot > slash) && dot != (slash ? slash + 1 : notebook)
                     ? (size_t)(dot - notebook)
                     : strlen(notebook);
    nb_buf out = NB_BUF_INIT;
    nb_buf_add(&out, notebook, len);
    if (len == strlen(notebook))
        nb_buf_puts(&out, ".pipeline");
    return nb_buf_detach(&out, NULL);
}

static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? nb_xstrndup(path, slash == path ? 1 : (size_t)(slash - path)) : nb_xstrdup(".");
}

/* The command that regenerates the output, run in the notebook's directory. */
static char *regenerate_command(const convert_opts *o, const char *notebook_dir, bool default_out)
{
    nb_buf cmd = NB_BUF_INIT;
    const char *base = strrchr(o->notebook, '/') ? strrchr(o->notebook, '/') + 1 : o->notebook;
    nb_buf_puts(&cmd, "nb2pipe convert ");
    nb_write_sh_word(&cmd, base, strlen(base));
    if (!default_out) {
        char *rel = nb_path_relative(notebook_dir, o->output);
        nb_buf_puts(&cmd, " -o ");
        nb_write_sh_word(&cmd, rel, strlen(rel));
        free(rel);
    }
    if (o->split != NB_SPLIT_AUTO)
        nb_buf_printf(&cmd, " --split %s", nb_split_name(o->split));
    if (o->max_steps)
        nb_buf_printf(&cmd, " --max-steps %zu", o->max_steps);
    for (size_t i = 0; i < o->nallow; i++) {
        nb_buf_puts(&cmd, " --allow-undefined ");
        nb_write_sh_word(&cmd, o->allow[i], strlen(o->allow[i]));
    }
    bool any = false;
    for (size_t t = 0; nb_targets[t].name; t++) {
        if (!o->targets[t] || nb_targets[t].always)
            continue;
        nb_buf_printf(&cmd, "%s%s", any ? "," : " --target ", nb_targets[t].name);
        any = true;
    }
    const nb_emit_opts *e = &o->emit;
    const struct {
        const char *flag, *value;
    } words[] = {
        { "--name", e->name },
        { "--image", e->image },
        { "--data-root", e->data_root },
        { "--schedule", e->schedule },
        { "--airflow-version", e->airflow_version == 2 ? "2" : NULL },
        { "--airflow-operator", e->airflow_kubernetes ? "kubernetes" : NULL },
        { "--argo-kind", e->argo_template ? "template" : NULL },
        { "--argo-data", e->argo_artifacts ? "artifacts" : NULL },
    };
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
        if (!words[i].value)
            continue;
        nb_buf_printf(&cmd, " %s ", words[i].flag);
        nb_write_sh_word(&cmd, words[i].value, strlen(words[i].value));
    }
    return nb_buf_detach(&cmd, NULL);
}

/* The library's conversion options (convert.h) for O. */
static nb_convert_opts library_opts(const convert_opts *o, const char *notebook_dir,
                                    const char *regenerate)
{
    return (nb_convert_opts){ .split = o->split, .max_steps = o->max_steps, .allow = o->allow,
                              .nallow = o->nallow,
                              .targets = o->targets, .notebook_dir = notebook_dir,
                              .regenerate = regenerate };
}

static int run_convert(cli *c, convert_opts *o)
{
    nb_notebook *nb = read_python_notebook(c, o->notebook, &o->read);
    if (!nb)
        return fail_with_diags(c, o->notebook);
    bool default_out = o->output == NULL;
    char *output = default_out ? default_output(o->notebook) : nb_xstrdup(o->output);
    o->output = output;
    char *notebook_dir = dir_of(o->notebook);
    char *regenerate = regenerate_command(o, notebook_dir, default_out);
    int status = NB_EXIT_BAD;
    nb_convert_opts co = library_opts(o, notebook_dir, regenerate);
    nb_pipeline *p = nb_convert_pipeline(nb, &co, &c->diags);
    if (p) {
        char *workdir = nb_path_relative(output, notebook_dir);
        char *notebook_rel = nb_path_relative(output, o->notebook);
        char *pipeline_dir = nb_path_relative(notebook_dir, output);
        nb_emit_opts eo = o->emit;
        eo.workdir = workdir;
        eo.notebook = notebook_rel;
        eo.pipeline_dir = pipeline_dir;
        nb_fileset fs;
        nb_fileset_init(&fs);
        nb_buf changed = NB_BUF_INIT;
        if (nb_convert_emit(p, &co, &eo, &fs, &c->diags) == 0) {
            nb_write_opts wo = { .force = o->force, .check = o->check };
            int rc = nb_fileset_write(&fs, output, &wo, &changed, &c->diags);
            for (const char *line = changed.data; *line; line = strchr(line, '\n') + 1)
                o->changed++;
            if (rc == 1) {
                /* the files that are stale, as paths from here */
                for (const char *line = changed.data; *line; line = strchr(line, '\n') + 1)
                    printf("%s/%.*s\n", output, (int)(strchr(line, '\n') - line), line);
                status = NB_EXIT_CHANGED;
            } else if (rc == 0) {
                status = NB_EXIT_OK;
                /* what auto chose, once there is a pipeline (a refusal's first line is
                 * its error) */
                if (p->split_reason)
                    nb_diag_add(&c->diags, NB_NOTE, "split", (nb_loc){ .file = o->notebook },
                                "split: %s", p->split_reason);
                if (!o->check) {
                    printf("%s: %zu step%s", o->notebook, p->nsteps, p->nsteps == 1 ? "" : "s");
                    for (size_t i = 0; i < p->nsteps; i++)
                        printf("%s%s", i ? ", " : " (", p->steps[i].name);
                    if (o->changed)
                        printf(") -> %s/ (%zu file%s written)\n", output, o->changed,
                               o->changed == 1 ? "" : "s");
                    else
                        printf(") -> %s/ (up to date)\n", output);
                }
            }
        }
        nb_buf_release(&changed);
        nb_fileset_release(&fs);
        free(workdir);
        free(notebook_rel);
        free(pipeline_dir);
        nb_pipeline_free(p);
    }
    flush_diags(c);
    free(regenerate);
    free(notebook_dir);
    free(output);
    nb_notebook_free(nb);
    return status;
}

/* Sets convert option FLAG (its long name) to VALUE; returns NULL, or what the value
 * should be. Used for the command line and for nb2pipe.yaml entries. VALUE must live as
 * long as O. */
static const char *set_convert_option(convert_opts *o, const char *flag, const char *value)
{
    if (strcmp(flag, "output") == 0) {
        o->output = value;
    } else if (strcmp(flag, "split") == 0) {
        if (!parse_split(value, &o->split))
            return "auto, tags, headings, dataflow or single";
    } else if (strcmp(flag, "max-steps") == 0) {
        if (!parse_count(value, &o->max_steps))
            return "a number of steps, 1 or more";
    } else if (strcmp(flag, "target") == 0) {
        for (const char *t = value; *t;) {
            size_t n = strcspn(t, ",");
            bool known = false;
            for (size_t i = 0; nb_targets[i].name; i++) {
                bool all = n == 3 && strncmp(t, "all", 3) == 0;
                if (all || (strlen(nb_targets[i].name) == n && strncmp(nb_targets[i].name, t, n) == 0)) {
                    o->targets[i] = true;
                    known = true;
                }
            }
            if (!known)
                return "a comma-separated list of airflow, argo, kfp, slurm, batch, all";
            t += n + (t[n] == ',');
        }
    } else if (strcmp(flag, "name") == 0) {
        o->emit.name = value;
    } else if (strcmp(flag, "image") == 0) {
        o->emit.image = value;
    } else if (strcmp(flag, "data-root") == 0) {
        o->emit.data_root = value;
    } else if (strcmp(flag, "schedule") == 0) {
        o->emit.schedule = value;
    } else if (strcmp(flag, "airflow-version") == 0) {
        if (strcmp(value, "2") != 0 && strcmp(value, "3") != 0)
            return "2 or 3";
        o->emit.airflow_version = value[0] - '0';
    } else if (strcmp(flag, "airflow-operator") == 0) {
        if (strcmp(value, "bash") != 0 && strcmp(value, "kubernetes") != 0)
            return "bash or kubernetes";
        o->emit.airflow_kubernetes = strcmp(value, "kubernetes") == 0;
    } else if (strcmp(flag, "argo-kind") == 0) {
        if (strcmp(value, "workflow") != 0 && strcmp(value, "template") != 0)
            return "workflow or template";
        o->emit.argo_template = strcmp(value, "template") == 0;
    } else if (strcmp(flag, "argo-data") == 0) {
        if (strcmp(value, "pvc") != 0 && strcmp(value, "artifacts") != 0)
            return "pvc or artifacts";
        o->emit.argo_artifacts = strcmp(value, "artifacts") == 0;
    } else if (strcmp(flag, "allow-undefined") == 0) {
        o->allow[o->nallow++] = value;
    } else if (strcmp(flag, "max-size") == 0) {
        if (!parse_size(value, &o->read.max_bytes))
            return "a size in bytes (K, M, G suffixes)";
    } else {
        return "a known option";
    }
    return NULL;
}

static const struct option convert_options[] = {
    { "output", required_argument, NULL, 'o' },
    { "split", required_argument, NULL, 0 },
    { "max-steps", required_argument, NULL, 0 },
    { "target", required_argument, NULL, 0 },
    { "name", required_argument, NULL, 0 },
    { "image", required_argument, NULL, 0 },
    { "data-root", required_argument, NULL, 0 },
    { "schedule", required_argument, NULL, 0 },
    { "airflow-version", required_argument, NULL, 0 },
    { "airflow-operator", required_argument, NULL, 0 },
    { "argo-kind", required_argument, NULL, 0 },
    { "argo-data", required_argument, NULL, 0 },
    { "allow-undefined", required_argument, NULL, 0 },
    { "max-size", required_argument, NULL, 0 },
    { "force", no_argument, NULL, 'f' },
    { "check", no_argument, NULL, 'c' },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
};

static void init_convert_opts(convert_opts *o, int argc)
{
    memset(o, 0, sizeof *o);
    o->split = NB_SPLIT_AUTO;
    o->emit.airflow_version = 3;
    o->allow = nb_xcalloc((size_t)argc + 1, sizeof *o->allow);
}

static int cmd_convert(cli *c, int argc, char **argv)
{
    convert_opts o;
    init_convert_opts(&o, argc);
    int opt, index = 0, status = -1;
    while (status < 0 && (opt = getopt_long(argc, argv, "o:h", convert_options, &index)) != -1) {
        const char *flag = opt == 'o' ? "output" : convert_options[index].name;
        const char *expected = NULL;
        switch (opt) {
        case 'f': o.force = true; break;
        case 'c': o.check = true; break;
        case 'h': fputs(convert_help, stdout); status = NB_EXIT_OK; break;
        case 'o':
        case 0: expected = set_convert_option(&o, flag, optarg); break;
        default: status = usage_error("convert ", "unknown option '%s'", argv[optind - 1]); break;
        }
        if (expected)
            status = usage_error("convert ", "--%s '%s': expected %s", flag, optarg, expected);
    }
    if (status < 0 && optind != argc - 1)
        status = usage_error("convert ", optind >= argc ? "missing NOTEBOOK" : "convert takes one NOTEBOOK");
    if (status < 0) {
        o.notebook = argv[optind];
        status = run_convert(c, &o);
    }
    free(o.allow);
    return status;
}

/* ---- plot ---------------------------------------------------------------------------- */

static const char plot_help[] =
    "usage: nb2pipe plot [options] DIR|NOTEBOOK\n"
    "\n"
    "Draw the pipeline: a box per step (its name, cells, parameters and metrics) and an\n"
    "arrow per dependency, labelled with the values that cross it (dashed: order only).\n"
    "For a converted DIR, the pipeline its manifest describes, and each step's newest run\n"
    "(status, run, start time, duration; the box coloured by status) when it has run\n"
    "records; for a NOTEBOOK, the pipeline convert would write, converted in memory with\n"
    "the same options (--split, --allow-undefined, ...; see nb2pipe convert --help).\n"
    "\n"
    "options:\n"
    "  -o, --output FILE        write to FILE, atomically (default: standard output)\n"
    "  --format FORMAT          svg (default), png, html (one self-contained page) or dot\n"
    "                           (Graphviz source); default from FILE's extension\n"
    "  -h, --help               show this help\n"
    "\n"
    "svg, png and html are drawn by Graphviz's dot (Debian package graphviz). The same\n"
    "input and command give the same DOT, byte for byte.\n"
    "exit status: 0 written; 2 bad usage, bad input or no Graphviz\n";

/* The plot command as typed, shell-quoted, for the header of what it writes. */
static char *plot_command(int argc, char **argv)
{
    nb_buf cmd = NB_BUF_INIT;
    nb_buf_puts(&cmd, "nb2pipe plot");
    for (int i = 1; i < argc; i++) {
        nb_buf_putc(&cmd, ' ');
        nb_write_sh_word(&cmd, argv[i], strlen(argv[i]));
    }
    return nb_buf_detach(&cmd, NULL);
}

/* The plot of PATH: a converted directory with its run records, or a notebook
 * converted in memory with the options of O. Returns 0 or -1 after recording errors. */
static int build_plot(cli *c, const char *path, const convert_opts *o, const char *command,
                      nb_plot *g)
{
    memset(g, 0, sizeof *g); /* released by the caller whatever happens */
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        nb_plan plan;
        int rc = nb_plan_load(&plan, path, &c->diags);
        if (rc == 0) {
            nb_plot_from_plan(g, &plan);
            rc = nb_plot_add_records(g, path, &c->diags);
        }
        nb_plan_release(&plan); /* the plot keeps copies */
        return rc;
    }
    nb_notebook *nb = read_python_notebook(c, path, &o->read);
    if (!nb)
        return -1;
    char *notebook_dir = dir_of(path);
    nb_convert_opts co = library_opts(o, notebook_dir, command);
    nb_pipeline *p = nb_convert_pipeline(nb, &co, &c->diags);
    if (p) {
        nb_plot_from_pipeline(g, p);
        nb_pipeline_free(p);
    }
    free(notebook_dir);
    nb_notebook_free(nb);
    return p ? 0 : -1;
}

static int run_plot(cli *c, const char *path, const convert_opts *o, nb_plot_format format,
                    const char *output, const char *command)
{
    nb_plot g;
    nb_buf out = NB_BUF_INIT;
    int status = NB_EXIT_BAD;
    if (build_plot(c, path, o, command, &g) == 0 &&
        nb_plot_render(&g, format, path, command, &out, &c->diags) == 0) {
        if (!output) {
            write_all(stdout, &out);
            status = NB_EXIT_OK;
        } else if (nb_write_file_atomic(output, out.data, out.len, 0666, &c->diags) == 0) {
            status = NB_EXIT_OK;
        }
    }
    flush_diags(c);
    nb_buf_release(&out);
    nb_plot_release(&g);
    return status;
}

static int cmd_plot(cli *c, int argc, char **argv)
{
    /* plot takes every option of convert that shapes the pipeline (those that only
     * matter to the exports are accepted and change nothing), so that the plot shows
     * what the same convert command writes; not convert's -o, --force, --check */
    enum { N = sizeof convert_options / sizeof convert_options[0] };
    struct option options[N + 3];
    size_t n = 0;
    for (size_t i = 0; convert_options[i].name; i++)
        if (convert_options[i].flag == NULL && convert_options[i].val == 0)
            options[n++] = convert_options[i];
    options[n++] = (struct option){ "format", required_argument, NULL, 'F' };
    options[n++] = (struct option){ "output", required_argument, NULL, 'o' };
    options[n++] = (struct option){ "help", no_argument, NULL, 'h' };
    options[n] = (struct option){ NULL, 0, NULL, 0 };
    convert_opts o;
    init_convert_opts(&o, argc);
    const char *output = NULL, *format_name = NULL;
    nb_plot_format format = NB_PLOT_SVG;
    int opt, index = 0, status = -1;
    while (status < 0 && (opt = getopt_long(argc, argv, "o:h", options, &index)) != -1) {
        const char *expected = NULL;
        switch (opt) {
        case 'o': output = optarg; break;
        case 'F':
            format_name = optarg;
            if (!nb_plot_parse_format(optarg, &format))
                status = usage_error("plot ", "--format '%s': expected svg, png, html or dot", optarg);
            break;
        case 'h': fputs(plot_help, stdout); status = NB_EXIT_OK; break;
        case 0: expected = set_convert_option(&o, options[index].name, optarg); break;
        default: status = usage_error("plot ", "unknown option '%s'", argv[optind - 1]); break;
        }
        if (expected)
            status = usage_error("plot ", "--%s '%s': expected %s", options[index].name, optarg, expected);
    }
    if (status < 0 && optind != argc - 1)
        status = usage_error("plot ", optind >= argc ? "missing DIR or NOTEBOOK" : "plot takes one DIR or NOTEBOOK");
    if (status < 0 && !format_name && output)
        nb_plot_format_of_path(output, &format); /* -o pipeline.png: a PNG */
    if (status < 0 && format == NB_PLOT_PNG && !output && isatty(STDOUT_FILENO))
        status = usage_error("plot ", "a PNG is not for a terminal: give -o FILE");
    if (status < 0) {
        char *command = plot_command(argc, argv);
        status = run_plot(c, argv[optind], &o, format, output, command);
        free(command);
    }
    free(o.allow);
    return status;
}

/* ---- sync and check ----------------------------------------------------------------- */

static const char sync_help[] =
    "usage: nb2pipe sync [options] [FILE...]\n"
    "       nb2pipe check [options] [FILE...]\n"
    "\n"
    "sync converts the notebooks the project file nb2pipe.yaml lists (in this directory\n"
    "or the nearest parent) into their pipelines, as `nb2pipe convert` with the options it\n"
    "gives. check writes nothing: it lists the generated files that are stale or edited,\n"
    "and exits 1 if there are any. With FILE arguments (as pre-commit passes them), only\n"
    "the listed notebooks that the project file covers; the project file itself among\n"
    "them means all. The project file:\n"
    "\n"
    "  pipelines:\n"
    "    - notebook: notebooks/titanic.ipynb   # a path or a glob, relative to nb2pipe.yaml\n"
    "      output: pipelines/{name}            # optional ({name}, {dir}); default: next to\n"
    "                                          # the notebook, named after it\n"
    "      split: headings                     # optional: any convert option, by its\n"
    "      targets: [airflow, argo]            # long name (targets, allow-undefined: lists)\n"
    "\n"
    "options:\n"
    "  --config FILE            the project file (default: the nearest nb2pipe.yaml)\n"
    "  --fail-on-change         sync: exit 1 when it wrote any file (for pre-commit, which\n"
    "                           then has the user add them)\n"
    "  --force                  sync: overwrite generated files that were edited\n"
    "  -h, --help               show this help\n"
    "\n"
    "exit status: 0 up to date (or written); 1 check: stale files, or sync --fail-on-change:\n"
    "files written; 2 bad usage, a bad project file, or a notebook that cannot be converted\n";

/* PATTERN with {name} and {dir} replaced for NOTEBOOK. */
static char *expand_output(const char *pattern, const char *notebook)
{
    const char *slash = strrchr(notebook, '/');
    const char *base = slash ? slash + 1 : notebook;
    const char *dot = strrchr(base, '.');
    nb_buf out = NB_BUF_INIT;
    for (const char *p = pattern; *p; p++) {
        if (strncmp(p, "{name}", 6) == 0) {
            nb_buf_add(&out, base, dot ? (size_t)(dot - base) : strlen(base));
            p += 5;
        } else if (strncmp(p, "{dir}", 5) == 0) {
            if (slash)
                nb_buf_add(&out, notebook, (size_t)(slash - notebook));
            else
                nb_buf_putc(&out, '.');
            p += 4;
        } else {
            nb_buf_putc(&out, *p);
        }
    }
    return nb_buf_detach(&out, NULL);
}

/* A project-relative path as a path from the working directory. */
static char *in_project(const nb_config *cfg, const char *path)
{
    nb_buf out = NB_BUF_INIT;
    if (path[0] == '/' || strcmp(cfg->dir, ".") == 0)
        nb_buf_puts(&out, path);
    else
        nb_buf_printf(&out, "%s/%s", cfg->dir, path);
    return nb_buf_detach(&out, NULL);
}

/* Whether NOTEBOOK is one of FILES (compared as absolute paths). */
static bool selected(char *const *files, size_t nfiles, const char *notebook)
{
    char *abs = nb_path_absolute(notebook);
    bool found = false;
    for (size_t i = 0; i < nfiles && !found; i++) {
        char *f = nb_path_absolute(files[i]);
        found = strcmp(f, abs) == 0;
        free(f);
    }
    free(abs);
    return found;
}

/* Converts one notebook as ENTRY says; returns the exit status and adds to *CHANGED. */
static int sync_notebook(cli *c, const nb_config *cfg, const nb_config_entry *e,
                         const char *notebook, bool check, bool force, size_t *changed)
{
    convert_opts o;
    init_convert_opts(&o, (int)e->nallow_undefined + 1);
    o.notebook = notebook;
    o.check = check;
    o.force = force;
    char *output = NULL, *output_path = NULL;
    const char *expected = NULL, *flag = NULL;
    if (e->split && (expected = set_convert_option(&o, flag = "split", e->split)))
        goto bad;
    for (size_t i = 0; i < e->ntargets; i++)
        if ((expected = set_convert_option(&o, flag = "target", e->targets[i])))
            goto bad;
    for (size_t i = 0; i < e->nallow_undefined; i++)
        set_convert_option(&o, "allow-undefined", e->allow_undefined[i]);
    for (size_t i = 0; i < NB_CONFIG_OPTIONS; i++)
        if (e->options[i] && (expected = set_convert_option(&o, flag = nb_config_option_names[i],
                                                            e->options[i])))
            goto bad;
    if (e->output) {
        output = expand_output(e->output, notebook + (strcmp(cfg->dir, ".") == 0 ? 0 : strlen(cfg->dir) + 1));
        output_path = in_project(cfg, output);
        o.output = output_path;
    }
    int status = run_convert(c, &o);
    *changed += o.changed;
    free(output);
    free(output_path);
    free(o.allow);
    return status;
bad:
    nb_diag_add(&c->diags, NB_ERROR, "bad-config", (nb_loc){ .file = cfg->path, .line = e->line },
                "'%s' of the entry for %s: expected %s", flag, e->notebook, expected);
    flush_diags(c);
    free(o.allow);
    return NB_EXIT_BAD;
}

static int sync_or_check(cli *c, int argc, char **argv, bool check)
{
    static const struct option options[] = {
        { "config", required_argument, NULL, 'c' },
        { "fail-on-change", no_argument, NULL, 'f' },
        { "force", no_argument, NULL, 'F' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *config_path = NULL;
    bool fail_on_change = false, force = false;
    int opt;
    while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        switch (opt) {
        case 'c': config_path = optarg; break;
        case 'f': fail_on_change = true; break;
        case 'F': force = true; break;
        case 'h': fputs(sync_help, stdout); return NB_EXIT_OK;
        default: return usage_error(check ? "check " : "sync ", "unknown option '%s'", argv[optind - 1]);
        }
    }
    char *found = config_path ? nb_xstrdup(config_path) : nb_config_find(".");
    if (!found) {
        nb_diag_add(&c->diags, NB_ERROR, "no-config", (nb_loc){ .file = NB_CONFIG_FILE },
                    "no project file here or in a parent directory (see nb2pipe sync --help)");
        flush_diags(c);
        return NB_EXIT_BAD;
    }
    nb_config cfg;
    int status = NB_EXIT_OK;
    if (nb_config_read(found, &cfg, &c->diags) != 0) {
        flush_diags(c);
        nb_config_release(&cfg);
        free(found);
        return NB_EXIT_BAD;
    }
    char *const *files = argv + optind;
    size_t nfiles = (size_t)(argc - optind);
    bool all = nfiles == 0;
    for (size_t i = 0; i < nfiles && !all; i++)
        all = selected(files + i, 1, found);
    size_t changed = 0;
    for (size_t i = 0; i < cfg.nentries; i++) {
        const nb_config_entry *e = &cfg.entries[i];
        char *pattern = in_project(&cfg, e->notebook);
        glob_t g;
        int rc = glob(pattern, 0, NULL, &g);
        if (rc == GLOB_NOMATCH)
            nb_diag_add(&c->diags, NB_WARNING, "no-match", (nb_loc){ .file = cfg.path, .line = e->line },
                        "'%s' matches no notebook", e->notebook);
        for (size_t k = 0; rc == 0 && k < g.gl_pathc; k++) {
            if (!all && !selected(files, nfiles, g.gl_pathv[k]))
                continue;
            int one = sync_notebook(c, &cfg, e, g.gl_pathv[k], check, force, &changed);
            if (one > status)
                status = one;
            nb_diags_release(&c->diags);
        }
        if (rc == 0)
            globfree(&g);
        flush_diags(c);
        nb_diags_release(&c->diags);
        free(pattern);
    }
    if (!check && fail_on_change && changed && status == NB_EXIT_OK) {
        fprintf(stderr, "nb2pipe sync: %zu generated file%s changed: add them to the commit\n",
                changed, changed == 1 ? "" : "s");
        status = NB_EXIT_CHANGED;
    }
    nb_config_release(&cfg);
    free(found);
    return status;
}

static int cmd_sync(cli *c, int argc, char **argv)
{
    return sync_or_check(c, argc, argv, false);
}

static int cmd_check(cli *c, int argc, char **argv)
{
    return sync_or_check(c, argc, argv, true);
}

/* ---- clean ------------------------------------------------------------------------ */

static const char clean_help[] =
    "usage: nb2pipe clean [options] NOTEBOOK...\n"
    "\n"
    "Strip outputs, execution counts and volatile metadata from notebooks, in place, and\n"
    "write them exactly as Jupyter (nbformat) writes them: what nbstripout does by default,\n"
    "keeping cell ids (nbstripout --keep-id). Stripped metadata: the notebook's signature and\n"
    "widgets; each cell's collapsed, scrolled, ExecuteTime, execution, heading_collapsed and\n"
    "hidden. A cell with keep_output metadata or tag keeps its outputs. A notebook that is\n"
    "already clean is not rewritten; a rewrite is atomic and keeps the file's permissions.\n"
    "A notebook stays in its nbformat, 4 or 3 (nbformat 2 is refused: upgrade it with\n"
    "`jupyter nbconvert --to notebook`).\n"
    "\n"
    "options:\n"
    "  --keep-output            keep outputs\n"
    "  --keep-count             keep execution counts\n"
    "  --keep-metadata KEY      do not strip KEY (metadata.X or cell.metadata.X; repeatable)\n"
    "  --drop-metadata KEY      strip KEY too (metadata.X or cell.metadata.X; repeatable)\n"
    "  --stdout                 write the cleaned notebook to standard output instead\n"
    "  --check, --dry-run       write nothing; list the notebooks that would change\n"
    "  --max-size BYTES         refuse larger notebooks (default 256M)\n"
    "  -h, --help               show this help\n"
    "\n"
    "exit status: 0 clean (or cleaned); 1 --check: a notebook would change; 2 a notebook\n"
    "could not be read or written (the others are still processed)\n";

typedef struct clean_cli {
    nb_clean_opts strip;
    bool to_stdout, check;
    nb_read_opts read;
} clean_cli;

/* Cleans one notebook; returns its exit status. */
static int clean_one(cli *c, const clean_cli *o, const char *path)
{
    nb_buf cleaned = NB_BUF_INIT;
    nb_file_view original; /* mapped: a big notebook costs no copy */
    int status = NB_EXIT_BAD;
    if (nb_notebook_open_file(path, &o->read, &original, &c->diags) != 0)
        goto done;
    nb_read_opts read = o->read;
    read.keep_json = true;
    /* outputs that will be stripped need not be parsed: most of a notebook's bytes */
    read.elide_outputs = !o->strip.keep_output;
    nb_notebook *nb = nb_notebook_read_mem(path, original.data, original.len, &read, &c->diags);
    if (!nb)
        goto done;
    int result = nb_clean_notebook(nb, original.data, &o->strip, &c->diags, &cleaned);
    nb_notebook_free(nb);
    if (result != 0)
        goto done;
    if (o->to_stdout) {
        write_all(stdout, &cleaned);
        status = NB_EXIT_OK;
    } else if (nb_buf_equals(&cleaned, original.data, original.len)) {
        status = NB_EXIT_OK; /* already clean: not touched, mtime and all */
    } else if (o->check) {
        printf("%s\n", path);
        status = NB_EXIT_CHANGED;
    } else if (nb_write_file_atomic(path, cleaned.data, cleaned.len, 0666, &c->diags) == 0) {
        printf("cleaned %s\n", path);
        status = NB_EXIT_OK;
    }
done:
    nb_file_view_release(&original);
    nb_buf_release(&cleaned);
    return status;
}

static int cmd_clean(cli *c, int argc, char **argv)
{
    enum { OPT_KEEP_OUTPUT = 256, OPT_KEEP_COUNT, OPT_KEEP_META, OPT_DROP_META, OPT_STDOUT,
           OPT_CHECK, OPT_MAX_SIZE };
    static const struct option options[] = {
        { "keep-output", no_argument, NULL, OPT_KEEP_OUTPUT },
        { "keep-count", no_argument, NULL, OPT_KEEP_COUNT },
        { "keep-metadata", required_argument, NULL, OPT_KEEP_META },
        { "drop-metadata", required_argument, NULL, OPT_DROP_META },
        { "stdout", no_argument, NULL, OPT_STDOUT },
        { "check", no_argument, NULL, OPT_CHECK },
        { "dry-run", no_argument, NULL, OPT_CHECK },
        { "max-size", required_argument, NULL, OPT_MAX_SIZE },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    clean_cli o = { 0 };
    const char **keep = nb_xcalloc((size_t)argc + 1, sizeof *keep);
    const char **drop = nb_xcalloc((size_t)argc + 1, sizeof *drop);
    o.strip.keep_metadata = keep;
    o.strip.drop_metadata = drop;
    int opt, status = -1;
    while (status < 0 && (opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        switch (opt) {
        case OPT_KEEP_OUTPUT: o.strip.keep_output = true; break;
        case OPT_KEEP_COUNT: o.strip.keep_count = true; break;
        case OPT_KEEP_META:
        case OPT_DROP_META:
            if (!nb_clean_valid_key(optarg))
                status = usage_error("clean ", "'%s' is not metadata.KEY or cell.metadata.KEY", optarg);
            else if (opt == OPT_KEEP_META)
                keep[o.strip.nkeep_metadata++] = optarg;
            else
                drop[o.strip.ndrop_metadata++] = optarg;
            break;
        case OPT_STDOUT: o.to_stdout = true; break;
        case OPT_CHECK: o.check = true; break;
        case OPT_MAX_SIZE:
            if (!parse_size(optarg, &o.read.max_bytes))
                status = usage_error("clean ", "invalid --max-size '%s'", optarg);
            break;
        case 'h': fputs(clean_help, stdout); status = NB_EXIT_OK; break;
        default: status = usage_error("clean ", "unknown option '%s'", argv[optind - 1]); break;
        }
    }
    if (status < 0 && optind >= argc)
        status = usage_error("clean ", "missing NOTEBOOK");
    if (status < 0) {
        status = NB_EXIT_OK;
        for (int i = optind; i < argc; i++) {
            int one = clean_one(c, &o, argv[i]);
            if (one > status) /* the worst: 2 over 1 over 0 */
                status = one;
            fflush(stdout);
            flush_diags(c);
            nb_diags_release(&c->diags);
        }
    }
    free(keep);
    free(drop);
    return status;
}

/* ---- the program ----------------------------------------------------------------- */

typedef struct command {
    const char *name;
    int (*run)(cli *c, int argc, char **argv);
    const char *summary;
} command;

static const command commands[] = {
    { "analyze", cmd_analyze, "print what each cell defines, uses and changes" },
    { "convert", cmd_convert, "turn a notebook into a pipeline of step scripts" },
    { "plot", cmd_plot, "draw a pipeline's steps and what flows between them" },
    { "run", cmd_run, "run a converted pipeline on this machine" },
    { "status", cmd_status, "show which steps of a pipeline are up to date" },
    { "runs", cmd_runs, "list the recorded runs of a pipeline" },
    { "restore", cmd_restore, "put back the inputs a step had in a recorded run" },
    { "gc", cmd_gc, "forget old runs and their snapshots" },
    { "clean", cmd_clean, "strip outputs and volatile metadata from notebooks, in place" },
    { "sync", cmd_sync, "convert the notebooks nb2pipe.yaml lists" },
    { "check", cmd_check, "list generated files that are stale or edited (exit 1)" },
};

static void print_help(FILE *f)
{
    fputs("usage: nb2pipe [--version] [--help] COMMAND [options] [args]\n"
          "\n"
          "Turn Jupyter notebooks into pipelines.\n"
          "\n"
          "commands:\n",
          f);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fputs("\n'nb2pipe COMMAND --help' describes a command.\n"
          "exit status: 0 success; 1 a check failed or files would change; 2 bad usage or "
          "bad input\n",
          f);
}

int nb_cli_main(int argc, char **argv)
{
    if (argc < 2) {
        print_help(stderr);
        return NB_EXIT_BAD;
    }
    const char *name = argv[1];
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0 || strcmp(name, "help") == 0) {
        print_help(stdout);
        return NB_EXIT_OK;
    }
    if (strcmp(name, "--version") == 0 || strcmp(name, "version") == 0) {
        printf("nb2pipe %s\n", NB2PIPE_VERSION);
        return NB_EXIT_OK;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        if (strcmp(name, commands[i].name) != 0)
            continue;
        const char *no_color = getenv("NO_COLOR");
        cli c = { .command = name,
                  .color = isatty(STDERR_FILENO) && no_color == NULL };
        nb_diags_init(&c.diags);
        optind = 1; /* getopt_long over the command's own arguments */
        opterr = 0; /* usage_error words the message */
        int status = commands[i].run(&c, argc - 1, argv + 1);
        nb_diags_release(&c.diags);
        return status;
    }
    return usage_error(NULL, "'%s' is not a nb2pipe command", name);
}
