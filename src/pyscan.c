/* pyscan: facts about one cell from its tree-sitter-python syntax tree.
 *
 * The walk follows Python's scoping rules. Module-level code runs top to bottom, so a
 * module-level read is a use only if the cell has not bound the name yet. Function and
 * lambda bodies run later: a name they read is local if the function binds it anywhere,
 * a closure if an enclosing function does, and otherwise a global read that resolves
 * when the function is called ("deferred"). Class bodies and comprehensions run at once,
 * in scopes of their own. */
#include "nb2pipe/pyscan.h"

#include "nb2pipe/buf.h"
#include "nb2pipe/pyknown.h"
#include "nb2pipe/text.h"
#include "pyframe.h"

#include <stdlib.h>
#include <string.h>
#include <tree_sitter/api.h>

const TSLanguage *tree_sitter_python(void);

/* ---- Node kinds ------------------------------------------------------------------ */

enum kind {
    K_OTHER,
    K_IDENTIFIER,
    K_ATTRIBUTE,
    K_SUBSCRIPT,
    K_CALL,
    K_ARGUMENT_LIST,
    K_KEYWORD_ARGUMENT,
    K_EXPRESSION_STATEMENT,
    K_ASSIGNMENT,
    K_AUGMENTED_ASSIGNMENT,
    K_IMPORT,
    K_IMPORT_FROM,
    K_FUTURE_IMPORT,
    K_ALIASED_IMPORT,
    K_DOTTED_NAME,
    K_WILDCARD_IMPORT,
    K_FUNCTION_DEFINITION,
    K_CLASS_DEFINITION,
    K_DECORATED_DEFINITION,
    K_DECORATOR,
    K_PARAMETERS,
    K_LAMBDA,
    K_LAMBDA_PARAMETERS,
    K_DEFAULT_PARAMETER,
    K_TYPED_PARAMETER,
    K_TYPED_DEFAULT_PARAMETER,
    K_LIST_SPLAT_PATTERN,
    K_DICTIONARY_SPLAT_PATTERN,
    K_TUPLE_PATTERN,
    K_LIST_PATTERN,
    K_PATTERN_LIST,
    K_TUPLE,
    K_LIST,
    K_PARENTHESIZED,
    K_LIST_SPLAT,
    K_FOR,
    K_BLOCK, /* statements and clauses that only contain other statements and expressions */
    K_EXCEPT,
    K_WITH_ITEM,
    K_AS_PATTERN,
    K_AS_PATTERN_TARGET,
    K_GLOBAL,
    K_NONLOCAL,
    K_DELETE,
    K_EXPRESSION_LIST,
    K_NAMED_EXPRESSION,
    K_COMPREHENSION, /* list, set, dict comprehensions and generator expressions */
    K_FOR_IN_CLAUSE,
    K_MATCH,
    K_CASE_CLAUSE,
    K_CLASS_PATTERN,
    K_KEYWORD_PATTERN,
    K_DICT_PATTERN,
    K_TYPE_ALIAS,
    K_PRINT,
    K_EXEC,
    K_RAISE,
    K_INTEGER,
    K_STRING,
    K_COMPARISON,
    K_CONDITIONAL,
    K_TRUE,
    K_FALSE,
    K_NONE,
    K_FLOAT,
    K_UNARY,
    K_STRING_CONTENT,
    K_ESCAPE,
    K_STRING_START,
    K_COMMENT,
    K_ERROR,
    K_RETURN,
    K_BINARY,
    K_BOOLEAN_OP,
    K_DICTIONARY,
    K_SET,
    K_PAIR,
    K_DICTIONARY_SPLAT,
    K_AWAIT,
    K_YIELD,
};

static const struct {
    const char *name;
    enum kind kind;
} kind_names[] = {
    { "identifier", K_IDENTIFIER },
    { "attribute", K_ATTRIBUTE },
    { "subscript", K_SUBSCRIPT },
    { "call", K_CALL },
    { "argument_list", K_ARGUMENT_LIST },
    { "keyword_argument", K_KEYWORD_ARGUMENT },
    { "expression_statement", K_EXPRESSION_STATEMENT },
    { "assignment", K_ASSIGNMENT },
    { "augmented_assignment", K_AUGMENTED_ASSIGNMENT },
    { "import_statement", K_IMPORT },
    { "import_from_statement", K_IMPORT_FROM },
    { "future_import_statement", K_FUTURE_IMPORT },
    { "aliased_import", K_ALIASED_IMPORT },
    { "dotted_name", K_DOTTED_NAME },
    { "wildcard_import", K_WILDCARD_IMPORT },
    { "function_definition", K_FUNCTION_DEFINITION },
    { "class_definition", K_CLASS_DEFINITION },
    { "decorated_definition", K_DECORATED_DEFINITION },
    { "decorator", K_DECORATOR },
    { "parameters", K_PARAMETERS },
    { "lambda", K_LAMBDA },
    { "lambda_parameters", K_LAMBDA_PARAMETERS },
    { "default_parameter", K_DEFAULT_PARAMETER },
    { "typed_parameter", K_TYPED_PARAMETER },
    { "typed_default_parameter", K_TYPED_DEFAULT_PARAMETER },
    { "list_splat_pattern", K_LIST_SPLAT_PATTERN },
    { "dictionary_splat_pattern", K_DICTIONARY_SPLAT_PATTERN },
    { "tuple_pattern", K_TUPLE_PATTERN },
    { "list_pattern", K_LIST_PATTERN },
    { "pattern_list", K_PATTERN_LIST },
    { "tuple", K_TUPLE },
    { "list", K_LIST },
    { "parenthesized_expression", K_PARENTHESIZED },
    { "list_splat", K_LIST_SPLAT },
    { "for_statement", K_FOR },
    { "block", K_BLOCK },
    { "while_statement", K_BLOCK },
    { "if_statement", K_BLOCK },
    { "elif_clause", K_BLOCK },
    { "else_clause", K_BLOCK },
    { "try_statement", K_BLOCK },
    { "finally_clause", K_BLOCK },
    { "with_statement", K_BLOCK },
    { "with_clause", K_BLOCK },
    { "return_statement", K_RETURN },
    { "assert_statement", K_BLOCK },
    { "pass_statement", K_BLOCK },
    { "break_statement", K_BLOCK },
    { "continue_statement", K_BLOCK },
    { "except_clause", K_EXCEPT },
    { "except_group_clause", K_EXCEPT },
    { "with_item", K_WITH_ITEM },
    { "as_pattern", K_AS_PATTERN },
    { "as_pattern_target", K_AS_PATTERN_TARGET },
    { "global_statement", K_GLOBAL },
    { "nonlocal_statement", K_NONLOCAL },
    { "delete_statement", K_DELETE },
    { "expression_list", K_EXPRESSION_LIST },
    { "named_expression", K_NAMED_EXPRESSION },
    { "list_comprehension", K_COMPREHENSION },
    { "set_comprehension", K_COMPREHENSION },
    { "dictionary_comprehension", K_COMPREHENSION },
    { "generator_expression", K_COMPREHENSION },
    { "for_in_clause", K_FOR_IN_CLAUSE },
    { "match_statement", K_MATCH },
    { "case_clause", K_CASE_CLAUSE },
    { "class_pattern", K_CLASS_PATTERN },
    { "keyword_pattern", K_KEYWORD_PATTERN },
    { "dict_pattern", K_DICT_PATTERN },
    { "type_alias_statement", K_TYPE_ALIAS },
    { "print_statement", K_PRINT },
    { "exec_statement", K_EXEC },
    { "raise_statement", K_RAISE },
    { "integer", K_INTEGER },
    { "string", K_STRING },
    { "comparison_operator", K_COMPARISON },
    { "conditional_expression", K_CONDITIONAL },
    { "true", K_TRUE },
    { "false", K_FALSE },
    { "none", K_NONE },
    { "float", K_FLOAT },
    { "unary_operator", K_UNARY },
    { "string_content", K_STRING_CONTENT },
    { "escape_sequence", K_ESCAPE },
    { "string_start", K_STRING_START },
    { "comment", K_COMMENT },
    { "ERROR", K_ERROR },
    { "binary_operator", K_BINARY },
    { "boolean_operator", K_BOOLEAN_OP },
    { "dictionary", K_DICTIONARY },
    { "set", K_SET },
    { "pair", K_PAIR },
    { "dictionary_splat", K_DICTIONARY_SPLAT },
    { "await", K_AWAIT },
    { "yield", K_YIELD },
};

/* Names Python and IPython provide in every notebook namespace. */
static const char *const builtin_names[] = {
    "ArithmeticError", "AssertionError", "AttributeError", "BaseException",
    "BaseExceptionGroup", "BlockingIOError", "BrokenPipeError", "BufferError", "BytesWarning",
    "ChildProcessError", "ConnectionAbortedError", "ConnectionError", "ConnectionRefusedError",
    "ConnectionResetError", "DeprecationWarning", "EOFError", "Ellipsis", "EncodingWarning",
    "EnvironmentError", "Exception", "ExceptionGroup", "False", "FileExistsError",
    "FileNotFoundError", "FloatingPointError", "FutureWarning", "GeneratorExit", "IOError",
    "ImportError", "ImportWarning", "IndentationError", "IndexError", "InterruptedError",
    "IsADirectoryError", "KeyError", "KeyboardInterrupt", "LookupError", "MemoryError",
    "ModuleNotFoundError", "NameError", "None", "NotADirectoryError", "NotImplemented",
    "NotImplementedError", "OSError", "OverflowError", "PendingDeprecationWarning",
    "PermissionError", "ProcessLookupError", "RecursionError", "ReferenceError",
    "ResourceWarning", "RuntimeError", "RuntimeWarning", "StopAsyncIteration", "StopIteration",
    "SyntaxError", "SyntaxWarning", "SystemError", "SystemExit", "TabError", "TimeoutError",
    "True", "TypeError", "UnboundLocalError", "UnicodeDecodeError", "UnicodeEncodeError",
    "UnicodeError", "UnicodeTranslateError", "UnicodeWarning", "UserWarning", "ValueError",
    "Warning", "ZeroDivisionError", "__build_class__", "__builtins__", "__debug__", "__doc__",
    "__import__", "__loader__", "__name__", "__package__", "__spec__", "abs", "aiter", "all",
    "anext", "any", "ascii", "bin", "bool", "breakpoint", "bytearray", "bytes", "callable",
    "chr", "classmethod", "compile", "complex", "copyright", "credits", "delattr", "dict", "dir",
    "divmod", "enumerate", "eval", "exec", "exit", "filter", "float", "format", "frozenset",
    "getattr", "globals", "hasattr", "hash", "help", "hex", "id", "input", "int", "isinstance",
    "issubclass", "iter", "len", "license", "list", "locals", "map", "max", "memoryview", "min",
    "next", "object", "oct", "open", "ord", "pow", "print", "property", "quit", "range", "repr",
    "reversed", "round", "set", "setattr", "slice", "sorted", "staticmethod", "str", "sum",
    "super", "tuple", "type", "vars", "zip",
    /* IPython */
    "display", "get_ipython", "In", "Out", "_", "__", "___", "_i", "_ii", "_iii", "_ih", "_oh",
    "_dh", "_exit_code",
};

enum { MAX_DEPTH = 1000 };

typedef struct fields {
    TSFieldId left, right, name, value, body, function, arguments, object, attribute, alias,
        definition, parameters, superclasses, type, subject, guard, consequence, alternative,
        condition, module_name, return_type, subscript, type_parameters, key;
} fields;

/* A set of names stamped with a generation: cleared in O(1) by bumping the generation,
 * indexed directly by name id. Used for the module-level sets of one cell. */
typedef struct stampset {
    uint32_t *gen_of;
    uint32_t *value;
    size_t cap;
    uint32_t gen;
} stampset;

/* One remembered ts_node_child_by_field_id answer. */
typedef struct field_memo {
    const void *node_id;
    uint32_t gen;
    TSFieldId id;
    TSNode child;
} field_memo;

enum { FIELD_MEMO_SIZE = 256 };

struct nb_pyscan {
    nb_names *names;
    TSParser *parser;
    TSTreeCursor cursor;
    bool cursor_live;
    uint8_t *kind_of; /* by symbol */
    uint32_t nsymbols;
    fields f;
    field_memo field_memo[FIELD_MEMO_SIZE];
    uint32_t field_memo_gen; /* one per parsed tree: a node id is an address, reused */
    uint8_t *builtin; /* by name id */
    size_t nbuiltin;
    nb_name n_inplace, n_underscore, n_shuffle;
    stampset bound, used, defined, mutated, deferred_seen, reads_seen, builtin_seen;
    uint8_t *known; /* by name id: what pyknown.h says of it (see known()) */
    size_t known_cap;
};

static void stamp_clear(stampset *s)
{
    if (++s->gen == 0) {
        memset(s->gen_of, 0, s->cap * sizeof *s->gen_of);
        s->gen = 1;
    }
}

static bool stamp_has(const stampset *s, nb_name id)
{
    return id < s->cap && s->gen_of[id] == s->gen;
}

static void stamp_put(stampset *s, nb_name id, uint32_t value)
{
    if (id >= s->cap) {
        size_t old = s->cap;
        size_t cap = old;
        s->gen_of = nb_xgrow(s->gen_of, &cap, (size_t)id + 1, sizeof *s->gen_of);
        cap = old;
        s->value = nb_xgrow(s->value, &cap, (size_t)id + 1, sizeof *s->value);
        memset(s->gen_of + old, 0, (cap - old) * sizeof *s->gen_of);
        s->cap = cap;
    }
    s->gen_of[id] = s->gen;
    s->value[id] = value;
}

static void stamp_add(stampset *s, nb_name id)
{
    stamp_put(s, id, 0);
}

static void stamp_remove(stampset *s, nb_name id)
{
    if (id < s->cap)
        s->gen_of[id] = 0;
}

static void stamp_release(stampset *s)
{
    free(s->gen_of);
    free(s->value);
    memset(s, 0, sizeof *s);
}

/* ---- Setup ----------------------------------------------------------------------- */

static TSFieldId field_id(const TSLanguage *lang, const char *name)
{
    return ts_language_field_id_for_name(lang, name, (uint32_t)strlen(name));
}

