#include "fileio.h"

#include "nb2pipe/pyknown.h"

#include <stdlib.h>

#include <string.h>

/* The value of the argument at POSITION or KEYWORD, when it is a string literal; *GIVEN
 * says whether the argument is there at all. */
static const char *argument_literal(const nb_call *call, const nb_names *names, int position,
                                    const char *keyword, bool *given)
{
    int at = 0;
    *given = false;
    for (size_t i = 0; i < call->nargs; i++) {
        const nb_arg *a = &call->args[i];
        bool match = a->keyword == NB_NO_NAME
                         ? at++ == position
                         : keyword && strcmp(nb_names_str(names, a->keyword), keyword) == 0;
        if (match) {
            *given = true;
            return a->literal;
        }
    }
    return NULL;
}

/* "./out//a.csv" -> "out/a.csv"; "." and "" stay "." */
static const char *normalise(const char *path, nb_pool *pool)
{
    size_t n = strlen(path);
    char *out = nb_pool_alloc(pool, n + 2);
    size_t len = 0;
    const char *p = path;
    while (*p) {
        if (p[0] == '.' && (p[1] == '/' || p[1] == '\0') && (len == 0 || out[len - 1] == '/')) {
            p += p[1] ? 2 : 1;
            continue;
        }
        if (*p == '/' && len && out[len - 1] == '/') {
            p++;
            continue;
        }
        out[len++] = *p++;
    }
    while (len > 1 && out[len - 1] == '/')
        len--;
    if (len == 0)
        out[len++] = '.';
    out[len] = '\0';
    return out;
}

static bool found(nb_file_access *out, const char *literal, bool write, nb_pool *pool)
{
    out->path = literal ? normalise(literal, pool) : NULL;
    out->write = write;
    return true;
}

/* open(path, mode): a write when the mode writes, appends, creates or updates. */
static bool open_call(const nb_call *call, const nb_names *names, nb_pool *pool,
                      nb_file_access *out)
{
    bool given;
    const char *path = argument_literal(call, names, 0, "file", &given);
    if (!given)
        return false;
    bool mode_given;
    const char *mode = argument_literal(call, names, 1, "mode", &mode_given);
    bool write = mode_given && (!mode || strpbrk(mode, "wax+"));
    return found(out, path, write, pool);
}

static bool is_shell(const nb_call *call, const nb_names *names)
{
    static const char *const runners[] = { "run", "call", "check_call", "check_output",
                                           "Popen", "getoutput", "getstatusoutput", "system" };
    if (call->method == NB_NO_NAME || !call->receiver_literal)
        return false;
    if (strcmp(call->receiver_literal, "subprocess") != 0 && strcmp(call->receiver_literal, "os") != 0)
        return false;
    const char *m = nb_names_str(names, call->method);
    for (size_t i = 0; i < sizeof runners / sizeof *runners; i++)
        if (strcmp(m, runners[i]) == 0)
            return true;
    return false;
}

bool nb_fileio_of_call(const nb_call *call, const char *canonical, const nb_names *names,
                       nb_pool *pool, nb_file_access *out)
{
    memset(out, 0, sizeof *out);
    out->line = call->line;
    out->col = call->col;
    out->what = call->path ? call->path
                           : call->method ? nb_names_str(names, call->method) : "a call";
    /* shell commands (and the magics translated to them) may touch any file */
    if (is_shell(call, names) ||
        (canonical && (strncmp(canonical, "subprocess.", 11) == 0 || strcmp(canonical, "os.system") == 0)))
        return found(out, NULL, true, pool);
    if (canonical && (strcmp(canonical, "open") == 0 || strcmp(canonical, "io.open") == 0))
        return open_call(call, names, pool, out);
    nb_file_call how = { NB_FILE_NONE, -1, NULL };
    if (canonical) {
        how = nb_known_file_function(canonical);
    } else if (call->method != NB_NO_NAME) {
        const char *m = nb_names_str(names, call->method);
        how = nb_known_file_method(m, strlen(m));
    }
    if (how.mode == NB_FILE_NONE)
        return false;
    if (how.position < 0 && !how.keyword) /* pathlib: the path is the receiver's */
        return found(out, call->receiver_literal, how.mode == NB_FILE_WRITE, pool);
    bool given;
    const char *path = argument_literal(call, names, how.position, how.keyword, &given);
    if (!given && canonical && strcmp(canonical, "os.listdir") == 0)
        path = ".", given = true;
    if (!given)
        return false; /* df.to_csv() without a path returns the text */
    return found(out, path, how.mode == NB_FILE_WRITE, pool);
}

static bool inside(const char *dir, const char *path)
{
    size_t n = strlen(dir);
    return strcmp(dir, ".") == 0 || (strncmp(dir, path, n) == 0 && (path[n] == '/' || path[n] == '\0'));
}

