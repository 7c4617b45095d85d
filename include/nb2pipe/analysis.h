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
    NB_BUILTIN,          /* a builtin no cell redefines */
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

/* Why a cell changes an object in place. */
typedef enum nb_change_reason {
    NB_CHANGE_DIRECT, /* its own code: x[i] = v, model.fit(X), x += 1 */
    NB_CHANGE_CALL,   /* a notebook function or method it calls (OTHER) changes it */
    NB_CHANGE_ALIAS,  /* it shares an object with OTHER, which the cell changes or links */
} nb_change_reason;

/* A name whose object a cell changes in place: a new version of it for later cells. */
typedef struct nb_touch {
    nb_name name;
    nb_change_reason reason;
    nb_name other; /* NB_CHANGE_CALL: the function; NB_CHANGE_ALIAS: the name it shares with */
    int line, col;
} nb_touch;

/* A top-level statement that sets interpreter state later cells depend on
 * (pd.set_option, np.random.seed, os.environ[k] = v...): replayed at the start of
 * every later step. */
typedef struct nb_state_stmt {
    uint32_t stmt;
    int line, col;
    const char *what; /* canonical: "pandas.set_option", "os.environ" */
} nb_state_stmt;

/* A file a cell reads or writes, for the order of steps that share no variable. */
typedef struct nb_file_access {
    const char *path; /* a literal path, normalised ("out/clean.csv"); NULL: not known */
    bool write;
    int line, col;
    const char *what; /* the call, as written: "df.to_csv", "pd.read_csv", "open" */
} nb_file_access;

/* The alias group of a name at the end of the cell that binds or changes it: names
 * with equal groups at the same cell share objects and cross steps in one file. */
typedef struct nb_group_entry {
    nb_name name;
    uint32_t group;
} nb_group_entry;

/* A name bound to a value no serializer can save. */
typedef struct nb_unpicklable {
    nb_name name;
    int line, col;
    const char *what; /* "a generator", "xgboost.DMatrix" */
} nb_unpicklable;

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
    nb_implied *implied;    /* globals read by the functions and classes it uses, and
                               names whose objects it changes without naming them */
    size_t nimplied;
    nb_provider *builtin_providers; /* one per facts.builtin_uses entry: NB_PROVIDED when
                                       a cell of the notebook defines that name itself */
    nb_touch *touches;      /* names whose objects it changes, directly, in calls, or
                               through the aliases of what it changes */
    size_t ntouches;
    nb_ref *rebinds;        /* globals the functions it calls rebind: definitions */
    size_t nrebinds;
    nb_state_stmt *state;   /* statements setting interpreter state */
    size_t nstate;
    nb_file_access *files;
    size_t nfiles;
    const char **submodules; /* submodules it reaches as attributes of a package that no
                                cell imports them with (matplotlib.pyplot after `import
                                matplotlib`): a library imported them in the notebook */
    size_t nsubmodules;
    nb_group_entry *groups; /* the alias group of each name it binds or changes */
    size_t ngroups;
    nb_unpicklable *unpicklable; /* names it binds to values no serializer can save */
    size_t nunpicklable;
    bool seeds_random;      /* seeds a global random generator */
    bool draws_random;      /* draws from one after a seed: the random state flows */
} nb_code_cell;

typedef struct nb_analysis {
    const nb_notebook *nb;
    nb_names *names;
    /* "random-state": a pseudo-name, never an identifier, for the global random
     * generators' state, which flows from a cell that seeds or draws to the next one
     * that draws as data does */
    nb_name random_state;
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
