#include "pyframe.h"

#include <stdlib.h>
#include <string.h>

/* ---- Share sets ------------------------------------------------------------------ */

/* Sets are small; beyond this size repeats are only removed when the set is kept, so
 * that a literal list of thousands of names stays linear. */
enum { DEDUP_LIMIT = 16 };

void shares_put(shareset *s, nb_share share)
{
    if (s->len <= DEDUP_LIMIT)
        for (size_t i = 0; i < s->len; i++)
            if (s->items[i].root == share.root && s->items[i].via == share.via &&
                s->items[i].here == share.here)
                return;
    s->items = nb_xgrow(s->items, &s->cap, s->len + 1, sizeof *s->items);
    s->items[s->len++] = share;
}

void shares_add(shareset *s, nb_root root, nb_name via)
{
    shares_put(s, (nb_share){ root, via, false });
}

void shares_add_here(shareset *s, nb_name name)
{
    shares_put(s, (nb_share){ (nb_root)name, NB_NO_NAME, true });
}

void shares_merge(shareset *into, const shareset *from)
{
    for (size_t i = 0; i < from->len; i++)
        shares_put(into, from->items[i]);
}

static int compare_share(const void *a, const void *b)
{
    const nb_share *x = a, *y = b;
    if (x->root != y->root)
        return x->root < y->root ? -1 : 1;
    if (x->here != y->here)
        return x->here ? 1 : -1;
    return x->via < y->via ? -1 : x->via > y->via;
}

static nb_shares keep_items(const nb_share *items, size_t n, nb_pool *pool, bool drop_params)
{
    if (n == 0)
        return (nb_shares){ NULL, 0 };
    nb_share *out = nb_pool_alloc(pool, (n + 1) * sizeof *out);
    size_t kept = 0;
    for (size_t i = 0; i < n; i++)
        if (!(drop_params && nb_root_is_param(items[i].root)))
            out[kept++] = items[i];
    if (kept > 1)
        qsort(out, kept, sizeof *out, compare_share);
    size_t unique = 0;
    for (size_t i = 0; i < kept; i++)
        if (unique == 0 || compare_share(&out[unique - 1], &out[i]) != 0)
            out[unique++] = out[i];
    return (nb_shares){ out, unique };
}

nb_shares shares_keep(const shareset *s, nb_pool *pool, bool drop_params)
{
    return keep_items(s->items, s->len, pool, drop_params);
}

void shares_release(shareset *s)
{
    free(s->items);
    memset(s, 0, sizeof *s);
}

/* ---- Name -> shares ------------------------------------------------------------------ */

static size_t map_slot(const sharemap *m, nb_name name)
{
    size_t i = (size_t)(name * 2654435761u) & (m->cap - 1);
    while (m->keys[i] != NB_NO_NAME && m->keys[i] != name)
        i = (i + 1) & (m->cap - 1);
    return i;
}

shareset *sharemap_find(const sharemap *m, nb_name name)
{
    if (!m->cap)
        return NULL;
    size_t i = map_slot(m, name);
    return m->keys[i] == name ? &m->values[i] : NULL;
}

static void map_grow(sharemap *m)
{
    sharemap old = *m;
    m->cap = old.cap ? old.cap * 2 : 16;
    m->keys = nb_xcalloc(m->cap, sizeof *m->keys);
    m->values = nb_xcalloc(m->cap, sizeof *m->values);
    for (size_t i = 0; i < old.cap; i++) {
        if (old.keys[i] == NB_NO_NAME)
            continue;
        size_t j = map_slot(m, old.keys[i]);
        m->keys[j] = old.keys[i];
        m->values[j] = old.values[i];
    }
    free(old.keys);
    free(old.values);
}

shareset *sharemap_put(sharemap *m, nb_name name)
{
    if ((m->len + 1) * 2 > m->cap)
        map_grow(m);
    size_t i = map_slot(m, name);
    if (m->keys[i] == NB_NO_NAME) {
        m->keys[i] = name;
        m->len++;
    }
    m->values[i].len = 0;
    return &m->values[i];
}

void sharemap_release(sharemap *m)
{
    for (size_t i = 0; i < m->cap; i++)
        free(m->values[i].items);
    free(m->keys);
    free(m->values);
    memset(m, 0, sizeof *m);
}

/* ---- Frames ------------------------------------------------------------------------ */

void frame_add_change(frame *f, nb_root root, nb_name via, nb_name through, int line, int col)
{
    f->changes = nb_xgrow(f->changes, &f->changes_cap, f->nchanges + 1, sizeof *f->changes);
    f->changes[f->nchanges++] = (nb_change){ root, via, through, line, col };
}

static size_t distinct_roots(const shareset *s)
{
    size_t n = 0;
    for (size_t i = 0; i < s->len && n < 2; i++) {
        bool seen = false;
        for (size_t j = 0; j < i && !seen; j++)
            seen = s->items[j].root == s->items[i].root;
        n += !seen && s->items[i].root != NB_ROOT_NONE;
    }
    return n;
}

void frame_add_link(frame *f, const shareset *s)
{
    if (distinct_roots(s) < 2)
        return;
    f->links = nb_xgrow(f->links, &f->links_cap, f->nlinks + 1, sizeof *f->links);
    shareset *copy = &f->links[f->nlinks++];
    memset(copy, 0, sizeof *copy);
    shares_merge(copy, s);
}

void frame_add_call(frame *f, const nb_call *call)
{
    f->calls = nb_xgrow(f->calls, &f->calls_cap, f->ncalls + 1, sizeof *f->calls);
    f->calls[f->ncalls++] = *call;
}