nb_pyscan *nb_pyscan_new(nb_names *names)
{
    nb_pyscan *scan = nb_xcalloc(1, sizeof *scan);
    scan->names = names;
    const TSLanguage *lang = tree_sitter_python();
    scan->parser = ts_parser_new();
    if (!ts_parser_set_language(scan->parser, lang)) {
        /* the build pins a grammar whose ABI this library loads; reaching here means the
         * pin and libtree-sitter disagree */
        abort();
    }
    scan->nsymbols = ts_language_symbol_count(lang);
    scan->kind_of = nb_xcalloc(scan->nsymbols + 1, 1);
    for (uint32_t sym = 0; sym < scan->nsymbols; sym++) {
        const char *name = ts_language_symbol_name(lang, (TSSymbol)sym);
        if (!name || ts_language_symbol_type(lang, (TSSymbol)sym) != TSSymbolTypeRegular)
            continue;
        /* the first byte first: symbols times kinds is 30,000 strcmp calls per run */
        for (size_t k = 0; k < sizeof kind_names / sizeof kind_names[0]; k++)
            if (name[0] == kind_names[k].name[0] && strcmp(name, kind_names[k].name) == 0)
                scan->kind_of[sym] = (uint8_t)kind_names[k].kind;
    }
    fields *f = &scan->f;
    f->left = field_id(lang, "left");
    f->right = field_id(lang, "right");
    f->name = field_id(lang, "name");
    f->value = field_id(lang, "value");
    f->body = field_id(lang, "body");
    f->function = field_id(lang, "function");
    f->arguments = field_id(lang, "arguments");
    f->object = field_id(lang, "object");
    f->attribute = field_id(lang, "attribute");
    f->alias = field_id(lang, "alias");
    f->definition = field_id(lang, "definition");
    f->parameters = field_id(lang, "parameters");
    f->superclasses = field_id(lang, "superclasses");
    f->type = field_id(lang, "type");
    f->subject = field_id(lang, "subject");
    f->guard = field_id(lang, "guard");
    f->consequence = field_id(lang, "consequence");
    f->alternative = field_id(lang, "alternative");
    f->condition = field_id(lang, "condition");
    f->module_name = field_id(lang, "module_name");
    f->return_type = field_id(lang, "return_type");
    f->subscript = field_id(lang, "subscript");
    f->type_parameters = field_id(lang, "type_parameters");
    f->key = field_id(lang, "key");

    size_t nb = sizeof builtin_names / sizeof builtin_names[0];
    nb_name max_id = 0;
    nb_name ids[sizeof builtin_names / sizeof builtin_names[0]];
    for (size_t i = 0; i < nb; i++) {
        ids[i] = nb_names_intern(names, builtin_names[i], strlen(builtin_names[i]));
        if (ids[i] > max_id)
            max_id = ids[i];
    }
    scan->nbuiltin = (size_t)max_id + 1;
    scan->builtin = nb_xcalloc(scan->nbuiltin, 1);
    for (size_t i = 0; i < nb; i++)
        scan->builtin[ids[i]] = 1;
    scan->n_inplace = nb_names_intern(names, "inplace", 7);
    scan->n_underscore = nb_names_intern(names, "_", 1);
    scan->n_shuffle = nb_names_intern(names, "shuffle", 7);
    return scan;
}

void nb_pyscan_free(nb_pyscan *scan)
{
    if (!scan)
        return;
    if (scan->cursor_live)
        ts_tree_cursor_delete(&scan->cursor);
    ts_parser_delete(scan->parser);
    free(scan->kind_of);
    free(scan->builtin);
    free(scan->known);
    stamp_release(&scan->bound);
    stamp_release(&scan->used);
    stamp_release(&scan->defined);
    stamp_release(&scan->mutated);
    stamp_release(&scan->deferred_seen);
    stamp_release(&scan->reads_seen);
    stamp_release(&scan->builtin_seen);
    free(scan);
}

bool nb_pyscan_is_builtin(const nb_pyscan *scan, nb_name name)
{
    return name < scan->nbuiltin && scan->builtin[name];
}

const char *nb_binding_kind_name(nb_binding_kind kind)
{
    switch (kind) {
    case NB_BIND_DATA: return "data";
    case NB_BIND_IMPORT: return "import";
    case NB_BIND_FUNCTION: return "function";
    case NB_BIND_CLASS: return "class";
    }
    return "?";
}

/* ---- Scopes ---------------------------------------------------------------------- */

/* A small hash set of name ids, for the names a function, class or comprehension
 * binds. */
typedef struct idset {
    nb_name *slots;
    size_t cap, len;
} idset;

static size_t idset_slot(const idset *s, nb_name id)
{
    size_t i = (size_t)(id * 2654435761u) & (s->cap - 1);
    while (s->slots[i] != NB_NO_NAME && s->slots[i] != id)
        i = (i + 1) & (s->cap - 1);
    return i;
}

static bool idset_has(const idset *s, nb_name id)
{
    return s->cap && s->slots[idset_slot(s, id)] == id;
}

static void idset_add(idset *s, nb_name id)
{
    if ((s->len + 1) * 2 > s->cap) {
        idset old = *s;
        s->cap = old.cap ? old.cap * 2 : 16;
        s->slots = nb_xcalloc(s->cap, sizeof *s->slots);
        s->len = 0;
        for (size_t i = 0; i < old.cap; i++)
            if (old.slots[i] != NB_NO_NAME)
                s->slots[idset_slot(s, old.slots[i])] = old.slots[i], s->len++;
        free(old.slots);
    }
    size_t i = idset_slot(s, id);
    if (s->slots[i] == NB_NO_NAME) {
        s->slots[i] = id;
        s->len++;
    }
}

enum scope_kind { SCOPE_MODULE, SCOPE_FUNCTION, SCOPE_CLASS, SCOPE_COMPREHENSION };

typedef struct pending {
    nb_name name;
    int line, col;
} pending;

typedef struct scope {
    enum scope_kind kind;
    struct scope *parent;
    idset bound, globals, nonlocals;
    pending *loads; /* function scopes: reads resolved when the body is complete */
    size_t nloads, loads_cap;
    sharemap shares; /* what each name it binds may share (module scope: this cell's) */
    frame *fr;       /* module and function scopes: where their code's effects go */
} scope;

static void scope_release(scope *sc)
{
    sharemap_release(&sc->shares);
    free(sc->bound.slots);
    free(sc->globals.slots);
    free(sc->nonlocals.slots);
    free(sc->loads);
}

/* ---- The walk -------------------------------------------------------------------- */

typedef struct def_entry {
    nb_def def;
    bool deleted;
} def_entry;

typedef struct definition_entry {
    nb_definition def;
    nb_name *reads;
    size_t nreads, reads_cap;
    nb_method *methods; /* a class's methods, their effects in the pool */
    size_t nmethods, methods_cap;
} definition_entry;

typedef struct walker {
    nb_pyscan *scan;
    const char *text;
    size_t len;
    nb_diags *diags;
    nb_loc loc;
    nb_pool *pool;
    int depth;
    bool failed;

    def_entry *defs;
    size_t ndefs, defs_cap;
    nb_use *uses;
    size_t nuses, uses_cap;
    nb_ref *mutations;
    size_t nmutations, mutations_cap;
    nb_import *imports;
    size_t nimports, imports_cap;
    definition_entry *definitions;
    size_t ndefinitions, definitions_cap;
    nb_stmt *stmts;
    size_t nstmts, stmts_cap;
    nb_literal *literals;
    size_t nliterals, literals_cap;
    bool displays_only;
    pending *deferred; /* deferred module-level reads, settled at the end of the cell */
    size_t ndeferred, deferred_cap;
    bool star_import;

    /* the top-level statement being walked */
    uint32_t stmt;
    nb_binding_kind stmt_kind;
    size_t *stmt_defs; /* indexes into defs bound by this statement */
    size_t nstmt_defs, stmt_defs_cap;
    /* the top-level definition being walked, or -1 */
    long definition;

    frame module_frame; /* effects of the cell's own code */
    nb_use *builtin_uses;
    size_t nbuiltin_uses, builtin_uses_cap;
    /* the top-level statement's call when the statement is just that call, and its
     * target when it is an assignment to one target (see nb_call.whole_stmt) */
    TSNode top_call, top_target;
    /* the lambda walked next is the value of NAME = lambda: a definition of its own */
    bool lambda_defines;
} walker;

static enum kind kind(const walker *w, TSNode node)
{
    TSSymbol sym = ts_node_symbol(node);
    if (sym == (TSSymbol)-1)
        return K_ERROR;
    return sym < w->scan->nsymbols ? (enum kind)w->scan->kind_of[sym] : K_OTHER;
}

/* The child of NODE in field ID. The walk asks for the same fields of a node several
 * times (a call's function when it walks the call, works out what it shares, names its
 * path), and ts_node_child_by_field_id reads the node's children anew each time: a
 * direct-mapped memo answers the repeats. */
static TSNode field(const walker *w, TSNode node, TSFieldId id)
{
    nb_pyscan *scan = w->scan;
    size_t slot = (((uintptr_t)node.id >> 4) * 31u + id) & (FIELD_MEMO_SIZE - 1);
    field_memo *m = &scan->field_memo[slot];
    if (m->gen == scan->field_memo_gen && m->node_id == node.id && m->id == id)
        return m->child;
    TSNode child = ts_node_child_by_field_id(node, id);
    *m = (field_memo){ node.id, scan->field_memo_gen, id, child };
    return child;
}

/* The children of a node, gathered with one shared cursor (ts_node_child(i) is linear
 * in i in this tree-sitter, which would make wide nodes quadratic). */
typedef struct children {
    TSNode *items;
    TSFieldId *fields;
    size_t len, cap;
    TSNode small[16];
    TSFieldId small_fields[16];
} children;

static void get_children(walker *w, TSNode node, children *out, bool named_only)
{
    out->items = out->small;
    out->fields = out->small_fields;
    out->len = 0;
    out->cap = 16;
    nb_pyscan *scan = w->scan;
    if (!scan->cursor_live) {
        scan->cursor = ts_tree_cursor_new(node);
        scan->cursor_live = true;
    } else {
        ts_tree_cursor_reset(&scan->cursor, node);
    }
    if (!ts_tree_cursor_goto_first_child(&scan->cursor))
        return;
    do {
        TSNode child = ts_tree_cursor_current_node(&scan->cursor);
        if (named_only && !ts_node_is_named(child))
            continue;
        if (out->len == out->cap) {
            size_t cap = out->cap * 2;
            TSNode *items = nb_xmalloc(cap * sizeof *items);
            TSFieldId *flds = nb_xmalloc(cap * sizeof *flds);
            memcpy(items, out->items, out->len * sizeof *items);
            memcpy(flds, out->fields, out->len * sizeof *flds);
            if (out->items != out->small) {
                free(out->items);
                free(out->fields);
            }
            out->items = items;
            out->fields = flds;
            out->cap = cap;
        }
        out->fields[out->len] = ts_tree_cursor_current_field_id(&scan->cursor);
        out->items[out->len++] = child;
    } while (ts_tree_cursor_goto_next_sibling(&scan->cursor));
}

static void children_release(children *c)
{
    if (c->items != c->small) {
        free(c->items);
        free(c->fields);
    }
}

static void position(const walker *w, TSNode node, int *line, int *col)
{
    TSPoint p = ts_node_start_point(node);
    uint32_t start = ts_node_start_byte(node);
    *line = (int)p.row + 1;
    *col = nb_utf8_columns(w->text + start - p.column, p.column) + 1;
}

static nb_name name_of(walker *w, TSNode node)
{
    uint32_t start = ts_node_start_byte(node), end = ts_node_end_byte(node);
    return nb_names_intern(w->scan->names, w->text + start, end - start);
}

static bool text_is(const walker *w, TSNode node, const char *s)
{
    uint32_t start = ts_node_start_byte(node), end = ts_node_end_byte(node);
    size_t n = strlen(s);
    return end - start == n && memcmp(w->text + start, s, n) == 0;
}

static void fail(walker *w, TSNode node, const char *code, const char *message)
{
    if (w->failed)
        return;
    w->failed = true;
    nb_loc loc = w->loc;
    position(w, node, &loc.line, &loc.col);
    nb_diag_add(w->diags, NB_ERROR, code, loc, "%s", message);
}

static void python2(walker *w, TSNode node, const char *what)
{
    char msg[200];
    snprintf(msg, sizeof msg, "Python 2 syntax (%s): this is Python 2 code; port it to "
                              "Python 3, e.g. with 2to3", what);
    fail(w, node, "python2-syntax", msg);
}

/* -- module-level results -- */

/* The cell's changes in place as mutations: one per name and method, in order of first
 * change; a certain change of a name makes its method-dependent ones redundant. Only
 * objects from earlier cells are roots here: changing what the cell itself made is part
 * of making it. */
static void settle_mutations(walker *w)
{
    nb_pyscan *scan = w->scan;
    const frame *fr = &w->module_frame;
    stamp_clear(&scan->mutated);
    for (size_t i = 0; i < fr->nchanges; i++)
        if (fr->changes[i].via == NB_NO_NAME && fr->changes[i].through == NB_NO_NAME &&
            fr->changes[i].root >= 0)
            stamp_add(&scan->mutated, (nb_name)fr->changes[i].root);
    for (size_t i = 0; i < fr->nchanges; i++) {
        const nb_change *c = &fr->changes[i];
        bool certain = c->via == NB_NO_NAME && c->through == NB_NO_NAME;
        if (c->root < 0 || (!certain && stamp_has(&scan->mutated, (nb_name)c->root)))
            continue;
        bool seen = false;
        for (size_t j = 0; j < w->nmutations && !seen; j++)
            seen = w->mutations[j].name == (nb_name)c->root && w->mutations[j].via == c->via &&
                   w->mutations[j].through == c->through;
        if (seen)
            continue;
        w->mutations = nb_xgrow(w->mutations, &w->mutations_cap, w->nmutations + 1,
                                sizeof *w->mutations);
        w->mutations[w->nmutations++] =
            (nb_ref){ (nb_name)c->root, c->line, c->col, c->via, c->through };
    }
}

static void add_builtin_use(walker *w, nb_name name, int line, int col, bool deferred)
{
    nb_pyscan *scan = w->scan;
    if (stamp_has(&scan->bound, name) || stamp_has(&scan->builtin_seen, name))
        return;
    if (!deferred)
        stamp_add(&scan->builtin_seen, name);
    for (size_t i = 0; i < w->nbuiltin_uses; i++)
        if (w->builtin_uses[i].name == name) {
            w->builtin_uses[i].deferred = w->builtin_uses[i].deferred && deferred;
            return;
        }
    w->builtin_uses = nb_xgrow(w->builtin_uses, &w->builtin_uses_cap, w->nbuiltin_uses + 1,
                               sizeof *w->builtin_uses);
    w->builtin_uses[w->nbuiltin_uses++] = (nb_use){ name, line, col, deferred };
}

static void add_read(walker *w, nb_name name)
{
    if (w->definition < 0 || stamp_has(&w->scan->reads_seen, name))
        return;
    stamp_add(&w->scan->reads_seen, name);
    definition_entry *d = &w->definitions[w->definition];
    d->reads = nb_xgrow(d->reads, &d->reads_cap, d->nreads + 1, sizeof *d->reads);
    d->reads[d->nreads++] = name;
}

static void module_load(walker *w, nb_name name, int line, int col, bool deferred)
{
    nb_pyscan *scan = w->scan;
    /* a function's reads include builtins: a notebook may define its own sum() */
    add_read(w, name);
    if (nb_pyscan_is_builtin(scan, name)) {
        add_builtin_use(w, name, line, col, deferred);
        return;
    }
    if (deferred) {
        w->deferred = nb_xgrow(w->deferred, &w->deferred_cap, w->ndeferred + 1,
                               sizeof *w->deferred);
        w->deferred[w->ndeferred++] = (pending){ name, line, col };
        return;
    }
    if (stamp_has(&scan->bound, name) || stamp_has(&scan->used, name))
        return;
    stamp_add(&scan->used, name);
    w->uses = nb_xgrow(w->uses, &w->uses_cap, w->nuses + 1, sizeof *w->uses);
    w->uses[w->nuses++] = (nb_use){ name, line, col, false };
}

