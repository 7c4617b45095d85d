/* alias: which names may share objects, as the cells run in order (DESIGN §3, aliases).
 * A may-alias analysis: every binding makes a new object node; a name bound from another
 * (b = a, m = models["rf"], for df in combine), or stored into it (d[k] = v,
 * items.append(obj)), joins that name's group; changing one member in place changes the
 * group, so every member gets a new version. Groups only grow, so the analysis is
 * conservative: names that may share are never kept apart. Private to the analysis. */
#ifndef NB2PIPE_ALIAS_H
#define NB2PIPE_ALIAS_H

#include "nb2pipe/names.h"

#include <stddef.h>
#include <stdint.h>

typedef struct nb_alias nb_alias;

nb_alias *nb_alias_new(void);
void nb_alias_free(nb_alias *a);

/* One cell, in three calls. First, before anything is rebound: the groups of NAMES
 * join (a link), or NAME's group changes in place (a change). Both mark the group as
 * touched by the cell. */
void nb_alias_link(nb_alias *a, const nb_name *names, size_t n);
void nb_alias_change(nb_alias *a, nb_name name);

/* Then the cell's bindings, given all at once because `a, b = b, a` reads both old
 * objects before binding either: NAMES[i] is bound to a new object that shares those
 * OLD[i] (OLD_COUNTS[i] names) were bound to before the cell, and those the cell binds
 * HERE[i] to (HERE_COUNTS[i] names of this cell: `v = grid[:, 1]` after `grid = ...`).
 * A binding that shares old objects touches their groups. ISOLATED[i] keeps a name out
 * of every group: a literal, a module, a function. */
void nb_alias_bind(nb_alias *a, const nb_name *names, size_t n, const nb_name *const *old,
                   const size_t *old_counts, const nb_name *const *here, const size_t *here_counts,
                   const uint8_t *isolated);

/* A name the cell deletes leaves its group. */
void nb_alias_unbind(nb_alias *a, nb_name name);

/* Finally: the names of every group the cell touched (appended to *OUT, repeats
 * possible), and the cell is over. */
void nb_alias_end_cell(nb_alias *a, nb_name **out, size_t *n, size_t *cap);

/* NAME's group now (0 when it is bound to nothing the analysis follows). */
uint32_t nb_alias_group(nb_alias *a, nb_name name);

#endif
