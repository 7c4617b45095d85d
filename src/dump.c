#include "nb2pipe/dump.h"

#include "nb2pipe/alloc.h"
#include "nb2pipe/writer.h"

#include <stdlib.h>
#include <string.h>

static const char *name_str(const nb_analysis *an, nb_name name)
{
    return nb_names_str(an->names, name);
}

/* ---- text ------------------------------------------------------------------------ */

static void text_label(nb_buf *out, const char *label)
{
    nb_buf_printf(out, "  %-10s ", label);
}

static void text_import(nb_buf *out, const nb_analysis *an, const nb_import *imp)
{
    if (imp->name) {
        nb_buf_printf(out, "from %s import %s", imp->module, imp->name);
        if (imp->bound && strcmp(name_str(an, imp->bound), imp->name) != 0)
            nb_buf_printf(out, " as %s", name_str(an, imp->bound));
    } else {
        nb_buf_printf(out, "import %s", imp->module);
        const char *bound = name_str(an, imp->bound);
        size_t n = strlen(bound);
        bool plain = strncmp(imp->module, bound, n) == 0 &&
                     (imp->module[n] == '\0' || imp->module[n] == '.');
        if (!plain)
            nb_buf_printf(out, " as %s", bound);
    }
}

static void text_provider(nb_buf *out, const nb_provider *p)
{
    switch (p->status) {
    case NB_PROVIDED: nb_buf_printf(out, " <- cell %d", p->cell); break;
    case NB_DEFINED_LATER: nb_buf_printf(out, " <- later: cell %d", p->cell); break;
    case NB_UNDEFINED: nb_buf_puts(out, " <- undefined"); break;
    case NB_FROM_STAR_IMPORT: nb_buf_printf(out, " <- import * in cell %d", p->cell); break;
    case NB_ALLOWED: nb_buf_puts(out, " <- runtime (--allow-undefined)"); break;
    case NB_DELETED: nb_buf_printf(out, " <- deleted in cell %d", p->cell); break;
    case NB_BUILTIN: nb_buf_puts(out, " <- builtin"); break;
    }
}

static void text_touch(nb_buf *out, const nb_analysis *an, const nb_touch *t, size_t i)
{
    nb_buf_printf(out, "%s%s", i ? ", " : "", name_str(an, t->name));
    if (t->reason == NB_CHANGE_CALL && t->other)
        nb_buf_printf(out, " (in %s())", name_str(an, t->other));
    else if (t->reason == NB_CHANGE_ALIAS && t->other)
        nb_buf_printf(out, " (shares an object with %s)", name_str(an, t->other));
    else if (t->reason == NB_CHANGE_ALIAS)
        nb_buf_puts(out, " (alias)");
}

static void text_share_list(nb_buf *out, const nb_analysis *an, nb_shares shares)
{
    for (size_t j = 0; j < shares.n; j++) {
        const nb_share *sh = &shares.items[j];
        if (j)
            nb_buf_puts(out, ", ");
        if (sh->root == NB_ROOT_NONE)
            nb_buf_printf(out, "%s()", name_str(an, sh->via));
        else if (nb_root_is_param(sh->root))
            nb_buf_printf(out, "argument %zu", nb_root_param_index(sh->root) + 1);
        else if (sh->via)
            nb_buf_printf(out, "%s (through %s())", name_str(an, (nb_name)sh->root), name_str(an, sh->via));
        else
            nb_buf_puts(out, name_str(an, (nb_name)sh->root));
    }
}

/* Calls FN with each alias group of CC that holds two names or more: the names the
 * cell binds or changes that share objects at its end. */
static void each_alias_group(const nb_code_cell *cc, void (*fn)(void *, const nb_name *, size_t),
                             void *arg)
{
    nb_name *names = nb_xcalloc(cc->ngroups + 1, sizeof *names);
    bool *done = nb_xcalloc(cc->ngroups + 1, sizeof *done);
    for (size_t i = 0; i < cc->ngroups; i++) {
        if (done[i] || !cc->groups[i].group)
            continue;
        size_t n = 0;
        for (size_t j = i; j < cc->ngroups; j++)
            if (!done[j] && cc->groups[j].group == cc->groups[i].group) {
                done[j] = true;
                bool repeat = false;
                for (size_t k = 0; k < n && !repeat; k++)
                    repeat = names[k] == cc->groups[j].name;
                if (!repeat)
                    names[n++] = cc->groups[j].name;
            }
        if (n > 1)
            fn(arg, names, n);
    }
    free(names);
    free(done);
}

