/* clean: strip a notebook the way nbstripout does by default (outputs, execution
 * counts, volatile metadata), keeping everything else, and write it as nbformat does. */
#ifndef NB2PIPE_CLEAN_H
#define NB2PIPE_CLEAN_H

#include "nb2pipe/buf.h"
#include "nb2pipe/diag.h"
#include "nb2pipe/notebook.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct nb_clean_opts {
    bool keep_output; /* keep outputs (nbstripout --keep-output) */
    bool keep_count;  /* keep execution counts (--keep-count) */
    /* metadata keys to keep although stripped by default, or to strip as well, as
     * dotted paths: "metadata.KEY..." (the notebook's) or "cell.metadata.KEY..." */
    const char *const *keep_metadata;
    size_t nkeep_metadata;
    const char *const *drop_metadata;
    size_t ndrop_metadata;
} nb_clean_opts;

/* Cleans NB, read with nb_read_opts.keep_json (and elide_outputs unless OPTS keeps
 * outputs) from DATA, which must still be there: puts back the outputs it keeps,
 * normalises, strips and appends the notebook to OUT as nbformat writes it, in its own
 * version (4 or 3). Returns 0, or -1 after recording an error in DIAGS (nbformat 2, a
 * contradictory keep_output). Changes NB->json. OPTS may be NULL. */
int nb_clean_notebook(nb_notebook *nb, const char *data, const nb_clean_opts *opts,
                      nb_diags *diags, nb_buf *out);

/* Strips ROOT, a notebook's parsed JSON (nbformat 4 or 3, normalised with
 * nb_notebook_normalize), in place. Returns 0, or -1 after recording an error (a cell
 * whose keep_output metadata contradicts its tags, as nbstripout refuses) in DIAGS
 * against PATH. OPTS may be NULL. */
int nb_clean_strip(json_t *root, const nb_clean_opts *opts, const char *path, nb_diags *diags);

/* Puts back the outputs that reading NB cut out (nb_read_opts.elide_outputs) for every
 * cell whose outputs nb_clean_strip with OPTS keeps; DATA is the text NB was read from.
 * Call it before nb_notebook_normalize. The other cells keep [], as stripping leaves
 * them anyway. */
void nb_clean_restore_outputs(nb_notebook *nb, const char *data, const nb_clean_opts *opts);

/* Checks a --keep-metadata/--drop-metadata path: "metadata.X" or "cell.metadata.X". */
bool nb_clean_valid_key(const char *key);

#endif
