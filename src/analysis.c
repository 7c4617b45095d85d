#include "nb2pipe/analysis.h"

#include "alias.h"
#include "effects.h"
#include "resolve.h"

#include "nb2pipe/pydist.h"
#include "nb2pipe/pyknown.h"

#include <stdio.h>
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
 * cell that bound or changed it (nb_bindings, shared with effects.c and alias.c).
 * Linear in the number of facts, plus the functions each cell calls. */
typedef struct resolver {
    nb_analysis *an;
    nb_diags *diags; /* NULL when a cell did not parse: its definitions are unknown, so
                        names it would define would all be reported, misleadingly */
    nb_diags quiet;  /* where the warnings go then */
    nb_bindings b;
    int *first_def;   /* by name id: first included cell number that binds it, 0 if none */
    uint8_t *allowed; /* by name id: --allow-undefined */
    uint8_t *rebound; /* by name id: some function assigns it through `global` */
    uint8_t *from_star; /* by name id: its latest binding is a standard library `import *` */
    int *seen;        /* by name id: cell number whose implied reads already hold it */
    int star_cell;    /* latest cell with `import *` of a module nb2pipe cannot list */
    int dynamic_cell; /* latest cell with code nb2pipe cannot see (exec, globals()) */
    bool dynamic_here; /* the cell being resolved has such code */
    nb_implied *implied; /* the current cell's implied uses, copied into the pool */
    size_t nimplied, implied_cap;
    size_t classes_cap;
    nb_alias *alias;
    nb_name *touched; /* scratch for the alias analysis */
    size_t ntouched, touched_cap;
} resolver;

/* ---- The bindings view (resolve.h) --------------------------------------------------- */

const nb_definition *nb_bound_definition(const nb_bindings *b, nb_name name)
{
    const nb_facts *f = &b->cell->facts;
    for (size_t i = 0; i < f->ndefinitions; i++)
        if (f->definitions[i].name == name)
            return &f->definitions[i];
    if (name == NB_NO_NAME || b->latest[name] <= 0)
        return NULL;
    return b->definition[name];
}

/* The import of cell B->cell that binds NAME, or the one that bound it before. */
static const nb_import *bound_import(const nb_bindings *b, nb_name name)
{
    const nb_facts *f = &b->cell->facts;
    for (size_t i = f->nimports; i-- > 0;)
        if (f->imports[i].bound == name)
            return &f->imports[i];
    if (b->latest[name] <= 0 || b->kind[name] != NB_BIND_IMPORT)
        return NULL;
    return b->import[name];
}

bool nb_canonical_path(const nb_bindings *b, const char *path, nb_buf *out)
{
    const char *dot = strchr(path, '.');
    size_t root_len = dot ? (size_t)(dot - path) : strlen(path);
    nb_name root = nb_names_find(b->an->names, path, root_len);
    nb_buf_reset(out);
    if (root == NB_NO_NAME)
        return false;
    const nb_import *imp = bound_import(b, root);
    if (!imp) {
        /* a builtin (open, exec) that nothing rebinds stands for itself */
        if (b->latest[root] > 0 || !nb_pyscan_is_builtin(b->an->scan, root) ||
            nb_code_cell_def(b->cell, root))
            return false;
        nb_buf_puts(out, path);
        return true;
    }
    size_t mlen = strlen(imp->module);
    bool unaliased = !imp->name && strncmp(imp->module, path, root_len) == 0 &&
                     (mlen == root_len || imp->module[root_len] == '.');
    if (unaliased) { /* import os.path binds os: the path is already canonical */
        nb_buf_puts(out, path);
        return true;
    }
    nb_buf_puts(out, imp->module);
    if (imp->name && strcmp(imp->name, "*") != 0)
        nb_buf_printf(out, ".%s", imp->name);
    if (dot)
        nb_buf_puts(out, dot);
    return true;
}

