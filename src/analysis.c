#include "nb2pipe/analysis.h"

#include <stdlib.h>
#include <string.h>

/* Copies the translation of one cell into the analysis pool. */
static void keep_translation(nb_analysis *an, nb_code_cell *cc, const nb_magic_result *res)
{
    cc->python = nb_pool_strndup(&an->pool, res->python.data, res->python.len);
    cc->python_len = res->python.len;
    cc->magics = nb_pool_memdup(&an->pool, res->magics, res->nmagics, sizeof *res->magics);
    cc->nmagics = res->nmagics;
    const char **packages = nb_pool_alloc(&an->pool, (res->npackages + 1) * sizeof *packages);
    for (size_t i = 0; i < res->npackages; i++)
        packages[i] = nb_pool_strdup(&an->pool, res->packages[i]);
    cc->packages = packages;
    cc->npackages = res->npackages;
}

/* Magic lines were rewritten, so a column pyscan reports on one counts characters of
 * the translation; point at the magic in the cell instead. */
static void map_magic_column(const nb_code_cell *cc, int line, int *col)
{
    for (size_t i = 0; i < cc->nmagics; i++)
        if (cc->magics[i].line == line)
            *col = cc->magics[i].col;
}

static void map_fact_columns(nb_code_cell *cc)
{
    nb_facts *f = &cc->facts;
    if (cc->nmagics == 0)
        return;
    for (size_t i = 0; i < f->ndefs; i++)
        map_magic_column(cc, f->defs[i].line, &f->defs[i].col);
    for (size_t i = 0; i < f->nuses; i++)
        map_magic_column(cc, f->uses[i].line, &f->uses[i].col);
    for (size_t i = 0; i < f->nmutations; i++)
        map_magic_column(cc, f->mutations[i].line, &f->mutations[i].col);
    for (size_t i = 0; i < f->ndeletes; i++)
        map_magic_column(cc, f->deletes[i].line, &f->deletes[i].col);
}

static void report_magics(const nb_analysis *an, const nb_code_cell *cc, nb_diags *diags)
{
    for (size_t i = 0; i < cc->nmagics; i++) {
        const nb_magic *m = &cc->magics[i];
        if (m->action != NB_MAGIC_UNSUPPORTED)
            continue;
        nb_loc loc = { an->nb->path, cc->cell->number, m->line, m->col };
        nb_diag *d = nb_diag_add(diags, NB_WARNING, "unsupported-magic", loc,
                                 "'%s' has no faithful translation and is commented out: %s",
                                 m->name, m->why);
        nb_diag_set_source(d, cc->cell->source, cc->cell->source_len);
    }
}

/* Cell-level dataflow: walk the included cells in order keeping, per name, the latest
 * cell that bound or changed it. Linear in the number of facts (plus the reads of the
 * functions each cell uses). */
typedef struct resolver {
    nb_analysis *an;
    nb_diags *diags; /* NULL when a cell did not parse: its definitions are unknown, so
                        names it would define would all be reported, misleadingly */
    int *first_def;   /* by name id: first included cell number that binds it, 0 if none */
    int *latest;      /* by name id: latest binding/changing cell so far, -N if deleted in N */
    uint8_t *kind;    /* by name id: nb_binding_kind of that latest binding */
    const nb_definition **definition; /* by name id: the def/class it is bound to, or NULL */
    uint8_t *allowed; /* by name id: --allow-undefined */
    int *seen;        /* by name id: cell number whose implied reads already hold it */
    int star_cell;    /* latest cell with `import *` so far */
    nb_implied *implied; /* the current cell's implied uses, copied into the pool */
    size_t nimplied, implied_cap;
} resolver;

static nb_diag *report(resolver *r, const char *code, nb_loc loc, const char *fmt, const char *name,
                       int number)
{
    if (!r->diags)
        return NULL;
    return nb_diag_add(r->diags, NB_ERROR, code, loc, fmt, name, number);
}

static void note_def_location(resolver *r, nb_name name, int cell_number)
{
    if (!r->diags)
        return;
    const nb_code_cell *def_cell = nb_analysis_cell(r->an, cell_number);
    const nb_def *def = def_cell ? nb_code_cell_def(def_cell, name) : NULL;
    nb_loc loc = { r->an->nb->path, cell_number, def ? def->line : 0, def ? def->col : 0 };
    nb_diag *d = nb_diag_add(r->diags, NB_NOTE, "use-before-def", loc, "'%s' is defined here",
                             nb_names_str(r->an->names, name));
    if (def_cell)
        nb_diag_set_source(d, def_cell->cell->source, def_cell->cell->source_len);
}

