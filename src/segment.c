#include "nb2pipe/segment.h"

#include "nb2pipe/k8s.h"
#include "nb2pipe/names.h"
#include "nb2pipe/pydist.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

/* ---- Tags ------------------------------------------------------------------------ */

enum tag_kind {
    TAG_BLOCK,
    TAG_PREV,
    TAG_LIMIT,
    TAG_IMAGE,
    TAG_ANNOTATION,
    TAG_LABEL,
    TAG_SKIP,
    TAG_IMPORTS,
    TAG_FUNCTIONS,
    TAG_PARAMETERS,
    TAG_METRICS,
    TAG_UNKNOWN,
};

/* Kale's tag syntax (1.x `block:`, 2.x `step:`), plus papermill's `parameters`. */
static const struct {
    const char *text;
    bool prefix; /* TEXT is followed by an argument */
    enum tag_kind kind;
} tag_table[] = {
    { "block:", true, TAG_BLOCK },
    { "step:", true, TAG_BLOCK },
    { "prev:", true, TAG_PREV },
    { "limit:", true, TAG_LIMIT },
    { "image:", true, TAG_IMAGE },
    { "annotation:", true, TAG_ANNOTATION },
    { "label:", true, TAG_LABEL },
    { "skip", false, TAG_SKIP },
    { "imports", false, TAG_IMPORTS },
    { "functions", false, TAG_FUNCTIONS },
    { "pipeline-parameters", false, TAG_PARAMETERS },
    { "parameters", false, TAG_PARAMETERS },
    { "injected-parameters", false, TAG_PARAMETERS },
    { "pipeline-metrics", false, TAG_METRICS },
};

/* Classifies TAG; *ARG points at what follows the prefix. */
static enum tag_kind classify(const char *tag, const char **arg)
{
    for (size_t i = 0; i < sizeof tag_table / sizeof tag_table[0]; i++) {
        size_t n = strlen(tag_table[i].text);
        if (tag_table[i].prefix ? strncmp(tag, tag_table[i].text, n) == 0
                                : strcmp(tag, tag_table[i].text) == 0) {
            *arg = tag + n;
            return tag_table[i].kind;
        }
    }
    *arg = tag;
    return TAG_UNKNOWN;
}

static nb_loc cell_loc(const nb_analysis *an, size_t index)
{
    return (nb_loc){ .file = an->nb->path, .cell = an->cells[index].cell->number };
}

/* Whether the text from KEY up to END is a Kubernetes key (labels, annotations and
 * resources all use that syntax): Kubernetes refuses a pod with any other, so such a
 * tag is refused here, for every target alike. */
static bool key_ok(const char *key, const char *end)
{
    char *copy = nb_xstrndup(key, (size_t)(end - key));
    bool ok = nb_k8s_key_ok(copy);
    free(copy);
    return ok;
}

/* Checks one tag's syntax; records an error and returns false when it is malformed. */
static bool check_tag(const nb_analysis *an, size_t index, const char *tag, nb_diags *diags)
{
    const char *arg;
    enum tag_kind kind = classify(tag, &arg);
    const char *colon = strrchr(arg, ':');
    const char *problem = NULL;
    switch (kind) {
    case TAG_BLOCK:
        /* Kale's extension writes a bare "block:" and Kale reads it as no step name:
         * the cell continues the step above */
        if (!*arg)
            nb_diag_add(diags, NB_WARNING, "empty-block", cell_loc(an, index),
                        "tag '%s' names no step: the cell continues the step above, as in Kale",
                        tag);
        break;
    case TAG_PREV:
    case TAG_IMAGE:
        if (!*arg)
            problem = "needs a name after the colon";
        break;
    case TAG_LIMIT:
        if (!colon || colon == arg)
            problem = "should be limit:RESOURCE:QUANTITY (e.g. limit:memory:2Gi)";
        else if (!key_ok(arg, colon))
            problem = "names a resource that is not a Kubernetes key (cpu, memory, nvidia.com/gpu)";
        else if (!nb_quantity_ok(colon + 1))
            problem = "has a quantity that is not a number with an optional Kubernetes unit "
                      "(500m, 2Gi, 1.5; units m k M G T P E Ki Mi Gi Ti Pi Ei)";
        break;
    case TAG_ANNOTATION:
    case TAG_LABEL:
        colon = strchr(arg, ':');
        if (!colon || colon == arg)
            problem = "should be KIND:KEY:VALUE";
        else if (!key_ok(arg, colon))
            problem = "has a key that is not a Kubernetes key ([prefix/]name: letters, digits, "
                      "'-', '_', '.', at most 63, starting and ending with a letter or digit)";
        else if (kind == TAG_LABEL && !nb_k8s_label_value_ok(colon + 1))
            problem = "has a value Kubernetes does not accept as a label value (at most 63 "
                      "letters, digits, '-', '_', '.', starting and ending with a letter or "
                      "digit); free text belongs in an annotation";
        break;
    default:
        break;
    }
    if (problem)
        nb_diag_add(diags, NB_ERROR, "bad-tag", cell_loc(an, index), "tag '%s' %s", tag, problem);
    return problem == NULL;
}

