#include "nb2pipe/dataflow.h"

#include "nb2pipe/requirements.h"

#include "fileio.h"

#include <stdlib.h>
#include <string.h>

/* Source to carry: a whole cell (stmt < 0) or one top-level statement of it. */
typedef struct code_ref {
    size_t cell; /* index into nb_analysis.cells */
    long stmt;
    bool after_load; /* a replayed statement that reads values the step loads */
} code_ref;

typedef struct input_ref {
    nb_name name;
    const char *text; /* the name's text, for sorting */
    size_t from;      /* producing step (segmentation order) */
    size_t cell;      /* the first cell that reads it, for messages */
    int provider;     /* the cell number whose value it is */
    uint32_t group;   /* its alias group at that cell (0: none) */
    size_t artifact;  /* index into flow.artifacts, once packed */
} input_ref;

/* A file a step saves for later steps: the variables of one alias group as one cell
 * of the producing step left them (a single variable when it shares nothing). */
typedef struct artifact {
    size_t from;
    int provider;
    uint32_t group;
    nb_name first;     /* the variable that opened it (the key when group is 0) */
    nb_name *members;
    size_t nmembers, members_cap;
    char *name;
} artifact;

typedef struct step_state {
    code_ref *code;
    size_t ncode, code_cap;
    input_ref *inputs;
    size_t ninputs, inputs_cap;
    size_t *outputs; /* indexes into flow.artifacts */
    size_t noutputs, outputs_cap;
    nb_name *metrics;
    size_t nmetrics, metrics_cap;
    size_t *upstream;
    size_t nupstream, upstream_cap;
    bool *params; /* by parameter index */
    size_t dependents;
} step_state;

/* Where a parameter's default comes from: a literal of a parameters cell. */
typedef struct param_source {
    const nb_literal *literal;
    size_t cell;
} param_source;

typedef struct flow {
    const nb_analysis *an;
    const nb_segmentation *seg;
    nb_diags *diags;
    step_state *steps;
    param_source *params; /* of each parameter */
    size_t nparams, params_cap;
    size_t *param_of; /* by name id: parameter index + 1, or 0 */
    int *warned_generator; /* by name id: the cell whose unpicklable value was warned about */
    long *lambda_reads_for; /* by cell index: 1 + the step its lambdas' reads went to */
    bool *warned_memo;      /* by cell index: warned about a cached function */
    size_t first_seed;      /* index of the first cell that seeds a global generator, or
                               the number of cells */
    code_ref *prelude;
    size_t nprelude, prelude_cap;
    bool *prelude_params; /* parameters the set-up code reads: every step gets them */
    artifact *artifacts;
    size_t nartifacts, artifacts_cap;
    bool failed;
} flow;

static size_t cell_index(const flow *f, int number)
{
    return (size_t)(nb_analysis_cell(f->an, number) - f->an->cells);
}

static const char *name_str(const flow *f, nb_name name)
{
    return nb_names_str(f->an->names, name);
}

static nb_loc loc_of(const flow *f, size_t cell)
{
    return (nb_loc){ .file = f->an->nb->path, .cell = f->an->cells[cell].cell->number };
}

static void add_code(code_ref **items, size_t *n, size_t *cap, size_t cell, long stmt)
{
    *items = nb_xgrow(*items, cap, *n + 1, sizeof **items);
    (*items)[(*n)++] = (code_ref){ cell, stmt, false };
}

static void add_name(nb_name **items, size_t *n, size_t *cap, nb_name name)
{
    *items = nb_xgrow(*items, cap, *n + 1, sizeof **items);
    (*items)[(*n)++] = name;
}

/* ---- Parameters and set-up code ---------------------------------------------------- */

static void collect_params(flow *f)
{
    const nb_analysis *an = f->an;
    for (size_t i = 0; i < an->ncells; i++) {
        if (f->seg->roles[i] != NB_ROLE_PARAMETERS)
            continue;
        const nb_facts *facts = &an->cells[i].facts;
        for (size_t l = 0; l < facts->nliterals; l++) {
            const nb_literal *lit = &facts->literals[l];
            size_t p = f->param_of[lit->name];
            if (p) { /* a later cell sets it again: its default wins */
                f->params[p - 1] = (param_source){ lit, i };
                continue;
            }
            f->params = nb_xgrow(f->params, &f->params_cap, f->nparams + 1, sizeof *f->params);
            f->params[f->nparams++] = (param_source){ lit, i };
            f->param_of[lit->name] = f->nparams;
        }
    }
}

/* Whether LIT (of a parameters cell) is the literal some parameter's default came from,
 * or a literal an identical later one overrides. Such statements become the step's
 * parameters cell instead of carried code. */
static bool is_param_statement(const flow *f, const nb_facts *facts, size_t stmt)
{
    for (size_t l = 0; l < facts->nliterals; l++)
        if (facts->literals[l].stmt == stmt && f->param_of[facts->literals[l].name])
            return true;
    return false;
}

static void statement_names(flow *f, const nb_code_cell *cc, size_t stmt,
                            bool (*fn)(flow *, const nb_code_cell *, nb_name, void *), void *arg);

/* A parameter the rest of a parameters cell reads (RUN = f"run-{SEED}") is one every
 * step gets, since that code runs in every step. */
static bool mark_param_read(flow *f, const nb_code_cell *cc, nb_name name, void *arg)
{
    (void)cc;
    (void)arg;
    if (f->param_of[name])
        f->prelude_params[f->param_of[name] - 1] = true;
    return true;
}

static void collect_prelude(flow *f)
{
    const nb_analysis *an = f->an;
    for (size_t i = 0; i < an->ncells; i++) {
        nb_cell_role role = f->seg->roles[i];
        if (role == NB_ROLE_PRELUDE) {
            add_code(&f->prelude, &f->nprelude, &f->prelude_cap, i, -1);
        } else if (role == NB_ROLE_PARAMETERS) {
            const nb_facts *facts = &an->cells[i].facts;
            for (size_t s = 0; s < facts->nstmts; s++) {
                if (is_param_statement(f, facts, s))
                    continue;
                add_code(&f->prelude, &f->nprelude, &f->prelude_cap, i, (long)s);
                statement_names(f, &an->cells[i], s, mark_param_read, NULL);
            }
        }
    }
}

/* ---- Uses ------------------------------------------------------------------------ */

static void carry_definition(flow *f, step_state *st, size_t provider, nb_name name)
{
    const nb_def *def = nb_code_cell_def(&f->an->cells[provider], name);
    add_code(&st->code, &st->ncode, &st->code_cap, provider, def ? (long)def->stmt : -1);
}

/* `from m import *` statements of cell PROVIDER. */
static void carry_star_imports(flow *f, step_state *st, size_t provider)
{
    const nb_facts *facts = &f->an->cells[provider].facts;
    for (size_t i = 0; i < facts->nimports; i++) {
        if (!facts->imports[i].name || strcmp(facts->imports[i].name, "*") != 0)
            continue;
        for (size_t s = 0; s < facts->nstmts; s++)
            if (facts->stmts[s].first_line <= facts->imports[i].line &&
                facts->imports[i].line <= facts->stmts[s].last_line)
                add_code(&st->code, &st->ncode, &st->code_cap, provider, (long)s);
    }
}

