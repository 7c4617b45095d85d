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

/* Whether the accesses of cells A and B conflict, and the access that makes it so when
 * a path is unknown (*UNKNOWN, else NULL). */
static bool cells_conflict(const nb_code_cell *a, const nb_code_cell *b,
                           const nb_file_access **unknown)
{
    *unknown = NULL;
    for (size_t i = 0; i < a->nfiles; i++)
        for (size_t j = 0; j < b->nfiles; j++) {
            const nb_file_access *x = &a->files[i], *y = &b->files[j];
            if (!(x->write || y->write) || !nb_fileio_overlap(x, y))
                continue;
            if (x->path && y->path)
                return true;
            *unknown = x->path ? y : x;
        }
    return *unknown != NULL;
}

static void warn_unknown(const nb_analysis *an, const nb_code_cell *cc, const nb_file_access *a,
                         const char *before, const char *after, nb_diags *diags)
{
    nb_loc loc = { an->nb->path, cc->cell->number, a->line, a->col };
    nb_diag *d = nb_diag_add(diags, NB_WARNING, "file-order", loc,
                             "the path %s %s is not a literal, so nb2pipe cannot tell which file "
                             "it is: step '%s' runs after step '%s' in case they touch the same one",
                             a->write ? "written by" : "read by", a->what, after, before);
    nb_diag_set_source(d, cc->cell->source, cc->cell->source_len);
}

void nb_fileio_order(const nb_analysis *an, const nb_segmentation *seg,
                     void (*add_edge)(void *arg, size_t before, size_t after), void *arg,
                     nb_diags *diags)
{
    uint8_t *warned = nb_xcalloc(an->ncells + 1, 1);
    for (size_t j = 0; j < an->ncells; j++) {
        long sj = seg->step_of[j];
        if (sj < 0 || seg->roles[j] != NB_ROLE_STEP || !an->cells[j].nfiles)
            continue;
        for (size_t i = 0; i < j; i++) {
            long si = seg->step_of[i];
            if (si < 0 || si == sj || seg->roles[i] != NB_ROLE_STEP || !an->cells[i].nfiles)
                continue;
            /* steps in the notebook's order only: interleaved cells would make a cycle */
            if (seg->steps[si].cells[0] >= seg->steps[sj].cells[0])
                continue;
            const nb_file_access *unknown;
            if (!cells_conflict(&an->cells[i], &an->cells[j], &unknown))
                continue;
            add_edge(arg, (size_t)si, (size_t)sj);
            if (unknown) {
                size_t at = unknown >= an->cells[j].files &&
                                    unknown < an->cells[j].files + an->cells[j].nfiles
                                ? j : i;
                if (!warned[at]) {
                    warned[at] = 1;
                    warn_unknown(an, &an->cells[at], unknown, seg->steps[si].name,
                                 seg->steps[sj].name, diags);
                }
            }
        }
    }
    free(warned);
}
