/* nb2pipe plot: the step graph of a pipeline, from the IR or a converted directory's
 * manifest, with the newest run record of each step, as DOT; `dot` renders the rest. */
#include "nb2pipe/plot.h"

#include "nb2pipe/fsout.h"
#include "nb2pipe/runrec.h"
#include "nb2pipe/writer.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ---- formats ------------------------------------------------------------------------- */

static const char *const format_names[] = { "dot", "svg", "png", "html" };

bool nb_plot_parse_format(const char *name, nb_plot_format *format)
{
    for (size_t i = 0; i < sizeof format_names / sizeof format_names[0]; i++)
        if (strcmp(name, format_names[i]) == 0) {
            *format = (nb_plot_format)i;
            return true;
        }
    return false;
}

bool nb_plot_format_of_path(const char *path, nb_plot_format *format)
{
    const char *dot = strrchr(path, '.');
    if (!dot || strchr(dot, '/'))
        return false;
    if (strcmp(dot, ".gv") == 0) {
        *format = NB_PLOT_DOT;
        return true;
    }
    if (strcmp(dot, ".htm") == 0) {
        *format = NB_PLOT_HTML;
        return true;
    }
    return nb_plot_parse_format(dot + 1, format);
}

/* ---- building the plot ------------------------------------------------------------------ */

/* The values crossing one arrow, collected before they are joined into its label. */
typedef struct value_list {
    const char **items;
    size_t len, cap;
} value_list;

static void add_value(value_list *v, const char *name)
{
    v->items = nb_xgrow(v->items, &v->cap, v->len + 1, sizeof *v->items);
    v->items[v->len++] = name;
}

