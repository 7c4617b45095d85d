/* libFuzzer target: the notebook reader (notebook.c, elide.c) on arbitrary bytes, and
 * what `nb2pipe clean` does with a notebook it read (normalise, strip, write back as
 * nbformat does). Cutting the outputs out before parsing (elide.c) is an optimisation,
 * so it is checked differentially: the reader must accept and refuse the same inputs
 * and give the same cells with and without it, and clean must write the same bytes. */
#include "nb2pipe/buf.h"
#include "nb2pipe/clean.h"
#include "nb2pipe/diag.h"
#include "nb2pipe/notebook.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what)
{
    fprintf(stderr, "reader: %s\n", what);
    abort();
}

static bool same_cells(const nb_notebook *a, const nb_notebook *b)
{
    if (a->ncells != b->ncells || a->nbformat != b->nbformat ||
        strcmp(a->language, b->language) != 0)
        return false;
    for (size_t i = 0; i < a->ncells; i++) {
        const nb_cell *x = &a->cells[i], *y = &b->cells[i];
        if (x->type != y->type || x->source_len != y->source_len ||
            memcmp(x->source, y->source, x->source_len) != 0 || x->ntags != y->ntags)
            return false;
        for (size_t t = 0; t < x->ntags; t++)
            if (strcmp(x->tags[t], y->tags[t]) != 0)
                return false;
    }
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    nb_diags diags;
    nb_diags_init(&diags);
    /* analyze and convert: no JSON kept, outputs always cut */
    nb_read_opts plain = { 0 };
    nb_notebook *a = nb_notebook_read_mem("fuzz.ipynb", text, size, &plain, &diags);
    /* clean --keep-output: the whole document parsed */
    nb_read_opts whole = { .keep_json = true };
    nb_notebook *b = nb_notebook_read_mem("fuzz.ipynb", text, size, &whole, &diags);
    /* clean: outputs cut when they are to be stripped */
    nb_read_opts cut = { .keep_json = true, .elide_outputs = true };
    nb_notebook *c = nb_notebook_read_mem("fuzz.ipynb", text, size, &cut, &diags);
    if (!a != !b || !b != !c)
        fail("the reader accepts with elided outputs what it refuses without, or back");
    if (a && (!same_cells(a, b) || !same_cells(b, c)))
        fail("cells differ with and without elided outputs");
    if (b) {
        /* the input's length picks whether outputs are kept, so both are fuzzed */
        nb_clean_opts strip = { .keep_output = size & 1 };
        nb_buf ob = NB_BUF_INIT, oc = NB_BUF_INIT;
        int cb = nb_clean_notebook(b, text, &strip, &diags, &ob);
        int cc = nb_clean_notebook(c, text, &strip, &diags, &oc);
        if (cb != cc || !nb_buf_equals(&ob, oc.data, oc.len))
            fail("clean writes other bytes when outputs were elided");
        nb_buf_release(&ob);
        nb_buf_release(&oc);
    }
    nb_notebook_free(a);
    nb_notebook_free(b);
    nb_notebook_free(c);
    /* rendering diagnostics is part of every failing read */
    nb_buf rendered = NB_BUF_INIT;
    nb_diags_render_text(&diags, &rendered, false);
    nb_buf_release(&rendered);
    json_t *doc = nb_diags_to_json(&diags);
    json_decref(doc);
    nb_diags_release(&diags);
    return 0;
}
