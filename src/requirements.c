#include "nb2pipe/requirements.h"

#include "nb2pipe/buf.h"
#include "nb2pipe/pydist.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct requirement {
    char *key;        /* normalised distribution name (PEP 503), or the whole line */
    char *line; /* what goes into requirements.txt */
    bool pinned;      /* from an install magic */
} requirement;

typedef struct req_list {
    requirement *items;
    size_t len, cap;
} req_list;

/* PEP 503: lower case, runs of -, _ and . become one -. */
static char *normalise(const char *name, size_t len)
{
    nb_buf out = NB_BUF_INIT;
    bool dash = false;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        if (c == '-' || c == '_' || c == '.') {
            dash = true;
            continue;
        }
        if (dash && out.len)
            nb_buf_putc(&out, '-');
        dash = false;
        nb_buf_putc(&out, (char)tolower((unsigned char)c));
    }
    return nb_buf_detach(&out, NULL);
}

static void add(req_list *list, char *key, char *line, bool pinned)
{
    list->items = nb_xgrow(list->items, &list->cap, list->len + 1, sizeof *list->items);
    list->items[list->len++] = (requirement){ key, line, pinned };
}

/* A module that lives next to the notebook (utils.py, mypackage/) is not installed. */
static bool is_local_module(const char *dir, const char *module, size_t len)
{
    if (!dir)
        return false;
    nb_buf path = NB_BUF_INIT;
    struct stat st;
    nb_buf_printf(&path, "%s/%.*s.py", dir, (int)len, module);
    bool local = stat(path.data, &st) == 0;
    nb_buf_reset(&path);
    nb_buf_printf(&path, "%s/%.*s", dir, (int)len, module);
    local = local || (stat(path.data, &st) == 0 && S_ISDIR(st.st_mode));
    nb_buf_release(&path);
    return local;
}

static void add_import(req_list *list, const nb_import *imp, const char *dir)
{
    const char *module = imp->module;
    if (!module[0] || module[0] == '.')
        return; /* relative imports are the project's own */
    size_t len = strcspn(module, ".");
    if (nb_pydist_is_stdlib(module, len) || is_local_module(dir, module, len))
        return;
    const char *dist = nb_pydist_distribution(module, len);
    char *name = dist ? nb_xstrdup(dist) : nb_xstrndup(module, len);
    add(list, normalise(name, strlen(name)), name, false);
}

/* "pandas==2.0", "scikit-learn[alldeps]>=1", "git+https://..." */
static void add_package(req_list *list, const char *spec)
{
    size_t len = strcspn(spec, "<>=!~;[ @");
    bool url = strchr(spec, '/') || strchr(spec, ':');
    add(list, url ? nb_xstrdup(spec) : normalise(spec, len), nb_xstrdup(spec), true);
}

static int compare(const void *a, const void *b)
{
    const requirement *x = a, *y = b;
    int c = strcmp(x->key, y->key);
    if (c)
        return c;
    if (x->pinned != y->pinned)
        return x->pinned ? -1 : 1; /* an install magic's line first: it is kept */
    return strcmp(x->line, y->line);
}

void nb_requirements_collect(const nb_analysis *an, const nb_cell_role *roles,
                             const char *notebook_dir, nb_pool *pool,
                             const char *const **lines, size_t *count)
{
    req_list list = { 0 };
    for (size_t i = 0; i < an->ncells; i++) {
        if (roles && roles[i] == NB_ROLE_SKIP)
            continue;
        const nb_code_cell *cc = &an->cells[i];
        for (size_t m = 0; m < cc->facts.nimports; m++)
            add_import(&list, &cc->facts.imports[m], notebook_dir);
        for (size_t p = 0; p < cc->npackages; p++)
            add_package(&list, cc->packages[p]);
    }
    if (list.len > 1)
        qsort(list.items, list.len, sizeof *list.items, compare);
    const char **out = nb_pool_alloc(pool, (list.len + 1) * sizeof *out);
    size_t n = 0;
    for (size_t i = 0; i < list.len; i++) {
        bool repeat = i > 0 && strcmp(list.items[i].key, list.items[i - 1].key) == 0 &&
                      (!list.items[i].pinned || strcmp(list.items[i].line, out[n - 1]) == 0);
        if (!repeat)
            out[n++] = nb_pool_strdup(pool, list.items[i].line);
    }
    for (size_t i = 0; i < list.len; i++) {
        free(list.items[i].key);
        free(list.items[i].line);
    }
    free(list.items);
    *lines = out;
    *count = n;
}