int nb_segment_roles(const nb_analysis *an, nb_segmentation *seg, nb_diags *diags)
{
    memset(seg, 0, sizeof *seg);
    seg->roles = nb_pool_alloc(&seg->pool, (an->ncells + 1) * sizeof *seg->roles);
    seg->step_of = nb_pool_alloc(&seg->pool, (an->ncells + 1) * sizeof *seg->step_of);
    int status = 0;
    for (size_t i = 0; i < an->ncells; i++) {
        const nb_cell *cell = an->cells[i].cell;
        nb_cell_role role = NB_ROLE_STEP;
        seg->step_of[i] = -1;
        for (size_t t = 0; t < cell->ntags; t++) {
            if (!check_tag(an, i, cell->tags[t], diags))
                status = -1;
            const char *arg;
            /* when a cell has several role tags, skipping it wins */
            switch (classify(cell->tags[t], &arg)) {
            case TAG_SKIP: role = NB_ROLE_SKIP; break;
            case TAG_METRICS:
                if (role != NB_ROLE_SKIP)
                    role = NB_ROLE_METRICS;
                break;
            case TAG_PARAMETERS:
                if (role == NB_ROLE_STEP || role == NB_ROLE_PRELUDE)
                    role = NB_ROLE_PARAMETERS;
                break;
            case TAG_IMPORTS:
            case TAG_FUNCTIONS:
                if (role == NB_ROLE_STEP)
                    role = NB_ROLE_PRELUDE;
                break;
            default: break;
            }
        }
        /* a parameters cell that assigns no literal (papermill's tag on `df.plot()`)
         * holds no parameters: it runs where it is, as any cell */
        if (role == NB_ROLE_PARAMETERS && an->cells[i].facts.parsed &&
            an->cells[i].facts.nliterals == 0)
            role = NB_ROLE_STEP;
        seg->roles[i] = role;
    }
    return status;
}

/* ---- Names ----------------------------------------------------------------------- */

enum { MAX_STEP_NAME = 48 };

static bool is_reserved(const char *name)
{
    /* Python keywords (a step name is also a module-ish name and a task id) and the
     * device names Windows will not create files for */
    static const char *const reserved[] = {
        "and", "as", "assert", "async", "await", "break", "class", "continue", "def", "del",
        "elif", "else", "except", "finally", "for", "from", "global", "if", "import", "in",
        "is", "lambda", "nonlocal", "not", "or", "pass", "raise", "return", "try", "while",
        "with", "yield", "con", "prn", "aux", "nul", "com1", "com2", "com3", "com4", "com5",
        "com6", "com7", "com8", "com9", "lpt1", "lpt2", "lpt3", "lpt4", "lpt5", "lpt6",
        "lpt7", "lpt8", "lpt9",
    };
    for (size_t i = 0; i < sizeof reserved / sizeof reserved[0]; i++)
        if (strcmp(name, reserved[i]) == 0)
            return true;
    return false;
}

void nb_step_name(const char *text, size_t len, nb_buf *out)
{
    nb_buf_reset(out);
    bool separator = false;
    for (size_t i = 0; i < len && out->len < MAX_STEP_NAME; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c < 0x80 && isalnum(c)) {
            if (separator && out->len)
                nb_buf_putc(out, '_');
            nb_buf_putc(out, (char)tolower(c));
            separator = false;
        } else {
            separator = true;
        }
    }
    if (out->len > MAX_STEP_NAME)
        nb_buf_truncate(out, MAX_STEP_NAME);
    while (out->len && out->data[out->len - 1] == '_')
        nb_buf_truncate(out, out->len - 1);
    if (out->len == 0)
        nb_buf_puts(out, "step");
    if (isdigit((unsigned char)out->data[0])) {
        nb_buf tmp = NB_BUF_INIT;
        nb_buf_puts(&tmp, "step_");
        nb_buf_add(&tmp, out->data, out->len < MAX_STEP_NAME - 5 ? out->len : MAX_STEP_NAME - 5);
        nb_buf_reset(out);
        nb_buf_add(out, tmp.data, tmp.len);
        nb_buf_release(&tmp);
    }
    if (is_reserved(out->data))
        nb_buf_puts(out, "_step");
}

