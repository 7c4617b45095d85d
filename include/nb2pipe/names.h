/* The name interner: every identifier the analysis meets gets a small integer id, so
 * that per-name tables are plain arrays indexed by id and comparing names is comparing
 * integers. Ids are dense, starting at 1; 0 means "no name". */
#ifndef NB2PIPE_NAMES_H
#define NB2PIPE_NAMES_H

#include <stddef.h>
#include <stdint.h>

typedef uint32_t nb_name;
enum { NB_NO_NAME = 0 };

typedef struct nb_names nb_names;

nb_names *nb_names_new(void);
void nb_names_free(nb_names *names);

/* Returns the id of the LEN bytes at S, adding them if they are new. */
nb_name nb_names_intern(nb_names *names, const char *s, size_t len);
/* Returns the id of S, or NB_NO_NAME when it was never interned. */
nb_name nb_names_find(const nb_names *names, const char *s, size_t len);
/* The NUL-terminated text of ID; valid until nb_names_free. */
const char *nb_names_str(const nb_names *names, nb_name id);
size_t nb_names_len(const nb_names *names, nb_name id);
/* The largest id handed out so far (ids run from 1 to this). */
size_t nb_names_count(const nb_names *names);

#endif
