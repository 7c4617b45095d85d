/* The dataflow split: cut points between code cells from the analysis (see
 * split_dataflow.h for the rule and why it is local). */
#include "nb2pipe/split_dataflow.h"

#include "nb2pipe/alloc.h"
#include "nb2pipe/segment.h"

#include <stdlib.h>
#include <string.h>

enum {
    UNIT = 4,           /* one live name costs this much in a score */
    BONUS_ARTIFACT = 3, /* a cut right after a named artifact */
    BONUS_HEADING = 2,  /* a markdown heading between the cells */
    BONUS_MARKDOWN = 1, /* any other markdown cell between them */
};

const char *nb_artifact_kind_name(nb_artifact_kind kind)
{
    switch (kind) {
    case NB_ARTIFACT_NONE: return "none";
    case NB_ARTIFACT_LOADED: return "loaded";
    case NB_ARTIFACT_MODEL: return "model";
    case NB_ARTIFACT_METRICS: return "metrics";
    }
    return "?";
}

/* ---- Artifacts ------------------------------------------------------------------- */

/* The last dotted component of PATH ("read_csv" of "pd.read_csv"). */
static const char *last_component(const char *path)
{
    const char *dot = strrchr(path, '.');
    return dot ? dot + 1 : path;
}

static bool starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* A call that reads a data set: pandas' and numpy's readers, scikit-learn's loaders. */
static bool is_loader(const char *call)
{
    const char *last = last_component(call);
    return starts_with(last, "read_") || starts_with(last, "load_") ||
           starts_with(last, "fetch_") || strcmp(last, "load") == 0 ||
           strcmp(last, "loadtxt") == 0 || strcmp(last, "genfromtxt") == 0 ||
           strcmp(last, "open_dataset") == 0;
}

/* A call that measures a model: scikit-learn's metrics and a model's own evaluation. */
static bool is_metric(const char *call)
{
    const char *last = last_component(call);
    return ends_with(last, "_score") || ends_with(last, "_error") ||
           strcmp(last, "classification_report") == 0 || strcmp(last, "confusion_matrix") == 0 ||
           strcmp(last, "evaluate") == 0 || strcmp(last, "cross_val_score") == 0;
}

/* The data name the cell binds in top-level statement STMT, or NB_NO_NAME. */
static nb_name def_at(const nb_facts *f, uint32_t stmt)
{
    for (size_t i = 0; i < f->ndefs; i++)
        if (f->defs[i].kind == NB_BIND_DATA && f->defs[i].stmt == stmt)
            return f->defs[i].name;
    return NB_NO_NAME;
}

nb_artifact_kind nb_cell_artifact(const nb_analysis *an, size_t index, nb_name *name)
{
    const nb_facts *f = &an->cells[index].facts;
    nb_name fit = nb_names_find(an->names, "fit", 3);
    nb_artifact_kind kind = NB_ARTIFACT_NONE;
    *name = NB_NO_NAME;
    /* the last artifact of the cell names it: a cell that loads and then fits is about
     * the model */
    for (size_t i = 0; i < f->ndefs; i++) {
        const nb_def *d = &f->defs[i];
        if (d->kind == NB_BIND_DATA && d->made_by && is_loader(d->made_by)) {
            kind = NB_ARTIFACT_LOADED;
            *name = d->name;
        }
    }
    for (size_t i = 0; i < f->effects.ncalls; i++) {
        const nb_call *c = &f->effects.calls[i];
        if (fit != NB_NO_NAME && c->method == fit) {
            kind = NB_ARTIFACT_MODEL;
            /* `model.fit(X, y)`: the model is the receiver, named in the call's path;
             * `model = make_pipeline(...).fit(X, y)`: the name it is bound to */
            const char *dot = c->path ? strchr(c->path, '.') : NULL;
            nb_name bound = dot && strcmp(dot, ".fit") == 0
                                ? nb_names_find(an->names, c->path, (size_t)(dot - c->path))
                                : def_at(f, c->stmt);
            *name = bound;
        } else if (c->path && is_metric(c->path)) {
            kind = NB_ARTIFACT_METRICS;
            *name = def_at(f, c->stmt);
        }
    }
    return kind;
}

