/* batch/: an AWS Batch job definition per step (batch/STEP.json, the input of
 * `aws batch register-job-definition --cli-input-json`) and batch/submit.sh, which
 * registers them and submits one job per step in dependency order, each with
 * --depends-on the jobs of its upstream steps.
 *
 * Parameters go through Batch's parameter substitution, whose documentation only shows
 * placeholders that are a whole command element: the command has "--param",
 * "Ref::param_NAME" and parameter param_NAME holds "NAME=VALUE" (its default from the
 * notebook), so nothing relies on substitution inside a longer string. The run
 * directory is parameter datadir ("--data-dir", "Ref::datadir").
 *
 * Data: the data root is a host volume mounted at the same path in every container
 * (platform EC2); the compute environment's instances must mount a shared filesystem
 * (EFS, FSx) there. To use EFS directly, replace the volume's "host" with an
 * "efsVolumeConfiguration".
 *
 * JSON has no comments: the generated-file notice is the default of parameter
 * "nb2pipe-notice", which no command refers to (a tag could not hold it: AWS limits tag
 * values to 256 characters and, across services, to letters, digits, spaces and
 * + - = . _ : / @), and tag generated-by=nb2pipe marks the definition. */
#include "nb2pipe/emit.h"

#include "nb2pipe/writer.h"

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Longest pipeline part of a name: with "-" and a 48-character step name it stays
 * within Batch's 128 characters for job and job definition names. */
enum { PIPELINE_NAME_MAX = 64 };

/* Resources when a step has no limit: tag: Batch needs vCPUs and memory for every
 * container job (MEMORY in MiB). */
static const char default_vcpus[] = "1", default_memory_mib[] = "2048";

static void sh_word(nb_buf *b, const char *s)
{
    nb_write_sh_word(b, s, strlen(s));
}

/* One `limit:` resource as a Batch resourceRequirement. */
enum { RESOURCE_KINDS = 3 };

static const nb_whole_resource resource_kinds[RESOURCE_KINDS] = {
    /* whole vCPUs: on EC2 Batch takes no fractions, so 500m asks for 1 */
    { "cpu", 1, 1 },
    /* MiB; Batch refuses less than 4 */
    { "memory", 1ULL << 20, 4 },
    /* whole GPUs; 0 asks for none and writes no requirement */
    { "nvidia.com/gpu", 1, 0 },
};

/* Batch's resource type of each of resource_kinds. */
static const char *const resource_types[RESOURCE_KINDS] = { "VCPU", "MEMORY", "GPU" };

/* The step's resourceRequirements: from its limit: tags, defaults for vCPUs and memory.
 * NULL after recording an error. */
static json_t *resources_json(const nb_pipeline *p, const nb_step *s, nb_diags *diags)
{
    const char *values[RESOURCE_KINDS] = { default_vcpus, default_memory_mib, NULL };
    char amounts[RESOURCE_KINDS][24];
    nb_whole_amount res[RESOURCE_KINDS];
    if (nb_emit_whole_resources(p, s, "AWS Batch", resource_kinds, RESOURCE_KINDS, res, diags) != 0)
        return NULL;
    for (size_t k = 0; k < RESOURCE_KINDS; k++) {
        if (!res[k].limit)
            continue;
        snprintf(amounts[k], sizeof amounts[k], "%llu", (unsigned long long)res[k].amount);
        values[k] = res[k].amount ? amounts[k] : NULL;
    }
    json_t *list = json_array();
    for (size_t k = 0; k < RESOURCE_KINDS; k++) {
        if (!values[k])
            continue;
        json_array_append_new(list, json_pack("{s:s, s:s}", "type", resource_types[k],
                                              "value", values[k]));
    }
    return list;
}

/* A JSON string of notebook text, or NULL with an error when it is not UTF-8 (a Python
 * string with a lone surrogate). */
static json_t *text_json(nb_loc loc, const char *what, const char *text, nb_diags *diags)
{
    json_t *s = json_string(text);
    if (!s)
        nb_diag_add(diags, NB_ERROR, "bad-value", loc, "%s is not valid UTF-8, which AWS Batch needs",
                    what);
    return s;
}

/* The parameters' defaults: the notice, the run directory, "NAME=VALUE" per parameter
 * the step reads. NULL after an error. */
