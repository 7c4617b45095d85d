/* The commands of the local runner: run, status, runs, restore, gc. */
#include "nb2pipe/cli.h"

#include "cli_private.h"

#include "nb2pipe/alloc.h"
#include "nb2pipe/restore.h"
#include "nb2pipe/runner.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool parse_count(const char *text, long min, long *out)
{
    char *end;
    errno = 0;
    long value = strtol(text, &end, 10);
    if (errno || end == text || *end || value < min)
        return false;
    *out = value;
    return true;
}

/* ---- run and status ------------------------------------------------------------------ */

static const char run_help[] =
    "usage: nb2pipe run [options] [DIR]\n"
    "\n"
    "Run the pipeline that `nb2pipe convert` wrote into DIR (default: the current\n"
    "directory) on this machine. Steps run in dependency order, as many at once as -j\n"
    "allows, each in its own process with its own log (DIR/.nb2pipe/logs/run-ID/). A step\n"
    "runs only when its code, the parameters it reads, the content of its inputs or the\n"
    "Python changed since it last succeeded, or its outputs are gone or changed; else it\n"
    "is up to date. A failing step stops the steps after it; independent ones finish.\n"
    "Every run is recorded in DIR/.nb2pipe/runs.sqlite and every output kept by content\n"
    "hash in DIR/.nb2pipe/objects (see nb2pipe runs, restore, gc).\n"
    "\n"
    "options:\n"
    "  -j, --jobs N         steps at once (default: the number of processors)\n"
    "  --only STEP          run just this step (repeatable)\n"
    "  --from STEP          run this step and the steps downstream of it\n"
    "  --until STEP         run this step and the steps upstream of it\n"
    "  --force              run the selected steps even when up to date\n"
    "  --fail-fast          on the first failure, stop the steps still running\n"
    "  --param NAME=VALUE   override a pipeline parameter (repeatable)\n"
    "  --python PATH        the Python to run steps with (default /usr/bin/python3)\n"
    "  --no-record          neither read nor write run records: every selected step runs\n"
    "  --no-warm            start a fresh Python for every step instead of forking it\n"
    "                       from the run's warm interpreter (which imported the steps'\n"
    "                       modules once)\n"
    "  --wait               wait for another run of this pipeline to end instead of failing\n"
    "  --strict             fail a step when the guard finds a value it changed in place\n"
    "                       that it does not save (a warning otherwise)\n"
    "  --no-guard           do not check the inputs steps change (saves a little time)\n"
    "  --json               one JSON event per line on stdout instead of text\n"
    "  -q, --quiet          print nothing but failures\n"
    "  -h, --help           show this help\n"
    "\n"
    "exit status: 0 every selected step succeeded or was up to date; 1 a step failed;\n"
    "2 bad usage, no pipeline, or the pipeline is being run; 130 interrupted\n";

static const char status_help[] =
    "usage: nb2pipe status [options] [DIR]\n"
    "\n"
    "Show, for each step of the pipeline in DIR, whether `nb2pipe run` would find it up\n"
    "to date, stale (and why: code, parameters, upstream output, python, outputs\n"
    "changed), or never ran. Runs nothing.\n"
    "\n"
    "options:\n"
    "  --param NAME=VALUE   judge as a run with this parameter would (repeatable)\n"
    "  --python PATH        judge as a run with this Python would\n"
    "  --json               a JSON array instead of text\n"
    "  -h, --help           show this help\n";

enum {
    OPT_PARAM = 256,
    OPT_PYTHON,
    OPT_ONLY,
    OPT_FROM,
    OPT_UNTIL,
    OPT_FORCE,
    OPT_FAIL_FAST,
    OPT_NO_RECORD,
    OPT_NO_WARM,
    OPT_WAIT,
    OPT_JSON,
    OPT_RUN,
    OPT_NOTEBOOK,
    OPT_KEEP,
    OPT_STRICT,
    OPT_NO_GUARD,
};

static const struct option run_options[] = {
    { "jobs", required_argument, NULL, 'j' },
    { "only", required_argument, NULL, OPT_ONLY },
    { "from", required_argument, NULL, OPT_FROM },
    { "until", required_argument, NULL, OPT_UNTIL },
    { "force", no_argument, NULL, OPT_FORCE },
    { "fail-fast", no_argument, NULL, OPT_FAIL_FAST },
    { "param", required_argument, NULL, OPT_PARAM },
    { "python", required_argument, NULL, OPT_PYTHON },
    { "no-record", no_argument, NULL, OPT_NO_RECORD },
    { "no-warm", no_argument, NULL, OPT_NO_WARM },
    { "wait", no_argument, NULL, OPT_WAIT },
    { "strict", no_argument, NULL, OPT_STRICT },
    { "no-guard", no_argument, NULL, OPT_NO_GUARD },
    { "json", no_argument, NULL, OPT_JSON },
    { "quiet", no_argument, NULL, 'q' },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
};