const char *nb_split_name(nb_split split)
{
    switch (split) {
    case NB_SPLIT_AUTO: return "auto";
    case NB_SPLIT_TAGS: return "tags";
    case NB_SPLIT_HEADINGS: return "headings";
    case NB_SPLIT_SINGLE: return "single";
    case NB_SPLIT_DATAFLOW: return "dataflow";
    }
    return "?";
}

/* ---- Steps ----------------------------------------------------------------------- */

typedef struct builder {
    const nb_analysis *an;
    nb_segmentation *seg;
    nb_diags *diags;
    nb_names *taken;    /* step names handed out */
    nb_names *imported; /* top-level modules the notebook imports */
    nb_names *blocks; /* Kale block name -> step, by id */
    long *step_of_block;
    size_t step_of_block_cap;
} builder;

static size_t add_step(builder *b, const char *title, size_t title_len)
{
    nb_segmentation *seg = b->seg;
    nb_buf name = NB_BUF_INIT, unique = NB_BUF_INIT;
    nb_step_name(title, title_len, &name);
    /* `python steps/NAME.py` puts steps/ first on the import path: a step named like a
     * module (inspect, random, pandas) would hide that module from every step */
    if (nb_pydist_is_stdlib(name.data, name.len) || strcmp(name.data, "nb2pipe_runtime") == 0 ||
        nb_names_find(b->imported, name.data, name.len) != NB_NO_NAME)
        nb_buf_puts(&name, "_step");
    nb_buf_add(&unique, name.data, name.len);
    /* clashes get _2, _3... in notebook order, so names stay put when unrelated cells
     * change */
    for (int n = 2; nb_names_find(b->taken, unique.data, unique.len) != NB_NO_NAME; n++) {
        nb_buf_reset(&unique);
        nb_buf_add(&unique, name.data, name.len < MAX_STEP_NAME - 4 ? name.len : MAX_STEP_NAME - 4);
        nb_buf_printf(&unique, "_%d", n);
    }
    nb_names_intern(b->taken, unique.data, unique.len);
    seg->steps = nb_xgrow(seg->steps, &seg->steps_cap, seg->nsteps + 1, sizeof *seg->steps);
    nb_segment_step *step = &seg->steps[seg->nsteps];
    memset(step, 0, sizeof *step);
    step->name = nb_pool_strndup(&seg->pool, unique.data, unique.len);
    step->title = nb_pool_strndup(&seg->pool, title, title_len);
    nb_buf_release(&name);
    nb_buf_release(&unique);
    return seg->nsteps++;
}

static void add_cell(builder *b, size_t step, size_t cell)
{
    nb_segment_step *s = &b->seg->steps[step];
    s->cells = nb_xgrow(s->cells, &s->cells_cap, s->ncells + 1, sizeof *s->cells);
    s->cells[s->ncells++] = cell;
    b->seg->step_of[cell] = (long)step;
}

static void add_kv(nb_pool *pool, nb_kv **items, size_t *n, size_t *cap, const char *key,
                   size_t key_len, const char *value, int cell)
{
    for (size_t i = 0; i < *n; i++) {
        if (strlen((*items)[i].key) == key_len && memcmp((*items)[i].key, key, key_len) == 0) {
            /* the last tag wins */
            (*items)[i].value = nb_pool_strdup(pool, value);
            (*items)[i].cell = cell;
            return;
        }
    }
    *items = nb_xgrow(*items, cap, *n + 1, sizeof **items);
    (*items)[(*n)++] = (nb_kv){ nb_pool_strndup(pool, key, key_len), nb_pool_strdup(pool, value),
                                cell };
}

/* The first block:/step: name among the cell's tags, or NULL. */
static const char *block_tag(const nb_cell *cell)
{
    for (size_t t = 0; t < cell->ntags; t++) {
        const char *arg;
        if (classify(cell->tags[t], &arg) == TAG_BLOCK && *arg)
            return arg;
    }
    return NULL;
}

