/* Emitters: each writes one output format from the pipeline IR alone, into a file set
 * (fsout.h). They share header and quoting helpers (writer.h) and nothing else. */
#ifndef NB2PIPE_EMIT_H
#define NB2PIPE_EMIT_H

#include "nb2pipe/diag.h"
#include "nb2pipe/fsout.h"
#include "nb2pipe/pipeline.h"

#include <stdint.h>

typedef struct nb_emit_opts {
    const char *workdir;      /* the notebook's directory relative to the output directory */
    const char *notebook;     /* the notebook's path relative to the output directory */
    const char *pipeline_dir; /* the output directory relative to the notebook's directory
                                 (what the Dockerfile copies; the image's working dir) */
    const char *name;         /* the pipeline's name on the targets (--name), or NULL for
                                 nb_pipeline.name; emitters sanitise it per target */
    const char *image;        /* container image holding the steps (--image), or NULL for
                                 NB_DEFAULT_IMAGE with the pipeline name */
    const char *schedule;     /* Airflow schedule (--schedule), or NULL: never scheduled */
    int airflow_version;      /* 3 (default) or 2 (--airflow-version) */
    bool airflow_kubernetes;  /* --airflow-operator kubernetes: KubernetesPodOperator */
    const char *data_root;    /* where step data lives on the targets (--data-root):
                                 a shared path for Airflow's BashOperator and SLURM, the
                                 mount point of the shared volume in containers */
    bool argo_template;       /* --argo-kind template: a WorkflowTemplate */
    bool argo_artifacts;      /* --argo-data artifacts: outputs as artifacts, not a PVC */
} nb_emit_opts;

/* The image name when --image is not given: "<pipeline>:latest", which the generated
 * Dockerfile builds (docker build -f <pipeline dir>/Dockerfile -t <image> .). */
#define NB_DEFAULT_IMAGE_TAG ":latest"
#define NB_DEFAULT_DATA_ROOT "/data"

/* The pipeline's name as the targets see it: OPTS->name or P->name. */
const char *nb_emit_name(const nb_pipeline *p, const nb_emit_opts *opts);

/* The image to run steps in: OPTS->image, or "<name>:latest". Writes into OUT. */
void nb_emit_image(const nb_pipeline *p, const nb_emit_opts *opts, nb_buf *out);

/* The data root (OPTS->data_root or NB_DEFAULT_DATA_ROOT). */
const char *nb_emit_data_root(const nb_emit_opts *opts);

/* Where a diagnostic about the notebook points: CELL (0: the whole notebook) and LINE
 * within it (0: the whole cell). */
nb_loc nb_emit_loc(const nb_pipeline *p, int cell, int line);

/* Refuses parameters whose names are not ASCII identifiers (Python also allows other
 * letters), for TARGET, which makes shell or environment variables of them: an error
 * for each. Returns 0 or -1. */
int nb_emit_check_ascii_params(const nb_pipeline *p, const char *target, nb_diags *diags);

/* TEXT as a job name part for schedulers (SLURM, AWS Batch): letters, digits, '_' and
 * '-' (each run of other bytes becomes one '-'), starting and ending with a letter or
 * digit, at most MAX bytes; "pipeline" when nothing is left. Needs no quoting in a
 * shell word, an #SBATCH line or a file name, and holds no '%' (an sbatch pattern). */
void nb_emit_job_name(const char *text, size_t max, nb_buf *out);

/* A `limit:` resource as a batch scheduler counts it: whole units of its own. */
typedef struct nb_whole_resource {
    const char *key;  /* the limit: tag's resource: "cpu", "memory", "nvidia.com/gpu" */
    uint64_t unit;    /* base units (cores, bytes, devices) per scheduler unit */
    uint64_t minimum; /* the least the scheduler takes */
} nb_whole_resource;

typedef struct nb_whole_amount {
    const nb_kv *limit; /* the step's tag, or NULL when it has none */
    uint64_t amount;    /* the quantity rounded up to whole units, at least the minimum */
} nb_whole_amount;

