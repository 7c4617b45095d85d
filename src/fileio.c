#include "fileio.h"

#include "nb2pipe/pyknown.h"

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
