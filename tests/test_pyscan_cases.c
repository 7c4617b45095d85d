/* Runs the analyzer cases in tests/pyscan/ (*.txt): each case is a Python snippet and the
 * facts pyscan must find in it, written as
 *
 *   defs: x, pd [import], f [function], C [class]
 *   uses: names read before the snippet binds them, in order of first read
 *   deferred: names read only inside function or lambda bodies, unbound in the snippet
 *   mutations: names whose objects the snippet changes in place
 *   deletes: names the snippet leaves unbound
 *   imports: import a.b as c; from m import x        (checked only when present)
 *   functions: def f reads a, b; class C reads Base   (checked only when present)
 *   literals: N int 5; P string a\x09b               (NAME = literal; only when present)
 *   displays: yes|no                                  (only when present)
 *   shares: m <- models; r <- x via f, f()            (what each def may share; when present)
 *   effects: def f changes cache, #0.append(); rebinds n; links {log #0}; returns #0
 *            class C: bump changes #0                 (definitions' effects; when present)
 *   calls: np.random.seed, df.to_csv("out.csv")       (module-level calls; when present)
 *   error: CODE LINE:COL                              (the snippet must fail so)
 *
 * Lines left out of defs/uses/deferred/mutations/deletes mean "none". With
 * NB2PIPE_UPDATE_GOLDEN=1 the expectations are rewritten from what pyscan finds. */
#include "casefile.h"

#include "nb2pipe/pyscan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void render_import(nb_buf *out, const nb_names *names, const nb_import *imp)
{
    const char *bound = nb_names_str(names, imp->bound);
    if (imp->name) {
        nb_buf_printf(out, "from %s import %s", imp->module, imp->name);
        if (imp->bound && strcmp(bound, imp->name) != 0)
            nb_buf_printf(out, " as %s", bound);
    } else {
        nb_buf_printf(out, "import %s", imp->module);
        size_t n = strlen(bound);
        if (!(strncmp(imp->module, bound, n) == 0 && (imp->module[n] == '\0' || imp->module[n] == '.')))
            nb_buf_printf(out, " as %s", bound);
    }
}

static void put_item(nb_buf *line, const char *item)
{
    if (line->len)
        nb_buf_puts(line, ", ");
    nb_buf_puts(line, item);
}

/* Writes "KEY: items" when LINE holds any, and empties LINE. */
static void put_line(nb_buf *out, const char *key, nb_buf *line)
{
    if (line->len)
        nb_buf_printf(out, "%s: %s\n", key, line->data);
    nb_buf_reset(line);
}

/* Each name once; a change only through a call's result as `name (through f())`. */
static void put_refs(nb_buf *out, const char *key, const nb_names *names, const nb_ref *refs,
                     size_t n, nb_buf *line)
{
    nb_buf item = NB_BUF_INIT;
    for (size_t i = 0; i < n; i++) {
        bool repeat = false;
        for (size_t j = 0; j < i && !repeat; j++)
            repeat = refs[j].name == refs[i].name && refs[j].through == refs[i].through;
        if (repeat)
            continue;
        nb_buf_reset(&item);
        nb_buf_puts(&item, nb_names_str(names, refs[i].name));
        if (refs[i].through)
            nb_buf_printf(&item, " (through %s())", nb_names_str(names, refs[i].through));
        put_item(line, item.data);
    }
    nb_buf_release(&item);
    put_line(out, key, line);
}

static void put_root(nb_buf *out, const nb_names *names, nb_root root)
{
    if (root == NB_ROOT_NONE)
        nb_buf_puts(out, "?");
    else if (nb_root_is_param(root))
        nb_buf_printf(out, "#%zu", nb_root_param_index(root));
    else
        nb_buf_puts(out, nb_names_str(names, (nb_name)root));
}

