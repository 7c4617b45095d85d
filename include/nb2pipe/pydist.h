/* Which PyPI distribution provides an import, and which imports are the standard library. */
#ifndef NB2PIPE_PYDIST_H
#define NB2PIPE_PYDIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* True when top-level module name MODULE (LEN bytes, not NUL-terminated) is part of Python 3's
 * standard library (any of 3.8-3.13), including private ones like _thread, and __future__. */
bool nb_pydist_is_stdlib(const char *module, size_t len);

/* The distribution to pip-install for top-level import MODULE (LEN bytes): e.g. "sklearn" ->
 * "scikit-learn", "cv2" -> "opencv-python", "PIL" -> "Pillow", "yaml" -> "PyYAML", "bs4" ->
 * "beautifulsoup4"; NULL when no mapping is known (the caller then uses the module name). Static storage. */
const char *nb_pydist_distribution(const char *module, size_t len);

/* The names `from MODULE import *` binds, for a standard-library MODULE ("math",
 * "os.path"): a pointer to the first of *COUNT entries of nb_stdlib_exports, sorted by
 * name; NULL (and 0) for other modules. The table (src/stdlib_exports.c) is generated
 * from /usr/bin/python3 by scripts/gen_stdlib_exports.py. */
typedef struct nb_star_export {
    uint32_t module, name; /* offsets into nb_stdlib_strings */
} nb_star_export;

const nb_star_export *nb_pydist_star_names(const char *module, size_t *count);

/* The name an entry of nb_stdlib_exports exports. */
const char *nb_star_export_name(const nb_star_export *entry);

extern const char nb_stdlib_strings[];
extern const nb_star_export nb_stdlib_exports[];
extern const size_t nb_stdlib_exports_count;

/* The tables themselves, entry by entry in their (sorted) order, so that tests check
 * them without keeping copies: I < the count. */
size_t nb_pydist_stdlib_count(void);
const char *nb_pydist_stdlib_name(size_t i);
size_t nb_pydist_distribution_count(void);
void nb_pydist_distribution_entry(size_t i, const char **module, const char **dist);

#endif