/* A value nothing can pickle (a generator, an xgboost.DMatrix) cannot cross a step
 * boundary. Say so where it is made (once per value), so that a run failing on it was
 * warned about. */
static void warn_unpicklable(flow *f, long step, long from, size_t provider, nb_name name)
{
    const nb_code_cell *cc = &f->an->cells[provider];
    const nb_unpicklable *bad = NULL;
    for (size_t i = 0; i < cc->nunpicklable && !bad; i++)
        if (cc->unpicklable[i].name == name)
            bad = &cc->unpicklable[i];
    if (!bad || f->warned_generator[name] == cc->cell->number)
        return;
    f->warned_generator[name] = cc->cell->number;
    nb_diag *d = nb_diag_add(f->diags, NB_WARNING, "unpicklable", (nb_loc){ f->an->nb->path,
                             cc->cell->number, bad->line, bad->col },
                             "'%s' holds a value no serializer can save (%s): step '%s' cannot "
                             "load it from step '%s'; keep the cells that make and use it in "
                             "one step", name_str(f, name), bad->what, f->seg->steps[step].name,
                             f->seg->steps[from].name);
    nb_diag_set_source(d, cc->cell->source, cc->cell->source_len);
}

static void use_name(flow *f, long step, size_t cell, nb_name name, const nb_provider *p);

/* A function with a caching decorator carried into another step starts with an empty
 * cache there: calls the notebook answered from the cache run again, with their side
 * effects. Said at the using cell, once per cell. */
static void warn_memoized(flow *f, size_t cell, size_t provider, nb_name name)
{
    const nb_facts *facts = &f->an->cells[provider].facts;
    bool memoized = false;
    for (size_t i = 0; i < facts->ndefinitions && !memoized; i++)
        memoized = facts->definitions[i].name == name && facts->definitions[i].memoized;
    const nb_code_cell *cc = &f->an->cells[cell];
    if (!memoized || f->warned_memo[cell])
        return;
    f->warned_memo[cell] = true;
    const nb_use *use = NULL;
    for (size_t u = 0; u < cc->facts.nuses && !use; u++)
        if (cc->facts.uses[u].name == name)
            use = &cc->facts.uses[u];
    nb_diag *d = nb_diag_add(f->diags, NB_WARNING, "stateful-function",
                             (nb_loc){ f->an->nb->path, cc->cell->number, use ? use->line : 0,
                                       use ? use->col : 0 },
                             "'%s' keeps a cache (a caching decorator) that this step starts "
                             "empty: calls the notebook answered from its cache run again here, "
                             "side effects included", name_str(f, name));
    nb_diag_set_source(d, cc->cell->source, cc->cell->source_len);
}

/* Whether NAME is read by one of the named functions or classes cell CC defines. */
static bool read_by_definition(const nb_code_cell *cc, nb_name name)
{
    for (size_t i = 0; i < cc->facts.ndefinitions; i++)
        for (size_t j = 0; j < cc->facts.definitions[i].nreads; j++)
            if (cc->facts.definitions[i].reads[j] == name)
                return true;
    return false;
}

/* A lambda stored in a value (scorers = {"f1": lambda y, p: f1_score(y, p)}) reads its
 * globals when it is called, wherever the value was loaded: a step that loads data from
 * cell PROVIDER gets what that cell's anonymous lambdas read. */
static void carry_lambda_reads(flow *f, long step, size_t provider)
{
    if (f->lambda_reads_for[provider] == step + 1)
        return;
    f->lambda_reads_for[provider] = step + 1;
    const nb_code_cell *cc = &f->an->cells[provider];
    for (size_t u = 0; u < cc->facts.nuses; u++)
        if (cc->facts.uses[u].deferred && !read_by_definition(cc, cc->facts.uses[u].name))
            use_name(f, step, provider, cc->facts.uses[u].name, &cc->providers[u]);
}

/* NAME's alias group at the end of cell CC, or 0. */
static uint32_t group_at(const nb_code_cell *cc, nb_name name)
{
    for (size_t i = cc->ngroups; i-- > 0;)
        if (cc->groups[i].name == name)
            return cc->groups[i].group;
    return 0;
}

/* One use, by cell CELL of step STEP (or of the set-up code when STEP < 0), of NAME as
 * PROVIDER left it. */
static void use_name(flow *f, long step, size_t cell, nb_name name, const nb_provider *p)
{
    if (p->status == NB_FROM_STAR_IMPORT && step >= 0) {
        size_t provider = cell_index(f, p->cell);
        if (f->seg->step_of[provider] != step && f->seg->roles[provider] == NB_ROLE_STEP)
            carry_star_imports(f, &f->steps[step], provider);
        return;
    }
    if (p->status != NB_PROVIDED)
        return;
    size_t provider = cell_index(f, p->cell);
    switch (f->seg->roles[provider]) {
    case NB_ROLE_PARAMETERS: {
        size_t param = f->param_of[name];
        if (!param)
            return; /* code of the parameters cell: runs in every step */
        if (step >= 0)
            f->steps[step].params[param - 1] = true;
        else
            f->prelude_params[param - 1] = true;
        return;
    }
    case NB_ROLE_STEP:
        break;
    default:
        return; /* set-up code runs in every step; skipped cells provide nothing */
    }
    long from = f->seg->step_of[provider];
    if (step < 0) {
        if (p->kind == NB_BIND_DATA) {
            nb_diag_add(f->diags, NB_ERROR, "setup-reads-data", loc_of(f, cell),
                        "this set-up cell (imports, functions or parameters, run at the start "
                        "of every step) reads '%s', which step '%s' computes", name_str(f, name),
                        f->seg->steps[from].name);
            f->failed = true;
        }
        return;
    }
    if (from == step)
        return;
    step_state *st = &f->steps[step];
    if (p->kind != NB_BIND_DATA) {
        carry_definition(f, st, provider, name);
        warn_memoized(f, cell, provider, name);
        return;
    }
    warn_unpicklable(f, step, from, provider, name);
    carry_lambda_reads(f, step, provider);
    st->inputs = nb_xgrow(st->inputs, &st->inputs_cap, st->ninputs + 1, sizeof *st->inputs);
    st->inputs[st->ninputs++] = (input_ref){ name, name_str(f, name), (size_t)from, cell, p->cell,
                                             group_at(&f->an->cells[provider], name), 0 };
}

static void use_cell(flow *f, long step, size_t cell)
{
    const nb_code_cell *cc = &f->an->cells[cell];
    for (size_t i = 0; i < cc->facts.nuses; i++) {
        /* a set-up cell's functions read globals when a step calls them: that step
         * then has the read as an implied use */
        if (step < 0 && cc->facts.uses[i].deferred)
            continue;
        use_name(f, step, cell, cc->facts.uses[i].name, &cc->providers[i]);
    }
    for (size_t i = 0; i < cc->nimplied; i++)
        use_name(f, step, cell, cc->implied[i].name, &cc->implied[i].provider);
    /* a builtin's name the notebook redefines (def sum(...)) is read like any name */
    for (size_t i = 0; i < cc->facts.nbuiltin_uses; i++) {
        if (step < 0 && cc->facts.builtin_uses[i].deferred)
            continue;
        if (cc->builtin_providers[i].status == NB_PROVIDED ||
            cc->builtin_providers[i].status == NB_FROM_STAR_IMPORT)
            use_name(f, step, cell, cc->facts.builtin_uses[i].name, &cc->builtin_providers[i]);
    }
}

