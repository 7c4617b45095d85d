#define _DEFAULT_SOURCE /* sbrk, madvise */

#include "nb2pipe/alloc.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__linux__) && defined(__GLIBC__)
#include <malloc.h>
#include <sys/mman.h>
#include <unistd.h>
#endif

void nb_alloc_tune(void)
{
#if defined(__linux__) && defined(__GLIBC__) && defined(MADV_HUGEPAGE)
    /* Reading a big notebook allocates tens of MB (jansson values, tree-sitter trees),
     * and a page fault per 4 KiB page was a third of `clean`'s time on 10,000 cells.
     * So the heap grows by 64 MiB at once, big blocks come from it too (not from
     * mmap), and that region may use transparent huge pages: one fault per 2 MiB.
     * Where THP is off this changes nothing; memory not touched costs nothing. */
    enum { REGION = 64 << 20, BIG_BLOCK = 32 << 20 };
    if (mallopt(M_TOP_PAD, REGION) != 1 || mallopt(M_MMAP_THRESHOLD, BIG_BLOCK) != 1)
        return;
    /* No fastbins: freeing a notebook's hundreds of thousands of small values left them
     * in fastbins, and the next big free merged them all at once (malloc_consolidate
     * was 8% of `clean` on 10,000 cells); merged as they are freed, it costs less. */
    (void)mallopt(M_MXFAST, 0);
    void *first = malloc(1); /* makes the heap grow by REGION */
    char *top = sbrk(0);
    long page = sysconf(_SC_PAGESIZE);
    if (first && top != (char *)-1 && page > 0) {
        uintptr_t start = ((uintptr_t)first + (uintptr_t)page - 1) & ~((uintptr_t)page - 1);
        if ((uintptr_t)top > start)
            (void)madvise((void *)start, (uintptr_t)top - start, MADV_HUGEPAGE);
    }
    free(first);
#endif
}

_Noreturn void nb_oom(size_t size)
{
    fprintf(stderr, "nb2pipe: fatal: out of memory (allocating %zu bytes)\n", size);
    abort();
}

void *nb_xmalloc(size_t size)
{
    void *p = malloc(size ? size : 1);
    if (!p)
        nb_oom(size);
    return p;
}

void *nb_xcalloc(size_t count, size_t size)
{
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p)
        nb_oom(count * size);
    return p;
}

void *nb_xrealloc(void *ptr, size_t size)
{
    void *p = realloc(ptr, size ? size : 1);
    if (!p)
        nb_oom(size);
    return p;
}

char *nb_xstrndup(const char *s, size_t len)
{
    char *p = nb_xmalloc(len + 1);
    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

char *nb_xstrdup(const char *s)
{
    return nb_xstrndup(s, strlen(s));
}

/* CAP doubled (from FIRST when 0) until it holds NEED elements of ELEM_SIZE bytes. */
static size_t grown_capacity(size_t cap, size_t first, size_t need, size_t elem_size)
{
    size_t new_cap = cap ? cap : first;
    while (new_cap < need) {
        if (new_cap > SIZE_MAX / 2)
            nb_oom(SIZE_MAX);
        new_cap *= 2;
    }
    if (new_cap > SIZE_MAX / elem_size)
        nb_oom(SIZE_MAX);
    return new_cap;
}

void *nb_xgrow(void *items, size_t *cap, size_t need, size_t elem_size)
{
    if (need <= *cap)
        return items;
    size_t new_cap = grown_capacity(*cap, 8, need, elem_size);
    items = nb_xrealloc(items, new_cap * elem_size);
    *cap = new_cap;
    return items;
}

/* Blocks are chained newest first; big requests get a block of their own. */
struct nb_pool_block {
    struct nb_pool_block *next;
    size_t used, size;
    max_align_t data[];
};

enum { POOL_BLOCK_SIZE = 64 * 1024 };

void *nb_pool_alloc(nb_pool *pool, size_t size)
{
    const size_t align = sizeof(max_align_t);
    if (size > SIZE_MAX - align)
        nb_oom(size);
    size = (size + align - 1) / align * align;
    struct nb_pool_block *b = pool->head;
    if (!b || b->size - b->used < size) {
        size_t block = size > POOL_BLOCK_SIZE ? size : POOL_BLOCK_SIZE;
        if (block > SIZE_MAX - sizeof *b)
            nb_oom(block);
        b = nb_xmalloc(sizeof *b + block);
        b->used = 0;
        b->size = block;
        if (size > POOL_BLOCK_SIZE / 4 && pool->head) {
            /* keep filling the current block; put the big one behind it */
            b->next = pool->head->next;
            pool->head->next = b;
        } else {
            b->next = pool->head;
            pool->head = b;
        }
    }
    char *p = (char *)b->data + b->used;
    b->used += size;
    memset(p, 0, size);
    return p;
}

void *nb_pool_grow(nb_pool *pool, void *items, size_t *cap, size_t need, size_t elem_size)
{
    if (need <= *cap)
        return items;
    size_t new_cap = grown_capacity(*cap, 4, need, elem_size);
    void *grown = nb_pool_alloc(pool, new_cap * elem_size);
    if (*cap)
        memcpy(grown, items, *cap * elem_size);
    *cap = new_cap;
    return grown;
}

char *nb_pool_strndup(nb_pool *pool, const char *s, size_t len)
{
    char *p = nb_pool_alloc(pool, len + 1);
    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

char *nb_pool_strdup(nb_pool *pool, const char *s)
{
    return nb_pool_strndup(pool, s, strlen(s));
}

void *nb_pool_memdup(nb_pool *pool, const void *items, size_t count, size_t size)
{
    if (count == 0)
        return NULL;
    if (count > SIZE_MAX / size)
        nb_oom(SIZE_MAX);
    void *p = nb_pool_alloc(pool, count * size);
    memcpy(p, items, count * size);
    return p;
}

void nb_pool_release(nb_pool *pool)
{
    struct nb_pool_block *b = pool->head;
    while (b) {
        struct nb_pool_block *next = b->next;
        free(b);
        b = next;
    }
    pool->head = NULL;
}