/* ---- Live names ------------------------------------------------------------------ */

/* A name live across boundaries FIRST..LAST (inclusive), from one provider to one use. */
typedef struct live {
    nb_name name;
    size_t first, last;
    bool unsaveable; /* the provider binds it to a value no serializer saves */
} live;

typedef struct lives {
    live *items;
    size_t n, cap;
} lives;

static int compare_live(const void *a, const void *b)
{
    const live *x = a, *y = b;
    if (x->name != y->name)
        return x->name < y->name ? -1 : 1;
    if (x->first != y->first)
        return x->first < y->first ? -1 : 1;
    return x->last < y->last ? -1 : x->last > y->last;
}

static bool binds_unpicklable(const nb_code_cell *cell, nb_name name)
{
    for (size_t i = 0; i < cell->nunpicklable; i++)
        if (cell->unpicklable[i].name == name)
            return true;
    return false;
}

static bool binds(const nb_code_cell *cell, nb_name name)
{
    for (size_t i = 0; i < cell->facts.ndefs; i++)
        if (cell->facts.defs[i].name == name)
            return true;
    return false;
}

/* Whether NAME, as cell PROVIDER leaves it, holds a value no serializer saves: the last
 * cell up to PROVIDER that binds it (a cell that only changes it, `next(gen)`, keeps
 * the value it had) binds it to one. Such values are rare, so the walk back is made
 * only for names some cell binds to one (EVER). */
static bool unsaveable_at(const nb_analysis *an, const bool *ever, size_t provider, nb_name name)
{
    if (!ever[name])
        return false;
    for (size_t i = provider + 1; i-- > 0;)
        if (binds(&an->cells[i], name))
            return binds_unpicklable(&an->cells[i], name);
    return false;
}

/* Whether NAME, crossing from cell PROVIDER, takes a value no serializer saves along:
 * its own, or one of a name it shares objects with there (an alias group crosses as one
 * file: `batch = next(stream)` makes `stream` cross with `batch`). */
static bool crosses_unsaveable(const nb_analysis *an, const bool *ever, size_t provider,
                               nb_name name)
{
    if (unsaveable_at(an, ever, provider, name))
        return true;
    const nb_code_cell *cell = &an->cells[provider];
    for (size_t i = 0; i < cell->ngroups; i++) {
        if (cell->groups[i].name != name)
            continue;
        for (size_t j = 0; j < cell->ngroups; j++)
            if (j != i && cell->groups[j].group == cell->groups[i].group &&
                unsaveable_at(an, ever, provider, cell->groups[j].name))
                return true;
    }
    return false;
}

/* Positions: POS_OF[i] is the position in the list of cell i, or -1 when it is not in
 * it; BEFORE[i] how many list cells come before cell i. */
typedef struct positions {
    long *pos_of;
    size_t *before;
    size_t nboundaries;
    bool *ever_unpicklable; /* by name: some cell binds it to a value nothing saves */
} positions;

