#include "nb2pipe/config.h"

#include "nb2pipe/buf.h"
#include "nb2pipe/fsout.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <yaml.h>

const char *const nb_config_option_names[NB_CONFIG_OPTIONS] = {
    "name", "image", "data-root", "schedule", "airflow-version", "airflow-operator",
    "argo-kind", "argo-data", "max-steps",
};

typedef struct reader {
    nb_config *cfg;
    yaml_document_t doc;
    nb_diags *diags;
    int status;
} reader;

static void problem(reader *r, const yaml_node_t *node, const char *fmt, const char *detail)
{
    nb_loc loc = { .file = r->cfg->path, .line = (int)node->start_mark.line + 1,
                   .col = (int)node->start_mark.column + 1 };
    nb_diag_add(r->diags, NB_ERROR, "bad-config", loc, fmt, detail);
    r->status = -1;
}

static const char *scalar(reader *r, yaml_node_t *node, const char *key)
{
    if (node->type != YAML_SCALAR_NODE) {
        problem(r, node, "'%s' must be a single value", key);
        return NULL;
    }
    return nb_pool_strndup(&r->cfg->pool, (const char *)node->data.scalar.value,
                           node->data.scalar.length);
}

/* A list of values (or one value, taken as a list of one). */
static const char **scalar_list(reader *r, yaml_node_t *node, const char *key, size_t *count)
{
    *count = 0;
    if (node->type == YAML_SCALAR_NODE) {
        const char **list = nb_pool_alloc(&r->cfg->pool, 2 * sizeof *list);
        list[(*count)++] = scalar(r, node, key);
        return list;
    }
    if (node->type != YAML_SEQUENCE_NODE) {
        problem(r, node, "'%s' must be a list of values", key);
        return NULL;
    }
    size_t n = (size_t)(node->data.sequence.items.top - node->data.sequence.items.start);
    const char **list = nb_pool_alloc(&r->cfg->pool, (n + 1) * sizeof *list);
    for (yaml_node_item_t *item = node->data.sequence.items.start;
         item < node->data.sequence.items.top; item++) {
        const char *value = scalar(r, yaml_document_get_node(&r->doc, *item), key);
        if (value)
            list[(*count)++] = value;
    }
    return list;
}

static void read_entry(reader *r, yaml_node_t *node, nb_config_entry *e)
{
    e->line = (int)node->start_mark.line + 1;
    if (node->type != YAML_MAPPING_NODE) {
        problem(r, node, "each %s entry must be a mapping (notebook: ..., output: ...)", "pipelines");
        return;
    }
    for (yaml_node_pair_t *pair = node->data.mapping.pairs.start;
         pair < node->data.mapping.pairs.top; pair++) {
        yaml_node_t *key_node = yaml_document_get_node(&r->doc, pair->key);
        yaml_node_t *value = yaml_document_get_node(&r->doc, pair->value);
        const char *key = key_node->type == YAML_SCALAR_NODE ? (const char *)key_node->data.scalar.value : "";
        if (strcmp(key, "notebook") == 0)
            e->notebook = scalar(r, value, key);
        else if (strcmp(key, "output") == 0)
            e->output = scalar(r, value, key);
        else if (strcmp(key, "split") == 0)
            e->split = scalar(r, value, key);
        else if (strcmp(key, "targets") == 0)
            e->targets = scalar_list(r, value, key, &e->ntargets);
        else if (strcmp(key, "allow-undefined") == 0)
            e->allow_undefined = scalar_list(r, value, key, &e->nallow_undefined);
        else {
            size_t i = 0;
            while (i < NB_CONFIG_OPTIONS && strcmp(nb_config_option_names[i], key) != 0)
                i++;
            if (i < NB_CONFIG_OPTIONS)
                e->options[i] = scalar(r, value, key);
            else
                problem(r, key_node, "unknown key '%s' in a pipelines entry", key);
        }
    }
    if (!e->notebook)
        problem(r, node, "a pipelines entry needs a '%s' (a path or glob)", "notebook");
}