static json_t *parameters_json(const nb_pipeline *p, const nb_step *s, const nb_emit_opts *opts,
                               nb_diags *diags)
{
    /* a job submitted without submit.sh writes straight into the data root */
    json_t *root = text_json((nb_loc){ 0 }, "--data-root", nb_emit_data_root(opts), diags);
    if (!root)
        return NULL;
    json_t *params = json_object();
    nb_buf text = NB_BUF_INIT, key = NB_BUF_INIT;
    nb_emit_header(&text, p, "");
    /* without the empty comment marker's space and the newline */
    json_t *notice = json_stringn(text.data + 1, text.len - 2);
    json_object_set_new(params, "nb2pipe-notice", notice ? notice : json_string("nb2pipe"));
    json_object_set_new(params, "datadir", root);
    for (size_t i = 0; i < s->nparams && params; i++) {
        const nb_param *param = &p->params[s->params[i]];
        nb_buf_reset(&key);
        nb_buf_printf(&key, "param_%s", param->name);
        nb_buf_reset(&text);
        nb_buf_printf(&text, "%s=", param->name);
        nb_loc loc = nb_emit_loc(p, param->cell, param->line);
        json_t *value = NULL;
        if (!nb_emit_param_text(param, &text))
            nb_diag_add(diags, NB_ERROR, "bad-value", loc, "parameter '%s': default '%s' cannot "
                        "be passed as text the step reads back; write it as a plain decimal "
                        "number", param->name, param->python);
        else
            value = text_json(loc, "a parameter's default", text.data, diags);
        if (value) {
            json_object_set_new(params, key.data, value);
        } else {
            json_decref(params);
            params = NULL;
        }
    }
    nb_buf_release(&key);
    nb_buf_release(&text);
    return params;
}

/* python3 steps/STEP.py --data-dir Ref::datadir [--param Ref::param_NAME]... */
static json_t *command_json(const nb_pipeline *p, const nb_step *s)
{
    nb_buf text = NB_BUF_INIT;
    nb_step_script_path(s, &text);
    json_t *command = json_pack("[s, s, s, s]", "python3", text.data, "--data-dir", "Ref::datadir");
    for (size_t i = 0; i < s->nparams; i++) {
        nb_buf_reset(&text);
        nb_buf_printf(&text, "Ref::param_%s", p->params[s->params[i]].name);
        json_array_append_new(command, json_string("--param"));
        json_array_append_new(command, json_string(text.data));
    }
    nb_buf_release(&text);
    return command;
}

/* The whole RegisterJobDefinition input of step S. NULL after an error. */
static json_t *job_definition(const nb_pipeline *p, const nb_step *s, const nb_emit_opts *opts,
                              const char *pipeline, nb_diags *diags)
{
    json_t *params = parameters_json(p, s, opts, diags);
    json_t *resources = params ? resources_json(p, s, diags) : NULL;
    nb_buf image = NB_BUF_INIT;
    if (s->image)
        nb_buf_puts(&image, s->image);
    else
        nb_emit_image(p, opts, &image);
    nb_loc image_loc = s->image ? nb_emit_loc(p, s->image_cell, 0) : (nb_loc){ 0 };
    json_t *image_json = resources ? text_json(image_loc, "the image name", image.data, diags) : NULL;
    nb_buf_release(&image);
    if (!image_json) {
        json_decref(params);
        json_decref(resources);
        return NULL;
    }
    const char *data_root = nb_emit_data_root(opts);
    json_t *container = json_object();
    json_object_set_new(container, "image", image_json);
    json_object_set_new(container, "command", command_json(p, s));
    json_object_set_new(container, "resourceRequirements", resources);
    json_object_set_new(container, "volumes",
                        json_pack("[{s:s, s:{s:s}}]", "name", "nb2pipe-data", "host",
                                  "sourcePath", data_root));
    json_object_set_new(container, "mountPoints",
                        json_pack("[{s:s, s:s, s:b}]", "sourceVolume", "nb2pipe-data",
                                  "containerPath", data_root, "readOnly", 0));

    nb_buf name = NB_BUF_INIT;
    nb_buf_printf(&name, "%s-%s", pipeline, s->name);
    json_t *def = json_object();
    /* the notice (in parameters) comes before any notebook text: the file's seal is
     * the first seal-shaped text in it */
    json_object_set_new(def, "jobDefinitionName", json_string(name.data));
    json_object_set_new(def, "type", json_string("container"));
    json_object_set_new(def, "parameters", params);
    /* host volumes need EC2 (Fargate has none) */
    json_object_set_new(def, "platformCapabilities", json_pack("[s]", "EC2"));
    json_object_set_new(def, "containerProperties", container);
    json_object_set_new(def, "tags", json_pack("{s:s}", "generated-by", "nb2pipe"));
    nb_buf_release(&name);
    return def;
}