/* Carries the class (or other code) NAME that cell CELL binds into STEP, with what it
 * reads: names CELL itself binds are carried from it too, others follow CELL's own
 * providers. SEEN (by name id, a stamp per step) stops repeats and cycles. */
static void carry_with_reads(flow *f, long step, size_t cell, nb_name name, long *seen)
{
    if (seen[name] == step)
        return;
    seen[name] = step;
    const nb_code_cell *cc = &f->an->cells[cell];
    const nb_def *def = nb_code_cell_def(cc, name);
    if (!def)
        return;
    if (def->kind == NB_BIND_DATA) {
        /* data the class reads, bound by its own cell: an input from that cell's step */
        nb_provider p = { NB_PROVIDED, cc->cell->number, NB_BIND_DATA };
        use_name(f, step, cell, name, &p);
        return;
    }
    if (f->seg->step_of[cell] != step)
        add_code(&f->steps[step].code, &f->steps[step].ncode, &f->steps[step].code_cap, cell,
                 (long)def->stmt);
    for (size_t d = 0; d < cc->facts.ndefinitions; d++) {
        const nb_definition *definition = &cc->facts.definitions[d];
        if (definition->name != name)
            continue;
        for (size_t r = 0; r < definition->nreads; r++) {
            nb_name read = definition->reads[r];
            size_t u = 0;
            while (u < cc->facts.nuses && cc->facts.uses[u].name != read)
                u++;
            if (u < cc->facts.nuses)
                use_name(f, step, cell, read, &cc->providers[u]);
            else
                carry_with_reads(f, step, cell, read, seen);
        }
    }
}

/* Values are pickled, and a pickled instance of a notebook class names the class in
 * __main__: a step that loads data gets every class bound before it, so that loading
 * works. Classes are code: carried as source, like functions. */
static void carry_classes(flow *f)
{
    const nb_analysis *an = f->an;
    size_t nnames = nb_names_count(an->names) + 1;
    long *class_cell = nb_xcalloc(nnames, sizeof *class_cell);
    long *seen = nb_xcalloc(nnames, sizeof *seen);
    nb_name *active = NULL;
    size_t nactive = 0, active_cap = 0;
    for (size_t i = 0; i < nnames; i++)
        class_cell[i] = seen[i] = -1;
    for (size_t i = 0; i < an->ncells; i++) {
        long step = f->seg->step_of[i];
        bool first_cell = step >= 0 && f->seg->steps[step].cells[0] == i;
        if (first_cell && f->steps[step].ninputs > 0) {
            for (size_t a = 0; a < nactive; a++)
                if (class_cell[active[a]] >= 0 &&
                    f->seg->roles[class_cell[active[a]]] == NB_ROLE_STEP)
                    carry_with_reads(f, step, (size_t)class_cell[active[a]], active[a], seen);
        }
        if (f->seg->roles[i] == NB_ROLE_SKIP)
            continue;
        const nb_facts *facts = &an->cells[i].facts;
        for (size_t d = 0; d < facts->ndefs; d++) {
            nb_name n = facts->defs[d].name;
            if (facts->defs[d].kind == NB_BIND_CLASS) {
                if (class_cell[n] < 0) {
                    active = nb_xgrow(active, &active_cap, nactive + 1, sizeof *active);
                    active[nactive++] = n;
                }
                class_cell[n] = (long)i;
            } else {
                class_cell[n] = -1;
            }
        }
    }
    free(active);
    free(class_cell);
    free(seen);
}

/* ---- Interpreter state ------------------------------------------------------------ */

static bool is_ident_byte(unsigned char c, bool first)
{
    return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80 ||
           (!first && c >= '0' && c <= '9');
}

/* The bytes after the string literal starting at S (its opening quote), or END. */
static const char *skip_string(const char *s, const char *end)
{
    char q = *s;
    bool triple = end - s >= 3 && s[1] == q && s[2] == q;
    s += triple ? 3 : 1;
    while (s < end) {
        if (*s == '\\') {
            s += 2;
            continue;
        }
        if (*s == q && (!triple || (end - s >= 3 && s[1] == q && s[2] == q)))
            return s + (triple ? 3 : 1);
        if (*s == '\n' && !triple)
            return s;
        s++;
    }
    return end;
}

/* Calls FN for each plain identifier in the LEN bytes at S (not an attribute, not in a
 * string or comment, but inside an f-string's braces); stops when FN returns false.
 * Returns false when it stopped. */
static bool scan_names(flow *f, const nb_code_cell *cc, const char *s, const char *end,
                       bool (*fn)(flow *, const nb_code_cell *, nb_name, void *), void *arg)
{
    char prev = '\0';
    while (s < end) {
        if (*s == '#') {
            while (s < end && *s != '\n')
                s++;
        } else if (*s == '"' || *s == '\'') {
            s = skip_string(s, end);
            prev = '"';
        } else if (is_ident_byte((unsigned char)*s, true)) {
            const char *start = s;
            while (s < end && is_ident_byte((unsigned char)*s, false))
                s++;
            size_t len = (size_t)(s - start);
            if (s < end && (*s == '"' || *s == '\'') && len <= 2) { /* a string prefix */
                const char *after = skip_string(s, end);
                if (memchr(start, 'f', len) || memchr(start, 'F', len)) {
                    /* the expressions in braces are code; {{ is a brace */
                    for (const char *p = s + 1; p < after; p++) {
                        if (*p != '{' || (p + 1 < after && p[1] == '{')) {
                            p += *p == '{';
                            continue;
                        }
                        const char *close = memchr(p, '}', (size_t)(after - p));
                        if (!close)
                            break;
                        if (!scan_names(f, cc, p + 1, close, fn, arg))
                            return false;
                        p = close;
                    }
                }
                s = after;
                prev = '"';
                continue;
            }
            nb_name name = nb_names_find(f->an->names, start, len);
            if (prev != '.' && name != NB_NO_NAME && !fn(f, cc, name, arg))
                return false;
            prev = 'a';
        } else {
            if (*s != ' ' && *s != '\t')
                prev = *s;
            s++;
        }
    }
    return true;
}

/* The names statement STMT of CC reads, as scan_names finds them. */
static void statement_names(flow *f, const nb_code_cell *cc, size_t stmt,
                            bool (*fn)(flow *, const nb_code_cell *, nb_name, void *), void *arg)
{
    const nb_stmt *st = &cc->facts.stmts[stmt];
    scan_names(f, cc, cc->python + st->start, cc->python + st->end, fn, arg);
}

typedef struct replay {
    long step;
    size_t cell;
    nb_name blocker; /* a value the cell itself computes that the statement reads */
} replay;

/* Code the statement's own cell binds (the import of `import numpy as np;
 * np.random.seed(0)`) goes with it; a value the cell computes cannot. */