/* limit:, image:, annotation:, label: tags of a cell apply to its step. */
static void apply_step_tags(builder *b, size_t cell, size_t step)
{
    nb_segment_step *s = &b->seg->steps[step];
    nb_pool *pool = &b->seg->pool;
    const nb_cell *c = b->an->cells[cell].cell;
    for (size_t t = 0; t < c->ntags; t++) {
        const char *arg;
        enum tag_kind kind = classify(c->tags[t], &arg);
        const char *colon = kind == TAG_LIMIT ? strrchr(arg, ':') : strchr(arg, ':');
        switch (kind) {
        case TAG_LIMIT:
            if (colon && colon != arg)
                add_kv(pool, &s->limits, &s->nlimits, &s->limits_cap, arg, (size_t)(colon - arg),
                       colon + 1, c->number);
            break;
        case TAG_ANNOTATION:
            if (colon && colon != arg)
                add_kv(pool, &s->annotations, &s->nannotations, &s->annotations_cap, arg,
                       (size_t)(colon - arg), colon + 1, c->number);
            break;
        case TAG_LABEL:
            if (colon && colon != arg)
                add_kv(pool, &s->labels, &s->nlabels, &s->labels_cap, arg, (size_t)(colon - arg),
                       colon + 1, c->number);
            break;
        case TAG_IMAGE:
            if (*arg) {
                s->image = nb_pool_strdup(pool, arg);
                s->image_cell = c->number;
            }
            break;
        default:
            break;
        }
    }
}

/* A cell that only sets things up (imports, definitions, literal constants) and reads
 * no data may run at the start of every step instead of forming a step of its own. */
static bool sets_up_only(const nb_code_cell *cc)
{
    const nb_facts *f = &cc->facts;
    if (!f->parsed || f->nmutations || f->ndeletes || f->displays_only)
        return false;
    for (size_t i = 0; i < f->nuses; i++)
        if (!f->uses[i].deferred && cc->providers[i].status == NB_PROVIDED &&
            cc->providers[i].kind == NB_BIND_DATA)
            return false;
    for (size_t i = 0; i < cc->nmagics; i++)
        if (cc->magics[i].action == NB_MAGIC_TRANSLATED)
            return false; /* shell commands and %cd have effects */
    for (size_t i = 0; i < f->ndefs; i++) {
        if (f->defs[i].kind != NB_BIND_DATA)
            continue;
        bool literal = false;
        for (size_t l = 0; l < f->nliterals && !literal; l++)
            literal = f->literals[l].name == f->defs[i].name;
        if (!literal)
            return false;
    }
    return true;
}

/* Code cells that come before the first step: each that only sets up runs at the start
 * of every step; the others form a step of their own, "setup", in front. */
static void place_leading(builder *b, const size_t *leading, size_t nleading)
{
    size_t computing = 0;
    for (size_t i = 0; i < nleading; i++)
        computing += !sets_up_only(&b->an->cells[leading[i]]);
    if (nleading == 0)
        return;
    bool all_setup = computing == 0 && b->seg->nsteps > 0;
    if (all_setup) {
        for (size_t i = 0; i < nleading; i++)
            b->seg->roles[leading[i]] = NB_ROLE_PRELUDE;
        return;
    }
    /* insert the "setup" step in front */
    size_t step = add_step(b, "setup", 5);
    nb_segment_step moved = b->seg->steps[step];
    memmove(&b->seg->steps[1], &b->seg->steps[0], step * sizeof *b->seg->steps);
    b->seg->steps[0] = moved;
    for (size_t i = 0; i < b->an->ncells; i++)
        if (b->seg->step_of[i] >= 0)
            b->seg->step_of[i]++;
    for (size_t i = 0; i < b->step_of_block_cap; i++)
        if (b->step_of_block[i] >= 0)
            b->step_of_block[i]++;
    /* with no other step, every leading cell is the setup step */
    bool only_step = b->seg->nsteps == 1;
    for (size_t i = 0; i < nleading; i++) {
        if (!only_step && sets_up_only(&b->an->cells[leading[i]])) {
            b->seg->roles[leading[i]] = NB_ROLE_PRELUDE;
            continue;
        }
        add_cell(b, 0, leading[i]);
        apply_step_tags(b, leading[i], 0);
    }
}