static void resolve_use(resolver *r, const nb_code_cell *cc, const nb_use *use, nb_provider *p)
{
    const char *name = nb_names_str(r->an->names, use->name);
    nb_loc loc = { r->an->nb->path, cc->cell->number, use->line, use->col };
    int latest = r->latest[use->name];
    int first = r->first_def[use->name];
    if (latest > 0) {
        *p = (nb_provider){ NB_PROVIDED, latest, (nb_binding_kind)r->kind[use->name] };
    } else if (latest < 0) {
        *p = (nb_provider){ NB_DELETED, -latest, NB_BIND_DATA };
        nb_diag *d = report(r, "use-after-del", loc, "'%s' is used after cell %d deletes it", name,
                            -latest);
        if (d)
            nb_diag_set_source(d, cc->cell->source, cc->cell->source_len);
    } else if (first > 0) {
        *p = (nb_provider){ NB_DEFINED_LATER, first, NB_BIND_DATA };
        nb_diag *d = use->deferred ? NULL
                                   : report(r, "use-before-def", loc,
                                            "'%s' is used before cell %d defines it (the notebook "
                                            "only ran because its cells were executed out of "
                                            "order)", name, first);
        if (d) {
            nb_diag_set_source(d, cc->cell->source, cc->cell->source_len);
            note_def_location(r, use->name, first);
        }
    } else if (r->allowed[use->name]) {
        *p = (nb_provider){ NB_ALLOWED, 0, NB_BIND_DATA };
    } else if (r->star_cell > 0) {
        *p = (nb_provider){ NB_FROM_STAR_IMPORT, r->star_cell, NB_BIND_IMPORT };
    } else {
        *p = (nb_provider){ NB_UNDEFINED, 0, NB_BIND_DATA };
        if (r->diags) {
            nb_diag *d = nb_diag_add(r->diags, NB_ERROR, "undefined-name", loc,
                                     use->deferred
                                         ? "'%s' is read in a function body but no cell defines "
                                           "it (if the runtime provides it, pass --allow-undefined %s)"
                                         : "'%s' is not defined in any cell (if the runtime "
                                           "provides it, pass --allow-undefined %s)",
                                     name, name);
            nb_diag_set_source(d, cc->cell->source, cc->cell->source_len);
        }
    }
}

/* The globals that function or class VIA reads, and those its reads read in turn, as
 * they are bound when cell CC runs. Names the cell binds itself are its own business. */
static void add_implied_reads(resolver *r, const nb_code_cell *cc, nb_name via,
                              const nb_definition *def, const uint8_t *bound_here)
{
    for (size_t i = 0; i < def->nreads; i++) {
        nb_name n = def->reads[i];
        if (bound_here[n] || r->seen[n] == cc->cell->number || r->latest[n] <= 0)
            continue;
        r->seen[n] = cc->cell->number;
        r->implied = nb_xgrow(r->implied, &r->implied_cap, r->nimplied + 1, sizeof *r->implied);
        r->implied[r->nimplied++] = (nb_implied){
            n, via, { NB_PROVIDED, r->latest[n], (nb_binding_kind)r->kind[n] }
        };
        if (r->definition[n])
            add_implied_reads(r, cc, via, r->definition[n], bound_here);
    }
}

static void resolve_cell(resolver *r, nb_code_cell *cc, uint8_t *bound_here)
{
    nb_analysis *an = r->an;
    nb_facts *f = &cc->facts;
    int number = cc->cell->number;
    cc->providers = nb_pool_alloc(&an->pool, (f->nuses + 1) * sizeof *cc->providers);
    for (size_t i = 0; i < f->ndefs; i++)
        bound_here[f->defs[i].name] = 1;
    r->nimplied = 0;
    for (size_t i = 0; i < f->nuses; i++) {
        resolve_use(r, cc, &f->uses[i], &cc->providers[i]);
        r->seen[f->uses[i].name] = number;
    }
    for (size_t i = 0; i < f->nuses; i++) {
        const nb_definition *def = r->definition[f->uses[i].name];
        if (cc->providers[i].status == NB_PROVIDED && def)
            add_implied_reads(r, cc, f->uses[i].name, def, bound_here);
    }
    cc->implied = nb_pool_memdup(&an->pool, r->implied, r->nimplied, sizeof *r->implied);
    cc->nimplied = r->nimplied;
    for (size_t i = 0; i < f->ndefs; i++)
        bound_here[f->defs[i].name] = 0;

    /* plt.figure() changes a module's state, not data any step loads: drop
     * mutations of names whose latest binding is code */
    size_t kept = 0;
    for (size_t i = 0; i < f->nmutations; i++) {
        nb_name n = f->mutations[i].name;
        if (r->latest[n] > 0 && r->kind[n] != NB_BIND_DATA)
            continue;
        f->mutations[kept++] = f->mutations[i];
        r->latest[n] = number;
        r->kind[n] = NB_BIND_DATA;
        r->definition[n] = NULL;
    }
    f->nmutations = kept;
    for (size_t i = 0; i < f->ndefs; i++) {
        r->latest[f->defs[i].name] = number;
        r->kind[f->defs[i].name] = (uint8_t)f->defs[i].kind;
        r->definition[f->defs[i].name] = NULL;
    }
    for (size_t i = 0; i < f->ndefinitions; i++) {
        const nb_definition *d = &f->definitions[i];
        if (r->kind[d->name] == d->kind)
            r->definition[d->name] = d;
    }
    for (size_t i = 0; i < f->ndeletes; i++) {
        r->latest[f->deletes[i].name] = -number;
        r->definition[f->deletes[i].name] = NULL;
    }
    if (f->star_import)
        r->star_cell = number;
}

