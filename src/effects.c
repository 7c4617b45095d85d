#include "effects.h"

#include "fileio.h"

#include "nb2pipe/pyknown.h"
#include "nb2pipe/text.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

void nb_namevec_add(nb_namevec *v, nb_name name)
{
    for (size_t i = 0; i < v->len; i++)
        if (v->items[i] == name)
            return;
    v->items = nb_xgrow(v->items, &v->cap, v->len + 1, sizeof *v->items);
    v->items[v->len++] = name;
}

void nb_namevec_release(nb_namevec *v)
{
    free(v->items);
    memset(v, 0, sizeof *v);
}

/* ---- Roots ------------------------------------------------------------------------ */

typedef struct rootvec {
    nb_root *items;
    size_t len, cap;
} rootvec;

static void root_add(rootvec *v, nb_root root)
{
    for (size_t i = 0; i < v->len; i++)
        if (v->items[i] == root)
            return;
    v->items = nb_xgrow(v->items, &v->cap, v->len + 1, sizeof *v->items);
    v->items[v->len++] = root;
}

static void rootvec_release(rootvec *v)
{
    free(v->items);
    memset(v, 0, sizeof *v);
}

/* ---- Function summaries ------------------------------------------------------------ */

/* What calling one function or method does, in terms of its parameters and globals,
 * with the functions it calls folded in (as the cell's bindings have them). */
typedef struct summary {
    const nb_effects *key;
    bool busy, done;
    rootvec changed;  /* parameters and globals changed in place */
    nb_namevec rebinds;
    rootvec *links;   /* sets of parameters and globals made to share */
    size_t nlinks, links_cap;
    rootvec returns;  /* what the result may share */
    bool seeds, draws, sets_state, dynamic;
    const char *dynamic_what, *state_what;
} summary;

typedef struct ctx {
    const nb_bindings *b;
    summary **memo; /* one per function or method met in this cell */
    size_t nmemo, memo_cap;
    char **texts;   /* strings the summaries point at (canonical paths), freed with c */
    size_t ntexts, texts_cap;
} ctx;

/* A copy of TEXT that lives as long as C: a summary outlives the buffer a canonical
 * path was built in. */
static const char *ctx_keep(ctx *c, const char *text)
{
    c->texts = nb_xgrow(c->texts, &c->texts_cap, c->ntexts + 1, sizeof *c->texts);
    return c->texts[c->ntexts++] = nb_xstrdup(text);
}

static const char *name_str(const ctx *c, nb_name name)
{
    return nb_names_str(c->b->an->names, name);
}

/* Whether a change "through f()" (f's result holds the object) can reach the object:
 * a notebook function may hand its argument back, and so may anything unknown; a
 * library function does only if it is known to pass arguments through. */
static summary *summarize(ctx *c, const nb_effects *e, const nb_name *reads, size_t nreads);

static bool through_reaches(ctx *c, nb_name through)
{
    if (through == NB_NO_NAME)
        return true;
    const nb_bindings *b = c->b;
    const nb_definition *def = nb_bound_definition(b, through);
    if (def && def->kind == NB_BIND_FUNCTION) {
        /* a notebook function hands an argument back only if what it returns may
         * share one of its parameters */
        summary *s = summarize(c, &def->effects, def->reads, def->nreads);
        if (s->busy)
            return true;
        for (size_t i = 0; i < s->returns.len; i++)
            if (nb_root_is_param(s->returns.items[i]))
                return true;
        return false;
    }
    if (def)
        return true;
    nb_buf path = NB_BUF_INIT;
    bool library = nb_canonical_path(b, name_str(c, through), &path);
    bool passes = library && nb_known_passthrough_function(path.data);
    nb_buf_release(&path);
    return !library || passes;
}

/* The methods named NAME of the notebook's classes bound now. */
static size_t notebook_methods(const ctx *c, nb_name name, const nb_method **out, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < c->b->nclasses; i++) {
        const nb_definition *cls = c->b->classes[i];
        for (size_t m = 0; m < cls->nmethods && n < max; m++)
            if (cls->methods[m].name == name)
                out[n++] = &cls->methods[m];
    }
    return n;
}

enum { MAX_METHODS = 16 };

/* Whether a call of method VIA changes its receiver: a method some notebook class
 * defines does when one of its definitions changes self; any other may. */
static bool method_changes_receiver(ctx *c, nb_name via)
{
    if (via == NB_NO_NAME)
        return true;
    const nb_method *methods[MAX_METHODS];
    size_t n = notebook_methods(c, via, methods, MAX_METHODS);
    if (n == 0)
        return true;
    for (size_t i = 0; i < n; i++) {
        summary *s = summarize(c, &methods[i]->effects, NULL, 0);
        for (size_t j = 0; j < s->changed.len; j++)
            if (s->changed.items[j] == nb_root_param(0))
                return true;
    }
    return false;
}