static void module_bind(walker *w, nb_name name, TSNode at, nb_binding_kind kind)
{
    nb_pyscan *scan = w->scan;
    stamp_add(&scan->bound, name);
    def_entry *e;
    if (stamp_has(&scan->defined, name)) {
        e = &w->defs[scan->defined.value[name]];
        e->deleted = false;
    } else {
        stamp_put(&scan->defined, name, (uint32_t)w->ndefs);
        w->defs = nb_xgrow(w->defs, &w->defs_cap, w->ndefs + 1, sizeof *w->defs);
        e = &w->defs[w->ndefs++];
        memset(e, 0, sizeof *e);
        e->def.name = name;
        position(w, at, &e->def.line, &e->def.col);
    }
    e->def.kind = kind;
    e->def.stmt = w->stmt;
    e->def.generator = false;
    e->def.made_by = NULL;
    e->def.made_from = NULL;
    if (kind != NB_BIND_DATA && w->stmt_kind == NB_BIND_DATA)
        w->stmt_kind = kind;
    w->stmt_defs = nb_xgrow(w->stmt_defs, &w->stmt_defs_cap, w->nstmt_defs + 1,
                            sizeof *w->stmt_defs);
    w->stmt_defs[w->nstmt_defs++] = (size_t)(e - w->defs);
}

static void module_delete(walker *w, nb_name name)
{
    nb_pyscan *scan = w->scan;
    stamp_remove(&scan->bound, name);
    if (stamp_has(&scan->defined, name))
        w->defs[scan->defined.value[name]].deleted = true;
    else {
        /* deleting a name from an earlier cell: remember it as a deleted def */
        stamp_put(&scan->defined, name, (uint32_t)w->ndefs);
        w->defs = nb_xgrow(w->defs, &w->defs_cap, w->ndefs + 1, sizeof *w->defs);
        def_entry *e = &w->defs[w->ndefs++];
        memset(e, 0, sizeof *e);
        e->def.name = name;
        e->def.stmt = w->stmt;
        e->deleted = true;
    }
}

/* -- scoped loads and binds -- */

static void load_name(walker *w, scope *sc, nb_name name, int line, int col, bool deferred)
{
    for (;;) {
        switch (sc->kind) {
        case SCOPE_MODULE:
            module_load(w, name, line, col, deferred);
            return;
        case SCOPE_CLASS:
            /* methods do not see class attributes; the class body sees those it has
             * bound so far */
            if (!deferred && idset_has(&sc->bound, name))
                return;
            sc = sc->parent;
            continue;
        case SCOPE_COMPREHENSION:
            if (idset_has(&sc->bound, name))
                return;
            sc = sc->parent;
            continue;
        case SCOPE_FUNCTION:
            sc->loads = nb_xgrow(sc->loads, &sc->loads_cap, sc->nloads + 1, sizeof *sc->loads);
            sc->loads[sc->nloads++] = (pending){ name, line, col };
            return;
        }
    }
}

static void load(walker *w, scope *sc, TSNode ident)
{
    int line, col;
    position(w, ident, &line, &col);
    load_name(w, sc, name_of(w, ident), line, col, false);
}

/* A function body is complete: settle its reads. */
static void finish_function(walker *w, scope *fn)
{
    for (size_t i = 0; i < fn->nloads; i++) {
        pending *p = &fn->loads[i];
        if (idset_has(&fn->globals, p->name))
            module_load(w, p->name, p->line, p->col, true);
        else if (!idset_has(&fn->bound, p->name) && !idset_has(&fn->nonlocals, p->name))
            load_name(w, fn->parent, p->name, p->line, p->col, true);
    }
}

/* The identifier at the root of x.a[i].b, or a null node when the chain starts with
 * anything else (a call, a literal). */
static TSNode chain_root(walker *w, TSNode node)
{
    for (;;) {
        switch (kind(w, node)) {
        case K_IDENTIFIER: return node;
        case K_ATTRIBUTE: node = field(w, node, w->scan->f.object); break;
        case K_SUBSCRIPT: node = field(w, node, w->scan->f.value); break;
        case K_PARENTHESIZED: node = ts_node_named_child(node, 0); break;
        default: return (TSNode){ 0 };
        }
        if (ts_node_is_null(node))
            return node;
    }
}

/* "a.b.c" for a chain of names (identifiers and attributes only), in the pool; NULL
 * for anything else. */
static const char *chain_path(walker *w, TSNode node)
{
    TSNode parts[64];
    size_t n = 0, len = 0;
    while (n < 64 && kind(w, node) == K_ATTRIBUTE) {
        parts[n++] = field(w, node, w->scan->f.attribute);
        node = field(w, node, w->scan->f.object);
        if (ts_node_is_null(node) || ts_node_is_null(parts[n - 1]))
            return NULL;
    }
    if (kind(w, node) != K_IDENTIFIER)
        return NULL;
    parts[n++] = node;
    for (size_t i = 0; i < n; i++)
        len += ts_node_end_byte(parts[i]) - ts_node_start_byte(parts[i]) + 1;
    char *out = nb_pool_alloc(w->pool, len);
    char *at = out;
    while (n--) {
        uint32_t start = ts_node_start_byte(parts[n]), end = ts_node_end_byte(parts[n]);
        if (at != out)
            *at++ = '.';
        memcpy(at, w->text + start, end - start);
        at += end - start;
    }
    *at = '\0';
    return out;
}

/* What nb2pipe knows of a method or function name (pyknown.h), looked up once per name:
 * the tables are searched by text, and the same names come back in every cell. */
enum {
    KNOWN_LOOKED_UP = 1,
    KNOWN_PURE = 2,
    KNOWN_FRESH = 4,
    KNOWN_KEEPS_NO_ARGUMENTS = 8,
    KNOWN_PASSTHROUGH_METHOD = 16,
    KNOWN_PASSTHROUGH_BUILTIN = 32,
    KNOWN_LINKED_RESULTS = 64,
};

static bool known(walker *w, TSNode node, uint8_t flag)
{
    nb_pyscan *scan = w->scan;
    nb_name name = name_of(w, node);
    if (name >= scan->known_cap) {
        size_t old = scan->known_cap;
        scan->known = nb_xgrow(scan->known, &scan->known_cap, (size_t)name + 1, 1);
        memset(scan->known + old, 0, scan->known_cap - old);
    }
    uint8_t *flags = &scan->known[name];
    if (!*flags) {
        const char *text = nb_names_str(scan->names, name);
        size_t len = nb_names_len(scan->names, name);
        *flags = KNOWN_LOOKED_UP |
                 (nb_known_pure_method(text, len) ? KNOWN_PURE : 0) |
                 (nb_known_fresh_method(text, len) ? KNOWN_FRESH : 0) |
                 (nb_known_keeps_no_arguments(text, len) ? KNOWN_KEEPS_NO_ARGUMENTS : 0) |
                 (nb_known_passthrough_method(text, len) ? KNOWN_PASSTHROUGH_METHOD : 0) |
                 (nb_known_passthrough_builtin(text, len) ? KNOWN_PASSTHROUGH_BUILTIN : 0) |
                 (nb_known_linked_results(text, len) ? KNOWN_LINKED_RESULTS : 0);
    }
    return *flags & flag;
}

/* ---- Shares: what a value may share, and what code changes ------------------------ */

/* Where the effects of code in SC go: its function's frame, or the cell's. */
static frame *frame_of(walker *w, scope *sc)
{
    for (; sc; sc = sc->parent)
        if (sc->fr)
            return sc->fr;
    return &w->module_frame;
}

/* The function scope whose frame SC's code runs in, or NULL at module level. */
static scope *frame_owner(scope *sc)
{
    for (; sc && sc->kind != SCOPE_MODULE; sc = sc->parent)
        if (sc->kind == SCOPE_FUNCTION)
            return sc;
    return NULL;
}

/* What NAME, read by code in SC, may share: at module level the names of earlier cells
 * it may be (through this cell's own bindings); in a function body its parameters and
 * globals. An enclosing function's variable shares nothing that is followed. */
static void name_shares(walker *w, scope *sc, nb_name name, shareset *out)
{
    scope *owner = frame_owner(sc);
    for (scope *s = sc; s; s = s->parent) {
        shareset *known = sharemap_find(&s->shares, name);
        switch (s->kind) {
        case SCOPE_COMPREHENSION:
        case SCOPE_CLASS:
            if (!idset_has(&s->bound, name))
                continue;
            if (known)
                shares_merge(out, known);
            return;
        case SCOPE_FUNCTION:
            if (idset_has(&s->globals, name)) {
                shares_add(out, (nb_root)name, NB_NO_NAME);
                return;
            }
            if (!idset_has(&s->bound, name))
                continue;
            if (known && s == owner)
                shares_merge(out, known);
            return;
        case SCOPE_MODULE:
            /* a function body reads the global when it runs, not what this cell bound */
            if (known && !owner)
                shares_merge(out, known);
            else if (!nb_pyscan_is_builtin(w->scan, name))
                shares_add(out, (nb_root)name, NB_NO_NAME);
            return;
        }
    }
}

static void expr_shares(walker *w, TSNode node, scope *sc, shareset *out);

/* The shares of each argument in ARGS, through the call of VIA when it is a name. */
static void args_shares(walker *w, TSNode args, scope *sc, nb_name via, shareset *out)
{
    if (ts_node_is_null(args))
        return;
    children ch;
    get_children(w, args, &ch, true);
    for (size_t i = 0; i < ch.len; i++) {
        TSNode value = ch.items[i];
        enum kind k = kind(w, value);
        if (k == K_KEYWORD_ARGUMENT)
            value = field(w, value, w->scan->f.value);
        else if (k == K_COMMENT)
            continue;
        shareset one = { 0 };
        expr_shares(w, value, sc, &one);
        for (size_t j = 0; j < one.len; j++) {
            nb_share sh = one.items[j];
            if (via)
                sh.via = via;
            shares_put(out, sh);
        }
        shares_release(&one);
    }
    children_release(&ch);
}

/* What a call's result may share. x.m(): x's objects unless M returns new ones (and
 * its arguments when M passes them through, as np.asarray does); f(): its arguments
 * and whatever f returns of its own, decided once the notebook's functions are known
 * (nb_share.via); a builtin: its arguments when it passes them through (list, sorted). */
static void call_shares(walker *w, TSNode call, scope *sc, shareset *out)
{
    const fields *f = &w->scan->f;
    TSNode fn = field(w, call, f->function);
    TSNode args = field(w, call, f->arguments);
    if (ts_node_is_null(fn))
        return;
    if (kind(w, fn) == K_ATTRIBUTE) {
        TSNode method = field(w, fn, f->attribute);
        if (ts_node_is_null(method))
            return;
        if (!known(w, method, KNOWN_FRESH))
            expr_shares(w, field(w, fn, f->object), sc, out);
        if (known(w, method, KNOWN_PASSTHROUGH_METHOD))
            args_shares(w, args, sc, NB_NO_NAME, out);
        return;
    }
    if (kind(w, fn) == K_IDENTIFIER) {
        nb_name callee = name_of(w, fn);
        if (nb_pyscan_is_builtin(w->scan, callee)) {
            if (known(w, fn, KNOWN_PASSTHROUGH_BUILTIN))
                args_shares(w, args, sc, NB_NO_NAME, out);
            return;
        }
        args_shares(w, args, sc, callee, out);
        shares_add(out, NB_ROOT_NONE, callee);
        return;
    }
    args_shares(w, args, sc, NB_NO_NAME, out); /* d["f"](x): nothing known */
}

/* A list or tuple display, a list comprehension, or list()/tuple() of something. */
static bool is_list_like(walker *w, TSNode node)
{
    switch (kind(w, node)) {
    case K_LIST:
    case K_TUPLE:
        return true;
    case K_COMPREHENSION: {
        uint32_t start = ts_node_start_byte(node);
        return w->text[start] == '[';
    }
    case K_CALL: {
        TSNode fn = field(w, node, w->scan->f.function);
        return !ts_node_is_null(fn) && (text_is(w, fn, "list") || text_is(w, fn, "tuple"));
    }
    default:
        return false;
    }
}

/* `a + [obj]`, `list(xs) + ys`: concatenation that keeps the items. Arithmetic on
 * numbers, arrays and frames makes new objects; only visible list building shares. */
static bool joins_lists(walker *w, TSNode binary)
{
    children ch;
    get_children(w, binary, &ch, false);
    bool plus = false, lists = false;
    for (size_t i = 0; i < ch.len; i++) {
        if (!ts_node_is_named(ch.items[i]))
            plus = plus || text_is(w, ch.items[i], "+");
        else
            lists = lists || is_list_like(w, ch.items[i]);
    }
    children_release(&ch);
    return plus && lists;
}

/* x[[...]], x[mask], x[a > 0]: selecting with a list or a condition copies; a label, a
 * number or a slice gives the item itself or a view of x. */
static bool subscript_copies(walker *w, TSNode subscript)
{
    TSNode index = field(w, subscript, w->scan->f.subscript);
    if (ts_node_is_null(index))
        return false;
    switch (kind(w, index)) {
    case K_LIST:
    case K_COMPARISON:
    case K_BOOLEAN_OP:
    case K_BINARY:
    case K_UNARY:
    case K_COMPREHENSION:
        return true;
    default:
        return false;
    }
}

/* Binds the names of comprehension target NODE in scope COMP to ITEMS, without
 * recording anything: for working out what the comprehension's value shares. */
static void bind_quietly(walker *w, TSNode node, scope *comp, const shareset *items)
{
    if (ts_node_is_null(node))
        return;
    if (kind(w, node) == K_IDENTIFIER) {
        nb_name name = name_of(w, node);
        idset_add(&comp->bound, name);
        shares_merge(sharemap_put(&comp->shares, name), items);
        return;
    }
    children ch;
    get_children(w, node, &ch, true);
    for (size_t i = 0; i < ch.len; i++)
        bind_quietly(w, ch.items[i], comp, items);
    children_release(&ch);
}

static void bind_target(walker *w, TSNode node, scope *sc, nb_binding_kind kind_of_value,
                        const shareset *value);

enum { MAX_PARTS = 8 };

/* What each part of a loop target takes from ITERABLE (evaluated in SC): for
 * `k, v in d.items()` (iteritems, iterrows) the key is a new value and v holds d's
 * objects; for `i, x in enumerate(xs)` the index is new; for `a, b in zip(xs, ys)` a
 * holds xs's items and b ys's. Returns how many parts it worked out (0: every part
 * holds the iterable's items). PARTS[i] must be released by the caller. */