/* Records that NAME, provided by cell PROVIDER (a cell number), is read by cell USER. */
static void add_live(const nb_analysis *an, const positions *p, lives *l, nb_name name,
                     const nb_provider *provider, size_t user)
{
    if (provider->status != NB_PROVIDED || provider->kind != NB_BIND_DATA ||
        name == an->random_state)
        return;
    const nb_code_cell *from = nb_analysis_cell(an, provider->cell);
    if (!from)
        return;
    size_t index = (size_t)(from - an->cells);
    /* a provider outside the list (set-up and parameters cells) runs in every step: its
     * values never cross */
    if (p->pos_of[index] < 0)
        return;
    /* boundary K lies after list position K: the name crosses from the provider's
     * position to the last boundary before the user (the last list cell has none) */
    size_t first = (size_t)p->pos_of[index];
    size_t users_before = p->before[user];
    if (users_before == 0 || users_before - 1 < first || first >= p->nboundaries)
        return;
    size_t last = users_before - 1 < p->nboundaries ? users_before - 1 : p->nboundaries - 1;
    l->items = nb_xgrow(l->items, &l->cap, l->n + 1, sizeof *l->items);
    l->items[l->n++] = (live){ name, first, last, crosses_unsaveable(an, p->ever_unpicklable, index, name) };
}

/* Counts, per boundary, the distinct names live across it, and marks the boundaries an
 * unsaveable value crosses. */
static void count_live(const nb_analysis *an, positions *p, nb_boundary *b, size_t nb)
{
    lives l = { 0 };
    p->ever_unpicklable = nb_xcalloc(nb_names_count(an->names) + 1, sizeof *p->ever_unpicklable);
    for (size_t i = 0; i < an->ncells; i++)
        for (size_t u = 0; u < an->cells[i].nunpicklable; u++)
            p->ever_unpicklable[an->cells[i].unpicklable[u].name] = true;
    for (size_t i = 0; i < an->ncells; i++) {
        const nb_code_cell *cell = &an->cells[i];
        if (cell->excluded)
            continue;
        for (size_t u = 0; u < cell->facts.nuses; u++)
            if (!cell->facts.uses[u].deferred)
                add_live(an, p, &l, cell->facts.uses[u].name, &cell->providers[u], i);
        for (size_t u = 0; u < cell->nimplied; u++)
            add_live(an, p, &l, cell->implied[u].name, &cell->implied[u].provider, i);
    }
    if (l.n) /* qsort wants an array, even of none */
        qsort(l.items, l.n, sizeof *l.items, compare_live);
    /* per name, merge overlapping ranges so that a name counts once per boundary; a
     * difference array then gives the counts */
    long *delta = nb_xcalloc(nb + 1, sizeof *delta);
    long *blocked = nb_xcalloc(nb + 1, sizeof *blocked);
    for (size_t i = 0; i < l.n;) {
        size_t first = l.items[i].first, last = l.items[i].last;
        size_t j = i + 1;
        while (j < l.n && l.items[j].name == l.items[i].name && l.items[j].first <= last + 1) {
            if (l.items[j].last > last)
                last = l.items[j].last;
            j++;
        }
        delta[first]++;
        delta[last + 1]--;
        i = j;
    }
    for (size_t i = 0; i < l.n; i++)
        if (l.items[i].unsaveable) {
            blocked[l.items[i].first]++;
            blocked[l.items[i].last + 1]--;
        }
    long live_now = 0, blocked_now = 0;
    for (size_t k = 0; k < nb; k++) {
        live_now += delta[k];
        blocked_now += blocked[k];
        b[k].crossing = (size_t)live_now;
        b[k].unsaveable = blocked_now > 0;
    }
    free(delta);
    free(blocked);
    free(l.items);
    free(p->ever_unpicklable);
}

/* ---- Boundaries ------------------------------------------------------------------ */

/* Whether the markdown cell has a heading line (`# `...`###### `). */
static bool has_heading(const nb_cell *cell)
{
    size_t len;
    return nb_heading_title(cell, 0, &len) != NULL;
}

/* The markdown between code cells A and B (notebook cell numbers). */
static void markdown_between(const nb_notebook *nb, int a, int b, nb_boundary *out)
{
    for (int n = a + 1; n < b; n++) {
        const nb_cell *cell = &nb->cells[n - 1];
        if (cell->type != NB_CELL_MARKDOWN)
            continue;
        out->markdown = true;
        if (has_heading(cell))
            out->heading = true;
    }
}

