#include "nb2pipe/cli.h"

#include "nb2pipe/analysis.h"
#include "nb2pipe/buf.h"
#include "nb2pipe/diag.h"
#include "nb2pipe/dump.h"
#include "nb2pipe/notebook.h"

#include <errno.h>
#include <stdarg.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef NB2PIPE_VERSION
#define NB2PIPE_VERSION "0.0.0"
#endif

/* What every command shares: where its diagnostics go and how they look. */
typedef struct cli {
    const char *command;
    bool color; /* diagnostics on a terminal, and NO_COLOR unset */
    bool json;  /* diagnostics go into the JSON document on stdout */
    nb_diags diags;
} cli;

static void write_all(FILE *f, const nb_buf *b)
{
    fwrite(b->data, 1, b->len, f);
    fflush(f);
}

/* Prints the text diagnostics recorded so far to stderr and forgets them. */
static void flush_diags(cli *c)
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

static int usage_error(const char *command, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int usage_error(const char *command, const char *fmt, ...)
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
    "imports, functions, classes and magics, and for each use the cell that provides it.\n"
    "\n"
    "options:\n"
    "  --json                   print the analysis as JSON (shape: docs/analyze.md)\n"
    "  --dot                    print the cell graph for Graphviz\n"
    "  --allow-undefined NAME   a name the runtime provides (repeatable)\n"
    "  --max-size BYTES         refuse larger notebooks (default 256M; K, M, G suffixes)\n"
    "  -h, --help               show this help\n"
    "\n"
    "Diagnostics go to stderr as 'file:cell N:line:col: severity: message [code]', or into\n"
    "the JSON document with --json.\n"
    "exit status: 0 no errors; 2 bad usage, unreadable notebook or errors in its code\n";

static int cmd_analyze(cli *c, int argc, char **argv)
{
    enum { OPT_JSON = 256, OPT_DOT, OPT_ALLOW, OPT_MAX_SIZE };
    static const struct option options[] = {
        { "json", no_argument, NULL, OPT_JSON },
        { "dot", no_argument, NULL, OPT_DOT },
        { "allow-undefined", required_argument, NULL, OPT_ALLOW },
        { "max-size", required_argument, NULL, OPT_MAX_SIZE },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    bool dot = false;
    nb_read_opts read_opts = { 0 };
    const char **allow = nb_xcalloc((size_t)argc + 1, sizeof *allow);
    size_t nallow = 0;
    int opt, status = NB_EXIT_OK;
    while ((opt = getopt_long(argc, argv, "+h", options, NULL)) != -1) {
        switch (opt) {
        case OPT_JSON: c->json = true; break;
        case OPT_DOT: dot = true; break;
        case OPT_ALLOW: allow[nallow++] = optarg; break;
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
    if (c->json) {
        json_t *doc = nb_dump_analysis_json(an);
        json_object_set_new(doc, "diagnostics", nb_diags_to_json(&c->diags));
        print_json(doc);
        json_decref(doc);
    } else {
        nb_buf out = NB_BUF_INIT;
        if (dot)
            nb_dump_analysis_dot(an, &out);
        else
            nb_dump_analysis_text(an, &out);
        write_all(stdout, &out);
        nb_buf_release(&out);
        flush_diags(c);
    }
    status = c->diags.errors ? NB_EXIT_BAD : NB_EXIT_OK;
    nb_analysis_free(an);
    nb_notebook_free(nb);
done:
    free(allow);
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