/* Adds to OUT what SHARES stand for in a body: roots, through calls that may hand them
 * back, and the globals a notebook function returns of its own. */
static void share_roots(ctx *c, nb_shares shares, rootvec *out)
{
    for (size_t i = 0; i < shares.n; i++) {
        const nb_share *sh = &shares.items[i];
        if (sh->here)
            continue; /* an object of the cell itself: pyscan followed it there */
        if (sh->root != NB_ROOT_NONE) {
            if (through_reaches(c, sh->via))
                root_add(out, sh->root);
            continue;
        }
        const nb_definition *def = nb_bound_definition(c->b, sh->via);
        if (!def || def->kind != NB_BIND_FUNCTION)
            continue;
        summary *s = summarize(c, &def->effects, def->reads, def->nreads);
        for (size_t j = 0; j < s->returns.len; j++)
            if (!nb_root_is_param(s->returns.items[j]))
                root_add(out, s->returns.items[j]);
    }
}

/* The roots of a call's argument I (0-based over positional arguments, or the keyword
 * naming parameter NAME), or of its receiver for I == -1. */
static void argument_roots(ctx *c, const nb_call *call, long index, nb_name param, rootvec *out)
{
    if (index < 0) {
        share_roots(c, call->receiver, out);
        return;
    }
    long position = 0;
    for (size_t i = 0; i < call->nargs; i++) {
        const nb_arg *a = &call->args[i];
        if (a->keyword == NB_NO_NAME ? position++ == index : a->keyword == param)
            share_roots(c, a->shares, out);
    }
}

/* Maps root R of the callee (a parameter or a global) to roots of the caller. For a
 * method (METHOD), parameter 0 is the receiver. */
static void map_root(ctx *c, const nb_call *call, const summary *callee, const nb_effects *e,
                     bool method, nb_root r, rootvec *out)
{
    (void)callee;
    if (!nb_root_is_param(r)) {
        root_add(out, r);
        return;
    }
    size_t p = nb_root_param_index(r);
    nb_name param = p < e->nparams ? e->params[p] : NB_NO_NAME;
    if (method)
        argument_roots(c, call, p == 0 ? -1 : (long)p - 1, param, out);
    else
        argument_roots(c, call, (long)p, param, out);
}

static bool rootvec_has(const rootvec *v, nb_root root)
{
    for (size_t i = 0; i < v->len; i++)
        if (v->items[i] == root)
            return true;
    return false;
}

/* Whether every root of A is in B. */
static bool rootvec_within(const rootvec *a, const rootvec *b)
{
    for (size_t i = 0; i < a->len; i++)
        if (!rootvec_has(b, a->items[i]))
            return false;
    return true;
}

static void link_add(summary *s, const rootvec *roots)
{
    if (roots->len < 2)
        return;
    for (size_t i = 0; i < s->nlinks; i++)
        if (rootvec_within(roots, &s->links[i]))
            return; /* said already: recursion would add it again and again */
    s->links = nb_xgrow(s->links, &s->links_cap, s->nlinks + 1, sizeof *s->links);
    rootvec *copy = &s->links[s->nlinks++];
    memset(copy, 0, sizeof *copy);
    for (size_t i = 0; i < roots->len; i++)
        root_add(copy, roots->items[i]);
}

/* Folds what calling CALLEE (a summary of effects E) does into S. */
static void apply_call(ctx *c, summary *s, const nb_call *call, const summary *callee,
                       const nb_effects *e, bool method)
{
    /* a recursive call folds a summary into itself: what it held when the call was met */
    size_t nchanged = callee->changed.len, nrebinds = callee->rebinds.len;
    size_t nlinks = callee->nlinks;
    for (size_t i = 0; i < nchanged; i++)
        map_root(c, call, callee, e, method, callee->changed.items[i], &s->changed);
    for (size_t i = 0; i < nrebinds; i++)
        nb_namevec_add(&s->rebinds, callee->rebinds.items[i]);
    for (size_t i = 0; i < nlinks; i++) {
        rootvec mapped = { 0 };
        for (size_t j = 0; j < callee->links[i].len; j++)
            map_root(c, call, callee, e, method, callee->links[i].items[j], &mapped);
        link_add(s, &mapped);
        rootvec_release(&mapped);
    }
    s->seeds |= callee->seeds;
    s->draws |= callee->draws;
    if (callee->sets_state && !s->sets_state) {
        s->sets_state = true;
        s->state_what = callee->state_what;
    }
    if (callee->dynamic && !s->dynamic) {
        s->dynamic = true;
        s->dynamic_what = callee->dynamic_what;
    }
}

/* Folds the effects a function has on globals (not those on its parameters, which mean
 * nothing without a call): a function passed to map() or df.apply() runs there. */