static size_t block_step(builder *b, const char *block)
{
    nb_buf name = NB_BUF_INIT;
    nb_step_name(block, strlen(block), &name);
    nb_name id = nb_names_intern(b->blocks, name.data, name.len);
    nb_buf_release(&name);
    if (id >= b->step_of_block_cap) {
        size_t old = b->step_of_block_cap;
        b->step_of_block = nb_xgrow(b->step_of_block, &b->step_of_block_cap, (size_t)id + 1,
                                    sizeof *b->step_of_block);
        for (size_t i = old; i < b->step_of_block_cap; i++)
            b->step_of_block[i] = -1;
    }
    if (b->step_of_block[id] < 0)
        b->step_of_block[id] = (long)add_step(b, block, strlen(block));
    return (size_t)b->step_of_block[id];
}

/* Kale: an untagged cell after an imports, functions, pipeline-parameters or
 * pipeline-metrics cell belongs with it; a skipped cell does not interrupt that. */
static void propagate_roles(builder *b)
{
    nb_cell_role previous = NB_ROLE_STEP;
    for (size_t i = 0; i < b->an->ncells; i++) {
        nb_cell_role role = b->seg->roles[i];
        if (role == NB_ROLE_SKIP)
            continue;
        const nb_cell *cell = b->an->cells[i].cell;
        if (role == NB_ROLE_STEP && !block_tag(cell) && previous != NB_ROLE_STEP)
            b->seg->roles[i] = role = previous;
        previous = role;
    }
}

static void split_by_tags(builder *b, size_t **leading, size_t *nleading, size_t *cap)
{
    propagate_roles(b);
    long current = -1;
    for (size_t i = 0; i < b->an->ncells; i++) {
        if (b->seg->roles[i] != NB_ROLE_STEP)
            continue;
        const char *block = block_tag(b->an->cells[i].cell);
        if (block)
            current = (long)block_step(b, block);
        if (current < 0) {
            *leading = nb_xgrow(*leading, cap, *nleading + 1, sizeof **leading);
            (*leading)[(*nleading)++] = i;
            continue;
        }
        add_cell(b, (size_t)current, i);
        apply_step_tags(b, i, (size_t)current);
    }
}

const char *nb_heading_title(const nb_cell *cell, int level, size_t *len)
{
    const char *found = NULL;
    const char *p = cell->source, *end = cell->source + cell->source_len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *eol = nl ? nl : end;
        const char *q = p;
        while (q < eol && q - p < 3 && *q == ' ')
            q++;
        int hashes = 0;
        while (q + hashes < eol && q[hashes] == '#')
            hashes++;
        bool match = level ? hashes == level : hashes >= 1 && hashes <= 6;
        if (match && eol - q > hashes && (q[hashes] == ' ' || q[hashes] == '\t')) {
            const char *s = q + hashes + 1, *e = eol;
            while (s < e && (*s == ' ' || *s == '\t'))
                s++;
            while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '#' || e[-1] == '\r'))
                e--;
            found = s;
            *len = (size_t)(e - s);
        }
        p = nl ? nl + 1 : end;
    }
    return found;
}

static void split_by_headings(builder *b, int level, size_t **leading, size_t *nleading,
                              size_t *cap)
{
    const nb_notebook *nb = b->an->nb;
    const char *title = NULL;
    size_t title_len = 0;
    long current = -1;
    size_t code = 0;
    for (size_t i = 0; i < nb->ncells; i++) {
        const nb_cell *cell = &nb->cells[i];
        if (cell->type == NB_CELL_MARKDOWN) {
            size_t len;
            const char *t = nb_heading_title(cell, level, &len);
            if (t) {
                title = t;
                title_len = len;
            }
            continue;
        }
        if (cell->type != NB_CELL_CODE)
            continue;
        size_t index = code++;
        if (b->seg->roles[index] != NB_ROLE_STEP)
            continue;
        if (title) { /* the first code cell under a heading starts its step */
            current = (long)add_step(b, title, title_len);
            title = NULL;
        }
        if (current < 0) {
            *leading = nb_xgrow(*leading, cap, *nleading + 1, sizeof **leading);
            (*leading)[(*nleading)++] = index;
            continue;
        }
        add_cell(b, (size_t)current, index);
        apply_step_tags(b, index, (size_t)current);
    }
}

/* How many steps of MIN_CELLS or more code cells headings of LEVEL would start; with
 * LEADING, the "setup" step that computing cells above the first heading make counts
 * too. */