static size_t loop_parts(walker *w, TSNode target, TSNode iterable, scope *sc,
                         shareset parts[MAX_PARTS])
{
    enum kind tk = kind(w, target);
    if ((tk != K_TUPLE && tk != K_PATTERN_LIST && tk != K_TUPLE_PATTERN && tk != K_LIST &&
         tk != K_LIST_PATTERN) || kind(w, iterable) != K_CALL)
        return 0;
    size_t n = ts_node_named_child_count(target);
    if (n < 2 || n > MAX_PARTS)
        return 0;
    TSNode fn = field(w, iterable, w->scan->f.function);
    TSNode args = field(w, iterable, w->scan->f.arguments);
    size_t nargs = ts_node_is_null(args) ? 0 : ts_node_named_child_count(args);
    if (ts_node_is_null(fn))
        return 0;
    memset(parts, 0, n * sizeof *parts);
    if (kind(w, fn) == K_ATTRIBUTE && n == 2) {
        TSNode method = field(w, fn, w->scan->f.attribute);
        if (!ts_node_is_null(method) && (text_is(w, method, "items") ||
                                         text_is(w, method, "iteritems") ||
                                         text_is(w, method, "iterrows"))) {
            expr_shares(w, field(w, fn, w->scan->f.object), sc, &parts[1]);
            return n;
        }
    } else if (kind(w, fn) == K_IDENTIFIER && nb_pyscan_is_builtin(w->scan, name_of(w, fn))) {
        if (text_is(w, fn, "enumerate") && n == 2 && nargs >= 1) {
            expr_shares(w, ts_node_named_child(args, 0), sc, &parts[1]);
            return n;
        }
        if (text_is(w, fn, "zip") && nargs == n) {
            for (size_t i = 0; i < n; i++)
                expr_shares(w, ts_node_named_child(args, (uint32_t)i), sc, &parts[i]);
            return n;
        }
    }
    return 0;
}

/* Binds loop target TARGET to the items of ITERABLE (evaluated in ITER_SCOPE) in
 * BIND_SCOPE; QUIETLY records nothing (for working out a comprehension's value). */
static void bind_loop_target(walker *w, TSNode target, TSNode iterable, scope *iter_scope,
                             scope *bind_scope, bool quietly)
{
    shareset parts[MAX_PARTS];
    size_t n = ts_node_is_null(iterable) ? 0 : loop_parts(w, target, iterable, iter_scope, parts);
    if (n == 0) {
        shareset items = { 0 };
        expr_shares(w, iterable, iter_scope, &items);
        if (quietly)
            bind_quietly(w, target, bind_scope, &items);
        else
            bind_target(w, target, bind_scope, NB_BIND_DATA, &items);
        shares_release(&items);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        TSNode part = ts_node_named_child(target, (uint32_t)i);
        if (quietly)
            bind_quietly(w, part, bind_scope, &parts[i]);
        else
            bind_target(w, part, bind_scope, NB_BIND_DATA, &parts[i]);
        shares_release(&parts[i]);
    }
}

/* [f(m) for m in models]: what the elements share, with each target standing for the
 * items of its iterable. */
static void comprehension_shares(walker *w, TSNode node, scope *sc, shareset *out)
{
    children ch;
    get_children(w, node, &ch, true);
    scope comp = { .kind = SCOPE_COMPREHENSION, .parent = sc };
    for (size_t i = 0; i < ch.len; i++) {
        if (kind(w, ch.items[i]) != K_FOR_IN_CLAUSE)
            continue;
        bind_loop_target(w, field(w, ch.items[i], w->scan->f.left),
                         field(w, ch.items[i], w->scan->f.right), &comp, &comp, true);
    }
    for (size_t i = 0; i < ch.len; i++)
        if (ch.fields[i] == w->scan->f.body)
            expr_shares(w, ch.items[i], &comp, out);
    children_release(&ch);
    scope_release(&comp);
}

static void children_shares(walker *w, TSNode node, scope *sc, shareset *out)
{
    children ch;
    get_children(w, node, &ch, true);
    for (size_t i = 0; i < ch.len; i++)
        expr_shares(w, ch.items[i], sc, out);
    children_release(&ch);
}

/* What the value of expression NODE, evaluated in SC, may share (DESIGN §3, aliases):
 * a name, an attribute or item of it, a method call on it, a container holding it. A
 * comprehension's elements are what its element expression shares. Arithmetic makes
 * new values, except `+` building a list from a visible list. */
static void expr_shares(walker *w, TSNode node, scope *sc, shareset *out)
{
    if (ts_node_is_null(node) || w->failed)
        return;
    switch (kind(w, node)) {
    case K_IDENTIFIER:
        name_shares(w, sc, name_of(w, node), out);
        break;
    case K_ATTRIBUTE:
        expr_shares(w, field(w, node, w->scan->f.object), sc, out);
        break;
    case K_SUBSCRIPT:
        if (!subscript_copies(w, node))
            expr_shares(w, field(w, node, w->scan->f.value), sc, out);
        break;
    case K_CALL:
        call_shares(w, node, sc, out);
        break;
    case K_NAMED_EXPRESSION:
        expr_shares(w, field(w, node, w->scan->f.value), sc, out);
        break;
    case K_CONDITIONAL:
        if (ts_node_named_child_count(node) >= 3) {
            expr_shares(w, ts_node_named_child(node, 0), sc, out);
            expr_shares(w, ts_node_named_child(node, 2), sc, out);
        }
        break;
    case K_BINARY:
        if (joins_lists(w, node))
            children_shares(w, node, sc, out);
        break;
    case K_COMPREHENSION:
        comprehension_shares(w, node, sc, out);
        break;
    case K_PARENTHESIZED:
    case K_TUPLE:
    case K_LIST:
    case K_SET:
    case K_DICTIONARY:
    case K_PAIR:
    case K_EXPRESSION_LIST:
    case K_LIST_SPLAT:
    case K_DICTIONARY_SPLAT:
    case K_BOOLEAN_OP:
    case K_AWAIT:
        children_shares(w, node, sc, out);
        break;
    default:
        break;
    }
}

/* The map entry that holds what NAME shares, for the scope that binds it as SC sees it;
 * NULL when NAME is from an earlier cell, a global of a function, or out of reach. */
static shareset *bound_entry(scope *sc, nb_name name)
{
    scope *owner = frame_owner(sc);
    for (scope *s = sc; s; s = s->parent) {
        if (s->kind == SCOPE_MODULE)
            return sharemap_find(&s->shares, name);
        if (s->kind == SCOPE_FUNCTION && idset_has(&s->globals, name))
            return NULL;
        if (idset_has(&s->bound, name))
            return s->kind == SCOPE_FUNCTION && s != owner ? NULL : sharemap_find(&s->shares, name);
    }
    return NULL;
}

/* Whether NAME is a module, function or class the cell itself bound at module level:
 * `pd.read_csv(path)` stores nothing in pd. */
static bool is_code_here(walker *w, scope *sc, nb_name name)
{
    if (frame_owner(sc) || !stamp_has(&w->scan->defined, name))
        return false;
    return w->defs[w->scan->defined.value[name]].def.kind != NB_BIND_DATA;
}

/* Code in SC changes, in place, the object expression NODE evaluates to: a change of
 * every root it may share. VIA is the method whose call does it, or NB_NO_NAME. */
/* The change of an object NODE evaluates to, whose shares OBJECT are known. */
static void change_shared(walker *w, scope *sc, TSNode node, const shareset *object, nb_name via)
{
    TSNode root = chain_root(w, node);
    int line, col;
    position(w, ts_node_is_null(root) ? node : root, &line, &col);
    frame *fr = frame_of(w, sc);
    for (size_t i = 0; i < object->len; i++)
        if (object->items[i].root != NB_ROOT_NONE && !object->items[i].here)
            frame_add_change(fr, object->items[i].root, via, object->items[i].via, line, col);
}

static void change_object(walker *w, scope *sc, TSNode node, nb_name via)
{
    shareset object = { 0 };
    expr_shares(w, node, sc, &object);
    change_shared(w, sc, node, &object, via);
    shares_release(&object);
}

/* A name of this scope whose object now holds VALUE's objects shares them too. */
static void keep_in_entry(walker *w, TSNode node, scope *sc, const shareset *value)
{
    TSNode root = chain_root(w, node);
    if (ts_node_is_null(root) || is_code_here(w, sc, name_of(w, root)))
        return;
    shareset *entry = bound_entry(sc, name_of(w, root));
    if (entry)
        shares_merge(entry, value);
}

/* VALUE is stored into the object NODE evaluates to (d[k] = v, x.a = v): they share
 * from now on. */
static void store_into(walker *w, TSNode node, scope *sc, const shareset *value)
{
    if (!value->len)
        return; /* a new value (v[0] = 9) shares nothing */
    shareset all = { 0 };
    expr_shares(w, node, sc, &all);
    shares_merge(&all, value);
    frame_add_link(frame_of(w, sc), &all);
    keep_in_entry(w, node, sc, value);
    shares_release(&all);
}

/* An assignment into an attribute or item of a chain of names the code did not bind
 * itself (os.environ["X"] = ...): a candidate for interpreter state. */
static void record_store(walker *w, TSNode target, TSNode object, scope *sc)
{
    const char *path = chain_path(w, object);
    TSNode root = chain_root(w, object);
    if (!path || ts_node_is_null(root))
        return;
    nb_name name = name_of(w, root);
    if (bound_entry(sc, name) && !is_code_here(w, sc, name))
        return; /* an object the code made itself */
    nb_store store = { .path = path, .stmt = w->stmt };
    position(w, target, &store.line, &store.col);
    store.whole_stmt = sc->kind == SCOPE_MODULE && !ts_node_is_null(w->top_target) &&
                       ts_node_eq(w->top_target, target);
    frame_add_store(frame_of(w, sc), &store);
}

static void bind_name(walker *w, scope *sc, nb_name name, TSNode at, nb_binding_kind kind,
                      const shareset *value)
{
    switch (sc->kind) {
    case SCOPE_MODULE:
        module_bind(w, name, at, kind);
        break;
    case SCOPE_FUNCTION:
        if (idset_has(&sc->globals, name)) {
            /* `global x; x = ...`: the module's x, bound when the function runs: a
             * definition of every cell that calls it */
            frame_add_rebind(frame_of(w, sc), name);
            return;
        }
        if (idset_has(&sc->nonlocals, name))
            return;
        idset_add(&sc->bound, name);
        break;
    case SCOPE_CLASS:
    case SCOPE_COMPREHENSION:
        idset_add(&sc->bound, name);
        break;
    }
    shareset *entry = sharemap_put(&sc->shares, name);
    if (value)
        shares_merge(entry, value);
    if (sc->kind == SCOPE_MODULE && kind == NB_BIND_DATA)
        shares_add_here(entry, name); /* later names bound from it share its new object */
}

static void bind(walker *w, scope *sc, TSNode ident, nb_binding_kind kind)
{
    bind_name(w, sc, name_of(w, ident), ident, kind, NULL);
}

static void walk_expr(walker *w, TSNode node, scope *sc);
static void walk_block(walker *w, TSNode node, scope *sc);
static void walk_stmt(walker *w, TSNode node, scope *sc);

static void walk_named_children(walker *w, TSNode node, scope *sc)
{
    children ch;
    get_children(w, node, &ch, true);
    for (size_t i = 0; i < ch.len && !w->failed; i++)
        walk_expr(w, ch.items[i], sc);
    children_release(&ch);
}

/* An assignment target: names are bound to what VALUE shares; x[i] = v and x.a = v
 * change x and store v in it. */
static void bind_target(walker *w, TSNode node, scope *sc, nb_binding_kind kind_of_value,
                        const shareset *value)
{
    if (++w->depth > MAX_DEPTH) {
        fail(w, node, "too-deep", "nested too deeply to analyse");
        return;
    }
    switch (kind(w, node)) {
    case K_IDENTIFIER:
        bind_name(w, sc, name_of(w, node), node, kind_of_value, value);
        break;
    case K_ATTRIBUTE:
    case K_SUBSCRIPT: {
        /* the object is read, then changed */
        walk_expr(w, node, sc);
        TSNode object = field(w, node, kind(w, node) == K_ATTRIBUTE ? w->scan->f.object
                                                                    : w->scan->f.value);
        if (ts_node_is_null(object) || w->failed)
            break;
        change_object(w, sc, object, NB_NO_NAME);
        if (value)
            store_into(w, object, sc, value);
        record_store(w, node, object, sc);
        break;
    }
    case K_TUPLE:
    case K_LIST:
    case K_TUPLE_PATTERN:
    case K_LIST_PATTERN:
    case K_PATTERN_LIST:
    case K_PARENTHESIZED:
    case K_LIST_SPLAT_PATTERN:
    case K_LIST_SPLAT:
    case K_AS_PATTERN_TARGET:
    case K_EXPRESSION_LIST: {
        children ch;
        get_children(w, node, &ch, true);
        for (size_t i = 0; i < ch.len && !w->failed; i++)
            bind_target(w, ch.items[i], sc, kind_of_value, value);
        children_release(&ch);
        break;
    }
    case K_COMMENT:
        break;
    default:
        walk_expr(w, node, sc);
        break;
    }
    w->depth--;
}

static bool string_value(walker *w, TSNode node, nb_buf *value);

/* The value of the first plain string literal among the arguments of a call in the
 * receiver chain NODE (pathlib.Path("out").expanduser()), or NULL. */
static const char *chain_literal(walker *w, TSNode node)
{
    nb_buf value = NB_BUF_INIT;
    const char *found = NULL;
    for (int depth = 0; !found && !ts_node_is_null(node) && depth < 64; depth++) {
        enum kind k = kind(w, node);
        if (k == K_CALL) {
            TSNode args = field(w, node, w->scan->f.arguments);
            TSNode first = ts_node_is_null(args) || ts_node_named_child_count(args) == 0
                               ? (TSNode){ 0 }
                               : ts_node_named_child(args, 0);
            if (!ts_node_is_null(first) && kind(w, first) == K_STRING &&
                string_value(w, first, &value))
                found = nb_pool_strndup(w->pool, value.data, value.len);
            node = field(w, node, w->scan->f.function);
        } else if (k == K_ATTRIBUTE) {
            node = field(w, node, w->scan->f.object);
        } else {
            break;
        }
    }
    nb_buf_release(&value);
    return found;
}

/* The arguments of a call as they were walked: what each shares, the value of plain
 * strings, and whether one is inplace=True. */
typedef struct call_args {
    const nb_arg *args;
    size_t nargs;
    bool inplace;
} call_args;

/* Walks the arguments of a call (their reads) and records them, in one pass. */
static call_args walk_args(walker *w, TSNode args, scope *sc)
{
    call_args out = { 0 };
    if (ts_node_is_null(args))
        return out;
    if (kind(w, args) != K_ARGUMENT_LIST) { /* f(x for x in xs) */
        walk_expr(w, args, sc);
        return out;
    }
    children ch;
    get_children(w, args, &ch, true);
    nb_arg *list = nb_pool_alloc(w->pool, (ch.len + 1) * sizeof *list);
    nb_buf text = NB_BUF_INIT;
    for (size_t i = 0; i < ch.len && !w->failed; i++) {
        TSNode value = ch.items[i];
        if (kind(w, value) == K_COMMENT)
            continue;
        walk_expr(w, value, sc);
        nb_arg *a = &list[out.nargs++];
        if (kind(w, value) == K_KEYWORD_ARGUMENT) {
            TSNode name = field(w, value, w->scan->f.name);
            a->keyword = ts_node_is_null(name) ? NB_NO_NAME : name_of(w, name);
            value = field(w, value, w->scan->f.value);
            out.inplace = out.inplace || (a->keyword == w->scan->n_inplace &&
                                          !ts_node_is_null(value) && kind(w, value) == K_TRUE);
        }
        if (ts_node_is_null(value))
            continue;
        enum kind k = kind(w, value);
        if (k == K_IDENTIFIER)
            a->name = name_of(w, value);
        if (k != K_STRING && k != K_INTEGER && k != K_FLOAT) {
            shareset shares = { 0 };
            expr_shares(w, value, sc, &shares);
            a->shares = shares_keep(&shares, w->pool, false);
            shares_release(&shares);
        } else if (k == K_STRING) {
            nb_buf_reset(&text);
            if (string_value(w, value, &text))
                a->literal = nb_pool_strndup(w->pool, text.data, text.len);
        }
    }
    nb_buf_release(&text);
    children_release(&ch);
    out.args = list;
    return out;
}