/* A cell that only sets interpreter state (pd.set_option, np.random.seed, plt.style)
 * sets up what follows it as much as an import does. */
static bool sets_state_only(const nb_code_cell *cell)
{
    const nb_facts *f = &cell->facts;
    return f->parsed && f->nstmts > 0 && cell->nstate == f->nstmts;
}

static void score(nb_boundary *b)
{
    int s = (int)b->crossing * UNIT;
    if (b->artifact != NB_ARTIFACT_NONE)
        s -= BONUS_ARTIFACT;
    if (b->heading)
        s -= BONUS_HEADING;
    else if (b->markdown)
        s -= BONUS_MARKDOWN;
    b->score = s;
}

static bool allowed(const nb_boundary *b)
{
    return !b->setup && !b->unsaveable;
}

/* The rule: an allowed boundary K in [LO, HI] is a cut when no allowed boundary within
 * WINDOW before it scores lower or equal, and none within WINDOW after it scores lower.
 * Two cuts are therefore more than WINDOW apart. */
static bool is_cut(const nb_boundary *b, size_t nb, size_t k, size_t lo, size_t hi, size_t window)
{
    if (k < lo || k > hi || !allowed(&b[k]))
        return false;
    size_t from = k > window ? k - window : 0;
    size_t to = k + window < nb - 1 ? k + window : nb - 1;
    for (size_t j = from; j <= to; j++) {
        if (j == k || j < lo || j > hi || !allowed(&b[j]))
            continue;
        if (j < k ? b[j].score <= b[k].score : b[j].score < b[k].score)
            return false;
    }
    return true;
}

void nb_split_dataflow(const nb_analysis *an, const size_t *list, size_t nlist, const bool *setup,
                       size_t max_steps, nb_dataflow_cuts *out)
{
    memset(out, 0, sizeof *out);
    out->starts = nb_xcalloc(nlist + 1, sizeof *out->starts);
    out->nsteps = 1;
    if (nlist < 2)
        return;
    if (max_steps == 0)
        max_steps = NB_DATAFLOW_MAX_STEPS;
    size_t nb = nlist - 1;
    out->nboundaries = nb;
    out->boundaries = nb_xcalloc(nb, sizeof *out->boundaries);
    positions p = { .pos_of = nb_xcalloc(an->ncells + 1, sizeof *p.pos_of),
                    .before = nb_xcalloc(an->ncells + 1, sizeof *p.before),
                    .nboundaries = nb };
    for (size_t i = 0; i < an->ncells; i++)
        p.pos_of[i] = -1;
    for (size_t k = 0; k < nlist; k++)
        p.pos_of[list[k]] = (long)k;
    for (size_t i = 0, seen = 0; i < an->ncells; i++) {
        p.before[i] = seen;
        seen += p.pos_of[i] >= 0;
    }
    count_live(an, &p, out->boundaries, nb);
    for (size_t k = 0; k < nb; k++) {
        nb_boundary *b = &out->boundaries[k];
        const nb_code_cell *cell = &an->cells[list[k]];
        nb_name ignored;
        b->after = k;
        b->artifact = nb_cell_artifact(an, list[k], &ignored);
        b->setup = (setup && setup[list[k]]) || sets_state_only(cell);
        markdown_between(an->nb, cell->cell->number, an->cells[list[k + 1]].cell->number, b);
        score(b);
    }
    /* the smallest step: two cells, three in longer notebooks, more when MAX_STEPS
     * steps of that size would not hold every cell */
    size_t min_cells = nlist >= 12 ? 3 : 2;
    size_t even = (nlist + max_steps - 1) / max_steps;
    if (even > min_cells)
        min_cells = even;
    out->min_cells = min_cells;
    if (nlist < 2 * min_cells)
        goto done;
    size_t lo = min_cells - 1, hi = nlist - min_cells - 1;
    for (size_t k = lo; k <= hi; k++) {
        if (!is_cut(out->boundaries, nb, k, lo, hi, min_cells - 1))
            continue;
        out->boundaries[k].cut = true;
        out->starts[out->nsteps++] = k + 1;
    }
done:
    free(p.pos_of);
    free(p.before);
}