static size_t heading_steps(const builder *b, int level, size_t min_cells, bool leading)
{
    const nb_notebook *nb = b->an->nb;
    size_t steps = 0, cells = 0, code = 0;
    bool open = false;
    for (size_t i = 0; i < nb->ncells; i++) {
        const nb_cell *cell = &nb->cells[i];
        size_t len;
        if (cell->type == NB_CELL_MARKDOWN && nb_heading_title(cell, level, &len)) {
            steps += open && cells >= min_cells;
            open = true;
            cells = 0;
        } else if (cell->type == NB_CELL_CODE) {
            size_t index = code++;
            if (b->seg->roles[index] != NB_ROLE_STEP)
                continue;
            if (open)
                cells++;
            else if (leading && !sets_up_only(&b->an->cells[index]))
                leading = false, steps++;
        }
    }
    return steps + (open && cells >= min_cells);
}

static bool has_block_tags(const nb_analysis *an)
{
    for (size_t i = 0; i < an->ncells; i++)
        if (block_tag(an->cells[i].cell))
            return true;
    return false;
}

static bool has_h2(const nb_notebook *nb)
{
    size_t len;
    for (size_t i = 0; i < nb->ncells; i++)
        if (nb->cells[i].type == NB_CELL_MARKDOWN && nb_heading_title(&nb->cells[i], 2, &len))
            return true;
    return false;
}

/* ---- The dataflow split ----------------------------------------------------------- */

/* The title of the nearest markdown heading before code cell NUMBER that comes after
 * code cell AFTER (notebook cell numbers; AFTER 0 for the notebook's start), or NULL. */
static const char *title_before(const nb_notebook *nb, int after, int number, size_t *len)
{
    for (int n = number - 1; n > after; n--) {
        const nb_cell *cell = &nb->cells[n - 1];
        const char *title = cell->type == NB_CELL_MARKDOWN ? nb_heading_title(cell, 0, len) : NULL;
        if (title && *len)
            return title;
    }
    return NULL;
}

/* Steps from the dataflow (split_dataflow.h). Leading set-up cells run at the start of
 * every step; the rest are cut where the fewest values cross. A step is named after the
 * nearest markdown heading above it, else the value it produces. */
static void split_by_dataflow(builder *b, size_t max_steps, const char *pipeline_name,
                              size_t **leading, size_t *nleading, size_t *cap)
{
    const nb_analysis *an = b->an;
    nb_segmentation *seg = b->seg;
    bool *setup = nb_xcalloc(an->ncells + 1, sizeof *setup);
    size_t *list = nb_pool_alloc(&seg->pool, (an->ncells + 1) * sizeof *list);
    size_t nlist = 0;
    for (size_t i = 0; i < an->ncells; i++) {
        if (seg->roles[i] != NB_ROLE_STEP)
            continue;
        setup[i] = sets_up_only(&an->cells[i]);
        if (nlist == 0 && setup[i]) {
            *leading = nb_xgrow(*leading, cap, *nleading + 1, sizeof **leading);
            (*leading)[(*nleading)++] = i;
            continue;
        }
        list[nlist++] = i;
    }
    seg->dataflow_cells = list;
    seg->ndataflow_cells = nlist;
    nb_split_dataflow(an, list, nlist, setup, max_steps, &seg->cuts);
    free(setup);
    if (nlist == 0)
        return;
    nb_buf name = NB_BUF_INIT;
    int previous = 0; /* the last code cell of the step before */
    for (size_t s = 0; s < seg->cuts.nsteps; s++) {
        size_t from = seg->cuts.starts[s];
        size_t to = s + 1 < seg->cuts.nsteps ? seg->cuts.starts[s + 1] : nlist;
        size_t len = 0;
        const char *title = title_before(an->nb, previous, an->cells[list[from]].cell->number, &len);
        if (seg->cuts.nsteps == 1) {
            nb_buf_reset(&name);
            nb_buf_puts(&name, pipeline_name);
        } else if (title) {
            nb_buf_reset(&name);
            nb_buf_add(&name, title, len);
        } else {
            nb_dataflow_step_value_name(an, list + from, to - from, &name);
        }
        size_t step = add_step(b, name.data, name.len);
        for (size_t k = from; k < to; k++) {
            add_cell(b, step, list[k]);
            apply_step_tags(b, list[k], step);
        }
        previous = an->cells[list[to - 1]].cell->number;
    }
    nb_buf_release(&name);
}

/* ---- Choosing a split -------------------------------------------------------------- */