/* Step S's limits in the units of KINDS: OUT[k] for KINDS[k]. A limit of another
 * resource gets a warning that TARGET ignores it; one too large for 64 bits is an error
 * (returns -1). */
int nb_emit_whole_resources(const nb_pipeline *p, const nb_step *s, const char *target,
                            const nb_whole_resource *kinds, size_t nkinds,
                            nb_whole_amount *out, nb_diags *diags);

/* A parameter's default as the text a step converts back to the default's type
 * (nb2pipe_runtime._coerce) when a target passes it as --param NAME=TEXT: strings as
 * they are, "True"/"False", "None", numbers in the form Python's int()/float() read
 * ("0x1f" -> "31", "- 5" -> "-5"; complex literals as written). False when a number
 * cannot be written that way ("~5"). */
bool nb_emit_param_text(const nb_param *param, nb_buf *out);

/* Every emitter has this shape: adds its files to FS; returns 0, or -1 after recording
 * a diagnostic. */
typedef int (*nb_emitter)(const nb_pipeline *p, const nb_emit_opts *opts, nb_fileset *fs,
                          nb_diags *diags);

int nb_emit_scripts(const nb_pipeline *p, const nb_emit_opts *opts, nb_fileset *fs, nb_diags *diags);
int nb_emit_ploomber(const nb_pipeline *p, const nb_emit_opts *opts, nb_fileset *fs, nb_diags *diags);
int nb_emit_requirements(const nb_pipeline *p, const nb_emit_opts *opts, nb_fileset *fs,
                         nb_diags *diags);
/* Dockerfile: the image the container targets run: python slim, requirements installed
 * at build time, the notebook's directory copied (no network when steps run). */
int nb_emit_docker(const nb_pipeline *p, const nb_emit_opts *opts, nb_fileset *fs, nb_diags *diags);
/* dags/NAME.py: an Airflow 3 (or 2) DAG, one task per step. */
int nb_emit_airflow(const nb_pipeline *p, const nb_emit_opts *opts, nb_fileset *fs, nb_diags *diags);
/* argo/NAME.yaml: an Argo Workflow (or WorkflowTemplate) with a DAG template. */
int nb_emit_argo(const nb_pipeline *p, const nb_emit_opts *opts, nb_fileset *fs, nb_diags *diags);
/* kfp/NAME.yaml: a Kubeflow Pipelines v2 PipelineSpec (IR YAML). */
int nb_emit_kfp(const nb_pipeline *p, const nb_emit_opts *opts, nb_fileset *fs, nb_diags *diags);
/* slurm/: an sbatch script per step and submit.sh chaining them with afterok. */
int nb_emit_slurm(const nb_pipeline *p, const nb_emit_opts *opts, nb_fileset *fs, nb_diags *diags);
/* batch/: AWS Batch job definitions and submit.sh chaining them with --depends-on. */
int nb_emit_batch(const nb_pipeline *p, const nb_emit_opts *opts, nb_fileset *fs, nb_diags *diags);
/* The manifest: what was generated (with hashes of every file already in FS) and the
 * step graph `nb2pipe run` follows. Must run after every other emitter. */
int nb_emit_manifest(const nb_pipeline *p, const nb_emit_opts *opts, nb_fileset *fs, nb_diags *diags);

/* One target of `convert --target`. */
typedef struct nb_target {
    const char *name;
    nb_emitter emit;
    bool always; /* written by every conversion */
} nb_target;

/* The targets, in the order they run; NULL-terminated. */
extern const nb_target nb_targets[];

/* The generated-file header line: "<COMMENT> Generated by nb2pipe from NOTEBOOK; do not
 * edit. Regenerate: COMMAND [xxh3:<seal>]\n" (the seal is filled in when the file set is
 * sealed, see fsout.h). */
void nb_emit_header(nb_buf *out, const nb_pipeline *p, const char *comment);

/* Relative path of step S's script: "steps/NAME.py". */
void nb_step_script_path(const nb_step *s, nb_buf *out);

/* Where a value lives under the data directory: "<producer>/<name>.pkl". */
void nb_data_path(const char *producer, const char *name, nb_buf *out);

#endif
