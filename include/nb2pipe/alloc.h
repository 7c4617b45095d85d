/* Allocation that never returns NULL, and a memory pool for data with one lifetime. */
#ifndef NB2PIPE_ALLOC_H
#define NB2PIPE_ALLOC_H

#include <stddef.h>

/* Tunes the C library's allocator for nb2pipe's bursts of allocation (huge pages for
 * the heap where the system allows them, no fastbins). Call once, first thing in main. */
void nb_alloc_tune(void);

/* Out of memory (or a size that overflows) prints one line and aborts: no call site
 * carries a NULL check that could never be tested. */
/* Reports that SIZE bytes could not be had and aborts. */
_Noreturn void nb_oom(size_t size);

void *nb_xmalloc(size_t size);
void *nb_xcalloc(size_t count, size_t size);
void *nb_xrealloc(void *ptr, size_t size);
char *nb_xstrdup(const char *s);
char *nb_xstrndup(const char *s, size_t len);

/* Grows the array ITEMS of elements of ELEM_SIZE bytes so that it holds at least
 * NEED elements; *CAP is updated. Returns the (possibly moved) array. Typical use:
 *   list.items = nb_xgrow(list.items, &list.cap, list.len + 1, sizeof *list.items); */
void *nb_xgrow(void *items, size_t *cap, size_t need, size_t elem_size);

/* A pool hands out zeroed memory that is released all at once by nb_pool_release.
 * The notebook model, per-cell facts and the pipeline IR live in pools. */
typedef struct nb_pool {
    struct nb_pool_block *head;
} nb_pool;

#define NB_POOL_INIT { NULL }

void *nb_pool_alloc(nb_pool *pool, size_t size);
/* Copies LEN bytes of S and a terminating NUL into the pool. */
char *nb_pool_strndup(nb_pool *pool, const char *s, size_t len);
char *nb_pool_strdup(nb_pool *pool, const char *s);
/* Copies an array of COUNT elements of SIZE bytes into the pool (NULL when COUNT is 0). */
void *nb_pool_memdup(nb_pool *pool, const void *items, size_t count, size_t size);
/* nb_xgrow for an array in a pool: a full array is copied into a new one twice the
 * size (the old one stays in the pool until it is released). */
void *nb_pool_grow(nb_pool *pool, void *items, size_t *cap, size_t need, size_t elem_size);
/* Frees every allocation of the pool; the pool is empty and reusable afterwards. */
void nb_pool_release(nb_pool *pool);

#endif