/* Parses the options of run (STATUS false) or status; returns -1 to go on, else the
 * exit status. PARAMS and ONLY have room for argc entries. */
static int parse_run_options(int argc, char **argv, bool status_only, nb_run_opts *ro,
                             const char **params, const char **only)
{
    const char *command = status_only ? "status " : "run ";
    const char *help = status_only ? status_help : run_help;
    int opt, status = -1;
    long jobs = 0;
    while (status < 0 && (opt = getopt_long(argc, argv, "j:qh", run_options, NULL)) != -1) {
        bool run_only = opt != OPT_PARAM && opt != OPT_PYTHON && opt != OPT_JSON && opt != 'h';
        if (status_only && run_only) {
            status = usage_error(command, "unknown option '%s'", argv[optind - 1]);
            break;
        }
        switch (opt) {
        case 'j':
            if (!parse_count(optarg, 1, &jobs) || jobs > 1024)
                status = usage_error(command, "invalid --jobs '%s' (1 to 1024)", optarg);
            ro->jobs = (int)jobs;
            break;
        case OPT_ONLY: only[ro->nonly++] = optarg; break;
        case OPT_FROM: ro->from = optarg; break;
        case OPT_UNTIL: ro->until = optarg; break;
        case OPT_FORCE: ro->force = true; break;
        case OPT_FAIL_FAST: ro->fail_fast = true; break;
        case OPT_PARAM: params[ro->nparams++] = optarg; break;
        case OPT_PYTHON: ro->python = optarg; break;
        case OPT_NO_RECORD: ro->no_record = true; break;
        case OPT_NO_WARM: ro->no_warm = true; break;
        case OPT_WAIT: ro->wait = true; break;
        case OPT_STRICT: ro->strict = true; break;
        case OPT_NO_GUARD: ro->no_guard = true; break;
        case OPT_JSON: ro->json = true; break;
        case 'q': ro->quiet = true; break;
        case 'h': fputs(help, stdout); status = NB_EXIT_OK; break;
        default: status = usage_error(command, "unknown option '%s'", argv[optind - 1]); break;
        }
    }
    if (status < 0 && argc - optind > 1)
        status = usage_error(command, "%s takes at most one DIR", status_only ? "status" : "run");
    if (status < 0 && optind < argc)
        ro->dir = argv[optind];
    ro->params = params;
    ro->only = only;
    return status;
}

int cmd_run(cli *c, int argc, char **argv)
{
    nb_run_opts ro = { .dir = "." };
    const char **params = nb_xcalloc((size_t)argc + 1, sizeof *params);
    const char **only = nb_xcalloc((size_t)argc + 1, sizeof *only);
    int status = parse_run_options(argc, argv, false, &ro, params, only);
    if (status < 0) {
        int rc = nb_run(&ro, &c->diags, stdout);
        flush_diags(c);
        status = rc == NB_RUN_ERROR ? NB_EXIT_BAD : rc;
    }
    free(params);
    free(only);
    return status;
}

int cmd_status(cli *c, int argc, char **argv)
{
    nb_run_opts ro = { .dir = "." };
    const char **params = nb_xcalloc((size_t)argc + 1, sizeof *params);
    const char **only = nb_xcalloc((size_t)argc + 1, sizeof *only);
    int status = parse_run_options(argc, argv, true, &ro, params, only);
    if (status < 0) {
        status = nb_run_status(&ro, &c->diags, stdout) == 0 ? NB_EXIT_OK : NB_EXIT_BAD;
        flush_diags(c);
    }
    free(params);
    free(only);
    return status;
}

/* ---- runs, restore, gc ------------------------------------------------------------------ */

static const char runs_help[] =
    "usage: nb2pipe runs [--json] [DIR]\n"
    "\n"
    "List the recorded runs of the pipeline in DIR: id, start, duration, status, how many\n"
    "steps ran, were up to date, failed or were skipped, and the parameters given.\n";

