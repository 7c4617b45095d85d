/* slurm/: one batch script per step (slurm/STEP.sbatch, its resources from the step's
 * `limit:` tags as #SBATCH lines) and slurm/submit.sh, which makes a run directory
 * under the data root and submits the steps in dependency order, each held with
 * --dependency=afterok until its upstream jobs succeed.
 *
 * SLURM copies a batch script into its spool directory before running it, so a job
 * cannot find the pipeline from its own path: submit.sh gives the pipeline directory as
 * the job's working directory (--chdir) and the run directory as the script's first
 * argument; everything after it goes to the step (--param NAME=VALUE...). Both the
 * pipeline directory and the data root must be on a filesystem every node shares. */
#include "nb2pipe/emit.h"

#include "nb2pipe/writer.h"

#include <stdint.h>
#include <string.h>

/* Longest pipeline part of a job name (a step name adds up to 49 more bytes). */
enum { PIPELINE_NAME_MAX = 64 };

static void sh_word(nb_buf *b, const char *s)
{
    nb_write_sh_word(b, s, strlen(s));
}

enum { RES_CPU, RES_MEMORY, RES_GPU, RES_COUNT };

static const nb_whole_resource resource_kinds[RES_COUNT] = {
    /* whole CPUs: sbatch allocates no fractions, so 500m asks for 1 */
    [RES_CPU] = { "cpu", 1, 1 },
    /* MiB (sbatch's M is 1024 KiB); --mem=0 would mean all of a node's memory */
    [RES_MEMORY] = { "memory", 1ULL << 20, 1 },
    /* whole devices; 0 asks for none and writes no --gres */
    [RES_GPU] = { "nvidia.com/gpu", 1, 0 },
};

/* --mem's value: MiB in the largest sbatch unit that keeps it whole (2048 -> 2G). */
static void mem_value(nb_buf *b, uint64_t mib)
{
    if (mib % (1ULL << 20) == 0)
        nb_buf_printf(b, "%lluT", (unsigned long long)(mib >> 20));
    else if (mib % 1024 == 0)
        nb_buf_printf(b, "%lluG", (unsigned long long)(mib >> 10));
    else
        nb_buf_printf(b, "%lluM", (unsigned long long)mib);
}

static void sbatch_script(const nb_pipeline *p, const nb_step *s, const char *pipeline,
                          const nb_whole_amount res[RES_COUNT], nb_buf *b)
{
    nb_buf_puts(b, "#!/bin/bash\n");
    nb_emit_header(b, p, "#");
    /* directives: sbatch reads #SBATCH lines up to the first command */
    nb_buf_printf(b, "#SBATCH --job-name=%s-%s\n", pipeline, s->name);
    /* relative to the working directory; submit.sh puts them in the run directory */
    nb_buf_printf(b, "#SBATCH --output=%s-%s-%%j.out\n", pipeline, s->name);
    nb_buf_printf(b, "#SBATCH --error=%s-%s-%%j.err\n", pipeline, s->name);
    if (res[RES_CPU].limit)
        nb_buf_printf(b, "#SBATCH --cpus-per-task=%llu\n", (unsigned long long)res[RES_CPU].amount);
    if (res[RES_MEMORY].limit) {
        nb_buf_puts(b, "#SBATCH --mem=");
        mem_value(b, res[RES_MEMORY].amount);
        nb_buf_putc(b, '\n');
    }
    if (res[RES_GPU].limit && res[RES_GPU].amount)
        nb_buf_printf(b, "#SBATCH --gres=gpu:%llu\n", (unsigned long long)res[RES_GPU].amount);
    nb_buf_printf(b, "#\n"
                     "# Step %s as one SLURM job, run in the pipeline directory (the parent of\n"
                     "# slurm/) with the run directory as first argument; the other arguments go\n"
                     "# to the step. slurm/submit.sh submits it like this:\n"
                     "#   sbatch --chdir=PIPELINE_DIR slurm/%s.sbatch RUN_DIR [--param NAME=VALUE]...\n",
                  s->name, s->name);
    bool any = false;
    for (size_t k = 0; k < RES_COUNT; k++) {
        if (!res[k].limit)
            continue;
        /* keys are the known ones and quantities are digits and a unit: no escaping */
        nb_buf_printf(b, "%s%s %s", any ? ", " : "# Resources from limit: tags: ",
                      res[k].limit->key, res[k].limit->value);
        any = true;
    }
    if (any)
        nb_buf_puts(b, "\n# (CPUs and GPUs rounded up to whole ones, memory up to whole MiB:\n"
                       "# sbatch's K/M/G/T are powers of 1024, so 1G = 10^9 bytes becomes 954M.)\n");
    nb_buf_printf(b, "set -euo pipefail\n"
                     "\n"
                     "if [ $# -lt 1 ]; then\n"
                     "    echo 'usage: sbatch --chdir=PIPELINE_DIR slurm/%s.sbatch RUN_DIR "
                     "[--param NAME=VALUE]...' >&2\n"
                     "    exit 2\n"
                     "fi\n"
                     "if [ ! -f steps/%s.py ]; then\n"
                     "    echo \"%s.sbatch: $PWD is not the pipeline directory (sbatch --chdir=DIR)\" >&2\n"
                     "    exit 2\n"
                     "fi\n"
                     "RUN_DIR=$1\n"
                     "shift\n"
                     "exec python3 steps/%s.py --data-dir \"$RUN_DIR\" \"$@\"\n",
                  s->name, s->name, s->name, s->name);
}