/* The data root is a mount point in containers, and parameter names are shell
 * variable names in submit.sh: refuse what cannot be either. */
static int check_inputs(const nb_pipeline *p, const nb_emit_opts *opts, nb_diags *diags)
{
    const char *root = nb_emit_data_root(opts);
    if (root[0] != '/') {
        nb_diag_add(diags, NB_ERROR, "bad-value", (nb_loc){ 0 },
                    "--data-root '%s' is not an absolute path, which AWS Batch mounts need",
                    root);
        return -1;
    }
    return nb_emit_check_ascii_params(p, "the AWS Batch submit script", diags);
}

/* ---- submit.sh ------------------------------------------------------------------- */

/* die, and json_string: JSON from bash alone (no python or jq where the aws CLI runs),
 * quotes, backslashes and control characters escaped. The functions set variables
 * instead of printing: bash does not stop on errors inside $(...). */
static const char submit_functions[] =
    "set -euo pipefail\n"
    "\n"
    "die() {\n"
    "    printf 'submit.sh: %s\\n' \"$1\" >&2\n"
    "    exit 2\n"
    "}\n"
    "\n"
    "# json_string TEXT: sets JSON to TEXT as a JSON string\n"
    "json_string() {\n"
    "    local text=$1 c code i\n"
    "    JSON='\"'\n"
    "    for ((i = 0; i < ${#text}; i++)); do\n"
    "        c=${text:i:1}\n"
    "        case $c in\n"
    "            \\\" | \\\\) JSON+=\"\\\\$c\" ;;\n"
    "            *)\n"
    "                printf -v code '%d' \"'$c\"\n"
    "                if [ \"$code\" -ge 0 ] && [ \"$code\" -lt 32 ]; then\n"
    "                    printf -v c '\\\\u%04x' \"$code\"\n"
    "                fi\n"
    "                JSON+=$c\n"
    "                ;;\n"
    "        esac\n"
    "    done\n"
    "    JSON+='\"'\n"
    "}\n"
    "\n";

/* Used when some step reads parameters. */
static const char submit_parameters_json[] =
    "# parameters_json NAME...: sets PARAMETERS to the --parameters JSON of a job: the run\n"
    "# directory, and the parameters NAME... given with --param\n"
    "parameters_json() {\n"
    "    local name given value\n"
    "    json_string \"$RUN_DIR\"\n"
    "    PARAMETERS=\"{\\\"datadir\\\": $JSON\"\n"
    "    for name in \"$@\"; do\n"
    "        given=given_$name\n"
    "        value=value_$name\n"
    "        if [ -n \"${!given:-}\" ]; then\n"
    "            json_string \"$name=${!value}\"\n"
    "            PARAMETERS+=\", \\\"param_$name\\\": $JSON\"\n"
    "        fi\n"
    "    done\n"
    "    PARAMETERS+='}'\n"
    "}\n"
    "\n";

/* Parameters given to submit.sh live in value_NAME, with given_NAME set. */
static const char submit_param_functions[] =
    "# set_param NAME=VALUE: records a --param\n"
    "set_param() {\n"
    "    case $1 in\n"
    "        *=*) ;;\n"
    "        *) die \"--param expects NAME=VALUE, not '$1'\" ;;\n"
    "    esac\n"
    "    check_name \"${1%%=*}\"\n"
    "    printf -v \"value_${1%%=*}\" '%s' \"${1#*=}\"\n"
    "    printf -v \"given_${1%%=*}\" '%s' yes\n"
    "}\n"
    "\n";

static const char submit_arguments_tail[] =
    "        --job-queue)\n"
    "            [ $# -ge 2 ] || die '--job-queue needs a queue'\n"
    "            JOB_QUEUE=$2\n"
    "            shift 2\n"
    "            ;;\n"
    "        --job-queue=*)\n"
    "            JOB_QUEUE=${1#--job-queue=}\n"
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
    "[ -n \"$JOB_QUEUE\" ] || die 'no job queue: give --job-queue QUEUE or set JOB_QUEUE'\n"
    /* generated at submit time: every submission gets its own directory */
    "RUN_ID=$PIPELINE-$(date -u +%Y%m%dT%H%M%SZ)-$$\n"
    "RUN_DIR=$DATA_ROOT/$RUN_ID\n"
    "\n";

/* register and submit; no command substitution around them: bash would not stop there
 * on errors. */