typedef struct text_groups {
    nb_buf *out;
    const nb_analysis *an;
    bool any;
} text_groups;

static void text_group(void *arg, const nb_name *names, size_t n)
{
    text_groups *t = arg;
    text_label(t->out, t->any ? "" : "aliases");
    t->any = true;
    for (size_t i = 0; i < n; i++)
        nb_buf_printf(t->out, "%s%s", i ? ", " : "", name_str(t->an, names[i]));
    nb_buf_puts(t->out, " share objects\n");
}

/* aliases: the names that share objects after the cell */
static void text_shares(nb_buf *out, const nb_analysis *an, const nb_code_cell *cc)
{
    text_groups t = { out, an, false };
    each_alias_group(cc, text_group, &t);
}

static void text_state(nb_buf *out, const nb_code_cell *cc)
{
    for (size_t i = 0; i < cc->nstate; i++) {
        text_label(out, i ? "" : "state");
        nb_buf_printf(out, "%d:%d %s (replayed in later steps)\n", cc->state[i].line,
                      cc->state[i].col, cc->state[i].what);
    }
    for (size_t i = 0; i < cc->nsubmodules; i++) {
        text_label(out, i ? "" : "submodule");
        nb_buf_printf(out, "%s (no cell imports it: its steps do)\n", cc->submodules[i]);
    }
    if (cc->seeds_random || cc->draws_random) {
        text_label(out, "random");
        nb_buf_printf(out, "%s%s%s\n", cc->seeds_random ? "seeds a global generator" : "",
                      cc->seeds_random && cc->draws_random ? ", " : "",
                      cc->draws_random ? "draws from the seeded global generator" : "");
    }
    for (size_t i = 0; i < cc->nfiles; i++) {
        const nb_file_access *a = &cc->files[i];
        text_label(out, i ? "" : "files");
        nb_buf_printf(out, "%d:%d %s ", a->line, a->col, a->write ? "writes" : "reads");
        if (a->path)
            nb_buf_add_printable(out, a->path, strlen(a->path));
        else
            nb_buf_puts(out, "a path known only when it runs");
        nb_buf_puts(out, " (");
        nb_buf_add_printable(out, a->what, strlen(a->what));
        nb_buf_puts(out, ")\n");
    }
}

/* A function's effects on globals and its arguments. */
static void text_effects(nb_buf *out, const nb_analysis *an, const nb_effects *e)
{
    for (size_t i = 0; i < e->nchanges; i++) {
        nb_buf_puts(out, i ? ", " : "; changes ");
        nb_root r = e->changes[i].root;
        if (nb_root_is_param(r))
            nb_buf_printf(out, "argument %zu", nb_root_param_index(r) + 1);
        else
            nb_buf_puts(out, name_str(an, (nb_name)r));
    }
    for (size_t i = 0; i < e->nrebinds; i++)
        nb_buf_printf(out, "%s%s", i ? ", " : "; rebinds ", name_str(an, e->rebinds[i]));
    if (e->returns.n) {
        nb_buf_puts(out, "; returns what may share ");
        text_share_list(out, an, e->returns);
    }
}

/* What the cell changes: objects in place, globals through the functions it calls,
 * which names share objects at its end, the interpreter state it sets. */
static void text_changes(nb_buf *out, const nb_analysis *an, const nb_code_cell *cc)
{
    if (cc->ntouches) {
        text_label(out, "mutates");
        for (size_t i = 0; i < cc->ntouches; i++)
            text_touch(out, an, &cc->touches[i], i);
        nb_buf_putc(out, '\n');
    }
    if (cc->nrebinds) {
        text_label(out, "rebinds");
        for (size_t i = 0; i < cc->nrebinds; i++)
            nb_buf_printf(out, "%s%s (in %s())", i ? ", " : "", name_str(an, cc->rebinds[i].name),
                          name_str(an, cc->rebinds[i].via));
        nb_buf_putc(out, '\n');
    }
    text_shares(out, an, cc);
    text_state(out, cc);
}