/* The fixed top of submit.sh, after the header and the description. */
static const char submit_functions[] =
    "set -euo pipefail\n"
    "\n"
    "die() {\n"
    "    printf 'submit.sh: %s\\n' \"$1\" >&2\n"
    "    exit 2\n"
    "}\n"
    "\n";

/* The argument loop, around the --param cases, and the data root. */
static const char submit_arguments_head[] =
    "SCRIPT_DIR=$(cd -- \"$(dirname -- \"${BASH_SOURCE[0]}\")\" && pwd -P)\n"
    "PIPELINE_DIR=$(cd -- \"$SCRIPT_DIR/..\" && pwd -P)\n"
    "params=()\n"
    "while [ $# -gt 0 ]; do\n"
    "    case $1 in\n";

static const char submit_param_cases[] =
    "        --param)\n"
    "            [ $# -ge 2 ] || die '--param needs NAME=VALUE'\n"
    "            check_param \"$2\"\n"
    "            params+=(--param \"$2\")\n"
    "            shift 2\n"
    "            ;;\n"
    "        --param=*)\n"
    "            check_param \"${1#--param=}\"\n"
    "            params+=(--param \"${1#--param=}\")\n"
    "            shift\n"
    "            ;;\n";

static const char submit_arguments_tail[] =
    "        --data-root)\n"
    "            [ $# -ge 2 ] || die '--data-root needs a directory'\n"
    "            DATA_ROOT=$2\n"
    "            shift 2\n"
    "            ;;\n"
    "        --data-root=*)\n"
    "            DATA_ROOT=${1#--data-root=}\n"
    "            shift\n"
    "            ;;\n"
    "        -h | --help)\n"
    "            usage\n"
    "            exit 0\n"
    "            ;;\n"
    "        *)\n"
    "            usage >&2\n"
    "            die \"unknown argument '$1'\"\n"
    "            ;;\n"
    "    esac\n"
    "done\n"
    "[ -n \"$DATA_ROOT\" ] || die 'the data root is empty'\n"
    "# a relative data root is taken from the pipeline directory, where the jobs run\n"
    "case $DATA_ROOT in\n"
    "    /*) ;;\n"
    "    *) DATA_ROOT=$PIPELINE_DIR/$DATA_ROOT ;;\n"
    "esac\n";

/* Submitting one step; PIPELINE and the run directory are set by then. */
static const char submit_step_function[] =
    "mkdir -p -- \"$DATA_ROOT\"\n"
    "mkdir -- \"$RUN_DIR\"\n"
    "mkdir -- \"$LOG_DIR\"\n"
    "# sbatch reads % in --output/--error as a pattern (%j: the job id); %% is a plain %\n"
    "LOG_PATTERN=${LOG_DIR//[%]/%%}\n"
    "\n"
    "# submit STEP [SBATCH_OPTION]...: submits slurm/STEP.sbatch, sets JOB_ID and prints it\n"
    "# (no command substitution around it: bash would not stop there on errors); a job\n"
    "# whose dependency can no longer be met is cancelled, not left pending\n"
    "submit() {\n"
    "    local step=$1 out\n"
    "    shift\n"
    "    out=$(sbatch --parsable --job-name=\"$PIPELINE-$step\" --chdir=\"$PIPELINE_DIR\" \\\n"
    "        --output=\"$LOG_PATTERN/$step-%j.out\" --error=\"$LOG_PATTERN/$step-%j.err\" \\\n"
    "        --kill-on-invalid-dep=yes \"$@\" \"$SCRIPT_DIR/$step.sbatch\" \"$RUN_DIR\" \\\n"
    "        ${params[@]+\"${params[@]}\"})\n"
    "    # --parsable prints JOBID or JOBID;CLUSTER\n"
    "    JOB_ID=${out%%;*}\n"
    "    [ -n \"$JOB_ID\" ] || die \"sbatch printed no job id for step $step\"\n"
    "    printf '%s: job %s\\n' \"$step\" \"$JOB_ID\"\n"
    "}\n"
    "\n"
    "printf 'run directory: %s\\n' \"$RUN_DIR\"\n";

static void param_list(const nb_pipeline *p, nb_buf *b, const char *sep)
{
    for (size_t i = 0; i < p->nparams; i++)
        nb_buf_printf(b, "%s%s", i ? sep : "", p->params[i].name);
}