static void apply_reference(summary *s, const summary *callee)
{
    size_t nchanged = callee->changed.len, nrebinds = callee->rebinds.len;
    size_t nlinks = callee->nlinks; /* as in apply_call: S may be CALLEE */
    for (size_t i = 0; i < nchanged; i++)
        if (!nb_root_is_param(callee->changed.items[i]))
            root_add(&s->changed, callee->changed.items[i]);
    for (size_t i = 0; i < nrebinds; i++)
        nb_namevec_add(&s->rebinds, callee->rebinds.items[i]);
    for (size_t i = 0; i < nlinks; i++) {
        rootvec globals = { 0 };
        for (size_t j = 0; j < callee->links[i].len; j++)
            if (!nb_root_is_param(callee->links[i].items[j]))
                root_add(&globals, callee->links[i].items[j]);
        link_add(s, &globals);
        rootvec_release(&globals);
    }
    s->seeds |= callee->seeds;
    s->draws |= callee->draws;
    s->sets_state |= callee->sets_state;
    s->dynamic |= callee->dynamic;
}

static bool starts_upper(const char *path)
{
    const char *last = strrchr(path, '.');
    last = last ? last + 1 : path;
    return *last >= 'A' && *last <= 'Z';
}

static bool has_keyword(const ctx *c, const nb_call *call, const char *keyword)
{
    for (size_t i = 0; i < call->nargs; i++)
        if (call->args[i].keyword && strcmp(name_str(c, call->args[i].keyword), keyword) == 0)
            return true;
    return false;
}

/* setattr(obj, name, value): a change of obj, or code nb2pipe cannot see when obj is a
 * module. */
static void setattr_call(ctx *c, summary *s, const nb_call *call)
{
    /* setattr(module, name, value): module state, like module.name = value */
    nb_buf path = NB_BUF_INIT;
    bool module = call->nargs && call->args[0].name &&
                  nb_canonical_path(c->b, name_str(c, call->args[0].name), &path) &&
                  !nb_pyscan_is_builtin(c->b->an->scan, call->args[0].name);
    nb_buf_release(&path);
    if (module) {
        s->sets_state = true;
        s->state_what = "setattr on a module";
        /* a computed attribute name binds something nb2pipe cannot name */
        if (call->nargs < 2 || !call->args[1].literal) {
            s->dynamic = true;
            s->dynamic_what = "setattr on a module";
        }
        return;
    }
    rootvec target = { 0 };
    argument_roots(c, call, 0, NB_NO_NAME, &target);
    for (size_t i = 0; i < target.len; i++)
        root_add(&s->changed, target.items[i]);
    rootvec_release(&target);
}

/* What a call of the library function at canonical PATH does to the interpreter. */
static void library_call(ctx *c, summary *s, const char *path, const nb_call *call)
{
    switch (nb_known_call_class(path)) {
    case NB_CALL_SEED:
        s->seeds = true;
        break;
    case NB_CALL_DRAW:
        s->draws = true;
        break;
    case NB_CALL_STATE:
        s->sets_state = true;
        s->state_what = ctx_keep(c, path);
        break;
    case NB_CALL_DYNAMIC:
        if (strcmp(path, "setattr") == 0) {
            setattr_call(c, s, call);
        } else if (strcmp(path, "vars") != 0 || call->nargs == 0) {
            s->dynamic = true;
            s->dynamic_what = ctx_keep(c, path);
        }
        break;
    case NB_CALL_OTHER:
        /* scikit-learn, scipy.stats...: a function (not a class: constructing an
         * estimator draws nothing yet) without a random_state may draw from numpy's
         * global generator */
        if (nb_known_draws_implicitly(path) && !starts_upper(path) &&
            !has_keyword(c, call, "random_state"))
            s->draws = true;
        break;
    }
}

/* The canonical path of a library call: through the import binding its first name
 * (np.random.seed -> numpy.random.seed), or `__import__("runpy").run_path` ->
 * runpy.run_path. */
static bool call_canonical(const ctx *c, const nb_call *call, nb_buf *out)
{
    if (call->path)
        return nb_canonical_path(c->b, call->path, out);
    if (!call->receiver_import || call->method == NB_NO_NAME)
        return false;
    nb_buf_reset(out);
    nb_buf_printf(out, "%s.%s", call->receiver_literal, name_str(c, call->method));
    return true;
}

