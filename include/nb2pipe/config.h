/* The project file nb2pipe.yaml: which notebooks convert to which pipelines, with which
 * options; what `nb2pipe sync` and `nb2pipe check` act on. Example:
 *
 *   pipelines:
 *     - notebook: notebooks/titanic.ipynb  # a path or a glob (*, ?, [..]), relative to this file
 *       output: pipelines/{name}         # optional; {name}: the notebook's name without
 *                                        # .ipynb, {dir}: its directory
 *       split: headings                  # optional: auto, tags, headings, dataflow, single
 *       targets: [airflow, argo]         # optional
 *       allow-undefined: [spark]         # optional
 *       image: registry/team/app:1       # optional, and name, data-root, schedule,
 *                                        # airflow-version, airflow-operator, argo-kind,
 *                                        # argo-data: as the convert options
 */
#ifndef NB2PIPE_CONFIG_H
#define NB2PIPE_CONFIG_H

#include "nb2pipe/alloc.h"
#include "nb2pipe/diag.h"

#include <stddef.h>

#define NB_CONFIG_FILE "nb2pipe.yaml"
#define NB_CONFIG_OPTIONS 9

/* One pipelines: entry. Option values are as written (the CLI checks them); a key
 * missing from the entry is NULL. */
typedef struct nb_config_entry {
    int line; /* of the entry in the file, for messages */
    const char *notebook;
    const char *output;
    const char *split;
    const char **targets;
    size_t ntargets;
    const char **allow_undefined;
    size_t nallow_undefined;
    /* the export options and --max-steps, by their convert flag names without "--" */
    const char *options[NB_CONFIG_OPTIONS];
} nb_config_entry;

/* The convert flags an entry may set as plain keys, in the order of .options. */
extern const char *const nb_config_option_names[NB_CONFIG_OPTIONS];

typedef struct nb_config {
    const char *path; /* the file */
    const char *dir;  /* its directory: paths in it are relative to this */
    nb_config_entry *entries;
    size_t nentries;
    nb_pool pool;
} nb_config;

/* Reads the project file PATH. Returns 0, or -1 after recording errors with line:col
 * (YAML syntax, an unknown key, a value of the wrong kind). */
int nb_config_read(const char *path, nb_config *cfg, nb_diags *diags);
void nb_config_release(nb_config *cfg);

/* The nearest nb2pipe.yaml in DIR or a parent directory, as a path from the working
 * directory, or NULL. Caller frees. */
char *nb_config_find(const char *dir);

#endif