void frame_add_store(frame *f, const nb_store *store)
{
    f->stores = nb_xgrow(f->stores, &f->stores_cap, f->nstores + 1, sizeof *f->stores);
    f->stores[f->nstores++] = *store;
}

void frame_add_rebind(frame *f, nb_name name)
{
    for (size_t i = 0; i < f->nrebinds; i++)
        if (f->rebinds[i] == name)
            return;
    f->rebinds = nb_xgrow(f->rebinds, &f->rebinds_cap, f->nrebinds + 1, sizeof *f->rebinds);
    f->rebinds[f->nrebinds++] = name;
}

void frame_add_param(frame *f, nb_name name)
{
    f->params = nb_xgrow(f->params, &f->params_cap, f->nparams + 1, sizeof *f->params);
    f->params[f->nparams++] = name;
}

long frame_param_index(const frame *f, nb_name name)
{
    for (size_t i = 0; i < f->nparams; i++)
        if (f->params[i] == name)
            return (long)i;
    return -1;
}

/* CALL with the parameter roots of a nested body dropped from its shares. */
static nb_call call_without_params(const nb_call *call, nb_pool *pool)
{
    nb_call out = *call;
    out.receiver = keep_items(call->receiver.items, call->receiver.n, pool, true);
    nb_arg *args = nb_pool_alloc(pool, (call->nargs + 1) * sizeof *args);
    for (size_t i = 0; i < call->nargs; i++) {
        args[i] = call->args[i];
        args[i].shares = keep_items(call->args[i].shares.items, call->args[i].shares.n, pool, true);
    }
    out.args = args;
    return out;
}

void frame_merge_nested(frame *into, const frame *nested, nb_pool *pool)
{
    for (size_t i = 0; i < nested->nchanges; i++)
        if (!nb_root_is_param(nested->changes[i].root))
            frame_add_change(into, nested->changes[i].root, nested->changes[i].via,
                             nested->changes[i].through, nested->changes[i].line,
                             nested->changes[i].col);
    for (size_t i = 0; i < nested->nlinks; i++) {
        shareset globals = { 0 };
        for (size_t j = 0; j < nested->links[i].len; j++)
            if (!nb_root_is_param(nested->links[i].items[j].root))
                shares_put(&globals, nested->links[i].items[j]);
        frame_add_link(into, &globals);
        shares_release(&globals);
    }
    for (size_t i = 0; i < nested->ncalls; i++) {
        nb_call call = call_without_params(&nested->calls[i], pool);
        frame_add_call(into, &call);
    }
    for (size_t i = 0; i < nested->nstores; i++)
        frame_add_store(into, &nested->stores[i]);
    for (size_t i = 0; i < nested->nrebinds; i++)
        frame_add_rebind(into, nested->rebinds[i]);
}

static int compare_change(const void *a, const void *b)
{
    const nb_change *x = a, *y = b;
    if (x->root != y->root)
        return x->root < y->root ? -1 : 1;
    if (x->via != y->via)
        return x->via < y->via ? -1 : 1;
    if (x->through != y->through)
        return x->through < y->through ? -1 : 1;
    if (x->line != y->line)
        return x->line < y->line ? -1 : 1;
    return x->col < y->col ? -1 : x->col > y->col;
}

/* The changes sorted by root and method, the first place of each pair kept. */
static const nb_change *keep_changes(const frame *f, nb_pool *pool, size_t *count)
{
    nb_change *out = nb_pool_memdup(pool, f->changes, f->nchanges, sizeof *f->changes);
    if (f->nchanges > 1)
        qsort(out, f->nchanges, sizeof *out, compare_change);
    size_t kept = 0;
    for (size_t i = 0; i < f->nchanges; i++)
        if (kept == 0 || out[kept - 1].root != out[i].root || out[kept - 1].via != out[i].via ||
            out[kept - 1].through != out[i].through)
            out[kept++] = out[i];
    *count = kept;
    return out;
}

nb_effects frame_keep(const frame *f, nb_pool *pool)
{
    nb_effects e = { 0 };
    e.changes = keep_changes(f, pool, &e.nchanges);
    nb_shares *links = nb_pool_alloc(pool, (f->nlinks + 1) * sizeof *links);
    for (size_t i = 0; i < f->nlinks; i++)
        links[i] = shares_keep(&f->links[i], pool, false);
    e.links = links;
    e.nlinks = f->nlinks;
    e.calls = nb_pool_memdup(pool, f->calls, f->ncalls, sizeof *f->calls);
    e.ncalls = f->ncalls;
    e.stores = nb_pool_memdup(pool, f->stores, f->nstores, sizeof *f->stores);
    e.nstores = f->nstores;
    e.rebinds = nb_pool_memdup(pool, f->rebinds, f->nrebinds, sizeof *f->rebinds);
    e.nrebinds = f->nrebinds;
    e.returns = shares_keep(&f->returns, pool, false);
    e.params = nb_pool_memdup(pool, f->params, f->nparams, sizeof *f->params);
    e.nparams = f->nparams;
    return e;
}

void frame_release(frame *f)
{
    free(f->changes);
    for (size_t i = 0; i < f->nlinks; i++)
        shares_release(&f->links[i]);
    free(f->links);
    free(f->calls);
    free(f->stores);
    free(f->rebinds);
    shares_release(&f->returns);
    free(f->params);
    memset(f, 0, sizeof *f);
}