/* A call made by code in SC: recorded for the analyses that need the whole notebook
 * (function effects, seeds, state, files), and its effect on its receiver: a method
 * call changes the receiver unless the method is known not to (inplace=True always
 * does), whether or not its result is used, and the receiver may keep the arguments. */
static void record_call(walker *w, TSNode call, scope *sc, bool discarded, const call_args *a)
{
    const fields *f = &w->scan->f;
    TSNode fn = field(w, call, f->function);
    TSNode args = field(w, call, f->arguments);
    if (ts_node_is_null(fn))
        return;
    nb_call c = { .stmt = w->stmt, .discarded = discarded };
    position(w, fn, &c.line, &c.col);
    c.whole_stmt = frame_of(w, sc) == &w->module_frame && !ts_node_is_null(w->top_call) &&
                   ts_node_eq(w->top_call, call);
    c.path = chain_path(w, fn);
    c.args = a->args;
    c.nargs = a->nargs;
    shareset receiver = { 0 };
    TSNode object = { 0 }, method = { 0 };
    if (kind(w, fn) == K_ATTRIBUTE) {
        method = field(w, fn, f->attribute);
        object = field(w, fn, f->object);
        if (!ts_node_is_null(method))
            c.method = name_of(w, method);
        expr_shares(w, object, sc, &receiver);
        c.receiver = shares_keep(&receiver, w->pool, false);
        c.receiver_literal = chain_literal(w, object);
        if (kind(w, object) == K_CALL) {
            TSNode inner = field(w, object, f->function);
            c.receiver_import = c.receiver_literal && !ts_node_is_null(inner) &&
                                text_is(w, inner, "__import__");
        }
    } else if (kind(w, fn) == K_IDENTIFIER) {
        c.callee = name_of(w, fn);
    }
    frame_add_call(frame_of(w, sc), &c);

    if (c.method != NB_NO_NAME && !ts_node_is_null(object)) {
        if (a->inplace)
            change_shared(w, sc, object, &receiver, NB_NO_NAME);
        else if (!known(w, method, KNOWN_PURE))
            change_shared(w, sc, object, &receiver, c.method);
        if (c.nargs && !known(w, method, KNOWN_KEEPS_NO_ARGUMENTS)) {
            shareset stored = { 0 };
            for (size_t i = 0; i < c.nargs; i++)
                for (size_t j = 0; j < c.args[i].shares.n; j++)
                    shares_put(&stored, c.args[i].shares.items[j]);
            /* what the receiver keeps: its entry here, and a link decided once the
             * receiver is known to be data, not a module (effects.c) */
            keep_in_entry(w, object, sc, &stored);
            shares_release(&stored);
        }
    }
    /* shuffle(x), random.shuffle(x), rng.shuffle(x) change x */
    nb_name called = c.method != NB_NO_NAME ? c.method : c.callee;
    if (called == w->scan->n_shuffle && !ts_node_is_null(args) &&
        ts_node_named_child_count(args) > 0 &&
        kind(w, ts_node_named_child(args, 0)) != K_KEYWORD_ARGUMENT)
        change_object(w, sc, ts_node_named_child(args, 0), NB_NO_NAME);
    shares_release(&receiver);
}

static void walk_call(walker *w, TSNode call, scope *sc, bool discarded)
{
    TSNode fn = field(w, call, w->scan->f.function);
    if (!ts_node_is_null(fn))
        walk_expr(w, fn, sc);
    call_args args = walk_args(w, field(w, call, w->scan->f.arguments), sc);
    if (!w->failed)
        record_call(w, call, sc, discarded, &args);
}

static void walk_function(walker *w, TSNode node, scope *sc, TSNode decorated);
static void walk_class(walker *w, TSNode node, scope *sc, TSNode decorated);
static void walk_lambda(walker *w, TSNode node, scope *sc);

static void walk_comprehension(walker *w, TSNode node, scope *sc)
{
    children ch;
    get_children(w, node, &ch, true);
    scope comp = { .kind = SCOPE_COMPREHENSION, .parent = sc };
    bool first_iter = true;
    /* the first iterable is evaluated outside; every target is the comprehension's */
    for (size_t i = 0; i < ch.len && !w->failed; i++) {
        if (kind(w, ch.items[i]) != K_FOR_IN_CLAUSE)
            continue;
        TSNode right = field(w, ch.items[i], w->scan->f.right);
        if (first_iter && !ts_node_is_null(right))
            walk_expr(w, right, sc);
        /* a target holds the items of its iterable: `[m.fit(X) for m in models]` */
        TSNode left = field(w, ch.items[i], w->scan->f.left);
        if (!ts_node_is_null(left))
            bind_loop_target(w, left, right, first_iter ? sc : &comp, &comp, false);
        first_iter = false;
    }
    /* then the other clauses in order, and the element (or key: value) last */
    first_iter = true;
    for (size_t i = 0; i < ch.len && !w->failed; i++) {
        if (ch.fields[i] == w->scan->f.body)
            continue;
        if (kind(w, ch.items[i]) == K_FOR_IN_CLAUSE) {
            TSNode right = field(w, ch.items[i], w->scan->f.right);
            if (!first_iter && !ts_node_is_null(right))
                walk_expr(w, right, &comp);
            first_iter = false;
            continue;
        }
        walk_expr(w, ch.items[i], &comp);
    }
    for (size_t i = 0; i < ch.len && !w->failed; i++)
        if (ch.fields[i] == w->scan->f.body)
            walk_expr(w, ch.items[i], &comp);
    children_release(&ch);
    scope_release(&comp);
}

/* The scope a walrus binds in: the nearest one that is not a comprehension. */
static scope *walrus_scope(scope *sc)
{
    while (sc->kind == SCOPE_COMPREHENSION && sc->parent)
        sc = sc->parent;
    return sc;
}

static void check_python2_expr(walker *w, TSNode node, enum kind k)
{
    uint32_t start = ts_node_start_byte(node), end = ts_node_end_byte(node);
    const char *s = w->text + start;
    size_t n = end - start;
    if (k == K_INTEGER) {
        bool octal = n > 1 && s[0] == '0' && s[1] >= '0' && s[1] <= '9';
        for (size_t i = 1; octal && i < n; i++)
            octal = (s[i] >= '0' && s[i] <= '9') || s[i] == '_';
        bool all_zero = true;
        for (size_t i = 0; i < n; i++)
            all_zero = all_zero && (s[i] == '0' || s[i] == '_');
        if ((octal && !all_zero) || (n > 1 && (s[n - 1] == 'l' || s[n - 1] == 'L')))
            python2(w, node, octal ? "octal literal 0NNN" : "long integer literal");
    } else if (k == K_STRING) {
        if (n && s[0] == '`')
            python2(w, node, "backtick repr");
        else if (n >= 3 && (s[0] == 'u' || s[0] == 'U') && (s[1] == 'r' || s[1] == 'R'))
            python2(w, node, "ur'' string prefix");
    } else if (k == K_COMPARISON) {
        children ch;
        get_children(w, node, &ch, false);
        for (size_t i = 0; i < ch.len; i++)
            if (!ts_node_is_named(ch.items[i]) && text_is(w, ch.items[i], "<>"))
                python2(w, ch.items[i], "<> operator");
        children_release(&ch);
    }
}

static void walk_expr(walker *w, TSNode node, scope *sc)
{
    if (w->failed)
        return;
    if (++w->depth > MAX_DEPTH) {
        fail(w, node, "too-deep", "nested too deeply to analyse");
        return;
    }
    const fields *f = &w->scan->f;
    enum kind k = kind(w, node);
    switch (k) {
    case K_IDENTIFIER:
        load(w, sc, node);
        break;
    case K_ATTRIBUTE: {
        TSNode object = field(w, node, f->object);
        if (!ts_node_is_null(object))
            walk_expr(w, object, sc);
        break;
    }
    case K_KEYWORD_ARGUMENT: {
        TSNode value = field(w, node, f->value);
        if (!ts_node_is_null(value))
            walk_expr(w, value, sc);
        break;
    }
    case K_CALL:
        walk_call(w, node, sc, false);
        break;
    case K_LAMBDA:
        walk_lambda(w, node, sc);
        break;
    case K_COMPREHENSION:
        walk_comprehension(w, node, sc);
        break;
    case K_YIELD:
        /* a top-level function whose own body yields makes generators */
        if (w->definition >= 0 && frame_owner(sc) && frame_owner(sc)->parent &&
            frame_owner(sc)->parent->kind == SCOPE_MODULE)
            w->definitions[w->definition].def.generator = true;
        walk_named_children(w, node, sc);
        break;
    case K_NAMED_EXPRESSION: {
        TSNode value = field(w, node, f->value);
        TSNode name = field(w, node, f->name);
        if (!ts_node_is_null(value))
            walk_expr(w, value, sc);
        if (!ts_node_is_null(name)) {
            shareset shares = { 0 };
            expr_shares(w, value, sc, &shares);
            scope *target = walrus_scope(sc);
            bind_name(w, target, name_of(w, name), name, NB_BIND_DATA, &shares);
            shares_release(&shares);
        }
        break;
    }
    case K_CONDITIONAL: {
        /* a if cond else b evaluates cond first */
        children ch;
        get_children(w, node, &ch, true);
        static const size_t order[] = { 1, 0, 2 };
        for (size_t i = 0; i < 3 && !w->failed; i++)
            if (order[i] < ch.len)
                walk_expr(w, ch.items[order[i]], sc);
        for (size_t i = 3; i < ch.len && !w->failed; i++)
            walk_expr(w, ch.items[i], sc);
        children_release(&ch);
        break;
    }
    case K_INTEGER:
    case K_STRING:
    case K_COMPARISON:
        check_python2_expr(w, node, k);
        if (k != K_INTEGER)
            walk_named_children(w, node, sc);
        break;
    case K_COMMENT:
        break;
    default:
        walk_named_children(w, node, sc);
        break;
    }
    w->depth--;
}

/* A parameter of the function whose scope is FN: bound, sharing only itself. */
static void bind_param(walker *w, scope *fn, TSNode ident)
{
    if (kind(w, ident) != K_IDENTIFIER) {
        bind_target(w, ident, fn, NB_BIND_DATA, NULL);
        return;
    }
    nb_name name = name_of(w, ident);
    frame_add_param(fn->fr, name);
    shareset self = { 0 };
    shares_add(&self, nb_root_param(fn->fr->nparams - 1), NB_NO_NAME);
    bind_name(w, fn, name, ident, NB_BIND_DATA, &self);
    shares_release(&self);
}

/* Parameters: defaults and annotations are read where the def is; the names are bound
 * in the function's scope. */
static void walk_parameters(walker *w, TSNode params, scope *outer, scope *fn)
{
    if (ts_node_is_null(params))
        return;
    const fields *f = &w->scan->f;
    children ch;
    get_children(w, params, &ch, true);
    for (size_t i = 0; i < ch.len && !w->failed; i++) {
        TSNode p = ch.items[i];
        switch (kind(w, p)) {
        case K_IDENTIFIER:
            bind_param(w, fn, p);
            break;
        case K_DEFAULT_PARAMETER:
        case K_TYPED_DEFAULT_PARAMETER: {
            TSNode name = field(w, p, f->name);
            TSNode type = field(w, p, f->type);
            TSNode value = field(w, p, f->value);
            if (!ts_node_is_null(type))
                walk_expr(w, type, outer);
            if (!ts_node_is_null(value))
                walk_expr(w, value, outer);
            if (!ts_node_is_null(name) && kind(w, name) == K_TUPLE_PATTERN)
                python2(w, name, "tuple parameter");
            else if (!ts_node_is_null(name))
                bind_param(w, fn, name);
            break;
        }
        case K_TYPED_PARAMETER: {
            TSNode type = field(w, p, f->type);
            if (!ts_node_is_null(type))
                walk_expr(w, type, outer);
            children pc;
            get_children(w, p, &pc, true);
            for (size_t j = 0; j < pc.len; j++)
                if (pc.fields[j] != f->type)
                    bind_param(w, fn, pc.items[j]);
            children_release(&pc);
            break;
        }
        case K_LIST_SPLAT_PATTERN:
        case K_DICTIONARY_SPLAT_PATTERN:
            bind_param(w, fn, ts_node_named_child(p, 0));
            break;
        case K_TUPLE_PATTERN:
            python2(w, p, "tuple parameter");
            break;
        default:
            break;
        }
    }
    children_release(&ch);
}

/* Whether the decorator's text names a cache: functools.lru_cache, cache, memoize... */
static bool caching_decorator(walker *w, TSNode decorator)
{
    uint32_t start = ts_node_start_byte(decorator), end = ts_node_end_byte(decorator);
    static const char *const words[] = { "cache", "memo" };
    for (size_t k = 0; k < sizeof words / sizeof *words; k++) {
        size_t n = strlen(words[k]);
        for (uint32_t i = start; i + n <= end; i++)
            if (memcmp(w->text + i, words[k], n) == 0)
                return true;
    }
    return false;
}

static void walk_decorators(walker *w, TSNode decorated, scope *sc)
{
    if (ts_node_is_null(decorated))
        return;
    children ch;
    get_children(w, decorated, &ch, true);
    for (size_t i = 0; i < ch.len && !w->failed; i++) {
        if (kind(w, ch.items[i]) != K_DECORATOR)
            continue;
        walk_named_children(w, ch.items[i], sc);
        if (w->definition >= 0 && sc->kind == SCOPE_MODULE && caching_decorator(w, ch.items[i]))
            w->definitions[w->definition].def.memoized = true;
    }
    children_release(&ch);
}

/* Starts recording a top-level definition's reads; returns the previous one. */
static long begin_definition(walker *w, scope *sc, TSNode name, nb_binding_kind kind_of_def)
{
    long previous = w->definition;
    if (sc->kind != SCOPE_MODULE || ts_node_is_null(name))
        return previous;
    w->definitions = nb_xgrow(w->definitions, &w->definitions_cap, w->ndefinitions + 1,
                              sizeof *w->definitions);
    definition_entry *d = &w->definitions[w->ndefinitions];
    memset(d, 0, sizeof *d);
    d->def.name = name_of(w, name);
    d->def.kind = kind_of_def;
    d->def.stmt = w->stmt;
    int col;
    position(w, name, &d->def.line, &col);
    w->definition = (long)w->ndefinitions++;
    stamp_clear(&w->scan->reads_seen);
    return previous;
}

static void end_definition(walker *w, long previous)
{
    w->definition = previous;
    stamp_clear(&w->scan->reads_seen);
}

/* Where the effects of a function body go, once it is walked: a top-level definition
 * (DEFINES) keeps them, a method of a top-level class becomes one of its methods, and
 * any other function (nested, anonymous) is taken to run where it is defined. */