static const char submit_steps_functions[] =
    "# register STEP: registers batch/STEP.json (from batch/: the CLI expands $VARS and ~\n"
    "# in file:// paths) and sets DEFINITION to the new revision's ARN\n"
    "register() {\n"
    "    DEFINITION=$(cd -- \"$SCRIPT_DIR\" && aws batch register-job-definition \\\n"
    "        --cli-input-json \"file://$1.json\" --query jobDefinitionArn --output text)\n"
    "    [ -n \"$DEFINITION\" ] || die \"no job definition ARN for step $1\"\n"
    "}\n"
    "\n"
    "# submit STEP DEFINITION PARAMETERS [JOB_ID]...: submits a job of STEP that waits for\n"
    "# the jobs given, sets JOB_ID and prints it\n"
    "submit() {\n"
    "    local step=$1 definition=$2 parameters=$3 depends=() id\n"
    "    shift 3\n"
    "    if [ $# -gt 0 ]; then\n"
    "        depends=(--depends-on)\n"
    "        for id in \"$@\"; do\n"
    "            depends+=(\"jobId=$id\")\n"
    "        done\n"
    "    fi\n"
    "    JOB_ID=$(aws batch submit-job --job-name \"$PIPELINE-$step\" --job-queue \"$JOB_QUEUE\" \\\n"
    "        --job-definition \"$definition\" ${depends[@]+\"${depends[@]}\"} \\\n"
    "        --parameters \"$parameters\" --query jobId --output text)\n"
    "    [ -n \"$JOB_ID\" ] || die \"no job id for step $step\"\n"
    "    printf '%s: job %s\\n' \"$step\" \"$JOB_ID\"\n"
    "}\n"
    "\n";

static void param_list(const nb_pipeline *p, nb_buf *b, const char *sep)
{
    for (size_t i = 0; i < p->nparams; i++)
        nb_buf_printf(b, "%s%s", i ? sep : "", p->params[i].name);
}

/* NAME=VALUE with VALUE quoted as a shell word. shellcheck takes a single-quoted `$(`
 * or `$x` for a mistake (SC2016); here it is the value's own text, so say so. */
static void submit_usage(const nb_pipeline *p, nb_buf *b)
{
    nb_buf_puts(b, "usage() {\n"
                   "    echo 'usage: submit.sh --job-queue QUEUE [--param NAME=VALUE]...'\n");
    if (p->nparams) {
        nb_buf_puts(b, "    echo 'parameters: ");
        param_list(p, b, " ");
        nb_buf_puts(b, "'\n");
    }
    nb_buf_puts(b, "}\n\n");
    if (p->nparams == 0)
        return;
    nb_buf_puts(b, "check_name() {\n"
                   "    case $1 in\n"
                   "        ");
    param_list(p, b, " | ");
    nb_buf_puts(b, ") ;;\n"
                   "        *) die \"unknown parameter '$1' (parameters: ");
    param_list(p, b, " ");
    nb_buf_puts(b, ")\" ;;\n"
                   "    esac\n"
                   "}\n"
                   "\n");
    nb_buf_puts(b, submit_param_functions);
}