static int compare_strings(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* "a, b, random state": sorted and unique; a new line every few names so that a long
 * list makes a tall label rather than an arrow across the page. NULL when empty. */
static const char *join_values(nb_plot *g, value_list *v)
{
    if (v->len == 0)
        return NULL;
    qsort(v->items, v->len, sizeof *v->items, compare_strings);
    nb_buf label = NB_BUF_INIT;
    size_t line_start = 0;
    for (size_t i = 0; i < v->len; i++) {
        if (i > 0 && strcmp(v->items[i], v->items[i - 1]) == 0)
            continue;
        if (label.len > 0) {
            nb_buf_putc(&label, ',');
            if (label.len - line_start > 30) {
                nb_buf_putc(&label, '\n');
                line_start = label.len;
            } else {
                nb_buf_putc(&label, ' ');
            }
        }
        /* the random generators' state is a pseudo-name, not a variable */
        nb_buf_puts(&label, strcmp(v->items[i], "random-state") == 0 ? "random state" : v->items[i]);
    }
    const char *text = nb_pool_strdup(&g->pool, label.data);
    nb_buf_release(&label);
    return text;
}

static void add_edge(nb_plot *g, size_t *cap, size_t from, size_t to, value_list *values)
{
    g->edges = nb_pool_grow(&g->pool, g->edges, cap, g->nedges + 1, sizeof *g->edges);
    g->edges[g->nedges++] = (nb_plot_edge){ .from = from, .to = to, .values = join_values(g, values) };
    values->len = 0;
}

static bool has_index(const size_t *items, size_t n, size_t want)
{
    for (size_t i = 0; i < n; i++)
        if (items[i] == want)
            return true;
    return false;
}

/* The plot owns copies of everything it shows: the IR or plan it was built from may go
 * before it is drawn. */
static const char *const *copy_strings(nb_plot *g, const char *const *items, size_t n)
{
    const char **copy = nb_pool_alloc(&g->pool, (n + 1) * sizeof *copy);
    for (size_t i = 0; i < n; i++)
        copy[i] = nb_pool_strdup(&g->pool, items[i]);
    return copy;
}

void nb_plot_from_pipeline(nb_plot *g, const nb_pipeline *p)
{
    memset(g, 0, sizeof *g);
    g->name = nb_pool_strdup(&g->pool, p->name);
    g->nsteps = p->nsteps;
    g->steps = nb_pool_alloc(&g->pool, (p->nsteps + 1) * sizeof *g->steps);
    for (size_t i = 0; i < p->nsteps; i++) {
        const nb_step *s = &p->steps[i];
        nb_plot_step *ps = &g->steps[i];
        ps->name = nb_pool_strdup(&g->pool, s->name);
        int *cells = nb_pool_alloc(&g->pool, (s->ncells + 1) * sizeof *cells);
        for (size_t k = 0; k < s->ncells; k++)
            cells[k] = s->cells[k].cell;
        ps->cells = cells;
        ps->ncells = s->ncells;
        const char **params = nb_pool_alloc(&g->pool, (s->nparams + 1) * sizeof *params);
        for (size_t k = 0; k < s->nparams; k++)
            params[k] = nb_pool_strdup(&g->pool, p->params[s->params[k]].name);
        ps->params = params;
        ps->nparams = s->nparams;
        ps->metrics = copy_strings(g, s->metrics, s->nmetrics);
        ps->nmetrics = s->nmetrics;
    }
    /* an arrow from every step another one loads values from or must follow; the IR
     * lists steps in an order that runs each after those, so earlier ones suffice */
    size_t cap = 0;
    value_list values = { 0 };
    for (size_t to = 0; to < p->nsteps; to++) {
        const nb_step *s = &p->steps[to];
        for (size_t from = 0; from < to; from++) {
            bool linked = has_index(s->upstream, s->nupstream, from);
            for (size_t k = 0; k < s->ninputs; k++) {
                if (s->inputs[k].from != from)
                    continue;
                linked = true;
                for (size_t b = 0; b < s->inputs[k].nbinds; b++)
                    add_value(&values, s->inputs[k].binds[b]);
            }
            if (linked)
                add_edge(g, &cap, from, to, &values);
        }
    }
    free(values.items);
}

void nb_plot_from_plan(nb_plot *g, const nb_plan *plan)
{
    memset(g, 0, sizeof *g);
    g->name = nb_pool_strdup(&g->pool, plan->name ? plan->name : "pipeline");
    g->nsteps = plan->nsteps;
    g->steps = nb_pool_alloc(&g->pool, (plan->nsteps + 1) * sizeof *g->steps);
    for (size_t i = 0; i < plan->nsteps; i++) {
        const nb_plan_step *s = &plan->steps[i];
        g->steps[i] = (nb_plot_step){
            .name = nb_pool_strdup(&g->pool, s->name),
            .cells = nb_pool_memdup(&g->pool, s->cells, s->ncells, sizeof *s->cells),
            .ncells = s->ncells,
            .params = copy_strings(g, s->params, s->nparams),
            .nparams = s->nparams,
            .metrics = copy_strings(g, s->metrics, s->nmetrics),
            .nmetrics = s->nmetrics,
        };
    }
    size_t cap = 0;
    value_list values = { 0 };
    for (size_t to = 0; to < plan->nsteps; to++) {
        const nb_plan_step *s = &plan->steps[to];
        for (size_t from = 0; from < to; from++) {
            bool linked = has_index(s->upstream, s->nupstream, from);
            for (size_t k = 0; k < s->ninputs; k++) {
                const nb_plan_input *in = &s->inputs[k];
                if (in->producer != from)
                    continue;
                linked = true;
                if (!in->takes)
                    add_value(&values, in->var);
                for (size_t t = 0; in->takes && t < in->ntakes; t++)
                    add_value(&values, in->takes[t]);
            }
            if (linked)
                add_edge(g, &cap, from, to, &values);
        }
    }
    free(values.items);
}

int nb_plot_add_records(nb_plot *g, const char *dir, nb_diags *diags)
{
    nb_buf path = NB_BUF_INIT;
    nb_buf_printf(&path, "%s/.nb2pipe/runs.sqlite", dir);
    struct stat st;
    bool exists = stat(path.data, &st) == 0;
    nb_buf_release(&path);
    if (!exists)
        return 0; /* never run: the plot shows no status */
    nb_runrec *rec = nb_runrec_open(dir, false, diags);
    if (!rec)
        return -1;
    g->records = true;
    nb_run_summary *runs;
    long nruns = nb_runrec_list(rec, &g->pool, &runs, diags);
    /* newest run first, until every step has its newest record (a run of some steps,
     * `--only`, leaves the others' older records the newest) */
    size_t missing = g->nsteps;
    for (long r = nruns - 1; r >= 0 && missing > 0; r--) {
        nb_step_record *steps;
        long n = nb_runrec_steps(rec, runs[r].id, &g->pool, &steps, diags);
        for (long k = 0; k < n; k++) {
            for (size_t i = 0; i < g->nsteps; i++) {
                nb_plot_step *ps = &g->steps[i];
                if (ps->status || strcmp(ps->name, steps[k].step) != 0)
                    continue;
                ps->status = steps[k].status;
                ps->run = runs[r].id;
                ps->started = steps[k].started;
                ps->duration = steps[k].duration;
                missing--;
            }
        }
        if (n < 0)
            break;
    }
    nb_runrec_close(rec);
    return nruns < 0 || diags->errors ? -1 : 0;
}

void nb_plot_release(nb_plot *g)
{
    nb_pool_release(&g->pool);
    memset(g, 0, sizeof *g);
}

/* ---- DOT --------------------------------------------------------------------------- */

/* Text for HTML, and for Graphviz's HTML-like labels, which take the same escapes. */
static void html_escape(const char *s, nb_buf *out)
{
    for (; *s; s++) {
        switch (*s) {
        case '&': nb_buf_puts(out, "&amp;"); break;
        case '<': nb_buf_puts(out, "&lt;"); break;
        case '>': nb_buf_puts(out, "&gt;"); break;
        case '"': nb_buf_puts(out, "&quot;"); break;
        default: nb_buf_putc(out, *s); break;
        }
    }
}


/* "cell 4", "cells 3-5, 8": runs of consecutive cells as ranges. */
static void cells_text(const nb_plot_step *s, nb_buf *out)
{
    nb_buf_puts(out, s->ncells == 1 ? "cell " : "cells ");
    for (size_t i = 0; i < s->ncells;) {
        size_t j = i;
        while (j + 1 < s->ncells && s->cells[j + 1] == s->cells[j] + 1)
            j++;
        nb_buf_printf(out, "%s%d", i ? ", " : "", s->cells[i]);
        if (j > i)
            nb_buf_printf(out, "-%d", s->cells[j]);
        i = j + 1;
    }
    nb_buf_putc(out, '\n');
}

static void names_text(const char *what, const char *const *names, size_t n, nb_buf *out)
{
    if (n == 0)
        return;
    nb_buf_printf(out, "%s:", what);
    for (size_t i = 0; i < n; i++)
        nb_buf_printf(out, "%s %s", i ? "," : "", names[i]);
    nb_buf_putc(out, '\n');
}

/* The lines of a step's newest record: "ok, run 3" and "2026-12-04 22:40:01, 0.12 s",
 * the start in local time as `nb2pipe runs` shows it. */
static void record_text(const nb_plot_step *s, nb_buf *out)
{
    if (!s->status) {
        nb_buf_puts(out, "never ran\n");
        return;
    }
    nb_buf_printf(out, "%s, run %lld\n", s->status, s->run);
    time_t t = (time_t)s->started;
    struct tm tm;
    char when[32];
    if (s->started > 0 && localtime_r(&t, &tm) && strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &tm))
        nb_buf_printf(out, "%s, %.2f s\n", when, s->duration); /* a skipped step never started */
}

