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
    /* mutations only: the method whose call changes the object, when the change depends
     * on what that method does (a method a notebook class defines may leave its receiver
     * alone); NB_NO_NAME when the change is certain (x[i] = v, inplace=True) */
    nb_name via;
    /* mutations only: the object is changed through the result of calling the function
     * THROUGH with it as an argument (`clf = make(n); clf.fit(X)`): it changes only if
     * that function hands its argument back, which a notebook function may; NB_NO_NAME
     * for a change of the object itself */
    nb_name through;
} nb_ref;

/* What a value may share objects with (its "roots"). At module level a root is a name
 * bound before the cell; inside a function body, a global name or one of the function's
 * own parameters (nb_root_param). */
typedef int32_t nb_root;
#define NB_ROOT_NONE INT32_MIN

static inline nb_root nb_root_param(size_t index)
{
    return -(nb_root)index - 1;
}

static inline bool nb_root_is_param(nb_root root)
{
    return root < 0 && root != NB_ROOT_NONE;
}

static inline size_t nb_root_param_index(nb_root root)
{
    return (size_t)(-(root + 1));
}

/* One way a value may share objects: with ROOT itself (VIA is NB_NO_NAME), or through
 * the result of calling the function named VIA with ROOT's value as an argument. ROOT is
 * NB_ROOT_NONE for what such a call may return of its own (a global the function reads).
 * HERE (module level only): ROOT is a name this cell binds, and the share is with the
 * object the cell binds it to, not with ROOT's value from before the cell. */
typedef struct nb_share {
    nb_root root;
    nb_name via;
    bool here;
} nb_share;

typedef struct nb_shares {
    const nb_share *items;
    size_t n;
} nb_shares;

typedef struct nb_def {
    nb_name name;
    int line, col;        /* where the cell first binds it */
    nb_binding_kind kind; /* of the cell's last binding of it */
    uint32_t stmt;        /* top-level statement of that last binding */
    nb_shares shares;     /* what the value it is left bound to may share (an alias:
                             `m = models["rf"]`, `for df in combine`, `v = arr[:, 1]`) */
    bool generator;       /* bound to a generator expression: nothing can pickle it */
    const char *made_by;  /* the value is the result of calling this chain of names
                             ("xgb.DMatrix"), or NULL */
    const char *made_from; /* that call's first argument, when a string literal */
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

/* An argument of a call. */
typedef struct nb_arg {
    nb_name keyword;     /* NB_NO_NAME for a positional argument */
    nb_name name;        /* the argument when it is a plain name, else NB_NO_NAME */
    nb_shares shares;    /* what its value may share */
    const char *literal; /* the value of a plain string literal, else NULL */
} nb_arg;

/* A call the code makes: f(...) or x.m(...). Which calls matter (a notebook function
 * with effects, a seed, a file write, exec) is decided later, with the whole notebook
 * in view (effects.c, fileio.c). */
typedef struct nb_call {
    nb_name callee;      /* f(...): f; NB_NO_NAME when the callee is not a plain name */
    nb_name method;      /* x.m(...): m; else NB_NO_NAME */
    const char *path;    /* the callee as dotted names ("np.random.seed", "df.to_csv",
                            "open"), or NULL when it is not a chain of names */
    nb_shares receiver;  /* x.m(...): what x may share */
    const char *receiver_literal; /* x.m(...) where x holds a call with a string literal
                                     argument: "out" in pathlib.Path("out").mkdir() */
    bool receiver_import;         /* x is __import__(MODULE): receiver_literal is MODULE
                                     (how translated magics call subprocess, runpy, os) */
    const nb_arg *args;
    size_t nargs;
    int line, col;
    uint32_t stmt;       /* module level: the top-level statement it is in */
    bool whole_stmt;     /* module level: the call is that whole statement */
    bool discarded;      /* its result is not used (an expression statement) */
} nb_call;

/* An assignment into an attribute or item of a dotted chain of names rooted in a name
 * the code does not bind itself: `os.environ["X"] = "1"`, `plt.rcParams[k] = v`,
 * `pd.options.display.precision = 2`. */
typedef struct nb_store {
    const char *path; /* "os.environ", "plt.rcParams", "pd.options.display" */
    int line, col;
    uint32_t stmt;
    bool whole_stmt;
} nb_store;

/* A change in place of ROOT's object inside a function body (see nb_ref.via and
 * nb_ref.through). */
typedef struct nb_change {
    nb_root root;
    nb_name via;
    nb_name through;
    int line, col;
} nb_change;

/* What running some code does beyond binding names: the calls it makes, the objects it
 * changes and makes share, what it returns. For a cell's module-level code (changes are
 * then the cell's `mutations`) and for each function and method body. */
typedef struct nb_effects {
    const nb_change *changes; /* function bodies: params and globals changed in place */
    size_t nchanges;
    const nb_shares *links; /* sets of roots made to share: `d[k] = v`, `items.append(v)` */
    size_t nlinks;
    const nb_call *calls;
    size_t ncalls;
    const nb_store *stores;
    size_t nstores;
    const nb_name *rebinds; /* function bodies: globals assigned through `global` */
    size_t nrebinds;
    nb_shares returns;      /* function bodies: what the result may share */
    const nb_name *params;  /* function bodies: parameter names, in order */
    size_t nparams;
} nb_effects;

/* A method of a class the notebook defines. */
typedef struct nb_method {
    nb_name name;
    int line;
    nb_effects effects; /* parameter 0 is the receiver (self) */
} nb_method;

/* A top-level def or class (or NAME = lambda), with the global names it reads: its
 * body's free names, and its decorators, defaults and bases. */
typedef struct nb_definition {
    nb_name name;
    nb_binding_kind kind; /* NB_BIND_FUNCTION or NB_BIND_CLASS */
    int line;
    uint32_t stmt;
    nb_name *reads;
    size_t nreads;
    nb_effects effects; /* functions: what a call of it does */
    const nb_method *methods; /* classes: the methods defined in the class body */
    size_t nmethods;
    bool generator;           /* functions: the body yields, so a call makes a generator */
    bool memoized;            /* functions: a caching decorator (functools.lru_cache...)
                                 keeps state in the function object */
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
    nb_use *builtin_uses; /* reads of builtin names (sum, len...): uses only when a cell
                             of the notebook defines the name itself */
    size_t nbuiltin_uses;
    nb_effects effects;   /* of the module-level code (including comprehensions, class
                             bodies and lambdas it passes to calls) */
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