static void submit_script(const nb_pipeline *p, const nb_emit_opts *opts, const char *pipeline,
                          nb_buf *b)
{
    nb_buf_puts(b, "#!/bin/bash\n");
    nb_emit_header(b, p, "#");
    nb_buf_printf(b, "# Submits pipeline %s to SLURM: one job per step (slurm/STEP.sbatch), each\n"
                     "# held until the jobs of its upstream steps succeed (afterok). Step data goes\n"
                     "# to a new run directory DATA_ROOT/%s-DATE-PID; the data root and the\n"
                     "# pipeline directory (the parent of slurm/, where jobs run) must be on a\n"
                     "# filesystem every node shares. Logs: RUN_DIR/slurm-logs/STEP-JOBID.out|err.\n"
                     "#\n"
                     "#   slurm/submit.sh [--data-root DIR] [--param NAME=VALUE]...\n"
                     "#\n"
                     "# --param goes to every step (a step ignores parameters it does not read).\n"
                     "# Prints the run directory and each step's job id.\n",
                  pipeline, pipeline);
    nb_buf_puts(b, submit_functions);
    nb_buf_puts(b, "usage() {\n"
                   "    echo 'usage: submit.sh [--data-root DIR] [--param NAME=VALUE]...'\n");
    if (p->nparams) {
        nb_buf_puts(b, "    echo 'parameters: ");
        param_list(p, b, " ");
        nb_buf_puts(b, "'\n");
    }
    nb_buf_puts(b, "}\n\n");
    if (p->nparams) {
        nb_buf_puts(b, "check_param() {\n"
                       "    case $1 in\n"
                       "        *=*) ;;\n"
                       "        *) die \"--param expects NAME=VALUE, not '$1'\" ;;\n"
                       "    esac\n"
                       "    case ${1%%=*} in\n"
                       "        ");
        param_list(p, b, " | ");
        nb_buf_puts(b, ") ;;\n"
                       "        *) die \"unknown parameter '${1%%=*}' (parameters: ");
        param_list(p, b, " ");
        nb_buf_puts(b, ")\" ;;\n"
                       "    esac\n"
                       "}\n"
                       "\n");
    }
    nb_buf_puts(b, "PIPELINE=");
    sh_word(b, pipeline);
    nb_buf_putc(b, '\n');
    nb_write_sh_assignment(b, "DATA_ROOT", nb_emit_data_root(opts));
    nb_buf_puts(b, submit_arguments_head);
    if (p->nparams)
        nb_buf_puts(b, submit_param_cases);
    else
        nb_buf_puts(b, "        --param | --param=*)\n"
                       "            die 'the pipeline has no parameters'\n"
                       "            ;;\n");
    nb_buf_puts(b, submit_arguments_tail);
    /* generated at submit time: every submission gets its own directory */
    nb_buf_puts(b, "RUN_ID=$PIPELINE-$(date -u +%Y%m%dT%H%M%SZ)-$$\n"
                   "RUN_DIR=$DATA_ROOT/$RUN_ID\n"
                   "LOG_DIR=$RUN_DIR/slurm-logs\n");
    nb_buf_puts(b, submit_step_function);
    for (size_t i = 0; i < p->nsteps; i++) {
        const nb_step *s = &p->steps[i];
        nb_buf_printf(b, "submit %s", s->name);
        for (size_t u = 0; u < s->nupstream; u++)
            nb_buf_printf(b, "%s\"$job_%s\"", u ? ":" : " --dependency=afterok:",
                          p->steps[s->upstream[u]].name);
        nb_buf_putc(b, '\n');
        if (nb_pipeline_has_dependents(p, i))
            nb_buf_printf(b, "job_%s=$JOB_ID\n", s->name);
    }
}

int nb_emit_slurm(const nb_pipeline *p, const nb_emit_opts *opts, nb_fileset *fs, nb_diags *diags)
{
    if (nb_emit_check_ascii_params(p, "the SLURM submit script", diags) != 0)
        return -1;
    nb_buf pipeline = NB_BUF_INIT, path = NB_BUF_INIT;
    nb_emit_job_name(nb_emit_name(p, opts), PIPELINE_NAME_MAX, &pipeline);
    int status = 0;
    for (size_t i = 0; i < p->nsteps && status == 0; i++) {
        nb_whole_amount res[RES_COUNT];
        status = nb_emit_whole_resources(p, &p->steps[i], "SLURM", resource_kinds, RES_COUNT, res,
                                         diags);
        if (status != 0)
            break;
        nb_buf_reset(&path);
        nb_buf_printf(&path, "slurm/%s.sbatch", p->steps[i].name);
        sbatch_script(p, &p->steps[i], pipeline.data, res, nb_fileset_add(fs, path.data));
    }
    if (status == 0) {
        submit_script(p, opts, pipeline.data, nb_fileset_add_executable(fs, "slurm/submit.sh"));
    }
    nb_buf_release(&pipeline);
    nb_buf_release(&path);
    return status;
}
