#include "alias.h"

#include "nb2pipe/alloc.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* Union-find over object nodes (1-based; 0 is none), each root keeping the names that
 * were bound to a node of its group. A name bound again moves to a new node; its entry in
 * the old group's list goes stale and is dropped when the list is read. */
typedef struct names_list {
    nb_name *items;
    size_t len, cap;
} names_list;

struct nb_alias {
    uint32_t *parent;
    names_list *members; /* by root node */
    size_t nnodes, nodes_cap, members_cap;
    uint32_t *node_of; /* by name */
    size_t names_cap;
    uint32_t *touched; /* nodes whose groups the current cell touched */
    size_t ntouched, touched_cap;
};

nb_alias *nb_alias_new(void)
{
    nb_alias *a = nb_xcalloc(1, sizeof *a);
    a->nnodes = 1; /* node 0 is "none" */
    return a;
}

void nb_alias_free(nb_alias *a)
{
    if (!a)
        return;
    for (size_t i = 0; i < a->nnodes && i < a->members_cap; i++)
        free(a->members[i].items);
    free(a->members);
    free(a->parent);
    free(a->node_of);
    free(a->touched);
    free(a);
}

static uint32_t find(nb_alias *a, uint32_t node)
{
    uint32_t root = node;
    while (a->parent[root] != root)
        root = a->parent[root];
    while (a->parent[node] != root) { /* path compression */
        uint32_t next = a->parent[node];
        a->parent[node] = root;
        node = next;
    }
    return root;
}

static uint32_t *name_slot(nb_alias *a, nb_name name)
{
    if (name >= a->names_cap) {
        size_t old = a->names_cap;
        a->node_of = nb_xgrow(a->node_of, &a->names_cap, (size_t)name + 1, sizeof *a->node_of);
        memset(a->node_of + old, 0, (a->names_cap - old) * sizeof *a->node_of);
    }
    return &a->node_of[name];
}

static void list_add(names_list *l, nb_name name)
{
    l->items = nb_xgrow(l->items, &l->cap, l->len + 1, sizeof *l->items);
    l->items[l->len++] = name;
}

static uint32_t new_node(nb_alias *a, nb_name name)
{
    uint32_t node = (uint32_t)a->nnodes++;
    a->parent = nb_xgrow(a->parent, &a->nodes_cap, a->nnodes, sizeof *a->parent);
    if (a->nnodes > a->members_cap) {
        size_t old = a->members_cap;
        a->members = nb_xgrow(a->members, &a->members_cap, a->nnodes, sizeof *a->members);
        memset(a->members + old, 0, (a->members_cap - old) * sizeof *a->members);
    }
    a->parent[node] = node;
    list_add(&a->members[node], name);
    *name_slot(a, name) = node;
    return node;
}

uint32_t nb_alias_group(nb_alias *a, nb_name name)
{
    uint32_t node = name < a->names_cap ? a->node_of[name] : 0;
    return node ? find(a, node) : 0;
}

static void mark(nb_alias *a, uint32_t root)
{
    a->touched = nb_xgrow(a->touched, &a->touched_cap, a->ntouched + 1, sizeof *a->touched);
    a->touched[a->ntouched++] = root;
}

/* Joins the groups of nodes X and Y; the smaller member list moves. */
static uint32_t join(nb_alias *a, uint32_t x, uint32_t y)
{
    x = find(a, x);
    y = find(a, y);
    if (x == y)
        return x;
    if (a->members[x].len < a->members[y].len) {
        uint32_t t = x;
        x = y;
        y = t;
    }
    a->parent[y] = x;
    for (size_t i = 0; i < a->members[y].len; i++)
        list_add(&a->members[x], a->members[y].items[i]);
    free(a->members[y].items);
    memset(&a->members[y], 0, sizeof a->members[y]);
    return x;
}

void nb_alias_link(nb_alias *a, const nb_name *names, size_t n)
{
    uint32_t root = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t node = nb_alias_group(a, names[i]);
        if (!node)
            node = new_node(a, names[i]); /* from before the analysis knew it */
        root = root ? join(a, root, node) : find(a, node);
    }
    if (root)
        mark(a, root);
}

void nb_alias_change(nb_alias *a, nb_name name)
{
    uint32_t root = nb_alias_group(a, name);
    mark(a, root ? root : new_node(a, name));
}

void nb_alias_bind(nb_alias *a, const nb_name *names, size_t n, const nb_name *const *old,
                   const size_t *old_counts, const nb_name *const *here, const size_t *here_counts,
                   const uint8_t *isolated)
{
    /* the old objects each binding shares, read before any name moves */
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += old_counts[i];
    uint32_t *targets = nb_xmalloc((total + 1) * sizeof *targets);
    size_t at = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < old_counts[i]; j++) {
            uint32_t root = nb_alias_group(a, old[i][j]);
            targets[at++] = root ? root : new_node(a, old[i][j]);
        }
    at = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t node = new_node(a, names[i]);
        bool alone = isolated && isolated[i];
        for (size_t j = 0; j < old_counts[i]; j++, at++)
            if (!alone)
                node = join(a, node, targets[at]);
        if (!alone && old_counts[i])
            mark(a, find(a, node));
    }
    /* then what they share of this cell's own new objects */
    for (size_t i = 0; i < n; i++) {
        if (isolated && isolated[i])
            continue;
        for (size_t j = 0; j < here_counts[i]; j++) {
            uint32_t other = nb_alias_group(a, here[i][j]);
            if (other && here[i][j] != names[i])
                join(a, nb_alias_group(a, names[i]), other);
        }
    }
    free(targets);
}

void nb_alias_unbind(nb_alias *a, nb_name name)
{
    *name_slot(a, name) = 0;
}

void nb_alias_end_cell(nb_alias *a, nb_name **out, size_t *n, size_t *cap)
{
    for (size_t t = 0; t < a->ntouched; t++) {
        uint32_t root = find(a, a->touched[t]);
        names_list *l = &a->members[root];
        size_t kept = 0;
        for (size_t i = 0; i < l->len; i++) {
            nb_name name = l->items[i];
            if (nb_alias_group(a, name) != root)
                continue; /* bound again since it joined */
            bool repeat = false;
            for (size_t j = 0; j < kept && !repeat && j < 64; j++)
                repeat = l->items[kept - 1 - j] == name;
            if (repeat)
                continue;
            l->items[kept++] = name;
        }
        l->len = kept;
        for (size_t i = 0; i < kept; i++) {
            *out = nb_xgrow(*out, cap, *n + 1, sizeof **out);
            (*out)[(*n)++] = l->items[i];
        }
    }
    a->ntouched = 0;
}