/* A box's colour says its newest status; boxes are white when nothing ran. */
static const char *fill_color(const nb_plot_step *s)
{
    static const struct {
        const char *status, *color;
    } colors[] = {
        { "ok", "#c8e6c9" },        { "up-to-date", "#e8f5e9" }, { "failed", "#ffcdd2" },
        { "interrupted", "#ffe0b2" }, { "skipped", "#eeeeee" },
    };
    for (size_t i = 0; s->status && i < sizeof colors / sizeof colors[0]; i++)
        if (strcmp(s->status, colors[i].status) == 0)
            return colors[i].color;
    return "white";
}

/* LINES (each ending with a newline) as an HTML-like label: the first, the step's
 * name, in bold; the others smaller below it. */
static void html_label(const char *lines, nb_buf *out)
{
    nb_buf line = NB_BUF_INIT;
    nb_buf_puts(out, "<");
    for (size_t i = 0; *lines; i++) {
        const char *end = strchr(lines, '\n');
        nb_buf_reset(&line);
        nb_buf_add(&line, lines, (size_t)(end - lines));
        if (i == 0)
            nb_buf_puts(out, "<b>");
        else
            nb_buf_puts(out, i == 1 ? "<br/><font point-size=\"10\">" : "<br/>");
        html_escape(line.data, out);
        if (i == 0)
            nb_buf_puts(out, "</b>");
        lines = end + 1;
        if (!*lines && i > 0)
            nb_buf_puts(out, "</font>");
    }
    nb_buf_puts(out, ">");
    nb_buf_release(&line);
}