bool nb_holds_data(const nb_bindings *b, nb_name name)
{
    return name != NB_NO_NAME && b->latest[name] > 0 && b->kind[name] == NB_BIND_DATA &&
           !b->immutable[name];
}

/* ---- Uses -------------------------------------------------------------------------- */

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

static void warn_use(resolver *r, const nb_code_cell *cc, const nb_use *use, const char *code,
                     const char *fmt, const char *name, const char *other)
{
    nb_diags *diags = r->diags ? r->diags : &r->quiet;
    nb_loc loc = { r->an->nb->path, cc->cell->number, use->line, use->col };
    nb_diag *d = nb_diag_add(diags, NB_WARNING, code, loc, fmt, name, other);
    nb_diag_set_source(d, cc->cell->source, cc->cell->source_len);
}

/* Whether a `from m import *` of CC, for a module nb2pipe can list, binds NAME. */
static bool exported_here(const nb_code_cell *cc, const char *name)
{
    for (size_t i = 0; i < cc->facts.nimports; i++) {
        const nb_import *imp = &cc->facts.imports[i];
        size_t n;
        const nb_star_export *names = imp->name && strcmp(imp->name, "*") == 0
                                          ? nb_pydist_star_names(imp->module, &n)
                                          : NULL;
        for (size_t k = 0; names && k < n; k++)
            if (strcmp(nb_star_export_name(&names[k]), name) == 0)
                return true;
    }
    return false;
}

/* The `from m import *` of CC whose module nb2pipe cannot list, or NULL. */
static const nb_import *unlisted_star(const resolver *r, const nb_code_cell *cc)
{
    for (size_t i = 0; i < cc->facts.nimports; i++) {
        const nb_import *imp = &cc->facts.imports[i];
        size_t n;
        if (imp->name && strcmp(imp->name, "*") == 0 && !nb_pydist_star_names(imp->module, &n))
            return imp;
    }
    (void)r;
    return NULL;
}