static void finish_frame(walker *w, scope *sc, bool defines, TSNode name, frame *body)
{
    definition_entry *d = w->definition >= 0 ? &w->definitions[w->definition] : NULL;
    if (defines && d) {
        d->def.effects = frame_keep(body, w->pool);
    } else if (d && d->def.kind == NB_BIND_CLASS && sc->kind == SCOPE_CLASS &&
               sc->parent && sc->parent->kind == SCOPE_MODULE && !ts_node_is_null(name)) {
        d->methods = nb_xgrow(d->methods, &d->methods_cap, d->nmethods + 1, sizeof *d->methods);
        nb_method *m = &d->methods[d->nmethods++];
        m->name = name_of(w, name);
        int col;
        position(w, name, &m->line, &col);
        m->effects = frame_keep(body, w->pool);
    } else {
        frame_merge_nested(frame_of(w, sc), body, w->pool);
    }
    frame_release(body);
}

static void walk_function(walker *w, TSNode node, scope *sc, TSNode decorated)
{
    const fields *f = &w->scan->f;
    TSNode name = field(w, node, f->name);
    long previous = begin_definition(w, sc, name, NB_BIND_FUNCTION);
    bool defines = sc->kind == SCOPE_MODULE && !ts_node_is_null(name);
    walk_decorators(w, decorated, sc);
    frame body = { 0 };
    scope fn = { .kind = SCOPE_FUNCTION, .parent = sc, .fr = &body };
    walk_parameters(w, field(w, node, f->parameters), sc, &fn);
    TSNode ret = field(w, node, f->return_type);
    if (!ts_node_is_null(ret))
        walk_expr(w, ret, sc);
    /* the name is bound when the def runs; the body runs later */
    if (!ts_node_is_null(name))
        bind(w, sc, name, NB_BIND_FUNCTION);
    TSNode block = field(w, node, f->body);
    if (!ts_node_is_null(block))
        walk_block(w, block, &fn);
    finish_function(w, &fn);
    scope_release(&fn);
    finish_frame(w, sc, defines, name, &body);
    end_definition(w, previous);
}

static void walk_class(walker *w, TSNode node, scope *sc, TSNode decorated)
{
    const fields *f = &w->scan->f;
    TSNode name = field(w, node, f->name);
    long previous = begin_definition(w, sc, name, NB_BIND_CLASS);
    walk_decorators(w, decorated, sc);
    TSNode bases = field(w, node, f->superclasses);
    if (!ts_node_is_null(bases))
        walk_expr(w, bases, sc);
    scope cls = { .kind = SCOPE_CLASS, .parent = sc };
    TSNode body = field(w, node, f->body);
    if (!ts_node_is_null(body))
        walk_block(w, body, &cls);
    scope_release(&cls);
    if (!ts_node_is_null(name))
        bind(w, sc, name, NB_BIND_CLASS);
    end_definition(w, previous);
}

static void walk_lambda(walker *w, TSNode node, scope *sc)
{
    const fields *f = &w->scan->f;
    bool defines = w->lambda_defines;
    w->lambda_defines = false;
    frame body = { 0 };
    scope fn = { .kind = SCOPE_FUNCTION, .parent = sc, .fr = &body };
    walk_parameters(w, field(w, node, f->parameters), sc, &fn);
    TSNode value = field(w, node, f->body);
    if (!ts_node_is_null(value)) {
        walk_expr(w, value, &fn);
        expr_shares(w, value, &fn, &body.returns);
    }
    finish_function(w, &fn);
    scope_release(&fn);
    finish_frame(w, sc, defines, (TSNode){ 0 }, &body);
}

/* -- imports -- */

/* The text of a dotted name without whitespace, in the pool. */
static const char *dotted_text(walker *w, TSNode node)
{
    uint32_t start = ts_node_start_byte(node), end = ts_node_end_byte(node);
    char *s = nb_pool_alloc(w->pool, end - start + 1);
    size_t n = 0;
    for (uint32_t i = start; i < end; i++)
        if (w->text[i] != ' ' && w->text[i] != '\t' && w->text[i] != '\\' && w->text[i] != '\n')
            s[n++] = w->text[i];
    s[n] = '\0';
    return s;
}

static void record_import(walker *w, scope *sc, const char *module, const char *name,
                          TSNode bound, int line)
{
    nb_name bound_name = ts_node_is_null(bound) ? NB_NO_NAME : name_of(w, bound);
    if (!ts_node_is_null(bound))
        bind_name(w, sc, bound_name, bound, NB_BIND_IMPORT, NULL);
    if (sc->kind != SCOPE_MODULE)
        return;
    w->imports = nb_xgrow(w->imports, &w->imports_cap, w->nimports + 1, sizeof *w->imports);
    w->imports[w->nimports++] = (nb_import){ module, name, bound_name, line };
}

static void walk_import(walker *w, TSNode node, scope *sc)
{
    const fields *f = &w->scan->f;
    int line, col;
    position(w, node, &line, &col);
    children ch;
    get_children(w, node, &ch, true);
    for (size_t i = 0; i < ch.len; i++) {
        TSNode item = ch.items[i];
        if (ch.fields[i] != f->name)
            continue;
        if (kind(w, item) == K_ALIASED_IMPORT) {
            TSNode dotted = field(w, item, f->name);
            record_import(w, sc, dotted_text(w, dotted), NULL, field(w, item, f->alias), line);
        } else {
            /* import a.b.c binds a */
            record_import(w, sc, dotted_text(w, item), NULL, ts_node_named_child(item, 0), line);
        }
    }
    children_release(&ch);
}

static void walk_import_from(walker *w, TSNode node, scope *sc, bool future)
{
    const fields *f = &w->scan->f;
    int line, col;
    position(w, node, &line, &col);
    TSNode module = field(w, node, f->module_name);
    const char *module_text = future ? "__future__"
                              : ts_node_is_null(module) ? "" : dotted_text(w, module);
    children ch;
    get_children(w, node, &ch, true);
    for (size_t i = 0; i < ch.len; i++) {
        TSNode item = ch.items[i];
        if (kind(w, item) == K_WILDCARD_IMPORT) {
            if (sc->kind == SCOPE_MODULE)
                w->star_import = true;
            record_import(w, sc, module_text, "*", (TSNode){ 0 }, line);
            continue;
        }
        if (ch.fields[i] != f->name)
            continue;
        if (kind(w, item) == K_ALIASED_IMPORT) {
            TSNode dotted = field(w, item, f->name);
            record_import(w, sc, module_text, dotted_text(w, dotted), field(w, item, f->alias),
                          line);
        } else {
            record_import(w, sc, module_text, dotted_text(w, item), ts_node_named_child(item, 0),
                          line);
        }
    }
    children_release(&ch);
}

/* -- match patterns -- */

static void walk_pattern(walker *w, TSNode node, scope *sc);

static void capture(walker *w, TSNode ident, scope *sc)
{
    if (name_of(w, ident) != w->scan->n_underscore)
        bind(w, sc, ident, NB_BIND_DATA);
}

static void walk_pattern(walker *w, TSNode node, scope *sc)
{
    if (w->failed)
        return;
    if (++w->depth > MAX_DEPTH) {
        fail(w, node, "too-deep", "nested too deeply to analyse");
        return;
    }
    children ch;
    get_children(w, node, &ch, true);
    switch (kind(w, node)) {
    case K_DOTTED_NAME:
        /* a bare name captures; a dotted one (Color.RED) is a value to compare with */
        if (ch.len == 1)
            capture(w, ch.items[0], sc);
        else if (ch.len > 1)
            load(w, sc, ch.items[0]);
        break;
    case K_IDENTIFIER:
        capture(w, node, sc);
        break;
    case K_CLASS_PATTERN:
        for (size_t i = 0; i < ch.len; i++) {
            if (i == 0 && kind(w, ch.items[i]) == K_DOTTED_NAME)
                load(w, sc, ts_node_named_child(ch.items[i], 0));
            else
                walk_pattern(w, ch.items[i], sc);
        }
        break;
    case K_KEYWORD_PATTERN:
        for (size_t i = 1; i < ch.len; i++) /* the first identifier is an attribute name */
            walk_pattern(w, ch.items[i], sc);
        break;
    case K_DICT_PATTERN:
        for (size_t i = 0; i < ch.len; i++) {
            TSNode item = ch.items[i];
            if (ch.fields[i] == w->scan->f.key) {
                if (kind(w, item) == K_DOTTED_NAME && ts_node_named_child_count(item) > 1)
                    load(w, sc, ts_node_named_child(item, 0));
            } else {
                walk_pattern(w, item, sc);
            }
        }
        break;
    case K_STRING:
    case K_INTEGER:
        break;
    default:
        for (size_t i = 0; i < ch.len; i++)
            walk_pattern(w, ch.items[i], sc);
        break;
    }
    children_release(&ch);
    w->depth--;
}

static void walk_match(walker *w, TSNode node, scope *sc)
{
    const fields *f = &w->scan->f;
    TSNode subject = field(w, node, f->subject);
    if (!ts_node_is_null(subject))
        walk_expr(w, subject, sc);
    TSNode body = field(w, node, f->body);
    if (ts_node_is_null(body))
        return;
    children cases;
    get_children(w, body, &cases, true);
    for (size_t i = 0; i < cases.len && !w->failed; i++) {
        if (kind(w, cases.items[i]) != K_CASE_CLAUSE)
            continue;
        children parts;
        get_children(w, cases.items[i], &parts, true);
        for (size_t j = 0; j < parts.len && !w->failed; j++) {
            if (parts.fields[j] == f->consequence)
                walk_block(w, parts.items[j], sc);
            else if (parts.fields[j] == f->guard)
                walk_expr(w, parts.items[j], sc);
            else
                walk_pattern(w, parts.items[j], sc);
        }
        children_release(&parts);
    }
    children_release(&cases);
}

/* -- statements -- */

static bool is_lambda(walker *w, TSNode node)
{
    return !ts_node_is_null(node) && kind(w, node) == K_LAMBDA;
}

static bool is_sequence(walker *w, TSNode node)
{
    switch (kind(w, node)) {
    case K_TUPLE:
    case K_LIST:
    case K_PATTERN_LIST:
    case K_TUPLE_PATTERN:
    case K_LIST_PATTERN:
    case K_EXPRESSION_LIST:
        return true;
    default:
        return false;
    }
}

static bool has_splat(walker *w, const children *ch)
{
    for (size_t i = 0; i < ch->len; i++) {
        enum kind k = kind(w, ch->items[i]);
        if (k == K_LIST_SPLAT || k == K_LIST_SPLAT_PATTERN)
            return true;
    }
    return false;
}

/* A call whose results hold each other (plt.subplots(): the figure holds the axes). */
static bool returns_linked(walker *w, TSNode value)
{
    if (kind(w, value) != K_CALL)
        return false;
    TSNode fn = field(w, value, w->scan->f.function);
    if (!ts_node_is_null(fn) && kind(w, fn) == K_ATTRIBUTE)
        fn = field(w, fn, w->scan->f.attribute);
    return !ts_node_is_null(fn) && known(w, fn, KNOWN_LINKED_RESULTS);
}

/* The names of a module-level unpacking target of one value (fig, ax =
 * plt.subplots()) share each other's new objects: one result holds them all. */
static void join_unpacked(walker *w, TSNode target, scope *sc)
{
    if (sc->kind != SCOPE_MODULE)
        return;
    nb_name names[16];
    size_t n = 0;
    children ch;
    get_children(w, target, &ch, true);
    for (size_t i = 0; i < ch.len && n < 16; i++)
        if (kind(w, ch.items[i]) == K_IDENTIFIER)
            names[n++] = name_of(w, ch.items[i]);
    children_release(&ch);
    for (size_t i = 0; i < n; i++) {
        shareset *entry = sharemap_find(&sc->shares, names[i]);
        for (size_t j = 0; entry && j < n; j++)
            if (j != i)
                shares_add_here(entry, names[j]);
    }
}

typedef struct assigned {
    TSNode target, value;
    shareset shares;
} assigned;

typedef struct assigned_list {
    assigned *items;
    size_t len, cap;
} assigned_list;

/* Pairs TARGET with VALUE, element by element for `a, b = x, y`, the whole value for
 * everything else. */
static void pair_targets(walker *w, TSNode target, TSNode value, assigned_list *out)
{
    if (!ts_node_is_null(value) && is_sequence(w, target) && is_sequence(w, value)) {
        children t, v;
        get_children(w, target, &t, true);
        get_children(w, value, &v, true);
        bool pairwise = t.len == v.len && !has_splat(w, &t) && !has_splat(w, &v);
        for (size_t i = 0; pairwise && i < t.len; i++)
            pair_targets(w, t.items[i], v.items[i], out);
        children_release(&t);
        children_release(&v);
        if (pairwise)
            return;
    }
    out->items = nb_xgrow(out->items, &out->cap, out->len + 1, sizeof *out->items);
    out->items[out->len++] = (assigned){ target, value, { 0 } };
}

/* The facts a module-level NAME = VALUE keeps about the value: a generator, the call
 * that made it. */
static void note_value(walker *w, TSNode target, TSNode value, scope *sc)
{
    if (sc->kind != SCOPE_MODULE || kind(w, target) != K_IDENTIFIER || ts_node_is_null(value))
        return;
    nb_def *def = &w->defs[w->scan->defined.value[name_of(w, target)]].def;
    def->generator = kind(w, value) == K_COMPREHENSION && w->text[ts_node_start_byte(value)] == '(';
    def->made_by = kind(w, value) == K_CALL ? chain_path(w, field(w, value, w->scan->f.function))
                                             : NULL;
    def->made_from = def->made_by ? chain_literal(w, value) : NULL;
}

/* TARGET = VALUE (VALUE already walked): `a, b = x, y` binds a to what x shares and b
 * to what y shares, all read before any is bound (`a, b = b, a` swaps); otherwise
 * every name of TARGET gets what all of VALUE shares. */
static void bind_assigned(walker *w, TSNode target, TSNode value, scope *sc,
                          nb_binding_kind kind_of_value)
{
    assigned_list pairs = { 0 };
    pair_targets(w, target, value, &pairs);
    for (size_t i = 0; i < pairs.len; i++)
        expr_shares(w, pairs.items[i].value, sc, &pairs.items[i].shares);
    for (size_t i = 0; i < pairs.len && !w->failed; i++) {
        assigned *a = &pairs.items[i];
        bind_target(w, a->target, sc, kind_of_value, &a->shares);
        if (is_sequence(w, a->target) && !ts_node_is_null(a->value) &&
            returns_linked(w, a->value))
            join_unpacked(w, a->target, sc);
        note_value(w, a->target, a->value, sc);
    }
    for (size_t i = 0; i < pairs.len; i++)
        shares_release(&pairs.items[i].shares);
    free(pairs.items);
}

