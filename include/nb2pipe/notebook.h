/* The notebook reader: nbformat 4.0-4.5 JSON (and 3 and 2, upgraded in memory the way
 * nbformat upgrades them) into a model of cells that the rest of nb2pipe reads. */
#ifndef NB2PIPE_NOTEBOOK_H
#define NB2PIPE_NOTEBOOK_H

#include "nb2pipe/alloc.h"
#include "nb2pipe/diag.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

typedef enum nb_cell_type { NB_CELL_CODE, NB_CELL_MARKDOWN, NB_CELL_RAW } nb_cell_type;

typedef struct nb_cell {
    int number; /* 1-based position among all cells; what diagnostics call "cell N" */
    nb_cell_type type;
    const char *id;     /* nbformat 4.5 cell id, or NULL */
    const char *source; /* the cell text: list items joined, CRLF turned into LF */
    size_t source_len;
    const char **tags; /* metadata.tags, in file order */
    size_t ntags;
} nb_cell;

typedef struct nb_notebook {
    const char *path;
    int nbformat, nbformat_minor; /* as found in the file, before any upgrade */
    const char *language;         /* kernel language in lower case, or "unknown" */
    const char *kernel_name;      /* metadata.kernelspec.name, or NULL */
    nb_cell *cells;
    size_t ncells;
    json_t *json; /* the parsed document; only kept when asked for (clean needs it) */
    /* with nb_read_opts.elide_outputs: per cell of json's "cells", the byte span of the
     * outputs array that was cut from the text before parsing (json holds [] there);
     * start == end when nothing was cut. NULL when nothing was. */
    size_t *elided_start, *elided_end;
    size_t nelided;
    nb_pool pool; /* everything above lives here */
} nb_notebook;

enum { NB_DEFAULT_MAX_BYTES = 256 * 1024 * 1024 };

typedef struct nb_read_opts {
    size_t max_bytes; /* larger files are refused; 0 means NB_DEFAULT_MAX_BYTES */
    bool keep_json;   /* keep the parsed JSON in nb_notebook.json */
    /* with keep_json: cut the cells' outputs from the text before parsing it (elide.h),
     * when that is safe; nb_notebook_elided_outputs gives them back. Without keep_json
     * outputs are always cut: nothing looks at them. */
    bool elide_outputs;
} nb_read_opts;

/* Reads the notebook at PATH. Returns NULL after recording an error in DIAGS when the
 * file cannot be read or is not a notebook nb2pipe understands; warnings (a newer
 * minor version, say) may be recorded on success too. OPTS may be NULL. The caller
 * frees the result with nb_notebook_free. */
nb_notebook *nb_notebook_read_file(const char *path, const nb_read_opts *opts, nb_diags *diags);

/* Same, from LEN bytes at DATA; PATH only names the notebook in messages. */
nb_notebook *nb_notebook_read_mem(const char *path, const char *data, size_t len,
                                  const nb_read_opts *opts, nb_diags *diags);

/* Opens the notebook file at PATH for nb_notebook_read_mem, within OPTS's size limit
 * (OPTS may be NULL). Returns 0, or -1 after recording the error (too-large, io-error)
 * in DIAGS. Release VIEW with nb_file_view_release. */
int nb_notebook_open_file(const char *path, const nb_read_opts *opts, nb_file_view *view,
                          nb_diags *diags);

/* The outputs of cell INDEX (0-based, in json's "cells") that were cut before parsing,
 * parsed now from DATA, the text NB was read from (it must still be there); NULL when
 * that cell's outputs were not cut. */
json_t *nb_notebook_elided_outputs(const nb_notebook *nb, const char *data, size_t index);

void nb_notebook_free(nb_notebook *nb);

/* True when the kernel language is Python, or unknown (the notebook does not say; a
 * Jupyter default kernel is Python). */
bool nb_notebook_is_python(const nb_notebook *nb);

/* Number of cells of TYPE. */
size_t nb_notebook_count(const nb_notebook *nb, nb_cell_type type);

const char *nb_cell_type_name(nb_cell_type type);

/* The cells of a notebook's parsed JSON, in order: its "cells" (nbformat 4) or those
 * of every worksheet (nbformat 3 and 2). Returns a malloc'd array the caller frees (the
 * cells stay ROOT's), and their number in *NCELLS. */
json_t **nb_notebook_json_cells(json_t *root, size_t *ncells);

/* What nbformat does to a notebook's JSON (nbformat 4 or 3) when it reads it, as that
 * version's reader does: multiline string lists joined into strings, transient keys
 * (nbformat 4: signature, orig_nbformat in the metadata; nbformat 3: orig_nbformat at
 * the top level; both: a cell's "trusted") dropped. Changes ROOT. */
void nb_notebook_normalize(json_t *root);

/* Appends ROOT as nbformat.write writes it in ROOT's own version (4 or 3): multiline
 * strings split with Python's str.splitlines(True), json.dumps(indent=1,
 * sort_keys=True) with Python's number formatting (nbformat 4 with ensure_ascii=False;
 * nbformat 3 escapes non-ASCII, as its writer keeps json's default), and a final
 * newline. Changes ROOT (the splitting). */
void nb_notebook_write_json(json_t *root, nb_buf *out);

#endif