/* A call in a body whose effects S collects. */
static void classify_call(ctx *c, summary *s, const nb_call *call)
{
    const nb_bindings *b = c->b;
    if (call->callee != NB_NO_NAME) {
        const nb_definition *def = nb_bound_definition(b, call->callee);
        if (def && def->kind == NB_BIND_FUNCTION) {
            apply_call(c, s, call, summarize(c, &def->effects, def->reads, def->nreads),
                       &def->effects, false);
            return;
        }
        if (def && def->kind == NB_BIND_CLASS) { /* constructing runs __init__ */
            for (size_t m = 0; m < def->nmethods; m++)
                if (strcmp(name_str(c, def->methods[m].name), "__init__") == 0)
                    apply_call(c, s, call, summarize(c, &def->methods[m].effects, NULL, 0),
                               &def->methods[m].effects, true);
            return;
        }
    }
    nb_buf path = NB_BUF_INIT;
    if (call_canonical(c, call, &path)) {
        library_call(c, s, path.data, call);
    } else if (call->method != NB_NO_NAME) {
        const nb_method *methods[MAX_METHODS];
        size_t n = notebook_methods(c, call->method, methods, MAX_METHODS);
        for (size_t i = 0; i < n; i++)
            apply_call(c, s, call, summarize(c, &methods[i]->effects, NULL, 0),
                       &methods[i]->effects, true);
        const char *m = name_str(c, call->method);
        if (n == 0 && nb_known_drawing_method(m, strlen(m)) && !has_keyword(c, call, "random_state"))
            s->draws = true;
        /* items.append(obj), reg.add(model): the receiver may keep its arguments */
        if (n == 0 && call->nargs && !nb_known_keeps_no_arguments(m, strlen(m))) {
            rootvec kept = { 0 };
            argument_roots(c, call, -1, NB_NO_NAME, &kept);
            for (size_t i = 0; i < call->nargs; i++)
                share_roots(c, call->args[i].shares, &kept);
            link_add(s, &kept);
            rootvec_release(&kept);
        }
    }
    nb_buf_release(&path);
}

static summary *memo_find(ctx *c, const nb_effects *key)
{
    for (size_t i = 0; i < c->nmemo; i++)
        if (c->memo[i]->key == key)
            return c->memo[i];
    return NULL;
}

static void summary_release(summary *s)
{
    rootvec_release(&s->changed);
    nb_namevec_release(&s->rebinds);
    for (size_t i = 0; i < s->nlinks; i++)
        rootvec_release(&s->links[i]);
    free(s->links);
    rootvec_release(&s->returns);
}

static void ctx_release(ctx *c)
{
    for (size_t i = 0; i < c->nmemo; i++) {
        summary_release(c->memo[i]);
        free(c->memo[i]);
    }
    free(c->memo);
    for (size_t i = 0; i < c->ntexts; i++)
        free(c->texts[i]);
    free(c->texts);
}

/* Folds into S the effects of a body E (whose global reads, READS, name the functions
 * it may call by reference). */
static void collect(ctx *c, summary *s, const nb_effects *e, const nb_name *reads, size_t nreads)
{
    for (size_t i = 0; i < e->nchanges; i++) {
        const nb_change *ch = &e->changes[i];
        if (method_changes_receiver(c, ch->via) && through_reaches(c, ch->through))
            root_add(&s->changed, ch->root);
    }
    for (size_t i = 0; i < e->nlinks; i++) {
        rootvec roots = { 0 };
        share_roots(c, e->links[i], &roots);
        link_add(s, &roots);
        rootvec_release(&roots);
    }
    share_roots(c, e->returns, &s->returns);
    for (size_t i = 0; i < e->nrebinds; i++)
        nb_namevec_add(&s->rebinds, e->rebinds[i]);
    nb_buf path = NB_BUF_INIT;
    for (size_t i = 0; i < e->nstores; i++) {
        nb_buf_reset(&path);
        if (nb_canonical_path(c->b, e->stores[i].path, &path)) {
            s->sets_state = true;
            s->state_what = e->stores[i].path;
        }
    }
    nb_buf_release(&path);
    for (size_t i = 0; i < e->ncalls; i++)
        classify_call(c, s, &e->calls[i]);
    for (size_t i = 0; i < nreads; i++) {
        const nb_definition *def = nb_bound_definition(c->b, reads[i]);
        if (def && def->kind == NB_BIND_FUNCTION && &def->effects != e)
            apply_reference(s, summarize(c, &def->effects, def->reads, def->nreads));
    }
}

/* The summary of a function or method body E, computed once per cell. A recursive call
 * meets the summary while it is being built and takes what it holds so far. */
static summary *summarize(ctx *c, const nb_effects *e, const nb_name *reads, size_t nreads)
{
    summary *s = memo_find(c, e);
    if (s)
        return s;
    s = nb_xcalloc(1, sizeof *s);
    s->key = e;
    s->busy = true;
    c->memo = nb_xgrow(c->memo, &c->memo_cap, c->nmemo + 1, sizeof *c->memo);
    c->memo[c->nmemo++] = s;
    collect(c, s, e, reads, nreads);
    s->busy = false;
    s->done = true;
    return s;
}

/* ---- Cells --------------------------------------------------------------------------- */

static void touch(nb_cell_effects *out, nb_name name, nb_change_reason reason, nb_name other,
                  int line, int col)
{
    for (size_t i = 0; i < out->nchanges; i++)
        if (out->changes[i].name == name)
            return;
    out->changes = nb_xgrow(out->changes, &out->changes_cap, out->nchanges + 1, sizeof *out->changes);
    out->changes[out->nchanges++] = (nb_touch){ name, reason, other, line, col };
}