/* The functions and classes the cell defines, with what they read and change. */
static void text_definitions(nb_buf *out, const nb_analysis *an, const nb_facts *f)
{
    for (size_t i = 0; i < f->ndefinitions; i++) {
        const nb_definition *d = &f->definitions[i];
        text_label(out, d->kind == NB_BIND_CLASS ? "class" : "function");
        nb_buf_puts(out, name_str(an, d->name));
        if (d->nreads) {
            nb_buf_puts(out, " reads ");
            for (size_t j = 0; j < d->nreads; j++)
                nb_buf_printf(out, "%s%s", j ? ", " : "", name_str(an, d->reads[j]));
        }
        text_effects(out, an, &d->effects);
        nb_buf_putc(out, '\n');
        for (size_t m = 0; m < d->nmethods; m++) {
            if (!d->methods[m].effects.nchanges && !d->methods[m].effects.nrebinds)
                continue;
            text_label(out, "");
            nb_buf_printf(out, "method %s", name_str(an, d->methods[m].name));
            text_effects(out, an, &d->methods[m].effects);
            nb_buf_putc(out, '\n');
        }
    }
}

static void text_cell(nb_buf *out, const nb_analysis *an, const nb_code_cell *cc)
{
    const nb_facts *f = &cc->facts;
    nb_buf_printf(out, "cell %d%s\n", cc->cell->number, f->parsed ? "" : " (not analysed: syntax error)");
    if (f->ndefs) {
        text_label(out, "defines");
        for (size_t i = 0; i < f->ndefs; i++) {
            nb_buf_printf(out, "%s%s", i ? ", " : "", name_str(an, f->defs[i].name));
            if (f->defs[i].kind != NB_BIND_DATA)
                nb_buf_printf(out, " [%s]", nb_binding_kind_name(f->defs[i].kind));
        }
        nb_buf_putc(out, '\n');
    }
    if (f->nuses) {
        text_label(out, "uses");
        for (size_t i = 0; i < f->nuses; i++) {
            nb_buf_printf(out, "%s%s", i ? ", " : "", name_str(an, f->uses[i].name));
            if (f->uses[i].deferred)
                nb_buf_puts(out, " (in a function body)");
            text_provider(out, &cc->providers[i]);
        }
        nb_buf_putc(out, '\n');
    }
    if (cc->nimplied) {
        text_label(out, "via calls");
        for (size_t i = 0; i < cc->nimplied; i++) {
            const nb_implied *im = &cc->implied[i];
            nb_buf_printf(out, "%s%s", i ? ", " : "", name_str(an, im->name));
            if (im->via != NB_NO_NAME)
                nb_buf_printf(out, " (read by %s)", name_str(an, im->via));
            else if (im->name == an->random_state)
                nb_buf_puts(out, " (the global generators' state it draws from or reseeds)");
            else
                nb_buf_puts(out, " (its object changed here)");
            text_provider(out, &im->provider);
        }
        nb_buf_putc(out, '\n');
    }
    text_changes(out, an, cc);
    if (f->ndeletes) {
        text_label(out, "deletes");
        for (size_t i = 0; i < f->ndeletes; i++)
            nb_buf_printf(out, "%s%s", i ? ", " : "", name_str(an, f->deletes[i].name));
        nb_buf_putc(out, '\n');
    }
    if (f->nimports) {
        text_label(out, "imports");
        for (size_t i = 0; i < f->nimports; i++) {
            if (i)
                nb_buf_puts(out, "; ");
            text_import(out, an, &f->imports[i]);
        }
        nb_buf_putc(out, '\n');
    }
    text_definitions(out, an, f);
    for (size_t i = 0; i < cc->nmagics; i++) {
        const nb_magic *m = &cc->magics[i];
        text_label(out, i ? "" : "magics");
        nb_buf_printf(out, "%d:%d ", m->line, m->col);
        nb_buf_add_printable(out, m->name, strlen(m->name));
        nb_buf_printf(out, " %s\n", nb_magic_action_name(m->action));
    }
    if (cc->npackages) {
        text_label(out, "packages");
        for (size_t i = 0; i < cc->npackages; i++) {
            if (i)
                nb_buf_puts(out, ", ");
            nb_buf_add_printable(out, cc->packages[i], strlen(cc->packages[i]));
        }
        nb_buf_putc(out, '\n');
    }
}