static void resolve_use(resolver *r, const nb_code_cell *cc, const nb_use *use, nb_provider *p)
{
    const char *name = nb_names_str(r->an->names, use->name);
    nb_loc loc = { r->an->nb->path, cc->cell->number, use->line, use->col };
    int latest = r->b.latest[use->name];
    int first = r->first_def[use->name];
    const nb_import *star_here = unlisted_star(r, cc);
    if (latest > 0 && r->from_star[use->name]) {
        *p = (nb_provider){ NB_FROM_STAR_IMPORT, latest, NB_BIND_IMPORT };
    } else if (latest > 0) {
        *p = (nb_provider){ NB_PROVIDED, latest, (nb_binding_kind)r->b.kind[use->name] };
    } else if (latest < 0) {
        *p = (nb_provider){ NB_DELETED, -latest, NB_BIND_DATA };
        nb_diag *d = report(r, "use-after-del", loc, "'%s' is used after cell %d deletes it", name,
                            -latest);
        if (d)
            nb_diag_set_source(d, cc->cell->source, cc->cell->source_len);
    } else if (first > 0 && first != cc->cell->number) {
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
    } else if (exported_here(cc, name)) {
        *p = (nb_provider){ NB_FROM_STAR_IMPORT, cc->cell->number, NB_BIND_IMPORT };
    } else if (r->dynamic_here || r->dynamic_cell > 0) {
        /* exec("w = 5"), globals()["w"] = ...: the cell that may have bound it provides it */
        int cell = r->dynamic_here ? cc->cell->number : r->dynamic_cell;
        *p = (nb_provider){ NB_PROVIDED, cell, NB_BIND_DATA };
        char other[32];
        snprintf(other, sizeof other, "%d", cell);
        warn_use(r, cc, use, "dynamic-code",
                 "no cell defines '%s': it is taken to be bound by the code of cell %s that "
                 "nb2pipe cannot see (exec, globals()); if not, this step fails", name, other);
    } else if (star_here || r->star_cell > 0) {
        int cell = star_here ? cc->cell->number : r->star_cell;
        *p = (nb_provider){ NB_FROM_STAR_IMPORT, cell, NB_BIND_IMPORT };
        const nb_code_cell *star_cell = nb_analysis_cell(r->an, cell);
        const nb_import *imp = star_here ? star_here : unlisted_star(r, star_cell);
        warn_use(r, cc, use, "star-import",
                 "'%s' is taken to come from `from %s import *`: no cell defines it", name,
                 imp ? imp->module : "?");
    } else if (r->rebound[use->name]) {
        *p = (nb_provider){ NB_UNDEFINED, 0, NB_BIND_DATA };
        warn_use(r, cc, use, "global-in-function",
                 "'%s' is only assigned inside a function (through `global`) that no earlier "
                 "cell calls as nb2pipe can see%s: steps may not get it", name, "");
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

static void add_implied(resolver *r, nb_name name, nb_name via, nb_provider provider)
{
    r->implied = nb_xgrow(r->implied, &r->implied_cap, r->nimplied + 1, sizeof *r->implied);
    r->implied[r->nimplied++] = (nb_implied){ name, via, provider };
}

/* The globals that function or class VIA reads, and those its reads read in turn, as
 * they are bound when cell CC runs. Names the cell binds itself are its own business. */
static void add_implied_reads(resolver *r, const nb_code_cell *cc, nb_name via,
                              const nb_definition *def, const uint8_t *bound_here)
{
    for (size_t i = 0; i < def->nreads; i++) {
        nb_name n = def->reads[i];
        if (bound_here[n] || r->seen[n] == cc->cell->number || r->b.latest[n] <= 0)
            continue;
        r->seen[n] = cc->cell->number;
        add_implied(r, n, via, (nb_provider){ NB_PROVIDED, r->b.latest[n], (nb_binding_kind)r->b.kind[n] });
        if (r->b.definition[n])
            add_implied_reads(r, cc, via, r->b.definition[n], bound_here);
    }
}

/* Builtin names the notebook rebinds (def sum(...)) are uses like any other. After an
 * `import *` of a module nb2pipe cannot list, a builtin name may be the module's
 * (`%pylab`'s `from numpy import *` makes `sum` numpy.sum): the step carries that
 * import, so that the name is what it was in the notebook, whichever it is. */
static void resolve_builtins(resolver *r, nb_code_cell *cc)
{
    const nb_facts *f = &cc->facts;
    cc->builtin_providers = nb_pool_alloc(&r->an->pool, (f->nbuiltin_uses + 1) *
                                                            sizeof *cc->builtin_providers);
    for (size_t i = 0; i < f->nbuiltin_uses; i++) {
        nb_name n = f->builtin_uses[i].name;
        int latest = r->b.latest[n];
        if (latest > 0)
            cc->builtin_providers[i] = (nb_provider){ NB_PROVIDED, latest, (nb_binding_kind)r->b.kind[n] };
        else if (latest == 0 && r->star_cell > 0)
            cc->builtin_providers[i] = (nb_provider){ NB_FROM_STAR_IMPORT, r->star_cell, NB_BIND_IMPORT };
        else
            cc->builtin_providers[i] = (nb_provider){ NB_BUILTIN, 0, NB_BIND_DATA };
        if (latest > 0 && r->b.definition[n] && r->seen[n] != cc->cell->number)
            r->seen[n] = cc->cell->number;
    }
}

/* ---- Changes, aliases and the random state ----------------------------------------- */

static void add_touch(nb_touch **items, size_t *n, size_t *cap, nb_touch t)
{
    for (size_t i = 0; i < *n; i++)
        if ((*items)[i].name == t.name)
            return;
    *items = nb_xgrow(*items, cap, *n + 1, sizeof **items);
    (*items)[(*n)++] = t;
}

/* The cell's bindings as the alias analysis takes them: each def with the names its
 * value may share; code and literals stay out of every group; rebinds are new values. */
/* Whether the cell's def of NAME is a literal (x = 5, s = "a"): immutable. */
static bool is_literal_def(const nb_facts *f, const nb_def *d)
{
    for (size_t i = 0; i < f->nliterals; i++)
        if (f->literals[i].name == d->name && f->literals[i].stmt == d->stmt)
            return true;
    return false;
}

static void alias_bindings(resolver *r, const nb_code_cell *cc, const nb_cell_effects *eff)
{
    const nb_facts *f = &cc->facts;
    size_t n = f->ndefs + eff->nrebinds;
    nb_name *names = nb_xcalloc(n + 1, sizeof *names);
    nb_namevec *old = nb_xcalloc(n + 1, sizeof *old);
    nb_namevec *here = nb_xcalloc(n + 1, sizeof *here);
    const nb_name **old_items = nb_xcalloc(n + 1, sizeof *old_items);
    const nb_name **here_items = nb_xcalloc(n + 1, sizeof *here_items);
    size_t *old_counts = nb_xcalloc(n + 1, sizeof *old_counts);
    size_t *here_counts = nb_xcalloc(n + 1, sizeof *here_counts);
    uint8_t *isolated = nb_xcalloc(n + 1, 1);
    for (size_t i = 0; i < f->ndefs; i++) {
        names[i] = f->defs[i].name;
        isolated[i] = f->defs[i].kind != NB_BIND_DATA || is_literal_def(f, &f->defs[i]);
    }
    for (size_t i = 0; i < f->ndefs; i++) {
        if (isolated[i])
            continue;
        nb_effects_share_names(&r->b, f->defs[i].shares, &old[i], &here[i]);
        /* the cell's own literals (alias = label after label = "x") share nothing */
        size_t kept = 0;
        for (size_t j = 0; j < here[i].len; j++) {
            bool literal = false;
            for (size_t k = 0; k < f->ndefs && !literal; k++)
                literal = names[k] == here[i].items[j] && isolated[k];
            if (!literal)
                here[i].items[kept++] = here[i].items[j];
        }
        here[i].len = kept;
    }
    for (size_t i = 0; i < eff->nrebinds; i++)
        names[f->ndefs + i] = eff->rebinds[i].name;
    for (size_t i = 0; i < n; i++) {
        old_items[i] = old[i].items;
        old_counts[i] = old[i].len;
        here_items[i] = here[i].items;
        here_counts[i] = here[i].len;
    }
    nb_alias_bind(r->alias, names, n, old_items, old_counts, here_items, here_counts, isolated);
    for (size_t i = 0; i < n; i++) {
        nb_namevec_release(&old[i]);
        nb_namevec_release(&here[i]);
    }
    free(names);
    free(old);
    free(here);
    free(old_items);
    free(here_items);
    free(old_counts);
    free(here_counts);
    free(isolated);
}

/* Links that involve the cell's own new objects (d = {}; d["m"] = clf) join after the
 * cell's bindings. */
static void alias_links_here(resolver *r, const nb_code_cell *cc)
{
    const nb_effects *e = &cc->facts.effects;
    for (size_t i = 0; i < e->nlinks; i++) {
        nb_namevec old = { 0 }, here = { 0 };
        nb_effects_share_names(&r->b, e->links[i], &old, &here);
        if (here.len) {
            for (size_t j = 0; j < old.len; j++)
                nb_namevec_add(&here, old.items[j]);
            nb_alias_link(r->alias, here.items, here.len);
        }
        nb_namevec_release(&old);
        nb_namevec_release(&here);
    }
}

/* What the cell changes in place: its effects' changes, and every name that shares an
 * object with something it changes or links. Each becomes an implied use (the step
 * must have the object to change it) and a new version from this cell. */
static void settle_touches(resolver *r, nb_code_cell *cc, const nb_cell_effects *eff,
                           const uint8_t *bound_here)
{
    const nb_facts *f = &cc->facts;
    nb_touch *touches = NULL;
    size_t n = 0, cap = 0;
    for (size_t i = 0; i < eff->nchanges; i++)
        add_touch(&touches, &n, &cap, eff->changes[i]);
    size_t direct = n;
    for (size_t i = 0; i < r->ntouched; i++) {
        nb_name name = r->touched[i];
        if (!nb_holds_data(&r->b, name) || bound_here[name])
            continue;
        /* the reason: a name of its group the cell changed or bound */
        uint32_t group = nb_alias_group(r->alias, name);
        nb_name other = NB_NO_NAME;
        for (size_t k = 0; k < direct && !other; k++)
            if (nb_alias_group(r->alias, touches[k].name) == group)
                other = touches[k].name;
        for (size_t k = 0; k < f->ndefs && !other; k++)
            if (nb_alias_group(r->alias, f->defs[k].name) == group)
                other = f->defs[k].name;
        add_touch(&touches, &n, &cap, (nb_touch){ name, NB_CHANGE_ALIAS, other, 0, 0 });
    }
    cc->touches = nb_pool_memdup(&r->an->pool, touches, n, sizeof *touches);
    cc->ntouches = n;
    free(touches);
    for (size_t i = 0; i < cc->ntouches; i++) {
        nb_name name = cc->touches[i].name;
        bool used = r->seen[name] == cc->cell->number;
        for (size_t u = 0; u < f->nuses && !used; u++)
            used = f->uses[u].name == name;
        if (used || bound_here[name])
            continue;
        r->seen[name] = cc->cell->number;
        add_implied(r, name, cc->touches[i].other,
                    (nb_provider){ NB_PROVIDED, r->b.latest[name], NB_BIND_DATA });
    }
}

/* A cell that draws from a seeded generator reads the random state and leaves a new
 * one; a cell that seeds leaves one. */
static void settle_random(resolver *r, nb_code_cell *cc, const nb_cell_effects *eff)
{
    nb_name rs = r->b.random_state;
    cc->seeds_random = eff->seeds;
    cc->draws_random = eff->draws;
    /* a seed of one generator (np.random.seed) leaves the others (random) as they were */
    if ((eff->draws || eff->seeds) && r->b.latest[rs] > 0)
        add_implied(r, rs, NB_NO_NAME, (nb_provider){ NB_PROVIDED, r->b.latest[rs], NB_BIND_DATA });
}

/* ---- One cell ---------------------------------------------------------------------- */

static void record_groups(resolver *r, nb_code_cell *cc)
{
    const nb_facts *f = &cc->facts;
    size_t n = f->ndefs + cc->ntouches + cc->nrebinds;
    nb_group_entry *groups = nb_pool_alloc(&r->an->pool, (n + 1) * sizeof *groups);
    size_t k = 0;
    for (size_t i = 0; i < f->ndefs; i++)
        groups[k++] = (nb_group_entry){ f->defs[i].name, nb_alias_group(r->alias, f->defs[i].name) };
    for (size_t i = 0; i < cc->ntouches; i++)
        groups[k++] = (nb_group_entry){ cc->touches[i].name,
                                        nb_alias_group(r->alias, cc->touches[i].name) };
    for (size_t i = 0; i < cc->nrebinds; i++)
        groups[k++] = (nb_group_entry){ cc->rebinds[i].name,
                                        nb_alias_group(r->alias, cc->rebinds[i].name) };
    cc->groups = groups;
    cc->ngroups = k;
}

static void bind_data(resolver *r, nb_name name, int number)
{
    r->b.latest[name] = number;
    r->b.kind[name] = NB_BIND_DATA;
    r->b.definition[name] = NULL;
    r->b.immutable[name] = 0;
    r->from_star[name] = 0;
}

/* `from math import *`: every name the module exports is bound here. */
static void bind_star_exports(resolver *r, const nb_code_cell *cc)
{
    int number = cc->cell->number;
    for (size_t i = 0; i < cc->facts.nimports; i++) {
        const nb_import *imp = &cc->facts.imports[i];
        if (!imp->name || strcmp(imp->name, "*") != 0)
            continue;
        size_t count;
        const nb_star_export *names = nb_pydist_star_names(imp->module, &count);
        if (!names) {
            r->star_cell = number;
            continue;
        }
        for (size_t k = 0; k < count; k++) {
            const char *text = nb_star_export_name(&names[k]);
            nb_name n = nb_names_find(r->an->names, text, strlen(text));
            if (n == NB_NO_NAME)
                continue; /* interned before resolving: cannot happen */
            r->b.latest[n] = number;
            r->b.kind[n] = NB_BIND_IMPORT;
            r->b.definition[n] = NULL;
            r->b.import[n] = imp;
            r->from_star[n] = 1;
        }
    }
}

/* The names CC binds to values nothing can pickle: generator expressions, calls of
 * generator functions, library objects known not to pickle (xgboost.DMatrix). Decided
 * with the bindings before the cell (its own functions included). */
static void find_unpicklable(resolver *r, nb_code_cell *cc)
{
    const nb_facts *f = &cc->facts;
    nb_unpicklable *found = nb_pool_alloc(&r->an->pool, (f->ndefs + 1) * sizeof *found);
    size_t n = 0;
    nb_buf path = NB_BUF_INIT;
    for (size_t i = 0; i < f->ndefs; i++) {
        const nb_def *d = &f->defs[i];
        const char *what = d->generator ? "a generator" : NULL;
        for (size_t j = 0; j < d->shares.n && !what; j++) {
            const nb_definition *def = d->shares.items[j].root == NB_ROOT_NONE
                                           ? nb_bound_definition(&r->b, d->shares.items[j].via)
                                           : NULL;
            if (def && def->generator)
                what = "a generator";
        }
        if (!what && d->made_by && nb_canonical_path(&r->b, d->made_by, &path)) {
            size_t len = d->made_from ? strlen(d->made_from) : 0;
            bool npz = strcmp(path.data, "numpy.load") == 0 && len > 4 &&
                       strcmp(d->made_from + len - 4, ".npz") == 0;
            if (npz) /* np.load of an archive keeps the file open */
                what = "numpy's NpzFile, an open archive";
            else if (nb_known_unpicklable(path.data))
                what = nb_pool_strdup(&r->an->pool, path.data);
        }
        if (what)
            found[n++] = (nb_unpicklable){ d->name, d->line, d->col, what };
    }
    nb_buf_release(&path);
    cc->unpicklable = found;
    cc->nunpicklable = n;
}

static void resolve_cell(resolver *r, nb_code_cell *cc, uint8_t *bound_here)
{
    nb_analysis *an = r->an;
    nb_facts *f = &cc->facts;
    int number = cc->cell->number;
    r->b.cell = cc;
    /* what the cell's calls do depends only on what came before it */
    nb_cell_effects eff;
    nb_effects_of_cell(&r->b, cc, &an->pool, r->diags ? r->diags : &r->quiet, &eff);
    r->dynamic_here = eff.dynamic;
    cc->providers = nb_pool_alloc(&an->pool, (f->nuses + 1) * sizeof *cc->providers);
    for (size_t i = 0; i < f->ndefs; i++)
        bound_here[f->defs[i].name] = 1;
    r->nimplied = 0;
    for (size_t i = 0; i < f->nuses; i++) {
        resolve_use(r, cc, &f->uses[i], &cc->providers[i]);
        r->seen[f->uses[i].name] = number;
    }
    resolve_builtins(r, cc);
    for (size_t i = 0; i < f->nuses; i++) {
        const nb_definition *def = r->b.definition[f->uses[i].name];
        if (cc->providers[i].status == NB_PROVIDED && def)
            add_implied_reads(r, cc, f->uses[i].name, def, bound_here);
    }
    for (size_t i = 0; i < f->nbuiltin_uses; i++) {
        const nb_definition *def = r->b.definition[f->builtin_uses[i].name];
        if (cc->builtin_providers[i].status == NB_PROVIDED && def)
            add_implied_reads(r, cc, f->builtin_uses[i].name, def, bound_here);
    }

    /* what the cell changes, in its own code and in the functions it calls, and what it
     * makes share */
    for (size_t i = 0; i < eff.nlinks; i++)
        nb_alias_link(r->alias, eff.links[i].items, eff.links[i].len);
    for (size_t i = 0; i < eff.nchanges; i++)
        nb_alias_change(r->alias, eff.changes[i].name);
    alias_bindings(r, cc, &eff);
    alias_links_here(r, cc);
    for (size_t i = 0; i < f->ndeletes; i++)
        nb_alias_unbind(r->alias, f->deletes[i].name);
    r->ntouched = 0;
    nb_alias_end_cell(r->alias, &r->touched, &r->ntouched, &r->touched_cap);
    settle_touches(r, cc, &eff, bound_here);
    settle_random(r, cc, &eff);
    cc->rebinds = nb_pool_memdup(&an->pool, eff.rebinds, eff.nrebinds, sizeof *eff.rebinds);
    cc->nrebinds = eff.nrebinds;
    cc->implied = nb_pool_memdup(&an->pool, r->implied, r->nimplied, sizeof *r->implied);
    cc->nimplied = r->nimplied;
    for (size_t i = 0; i < f->ndefs; i++)
        bound_here[f->defs[i].name] = 0;

    /* the new versions: changed objects, rebound globals, the cell's own bindings */
    for (size_t i = 0; i < cc->ntouches; i++)
        bind_data(r, cc->touches[i].name, number);
    for (size_t i = 0; i < cc->nrebinds; i++)
        bind_data(r, cc->rebinds[i].name, number);
    for (size_t i = 0; i < f->ndefs; i++) {
        nb_name n = f->defs[i].name;
        bind_data(r, n, number);
        r->b.kind[n] = (uint8_t)f->defs[i].kind;
        r->b.immutable[n] = is_literal_def(f, &f->defs[i]);
    }
    for (size_t i = 0; i < f->nimports; i++)
        if (f->imports[i].bound != NB_NO_NAME)
            r->b.import[f->imports[i].bound] = &f->imports[i];
    for (size_t i = 0; i < f->ndefinitions; i++) {
        const nb_definition *d = &f->definitions[i];
        if (r->b.kind[d->name] != d->kind)
            continue;
        r->b.definition[d->name] = d;
        if (d->kind == NB_BIND_CLASS) {
            r->b.classes = nb_xgrow(r->b.classes, &r->classes_cap, r->b.nclasses + 1,
                                    sizeof *r->b.classes);
            r->b.classes[r->b.nclasses++] = d;
        }
    }
    for (size_t i = 0; i < f->ndeletes; i++) {
        r->b.latest[f->deletes[i].name] = -number;
        r->b.definition[f->deletes[i].name] = NULL;
    }
    if (eff.seeds || eff.draws)
        bind_data(r, r->b.random_state, number);
    r->b.seeded |= eff.seeds;
    if (eff.dynamic)
        r->dynamic_cell = number;
    bind_star_exports(r, cc);
    record_groups(r, cc);
    find_unpicklable(r, cc);
    nb_cell_effects_release(&eff);
}

/* Names bound only through `global` inside function bodies, and the names a standard
 * library `import *` binds (interned now, before the per-name tables are sized). */
static void prescan(resolver *r)
{
    nb_analysis *an = r->an;
    for (size_t c = 0; c < an->ncells; c++) {
        const nb_facts *f = &an->cells[c].facts;
        for (size_t i = 0; i < f->nimports; i++) {
            const nb_import *imp = &f->imports[i];
            size_t count;
            const nb_star_export *names = imp->name && strcmp(imp->name, "*") == 0
                                              ? nb_pydist_star_names(imp->module, &count)
                                              : NULL;
            for (size_t k = 0; names && k < count; k++)
                nb_names_intern(an->names, nb_star_export_name(&names[k]),
                                strlen(nb_star_export_name(&names[k])));
        }
    }
}

static void mark_rebound(resolver *r, const nb_effects *e)
{
    for (size_t i = 0; i < e->nrebinds; i++)
        r->rebound[e->rebinds[i]] = 1;
}

void nb_analysis_resolve(nb_analysis *an, const nb_analysis_opts *opts, nb_diags *diags)
{
    resolver r = { .an = an, .diags = an->failed_cells ? NULL : diags };
    prescan(&r);
    size_t nnames = nb_names_count(an->names) + 1;
    r.b.an = an;
    r.b.random_state = an->random_state;
    r.b.latest = nb_xcalloc(nnames, sizeof *r.b.latest);
    r.b.kind = nb_xcalloc(nnames, 1);
    r.b.definition = nb_xcalloc(nnames, sizeof *r.b.definition);
    r.b.import = nb_xcalloc(nnames, sizeof *r.b.import);
    r.b.immutable = nb_xcalloc(nnames, 1);
    r.first_def = nb_xcalloc(nnames, sizeof *r.first_def);
    r.allowed = nb_xcalloc(nnames, 1);
    r.rebound = nb_xcalloc(nnames, 1);
    r.from_star = nb_xcalloc(nnames, 1);
    r.seen = nb_xcalloc(nnames, sizeof *r.seen);
    r.alias = nb_alias_new();
    nb_diags_init(&r.quiet);
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
        if (an->cells[c].excluded)
            continue;
        for (size_t i = 0; i < f->ndefs; i++)
            if (!r.first_def[f->defs[i].name])
                r.first_def[f->defs[i].name] = an->cells[c].cell->number;
        for (size_t i = 0; i < f->ndefinitions; i++) {
            mark_rebound(&r, &f->definitions[i].effects);
            for (size_t m = 0; m < f->definitions[i].nmethods; m++)
                mark_rebound(&r, &f->definitions[i].methods[m].effects);
        }
    }
    for (size_t c = 0; c < an->ncells; c++) {
        nb_code_cell *cc = &an->cells[c];
        if (cc->excluded) {
            cc->providers = nb_pool_alloc(&an->pool, (cc->facts.nuses + 1) * sizeof(nb_provider));
            cc->builtin_providers = nb_pool_alloc(&an->pool, (cc->facts.nbuiltin_uses + 1) *
                                                                 sizeof(nb_provider));
        } else {
            resolve_cell(&r, cc, bound_here);
        }
    }
    free(r.b.latest);
    free(r.b.kind);
    free(r.b.definition);
    free(r.b.import);
    free(r.b.immutable);
    free(r.b.classes);
    free(r.first_def);
    free(r.allowed);
    free(r.rebound);
    free(r.from_star);
    free(r.seen);
    free(r.implied);
    free(r.touched);
    nb_alias_free(r.alias);
    nb_diags_release(&r.quiet);
    free(bound_here);
}

nb_analysis *nb_analysis_scan(const nb_notebook *nb, nb_diags *diags)
{
    nb_analysis *an = nb_xcalloc(1, sizeof *an);
    an->nb = nb;
    an->names = nb_names_new();
    an->scan = nb_pyscan_new(an->names);
    an->random_state = nb_names_intern(an->names, "random-state", 12);
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
    case NB_BUILTIN: return "builtin";
    }
    return "?";
}
