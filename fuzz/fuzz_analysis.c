/* libFuzzer target: the per-cell analyzer, as `nb2pipe analyze` runs it: each code
 * cell's magics translated (magics.c), scanned with tree-sitter (pyscan.c), columns
 * mapped back to the cell (analysis.c), then every use resolved across cells. The input
 * is up to 16 cells separated by NUL bytes (which the reader never lets into a cell). */
#include "nb2pipe/analysis.h"
#include "nb2pipe/buf.h"
#include "nb2pipe/notebook.h"
#include "nb2pipe/text.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { MAX_CELLS = 16 };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *src = (const char *)data;
    /* the reader only hands out valid UTF-8 with CRLF turned into LF (notebook.c) */
    if (nb_utf8_check(src, size) != size)
        return -1;
    nb_cell cells[MAX_CELLS];
    char *texts[MAX_CELLS];
    size_t n = 0;
    for (size_t start = 0; start <= size && n < MAX_CELLS;) {
        const char *nul = memchr(src + start, 0, size - start);
        size_t end = nul ? (size_t)(nul - src) : size;
        /* an exact-size, NUL-terminated copy, so that reading past the end is caught */
        char *t = malloc(end - start + 1);
        size_t len = 0;
        for (size_t i = start; i < end; i++)
            if (!(src[i] == '\r' && i + 1 < end && src[i + 1] == '\n'))
                t[len++] = src[i];
        t[len] = '\0';
        texts[n] = t;
        cells[n] = (nb_cell){ .number = (int)n + 1, .type = NB_CELL_CODE, .source = t,
                              .source_len = len };
        n++;
        start = end + 1;
        if (!nul)
            break;
    }
    nb_notebook nb = { .path = "fuzz.ipynb", .nbformat = 4, .nbformat_minor = 5,
                       .language = "python", .cells = cells, .ncells = n };
    nb_diags diags;
    nb_diags_init(&diags);
    nb_analysis *an = nb_analysis_run(&nb, NULL, &diags);
    nb_analysis_free(an);
    nb_buf text = NB_BUF_INIT;
    nb_diags_render_text(&diags, &text, false);
    nb_buf_release(&text);
    nb_diags_release(&diags);
    for (size_t i = 0; i < n; i++)
        free(texts[i]);
    return 0;
}