void nb_dump_analysis_text(const nb_analysis *an, nb_buf *out)
{
    const nb_notebook *nb = an->nb;
    nb_buf_puts(out, "notebook ");
    nb_buf_add_printable(out, nb->path, strlen(nb->path));
    nb_buf_printf(out, ": nbformat %d.%d, %s, %zu cell%s (%zu code, %zu markdown, %zu raw)\n",
                  nb->nbformat, nb->nbformat_minor, nb->language, nb->ncells, nb->ncells == 1 ? "" : "s",
                  nb_notebook_count(nb, NB_CELL_CODE), nb_notebook_count(nb, NB_CELL_MARKDOWN),
                  nb_notebook_count(nb, NB_CELL_RAW));
    for (size_t i = 0; i < an->ncells; i++) {
        nb_buf_putc(out, '\n');
        text_cell(out, an, &an->cells[i]);
    }
}

/* ---- JSON ------------------------------------------------------------------------ */

static json_t *json_name(const nb_analysis *an, nb_name name)
{
    return json_string(name_str(an, name));
}

static json_t *json_position(json_t *o, int line, int col)
{
    json_object_set_new(o, "line", json_integer(line));
    json_object_set_new(o, "column", json_integer(col));
    return o;
}

static json_t *json_refs(const nb_analysis *an, const nb_ref *refs, size_t n)
{
    json_t *list = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_object();
        json_object_set_new(o, "name", json_name(an, refs[i].name));
        json_array_append_new(list, json_position(o, refs[i].line, refs[i].col));
    }
    return list;
}

static json_t *json_root(const nb_analysis *an, nb_root r)
{
    if (r == NB_ROOT_NONE)
        return json_null();
    if (nb_root_is_param(r))
        return json_integer((json_int_t)nb_root_param_index(r));
    return json_name(an, (nb_name)r);
}

/* [{"name" or "argument": ..., "through": f}] */
static json_t *json_shares(const nb_analysis *an, nb_shares shares)
{
    json_t *list = json_array();
    for (size_t i = 0; i < shares.n; i++) {
        json_t *o = json_object();
        nb_root r = shares.items[i].root;
        json_object_set_new(o, nb_root_is_param(r) ? "argument" : "name", json_root(an, r));
        json_object_set_new(o, "through", shares.items[i].via ? json_name(an, shares.items[i].via)
                                                               : json_null());
        json_array_append_new(list, o);
    }
    return list;
}

static json_t *json_effects(const nb_analysis *an, const nb_effects *e)
{
    json_t *o = json_object();
    json_t *changes = json_array();
    for (size_t i = 0; i < e->nchanges; i++) {
        json_t *c = json_object();
        nb_root r = e->changes[i].root;
        json_object_set_new(c, nb_root_is_param(r) ? "argument" : "name", json_root(an, r));
        json_object_set_new(c, "method", e->changes[i].via ? json_name(an, e->changes[i].via)
                                                            : json_null());
        json_array_append_new(changes, json_position(c, e->changes[i].line, e->changes[i].col));
    }
    json_object_set_new(o, "changes", changes);
    json_t *rebinds = json_array();
    for (size_t i = 0; i < e->nrebinds; i++)
        json_array_append_new(rebinds, json_name(an, e->rebinds[i]));
    json_object_set_new(o, "rebinds", rebinds);
    json_t *links = json_array();
    for (size_t i = 0; i < e->nlinks; i++)
        json_array_append_new(links, json_shares(an, e->links[i]));
    json_object_set_new(o, "stores_together", links);
    json_object_set_new(o, "returns", json_shares(an, e->returns));
    return o;
}

typedef struct json_groups {
    json_t *list;
    const nb_analysis *an;
} json_groups;

static void json_group(void *arg, const nb_name *names, size_t n)
{
    json_groups *g = arg;
    json_t *group = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(group, json_name(g->an, names[i]));
    json_array_append_new(g->list, group);
}