void nb_dataflow_cuts_release(nb_dataflow_cuts *cuts)
{
    free(cuts->boundaries);
    free(cuts->starts);
    memset(cuts, 0, sizeof *cuts);
}

/* ---- Step names ------------------------------------------------------------------ */

/* Counts in READERS[name] the cells after the step LIST[0..N) that read a name from one
 * of the step's cells (a cell between its first and last). */
static void count_later_readers(const nb_analysis *an, const size_t *list, size_t n,
                                size_t *readers)
{
    int first = an->cells[list[0]].cell->number, last = an->cells[list[n - 1]].cell->number;
    for (size_t i = list[n - 1] + 1; i < an->ncells; i++) {
        const nb_code_cell *cell = &an->cells[i];
        if (cell->excluded)
            continue;
        for (size_t u = 0; u < cell->facts.nuses; u++) {
            const nb_provider *pr = &cell->providers[u];
            if (pr->status == NB_PROVIDED && pr->cell >= first && pr->cell <= last)
                readers[cell->facts.uses[u].name]++;
        }
    }
}

void nb_dataflow_step_value_name(const nb_analysis *an, const size_t *list, size_t n, nb_buf *out)
{
    nb_buf_reset(out);
    if (n == 0)
        return;
    /* the last artifact the step makes */
    for (size_t k = n; k-- > 0;) {
        nb_name name;
        nb_artifact_kind kind = nb_cell_artifact(an, list[k], &name);
        if (kind == NB_ARTIFACT_NONE)
            continue;
        static const char *const verbs[] = { "", "load", "train", "evaluate" };
        nb_buf_puts(out, verbs[kind]);
        if (name != NB_NO_NAME) {
            nb_buf_putc(out, '_');
            nb_buf_add(out, nb_names_str(an->names, name), nb_names_len(an->names, name));
        }
        return;
    }
    /* else the data it binds that most later cells read; when several tie, up to three
     * of them in the order the step binds them (`X_y` for `X, y = ...`) */
    size_t *readers_of = nb_xcalloc(nb_names_count(an->names) + 1, sizeof *readers_of);
    count_later_readers(an, list, n, readers_of);
    size_t best = 0;
    for (size_t k = 0; k < n; k++) {
        const nb_facts *f = &an->cells[list[k]].facts;
        for (size_t d = 0; d < f->ndefs; d++)
            if (f->defs[d].kind == NB_BIND_DATA && readers_of[f->defs[d].name] > best)
                best = readers_of[f->defs[d].name];
    }
    size_t taken = 0;
    for (size_t k = 0; k < n && best > 0 && taken < 3; k++) {
        const nb_facts *f = &an->cells[list[k]].facts;
        for (size_t d = 0; d < f->ndefs && taken < 3; d++) {
            nb_name name = f->defs[d].name;
            if (f->defs[d].kind != NB_BIND_DATA || readers_of[name] != best)
                continue;
            readers_of[name] = 0; /* once */
            if (taken++)
                nb_buf_putc(out, '_');
            nb_buf_add(out, nb_names_str(an->names, name), nb_names_len(an->names, name));
        }
    }
    free(readers_of);
    /* nothing it binds is read later (the last step): the last data name it binds */
    for (size_t k = n; k-- > 0 && out->len == 0;) {
        const nb_facts *f = &an->cells[list[k]].facts;
        for (size_t d = f->ndefs; d-- > 0 && out->len == 0;)
            if (f->defs[d].kind == NB_BIND_DATA)
                nb_buf_add(out, nb_names_str(an->names, f->defs[d].name),
                           nb_names_len(an->names, f->defs[d].name));
    }
}