static void walk_assignment(walker *w, TSNode node, scope *sc)
{
    const fields *f = &w->scan->f;
    /* a = b = value: the value is evaluated first, then targets bound left to right */
    TSNode targets[64];
    size_t ntargets = 0;
    TSNode value = node;
    while (!ts_node_is_null(value) && kind(w, value) == K_ASSIGNMENT && ntargets < 64) {
        TSNode type = field(w, value, f->type);
        if (!ts_node_is_null(type))
            walk_expr(w, type, sc);
        targets[ntargets++] = field(w, value, f->left);
        value = field(w, value, f->right);
    }
    bool has_value = !ts_node_is_null(value) && kind(w, value) != K_ASSIGNMENT;
    /* NAME = lambda ...: a function in all but syntax, carried as code */
    bool lambda_def = has_value && ntargets == 1 && kind(w, targets[0]) == K_IDENTIFIER &&
                      is_lambda(w, value);
    long previous = w->definition;
    if (lambda_def)
        previous = begin_definition(w, sc, targets[0], NB_BIND_FUNCTION);
    w->lambda_defines = lambda_def && sc->kind == SCOPE_MODULE;
    if (has_value)
        walk_expr(w, value, sc);
    w->lambda_defines = false;
    for (size_t i = 0; i < ntargets && !w->failed; i++) {
        TSNode target = targets[i];
        if (ts_node_is_null(target))
            continue;
        /* `x: int` without a value binds nothing at module level */
        if (!has_value && sc->kind == SCOPE_MODULE && kind(w, target) == K_IDENTIFIER)
            continue;
        bind_assigned(w, target, has_value ? value : (TSNode){ 0 }, sc,
                      lambda_def ? NB_BIND_FUNCTION : NB_BIND_DATA);
    }
    if (lambda_def)
        end_definition(w, previous);
}

static void walk_augmented(walker *w, TSNode node, scope *sc)
{
    const fields *f = &w->scan->f;
    TSNode left = field(w, node, f->left);
    TSNode right = field(w, node, f->right);
    /* x[i] += v reads x and i, then v, then stores */
    if (!ts_node_is_null(left))
        walk_expr(w, left, sc);
    if (!ts_node_is_null(right))
        walk_expr(w, right, sc);
    if (ts_node_is_null(left) || w->failed)
        return;
    /* x += v changes a list or an array in place (its aliases see it) and may put v's
     * objects in it; for numbers it rebinds x, which the same facts cover */
    shareset shares = { 0 };
    expr_shares(w, left, sc, &shares);
    expr_shares(w, right, sc, &shares);
    if (kind(w, left) == K_IDENTIFIER)
        change_object(w, sc, left, NB_NO_NAME);
    bind_target(w, left, sc, NB_BIND_DATA, &shares);
    shares_release(&shares);
}

static void walk_delete(walker *w, TSNode node, scope *sc)
{
    children ch;
    get_children(w, node, &ch, true);
    for (size_t i = 0; i < ch.len && !w->failed; i++) {
        TSNode target = ch.items[i];
        if (kind(w, target) == K_EXPRESSION_LIST) {
            walk_delete(w, target, sc);
            continue;
        }
        if (kind(w, target) == K_IDENTIFIER) {
            walk_expr(w, target, sc); /* `del x` needs x */
            if (sc->kind == SCOPE_MODULE)
                module_delete(w, name_of(w, target));
            continue;
        }
        walk_expr(w, target, sc);
        if (kind(w, target) == K_ATTRIBUTE || kind(w, target) == K_SUBSCRIPT) {
            TSNode object = field(w, target, kind(w, target) == K_ATTRIBUTE ? w->scan->f.object
                                                                            : w->scan->f.value);
            if (!ts_node_is_null(object))
                change_object(w, sc, object, NB_NO_NAME);
        }
    }
    children_release(&ch);
}

static void walk_for(walker *w, TSNode node, scope *sc)
{
    const fields *f = &w->scan->f;
    TSNode right = field(w, node, f->right);
    TSNode left = field(w, node, f->left);
    if (!ts_node_is_null(right))
        walk_expr(w, right, sc);
    if (!ts_node_is_null(left)) /* the loop variable holds each item: `for df in combine` */
        bind_loop_target(w, left, right, sc, sc, false);
    children ch;
    get_children(w, node, &ch, true);
    for (size_t i = 0; i < ch.len && !w->failed; i++)
        if (ch.fields[i] == f->body || ch.fields[i] == f->alternative)
            walk_stmt(w, ch.items[i], sc);
    children_release(&ch);
}

/* except E as e / with A() as a: the expression is read, the target bound to it. */
static void walk_as_pattern(walker *w, TSNode node, scope *sc)
{
    children ch;
    get_children(w, node, &ch, true);
    shareset shares = { 0 };
    for (size_t i = 0; i < ch.len && !w->failed; i++) {
        if (kind(w, ch.items[i]) == K_AS_PATTERN_TARGET) {
            bind_target(w, ch.items[i], sc, NB_BIND_DATA, &shares);
        } else {
            walk_expr(w, ch.items[i], sc);
            expr_shares(w, ch.items[i], sc, &shares);
        }
    }
    shares_release(&shares);
    children_release(&ch);
}

static void walk_except(walker *w, TSNode node, scope *sc)
{
    const fields *f = &w->scan->f;
    children ch;
    get_children(w, node, &ch, false);
    for (size_t i = 0; i < ch.len && !w->failed; i++) {
        TSNode c = ch.items[i];
        if (!ts_node_is_named(c)) {
            if (text_is(w, c, ","))
                python2(w, c, "except E, e");
            continue;
        }
        enum kind k = kind(w, c);
        if (k == K_AS_PATTERN)
            walk_as_pattern(w, c, sc);
        else if (ch.fields[i] == f->alias)
            bind_target(w, c, sc, NB_BIND_DATA, NULL);
        else if (k == K_BLOCK)
            walk_stmt(w, c, sc);
        else if (k != K_COMMENT)
            walk_expr(w, c, sc);
    }
    children_release(&ch);
}

static void walk_with_item(walker *w, TSNode node, scope *sc)
{
    TSNode value = field(w, node, w->scan->f.value);
    if (ts_node_is_null(value))
        return;
    if (kind(w, value) == K_AS_PATTERN)
        walk_as_pattern(w, value, sc);
    else
        walk_expr(w, value, sc);
}

static void declare(walker *w, TSNode node, idset *set, scope *sc)
{
    if (sc->kind == SCOPE_MODULE)
        return;
    children ch;
    get_children(w, node, &ch, true);
    for (size_t i = 0; i < ch.len; i++)
        if (kind(w, ch.items[i]) == K_IDENTIFIER)
            idset_add(set, name_of(w, ch.items[i]));
    children_release(&ch);
}

static void walk_expression_statement(walker *w, TSNode node, scope *sc)
{
    children ch;
    get_children(w, node, &ch, true);
    for (size_t i = 0; i < ch.len && !w->failed; i++) {
        TSNode c = ch.items[i];
        switch (kind(w, c)) {
        case K_ASSIGNMENT:
            walk_assignment(w, c, sc);
            break;
        case K_AUGMENTED_ASSIGNMENT:
            walk_augmented(w, c, sc);
            break;
        case K_CALL:
            walk_call(w, c, sc, ch.len == 1);
            break;
        default:
            walk_expr(w, c, sc);
            break;
        }
    }
    children_release(&ch);
}

static void walk_type_alias(walker *w, TSNode node, scope *sc)
{
    const fields *f = &w->scan->f;
    TSNode left = field(w, node, f->left);
    TSNode right = field(w, node, f->right);
    /* the value of a type alias is evaluated lazily, like a function body */
    scope lazy = { .kind = SCOPE_FUNCTION, .parent = sc };
    if (!ts_node_is_null(right))
        walk_expr(w, right, &lazy);
    finish_function(w, &lazy);
    scope_release(&lazy);
    if (!ts_node_is_null(left) && ts_node_named_child_count(left) > 0) {
        TSNode name = ts_node_named_child(left, 0);
        if (kind(w, name) == K_IDENTIFIER)
            bind(w, sc, name, NB_BIND_DATA);
        else if (kind(w, name) == K_OTHER) /* generic_type: X[T] */
            bind(w, sc, ts_node_named_child(name, 0), NB_BIND_DATA);
    }
}

/* return VALUE: what a call of the function returns may share what VALUE shares. */
static void walk_return(walker *w, TSNode node, scope *sc)
{
    walk_named_children(w, node, sc);
    scope *owner = frame_owner(sc);
    if (owner && !w->failed)
        children_shares(w, node, sc, &owner->fr->returns);
}

static void walk_stmt(walker *w, TSNode node, scope *sc)
{
    if (w->failed)
        return;
    if (++w->depth > MAX_DEPTH) {
        fail(w, node, "too-deep", "nested too deeply to analyse");
        return;
    }
    switch (kind(w, node)) {
    case K_EXPRESSION_STATEMENT:
        walk_expression_statement(w, node, sc);
        break;
    case K_IMPORT:
        walk_import(w, node, sc);
        break;
    case K_IMPORT_FROM:
        walk_import_from(w, node, sc, false);
        break;
    case K_FUTURE_IMPORT:
        walk_import_from(w, node, sc, true);
        break;
    case K_FUNCTION_DEFINITION:
        walk_function(w, node, sc, (TSNode){ 0 });
        break;
    case K_CLASS_DEFINITION:
        walk_class(w, node, sc, (TSNode){ 0 });
        break;
    case K_DECORATED_DEFINITION: {
        TSNode def = field(w, node, w->scan->f.definition);
        if (ts_node_is_null(def))
            break;
        if (kind(w, def) == K_CLASS_DEFINITION)
            walk_class(w, def, sc, node);
        else
            walk_function(w, def, sc, node);
        break;
    }
    case K_FOR:
        walk_for(w, node, sc);
        break;
    case K_EXCEPT:
        walk_except(w, node, sc);
        break;
    case K_WITH_ITEM:
        walk_with_item(w, node, sc);
        break;
    case K_GLOBAL:
        declare(w, node, &sc->globals, sc);
        break;
    case K_NONLOCAL:
        declare(w, node, &sc->nonlocals, sc);
        break;
    case K_DELETE:
        walk_delete(w, node, sc);
        break;
    case K_MATCH:
        walk_match(w, node, sc);
        break;
    case K_TYPE_ALIAS:
        walk_type_alias(w, node, sc);
        break;
    case K_PRINT:
        python2(w, node, "print statement");
        break;
    case K_EXEC:
        python2(w, node, "exec statement");
        break;
    case K_RAISE:
        if (ts_node_named_child_count(node) > 0 &&
            kind(w, ts_node_named_child(node, 0)) == K_EXPRESSION_LIST)
            python2(w, node, "raise E, message");
        else
            walk_named_children(w, node, sc);
        break;
    case K_RETURN:
        walk_return(w, node, sc);
        break;
    case K_COMMENT:
        break;
    default:
        /* blocks, if/while/try/with and simple statements: their parts in order,
         * statements as statements and everything else as expressions */
        walk_block(w, node, sc);
        break;
    }
    w->depth--;
}

static bool is_statement_kind(enum kind k)
{
    switch (k) {
    case K_EXPRESSION_STATEMENT:
    case K_IMPORT:
    case K_IMPORT_FROM:
    case K_FUTURE_IMPORT:
    case K_FUNCTION_DEFINITION:
    case K_CLASS_DEFINITION:
    case K_DECORATED_DEFINITION:
    case K_FOR:
    case K_BLOCK:
    case K_EXCEPT:
    case K_WITH_ITEM:
    case K_GLOBAL:
    case K_NONLOCAL:
    case K_DELETE:
    case K_MATCH:
    case K_TYPE_ALIAS:
    case K_PRINT:
    case K_EXEC:
    case K_RAISE:
    case K_RETURN:
    case K_COMMENT:
        return true;
    default:
        return false;
    }
}

/* The parts of a block or compound statement: statements and clauses are walked as
 * statements, conditions and other expressions as expressions. */
static void walk_block(walker *w, TSNode node, scope *sc)
{
    children ch;
    get_children(w, node, &ch, true);
    for (size_t i = 0; i < ch.len && !w->failed; i++) {
        if (is_statement_kind(kind(w, ch.items[i])))
            walk_stmt(w, ch.items[i], sc);
        else
            walk_expr(w, ch.items[i], sc);
    }
    children_release(&ch);
}

/* ---- Syntax errors --------------------------------------------------------------- */

static bool is_error_node(const walker *w, TSNode node)
{
    return kind(w, node) == K_ERROR || ts_node_is_missing(node);
}

/* The first ERROR or MISSING node in document order, found without recursion (a cell
 * may nest thousands of brackets). */
static TSNode first_error(walker *w, TSNode root)
{
    TSNode node = root;
    while (!is_error_node(w, node)) {
        children ch;
        get_children(w, node, &ch, false);
        TSNode next = { 0 };
        for (size_t i = 0; i < ch.len; i++) {
            if (ts_node_has_error(ch.items[i]) || ts_node_is_missing(ch.items[i])) {
                next = ch.items[i];
                break;
            }
        }
        children_release(&ch);
        if (ts_node_is_null(next))
            break;
        node = next;
    }
    return node;
}

/* The first leaf inside NODE: the token the parser could not place. */
static TSNode first_leaf(TSNode node)
{
    while (ts_node_child_count(node) > 0)
        node = ts_node_child(node, 0);
    return node;
}

static void report_syntax_error(walker *w, TSNode root)
{
    TSNode err = first_error(w, root);
    char msg[160];
    if (ts_node_is_missing(err)) {
        const char *what = ts_node_type(err);
        if (ts_node_is_named(err))
            snprintf(msg, sizeof msg, "invalid syntax: expected %s", what);
        else
            snprintf(msg, sizeof msg, "invalid syntax: expected '%s'", what);
    } else {
        TSNode leaf = first_leaf(err);
        uint32_t start = ts_node_start_byte(leaf), end = ts_node_end_byte(leaf);
        int n = (int)(end - start < 30 ? end - start : 30);
        const char *nl = memchr(w->text + start, '\n', (size_t)n);
        if (nl)
            n = (int)(nl - (w->text + start));
        if (n > 0)
            snprintf(msg, sizeof msg, "invalid syntax at '%.*s'", n, w->text + start);
        else
            snprintf(msg, sizeof msg, "invalid syntax");
        err = leaf;
    }
    fail(w, err, "syntax-error", msg);
}

/* ---- One cell -------------------------------------------------------------------- */

/* A statement's bytes, widened to whole lines when nothing else shares them. */
static nb_stmt statement_extent(const walker *w, TSNode node, nb_binding_kind k)
{
    uint32_t start = ts_node_start_byte(node), end = ts_node_end_byte(node);
    uint32_t s = start;
    while (s > 0 && (w->text[s - 1] == ' ' || w->text[s - 1] == '\t'))
        s--;
    if (s == 0 || w->text[s - 1] == '\n')
        start = s;
    uint32_t e = end;
    while (e < w->len && (w->text[e] == ' ' || w->text[e] == '\t' || w->text[e] == '\r'))
        e++;
    if (e < w->len && w->text[e] == '#')
        while (e < w->len && w->text[e] != '\n')
            e++;
    if (e == w->len)
        end = e;
    else if (w->text[e] == '\n')
        end = e + 1;
    nb_stmt st = { .start = start, .end = end, .kind = k };
    st.first_line = (int)ts_node_start_point(node).row + 1;
    st.last_line = (int)ts_node_end_point(node).row + 1;
    return st;
}

/* The value of the N hex digits at S, or -1. */
static long hex_value(const char *s, size_t n)
{
    long v = 0;
    for (size_t i = 0; i < n; i++) {
        int d = nb_hex_digit((unsigned char)s[i]);
        if (d < 0)
            return -1;
        v = v * 16 + d;
    }
    return v;
}