static void dot_step(const nb_plot *g, size_t i, nb_buf *label, nb_buf *out)
{
    const nb_plot_step *s = &g->steps[i];
    nb_buf_reset(label);
    nb_buf_printf(label, "%s\n", s->name);
    if (s->ncells)
        cells_text(s, label);
    names_text("params", s->params, s->nparams, label);
    names_text("metrics", s->metrics, s->nmetrics, label);
    if (g->records)
        record_text(s, label);
    nb_buf_puts(out, "  ");
    nb_write_dot_string(out, s->name, strlen(s->name));
    nb_buf_puts(out, " [label=");
    html_label(label->data, out);
    nb_buf_printf(out, ", fillcolor=\"%s\"];\n", fill_color(s));
}

static void dot_edge(const nb_plot *g, const nb_plot_edge *e, nb_buf *out)
{
    const char *from = g->steps[e->from].name, *to = g->steps[e->to].name;
    nb_buf_puts(out, "  ");
    nb_write_dot_string(out, from, strlen(from));
    nb_buf_puts(out, " -> ");
    nb_write_dot_string(out, to, strlen(to));
    if (e->values) {
        nb_buf_puts(out, " [label=");
        nb_write_dot_string(out, e->values, strlen(e->values));
        nb_buf_puts(out, "];\n");
    } else {
        nb_buf_puts(out, " [style=dashed];\n"); /* order only: no value crosses */
    }
}

/* "Generated by nb2pipe from SOURCE; do not edit. Regenerate: COMMAND", printable. */
static void header_text(const char *source, const char *command, nb_buf *out)
{
    nb_buf_puts(out, "Generated by nb2pipe from ");
    nb_buf_add_printable(out, source, strlen(source));
    nb_buf_puts(out, "; do not edit. Regenerate: ");
    nb_buf_add_printable(out, command, strlen(command));
}

void nb_plot_dot(const nb_plot *g, const char *source, const char *command, nb_buf *out)
{
    nb_buf header = NB_BUF_INIT;
    header_text(source, command, &header);
    nb_buf_printf(out, "// %s\ndigraph ", header.data);
    nb_write_dot_string(out, g->name, strlen(g->name));
    /* the header again as the graph's comment, which `dot` writes into the SVG */
    nb_buf_puts(out, " {\n  graph [comment=");
    nb_write_dot_string(out, header.data, header.len);
    nb_buf_puts(out, ", rankdir=TB, fontname=\"Helvetica\"];\n"
                     "  node [shape=box, style=\"rounded,filled\", fontname=\"Helvetica\", "
                     "fontsize=11];\n"
                     "  edge [fontname=\"Helvetica\", fontsize=10];\n");
    nb_buf label = NB_BUF_INIT;
    for (size_t i = 0; i < g->nsteps; i++)
        dot_step(g, i, &label, out);
    for (size_t i = 0; i < g->nedges; i++)
        dot_edge(g, &g->edges[i], out);
    nb_buf_puts(out, "}\n");
    nb_buf_release(&label);
    nb_buf_release(&header);
}

/* ---- rendering through Graphviz ----------------------------------------------------------- */

/* Feeds INPUT to the child's stdin (TO) while reading its stdout (FROM) into OUT, both
 * at once: dot may start writing before it has read everything. Returns 0 or errno. */
static int exchange(int to, int from, const nb_buf *input, nb_buf *out)
{
    size_t sent = 0;
    if (input->len == 0) {
        close(to);
        to = -1;
    }
    while (from >= 0) {
        struct pollfd fds[2] = { { .fd = from, .events = POLLIN }, { .fd = to, .events = POLLOUT } };
        if (poll(fds, to >= 0 ? 2 : 1, -1) < 0) {
            if (errno == EINTR)
                continue;
            return errno;
        }
        if (to >= 0 && fds[1].revents) {
            /* POLLOUT promises room for PIPE_BUF bytes: a larger write could block
             * while dot blocks on a full output pipe that we would not be reading */
            size_t chunk = input->len - sent < PIPE_BUF ? input->len - sent : PIPE_BUF;
            ssize_t n = write(to, input->data + sent, chunk);
            if (n < 0 && errno != EINTR && errno != EAGAIN) {
                close(to); /* dot stopped reading: its exit status says why */
                to = -1;
            } else if (n > 0 && (sent += (size_t)n) == input->len) {
                close(to);
                to = -1;
            }
        }
        if (fds[0].revents) {
            char chunk[65536];
            ssize_t n = read(from, chunk, sizeof chunk);
            if (n < 0 && errno != EINTR && errno != EAGAIN)
                return errno;
            if (n == 0) {
                close(from);
                from = -1;
            } else if (n > 0) {
                nb_buf_add(out, chunk, (size_t)n);
            }
        }
    }
    if (to >= 0)
        close(to);
    return 0;
}

