/* libFuzzer target: the magic classifier (magics.c) on one cell's text. Checks the
 * promise of magics.h that the translation has exactly as many lines as the cell, so
 * that positions in the Python point at the cell's own lines. */
#include "nb2pipe/magics.h"
#include "nb2pipe/text.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t count_lines(const char *s, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        n += s[i] == '\n';
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static nb_magics *magics;
    if (!magics)
        magics = nb_magics_new(); /* compiled once, as a program does */
    /* the reader hands out valid UTF-8 without NUL bytes (notebook.c): only such text
     * reaches the classifier */
    const char *src = (const char *)data;
    if (nb_utf8_check(src, size) != size || memchr(src, 0, size))
        return -1;
    /* an exact-size copy, NUL-terminated as the reader's strings are, so that reading
     * past the end is caught */
    char *cell = malloc(size + 1);
    memcpy(cell, src, size);
    cell[size] = '\0';
    nb_magic_result res;
    nb_magic_result_init(&res);
    nb_magics_translate(magics, cell, size, &res);
    size_t in = count_lines(cell, size), out = count_lines(res.python.data, res.python.len);
    if (in != out) {
        fprintf(stderr, "magics: %zu lines in, %zu lines out\n", in, out);
        abort();
    }
    for (size_t i = 0; i < res.nmagics; i++)
        if (res.magics[i].line < 1 || (size_t)res.magics[i].line > in + 1 || res.magics[i].col < 1) {
            fprintf(stderr, "magics: magic %zu at %d:%d, cell of %zu lines\n", i,
                    res.magics[i].line, res.magics[i].col, in + 1);
            abort();
        }
    nb_magic_result_release(&res);
    free(cell);
    return 0;
}