static bool carry_own_code(flow *f, const nb_code_cell *cc, nb_name name, void *arg)
{
    replay *r = arg;
    const nb_def *def = nb_code_cell_def(cc, name);
    if (!def)
        return true;
    if (def->kind == NB_BIND_DATA) {
        r->blocker = name;
        return false;
    }
    if (r->step >= 0) {
        step_state *st = &f->steps[r->step];
        add_code(&st->code, &st->ncode, &st->code_cap, r->cell, (long)def->stmt);
    }
    return true;
}

/* The uses of cell CELL that statement STMT makes, as uses of STEP. */
static void use_statement(flow *f, long step, size_t cell, size_t stmt)
{
    const nb_code_cell *cc = &f->an->cells[cell];
    const nb_stmt *st = &cc->facts.stmts[stmt];
    for (size_t u = 0; u < cc->facts.nuses; u++) {
        int line = cc->facts.uses[u].line;
        if (line >= st->first_line && line <= st->last_line && !cc->facts.uses[u].deferred)
            use_name(f, step, cell, cc->facts.uses[u].name, &cc->providers[u]);
    }
}

/* Statements that set interpreter state (pd.set_option, np.random.seed, sys.path.append,
 * os.environ[k] = v...) run again at the start of every later step, in notebook order,
 * with what they read. A later step that draws from a seeded generator then loads the
 * random state after them, which wins over a replayed seed. */
static void replay_state(flow *f)
{
    const nb_analysis *an = f->an;
    for (size_t i = 0; i < an->ncells; i++) {
        const nb_code_cell *cc = &an->cells[i];
        long own = f->seg->step_of[i];
        if (f->seg->roles[i] != NB_ROLE_STEP || own < 0)
            continue;
        for (size_t k = 0; k < cc->nstate; k++) {
            size_t stmt = cc->state[k].stmt;
            replay check = { -1, i, NB_NO_NAME };
            statement_names(f, cc, stmt, carry_own_code, &check);
            if (check.blocker) {
                nb_diag *d = nb_diag_add(f->diags, NB_WARNING, "state-not-replayed",
                                         (nb_loc){ an->nb->path, cc->cell->number,
                                                   cc->state[k].line, cc->state[k].col },
                                         "%s sets interpreter state from '%s', which this cell "
                                         "computes: later steps do not replay it; set it in a "
                                         "cell of its own", cc->state[k].what,
                                         name_str(f, check.blocker));
                nb_diag_set_source(d, cc->cell->source, cc->cell->source_len);
                continue;
            }
            for (size_t t = 0; t < f->seg->nsteps; t++) {
                if ((long)t == own || f->seg->steps[t].cells[0] <= i)
                    continue;
                replay carry = { (long)t, i, NB_NO_NAME };
                statement_names(f, cc, stmt, carry_own_code, &carry);
                step_state *st = &f->steps[t];
                size_t inputs = st->ninputs;
                add_code(&st->code, &st->ncode, &st->code_cap, i, (long)stmt);
                use_statement(f, (long)t, i, stmt);
                /* pd.options.display.max_rows = PREVIOUS: after PREVIOUS is loaded */
                for (size_t c = 0; c < st->ncode; c++)
                    if (st->code[c].cell == i && st->code[c].stmt == (long)stmt)
                        st->code[c].after_load = st->ninputs > inputs;
            }
        }
    }
}

/* ---- Files ------------------------------------------------------------------------ */

static void add_upstream(step_state *st, size_t from);

static void file_edge(void *arg, size_t before, size_t after)
{
    flow *f = arg;
    add_upstream(&f->steps[after], before);
}

static void collect_metrics(flow *f)
{
    for (size_t i = 0; i < f->an->ncells; i++) {
        if (f->seg->roles[i] != NB_ROLE_METRICS)
            continue;
        const nb_code_cell *cc = &f->an->cells[i];
        for (size_t u = 0; u < cc->facts.nuses; u++) {
            const nb_provider *p = &cc->providers[u];
            if (p->status != NB_PROVIDED || p->kind != NB_BIND_DATA)
                continue;
            size_t provider = cell_index(f, p->cell);
            long step = f->seg->step_of[provider];
            if (step < 0 || f->seg->roles[provider] != NB_ROLE_STEP)
                continue;
            step_state *st = &f->steps[step];
            add_name(&st->metrics, &st->nmetrics, &st->metrics_cap, cc->facts.uses[u].name);
        }
    }
}

/* ---- Per-step lists ---------------------------------------------------------------- */

static int compare_inputs(const void *a, const void *b)
{
    const input_ref *x = a, *y = b;
    int c = strcmp(x->text, y->text);
    if (c)
        return c;
    return x->from < y->from ? -1 : x->from > y->from;
}

static int compare_code(const void *a, const void *b)
{
    const code_ref *x = a, *y = b;
    if (x->cell != y->cell)
        return x->cell < y->cell ? -1 : 1;
    return x->stmt < y->stmt ? -1 : x->stmt > y->stmt;
}