static json_t *json_cell(const nb_analysis *an, const nb_code_cell *cc, bool with_python)
{
    const nb_facts *f = &cc->facts;
    json_t *cell = json_object();
    json_object_set_new(cell, "cell", json_integer(cc->cell->number));
    if (cc->cell->id)
        json_object_set_new(cell, "id", json_string(cc->cell->id));
    json_object_set_new(cell, "parsed", json_boolean(f->parsed));
    if (with_python)
        json_object_set_new(cell, "python", json_stringn(cc->python, cc->python_len));

    json_t *defs = json_array();
    for (size_t i = 0; i < f->ndefs; i++) {
        json_t *o = json_object();
        json_object_set_new(o, "name", json_name(an, f->defs[i].name));
        json_object_set_new(o, "kind", json_string(nb_binding_kind_name(f->defs[i].kind)));
        json_array_append_new(defs, json_position(o, f->defs[i].line, f->defs[i].col));
    }
    json_object_set_new(cell, "defs", defs);

    json_t *uses = json_array();
    for (size_t i = 0; i < f->nuses; i++) {
        const nb_provider *p = &cc->providers[i];
        json_t *o = json_object();
        json_object_set_new(o, "name", json_name(an, f->uses[i].name));
        json_position(o, f->uses[i].line, f->uses[i].col);
        json_object_set_new(o, "deferred", json_boolean(f->uses[i].deferred));
        json_object_set_new(o, "status", json_string(nb_provider_status_name(p->status)));
        json_object_set_new(o, "from_cell", p->cell ? json_integer(p->cell) : json_null());
        json_array_append_new(uses, o);
    }
    json_object_set_new(cell, "uses", uses);
    json_t *implied = json_array();
    for (size_t i = 0; i < cc->nimplied; i++) {
        json_t *o = json_object();
        json_object_set_new(o, "name", json_name(an, cc->implied[i].name));
        json_object_set_new(o, "via", cc->implied[i].via != NB_NO_NAME ? json_name(an, cc->implied[i].via) : json_null());
        json_object_set_new(o, "from_cell", json_integer(cc->implied[i].provider.cell));
        json_array_append_new(implied, o);
    }
    json_object_set_new(cell, "implied", implied);
    json_t *mutations = json_array();
    for (size_t i = 0; i < cc->ntouches; i++) {
        static const char *const reasons[] = { "direct", "call", "alias" };
        const nb_touch *t = &cc->touches[i];
        json_t *o = json_object();
        json_object_set_new(o, "name", json_name(an, t->name));
        json_object_set_new(o, "reason", json_string(reasons[t->reason]));
        json_object_set_new(o, "via", t->other ? json_name(an, t->other) : json_null());
        json_array_append_new(mutations, json_position(o, t->line, t->col));
    }
    json_object_set_new(cell, "mutations", mutations);
    json_t *rebinds = json_array();
    for (size_t i = 0; i < cc->nrebinds; i++) {
        json_t *o = json_object();
        json_object_set_new(o, "name", json_name(an, cc->rebinds[i].name));
        json_object_set_new(o, "in", json_name(an, cc->rebinds[i].via));
        json_array_append_new(rebinds, json_position(o, cc->rebinds[i].line, cc->rebinds[i].col));
    }
    json_object_set_new(cell, "rebinds", rebinds);
    json_t *aliases = json_array();
    json_groups groups = { aliases, an };
    each_alias_group(cc, json_group, &groups);
    json_object_set_new(cell, "aliases", aliases);
    json_t *state = json_array();
    for (size_t i = 0; i < cc->nstate; i++) {
        json_t *o = json_object();
        json_object_set_new(o, "call", json_string(cc->state[i].what));
        json_array_append_new(state, json_position(o, cc->state[i].line, cc->state[i].col));
    }
    json_object_set_new(cell, "state", state);
    json_t *submodules = json_array();
    for (size_t i = 0; i < cc->nsubmodules; i++)
        json_array_append_new(submodules, json_string(cc->submodules[i]));
    json_object_set_new(cell, "submodules", submodules);
    json_t *random = json_object();
    json_object_set_new(random, "seeds", json_boolean(cc->seeds_random));
    json_object_set_new(random, "draws", json_boolean(cc->draws_random));
    json_object_set_new(cell, "random", random);
    json_t *files = json_array();
    for (size_t i = 0; i < cc->nfiles; i++) {
        json_t *o = json_object();
        json_object_set_new(o, "path", cc->files[i].path ? json_string(cc->files[i].path) : json_null());
        json_object_set_new(o, "mode", json_string(cc->files[i].write ? "write" : "read"));
        json_object_set_new(o, "call", json_string(cc->files[i].what));
        json_array_append_new(files, json_position(o, cc->files[i].line, cc->files[i].col));
    }
    json_object_set_new(cell, "files", files);
    json_object_set_new(cell, "deletes", json_refs(an, f->deletes, f->ndeletes));

    json_t *imports = json_array();
    for (size_t i = 0; i < f->nimports; i++) {
        const nb_import *imp = &f->imports[i];
        json_t *o = json_object();
        json_object_set_new(o, "module", json_string(imp->module));
        json_object_set_new(o, "name", imp->name ? json_string(imp->name) : json_null());
        json_object_set_new(o, "binds", imp->bound ? json_name(an, imp->bound) : json_null());
        json_object_set_new(o, "line", json_integer(imp->line));
        json_array_append_new(imports, o);
    }
    json_object_set_new(cell, "imports", imports);

    json_t *definitions = json_array();
    for (size_t i = 0; i < f->ndefinitions; i++) {
        const nb_definition *d = &f->definitions[i];
        json_t *o = json_object();
        json_object_set_new(o, "name", json_name(an, d->name));
        json_object_set_new(o, "kind", json_string(nb_binding_kind_name(d->kind)));
        json_object_set_new(o, "line", json_integer(d->line));
        json_t *reads = json_array();
        for (size_t j = 0; j < d->nreads; j++)
            json_array_append_new(reads, json_name(an, d->reads[j]));
        json_object_set_new(o, "reads", reads);
        json_object_set_new(o, "effects", json_effects(an, &d->effects));
        json_t *methods = json_object();
        for (size_t m = 0; m < d->nmethods; m++)
            json_object_set_new(methods, name_str(an, d->methods[m].name),
                                json_effects(an, &d->methods[m].effects));
        if (d->kind == NB_BIND_CLASS)
            json_object_set_new(o, "methods", methods);
        else
            json_decref(methods);
        json_array_append_new(definitions, o);
    }
    json_object_set_new(cell, "definitions", definitions);

    json_t *magics = json_array();
    for (size_t i = 0; i < cc->nmagics; i++) {
        const nb_magic *m = &cc->magics[i];
        json_t *o = json_object();
        json_object_set_new(o, "magic", json_string(m->name));
        json_position(o, m->line, m->col);
        json_object_set_new(o, "action", json_string(nb_magic_action_name(m->action)));
        json_array_append_new(magics, o);
    }
    json_object_set_new(cell, "magics", magics);

    json_t *packages = json_array();
    for (size_t i = 0; i < cc->npackages; i++)
        json_array_append_new(packages, json_string(cc->packages[i]));
    json_object_set_new(cell, "packages", packages);
    return cell;
}