/* Runs `DOT -TTYPE` on INPUT; its output into OUT. Its stderr is ours. */
static int run_dot(const char *dot, const char *type, const nb_buf *input, nb_buf *out,
                   nb_diags *diags)
{
    int in[2], outp[2];
    if (pipe(in) != 0)
        goto io_error;
    if (pipe(outp) != 0) {
        close(in[0]);
        close(in[1]);
        goto io_error;
    }
    char flag[16];
    snprintf(flag, sizeof flag, "-T%s", type);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(in[0], STDIN_FILENO);
        dup2(outp[1], STDOUT_FILENO);
        close(in[0]);
        close(in[1]);
        close(outp[0]);
        close(outp[1]);
        execl(dot, "dot", flag, (char *)NULL);
        _exit(127);
    }
    close(in[0]);
    close(outp[1]);
    if (pid < 0) {
        close(in[1]);
        close(outp[0]);
        goto io_error;
    }
    /* a dot that exits early must not kill us with SIGPIPE */
    struct sigaction ignore = { .sa_handler = SIG_IGN }, old;
    sigaction(SIGPIPE, &ignore, &old);
    int err = exchange(in[1], outp[0], input, out);
    sigaction(SIGPIPE, &old, NULL);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (err) {
        errno = err;
        goto io_error;
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        nb_diag_add(diags, NB_ERROR, "graphviz", (nb_loc){ .file = dot },
                    "Graphviz's dot failed (%s %d) drawing the plot",
                    WIFEXITED(status) ? "exit status" : "signal",
                    WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
        return -1;
    }
    return 0;
io_error:
    nb_diag_add(diags, NB_ERROR, "graphviz", (nb_loc){ .file = dot }, "cannot run dot: %s",
                strerror(errno));
    return -1;
}

/* One self-contained page: the SVG inline (without its XML prolog and DOCTYPE, which
 * name a DTD on the web), a little CSS, no scripts, nothing fetched. */
static void html_page(const nb_plot *g, const char *header, const nb_buf *svg, nb_buf *out)
{
    const char *start = strstr(svg->data, "<svg");
    nb_buf_puts(out, "<!DOCTYPE html>\n<!-- ");
    html_escape(header, out); /* no '>' in it, so no "-->" ends the comment early */
    nb_buf_puts(out, " -->\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>");
    html_escape(g->name, out);
    nb_buf_puts(out, ": pipeline</title>\n<style>\n"
                     "body { font-family: Helvetica, Arial, sans-serif; margin: 1.5em; }\n"
                     "svg { max-width: 100%; height: auto; }\n"
                     "</style>\n</head>\n<body>\n<h1>");
    html_escape(g->name, out);
    nb_buf_printf(out, "</h1>\n<p>%zu step%s</p>\n", g->nsteps, g->nsteps == 1 ? "" : "s");
    if (start)
        nb_buf_puts(out, start);
    nb_buf_puts(out, "</body>\n</html>\n");
}

int nb_plot_render(const nb_plot *g, nb_plot_format format, const char *source,
                   const char *command, nb_buf *out, nb_diags *diags)
{
    nb_buf dot_text = NB_BUF_INIT;
    nb_plot_dot(g, source, command, &dot_text);
    if (format == NB_PLOT_DOT) {
        nb_buf_add(out, dot_text.data, dot_text.len);
        nb_buf_release(&dot_text);
        return 0;
    }
    int rc = -1;
    char *dot = nb_path_search("dot");
    if (!dot) {
        nb_diag_add(diags, NB_ERROR, "no-graphviz", (nb_loc){ 0 },
                    "plot --format %s needs Graphviz's 'dot', which is not on PATH: install the "
                    "Debian package graphviz (sudo apt-get install graphviz), or use --format dot",
                    format_names[format]);
        goto done;
    }
    if (format != NB_PLOT_HTML) {
        rc = run_dot(dot, format_names[format], &dot_text, out, diags);
        goto done;
    }
    nb_buf svg = NB_BUF_INIT, header = NB_BUF_INIT;
    rc = run_dot(dot, "svg", &dot_text, &svg, diags);
    if (rc == 0) {
        header_text(source, command, &header);
        html_page(g, header.data, &svg, out);
    }
    nb_buf_release(&svg);
    nb_buf_release(&header);
done:
    free(dot);
    nb_buf_release(&dot_text);
    return rc;
}