static int compare_strings(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int compare_size(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return x < y ? -1 : x > y;
}

/* Sorts ITEMS and drops repeats; returns the new count. */
static size_t sort_unique(size_t *items, size_t n)
{
    if (n < 2)
        return n;
    qsort(items, n, sizeof *items, compare_size);
    size_t out = 1;
    for (size_t i = 1; i < n; i++)
        if (items[i] != items[out - 1])
            items[out++] = items[i];
    return out;
}

static void add_upstream(step_state *st, size_t from)
{
    st->upstream = nb_xgrow(st->upstream, &st->upstream_cap, st->nupstream + 1, sizeof *st->upstream);
    st->upstream[st->nupstream++] = from;
}

/* ---- Artifacts ---------------------------------------------------------------------- */

/* The artifact holding IN's value: one per producing cell and alias group, so that
 * names sharing objects there cross in one pickle and stay shared; a name in no group
 * has one of its own. */
static size_t artifact_of(flow *f, const input_ref *in)
{
    step_state *producer = &f->steps[in->from];
    for (size_t k = 0; k < producer->noutputs; k++) {
        const artifact *a = &f->artifacts[producer->outputs[k]];
        if (a->provider == in->provider &&
            (in->group ? a->group == in->group : a->group == 0 && a->first == in->name))
            return producer->outputs[k];
    }
    producer->outputs = nb_xgrow(producer->outputs, &producer->outputs_cap,
                                 producer->noutputs + 1, sizeof *producer->outputs);
    producer->outputs[producer->noutputs++] = f->nartifacts;
    f->artifacts = nb_xgrow(f->artifacts, &f->artifacts_cap, f->nartifacts + 1, sizeof *f->artifacts);
    artifact *a = &f->artifacts[f->nartifacts];
    memset(a, 0, sizeof *a);
    a->from = in->from;
    a->provider = in->provider;
    a->group = in->group;
    a->first = in->name;
    return f->nartifacts++;
}

static int compare_name_text(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Takes NAME (released) for A, with "_2", "_3" when the producing step has an output of
 * that name already. */
static void unique_artifact_name(flow *f, artifact *a, nb_buf *name)
{
    size_t base = name->len;
    const step_state *producer = &f->steps[a->from];
    for (int n = 2;; n++) {
        bool taken = false;
        for (size_t i = 0; i < producer->noutputs && !taken; i++) {
            const artifact *other = &f->artifacts[producer->outputs[i]];
            taken = other != a && other->name && strcmp(other->name, name->data) == 0;
        }
        if (!taken)
            break;
        name->len = base;
        nb_buf_printf(name, "_%d", n);
    }
    a->name = nb_xstrdup(name->data);
    nb_buf_release(name);
}

/* A group's file name: its members joined with "__" ("combine__test_df__train_df"),
 * shortened to the first two and a count when long; "_2", "_3" when the producing step
 * already has an output of that name. */
static void name_artifact(flow *f, artifact *a)
{
    nb_buf name = NB_BUF_INIT;
    if (a->nmembers == 1) {
        nb_buf_puts(&name, name_str(f, a->members[0]));
        unique_artifact_name(f, a, &name);
        return;
    }
    const char **texts = nb_xcalloc(a->nmembers, sizeof *texts);
    for (size_t i = 0; i < a->nmembers; i++)
        texts[i] = name_str(f, a->members[i]);
    qsort(texts, a->nmembers, sizeof *texts, compare_name_text);
    for (size_t i = 0; i < a->nmembers; i++)
        nb_buf_printf(&name, "%s%s", i ? "__" : "", texts[i]);
    if (name.len > 60) {
        nb_buf_reset(&name);
        nb_buf_printf(&name, "%s__%s__and_%zu_more", texts[0], texts[1], a->nmembers - 2);
    }
    free(texts);
    unique_artifact_name(f, a, &name);
}

/* Every step's inputs find their artifacts (each producer outputs its own); the
 * artifacts get their members (every name any step takes from them) and names. */
static void pack_artifacts(flow *f)
{
    for (size_t s = 0; s < f->seg->nsteps; s++) {
        step_state *st = &f->steps[s];
        for (size_t i = 0; i < st->ninputs; i++) {
            size_t k = artifact_of(f, &st->inputs[i]);
            st->inputs[i].artifact = k;
            artifact *a = &f->artifacts[k];
            bool known = false;
            for (size_t m = 0; m < a->nmembers && !known; m++)
                known = a->members[m] == st->inputs[i].name;
            if (!known) {
                a->members = nb_xgrow(a->members, &a->members_cap, a->nmembers + 1,
                                      sizeof *a->members);
                a->members[a->nmembers++] = st->inputs[i].name;
            }
        }
    }
    /* singletons first, so that a variable keeps its own name for its file */
    for (int pass = 0; pass < 2; pass++)
        for (size_t k = 0; k < f->nartifacts; k++)
            if ((f->artifacts[k].nmembers == 1) == (pass == 0))
                name_artifact(f, &f->artifacts[k]);
}

/* Sorts each step's inputs; one name from two steps is an error. Outputs and upstream
 * follow from the inputs. */
static void settle_steps(flow *f)
{
    for (size_t s = 0; s < f->seg->nsteps; s++) {
        step_state *st = &f->steps[s];
        if (st->ninputs)
            qsort(st->inputs, st->ninputs, sizeof *st->inputs, compare_inputs);
        size_t out = 0;
        for (size_t i = 0; i < st->ninputs; i++) {
            if (out && st->inputs[out - 1].name == st->inputs[i].name) {
                if (st->inputs[out - 1].from != st->inputs[i].from) {
                    nb_diag_add(f->diags, NB_ERROR, "ambiguous-input", loc_of(f, st->inputs[i].cell),
                                "step '%s' reads '%s' as both step '%s' and step '%s' leave it "
                                "(their cells are interleaved); give these cells one block",
                                f->seg->steps[s].name, name_str(f, st->inputs[i].name),
                                f->seg->steps[st->inputs[out - 1].from].name,
                                f->seg->steps[st->inputs[i].from].name);
                    f->failed = true;
                }
                continue;
            }
            st->inputs[out++] = st->inputs[i];
        }
        st->ninputs = out;
        for (size_t i = 0; i < st->ninputs; i++)
            add_upstream(st, st->inputs[i].from);
        for (size_t i = 0; i < f->seg->steps[s].nprev; i++)
            add_upstream(st, f->seg->steps[s].prev[i]);
    }
    pack_artifacts(f);
    for (size_t s = 0; s < f->seg->nsteps; s++) {
        step_state *st = &f->steps[s];
        st->nupstream = sort_unique(st->upstream, st->nupstream);
        for (size_t u = 0; u < st->nupstream; u++)
            f->steps[st->upstream[u]].dependents++;
        if (st->ncode) {
            qsort(st->code, st->ncode, sizeof *st->code, compare_code);
            size_t n = 1;
            for (size_t i = 1; i < st->ncode; i++) {
                if (compare_code(&st->code[i], &st->code[n - 1]) != 0)
                    st->code[n++] = st->code[i];
                else
                    st->code[n - 1].after_load |= st->code[i].after_load;
            }
            st->ncode = n;
        }
    }
}

/* ---- Order ----------------------------------------------------------------------- */

/* A min-heap of step indexes: among the steps ready to run, the one that comes first
 * in the notebook (segmentation numbers steps by their first cell). */
typedef struct ready_heap {
    size_t *items;
    size_t len;
} ready_heap;

static void heap_push(ready_heap *h, size_t v)
{
    size_t i = h->len++;
    h->items[i] = v;
    while (i > 0 && h->items[(i - 1) / 2] > h->items[i]) {
        size_t parent = (i - 1) / 2, t = h->items[parent];
        h->items[parent] = h->items[i];
        h->items[i] = t;
        i = parent;
    }
}

static size_t heap_pop(ready_heap *h)
{
    size_t top = h->items[0];
    h->items[0] = h->items[--h->len];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < h->len && h->items[l] < h->items[m])
            m = l;
        if (r < h->len && h->items[r] < h->items[m])
            m = r;
        if (m == i)
            break;
        size_t t = h->items[m];
        h->items[m] = h->items[i];
        h->items[i] = t;
        i = m;
    }
    return top;
}

/* Steps in dependency order (Kahn's algorithm). Returns false, after reporting the steps
 * involved, when some depend on each other. */
static bool order_steps(flow *f, size_t *order)
{
    size_t n = f->seg->nsteps;
    size_t *waiting = nb_xcalloc(n + 1, sizeof *waiting);
    size_t *first_dependent = nb_xcalloc(n + 2, sizeof *first_dependent);
    size_t edges = 0;
    for (size_t s = 0; s < n; s++) {
        waiting[s] = f->steps[s].nupstream;
        edges += f->steps[s].nupstream;
        for (size_t u = 0; u < f->steps[s].nupstream; u++)
            first_dependent[f->steps[s].upstream[u] + 1]++;
    }
    for (size_t s = 0; s < n; s++)
        first_dependent[s + 1] += first_dependent[s];
    size_t *dependents = nb_xcalloc(edges + 1, sizeof *dependents);
    size_t *fill = nb_xcalloc(n + 1, sizeof *fill);
    for (size_t s = 0; s < n; s++)
        for (size_t u = 0; u < f->steps[s].nupstream; u++) {
            size_t from = f->steps[s].upstream[u];
            dependents[first_dependent[from] + fill[from]++] = s;
        }
    ready_heap heap = { nb_xcalloc(n + 1, sizeof *heap.items), 0 };
    for (size_t s = 0; s < n; s++)
        if (waiting[s] == 0)
            heap_push(&heap, s);
    size_t placed = 0;
    while (heap.len) {
        size_t next = heap_pop(&heap);
        order[placed++] = next;
        for (size_t d = first_dependent[next]; d < first_dependent[next + 1]; d++)
            if (--waiting[dependents[d]] == 0)
                heap_push(&heap, dependents[d]);
    }
    bool ok = placed == n;
    if (!ok) {
        nb_buf list = NB_BUF_INIT;
        for (size_t s = 0; s < n; s++)
            if (waiting[s] > 0)
                nb_buf_printf(&list, "%s'%s'", list.len ? ", " : "", f->seg->steps[s].name);
        nb_diag_add(f->diags, NB_ERROR, "step-cycle", (nb_loc){ .file = f->an->nb->path },
                    "steps %s depend on each other (their cells are interleaved or a prev: tag "
                    "points forward); merge them or reorder the cells", list.data);
        nb_buf_release(&list);
        f->failed = true;
    }
    free(heap.items);
    free(waiting);
    free(first_dependent);
    free(dependents);
    free(fill);
    return ok;
}

