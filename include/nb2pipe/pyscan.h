/* pyscan: what one code cell defines, uses and mutates, read from its tree-sitter
 * syntax tree (DESIGN §3). Each cell is parsed exactly once; the facts keep byte
 * ranges of top-level statements so later stages can carry imports and definitions
 * into other steps without parsing again. */
#ifndef NB2PIPE_PYSCAN_H
#define NB2PIPE_PYSCAN_H

#include "nb2pipe/alloc.h"
#include "nb2pipe/diag.h"
#include "nb2pipe/names.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What a binding holds: code (imports, functions, classes) is carried to other steps as
 * source; data is passed between steps as files. */
typedef enum nb_binding_kind {
    NB_BIND_DATA,
    NB_BIND_IMPORT,
    NB_BIND_FUNCTION, /* def, or NAME = lambda ... */
    NB_BIND_CLASS,
} nb_binding_kind;

/* A name at a place in the cell (1-based line and character column). */
typedef struct nb_ref {
    nb_name name;
    int line, col;
} nb_ref;

typedef struct nb_def {
    nb_name name;
    int line, col;        /* where the cell first binds it */
    nb_binding_kind kind; /* of the cell's last binding of it */
    uint32_t stmt;        /* top-level statement of that last binding */
} nb_def;

typedef struct nb_use {
    nb_name name;
    int line, col; /* the first read */
    /* read only inside a function or lambda body: it resolves when the function is
     * called, not when the cell runs */
    bool deferred;
} nb_use;

typedef struct nb_import {
    const char *module; /* "a.b.c"; relative imports keep their dots: "..pkg" */
    const char *name;   /* the imported name for `from m import name`, "*", or NULL */
    nb_name bound;      /* the name it binds (NB_NO_NAME for `import *`) */
    int line;
} nb_import;

/* A top-level def or class (or NAME = lambda), with the global names it reads: its
 * body's free names, and its decorators, defaults and bases. */
typedef struct nb_definition {
    nb_name name;
    nb_binding_kind kind; /* NB_BIND_FUNCTION or NB_BIND_CLASS */
    int line;
    uint32_t stmt;
    nb_name *reads;
    size_t nreads;
} nb_definition;

/* A top-level statement: its whole lines, and whether it is code. */
typedef struct nb_stmt {
    uint32_t start, end; /* byte range in the analysed text, whole lines with newline */
    int first_line, last_line;
    nb_binding_kind kind; /* NB_BIND_DATA unless it imports or defines a function/class */
} nb_stmt;

typedef enum nb_literal_type {
    NB_LIT_NONE,
    NB_LIT_BOOL,
    NB_LIT_INT,
    NB_LIT_FLOAT,
    NB_LIT_STRING,
} nb_literal_type;

/* A top-level `NAME = literal` (or `NAME: T = literal`): what a parameters cell holds. */
typedef struct nb_literal {
    nb_name name;
    nb_literal_type type;
    const char *text;  /* as written: "0.2", "'titanic.csv'", "-1", "True" */
    const char *value; /* the value as text: numbers as written, strings decoded,
                          "True"/"False", "None" */
    uint32_t stmt;
} nb_literal;

typedef struct nb_facts {
    nb_def *defs; /* in order of first binding; what the cell leaves bound */
    size_t ndefs;
    nb_use *uses; /* names read before the cell binds them, in order of first read */
    size_t nuses;
    nb_ref *mutations; /* names whose object the cell changes in place */
    size_t nmutations;
    nb_ref *deletes; /* names the cell leaves unbound (`del x`) */
    size_t ndeletes;
    nb_import *imports;
    size_t nimports;
    nb_definition *definitions;
    size_t ndefinitions;
    nb_stmt *stmts;
    size_t nstmts;
    nb_literal *literals; /* top-level assignments of a literal, in order */
    size_t nliterals;
    bool star_import;   /* `from m import *`: binds names nobody can list */
    bool displays_only; /* only expression statements that show values (df.head()) */
    bool parsed;      /* false when the cell has a syntax error; the rest is empty */
} nb_facts;

typedef struct nb_pyscan nb_pyscan;

/* A scanner interning names into NAMES (which must outlive it). */
nb_pyscan *nb_pyscan_new(nb_names *names);
void nb_pyscan_free(nb_pyscan *scan);

/* Analyses the LEN bytes of Python at TEXT (a cell after magic translation) into OUT,
 * whose arrays are allocated in POOL. A syntax error, Python 2 code or nesting too deep
 * to analyse is recorded as one diagnostic in DIAGS at LOC plus line:col (LOC.file and
 * LOC.cell name the cell; no source line is attached) and gives -1 with OUT->parsed
 * false; otherwise returns 0. */
int nb_pyscan_cell(nb_pyscan *scan, const char *text, size_t len, nb_pool *pool, nb_facts *out,
                   nb_diags *diags, nb_loc loc);

/* True for Python's builtins and the names IPython injects (display, get_ipython, In,
 * Out...): reading them is not a use. */
bool nb_pyscan_is_builtin(const nb_pyscan *scan, nb_name name);

const char *nb_binding_kind_name(nb_binding_kind kind);

#endif