/* SELF: the def whose shares these are; its share of its own new object is left out. */
static void put_shares(nb_buf *out, const nb_names *names, nb_shares shares, const char *sep,
                       nb_name self)
{
    size_t shown = 0;
    for (size_t i = 0; i < shares.n; i++) {
        const nb_share *sh = &shares.items[i];
        if (sh->here && (nb_name)sh->root == self)
            continue;
        if (shown++)
            nb_buf_puts(out, sep);
        if (sh->here) {
            nb_buf_printf(out, "%s (here)", nb_names_str(names, (nb_name)sh->root));
            continue;
        }
        if (sh->root == NB_ROOT_NONE) {
            nb_buf_printf(out, "%s()", nb_names_str(names, sh->via));
            continue;
        }
        put_root(out, names, sh->root);
        if (sh->via)
            nb_buf_printf(out, " via %s", nb_names_str(names, sh->via));
    }
}

static void put_effects(nb_buf *out, const nb_names *names, const nb_effects *e)
{
    for (size_t i = 0; i < e->nchanges; i++) {
        nb_buf_puts(out, i ? ", " : " changes ");
        put_root(out, names, e->changes[i].root);
        if (e->changes[i].via)
            nb_buf_printf(out, ".%s()", nb_names_str(names, e->changes[i].via));
        if (e->changes[i].through)
            nb_buf_printf(out, " (through %s())", nb_names_str(names, e->changes[i].through));
    }
    for (size_t i = 0; i < e->nrebinds; i++)
        nb_buf_printf(out, "%s%s", i ? ", " : "; rebinds ", nb_names_str(names, e->rebinds[i]));
    for (size_t i = 0; i < e->nlinks; i++) {
        nb_buf_puts(out, i ? " {" : "; links {");
        put_shares(out, names, e->links[i], " ", NB_NO_NAME);
        nb_buf_puts(out, "}");
    }
    if (e->returns.n) {
        nb_buf_puts(out, "; returns ");
        put_shares(out, names, e->returns, ", ", NB_NO_NAME);
    }
}

static void put_call(nb_buf *out, const nb_names *names, const nb_call *c)
{
    if (c->path)
        nb_buf_puts(out, c->path);
    else if (c->method)
        nb_buf_printf(out, "?.%s", nb_names_str(names, c->method));
    else
        nb_buf_puts(out, "?");
    for (size_t i = 0; i < c->nargs; i++)
        if (c->args[i].literal) {
            nb_buf_printf(out, "(\"%s\")", c->args[i].literal);
            break;
        }
    if (c->receiver_literal)
        nb_buf_printf(out, " on \"%s\"", c->receiver_literal);
}

/* key: value lines for everything pyscan found. */
static const char *const literal_types[] = { "none", "bool", "int", "float", "string" };

enum { OPT_IMPORTS, OPT_FUNCTIONS, OPT_LITERALS, OPT_DISPLAYS, OPT_SHARES, OPT_EFFECTS,
       OPT_CALLS, NOPTIONAL };