/* ---- Warnings -------------------------------------------------------------------- */

static void warn(flow *f)
{
    for (size_t s = 0; s < f->seg->nsteps; s++) {
        const nb_segment_step *seg_step = &f->seg->steps[s];
        for (size_t i = 0; i < seg_step->ncells; i++) {
            const nb_code_cell *cc = &f->an->cells[seg_step->cells[i]];
            if (cc->facts.displays_only && cc->nmagics == 0)
                nb_diag_add(f->diags, NB_WARNING, "no-effect", loc_of(f, seg_step->cells[i]),
                            "this cell only displays values: in step '%s' it has no effect",
                            seg_step->name);
        }
    }
}

static void warn_dead_ends(flow *f, const size_t *order)
{
    size_t n = f->seg->nsteps;
    for (size_t k = 0; k + 1 < n; k++) {
        size_t s = order[k];
        const step_state *st = &f->steps[s];
        if (st->dependents == 0 && st->noutputs == 0 && st->nmetrics == 0)
            nb_diag_add(f->diags, NB_WARNING, "unused-step",
                        loc_of(f, f->seg->steps[s].cells[0]),
                        "nothing step '%s' computes is used by a later step", f->seg->steps[s].name);
    }
}

/* ---- The IR ---------------------------------------------------------------------- */

static nb_value_type value_type(nb_literal_type t)
{
    switch (t) {
    case NB_LIT_BOOL: return NB_TYPE_BOOL;
    case NB_LIT_INT: return NB_TYPE_INT;
    case NB_LIT_FLOAT: return NB_TYPE_FLOAT;
    case NB_LIT_NONE: return NB_TYPE_NONE;
    case NB_LIT_STRING: break;
    }
    return NB_TYPE_STRING;
}

/* Whether top-level statement STMT of CC is `from __future__ import ...`. */
static bool is_future_import(const nb_code_cell *cc, size_t stmt)
{
    const nb_stmt *st = &cc->facts.stmts[stmt];
    for (size_t i = 0; i < cc->facts.nimports; i++) {
        const nb_import *imp = &cc->facts.imports[i];
        if (strcmp(imp->module, "__future__") == 0 && st->first_line <= imp->line &&
            imp->line <= st->last_line)
            return true;
    }
    return false;
}

/* Appends statement bytes [START, END) of CC to TEXT, or, for a future import, a
 * comment in its place and the statement to FUTURE (one per line). */
static void add_statement(const nb_code_cell *cc, size_t stmt, nb_buf *text, nb_buf *future)
{
    const nb_stmt *st = &cc->facts.stmts[stmt];
    const char *s = cc->python + st->start;
    size_t len = st->end - st->start;
    if (!is_future_import(cc, stmt)) {
        nb_buf_add(text, s, len);
        return;
    }
    while (len && (s[len - 1] == '\n' || s[len - 1] == ' '))
        len--;
    nb_buf_add(future, s, len);
    nb_buf_putc(future, '\n');
    nb_buf_puts(text, "# (at the top of this script) ");
    for (size_t i = 0; i < len; i++) {
        nb_buf_putc(text, s[i]);
        if (s[i] == '\n')
            nb_buf_puts(text, "# ");
    }
    nb_buf_putc(text, '\n');
}

static nb_code code_text(flow *f, nb_pool *pool, const code_ref *ref, nb_buf *future)
{
    const nb_code_cell *cc = &f->an->cells[ref->cell];
    nb_buf text = NB_BUF_INIT;
    if (ref->stmt >= 0) {
        add_statement(cc, (size_t)ref->stmt, &text, future);
    } else {
        /* a whole cell: its text between statements as it is, future imports moved */
        size_t at = 0;
        for (size_t i = 0; i < cc->facts.nstmts; i++) {
            if (!is_future_import(cc, i))
                continue;
            nb_buf_add(&text, cc->python + at, cc->facts.stmts[i].start - at);
            add_statement(cc, i, &text, future);
            at = cc->facts.stmts[i].end;
        }
        nb_buf_add(&text, cc->python + at, cc->python_len - at);
    }
    if (text.len && text.data[text.len - 1] != '\n')
        nb_buf_putc(&text, '\n');
    nb_code code = { cc->cell->number, cc->cell->id ? nb_pool_strdup(pool, cc->cell->id) : NULL,
                     nb_pool_strndup(pool, text.data, text.len), ref->after_load };
    nb_buf_release(&text);
    return code;
}

/* The lines of TEXT as pool strings, sorted, without repeats. */
static const char **split_lines(nb_pool *pool, const nb_buf *text, size_t *count)
{
    size_t n = 0;
    for (size_t i = 0; i < text->len; i++)
        n += text->data[i] == '\n';
    const char **lines = nb_pool_alloc(pool, (n + 1) * sizeof *lines);
    const char *p = text->data;
    for (size_t i = 0; i < n; i++) {
        const char *nl = strchr(p, '\n');
        lines[i] = nb_pool_strndup(pool, p, (size_t)(nl - p));
        p = nl + 1;
    }
    if (n > 1)
        qsort(lines, n, sizeof *lines, compare_strings);
    size_t kept = 0;
    for (size_t i = 0; i < n; i++)
        if (kept == 0 || strcmp(lines[kept - 1], lines[i]) != 0)
            lines[kept++] = lines[i];
    *count = kept;
    return lines;
}

/* NAMES as pool strings, sorted, without repeats; *COUNT receives how many. */
static const char **pool_names(flow *f, nb_pool *pool, const nb_name *names, size_t n,
                               size_t *count)
{
    const char **out = nb_pool_alloc(pool, (n + 1) * sizeof *out);
    for (size_t i = 0; i < n; i++)
        out[i] = name_str(f, names[i]);
    if (n > 1)
        qsort(out, n, sizeof *out, compare_strings);
    size_t kept = 0;
    for (size_t i = 0; i < n; i++)
        if (kept == 0 || strcmp(out[kept - 1], out[i]) != 0)
            out[kept++] = out[i];
    for (size_t i = 0; i < kept; i++)
        out[i] = nb_pool_strdup(pool, out[i]);
    *count = kept;
    return out;
}