json_t *nb_dump_analysis_json(const nb_analysis *an, bool with_python)
{
    const nb_notebook *nb = an->nb;
    json_t *root = json_object();
    json_object_set_new(root, "file", json_string(nb->path));
    char version[32];
    snprintf(version, sizeof version, "%d.%d", nb->nbformat, nb->nbformat_minor);
    json_object_set_new(root, "nbformat", json_string(version));
    json_object_set_new(root, "language", json_string(nb->language));
    json_object_set_new(root, "cell_count", json_integer((json_int_t)nb->ncells));
    json_t *cells = json_array();
    for (size_t i = 0; i < an->ncells; i++)
        json_array_append_new(cells, json_cell(an, &an->cells[i], with_python));
    json_object_set_new(root, "cells", cells);
    return root;
}

/* ---- Split ----------------------------------------------------------------------- */

static void split_mode_text(const nb_segmentation *seg, nb_buf *out)
{
    if (seg->reason)
        nb_buf_puts(out, seg->reason);
    else if (seg->split == NB_SPLIT_HEADINGS && seg->heading_level != 2)
        nb_buf_printf(out, "%s level %d (asked for)", nb_split_name(seg->split), seg->heading_level);
    else
        nb_buf_printf(out, "%s (asked for)", nb_split_name(seg->split));
}

