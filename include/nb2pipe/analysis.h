/* The analysis of a whole notebook: every code cell translated (magics.h) and scanned
 * (pyscan.h), and every use bound to the cell that provides it. This is what
 * `nb2pipe analyze` prints and what segmentation and dataflow build on. */
#ifndef NB2PIPE_ANALYSIS_H
#define NB2PIPE_ANALYSIS_H

#include "nb2pipe/diag.h"
#include "nb2pipe/magics.h"
#include "nb2pipe/names.h"
#include "nb2pipe/notebook.h"
#include "nb2pipe/pyscan.h"

#include <stdbool.h>
#include <stddef.h>

typedef enum nb_provider_status {
    NB_PROVIDED,         /* an earlier cell defines (or last changed) the name */
    NB_DEFINED_LATER,    /* only a later cell defines it */
    NB_UNDEFINED,        /* no cell defines it */
    NB_FROM_STAR_IMPORT, /* no cell defines it, but an earlier `import *` may */
    NB_ALLOWED,          /* no cell defines it; the user said the runtime provides it */
    NB_DELETED,          /* an earlier cell deleted it with `del` */
} nb_provider_status;

/* Where the value a use reads comes from. */
typedef struct nb_provider {
    nb_provider_status status;
    int cell; /* number of the providing cell (the later definer, the star import, the
                 deleting cell); 0 when there is none */
    nb_binding_kind kind; /* NB_PROVIDED: what the providing binding holds (code or data);
                             a cell that changes a value in place provides data */
} nb_provider;

/* A global read by a function or class the cell uses: calling extract_title() in a cell
 * makes the TITLE_MAP its body reads a use of that cell. */
typedef struct nb_implied {
    nb_name name;
    nb_name via; /* the function or class used */
    nb_provider provider;
} nb_implied;

typedef struct nb_code_cell {
    const nb_cell *cell; /* in the notebook */
    const char *python;  /* the cell as Python: magics translated, line for line */
    size_t python_len;
    const nb_magic *magics;
    size_t nmagics;
    const char *const *packages; /* from %pip/!pip install */
    size_t npackages;
    nb_facts facts;
    /* filled by nb_analysis_resolve: */
    bool excluded;          /* not part of the program (a Kale `skip` cell) */
    nb_provider *providers; /* one per facts.uses entry */
    nb_implied *implied;    /* globals read by the functions and classes it uses */
    size_t nimplied;
} nb_code_cell;

typedef struct nb_analysis {
    const nb_notebook *nb;
    nb_names *names;
    nb_pyscan *scan;
    nb_code_cell *cells; /* the code cells, in notebook order */
    size_t ncells;
    size_t failed_cells; /* cells with a syntax error (their facts are empty) */
    nb_pool pool;
} nb_analysis;

typedef struct nb_analysis_opts {
    const char *const *allow_undefined; /* names the runtime injects (--allow-undefined) */
    size_t nallow_undefined;
    const bool *exclude; /* by index into nb_analysis.cells: cells that are not part of
                            the program (Kale `skip`); NULL for none */
} nb_analysis_opts;

/* Translates the magics of every code cell of NB (which must outlive the result) and
 * scans it. Syntax errors and unsupported magics are recorded in DIAGS; the failing
 * cells' facts are empty. Free the result with nb_analysis_free. */
nb_analysis *nb_analysis_scan(const nb_notebook *nb, nb_diags *diags);

/* Binds every use of every included cell to the cell that provides it, in notebook
 * order, and works out the implied uses. Names used before their definition, never
 * defined, or used after `del` are recorded in DIAGS. Call once per analysis. OPTS may
 * be NULL. */
void nb_analysis_resolve(nb_analysis *an, const nb_analysis_opts *opts, nb_diags *diags);

/* nb_analysis_scan followed by nb_analysis_resolve. */
nb_analysis *nb_analysis_run(const nb_notebook *nb, const nb_analysis_opts *opts, nb_diags *diags);

void nb_analysis_free(nb_analysis *an);

/* The code cell with notebook cell number NUMBER, or NULL. */
const nb_code_cell *nb_analysis_cell(const nb_analysis *an, int number);

/* The def of NAME in CELL's facts, or NULL. */
const nb_def *nb_code_cell_def(const nb_code_cell *cell, nb_name name);

const char *nb_provider_status_name(nb_provider_status status);

#endif
