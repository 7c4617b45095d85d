/* Which PyPI distribution provides an import, and which imports are the standard library. */
#ifndef NB2PIPE_PYDIST_H
#define NB2PIPE_PYDIST_H

#include <stdbool.h>
#include <stddef.h>

/* True when top-level module name MODULE (LEN bytes, not NUL-terminated) is part of Python 3's
 * standard library (any of 3.8-3.13), including private ones like _thread, and __future__. */
bool nb_pydist_is_stdlib(const char *module, size_t len);

/* The distribution to pip-install for top-level import MODULE (LEN bytes): e.g. "sklearn" ->
 * "scikit-learn", "cv2" -> "opencv-python", "PIL" -> "Pillow", "yaml" -> "PyYAML", "bs4" ->
 * "beautifulsoup4"; NULL when no mapping is known (the caller then uses the module name). Static storage. */
const char *nb_pydist_distribution(const char *module, size_t len);

/* The tables themselves, entry by entry in their (sorted) order, so that tests check
 * them without keeping copies: I < the count. */
size_t nb_pydist_stdlib_count(void);
const char *nb_pydist_stdlib_name(size_t i);
size_t nb_pydist_distribution_count(void);
void nb_pydist_distribution_entry(size_t i, const char **module, const char **dist);

#endif