/* What AUTO does with AN, and why, into SEG->heading_level and REASON. */
static nb_split choose_split(builder *b, nb_buf *reason)
{
    if (has_block_tags(b->an)) {
        nb_buf_puts(reason, "cells carry Kale block:/step: tags");
        return NB_SPLIT_TAGS;
    }
    size_t code = 0;
    for (size_t i = 0; i < b->an->ncells; i++)
        code += b->seg->roles[i] == NB_ROLE_STEP;
    /* '## ' headings that make one step (a lone heading over the whole notebook) are
     * no split: the other levels and the dataflow get their chance, unless the
     * notebook is too small for them */
    bool h2 = has_h2(b->an->nb);
    if (h2 && (code < NB_DATAFLOW_MIN_CELLS || heading_steps(b, 2, 1, true) >= 2)) {
        b->seg->heading_level = 2;
        nb_buf_puts(reason, "markdown '## ' headings start steps");
        return NB_SPLIT_HEADINGS;
    }
    /* the other levels, the one giving the most steps of two or more code cells; the
     * higher level wins a tie, being the coarser structure */
    static const int levels[] = { 1, 3, 4, 5, 6 };
    size_t best_steps = 0;
    int best_level = 0;
    for (size_t i = 0; i < sizeof levels / sizeof levels[0]; i++) {
        size_t steps = heading_steps(b, levels[i], 2, false);
        if (steps > best_steps) {
            best_steps = steps;
            best_level = levels[i];
        }
    }
    if (best_steps >= 2) {
        b->seg->heading_level = best_level;
        nb_buf_printf(reason, "no Kale tags, %s; '%.*s ' headings give %zu steps of two or more "
                      "code cells", h2 ? "'## ' headings make one step" : "no '## ' headings",
                      best_level, "######", best_steps);
        return NB_SPLIT_HEADINGS;
    }
    if (code < NB_DATAFLOW_MIN_CELLS) {
        nb_buf_printf(reason, "only %zu code cell%s, too few to split", code, code == 1 ? "" : "s");
        return NB_SPLIT_SINGLE;
    }
    nb_buf_printf(reason, "no Kale tags, %sno heading level gives two steps of two or more "
                          "code cells", h2 ? "'## ' headings make one step, " : "and ");
    return NB_SPLIT_DATAFLOW;
}

/* prev:NAME tags, once every step exists. */
static int resolve_prev(builder *b)
{
    int status = 0;
    nb_buf name = NB_BUF_INIT;
    for (size_t i = 0; i < b->an->ncells; i++) {
        long step = b->seg->step_of[i];
        const nb_cell *cell = b->an->cells[i].cell;
        for (size_t t = 0; t < cell->ntags; t++) {
            const char *arg;
            if (classify(cell->tags[t], &arg) != TAG_PREV || !*arg)
                continue;
            nb_step_name(arg, strlen(arg), &name);
            nb_name id = nb_names_find(b->blocks, name.data, name.len);
            long prev = id != NB_NO_NAME && id < b->step_of_block_cap ? b->step_of_block[id] : -1;
            if (!block_tag(cell)) {
                /* Kale only reads prev: on the cell that starts a step */
                nb_diag_add(b->diags, NB_WARNING, "ignored-tag", cell_loc(b->an, i),
                            "tag '%s' ignored: prev: belongs on a cell with a block: or step: "
                            "name", cell->tags[t]);
                continue;
            }
            if (prev < 0) {
                nb_diag_add(b->diags, NB_ERROR, "bad-tag", cell_loc(b->an, i),
                            "tag '%s' names no step of this notebook", cell->tags[t]);
                status = -1;
                continue;
            }
            if (prev == step)
                continue;
            nb_segment_step *s = &b->seg->steps[step];
            bool known = false;
            for (size_t p = 0; p < s->nprev && !known; p++)
                known = s->prev[p] == (size_t)prev;
            if (!known) {
                s->prev = nb_xgrow(s->prev, &s->prev_cap, s->nprev + 1, sizeof *s->prev);
                s->prev[s->nprev++] = (size_t)prev;
            }
        }
    }
    nb_buf_release(&name);
    return status;
}

static void warn_unknown_tags(const builder *b)
{
    for (size_t i = 0; i < b->an->ncells; i++) {
        const nb_cell *cell = b->an->cells[i].cell;
        for (size_t t = 0; t < cell->ntags; t++) {
            const char *arg;
            if (classify(cell->tags[t], &arg) == TAG_UNKNOWN)
                nb_diag_add(b->diags, NB_WARNING, "unknown-tag", cell_loc(b->an, i),
                            "unknown tag '%s' ignored", cell->tags[t]);
        }
    }
}