/* The facts of a dataflow boundary, as words: "2 live, score 5, loaded, heading, cut". */
static void boundary_words(const nb_boundary *b, nb_buf *out)
{
    nb_buf_printf(out, "%zu live, score %d", b->crossing, b->score);
    if (b->artifact != NB_ARTIFACT_NONE)
        nb_buf_printf(out, ", after %s", nb_artifact_kind_name(b->artifact));
    if (b->heading)
        nb_buf_puts(out, ", heading");
    else if (b->markdown)
        nb_buf_puts(out, ", markdown");
    if (b->setup)
        nb_buf_puts(out, ", after set-up (no cut)");
    if (b->unsaveable)
        nb_buf_puts(out, ", unsaveable value crosses (no cut)");
    if (b->cut)
        nb_buf_puts(out, ", cut");
}

void nb_dump_split_text(const nb_analysis *an, const nb_segmentation *seg, nb_buf *out)
{
    nb_buf_puts(out, "split: ");
    split_mode_text(seg, out);
    nb_buf_putc(out, '\n');
    for (size_t s = 0; s < seg->nsteps; s++) {
        const nb_segment_step *step = &seg->steps[s];
        nb_buf_puts(out, "  step ");
        nb_buf_add_printable(out, step->name, strlen(step->name));
        nb_buf_puts(out, ": cell");
        nb_buf_puts(out, step->ncells == 1 ? " " : "s ");
        for (size_t c = 0; c < step->ncells; c++)
            nb_buf_printf(out, "%s%d", c ? ", " : "", an->cells[step->cells[c]].cell->number);
        nb_buf_putc(out, '\n');
    }
    for (size_t k = 0; k < seg->cuts.nboundaries; k++) {
        const nb_boundary *b = &seg->cuts.boundaries[k];
        nb_buf_printf(out, "  boundary after cell %d: ",
                      an->cells[seg->dataflow_cells[b->after]].cell->number);
        boundary_words(b, out);
        nb_buf_putc(out, '\n');
    }
}

json_t *nb_dump_split_json(const nb_analysis *an, const nb_segmentation *seg)
{
    json_t *o = json_object();
    nb_buf reason = NB_BUF_INIT;
    split_mode_text(seg, &reason);
    json_object_set_new(o, "mode", json_string(nb_split_name(seg->split)));
    json_object_set_new(o, "heading_level", seg->split == NB_SPLIT_HEADINGS
                                                ? json_integer(seg->heading_level) : json_null());
    json_object_set_new(o, "auto", json_boolean(seg->reason != NULL));
    json_object_set_new(o, "reason", json_string(reason.data));
    nb_buf_release(&reason);
    json_t *steps = json_array();
    for (size_t s = 0; s < seg->nsteps; s++) {
        const nb_segment_step *step = &seg->steps[s];
        json_t *so = json_object(), *cells = json_array();
        json_object_set_new(so, "name", json_string(step->name));
        for (size_t c = 0; c < step->ncells; c++)
            json_array_append_new(cells, json_integer(an->cells[step->cells[c]].cell->number));
        json_object_set_new(so, "cells", cells);
        json_array_append_new(steps, so);
    }
    json_object_set_new(o, "steps", steps);
    json_object_set_new(o, "min_cells", seg->split == NB_SPLIT_DATAFLOW
                                            ? json_integer((json_int_t)seg->cuts.min_cells)
                                            : json_null());
    json_t *bounds = json_array();
    for (size_t k = 0; k < seg->cuts.nboundaries; k++) {
        const nb_boundary *b = &seg->cuts.boundaries[k];
        json_t *bo = json_object();
        json_object_set_new(bo, "after_cell",
                            json_integer(an->cells[seg->dataflow_cells[b->after]].cell->number));
        json_object_set_new(bo, "live", json_integer((json_int_t)b->crossing));
        json_object_set_new(bo, "score", json_integer(b->score));
        json_object_set_new(bo, "artifact", b->artifact != NB_ARTIFACT_NONE
                                                ? json_string(nb_artifact_kind_name(b->artifact))
                                                : json_null());
        json_object_set_new(bo, "heading", json_boolean(b->heading));
        json_object_set_new(bo, "markdown", json_boolean(b->markdown));
        json_object_set_new(bo, "setup", json_boolean(b->setup));
        json_object_set_new(bo, "unsaveable", json_boolean(b->unsaveable));
        json_object_set_new(bo, "cut", json_boolean(b->cut));
        json_array_append_new(bounds, bo);
    }
    json_object_set_new(o, "boundaries", bounds);
    return o;
}

