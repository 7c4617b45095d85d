#include "nb2pipe/names.h"

#include "nb2pipe/alloc.h"

#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

struct entry {
    const char *str;
    uint32_t len;
};

/* Open addressing with linear probing; slots hold ids (0 = empty). */
struct nb_names {
    nb_pool pool;
    struct entry *entries; /* entries[id] */
    size_t count, entries_cap;
    nb_name *slots;
    size_t slot_count; /* a power of two */
};

nb_names *nb_names_new(void)
{
    nb_names *names = nb_xcalloc(1, sizeof *names);
    names->slot_count = 256;
    names->slots = nb_xcalloc(names->slot_count, sizeof *names->slots);
    names->entries = nb_xgrow(NULL, &names->entries_cap, 64, sizeof *names->entries);
    names->entries[0] = (struct entry){ "", 0 };
    return names;
}

void nb_names_free(nb_names *names)
{
    if (!names)
        return;
    nb_pool_release(&names->pool);
    free(names->entries);
    free(names->slots);
    free(names);
}

static size_t slot_of(const nb_names *names, const char *s, size_t len)
{
    return (size_t)XXH3_64bits(s, len) & (names->slot_count - 1);
}

static size_t probe(const nb_names *names, const char *s, size_t len)
{
    size_t i = slot_of(names, s, len);
    for (;;) {
        nb_name id = names->slots[i];
        if (id == NB_NO_NAME)
            return i;
        const struct entry *e = &names->entries[id];
        if (e->len == len && memcmp(e->str, s, len) == 0)
            return i;
        i = (i + 1) & (names->slot_count - 1);
    }
}

static void rehash(nb_names *names)
{
    free(names->slots);
    names->slot_count *= 2;
    names->slots = nb_xcalloc(names->slot_count, sizeof *names->slots);
    for (nb_name id = 1; id <= names->count; id++) {
        const struct entry *e = &names->entries[id];
        names->slots[probe(names, e->str, e->len)] = id;
    }
}

nb_name nb_names_find(const nb_names *names, const char *s, size_t len)
{
    return names->slots[probe(names, s, len)];
}

nb_name nb_names_intern(nb_names *names, const char *s, size_t len)
{
    size_t i = probe(names, s, len);
    if (names->slots[i] != NB_NO_NAME)
        return names->slots[i];
    if (len > UINT32_MAX || names->count >= UINT32_MAX - 1) {
        nb_oom(len); /* a 4 GiB identifier or 4 billion names */
    }
    nb_name id = (nb_name)++names->count;
    names->entries = nb_xgrow(names->entries, &names->entries_cap, names->count + 1,
                              sizeof *names->entries);
    names->entries[id] = (struct entry){ nb_pool_strndup(&names->pool, s, len), (uint32_t)len };
    names->slots[i] = id;
    if (names->count * 2 > names->slot_count)
        rehash(names);
    return id;
}

const char *nb_names_str(const nb_names *names, nb_name id)
{
    return id <= names->count ? names->entries[id].str : "";
}

size_t nb_names_len(const nb_names *names, nb_name id)
{
    return id <= names->count ? names->entries[id].len : 0;
}

size_t nb_names_count(const nb_names *names)
{
    return names->count;
}
