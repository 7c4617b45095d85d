/* fileio: which files a call reads or writes (df.to_csv("out/a.csv"), open(p, "w"),
 * np.load(...), !mkdir), so that a step reading a file runs after the step that writes
 * it even when no variable connects them. Literal paths give exact edges; other paths
 * are unknown and keep the notebook's order among the steps that touch files.
 * Private to the analysis. */
#ifndef NB2PIPE_FILEIO_H
#define NB2PIPE_FILEIO_H

#include "resolve.h"

/* The file access CALL makes, if any: CANONICAL is the callee's canonical path when it
 * is a library function ("pandas.read_csv", "open"), NULL for a method on data. The
 * path is copied into POOL. */
bool nb_fileio_of_call(const nb_call *call, const char *canonical, const nb_names *names,
                       nb_pool *pool, nb_file_access *out);

/* Whether accesses A and B may touch the same file: one path is the other or inside it
 * ("out" and "out/a.csv"), or either path is unknown. */
bool nb_fileio_overlap(const nb_file_access *a, const nb_file_access *b);

#endif