/* ---- Graphviz -------------------------------------------------------------------- */

typedef struct edge {
    int from;
    size_t order; /* position among the cell's uses: keeps labels in order of first use */
    nb_name name;
} edge;

static int compare_edges(const void *a, const void *b)
{
    const edge *x = a, *y = b;
    if (x->from != y->from)
        return x->from < y->from ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

/* A cell's node: its number, then what it changes and defines as `analyze` says it,
 * one left-aligned line each. */
static void dot_cell(nb_buf *out, const nb_analysis *an, const nb_code_cell *cc, nb_buf *label)
{
    nb_buf_reset(label);
    nb_buf_printf(label, "cell %d\n", cc->cell->number);
    text_changes(label, an, cc);
    text_definitions(label, an, &cc->facts);
    nb_buf_printf(out, "  c%d [label=", cc->cell->number);
    nb_write_dot_lines(out, label->data, label->len);
    nb_buf_puts(out, "];\n");
}

/* Dashed edges for what the cell reads through the functions it calls, the objects it
 * changes without naming them and the random state: from the cell that provides each. */
static void dot_implied(nb_buf *out, const nb_analysis *an, const nb_code_cell *cc, nb_buf *label)
{
    for (size_t i = 0; i < cc->nimplied; i++) {
        const nb_implied *im = &cc->implied[i];
        if (im->provider.status != NB_PROVIDED)
            continue;
        nb_buf_reset(label);
        nb_buf_puts(label, name_str(an, im->name));
        if (im->via != NB_NO_NAME)
            nb_buf_printf(label, " (via %s)", name_str(an, im->via));
        nb_buf_printf(out, "  c%d -> c%d [style=dashed, label=", im->provider.cell, cc->cell->number);
        nb_write_dot_string(out, label->data, label->len);
        nb_buf_puts(out, "];\n");
    }
}

void nb_dump_analysis_dot(const nb_analysis *an, nb_buf *out)
{
    nb_buf_puts(out, "digraph cells {\n  rankdir=TB;\n  node [shape=box, fontname=\"monospace\"];\n");
    nb_buf label = NB_BUF_INIT;
    for (size_t i = 0; i < an->ncells; i++)
        dot_cell(out, an, &an->cells[i], &label);
    edge *edges = NULL;
    size_t cap = 0;
    for (size_t i = 0; i < an->ncells; i++) {
        const nb_code_cell *cc = &an->cells[i];
        size_t n = 0;
        for (size_t u = 0; u < cc->facts.nuses; u++) {
            if (cc->providers[u].status != NB_PROVIDED)
                continue;
            edges = nb_xgrow(edges, &cap, n + 1, sizeof *edges);
            edges[n] = (edge){ cc->providers[u].cell, n, cc->facts.uses[u].name };
            n++;
        }
        if (n > 1)
            qsort(edges, n, sizeof *edges, compare_edges);
        for (size_t a = 0; a < n;) {
            size_t b = a;
            nb_buf_reset(&label);
            for (; b < n && edges[b].from == edges[a].from; b++) {
                if (b > a)
                    nb_buf_puts(&label, ", ");
                nb_buf_puts(&label, name_str(an, edges[b].name));
            }
            nb_buf_printf(out, "  c%d -> c%d [label=", edges[a].from, cc->cell->number);
            nb_write_dot_string(out, label.data, label.len);
            nb_buf_puts(out, "];\n");
            a = b;
        }
        dot_implied(out, an, cc, &label);
    }
    nb_buf_release(&label);
    free(edges);
    nb_buf_puts(out, "}\n");
}