static nb_kv *copy_kvs(nb_pool *pool, const nb_kv *items, size_t n)
{
    nb_kv *out = nb_pool_alloc(pool, (n + 1) * sizeof *out);
    for (size_t i = 0; i < n; i++)
        out[i] = (nb_kv){ nb_pool_strdup(pool, items[i].key), nb_pool_strdup(pool, items[i].value),
                          items[i].cell };
    return out;
}


static int compare_input(const void *a, const void *b)
{
    return strcmp(((const nb_input *)a)->name, ((const nb_input *)b)->name);
}

static int compare_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return x < y ? -1 : x > y;
}

/* One input per artifact the step loads, with the variables it takes from it and the
 * cells that read them. */
static void build_inputs(flow *f, nb_pool *pool, const step_state *st, nb_step *out,
                         const size_t *position)
{
    nb_input *inputs = nb_pool_alloc(pool, (st->ninputs + 1) * sizeof *inputs);
    size_t n = 0;
    nb_name *binds = nb_xcalloc(st->ninputs + 1, sizeof *binds);
    int *cells = nb_xcalloc(st->ninputs + 1, sizeof *cells);
    for (size_t i = 0; i < st->ninputs; i++) {
        size_t k = st->inputs[i].artifact;
        bool seen = false;
        for (size_t j = 0; j < i && !seen; j++)
            seen = st->inputs[j].artifact == k;
        if (seen)
            continue;
        size_t nbinds = 0, ncells = 0;
        for (size_t j = i; j < st->ninputs; j++) {
            if (st->inputs[j].artifact != k)
                continue;
            binds[nbinds++] = st->inputs[j].name;
            int cell = f->an->cells[st->inputs[j].cell].cell->number;
            bool known = false;
            for (size_t c = 0; c < ncells && !known; c++)
                known = cells[c] == cell;
            if (!known)
                cells[ncells++] = cell;
        }
        qsort(cells, ncells, sizeof *cells, compare_int);
        const artifact *a = &f->artifacts[k];
        inputs[n++] = (nb_input){ nb_pool_strdup(pool, a->name), position[a->from],
                                  pool_names(f, pool, binds, nbinds, &(size_t){ 0 }), nbinds,
                                  nb_pool_memdup(pool, cells, ncells, sizeof *cells), ncells };
    }
    free(binds);
    free(cells);
    qsort(inputs, n, sizeof *inputs, compare_input);
    out->inputs = inputs;
    out->ninputs = n;
}

static int compare_group(const void *a, const void *b)
{
    return strcmp(((const nb_group *)a)->name, ((const nb_group *)b)->name);
}

/* The step's artifacts: their names, and the members of those that are groups. */
static void build_outputs(flow *f, nb_pool *pool, const step_state *st, nb_step *out)
{
    const char **names = nb_pool_alloc(pool, (st->noutputs + 1) * sizeof *names);
    nb_group *groups = nb_pool_alloc(pool, (st->noutputs + 1) * sizeof *groups);
    size_t ngroups = 0;
    for (size_t i = 0; i < st->noutputs; i++) {
        const artifact *a = &f->artifacts[st->outputs[i]];
        names[i] = nb_pool_strdup(pool, a->name);
        if (a->nmembers > 1) {
            size_t n;
            groups[ngroups++] = (nb_group){ names[i], pool_names(f, pool, a->members, a->nmembers, &n),
                                            a->nmembers };
        }
    }
    if (st->noutputs > 1)
        qsort(names, st->noutputs, sizeof *names, compare_strings);
    if (ngroups > 1)
        qsort(groups, ngroups, sizeof *groups, compare_group);
    out->outputs = names;
    out->noutputs = st->noutputs;
    out->groups = groups;
    out->ngroups = ngroups;
}

/* Whether a cell before step S's first cell seeds a global random generator: the step
 * then starts from a state the notebook had, and the guard watches for draws. */
static bool after_seed(const flow *f, size_t s)
{
    return f->first_seed < f->seg->steps[s].cells[0];
}

/* What the step's cells change in place, and whether they draw from a seeded global
 * generator: the guard does not report what the analysis knew. */
static void step_changes(flow *f, nb_pool *pool, const nb_segment_step *seg_step, nb_step *out)
{
    nb_name *names = NULL;
    size_t n = 0, cap = 0;
    for (size_t i = 0; i < seg_step->ncells; i++) {
        const nb_code_cell *cc = &f->an->cells[seg_step->cells[i]];
        out->draws = out->draws || cc->draws_random;
        for (size_t t = 0; t < cc->ntouches; t++)
            add_name(&names, &n, &cap, cc->touches[t].name);
    }
    out->changes = pool_names(f, pool, names, n, &out->nchanges);
    free(names);
}

/* An import of each submodule the step's cells reach through their package alone
 * (nb_code_cell.submodules), once each, into OUT: what a library imported in the
 * notebook. Returns how many. */
static size_t submodule_imports(flow *f, nb_pool *pool, const nb_segment_step *seg_step,
                                nb_code *out)
{
    size_t n = 0;
    nb_buf text = NB_BUF_INIT;
    for (size_t i = 0; i < seg_step->ncells; i++) {
        const nb_code_cell *cc = &f->an->cells[seg_step->cells[i]];
        for (size_t m = 0; m < cc->nsubmodules; m++) {
            nb_buf_reset(&text);
            nb_buf_printf(&text, "__import__(\"nb2pipe_runtime\").import_submodule(\"%s\")  "
                                 "# a library imported it in the notebook\n",
                          cc->submodules[m]);
            bool seen = false;
            for (size_t k = 0; k < n && !seen; k++)
                seen = strcmp(out[k].text, text.data) == 0;
            if (!seen)
                out[n++] = (nb_code){ cc->cell->number,
                                      cc->cell->id ? nb_pool_strdup(pool, cc->cell->id) : NULL,
                                      nb_pool_strdup(pool, text.data), false };
        }
    }
    nb_buf_release(&text);
    return n;
}