int nb_config_read(const char *path, nb_config *cfg, nb_diags *diags)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->path = nb_pool_strdup(&cfg->pool, path);
    const char *slash = strrchr(path, '/');
    cfg->dir = slash ? nb_pool_strndup(&cfg->pool, path, slash == path ? 1 : (size_t)(slash - path))
                     : ".";
    nb_buf text = NB_BUF_INIT;
    if (nb_buf_read_file(&text, path, (size_t)16 << 20) != 0) {
        nb_diag_add(diags, NB_ERROR, "io-error", (nb_loc){ .file = path }, "cannot read: %s",
                    "the project file is missing or unreadable");
        nb_buf_release(&text);
        return -1;
    }
    reader r = { .cfg = cfg, .diags = diags };
    yaml_parser_t parser;
    yaml_parser_initialize(&parser);
    yaml_parser_set_input_string(&parser, (const unsigned char *)text.data, text.len);
    if (!yaml_parser_load(&parser, &r.doc)) {
        nb_loc loc = { .file = path, .line = (int)parser.problem_mark.line + 1,
                       .col = (int)parser.problem_mark.column + 1 };
        nb_diag_add(diags, NB_ERROR, "bad-config", loc, "invalid YAML: %s",
                    parser.problem ? parser.problem : "cannot parse");
        yaml_parser_delete(&parser);
        nb_buf_release(&text);
        return -1;
    }
    yaml_node_t *root = yaml_document_get_root_node(&r.doc);
    yaml_node_t *pipelines = NULL;
    if (root && root->type == YAML_MAPPING_NODE) {
        for (yaml_node_pair_t *pair = root->data.mapping.pairs.start;
             pair < root->data.mapping.pairs.top; pair++) {
            yaml_node_t *key = yaml_document_get_node(&r.doc, pair->key);
            if (key->type == YAML_SCALAR_NODE && strcmp((const char *)key->data.scalar.value, "pipelines") == 0)
                pipelines = yaml_document_get_node(&r.doc, pair->value);
            else
                problem(&r, key, "unknown top-level key '%s' (expected pipelines)",
                        key->type == YAML_SCALAR_NODE ? (const char *)key->data.scalar.value : "?");
        }
    }
    if (!pipelines || pipelines->type != YAML_SEQUENCE_NODE) {
        nb_diag_add(diags, NB_ERROR, "bad-config", (nb_loc){ .file = path, .line = 1, .col = 1 },
                    "expected 'pipelines:' with a list of entries (see nb2pipe sync --help)");
        r.status = -1;
    } else {
        size_t n = (size_t)(pipelines->data.sequence.items.top - pipelines->data.sequence.items.start);
        cfg->entries = nb_pool_alloc(&cfg->pool, (n + 1) * sizeof *cfg->entries);
        for (yaml_node_item_t *item = pipelines->data.sequence.items.start;
             item < pipelines->data.sequence.items.top; item++)
            read_entry(&r, yaml_document_get_node(&r.doc, *item), &cfg->entries[cfg->nentries++]);
    }
    yaml_document_delete(&r.doc);
    yaml_parser_delete(&parser);
    nb_buf_release(&text);
    return r.status;
}

void nb_config_release(nb_config *cfg)
{
    nb_pool_release(&cfg->pool);
    memset(cfg, 0, sizeof *cfg);
}

char *nb_config_find(const char *dir)
{
    char *at = nb_path_absolute(dir);
    for (;;) {
        nb_buf candidate = NB_BUF_INIT;
        nb_buf_printf(&candidate, "%s%s%s", at, strcmp(at, "/") == 0 ? "" : "/", NB_CONFIG_FILE);
        struct stat st;
        if (stat(candidate.data, &st) == 0 && S_ISREG(st.st_mode)) {
            /* as a path from the working directory, for readable messages */
            char *rel = nb_path_relative(".", at);
            nb_buf_reset(&candidate);
            if (strcmp(rel, ".") != 0)
                nb_buf_printf(&candidate, "%s/", rel);
            nb_buf_puts(&candidate, NB_CONFIG_FILE);
            free(rel);
            free(at);
            return nb_buf_detach(&candidate, NULL);
        }
        nb_buf_release(&candidate);
        char *slash = strrchr(at, '/');
        if (!slash || strcmp(at, "/") == 0)
            break;
        if (slash == at)
            slash[1] = '\0';
        else
            *slash = '\0';
    }
    free(at);
    return NULL;
}