static const char restore_help[] =
    "usage: nb2pipe restore STEP [--run ID] [--notebook OUT.ipynb] [DIR]\n"
    "\n"
    "Put the inputs STEP had in run ID (default: the newest run) back into DIR/output, from\n"
    "the snapshots the runs kept, so that `nb2pipe run --from STEP` resumes there. Prints\n"
    "that command with the run's parameters.\n"
    "\n"
    "options:\n"
    "  --run ID             the run (nb2pipe runs lists them)\n"
    "  --notebook OUT       also write a notebook with STEP's code whose first cell loads\n"
    "                       exactly those inputs, to debug the step interactively\n"
    "  --wait               wait for a run in progress instead of failing\n"
    "  -h, --help           show this help\n";

static const char gc_help[] =
    "usage: nb2pipe gc [--keep N] [DIR]\n"
    "\n"
    "Forget all but the newest N runs (default 5) of the pipeline in DIR, and delete the\n"
    "snapshots and logs only they used. The newest successful run is always kept.\n";

static const struct option history_options[] = {
    { "json", no_argument, NULL, OPT_JSON },
    { "run", required_argument, NULL, OPT_RUN },
    { "notebook", required_argument, NULL, OPT_NOTEBOOK },
    { "keep", required_argument, NULL, OPT_KEEP },
    { "wait", no_argument, NULL, OPT_WAIT },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
};

typedef struct history_args {
    const char *dir;
    const char *step;
    bool json, wait;
    long run, keep;
    const char *notebook;
} history_args;

/* Parses runs/restore/gc options: ALLOWED names the long options the command takes;
 * with NEEDS_STEP the first operand is a step name. Returns -1 to go on. */
static int parse_history(int argc, char **argv, const char *command, const char *help,
                         const char *allowed, bool needs_step, history_args *a)
{
    int opt, status = -1, index = 0;
    a->dir = ".";
    a->keep = 5;
    while (status < 0 && (opt = getopt_long(argc, argv, "h", history_options, &index)) != -1) {
        if (opt != 'h' && opt != '?' && !strstr(allowed, history_options[index].name))
            opt = '?';
        switch (opt) {
        case OPT_JSON: a->json = true; break;
        case OPT_WAIT: a->wait = true; break;
        case OPT_NOTEBOOK: a->notebook = optarg; break;
        case OPT_RUN:
            if (!parse_count(optarg, 1, &a->run))
                status = usage_error(command, "invalid --run '%s'", optarg);
            break;
        case OPT_KEEP:
            if (!parse_count(optarg, 0, &a->keep))
                status = usage_error(command, "invalid --keep '%s'", optarg);
            break;
        case 'h': fputs(help, stdout); status = NB_EXIT_OK; break;
        default: status = usage_error(command, "unknown option '%s'", argv[optind - 1]); break;
        }
    }
    if (status >= 0)
        return status;
    if (needs_step && optind >= argc)
        return usage_error(command, "missing STEP");
    if (needs_step)
        a->step = argv[optind++];
    if (argc - optind > 1)
        return usage_error(command, "too many arguments");
    if (optind < argc)
        a->dir = argv[optind];
    return -1;
}

int cmd_runs(cli *c, int argc, char **argv)
{
    history_args a = { 0 };
    int status = parse_history(argc, argv, "runs ", runs_help, "json", false, &a);
    if (status < 0) {
        status = nb_list_runs(a.dir, a.json, &c->diags, stdout) == 0 ? NB_EXIT_OK : NB_EXIT_BAD;
        flush_diags(c);
    }
    return status;
}

int cmd_restore(cli *c, int argc, char **argv)
{
    history_args a = { 0 };
    int status = parse_history(argc, argv, "restore ", restore_help, "run notebook wait", true, &a);
    if (status < 0) {
        nb_restore_opts o = {
            .dir = a.dir, .step = a.step, .run = a.run, .notebook = a.notebook, .wait = a.wait
        };
        status = nb_restore(&o, &c->diags, stdout) == 0 ? NB_EXIT_OK : NB_EXIT_BAD;
        flush_diags(c);
    }
    return status;
}

int cmd_gc(cli *c, int argc, char **argv)
{
    history_args a = { 0 };
    int status = parse_history(argc, argv, "gc ", gc_help, "keep", false, &a);
    if (status < 0) {
        status = nb_gc_runs(a.dir, a.keep, &c->diags, stdout) == 0 ? NB_EXIT_OK : NB_EXIT_BAD;
        flush_diags(c);
    }
    return status;
}