static void mark_random(nb_cell_effects *out, int line, int col)
{
    if (!out->seeds && !out->draws) {
        out->random_line = line;
        out->random_col = col;
    }
}

/* Folds a call's (or a referenced function's) summary S into the cell's effects. */
static void fold(const ctx *c, nb_cell_effects *out, const summary *s, nb_name by, int line, int col)
{
    for (size_t i = 0; i < s->changed.len; i++) {
        nb_root r = s->changed.items[i];
        if (r >= 0 && nb_holds_data(c->b, (nb_name)r))
            touch(out, (nb_name)r, NB_CHANGE_CALL, by, line, col);
    }
    for (size_t i = 0; i < s->rebinds.len; i++) {
        bool seen = false;
        for (size_t j = 0; j < out->nrebinds && !seen; j++)
            seen = out->rebinds[j].name == s->rebinds.items[i];
        if (seen)
            continue;
        out->rebinds = nb_xgrow(out->rebinds, &out->rebinds_cap, out->nrebinds + 1, sizeof *out->rebinds);
        out->rebinds[out->nrebinds++] = (nb_ref){ s->rebinds.items[i], line, col, by, NB_NO_NAME };
    }
    for (size_t i = 0; i < s->nlinks; i++) {
        nb_namevec names = { 0 };
        for (size_t j = 0; j < s->links[i].len; j++) {
            nb_root r = s->links[i].items[j];
            if (r >= 0 && nb_holds_data(c->b, (nb_name)r))
                nb_namevec_add(&names, (nb_name)r);
        }
        if (names.len < 2) {
            nb_namevec_release(&names);
            continue;
        }
        out->links = nb_xgrow(out->links, &out->links_cap, out->nlinks + 1, sizeof *out->links);
        out->links[out->nlinks++] = names;
    }
    if (s->seeds || (s->draws && c->b->seeded))
        mark_random(out, line, col);
    out->seeds |= s->seeds;
    out->draws |= s->draws && c->b->seeded;
}

static void warn(nb_diags *diags, const nb_bindings *b, const char *code, int line, int col,
                 const nb_buf *message)
{
    const nb_code_cell *cc = b->cell;
    nb_loc loc = { b->an->nb->path, cc->cell->number, line, col };
    nb_diag *d = nb_diag_add(diags, NB_WARNING, code, loc, "%s", message->data);
    nb_diag_set_source(d, cc->cell->source, cc->cell->source_len);
}

static void add_state(nb_code_cell *cc, nb_pool *pool, uint32_t stmt, int line, int col,
                      const char *what, size_t *cap)
{
    for (size_t i = 0; i < cc->nstate; i++)
        if (cc->state[i].stmt == stmt)
            return;
    cc->state = nb_pool_grow(pool, cc->state, cap, cc->nstate + 1, sizeof *cc->state);
    cc->state[cc->nstate++] = (nb_state_stmt){ stmt, line, col, nb_pool_strdup(pool, what) };
}

static void add_file(nb_code_cell *cc, nb_pool *pool, const nb_file_access *a, size_t *cap)
{
    cc->files = nb_pool_grow(pool, cc->files, cap, cc->nfiles + 1, sizeof *cc->files);
    cc->files[cc->nfiles++] = *a;
}

typedef struct cell_run {
    ctx *c;
    nb_code_cell *cc;
    nb_pool *pool;
    nb_diags *diags;
    nb_cell_effects *out;
    size_t state_cap, files_cap, submodules_cap;
} cell_run;

/* A class or function whose attributes change at run time (Shape.created += 1 in a
 * method) is code to nb2pipe: each step defines it afresh. */
static void warn_stateful_code(cell_run *r, nb_name name, int line, int col)
{
    const nb_bindings *b = r->c->b;
    const nb_definition *def = nb_bound_definition(b, name);
    if (!def || r->out->warned_stateful)
        return;
    r->out->warned_stateful = true;
    nb_buf message = NB_BUF_INIT;
    nb_buf_printf(&message, "this changes %s '%s' itself (its attributes), which every step "
                            "defines afresh: later steps do not see the change",
                  def->kind == NB_BIND_CLASS ? "class" : "function", name_str(r->c, name));
    warn(r->diags, b, "stateful-code", line, col, &message);
    nb_buf_release(&message);
}

/* Packages that do not import these submodules themselves: `import matplotlib` then
 * `matplotlib.pyplot.show()` works only after something else imported pyplot. What
 * CANONICAL (matplotlib.pyplot.show, scipy.stats.norm.pdf) reaches below the package
 * is its first PREFIX_LEN bytes, up to its last name: a submodule or an object in one,
 * which the runtime tells apart (import_submodule). A function of the package itself
 * (matplotlib.use) reaches none. */
