/* fileio: which files a call reads or writes (df.to_csv("out/a.csv"), open(p, "w"),
 * np.load(...), !mkdir), so that a step reading a file runs after the step that writes
 * it even when no variable connects them. Literal paths give exact edges; other paths
 * are unknown and keep the notebook's order among the steps that touch files.
 * Private to the analysis. */
#ifndef NB2PIPE_FILEIO_H
#define NB2PIPE_FILEIO_H

#include "resolve.h"

#include "nb2pipe/segment.h"

/* The file access CALL makes, if any: CANONICAL is the callee's canonical path when it
 * is a library function ("pandas.read_csv", "open"), NULL for a method on data. The
 * path is copied into POOL. */
bool nb_fileio_of_call(const nb_call *call, const char *canonical, const nb_names *names,
                       nb_pool *pool, nb_file_access *out);

/* Whether accesses A and B may touch the same file: one path is the other or inside it
 * ("out" and "out/a.csv"), or either path is unknown. */
bool nb_fileio_overlap(const nb_file_access *a, const nb_file_access *b);

/* The order files impose on steps, walking the cells in order: a step that reads a
 * file runs after the step that last wrote it; one that writes a file, after the steps
 * that last wrote or read it (a path is the same file as another when one is the other
 * or inside it: "out" and "out/a.csv"): ADD_EDGE(ARG, BEFORE, AFTER). A path that is not
 * known may be any file; a warning at such an access says which steps keep their order
 * because of it. */
void nb_fileio_order(const nb_analysis *an, const nb_segmentation *seg,
                     void (*add_edge)(void *arg, size_t before, size_t after), void *arg,
                     nb_diags *diags);

#endif