/* Every cell that is part of a step, in one step named PIPELINE_NAME. */
static void split_single(builder *b, const char *pipeline_name)
{
    for (size_t i = 0; i < b->an->ncells; i++) {
        if (b->seg->roles[i] != NB_ROLE_STEP)
            continue;
        if (b->seg->nsteps == 0)
            add_step(b, pipeline_name, strlen(pipeline_name));
        add_cell(b, 0, i);
        apply_step_tags(b, i, 0);
    }
}

/* What AUTO chose and why, in one line, into SEG->reason (convert says it on stderr
 * once the pipeline is written; analyze prints it). */
static void record_choice(builder *b, const char *why)
{
    nb_segmentation *seg = b->seg;
    nb_buf line = NB_BUF_INIT;
    nb_buf_printf(&line, "%s", nb_split_name(seg->split));
    if (seg->split == NB_SPLIT_HEADINGS && seg->heading_level != 2)
        nb_buf_printf(&line, " level %d", seg->heading_level);
    if (seg->split == NB_SPLIT_DATAFLOW && seg->cuts.nsteps > 1)
        nb_buf_printf(&line, ", %zu steps cut where the fewest values cross (%s)",
                      seg->cuts.nsteps, why);
    else if (seg->split == NB_SPLIT_DATAFLOW)
        nb_buf_printf(&line, ", one step: no boundary between steps of %zu or more cells "
                      "where values can be saved (%s)", seg->cuts.min_cells, why);
    else
        nb_buf_printf(&line, " (%s)", why);
    seg->reason = nb_pool_strndup(&seg->pool, line.data, line.len);
    nb_buf_release(&line);
}

int nb_segment_steps(const nb_analysis *an, const nb_segment_opts *opts, nb_segmentation *seg,
                     nb_diags *diags)
{
    builder b = { .an = an, .seg = seg, .diags = diags };
    b.taken = nb_names_new();
    b.blocks = nb_names_new();
    b.imported = nb_names_new();
    for (size_t i = 0; i < an->ncells; i++)
        for (size_t m = 0; m < an->cells[i].facts.nimports; m++) {
            const char *module = an->cells[i].facts.imports[m].module;
            nb_names_intern(b.imported, module, strcspn(module, "."));
        }
    nb_split split = opts->split;
    nb_buf why = NB_BUF_INIT;
    seg->heading_level = 2;
    if (split == NB_SPLIT_AUTO)
        split = choose_split(&b, &why);
    seg->split = split;
    size_t *leading = NULL, nleading = 0, cap = 0;
    int status = 0;
    switch (split) {
    case NB_SPLIT_TAGS:
        warn_unknown_tags(&b);
        split_by_tags(&b, &leading, &nleading, &cap);
        break;
    case NB_SPLIT_HEADINGS:
        split_by_headings(&b, seg->heading_level, &leading, &nleading, &cap);
        break;
    case NB_SPLIT_DATAFLOW:
        split_by_dataflow(&b, opts->max_steps, opts->pipeline_name, &leading, &nleading, &cap);
        break;
    default:
        split_single(&b, opts->pipeline_name);
        break;
    }
    place_leading(&b, leading, nleading);
    free(leading);
    if (opts->split == NB_SPLIT_AUTO)
        record_choice(&b, why.data);
    nb_buf_release(&why);
    /* prev: names a Kale block: only the tags split has blocks to name */
    if (split == NB_SPLIT_TAGS && resolve_prev(&b) != 0)
        status = -1;
    if (seg->nsteps == 0) {
        nb_diag_add(diags, NB_ERROR, "no-steps", (nb_loc){ .file = an->nb->path },
                    "the notebook has no code cell that belongs to a step (every code cell is "
                    "skipped, or imports, functions, parameters or metrics)");
        status = -1;
    }
    nb_names_free(b.taken);
    nb_names_free(b.blocks);
    nb_names_free(b.imported);
    free(b.step_of_block);
    return status;
}

void nb_segmentation_release(nb_segmentation *seg)
{
    for (size_t i = 0; i < seg->nsteps; i++) {
        nb_segment_step *s = &seg->steps[i];
        free(s->cells);
        free(s->prev);
        free(s->limits);
        free(s->annotations);
        free(s->labels);
    }
    free(seg->steps);
    nb_dataflow_cuts_release(&seg->cuts);
    nb_pool_release(&seg->pool);
    memset(seg, 0, sizeof *seg);
}
