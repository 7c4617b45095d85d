/* elide: a notebook's JSON text with its cells' outputs cut out, before it is parsed.
 *
 * Outputs (tables, base64 images) are most of a notebook's bytes, and analyze, convert
 * and a default clean never look at them. Building jansson values for them is most of
 * the time and memory of reading a big notebook; skimming over them is not. */
#ifndef NB2PIPE_ELIDE_H
#define NB2PIPE_ELIDE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct nb_elided {
    char *text; /* the notebook with each cell's "outputs": [...] value written as [] */
    size_t len;
    /* per cell of the top-level "cells" array, the byte span of its outputs array in
     * the original text; start == end when that cell's outputs were not elided */
    size_t *start, *end;
    size_t ncells;
} nb_elided;

/* Cuts out the outputs arrays of the cells of DATA, which must be valid UTF-8 without
 * NUL bytes. Returns false, with nothing to release, whenever it is not sure that the
 * original parses as the elided text does except for the outputs: invalid JSON
 * anywhere, anything jansson might refuse inside an output (a lone surrogate, a number
 * out of range, very deep nesting), duplicate "cells" or "outputs" keys. The caller
 * then parses DATA itself, which reports any error exactly. */
bool nb_elide_outputs(const char *data, size_t len, nb_elided *out);

/* The elided text parsed into jansson values, the same values json_loadb gives (with
 * JSON_DECODE_ANY | JSON_ALLOW_NUL), made several times faster because the text was
 * checked when it was cut. NULL if anything is amiss; json_loadb then decides. */
json_t *nb_elided_parse(const nb_elided *e);

void nb_elided_release(nb_elided *e);

#endif