bool nb_fileio_overlap(const nb_file_access *a, const nb_file_access *b)
{
    if (!a->path || !b->path)
        return true;
    return inside(a->path, b->path) || inside(b->path, a->path);
}

/* What the walk over the cells knows of one path: the step that last wrote it and the
 * steps that read it since. */
typedef struct path_state {
    nb_file_access access; /* path NULL: a path not known, which may be any file */
    long writer;           /* step, or -1 */
    long *readers;
    size_t nreaders, readers_cap;
} path_state;

typedef struct order_walk {
    const nb_analysis *an;
    const nb_segmentation *seg;
    void (*add_edge)(void *arg, size_t before, size_t after);
    void *arg;
    nb_diags *diags;
    path_state *paths;
    size_t npaths, paths_cap;
    uint8_t *warned; /* by cell index */
} order_walk;

static void warn_unknown(const order_walk *o, size_t cell, const nb_file_access *a, long before,
                         long after)
{
    const nb_code_cell *cc = &o->an->cells[cell];
    nb_loc loc = { o->an->nb->path, cc->cell->number, a->line, a->col };
    nb_diag *d = nb_diag_add(o->diags, NB_WARNING, "file-order", loc,
                             "the path %s %s is not a literal, so nb2pipe cannot tell which file "
                             "it is: step '%s' runs after step '%s' in case they touch the same one",
                             a->write ? "written by" : "read by", a->what,
                             o->seg->steps[after].name, o->seg->steps[before].name);
    nb_diag_set_source(d, cc->cell->source, cc->cell->source_len);
}

/* Step BEFORE must run before step AFTER, because of access A of cell CELL and what is
 * known of path P. Only in the notebook's order: interleaved steps would make a cycle. */
static void order(order_walk *o, long before, long after, size_t cell, const nb_file_access *a,
                  const path_state *p)
{
    if (before < 0 || before == after ||
        o->seg->steps[before].cells[0] >= o->seg->steps[after].cells[0])
        return;
    o->add_edge(o->arg, (size_t)before, (size_t)after);
    if ((!a->path || !p->access.path) && !o->warned[cell]) {
        o->warned[cell] = 1;
        warn_unknown(o, cell, a->path ? &p->access : a, before, after);
    }
}

static path_state *state_of(order_walk *o, const nb_file_access *a)
{
    for (size_t i = 0; i < o->npaths; i++) {
        const char *p = o->paths[i].access.path;
        if ((!p && !a->path) || (p && a->path && strcmp(p, a->path) == 0))
            return &o->paths[i];
    }
    o->paths = nb_xgrow(o->paths, &o->paths_cap, o->npaths + 1, sizeof *o->paths);
    path_state *s = &o->paths[o->npaths++];
    memset(s, 0, sizeof *s);
    s->access = *a;
    s->writer = -1;
    return s;
}

/* One access of cell CELL (step STEP): ordered after the last write of every path it may
 * touch and, if it writes, after their reads since; then remembered. */
static void access(order_walk *o, size_t cell, long step, const nb_file_access *a)
{
    for (size_t i = 0; i < o->npaths; i++) {
        path_state *p = &o->paths[i];
        if (!nb_fileio_overlap(a, &p->access))
            continue;
        order(o, p->writer, step, cell, a, p);
        for (size_t r = 0; a->write && r < p->nreaders; r++)
            order(o, p->readers[r], step, cell, a, p);
    }
    path_state *mine = state_of(o, a);
    if (a->write) {
        mine->writer = step;
        mine->nreaders = 0;
    } else if (!mine->nreaders || mine->readers[mine->nreaders - 1] != step) {
        mine->readers = nb_xgrow(mine->readers, &mine->readers_cap, mine->nreaders + 1,
                                 sizeof *mine->readers);
        mine->readers[mine->nreaders++] = step;
    }
}

void nb_fileio_order(const nb_analysis *an, const nb_segmentation *seg,
                     void (*add_edge)(void *arg, size_t before, size_t after), void *arg,
                     nb_diags *diags)
{
    order_walk o = { an, seg, add_edge, arg, diags, NULL, 0, 0, nb_xcalloc(an->ncells + 1, 1) };
    for (size_t j = 0; j < an->ncells; j++) {
        long step = seg->step_of[j];
        if (step < 0 || seg->roles[j] != NB_ROLE_STEP)
            continue;
        for (size_t k = 0; k < an->cells[j].nfiles; k++)
            access(&o, j, step, &an->cells[j].files[k]);
    }
    for (size_t i = 0; i < o.npaths; i++)
        free(o.paths[i].readers);
    free(o.paths);
    free(o.warned);
}