void nb_analysis_resolve(nb_analysis *an, const nb_analysis_opts *opts, nb_diags *diags)
{
    size_t nnames = nb_names_count(an->names) + 1;
    resolver r = { .an = an, .diags = an->failed_cells ? NULL : diags };
    r.first_def = nb_xcalloc(nnames, sizeof *r.first_def);
    r.latest = nb_xcalloc(nnames, sizeof *r.latest);
    r.kind = nb_xcalloc(nnames, 1);
    r.definition = nb_xcalloc(nnames, sizeof *r.definition);
    r.allowed = nb_xcalloc(nnames, 1);
    r.seen = nb_xcalloc(nnames, sizeof *r.seen);
    uint8_t *bound_here = nb_xcalloc(nnames, 1);
    for (size_t i = 0; opts && i < opts->nallow_undefined; i++) {
        const char *s = opts->allow_undefined[i];
        nb_name id = nb_names_find(an->names, s, strlen(s));
        if (id != NB_NO_NAME)
            r.allowed[id] = 1;
    }
    for (size_t c = 0; c < an->ncells; c++) {
        an->cells[c].excluded = opts && opts->exclude && opts->exclude[c];
        const nb_facts *f = &an->cells[c].facts;
        for (size_t i = 0; i < f->ndefs && !an->cells[c].excluded; i++)
            if (!r.first_def[f->defs[i].name])
                r.first_def[f->defs[i].name] = an->cells[c].cell->number;
    }
    for (size_t c = 0; c < an->ncells; c++) {
        if (an->cells[c].excluded)
            an->cells[c].providers = nb_pool_alloc(&an->pool, (an->cells[c].facts.nuses + 1) *
                                                                  sizeof(nb_provider));
        else
            resolve_cell(&r, &an->cells[c], bound_here);
    }
    free(r.first_def);
    free(r.latest);
    free(r.kind);
    free(r.definition);
    free(r.allowed);
    free(r.seen);
    free(r.implied);
    free(bound_here);
}

nb_analysis *nb_analysis_scan(const nb_notebook *nb, nb_diags *diags)
{
    nb_analysis *an = nb_xcalloc(1, sizeof *an);
    an->nb = nb;
    an->names = nb_names_new();
    an->scan = nb_pyscan_new(an->names);
    an->cells = nb_pool_alloc(&an->pool, (nb_notebook_count(nb, NB_CELL_CODE) + 1) *
                                             sizeof *an->cells);
    nb_magics *magics = nb_magics_new();
    nb_magic_result res;
    nb_magic_result_init(&res);
    for (size_t i = 0; i < nb->ncells; i++) {
        const nb_cell *cell = &nb->cells[i];
        if (cell->type != NB_CELL_CODE)
            continue;
        nb_code_cell *cc = &an->cells[an->ncells++];
        cc->cell = cell;
        nb_magics_translate(magics, cell->source, cell->source_len, &res);
        keep_translation(an, cc, &res);
        report_magics(an, cc, diags);
        nb_loc loc = { nb->path, cell->number, 0, 0 };
        size_t before = diags->len;
        if (nb_pyscan_cell(an->scan, cc->python, cc->python_len, &an->pool, &cc->facts, diags,
                           loc) != 0)
            an->failed_cells++;
        for (size_t d = before; d < diags->len; d++) {
            map_magic_column(cc, diags->items[d].loc.line, &diags->items[d].loc.col);
            nb_diag_set_source(&diags->items[d], cell->source, cell->source_len);
        }
        map_fact_columns(cc);
    }
    nb_magic_result_release(&res);
    nb_magics_free(magics);
    return an;
}

nb_analysis *nb_analysis_run(const nb_notebook *nb, const nb_analysis_opts *opts, nb_diags *diags)
{
    nb_analysis *an = nb_analysis_scan(nb, diags);
    nb_analysis_resolve(an, opts, diags);
    return an;
}

void nb_analysis_free(nb_analysis *an)
{
    if (!an)
        return;
    nb_pyscan_free(an->scan);
    nb_names_free(an->names);
    nb_pool_release(&an->pool);
    free(an);
}

const nb_code_cell *nb_analysis_cell(const nb_analysis *an, int number)
{
    size_t lo = 0, hi = an->ncells;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int n = an->cells[mid].cell->number;
        if (n == number)
            return &an->cells[mid];
        if (n < number)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

const nb_def *nb_code_cell_def(const nb_code_cell *cell, nb_name name)
{
    for (size_t i = 0; i < cell->facts.ndefs; i++)
        if (cell->facts.defs[i].name == name)
            return &cell->facts.defs[i];
    return NULL;
}

const char *nb_provider_status_name(nb_provider_status status)
{
    switch (status) {
    case NB_PROVIDED: return "provided";
    case NB_DEFINED_LATER: return "defined-later";
    case NB_UNDEFINED: return "undefined";
    case NB_FROM_STAR_IMPORT: return "star-import";
    case NB_ALLOWED: return "allowed";
    case NB_DELETED: return "deleted";
    }
    return "?";
}