static void render_facts(nb_buf *out, const nb_names *names, const nb_facts *f,
                         const bool *optional)
{
    bool with_imports = optional[OPT_IMPORTS], with_functions = optional[OPT_FUNCTIONS];
    bool with_literals = optional[OPT_LITERALS], with_displays = optional[OPT_DISPLAYS];
    nb_buf line = NB_BUF_INIT, item = NB_BUF_INIT;
    for (size_t i = 0; i < f->ndefs; i++) {
        nb_buf_reset(&item);
        nb_buf_puts(&item, nb_names_str(names, f->defs[i].name));
        if (f->defs[i].kind != NB_BIND_DATA)
            nb_buf_printf(&item, " [%s]", nb_binding_kind_name(f->defs[i].kind));
        put_item(&line, item.data);
    }
    put_line(out, "defs", &line);
    for (size_t i = 0; i < f->nuses; i++)
        if (!f->uses[i].deferred)
            put_item(&line, nb_names_str(names, f->uses[i].name));
    put_line(out, "uses", &line);
    for (size_t i = 0; i < f->nuses; i++)
        if (f->uses[i].deferred)
            put_item(&line, nb_names_str(names, f->uses[i].name));
    put_line(out, "deferred", &line);
    put_refs(out, "mutations", names, f->mutations, f->nmutations, &line);
    put_refs(out, "deletes", names, f->deletes, f->ndeletes, &line);
    nb_buf_release(&item);
    if (with_imports) {
        nb_buf_reset(&line);
        for (size_t i = 0; i < f->nimports; i++) {
            if (i)
                nb_buf_puts(&line, "; ");
            render_import(&line, names, &f->imports[i]);
        }
        nb_buf_printf(out, "imports: %s\n", line.data);
    }
    if (with_functions) {
        nb_buf_reset(&line);
        for (size_t i = 0; i < f->ndefinitions; i++) {
            const nb_definition *d = &f->definitions[i];
            if (i)
                nb_buf_puts(&line, "; ");
            nb_buf_printf(&line, "%s %s", d->kind == NB_BIND_CLASS ? "class" : "def",
                          nb_names_str(names, d->name));
            for (size_t j = 0; j < d->nreads; j++)
                nb_buf_printf(&line, "%s%s", j ? ", " : " reads ", nb_names_str(names, d->reads[j]));
        }
        nb_buf_printf(out, "functions: %s\n", line.data);
    }
    if (with_literals) {
        nb_buf_reset(&line);
        for (size_t i = 0; i < f->nliterals; i++) {
            const nb_literal *l = &f->literals[i];
            nb_buf_printf(&line, "%s%s %s ", i ? "; " : "", nb_names_str(names, l->name),
                          literal_types[l->type]);
            nb_buf_add_printable(&line, l->value, strlen(l->value));
        }
        nb_buf_printf(out, "literals: %s\n", line.data);
    }
    if (with_displays)
        nb_buf_printf(out, "displays: %s\n", f->displays_only ? "yes" : "no");
    if (optional[OPT_SHARES]) {
        nb_buf_reset(&line);
        nb_buf shared = NB_BUF_INIT;
        for (size_t i = 0; i < f->ndefs; i++) {
            nb_buf_reset(&shared);
            put_shares(&shared, names, f->defs[i].shares, ", ", f->defs[i].name);
            if (shared.len)
                nb_buf_printf(&line, "%s%s <- %s", line.len ? "; " : "",
                              nb_names_str(names, f->defs[i].name), shared.data);
        }
        for (size_t i = 0; i < f->effects.nlinks; i++) {
            nb_buf_puts(&line, line.len ? "; {" : "{");
            put_shares(&line, names, f->effects.links[i], " ", NB_NO_NAME);
            nb_buf_puts(&line, "}");
        }
        nb_buf_release(&shared);
        nb_buf_printf(out, "shares: %s\n", line.data);
    }
    if (optional[OPT_EFFECTS]) {
        nb_buf_reset(&line);
        for (size_t i = 0; i < f->ndefinitions; i++) {
            const nb_definition *d = &f->definitions[i];
            nb_buf_printf(&line, "%s%s %s", i ? "; " : "", d->kind == NB_BIND_CLASS ? "class" : "def",
                          nb_names_str(names, d->name));
            if (d->kind != NB_BIND_CLASS)
                put_effects(&line, names, &d->effects);
            for (size_t m = 0; m < d->nmethods; m++) {
                nb_buf_printf(&line, "%s%s", m ? ", " : ": ", nb_names_str(names, d->methods[m].name));
                put_effects(&line, names, &d->methods[m].effects);
            }
        }
        nb_buf_printf(out, "effects: %s\n", line.data);
    }
    if (optional[OPT_CALLS]) {
        nb_buf_reset(&line);
        for (size_t i = 0; i < f->effects.ncalls; i++) {
            if (i)
                nb_buf_puts(&line, ", ");
            put_call(&line, names, &f->effects.calls[i]);
        }
        for (size_t i = 0; i < f->effects.nstores; i++)
            nb_buf_printf(&line, "%s%s[] =", line.len ? ", " : "", f->effects.stores[i].path);
        nb_buf_printf(out, "calls: %s\n", line.data);
    }
    nb_buf_release(&line);
}

/* The expectation lines of a case, normalised: "key: value" with single spaces, in the
 * canonical key order, empty keys dropped. */
