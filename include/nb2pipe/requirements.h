/* requirements.txt: the distributions a notebook's code needs. */
#ifndef NB2PIPE_REQUIREMENTS_H
#define NB2PIPE_REQUIREMENTS_H

#include "nb2pipe/analysis.h"
#include "nb2pipe/segment.h"

/* Collects pip requirement lines for the cells of AN that are not skipped (ROLES, by
 * cell index): third-party modules its imports name (standard library and modules found
 * next to the notebook in NOTEBOOK_DIR left out; import names mapped to distributions,
 * sklearn -> scikit-learn), and the packages of its install magics, which win over an
 * import of the same distribution since they may pin a version. Sorted by normalised
 * name, without repeats; allocated in POOL. NOTEBOOK_DIR may be NULL. */
void nb_requirements_collect(const nb_analysis *an, const nb_cell_role *roles,
                             const char *notebook_dir, nb_pool *pool,
                             const char *const **lines, size_t *count);

#endif