/* Decodes one escape sequence of a Python string literal (S, N bytes, starting with the
 * backslash) into OUT, as Python does; unknown escapes such as \d stay as written, as
 * in Python. Returns false for values a parameter cannot carry as text: a NUL (values
 * are C strings downstream), a surrogate (not UTF-8), \N{NAME} (would need Unicode's
 * name table). A value decoded wrongly would silently change the parameter's default
 * on every target, so anything not decoded exactly is refused. */
static bool decode_escape(nb_buf *out, const char *s, size_t n)
{
    if (n < 2) {
        nb_buf_add(out, s, n);
        return true;
    }
    long cp = -1;
    switch (s[1]) {
    case 'n': nb_buf_putc(out, '\n'); return true;
    case 't': nb_buf_putc(out, '\t'); return true;
    case 'r': nb_buf_putc(out, '\r'); return true;
    case 'a': nb_buf_putc(out, '\a'); return true;
    case 'b': nb_buf_putc(out, '\b'); return true;
    case 'f': nb_buf_putc(out, '\f'); return true;
    case 'v': nb_buf_putc(out, '\v'); return true;
    case '\\': nb_buf_putc(out, '\\'); return true;
    case '\'': nb_buf_putc(out, '\''); return true;
    case '"': nb_buf_putc(out, '"'); return true;
    case '\n': return true; /* a backslash-newline continues the string */
    case 'x': cp = n == 4 ? hex_value(s + 2, 2) : -1; break;
    case 'u': cp = n == 6 ? hex_value(s + 2, 4) : -1; break;
    case 'U': cp = n == 10 ? hex_value(s + 2, 8) : -1; break;
    case 'N': return false;
    default:
        if (s[1] >= '0' && s[1] <= '7') {
            cp = 0;
            for (size_t i = 1; i < n && i < 4; i++) {
                if (s[i] < '0' || s[i] > '7')
                    return false;
                cp = cp * 8 + (s[i] - '0');
            }
            if (n > 4)
                return false;
            break;
        }
        nb_buf_add(out, s, n);
        return true;
    }
    if (cp <= 0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return false;
    nb_buf_add_utf8(out, (unsigned long)cp);
    return true;
}

/* The value of a plain string literal (no f/b prefix, no implicit concatenation), or
 * false. Raw strings keep their backslashes. */
static bool string_value(walker *w, TSNode node, nb_buf *value)
{
    children ch;
    get_children(w, node, &ch, true);
    bool ok = true, raw = false;
    for (size_t i = 0; i < ch.len && ok; i++) {
        TSNode c = ch.items[i];
        uint32_t start = ts_node_start_byte(c), end = ts_node_end_byte(c);
        switch (kind(w, c)) {
        case K_STRING_START:
            for (uint32_t j = start; j < end; j++) {
                char p = w->text[j];
                if (p == 'f' || p == 'F' || p == 'b' || p == 'B')
                    ok = false;
                if (p == 'r' || p == 'R')
                    raw = true;
            }
            break;
        case K_STRING_CONTENT: {
            /* escape sequences are children of the content */
            children esc;
            get_children(w, c, &esc, true);
            uint32_t at = start;
            for (size_t e = 0; e < esc.len; e++) {
                uint32_t es = ts_node_start_byte(esc.items[e]), ee = ts_node_end_byte(esc.items[e]);
                nb_buf_add(value, w->text + at, es - at);
                if (raw || kind(w, esc.items[e]) != K_ESCAPE)
                    nb_buf_add(value, w->text + es, ee - es);
                else if (!decode_escape(value, w->text + es, ee - es))
                    ok = false;
                at = ee;
            }
            nb_buf_add(value, w->text + at, end - at);
            children_release(&esc);
            break;
        }
        case K_OTHER:
            if (ts_node_named_child_count(c) == 0)
                break; /* string_end */
            ok = false;
            break;
        default:
            ok = false; /* an interpolation */
            break;
        }
    }
    children_release(&ch);
    return ok;
}

/* Records `NAME = literal` (a number, string, bool or None; numbers may be negative). */
static void note_literal(walker *w, TSNode stmt)
{
    if (ts_node_named_child_count(stmt) != 1)
        return;
    TSNode assign = ts_node_named_child(stmt, 0);
    if (kind(w, assign) != K_ASSIGNMENT)
        return;
    TSNode left = field(w, assign, w->scan->f.left);
    TSNode right = field(w, assign, w->scan->f.right);
    if (ts_node_is_null(left) || ts_node_is_null(right) || kind(w, left) != K_IDENTIFIER)
        return;
    TSNode lit = right;
    if (kind(w, right) == K_UNARY && ts_node_named_child_count(right) == 1)
        lit = ts_node_named_child(right, 0);
    nb_literal_type type;
    switch (kind(w, lit)) {
    case K_INTEGER: type = NB_LIT_INT; break;
    case K_FLOAT: type = NB_LIT_FLOAT; break;
    case K_STRING: type = NB_LIT_STRING; break;
    case K_TRUE:
    case K_FALSE: type = NB_LIT_BOOL; break;
    case K_NONE: type = NB_LIT_NONE; break;
    default: return;
    }
    if (!ts_node_eq(lit, right) && type != NB_LIT_INT && type != NB_LIT_FLOAT)
        return;
    uint32_t start = ts_node_start_byte(right), end = ts_node_end_byte(right);
    nb_buf value = NB_BUF_INIT;
    if (type == NB_LIT_STRING && !string_value(w, lit, &value)) {
        nb_buf_release(&value);
        return;
    }
    if (type != NB_LIT_STRING)
        nb_buf_add(&value, w->text + start, end - start);
    w->literals = nb_xgrow(w->literals, &w->literals_cap, w->nliterals + 1, sizeof *w->literals);
    w->literals[w->nliterals++] = (nb_literal){
        .name = name_of(w, left),
        .type = type,
        .text = nb_pool_strndup(w->pool, w->text + start, end - start),
        .value = nb_pool_strndup(w->pool, value.data, value.len),
        .stmt = w->stmt,
    };
    nb_buf_release(&value);
}

/* An expression statement that only shows a value in a notebook: anything but an
 * assignment or a call of a plain function (print(x), f(x)). */
static bool displays_value(walker *w, TSNode stmt)
{
    if (kind(w, stmt) != K_EXPRESSION_STATEMENT)
        return false;
    children ch;
    get_children(w, stmt, &ch, true);
    bool shows = ch.len > 0;
    for (size_t i = 0; i < ch.len && shows; i++) {
        TSNode c = ch.items[i];
        enum kind k = kind(w, c);
        if (k == K_ASSIGNMENT || k == K_AUGMENTED_ASSIGNMENT || k == K_NAMED_EXPRESSION)
            shows = false;
        else if (k == K_CALL) {
            TSNode fn = field(w, c, w->scan->f.function);
            shows = !ts_node_is_null(fn) && kind(w, fn) != K_IDENTIFIER;
        } else if (k == K_OTHER && ts_node_named_child_count(c) > 0 &&
                   kind(w, ts_node_named_child(c, 0)) == K_CALL) {
            shows = false; /* await f(), yield ... */
        }
    }
    children_release(&ch);
    return shows;
}

/* Notes the call or assignment target that is the whole of top-level statement NODE. */
static void note_whole_statement(walker *w, TSNode node)
{
    w->top_call = w->top_target = (TSNode){ 0 };
    if (kind(w, node) != K_EXPRESSION_STATEMENT || ts_node_named_child_count(node) != 1)
        return;
    TSNode only = ts_node_named_child(node, 0);
    if (kind(w, only) == K_CALL) {
        w->top_call = only;
    } else if (kind(w, only) == K_ASSIGNMENT) {
        TSNode right = field(w, only, w->scan->f.right);
        if (!ts_node_is_null(right) && kind(w, right) != K_ASSIGNMENT)
            w->top_target = field(w, only, w->scan->f.left);
    }
}

/* What each name the cell leaves bound may share, from the module scope's map. */
static void settle_def_shares(walker *w, const scope *module)
{
    for (size_t i = 0; i < w->ndefs; i++) {
        def_entry *e = &w->defs[i];
        const shareset *known = e->deleted ? NULL : sharemap_find(&module->shares, e->def.name);
        if (known)
            e->def.shares = shares_keep(known, w->pool, false);
    }
}

static void walk_module(walker *w, TSNode root)
{
    scope module = { .kind = SCOPE_MODULE, .fr = &w->module_frame };
    w->displays_only = true;
    children top;
    get_children(w, root, &top, true);
    for (size_t i = 0; i < top.len && !w->failed; i++) {
        TSNode node = top.items[i];
        if (kind(w, node) == K_COMMENT)
            continue;
        w->stmt = (uint32_t)w->nstmts;
        w->stmt_kind = NB_BIND_DATA;
        w->nstmt_defs = 0;
        if (kind(w, node) == K_EXPRESSION_STATEMENT)
            note_literal(w, node);
        note_whole_statement(w, node);
        w->displays_only = w->displays_only && displays_value(w, node);
        if (is_statement_kind(kind(w, node)))
            walk_stmt(w, node, &module);
        else
            walk_expr(w, node, &module);
        /* a statement that imports or defines code is code as a whole:
         * try: import x / except ImportError: x = None */
        if (w->stmt_kind != NB_BIND_DATA)
            for (size_t d = 0; d < w->nstmt_defs; d++)
                w->defs[w->stmt_defs[d]].def.kind = w->stmt_kind;
        w->stmts = nb_xgrow(w->stmts, &w->stmts_cap, w->nstmts + 1, sizeof *w->stmts);
        w->stmts[w->nstmts++] = statement_extent(w, node, w->stmt_kind);
    }
    w->displays_only = w->displays_only && w->nstmts > 0;
    children_release(&top);
    settle_def_shares(w, &module);
    settle_mutations(w);
    scope_release(&module);
}

/* Deferred reads of names the cell never binds are uses of the cell. */
static void settle_deferred(walker *w)
{
    nb_pyscan *scan = w->scan;
    stamp_clear(&scan->deferred_seen);
    for (size_t i = 0; i < w->ndeferred; i++) {
        pending *p = &w->deferred[i];
        if (stamp_has(&scan->defined, p->name) || stamp_has(&scan->used, p->name) ||
            stamp_has(&scan->deferred_seen, p->name))
            continue;
        stamp_add(&scan->deferred_seen, p->name);
        w->uses = nb_xgrow(w->uses, &w->uses_cap, w->nuses + 1, sizeof *w->uses);
        w->uses[w->nuses++] = (nb_use){ p->name, p->line, p->col, true };
    }
}

static void copy_results(walker *w, nb_facts *out)
{
    nb_pool *pool = w->pool;
    size_t ndefs = 0, ndeletes = 0;
    for (size_t i = 0; i < w->ndefs; i++)
        w->defs[i].deleted ? ndeletes++ : ndefs++;
    out->defs = nb_pool_alloc(pool, (ndefs + 1) * sizeof *out->defs);
    out->deletes = nb_pool_alloc(pool, (ndeletes + 1) * sizeof *out->deletes);
    for (size_t i = 0; i < w->ndefs; i++) {
        const nb_def *d = &w->defs[i].def;
        if (w->defs[i].deleted)
            out->deletes[out->ndeletes++] = (nb_ref){ d->name, d->line, d->col, NB_NO_NAME, NB_NO_NAME };
        else
            out->defs[out->ndefs++] = *d;
    }
    out->uses = nb_pool_memdup(pool, w->uses, w->nuses, sizeof *w->uses);
    out->nuses = w->nuses;
    out->mutations = nb_pool_memdup(pool, w->mutations, w->nmutations, sizeof *w->mutations);
    out->nmutations = w->nmutations;
    out->imports = nb_pool_memdup(pool, w->imports, w->nimports, sizeof *w->imports);
    out->nimports = w->nimports;
    out->stmts = nb_pool_memdup(pool, w->stmts, w->nstmts, sizeof *w->stmts);
    out->nstmts = w->nstmts;
    out->definitions = nb_pool_alloc(pool, (w->ndefinitions + 1) * sizeof *out->definitions);
    out->ndefinitions = w->ndefinitions;
    for (size_t i = 0; i < w->ndefinitions; i++) {
        definition_entry *d = &w->definitions[i];
        out->definitions[i] = d->def;
        out->definitions[i].reads = nb_pool_memdup(pool, d->reads, d->nreads, sizeof *d->reads);
        out->definitions[i].nreads = d->nreads;
        out->definitions[i].methods = nb_pool_memdup(pool, d->methods, d->nmethods,
                                                     sizeof *d->methods);
        out->definitions[i].nmethods = d->nmethods;
    }
    out->builtin_uses = nb_pool_memdup(pool, w->builtin_uses, w->nbuiltin_uses,
                                       sizeof *w->builtin_uses);
    out->nbuiltin_uses = w->nbuiltin_uses;
    out->effects = frame_keep(&w->module_frame, pool);
    out->effects.changes = NULL; /* the cell's changes are its mutations */
    out->effects.nchanges = 0;
    out->literals = nb_pool_memdup(pool, w->literals, w->nliterals, sizeof *w->literals);
    out->nliterals = w->nliterals;
    out->star_import = w->star_import;
    out->displays_only = w->displays_only;
    out->parsed = true;
}

static void walker_release(walker *w)
{
    free(w->defs);
    free(w->uses);
    free(w->mutations);
    free(w->imports);
    for (size_t i = 0; i < w->ndefinitions; i++) {
        free(w->definitions[i].reads);
        free(w->definitions[i].methods);
    }
    free(w->definitions);
    free(w->builtin_uses);
    frame_release(&w->module_frame);
    free(w->stmts);
    free(w->literals);
    free(w->deferred);
    free(w->stmt_defs);
}

int nb_pyscan_cell(nb_pyscan *scan, const char *text, size_t len, nb_pool *pool, nb_facts *out,
                   nb_diags *diags, nb_loc loc)
{
    memset(out, 0, sizeof *out);
    if (len > UINT32_MAX) {
        nb_diag_add(diags, NB_ERROR, "too-large", loc, "cell is larger than 4 GiB");
        return -1;
    }
    walker w = { .scan = scan, .text = text, .len = len, .diags = diags, .loc = loc,
                 .pool = pool, .definition = -1 };
    stamp_clear(&scan->bound);
    stamp_clear(&scan->used);
    stamp_clear(&scan->defined);
    stamp_clear(&scan->mutated);
    stamp_clear(&scan->reads_seen);
    stamp_clear(&scan->builtin_seen);
    TSTree *tree = ts_parser_parse_string(scan->parser, NULL, text, (uint32_t)len);
    if (++scan->field_memo_gen == 0) { /* wrapped: forget every memo */
        memset(scan->field_memo, 0, sizeof scan->field_memo);
        scan->field_memo_gen = 1;
    }
    if (!tree) {
        nb_diag_add(diags, NB_ERROR, "syntax-error", loc, "the parser gave up on this cell");
        return -1;
    }
    TSNode root = ts_tree_root_node(tree);
    if (ts_node_has_error(root))
        report_syntax_error(&w, root);
    else
        walk_module(&w, root);
    if (!w.failed) {
        settle_deferred(&w);
        copy_results(&w, out);
    }
    /* the shared cursor points into this tree: drop it before the tree goes */
    if (scan->cursor_live) {
        ts_tree_cursor_delete(&scan->cursor);
        scan->cursor_live = false;
    }
    ts_tree_delete(tree);
    walker_release(&w);
    return w.failed ? -1 : 0;
}