static void build_step(flow *f, nb_pipeline *p, size_t s, nb_step *out, const size_t *position)
{
    nb_pool *pool = &p->pool;
    const nb_segment_step *seg_step = &f->seg->steps[s];
    step_state *st = &f->steps[s];
    out->name = nb_pool_strdup(pool, seg_step->name);
    out->title = nb_pool_strdup(pool, seg_step->title);

    /* carried: the set-up code and this step's own needs, merged in notebook order */
    code_ref *all = nb_xmalloc((f->nprelude + st->ncode + 1) * sizeof *all);
    if (f->nprelude)
        memcpy(all, f->prelude, f->nprelude * sizeof *all);
    if (st->ncode)
        memcpy(all + f->nprelude, st->code, st->ncode * sizeof *all);
    size_t nall = f->nprelude + st->ncode;
    qsort(all, nall, sizeof *all, compare_code);
    nb_buf future = NB_BUF_INIT;
    size_t nimports = 0;
    for (size_t i = 0; i < seg_step->ncells; i++)
        nimports += f->an->cells[seg_step->cells[i]].nsubmodules;
    nb_code *carried = nb_pool_alloc(pool, (nall + nimports + 1) * sizeof *carried);
    for (size_t i = 0; i < nall; i++)
        carried[i] = code_text(f, pool, &all[i], &future);
    out->carried = carried;
    out->ncarried = nall + submodule_imports(f, pool, seg_step, carried + nall);
    free(all);

    nb_code *cells = nb_pool_alloc(pool, (seg_step->ncells + 1) * sizeof *cells);
    for (size_t i = 0; i < seg_step->ncells; i++)
        cells[i] = code_text(f, pool, &(code_ref){ seg_step->cells[i], -1, false }, &future);
    out->cells = cells;
    out->ncells = seg_step->ncells;
    out->future = split_lines(pool, &future, &out->nfuture);
    nb_buf_release(&future);

    build_inputs(f, pool, st, out, position);
    build_outputs(f, pool, st, out);
    out->metrics = pool_names(f, pool, st->metrics, st->nmetrics, &out->nmetrics);

    size_t *upstream = nb_pool_alloc(pool, (st->nupstream + 1) * sizeof *upstream);
    for (size_t i = 0; i < st->nupstream; i++)
        upstream[i] = position[st->upstream[i]];
    qsort(upstream, st->nupstream, sizeof *upstream, compare_size);
    out->upstream = upstream;
    out->nupstream = st->nupstream;

    size_t *params = nb_pool_alloc(pool, (f->nparams + 1) * sizeof *params);
    for (size_t i = 0; i < f->nparams; i++)
        if (st->params[i] || f->prelude_params[i])
            params[out->nparams++] = i;
    out->params = params;

    out->limits = copy_kvs(pool, seg_step->limits, seg_step->nlimits);
    out->nlimits = seg_step->nlimits;
    out->annotations = copy_kvs(pool, seg_step->annotations, seg_step->nannotations);
    out->nannotations = seg_step->nannotations;
    out->labels = copy_kvs(pool, seg_step->labels, seg_step->nlabels);
    out->nlabels = seg_step->nlabels;
    out->image = seg_step->image ? nb_pool_strdup(pool, seg_step->image) : NULL;
    out->after_seed = after_seed(f, s);
    step_changes(f, pool, seg_step, out);
    out->image_cell = seg_step->image_cell;
}

static nb_pipeline *build_ir(flow *f, const size_t *order, const nb_dataflow_opts *opts,
                             const char *pipeline_name)
{
    nb_pipeline *p = nb_xcalloc(1, sizeof *p);
    nb_pool *pool = &p->pool;
    size_t n = f->seg->nsteps;
    size_t *position = nb_xcalloc(n + 1, sizeof *position);
    for (size_t k = 0; k < n; k++)
        position[order[k]] = k;

    p->name = nb_pool_strdup(pool, pipeline_name);
    const char *path = f->an->nb->path;
    const char *slash = strrchr(path, '/');
    p->notebook = nb_pool_strdup(pool, slash ? slash + 1 : path);
    p->path = nb_pool_strdup(pool, path);
    p->regenerate = nb_pool_strdup(pool, opts && opts->regenerate ? opts->regenerate : "");

    nb_param *params = nb_pool_alloc(pool, (f->nparams + 1) * sizeof *params);
    for (size_t i = 0; i < f->nparams; i++) {
        const nb_literal *lit = f->params[i].literal;
        const nb_code_cell *cell = &f->an->cells[f->params[i].cell];
        params[i] = (nb_param){ nb_pool_strdup(pool, name_str(f, lit->name)),
                                value_type(lit->type), nb_pool_strdup(pool, lit->text),
                                nb_pool_strdup(pool, lit->value), cell->cell->number,
                                cell->facts.stmts[lit->stmt].first_line };
    }
    p->params = params;
    p->nparams = f->nparams;

    nb_step *steps = nb_pool_alloc(pool, (n + 1) * sizeof *steps);
    for (size_t k = 0; k < n; k++)
        build_step(f, p, order[k], &steps[k], position);
    p->steps = steps;
    p->nsteps = n;
    free(position);

    nb_requirements_collect(f->an, f->seg->roles, opts ? opts->notebook_dir : NULL, pool,
                            &p->requirements, &p->nrequirements);
    return p;
}

static void release_flow(flow *f)
{
    for (size_t i = 0; i < f->nartifacts; i++) {
        free(f->artifacts[i].members);
        free(f->artifacts[i].name);
    }
    free(f->artifacts);
    for (size_t s = 0; f->steps && s < f->seg->nsteps; s++) {
        step_state *st = &f->steps[s];
        free(st->code);
        free(st->inputs);
        free(st->outputs);
        free(st->metrics);
        free(st->upstream);
        free(st->params);
    }
    free(f->steps);
    free(f->params);
    free(f->param_of);
    free(f->warned_generator);
    free(f->lambda_reads_for);
    free(f->warned_memo);
    free(f->prelude);
    free(f->prelude_params);
}

nb_pipeline *nb_dataflow_build(const nb_analysis *an, const nb_segmentation *seg,
                               const nb_dataflow_opts *opts, nb_diags *diags)
{
    flow f = { .an = an, .seg = seg, .diags = diags };
    f.param_of = nb_xcalloc(nb_names_count(an->names) + 1, sizeof *f.param_of);
    f.warned_generator = nb_xcalloc(nb_names_count(an->names) + 1, sizeof *f.warned_generator);
    f.lambda_reads_for = nb_xcalloc(an->ncells + 1, sizeof *f.lambda_reads_for);
    f.warned_memo = nb_xcalloc(an->ncells + 1, sizeof *f.warned_memo);
    f.first_seed = an->ncells;
    for (size_t i = an->ncells; i-- > 0;)
        if (an->cells[i].seeds_random && !an->cells[i].excluded)
            f.first_seed = i;
    collect_params(&f);
    f.prelude_params = nb_xcalloc(f.nparams + 1, sizeof *f.prelude_params);
    collect_prelude(&f);
    f.steps = nb_xcalloc(seg->nsteps + 1, sizeof *f.steps);
    for (size_t s = 0; s < seg->nsteps; s++)
        f.steps[s].params = nb_xcalloc(f.nparams + 1, sizeof *f.steps[s].params);

    for (size_t i = 0; i < an->ncells; i++) {
        nb_cell_role role = seg->roles[i];
        if (role == NB_ROLE_PRELUDE || role == NB_ROLE_PARAMETERS)
            use_cell(&f, -1, i);
        else if (role == NB_ROLE_STEP && seg->step_of[i] >= 0)
            use_cell(&f, seg->step_of[i], i);
    }
    collect_metrics(&f);
    replay_state(&f);
    /* inputs are known per step (unsorted): steps that load data need the classes */
    carry_classes(&f);
    nb_fileio_order(an, seg, file_edge, &f, diags);
    settle_steps(&f);
    warn(&f);

    size_t *order = nb_xcalloc(seg->nsteps + 1, sizeof *order);
    nb_pipeline *p = NULL;
    if (order_steps(&f, order) && !f.failed) {
        warn_dead_ends(&f, order);
        nb_buf name = NB_BUF_INIT;
        const char *path = an->nb->path;
        const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
        const char *dot = strrchr(base, '.');
        nb_step_name(base, dot ? (size_t)(dot - base) : strlen(base), &name);
        p = build_ir(&f, order, opts, name.data);
        nb_buf_release(&name);
    }
    free(order);
    release_flow(&f);
    return p;
}
