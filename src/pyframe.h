/* pyframe: what pyscan collects while it walks one body of code, apart from the names
 * it binds and reads: the roots values may share (aliases), and the effects (changes in
 * place, links, calls, stores, rebinds, returns) that end up in an nb_effects.
 * Private to pyscan.c; no tree-sitter here. */
#ifndef NB2PIPE_PYFRAME_H
#define NB2PIPE_PYFRAME_H

#include "nb2pipe/alloc.h"
#include "nb2pipe/pyscan.h"

#include <stdbool.h>
#include <stddef.h>

/* A set of shares being built. */
typedef struct shareset {
    nb_share *items;
    size_t len, cap;
} shareset;

void shares_put(shareset *s, nb_share share);
void shares_add(shareset *s, nb_root root, nb_name via);
/* The object this cell binds NAME to (nb_share.here). */
void shares_add_here(shareset *s, nb_name name);
void shares_merge(shareset *into, const shareset *from);
/* Copies the set into POOL, sorted, without repeats and without parameter roots when
 * DROP_PARAMS (what a nested function's parameters share means nothing outside it). */
nb_shares shares_keep(const shareset *s, nb_pool *pool, bool drop_params);
void shares_release(shareset *s);

/* The shares of each name a scope binds (for the module scope: what this cell binds). */
typedef struct sharemap {
    nb_name *keys; /* open addressing; NB_NO_NAME marks a free slot */
    shareset *values;
    size_t cap, len;
} sharemap;

/* NAME's shares, or NULL when the scope has not bound it. */
shareset *sharemap_find(const sharemap *m, nb_name name);
/* NAME's entry, emptied (a new binding replaces what the old one shared). */
shareset *sharemap_put(sharemap *m, nb_name name);
void sharemap_release(sharemap *m);

/* The effects of one body of code as they are found. */
typedef struct frame {
    nb_change *changes;
    size_t nchanges, changes_cap;
    shareset *links;
    size_t nlinks, links_cap;
    nb_call *calls;
    size_t ncalls, calls_cap;
    nb_store *stores;
    size_t nstores, stores_cap;
    nb_name *rebinds;
    size_t nrebinds, rebinds_cap;
    shareset returns;
    nb_name *params;
    size_t nparams, params_cap;
} frame;

void frame_add_change(frame *f, nb_root root, nb_name via, nb_name through, int line, int col);
/* A link of the roots in S; nothing when S names fewer than two. */
void frame_add_link(frame *f, const shareset *s);
/* Appends CALL (whose arrays live in a pool already). */
void frame_add_call(frame *f, const nb_call *call);
void frame_add_store(frame *f, const nb_store *store);
void frame_add_rebind(frame *f, nb_name name);
void frame_add_param(frame *f, nb_name name);
/* The index of parameter NAME, or -1. */
long frame_param_index(const frame *f, nb_name name);

/* Moves what a nested or anonymous function body did into the enclosing FRAME, as if it
 * ran there (it may: a lambda passed to df.apply runs at once); its parameters mean
 * nothing outside, so what only they share is dropped. */
void frame_merge_nested(frame *into, const frame *nested, nb_pool *pool);

/* The frame as nb_effects in POOL. */
nb_effects frame_keep(const frame *f, nb_pool *pool);
void frame_release(frame *f);

#endif