static void normalise(const nb_buf *expected, nb_buf *out, bool optional[NOPTIONAL], nb_buf *error)
{
    const char *keys[] = { "defs",    "uses",      "deferred", "mutations", "deletes",
                           "imports", "functions", "literals", "displays",  "shares",
                           "effects", "calls" };
    for (size_t k = 0; k < NOPTIONAL; k++)
        optional[k] = false;
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
        size_t klen = strlen(keys[k]);
        const char *p = expected->data, *end = expected->data + expected->len;
        while (p < end) {
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
            if (len > klen && memcmp(p, keys[k], klen) == 0 && p[klen] == ':') {
                const char *v = p + klen + 1;
                size_t vlen = len - klen - 1;
                while (vlen && *v == ' ')
                    v++, vlen--;
                while (vlen && v[vlen - 1] == ' ')
                    vlen--;
                bool is_optional = k >= 5;
                if (is_optional)
                    optional[k - 5] = true;
                if (vlen || is_optional) {
                    nb_buf_printf(out, "%s: ", keys[k]);
                    nb_buf_add(out, v, vlen);
                    nb_buf_putc(out, '\n');
                }
            } else if (k == 0 && len > 6 && memcmp(p, "error:", 6) == 0) {
                const char *v = p + 6;
                while (*v == ' ')
                    v++;
                nb_buf_add(error, v, (size_t)(p + len - v));
            }
            p = nl ? nl + 1 : end;
        }
    }
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
    size_t nfiles;
    char **files = tc_list_files(argv[1], ".txt", &nfiles);
    if (nfiles == 0) {
        fprintf(stderr, "no case files in %s\n", argv[1]);
        return 1;
    }
    bool update = tc_update_golden();
    nb_names *names = nb_names_new();
    nb_pyscan *scan = nb_pyscan_new(names);
    size_t passed = 0, failed = 0;
    for (size_t fi = 0; fi < nfiles; fi++) {
        tc_file file;
        if (!tc_file_read(&file, files[fi])) {
            failed++;
            continue;
        }
        bool rewrite = false;
        for (size_t ci = 0; ci < file.ncases; ci++) {
            tc_case *c = &file.cases[ci];
            const nb_buf *expected_raw = tc_section_text(c, "");
            nb_buf expected = NB_BUF_INIT, actual = NB_BUF_INIT, error = NB_BUF_INIT;
            bool optional[NOPTIONAL] = { false };
            if (expected_raw)
                normalise(expected_raw, &expected, optional, &error);
            nb_pool pool = NB_POOL_INIT;
            nb_diags diags = NB_DIAGS_INIT;
            nb_facts facts;
            nb_loc loc = { "case", 1, 0, 0 };
            int rc = nb_pyscan_cell(scan, c->input.data, c->input.len, &pool, &facts, &diags, loc);
            if (rc != 0) {
                const nb_diag *d = &diags.items[0];
                nb_buf_printf(&actual, "error: %s %d:%d\n", d->code, d->loc.line, d->loc.col);
            } else {
                render_facts(&actual, names, &facts, optional);
            }
            if (error.len) {
                nb_buf e = NB_BUF_INIT;
                nb_buf_printf(&e, "error: %s\n", error.data);
                nb_buf_reset(&expected);
                nb_buf_add(&expected, e.data, e.len);
                nb_buf_release(&e);
            }
            bool ok = nb_buf_equals(&expected, actual.data, actual.len);
            if (ok) {
                passed++;
            } else if (update) {
                tc_section_set(c, "", actual.data, actual.len);
                rewrite = true;
                passed++;
            } else {
                failed++;
                printf("FAIL %s:%d: %s\n--- expected\n%s--- actual\n%s", file.path, c->line,
                       c->title, expected.data, actual.data);
                if (rc != 0)
                    printf("--- diagnostic\n%s\n", diags.items[0].message);
                printf("\n");
            }
            nb_diags_release(&diags);
            nb_pool_release(&pool);
            nb_buf_release(&expected);
            nb_buf_release(&actual);
            nb_buf_release(&error);
        }
        if (rewrite && !tc_file_write(&file))
            fprintf(stderr, "cannot rewrite %s\n", file.path);
        tc_file_release(&file);
        free(files[fi]);
    }
    free(files);
    nb_pyscan_free(scan);
    nb_names_free(names);
    printf("pyscan cases: %zu passed, %zu failed\n", passed, failed);
    return failed ? 1 : 0;
}