static bool lazy_submodule(const char *canonical, size_t *prefix_len)
{
    static const char *const packages[] = { "concurrent.", "email.", "importlib.",
                                            "matplotlib.", "scipy.", "sklearn.", "urllib.",
                                            "xml." };
    for (size_t i = 0; i < sizeof packages / sizeof *packages; i++) {
        size_t n = strlen(packages[i]);
        if (strncmp(canonical, packages[i], n) != 0)
            continue;
        const char *last = strrchr(canonical, '.');
        if (last < canonical + n)
            return false;
        *prefix_len = (size_t)(last - canonical);
        return true;
    }
    return false;
}

/* Whether some cell imports module MODULE (LEN bytes) or one below it. */
static bool notebook_imports(const nb_analysis *an, const char *module, size_t len)
{
    for (size_t c = 0; c < an->ncells; c++)
        for (size_t i = 0; i < an->cells[c].facts.nimports; i++) {
            const char *m = an->cells[c].facts.imports[i].module;
            if (strncmp(m, module, len) == 0 && (m[len] == '\0' || m[len] == '.'))
                return true;
        }
    return false;
}

/* `matplotlib.pyplot.show()` after a plain `import matplotlib`, with no cell importing
 * matplotlib.pyplot: the notebook found it because a library imported it as a side
 * effect (pandas' plotting, seaborn), which a step may not do: the steps that run the
 * cell import it first (nb_code_cell.submodules). */
static void add_submodule_import(cell_run *r, const nb_call *call, const char *canonical)
{
    size_t len;
    nb_code_cell *cc = r->cc;
    if (!call->path || strcmp(call->path, canonical) != 0 || !lazy_submodule(canonical, &len) ||
        notebook_imports(r->c->b->an, canonical, len))
        return;
    for (size_t i = 0; i < cc->nsubmodules; i++)
        if (strlen(cc->submodules[i]) == len && strncmp(cc->submodules[i], canonical, len) == 0)
            return;
    cc->submodules = (const char **)nb_pool_grow(r->pool, (void *)cc->submodules,
                                                 &r->submodules_cap, cc->nsubmodules + 1,
                                                 sizeof *cc->submodules);
    cc->submodules[cc->nsubmodules++] = nb_pool_strndup(r->pool, canonical, len);
}

/* The magic NAME of CC on LINE, or NULL. */
static const nb_magic *magic_at(const nb_code_cell *cc, const char *name, int line)
{
    for (size_t i = 0; i < cc->nmagics; i++)
        if (cc->magics[i].line == line && strcmp(cc->magics[i].name, name) == 0)
            return &cc->magics[i];
    return NULL;
}

/* One module-level call of the cell: what it changes, rebinds, links, seeds or draws;
 * the state it sets (replayed when the call is a whole statement); the files it
 * touches; code nb2pipe cannot see. */
static void cell_call(cell_run *r, const nb_call *call)
{
    ctx *c = r->c;
    summary s = { 0 };
    classify_call(c, &s, call);
    nb_name by = call->callee ? call->callee : call->method;
    fold(c, r->out, &s, by, call->line, call->col);
    for (size_t i = 0; i < s.changed.len; i++)
        if (s.changed.items[i] >= 0)
            warn_stateful_code(r, (nb_name)s.changed.items[i], call->line, call->col);

    nb_buf path = NB_BUF_INIT;
    bool library = call_canonical(c, call, &path);
    const nb_definition *def = call->callee ? nb_bound_definition(c->b, call->callee) : NULL;
    nb_buf message = NB_BUF_INIT;
    if (library && (s.sets_state || s.seeds) && call->whole_stmt) {
        add_state(r->cc, r->pool, call->stmt, call->line, call->col, path.data, &r->state_cap);
    } else if (s.sets_state && library) {
        nb_buf_printf(&message, "%s sets interpreter state inside a larger statement; later "
                                "steps do not replay it: put it on a line of its own", path.data);
        warn(r->diags, c->b, "state-not-replayed", call->line, call->col, &message);
    } else if (s.sets_state && def) {
        nb_buf_printf(&message, "'%s' sets interpreter state (%s), which later steps do not "
                                "replay; set it in a statement of its own, outside the function",
                      name_str(c, call->callee), s.state_what ? s.state_what : "?");
        warn(r->diags, c->b, "state-not-replayed", call->line, call->col, &message);
    }
    const nb_magic *run = magic_at(r->cc, "%run", call->line);
    if (s.dynamic && run && r->out->warned_run_line == call->line) {
        r->out->dynamic = true; /* said already for this %run */
    } else if (s.dynamic) {
        r->out->dynamic = true;
        nb_buf_reset(&message);
        if (run) {
            r->out->warned_run_line = call->line;
            nb_buf_puts(&message, "%run executes a script whose names nb2pipe cannot see");
        } else if (def)
            nb_buf_printf(&message, "'%s' runs code nb2pipe cannot see (%s)",
                          name_str(c, call->callee), s.dynamic_what ? s.dynamic_what : "exec");
        else
            nb_buf_printf(&message, "%s runs code nb2pipe cannot see",
                          s.dynamic_what ? s.dynamic_what : "this call");
        nb_buf_puts(&message, ": names it binds or changes are not tracked, so later steps may "
                              "not get them; keep the cells that use them in one step");
        warn(r->diags, c->b, "dynamic-code", call->line, call->col, &message);
    }
    nb_buf_release(&message);

    if (library)
        add_submodule_import(r, call, path.data);
    nb_file_access access;
    if (nb_fileio_of_call(call, library ? path.data : NULL, c->b->an->names, r->pool, &access))
        add_file(r->cc, r->pool, &access, &r->files_cap);
    nb_buf_release(&path);
    summary_release(&s);
}