static void submit_script(const nb_pipeline *p, const nb_emit_opts *opts, const char *pipeline,
                          nb_buf *b)
{
    nb_buf_puts(b, "#!/bin/bash\n");
    nb_emit_header(b, p, "#");
    nb_buf_printf(b, "# Registers the AWS Batch job definitions of pipeline %s (batch/STEP.json)\n"
                     "# and submits one job per step, each depending on the jobs of its upstream\n"
                     "# steps. Steps share data through the data root, a host path mounted into\n"
                     "# every container: the compute environment's instances must mount a shared\n"
                     "# filesystem (EFS, FSx) there. Each submission writes into a new run\n"
                     "# directory DATA_ROOT/%s-DATE-PID.\n"
                     "#\n"
                     "#   batch/submit.sh --job-queue QUEUE [--param NAME=VALUE]...\n"
                     "#   (or JOB_QUEUE=QUEUE in the environment; AWS_PROFILE, AWS_REGION as usual)\n"
                     "#\n"
                     "# A job's --parameters are JSON (the CLI's k=v,k=v shorthand breaks on values\n"
                     "# with commas or '='): datadir, and param_NAME=\"NAME=VALUE\" for each --param\n"
                     "# the step reads; the others keep the job definition's defaults. Prints\n"
                     "# the run directory and each step's job id. Needs bash 3.2 or later.\n",
                  pipeline, pipeline);
    nb_buf_puts(b, submit_functions);
    bool any_params = false;
    for (size_t i = 0; i < p->nsteps; i++)
        any_params = any_params || p->steps[i].nparams;
    if (any_params)
        nb_buf_puts(b, submit_parameters_json);
    else
        nb_buf_puts(b, "# parameters_json: sets PARAMETERS to the --parameters JSON of a job\n"
                       "parameters_json() {\n"
                       "    json_string \"$RUN_DIR\"\n"
                       "    PARAMETERS=\"{\\\"datadir\\\": $JSON}\"\n"
                       "}\n"
                       "\n");
    submit_usage(p, b);
    nb_buf_puts(b, "PIPELINE=");
    sh_word(b, pipeline);
    nb_buf_putc(b, '\n');
    nb_write_sh_assignment(b, "DATA_ROOT", nb_emit_data_root(opts));
    nb_buf_puts(b, "SCRIPT_DIR=$(cd -- \"$(dirname -- \"${BASH_SOURCE[0]}\")\" && pwd -P)\n"
                   "JOB_QUEUE=${JOB_QUEUE:-}\n"
                   "while [ $# -gt 0 ]; do\n"
                   "    case $1 in\n");
    if (p->nparams)
        nb_buf_puts(b, "        --param)\n"
                       "            [ $# -ge 2 ] || die '--param needs NAME=VALUE'\n"
                       "            set_param \"$2\"\n"
                       "            shift 2\n"
                       "            ;;\n"
                       "        --param=*)\n"
                       "            set_param \"${1#--param=}\"\n"
                       "            shift\n"
                       "            ;;\n");
    else
        nb_buf_puts(b, "        --param | --param=*)\n"
                       "            die 'the pipeline has no parameters'\n"
                       "            ;;\n");
    nb_buf_puts(b, submit_arguments_tail);
    nb_buf_puts(b, submit_steps_functions);
    for (size_t i = 0; i < p->nsteps; i++)
        nb_buf_printf(b, "register %s\ndefinition_%s=$DEFINITION\n", p->steps[i].name,
                      p->steps[i].name);
    nb_buf_puts(b, "printf 'run directory: %s\\n' \"$RUN_DIR\"\n");
    for (size_t i = 0; i < p->nsteps; i++) {
        const nb_step *s = &p->steps[i];
        nb_buf_puts(b, "parameters_json");
        for (size_t k = 0; k < s->nparams; k++)
            nb_buf_printf(b, " %s", p->params[s->params[k]].name);
        nb_buf_printf(b, "\nsubmit %s \"$definition_%s\" \"$PARAMETERS\"", s->name, s->name);
        for (size_t u = 0; u < s->nupstream; u++)
            nb_buf_printf(b, " \"$job_%s\"", p->steps[s->upstream[u]].name);
        nb_buf_putc(b, '\n');
        if (nb_pipeline_has_dependents(p, i))
            nb_buf_printf(b, "job_%s=$JOB_ID\n", s->name);
    }
}

int nb_emit_batch(const nb_pipeline *p, const nb_emit_opts *opts, nb_fileset *fs, nb_diags *diags)
{
    if (check_inputs(p, opts, diags) != 0)
        return -1;
    nb_buf pipeline = NB_BUF_INIT, path = NB_BUF_INIT;
    nb_emit_job_name(nb_emit_name(p, opts), PIPELINE_NAME_MAX, &pipeline);
    int status = 0;
    for (size_t i = 0; i < p->nsteps && status == 0; i++) {
        json_t *def = job_definition(p, &p->steps[i], opts, pipeline.data, diags);
        if (!def) {
            status = -1;
            break;
        }
        char *text = json_dumps(def, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        json_decref(def);
        if (!text) {
            nb_diag_add(diags, NB_ERROR, "internal", (nb_loc){ .file = p->notebook },
                        "cannot encode the job definition of step '%s'", p->steps[i].name);
            status = -1;
            break;
        }
        nb_buf_reset(&path);
        nb_buf_printf(&path, "batch/%s.json", p->steps[i].name);
        nb_buf *out = nb_fileset_add(fs, path.data);
        nb_buf_puts(out, text);
        nb_buf_putc(out, '\n');
        free(text);
    }
    if (status == 0) {
        submit_script(p, opts, pipeline.data, nb_fileset_add_executable(fs, "batch/submit.sh"));
    }
    nb_buf_release(&pipeline);
    nb_buf_release(&path);
    return status;
}
