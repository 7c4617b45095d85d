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

static bool is_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* TEXT (the pipeline name, --name unsanitised) as a job-name part: letters, digits, '_'
 * and '-' (each run of other bytes becomes one '-'), starting and ending with a letter
 * or digit, at most MAX bytes; "pipeline" when nothing is left. Such a name needs no
 * quoting in an #SBATCH line, a shell word or a file name, and holds no '%', which
 * sbatch would read as a file-name pattern. */
static void safe_name(const char *text, size_t max, nb_buf *out)
{
    size_t start = out->len;
    bool gap = false;
    for (const char *p = text; *p && out->len - start < max; p++) {
        if (is_alnum(*p) || *p == '_' || *p == '-') {
            if (out->len == start && !is_alnum(*p))
                continue;
            if (gap && out->len > start && *p != '-' && out->data[out->len - 1] != '-')
                nb_buf_putc(out, '-');
            gap = false;
            nb_buf_putc(out, *p);
        } else {
            gap = true;
        }
    }
    if (out->len - start > max)
        nb_buf_truncate(out, start + max);
    while (out->len > start && !is_alnum(out->data[out->len - 1]))
        nb_buf_truncate(out, out->len - 1);
    if (out->len == start)
        nb_buf_puts(out, "pipeline");
}

static uint64_t gcd(uint64_t a, uint64_t b)
{
    while (b) {
        uint64_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

/* QUANTITY (a Kubernetes quantity as segment.c accepts it: digits, an optional fraction,
 * an optional suffix m, k, M..E or Ki..Ei) divided by UNIT base units and rounded up,
 * computed exactly as a fraction. False when it does not fit in 64 bits. */
static bool quantity_ceil(const char *quantity, uint64_t unit, uint64_t *out)
{
    uint64_t num = 0, den = 1;
    const char *p = quantity;
    bool fraction = false;
    for (; (*p >= '0' && *p <= '9') || (*p == '.' && !fraction); p++) {
        if (*p == '.') {
            fraction = true;
            continue;
        }
        if (num > (UINT64_MAX - 9) / 10 || (fraction && den > UINT64_MAX / 10))
            return false;
        num = num * 10 + (uint64_t)(*p - '0');
        if (fraction)
            den *= 10;
    }
    static const struct {
        const char *suffix;
        uint64_t mul, div;
    } suffixes[] = {
        { "", 1, 1 },
        { "m", 1, 1000 },
        { "k", 1000ULL, 1 },
        { "K", 1000ULL, 1 },
        { "M", 1000000ULL, 1 },
        { "G", 1000000000ULL, 1 },
        { "T", 1000000000000ULL, 1 },
        { "P", 1000000000000000ULL, 1 },
        { "E", 1000000000000000000ULL, 1 },
        { "Ki", 1ULL << 10, 1 },
        { "Mi", 1ULL << 20, 1 },
        { "Gi", 1ULL << 30, 1 },
        { "Ti", 1ULL << 40, 1 },
        { "Pi", 1ULL << 50, 1 },
        { "Ei", 1ULL << 60, 1 },
    };
    size_t i = 0;
    while (i < sizeof suffixes / sizeof suffixes[0] && strcmp(p, suffixes[i].suffix) != 0)
        i++;
    if (i == sizeof suffixes / sizeof suffixes[0])
        return false;
    uint64_t g = gcd(num, den);
    num /= g;
    den /= g;
    /* num * mul / (den * div * unit), reduced before multiplying so that big but
     * representable results do not overflow on the way */
    uint64_t mul = suffixes[i].mul, divs[] = { suffixes[i].div, unit };
    for (size_t d = 0; d < 2; d++) {
        g = gcd(num, divs[d]);
        num /= g;
        divs[d] /= g;
        g = gcd(mul, divs[d]);
        mul /= g;
        divs[d] /= g;
        if (den > UINT64_MAX / divs[d])
            return false;
        den *= divs[d];
    }
    g = gcd(mul, den);
    mul /= g;
    den /= g;
    if (mul && num > UINT64_MAX / mul)
        return false;
    num *= mul;
    *out = num / den + (num % den != 0);
    return true;
}

/* One `limit:` resource as sbatch sees it. */
typedef struct resource {
    const char *key, *quantity; /* the tag's, or NULL when the step has none */
    uint64_t amount;            /* rounded up to sbatch's unit */
} resource;

enum { RES_CPU, RES_MEMORY, RES_GPU, RES_COUNT };

static const struct {
    const char *key;
    uint64_t unit;   /* base units per sbatch unit */
    uint64_t minimum;
} resource_kinds[RES_COUNT] = {
    /* whole CPUs: sbatch allocates no fractions, so 500m asks for 1 */
    [RES_CPU] = { "cpu", 1, 1 },
    /* MiB (sbatch's M is 1024 KiB); --mem=0 would mean all of a node's memory */
    [RES_MEMORY] = { "memory", 1ULL << 20, 1 },
    /* whole devices; 0 asks for none and writes no --gres */
    [RES_GPU] = { "nvidia.com/gpu", 1, 0 },
};

/* The step's limits this target understands; others are warned about. */
static int step_resources(const nb_pipeline *p, const nb_step *s, resource res[RES_COUNT],
                          nb_diags *diags)
{
    memset(res, 0, sizeof(resource) * RES_COUNT);
    for (size_t i = 0; i < s->nlimits; i++) {
        size_t k = 0;
        while (k < RES_COUNT && strcmp(s->limits[i].key, resource_kinds[k].key) != 0)
            k++;
        if (k == RES_COUNT) {
            nb_diag_add(diags, NB_WARNING, "unsupported-limit", (nb_loc){ .file = p->notebook },
                        "limit '%s' of step '%s' has no SLURM counterpart (cpu, memory, "
                        "nvidia.com/gpu): ignored", s->limits[i].key, s->name);
            continue;
        }
        uint64_t amount;
        if (!quantity_ceil(s->limits[i].value, resource_kinds[k].unit, &amount)) {
            nb_diag_add(diags, NB_ERROR, "bad-value", (nb_loc){ .file = p->notebook },
                        "limit '%s' of step '%s' is too large: '%s'", s->limits[i].key, s->name,
                        s->limits[i].value);
            return -1;
        }
        if (amount < resource_kinds[k].minimum)
            amount = resource_kinds[k].minimum;
        res[k] = (resource){ s->limits[i].key, s->limits[i].value, amount };
    }
    return 0;
}

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

/* Parameter names become shell case patterns and the steps' --param names: Python
 * allows non-ASCII identifiers, which this refuses rather than quote. */
static int check_param_names(const nb_pipeline *p, nb_diags *diags)
{
    for (size_t i = 0; i < p->nparams; i++) {
        const char *name = p->params[i].name;
        bool ok = name[0] && !(name[0] >= '0' && name[0] <= '9');
        for (const char *c = name; *c && ok; c++)
            ok = is_alnum(*c) || *c == '_';
        if (!ok) {
            nb_diag_add(diags, NB_ERROR, "bad-value", (nb_loc){ .file = p->notebook },
                        "parameter '%s' is not an ASCII identifier, which the SLURM submit "
                        "script needs", name);
            return -1;
        }
    }
    return 0;
}

static void sbatch_script(const nb_pipeline *p, const nb_step *s, const char *pipeline,
                          const resource res[RES_COUNT], nb_buf *b)
{
    nb_buf_puts(b, "#!/bin/bash\n");
    nb_emit_header(b, p, "#");
    /* directives: sbatch reads #SBATCH lines up to the first command */
    nb_buf_printf(b, "#SBATCH --job-name=%s-%s\n", pipeline, s->name);
    /* relative to the working directory; submit.sh puts them in the run directory */
    nb_buf_printf(b, "#SBATCH --output=%s-%s-%%j.out\n", pipeline, s->name);
    nb_buf_printf(b, "#SBATCH --error=%s-%s-%%j.err\n", pipeline, s->name);
    if (res[RES_CPU].key)
        nb_buf_printf(b, "#SBATCH --cpus-per-task=%llu\n", (unsigned long long)res[RES_CPU].amount);
    if (res[RES_MEMORY].key) {
        nb_buf_puts(b, "#SBATCH --mem=");
        mem_value(b, res[RES_MEMORY].amount);
        nb_buf_putc(b, '\n');
    }
    if (res[RES_GPU].key && res[RES_GPU].amount)
        nb_buf_printf(b, "#SBATCH --gres=gpu:%llu\n", (unsigned long long)res[RES_GPU].amount);
    nb_buf_printf(b, "#\n"
                     "# Step %s as one SLURM job, run in the pipeline directory (the parent of\n"
                     "# slurm/) with the run directory as first argument; the other arguments go\n"
                     "# to the step. slurm/submit.sh submits it like this:\n"
                     "#   sbatch --chdir=PIPELINE_DIR slurm/%s.sbatch RUN_DIR [--param NAME=VALUE]...\n",
                  s->name, s->name);
    bool any = false;
    for (size_t k = 0; k < RES_COUNT; k++) {
        if (!res[k].key)
            continue;
        /* keys are the known ones and quantities are digits and a unit: no escaping */
        nb_buf_printf(b, "%s%s %s", any ? ", " : "# Resources from limit: tags: ", res[k].key,
                      res[k].quantity);
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

/* NAME=VALUE with VALUE quoted as a shell word. shellcheck takes a single-quoted `$(`
 * or `$x` for a mistake (SC2016); here it is the value's own text, so say so. */
static void literal_assignment(nb_buf *b, const char *name, const char *value)
{
    if (strpbrk(value, "$`"))
        nb_buf_puts(b, "# shellcheck disable=SC2016 # the quoted $ and ` are part of the value\n");
    nb_buf_printf(b, "%s=", name);
    sh_word(b, value);
    nb_buf_putc(b, '\n');
}

static void param_list(const nb_pipeline *p, nb_buf *b, const char *sep)
{
    for (size_t i = 0; i < p->nparams; i++)
        nb_buf_printf(b, "%s%s", i ? sep : "", p->params[i].name);
}

/* True when step I is upstream of a later step (whose submission needs its job id). */
static bool is_upstream(const nb_pipeline *p, size_t i)
{
    for (size_t j = i + 1; j < p->nsteps; j++)
        for (size_t u = 0; u < p->steps[j].nupstream; u++)
            if (p->steps[j].upstream[u] == i)
                return true;
    return false;
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
    literal_assignment(b, "DATA_ROOT", nb_emit_data_root(opts));
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
        if (is_upstream(p, i))
            nb_buf_printf(b, "job_%s=$JOB_ID\n", s->name);
    }
}

/* Marks the file whose buffer is B as executable. */
static void set_executable(nb_fileset *fs, const nb_buf *b)
{
    for (size_t i = 0; i < fs->len; i++)
        if (&fs->files[i].data == b)
            fs->files[i].executable = true;
}

int nb_emit_slurm(const nb_pipeline *p, const nb_emit_opts *opts, nb_fileset *fs, nb_diags *diags)
{
    if (check_param_names(p, diags) != 0)
        return -1;
    nb_buf pipeline = NB_BUF_INIT, path = NB_BUF_INIT;
    safe_name(nb_emit_name(p, opts), PIPELINE_NAME_MAX, &pipeline);
    int status = 0;
    for (size_t i = 0; i < p->nsteps && status == 0; i++) {
        resource res[RES_COUNT];
        status = step_resources(p, &p->steps[i], res, diags);
        if (status != 0)
            break;
        nb_buf_reset(&path);
        nb_buf_printf(&path, "slurm/%s.sbatch", p->steps[i].name);
        sbatch_script(p, &p->steps[i], pipeline.data, res, nb_fileset_add(fs, path.data));
    }
    if (status == 0) {
        nb_buf *submit = nb_fileset_add(fs, "slurm/submit.sh");
        submit_script(p, opts, pipeline.data, submit);
        set_executable(fs, submit);
    }
    nb_buf_release(&pipeline);
    nb_buf_release(&path);
    return status;
}