/* An assignment into os.environ, plt.rcParams, pd.options...: replayed state. */
static void cell_store(cell_run *r, const nb_store *store)
{
    nb_buf path = NB_BUF_INIT;
    /* os.environ[k] = v, plt.rcParams[k] = v, mymodule.TAX = 0.25: a module's state */
    if (nb_canonical_path(r->c->b, store->path, &path)) {
        if (store->whole_stmt) {
            add_state(r->cc, r->pool, store->stmt, store->line, store->col, path.data,
                      &r->state_cap);
        } else {
            nb_buf message = NB_BUF_INIT;
            nb_buf_printf(&message, "this assignment to %s sets interpreter state inside a "
                                    "larger statement; later steps do not replay it: put it on "
                                    "a line of its own", path.data);
            warn(r->diags, r->c->b, "state-not-replayed", store->line, store->col, &message);
            nb_buf_release(&message);
        }
    }
    nb_buf_release(&path);
}

/* The cell's own changes (pyscan's mutations), kept when they can reach the object. */
static void cell_mutations(cell_run *r)
{
    const nb_facts *f = &r->cc->facts;
    for (size_t i = 0; i < f->nmutations; i++) {
        const nb_ref *m = &f->mutations[i];
        if (!nb_holds_data(r->c->b, m->name)) {
            if (m->via == NB_NO_NAME && m->through == NB_NO_NAME)
                warn_stateful_code(r, m->name, m->line, m->col);
            continue; /* plt.figure(): a module's state, not data */
        }
        if (!method_changes_receiver(r->c, m->via) || !through_reaches(r->c, m->through))
            continue;
        touch(r->out, m->name, NB_CHANGE_DIRECT, NB_NO_NAME, m->line, m->col);
    }
}

/* Functions the cell uses without calling them (df.apply(f), map(f, xs)) run there. */
static void cell_references(cell_run *r)
{
    const nb_facts *f = &r->cc->facts;
    for (size_t i = 0; i < f->nuses; i++) {
        const nb_definition *def = nb_bound_definition(r->c->b, f->uses[i].name);
        if (!def || def->kind != NB_BIND_FUNCTION)
            continue;
        summary s = { 0 };
        apply_reference(&s, summarize(r->c, &def->effects, def->reads, def->nreads));
        fold(r->c, r->out, &s, f->uses[i].name, f->uses[i].line, f->uses[i].col);
        summary_release(&s);
    }
}

/* Whether calling the dotted NAME (as written in code nb2pipe does not run, the
 * statement of a %timeit) draws from a global random generator: a library function
 * that draws, or a notebook function whose calls do. */
static bool dotted_call_draws(ctx *c, const char *name, size_t len, const char *statement)
{
    const nb_definition *def = NULL;
    if (!memchr(name, '.', len)) {
        nb_name id = nb_names_find(c->b->an->names, name, len);
        def = id ? nb_bound_definition(c->b, id) : NULL;
    }
    if (def)
        return def->kind == NB_BIND_FUNCTION &&
               summarize(c, &def->effects, def->reads, def->nreads)->draws;
    nb_buf dotted = NB_BUF_INIT, path = NB_BUF_INIT;
    nb_buf_add(&dotted, name, len);
    bool draws = false;
    if (nb_canonical_path(c->b, dotted.data, &path))
        draws = nb_known_call_class(path.data) == NB_CALL_DRAW ||
                (nb_known_draws_implicitly(path.data) && !starts_upper(path.data) &&
                 !strstr(statement, "random_state"));
    nb_buf_release(&dotted);
    nb_buf_release(&path);
    return draws;
}

/* Whether the Python STATEMENT calls something that draws random numbers: each dotted
 * name followed by `(` is looked at (a text scan: the statement is a comment in the
 * translated cell, so the syntax tree does not hold it). */
static bool statement_draws(ctx *c, const char *statement, size_t len)
{
    size_t i = 0;
    while (i < len) {
        if (!(isalpha((unsigned char)statement[i]) || statement[i] == '_')) {
            i++;
            continue;
        }
        size_t start = i;
        while (i < len && (isalnum((unsigned char)statement[i]) || statement[i] == '_' ||
                           statement[i] == '.'))
            i++;
        size_t end = i;
        while (i < len && statement[i] == ' ')
            i++;
        if (i < len && statement[i] == '(' && dotted_call_draws(c, statement + start, end - start, statement))
            return true;
    }
    return false;
}

/* %timeit runs its code as many times as timing needs (7 runs of a loop count it picks
 * by speed): the notebook's random state after it depends on that count, which no
 * pipeline can repeat. The line magic is dropped from the step (its code runs not at
 * all), the cell magic's body runs once. Said where the timed code draws after a seed. */
static void check_timeit(cell_run *r, const nb_magic *m)
{
    bool cell_magic = strcmp(m->name, "%%timeit") == 0;
    if (!r->c->b->seeded)
        return;
    bool draws = r->out->draws;
    if (!cell_magic) {
        size_t len = 0;
        const char *text = nb_text_line(r->cc->python, r->cc->python_len, m->line, &len);
        nb_buf line = NB_BUF_INIT; /* "# dropped: %timeit STATEMENT" */
        nb_buf_add(&line, text ? text : "", len);
        const char *at = strstr(line.data, "%timeit");
        draws = at && statement_draws(r->c, at + 7, strlen(at + 7));
        nb_buf_release(&line);
    }
    if (!draws)
        return;
    nb_buf message = NB_BUF_INIT;
    nb_buf_printf(&message, "%s draws random numbers as many times as its timing needs; the "
                            "pipeline runs this code %s, so numbers drawn after it differ from "
                            "the notebook's: seed again after it, or time code that does not draw",
                  m->name, cell_magic ? "once" : "not at all");
    warn(r->diags, r->c->b, "timeit-draws", m->line, m->col, &message);
    nb_buf_release(&message);
}

/* `%store -r` brings back names from another session; %timeit repeats its code. */
static void cell_magics(cell_run *r)
{
    for (size_t i = 0; i < r->cc->nmagics; i++) {
        const nb_magic *m = &r->cc->magics[i];
        if (strcmp(m->name, "%timeit") == 0 || strcmp(m->name, "%%timeit") == 0)
            check_timeit(r, m);
        if (strcmp(m->name, "%store") == 0) {
            r->out->dynamic = true;
            nb_buf message = NB_BUF_INIT;
            nb_buf_puts(&message, "%store may restore names from another session, which "
                                  "nb2pipe cannot see; define them in the notebook");
            warn(r->diags, r->c->b, "dynamic-code", m->line, m->col, &message);
            nb_buf_release(&message);
        }
    }
}

void nb_effects_of_cell(const nb_bindings *b, nb_code_cell *cc, nb_pool *pool, nb_diags *diags,
                        nb_cell_effects *out)
{
    memset(out, 0, sizeof *out);
    ctx c = { .b = b };
    cell_run r = { .c = &c, .cc = cc, .pool = pool, .diags = diags, .out = out };
    cell_mutations(&r);
    const nb_effects *e = &cc->facts.effects;
    for (size_t i = 0; i < e->ncalls; i++)
        cell_call(&r, &e->calls[i]);
    for (size_t i = 0; i < e->nstores; i++)
        cell_store(&r, &e->stores[i]);
    cell_references(&r);
    cell_magics(&r);
    for (size_t i = 0; i < e->nlinks; i++) {
        nb_namevec names = { 0 };
        nb_effects_share_names(b, e->links[i], &names, NULL);
        if (names.len >= 2) {
            out->links = nb_xgrow(out->links, &out->links_cap, out->nlinks + 1, sizeof *out->links);
            out->links[out->nlinks++] = names;
        } else {
            nb_namevec_release(&names);
        }
    }
    ctx_release(&c);
}

void nb_cell_effects_release(nb_cell_effects *e)
{
    free(e->changes);
    for (size_t i = 0; i < e->nlinks; i++)
        nb_namevec_release(&e->links[i]);
    free(e->links);
    free(e->rebinds);
    memset(e, 0, sizeof *e);
}

void nb_effects_share_names(const nb_bindings *b, nb_shares shares, nb_namevec *old,
                            nb_namevec *here)
{
    ctx c = { .b = b };
    rootvec roots = { 0 };
    nb_share *external = nb_xcalloc(shares.n + 1, sizeof *external);
    size_t n = 0;
    for (size_t i = 0; i < shares.n; i++) {
        if (shares.items[i].here && here)
            nb_namevec_add(here, (nb_name)shares.items[i].root);
        else if (!shares.items[i].here)
            external[n++] = shares.items[i];
    }
    share_roots(&c, (nb_shares){ external, n }, &roots);
    for (size_t i = 0; i < roots.len; i++)
        if (roots.items[i] >= 0 && nb_holds_data(b, (nb_name)roots.items[i]))
            nb_namevec_add(old, (nb_name)roots.items[i]);
    rootvec_release(&roots);
    free(external);
    ctx_release(&c);
}
