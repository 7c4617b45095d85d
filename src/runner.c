#include "nb2pipe/runner.h"

#include "spawn.h"
#include "zygote.h"

#include "nb2pipe/alloc.h"
#include "nb2pipe/buf.h"
#include "nb2pipe/fsout.h"
#include "nb2pipe/runplan.h"
#include "nb2pipe/runrec.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

typedef enum step_state {
    STEP_NOT_SELECTED, /* outside --only/--from/--until: its outputs are used as they are */
    STEP_WAITING,
    STEP_RUNNING,
    STEP_OK,
    STEP_UP_TO_DATE,
    STEP_FAILED,
    STEP_SKIPPED,     /* an upstream step failed, or the run stopped before it */
    STEP_INTERRUPTED, /* killed by Ctrl-C, SIGTERM or --fail-fast */
} step_state;

static const char *const state_names[] = {
    "not selected", "waiting", "running", "ok", "up-to-date", "failed", "skipped", "interrupted",
};

typedef struct step_run {
    step_state state;
    const char *reason; /* why it runs, or why it did not */
    const char *fresh;  /* why a warm run started it in a fresh process, or NULL */
    pid_t pid;          /* while running; also its process group */
    double began;       /* monotonic clock */
    double started;     /* wall clock */
    double duration;
    int exit_code;   /* -1 unless it exited */
    int signal;      /* the signal that killed it, or 0 */
    const char *log; /* path of its log */
    nb_fingerprint fingerprint;
    nb_output_record *outputs; /* what it left (ok, up-to-date) */
    size_t noutputs;
} step_run;

typedef struct runner {
    const nb_run_opts *opts;
    nb_diags *diags;
    FILE *out;
    nb_plan plan;
    step_run *steps;
    char *python;
    nb_runrec *rec; /* NULL with --no-record */
    long long run_id;
    char *logs_dir;
    int lock_fd;
    size_t running;
    int jobs;
    bool tty;           /* OUT is a terminal: keep a live status line */
    bool status_shown;  /* the live line is on screen */
    bool stopping;      /* start nothing new (interrupt, --fail-fast) */
    int interrupt;      /* the signal that interrupted the run, or 0 */
    double began;
    nb_zygote *zygote;  /* the warm interpreter, once a step had to run */
    bool warm_tried;    /* it was started (or could not be): do not try again */
    nb_pool pool;
} runner;

static double monotonic_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double wall_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char *pool_printf(nb_pool *pool, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static const char *pool_printf(nb_pool *pool, const char *fmt, ...)
{
    nb_buf text = NB_BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    nb_buf_vprintf(&text, fmt, ap);
    va_end(ap);
    const char *copy = nb_pool_strdup(pool, text.data);
    nb_buf_release(&text);
    return copy;
}

/* ---- is a step up to date? ---------------------------------------------------------------- */

/* Hashes the files step I leaves in the data directory into OUT (pool-allocated). When
 * one is missing, returns its path (relative to the data directory), else NULL. */
static const char *collect_outputs(runner *r, size_t i, nb_output_record **out, size_t *count)
{
    const nb_plan_step *step = &r->plan.steps[i];
    size_t n = step->noutputs + (step->has_metrics ? 1 : 0);
    nb_output_record *items = nb_pool_alloc(&r->pool, (n + 1) * sizeof *items);
    nb_buf path = NB_BUF_INIT;
    const char *missing = NULL;
    for (size_t k = 0; k < n && !missing; k++) {
        char *relative = nb_plan_output_path(step, k < step->noutputs ? step->outputs[k] : NULL);
        items[k].path = nb_pool_strdup(&r->pool, relative);
        nb_buf_reset(&path);
        nb_buf_printf(&path, "%s/%s", r->plan.data_dir, relative);
        struct stat st;
        if (stat(path.data, &st) != 0 || nb_hash_file(path.data, items[k].hash) != 0)
            missing = items[k].path;
        else
            items[k].size = (long long)st.st_size;
        free(relative);
    }
    nb_buf_release(&path);
    *out = items;
    *count = n;
    return missing;
}

/* Why the outputs of record PREV are no longer in the data directory, or NULL when
 * they all are, byte for byte. */
static const char *outputs_changed(runner *r, const nb_step_record *prev)
{
    nb_buf path = NB_BUF_INIT;
    const char *why = NULL;
    for (size_t k = 0; k < prev->noutputs && !why; k++) {
        nb_buf_reset(&path);
        nb_buf_printf(&path, "%s/%s", r->plan.data_dir, prev->outputs[k].path);
        char hash[NB_HASH_HEX];
        if (nb_hash_file(path.data, hash) != 0)
            why = pool_printf(&r->pool, "output %s is missing", prev->outputs[k].path);
        else if (strcmp(hash, prev->outputs[k].hash) != 0)
            why = pool_printf(&r->pool, "output %s was changed", prev->outputs[k].path);
    }
    nb_buf_release(&path);
    return why;
}

/* Decides whether step I must run: computes its fingerprint and compares it with the
 * newest successful record. Returns NULL when it is up to date (its outputs are then
 * in S->outputs), else the reason it must run. */
static const char *stale_reason(runner *r, size_t i)
{
    step_run *s = &r->steps[i];
    nb_plan_fingerprint(&r->plan, i, r->python, &s->fingerprint);
    if (!r->rec)
        return r->opts->no_record ? "--no-record" : "never ran";
    nb_step_record prev;
    long long prev_run;
    int found = nb_runrec_last_good(r->rec, r->plan.steps[i].name, 0, &r->pool, &prev, &prev_run,
                                    r->diags);
    if (found <= 0)
        return found < 0 ? "run records unreadable" : "never ran";
    const nb_fingerprint *now = &s->fingerprint, *then = &prev.fingerprint;
    if (strcmp(now->code, then->code) != 0)
        return "code changed";
    if (strcmp(now->params, then->params) != 0)
        return "parameters changed";
    if (strcmp(now->inputs, then->inputs) != 0)
        return now->inputs_missing ? "an input is missing" : "upstream output changed";
    if (strcmp(now->python, then->python) != 0)
        return "python changed";
    const char *changed = outputs_changed(r, &prev);
    if (changed)
        return changed;
    s->outputs = prev.outputs;
    s->noutputs = prev.noutputs;
    return NULL;
}

static int make_dir(const char *path)
{
    return mkdir(path, 0777) == 0 || errno == EEXIST ? 0 : -1;
}

/* The run cache. A stale step whose whole fingerprint (code, parameter values, input
 * bytes, python) equals that of an older successful record gets that record's outputs
 * back from the object store instead of running: setting a parameter back, or undoing
 * an edit, costs a copy, not a run. The step's record is read into *PREV; returns the
 * run it comes from, or 0 when there is none or one of its objects is gone (removed by
 * gc). A damaged object is found when it is restored: reported, and the step runs. */
static long long cached_record(runner *r, size_t i, nb_step_record *prev)
{
    long long run = 0;
    if (!r->rec || nb_runrec_same_fingerprint(r->rec, r->plan.steps[i].name,
                                              r->steps[i].fingerprint.whole, &r->pool, prev,
                                              &run, r->diags) != 1)
        return 0;
    for (size_t k = 0; k < prev->noutputs; k++)
        if (!nb_runrec_has_object(r->rec, prev->outputs[k].hash))
            return 0;
    return run;
}

/* Puts the outputs of PREV into the data directory; on success they become step I's. */
static int restore_cached_outputs(runner *r, size_t i, const nb_step_record *prev)
{
    nb_buf path = NB_BUF_INIT;
    int status = 0;
    for (size_t k = 0; k < prev->noutputs && status == 0; k++) {
        nb_buf_reset(&path);
        nb_buf_printf(&path, "%s/%s", r->plan.data_dir, prev->outputs[k].path);
        char *slash = strrchr(path.data, '/');
        *slash = '\0'; /* the step's directory may have been deleted */
        status = make_dir(path.data);
        *slash = '/';
        if (status == 0)
            status = nb_runrec_restore(r->rec, prev->outputs[k].hash, path.data, r->diags);
    }
    nb_buf_release(&path);
    if (status == 0) {
        r->steps[i].outputs = prev->outputs;
        r->steps[i].noutputs = prev->noutputs;
    }
    return status;
}

/* ---- progress --------------------------------------------------------------------------- */

static void clear_status_line(runner *r)
{
    if (r->status_shown) {
        fputs("\r\033[K", r->out);
        r->status_shown = false;
    }
}

/* The live line at the bottom of a terminal: counts, elapsed time, running steps. */
static void show_status_line(runner *r)
{
    if (!r->tty || r->opts->quiet || r->opts->json)
        return;
    size_t done = 0, waiting = 0, selected = 0;
    nb_buf line = NB_BUF_INIT, names = NB_BUF_INIT;
    for (size_t i = 0; i < r->plan.nsteps; i++) {
        step_state st = r->steps[i].state;
        selected += st != STEP_NOT_SELECTED;
        waiting += st == STEP_WAITING;
        done += st > STEP_RUNNING;
        if (st == STEP_RUNNING && names.len < 50)
            nb_buf_printf(&names, "%s%s", names.len ? ", " : "", r->plan.steps[i].name);
    }
    nb_buf_printf(&line, "[%zu/%zu done, %zu running, %zu waiting] %.1f s  %s", done, selected,
                  r->running, waiting, monotonic_seconds() - r->began, names.data);
    clear_status_line(r);
    fputs(line.data, r->out);
    fflush(r->out);
    r->status_shown = true;
    nb_buf_release(&line);
    nb_buf_release(&names);
}

static void json_event(runner *r, json_t *event)
{
    if (r->run_id > 0)
        json_object_set_new(event, "run", json_integer(r->run_id));
    char *text = json_dumps(event, JSON_COMPACT | JSON_SORT_KEYS);
    fprintf(r->out, "%s\n", text);
    fflush(r->out);
    free(text);
    json_decref(event);
}

static void event_start(runner *r, size_t i)
{
    const step_run *s = &r->steps[i];
    const char *name = r->plan.steps[i].name;
    bool forked = r->zygote && !s->fresh;
    if (r->opts->json) {
        json_t *event = json_pack("{s:s, s:s, s:s, s:s, s:i, s:s}", "event", "start", "step",
                                  name, "reason", s->reason, "log", s->log, "pid", (int)s->pid,
                                  "process", forked ? "forked" : "fresh");
        if (s->fresh)
            json_object_set_new(event, "fresh", json_string(s->fresh));
        json_event(r, event);
    } else if (!r->opts->quiet) {
        clear_status_line(r);
        if (s->fresh)
            fprintf(r->out, "start       %-24s (%s; fresh process: %s)\n", name, s->reason,
                    s->fresh);
        else
            fprintf(r->out, "start       %-24s (%s)\n", name, s->reason);
        show_status_line(r);
    }
}

/* The warm interpreter is ready, or off (WHY): said once per run. */
static void event_warm(runner *r, const char *why)
{
    if (r->opts->json) {
        json_t *event = json_pack("{s:s, s:s}", "event", "warm", "status", why ? "off" : "ready");
        if (why)
            json_object_set_new(event, "reason", json_string(why));
        else
            json_object_set_new(event, "modules",
                                json_integer((json_int_t)nb_zygote_modules(r->zygote)));
        json_event(r, event);
    } else if (!r->opts->quiet) {
        clear_status_line(r);
        if (why)
            fprintf(r->out, "warm        off: %s; steps run in fresh processes\n", why);
        else
            fprintf(r->out, "warm        %zu modules imported in %.2f s\n",
                    nb_zygote_modules(r->zygote), nb_zygote_seconds(r->zygote));
        show_status_line(r);
    }
}

/* The status a step's runtime exits with under --strict when the guard found something. */
enum { NB_STEP_EXIT_GUARD = 3 };

/* How a failed step failed: "exit 1", "killed by signal 9", or the reason it could not
 * run or was not accepted. */
static const char *failure_text(runner *r, const step_run *s)
{
    if (s->signal)
        return pool_printf(&r->pool, "killed by signal %d (%s)", s->signal, strsignal(s->signal));
    if (s->exit_code == NB_STEP_EXIT_GUARD && s->reason)
        return pool_printf(&r->pool, "exit %d (--strict): %s", s->exit_code, s->reason);
    if (s->exit_code > 0)
        return pool_printf(&r->pool, "exit %d", s->exit_code);
    return s->reason ? s->reason : "failed";
}

static void event_finish(runner *r, size_t i)
{
    const step_run *s = &r->steps[i];
    const char *name = r->plan.steps[i].name;
    if (r->opts->json) {
        json_t *event = json_pack("{s:s, s:s, s:s}", "event", "finish", "step", name, "status",
                                  state_names[s->state]);
        if (s->reason)
            json_object_set_new(event, "reason", json_string(s->reason));
        if (s->state == STEP_OK || s->state == STEP_FAILED || s->state == STEP_INTERRUPTED) {
            json_object_set_new(event, "duration", json_real(s->duration));
            json_object_set_new(event, "exit_code", json_integer(s->exit_code));
            json_object_set_new(event, "log", json_string(s->log));
        }
        json_event(r, event);
        return;
    }
    if (r->opts->quiet && s->state != STEP_FAILED)
        return;
    clear_status_line(r);
    switch (s->state) {
    case STEP_OK:
        fprintf(r->out, "ok          %-24s %6.2f s\n", name, s->duration);
        break;
    case STEP_UP_TO_DATE:
        if (s->reason)
            fprintf(r->out, "up to date  %-24s %s\n", name, s->reason);
        else
            fprintf(r->out, "up to date  %s\n", name);
        break;
    case STEP_FAILED:
        fprintf(r->out, "failed      %-24s %6.2f s  %s\n", name, s->duration, failure_text(r, s));
        break;
    default:
        fprintf(r->out, "%-11s %-24s %s\n", state_names[s->state], name,
                s->reason ? s->reason : "");
        break;
    }
    show_status_line(r);
}

/* ---- recording ------------------------------------------------------------------------- */

static void record_step(runner *r, size_t i)
{
    if (!r->rec)
        return;
    const step_run *s = &r->steps[i];
    nb_step_record record = {
        .step = r->plan.steps[i].name,
        .status = state_names[s->state],
        .reason = s->reason,
        .log = s->state == STEP_UP_TO_DATE || s->state == STEP_SKIPPED ? NULL : s->log,
        .started = s->started,
        .duration = s->duration,
        .exit_code = s->exit_code,
        .fingerprint = s->fingerprint,
        .outputs = s->outputs,
        .noutputs = s->noutputs,
    };
    /* a run whose records cannot be written still runs; the error says why */
    if (nb_runrec_add_step(r->rec, r->run_id, &record, r->diags) != 0) {
        nb_runrec_close(r->rec);
        r->rec = NULL;
    }
}

/* Ends step I in STATE: reports it and records it. */
static void finish_step(runner *r, size_t i, step_state state, const char *reason)
{
    step_run *s = &r->steps[i];
    s->state = state;
    if (reason)
        s->reason = reason;
    event_finish(r, i);
    record_step(r, i);
}

/* After a step exited 0: its outputs must all be there; keep a copy of each. */
static void accept_outputs(runner *r, size_t i)
{
    step_run *s = &r->steps[i];
    const char *missing = collect_outputs(r, i, &s->outputs, &s->noutputs);
    if (missing) {
        s->noutputs = 0;
        finish_step(r, i, STEP_FAILED, pool_printf(&r->pool, "it did not write %s", missing));
        return;
    }
    nb_buf path = NB_BUF_INIT;
    for (size_t k = 0; r->rec && k < s->noutputs; k++) {
        nb_buf_reset(&path);
        nb_buf_printf(&path, "%s/%s", r->plan.data_dir, s->outputs[k].path);
        nb_runrec_keep(r->rec, path.data, s->outputs[k].hash, r->diags);
    }
    nb_buf_release(&path);
    finish_step(r, i, STEP_OK, NULL);
}

/* ---- processes --------------------------------------------------------------------------- */

/* Kills whatever step I's process left in its group. */
static void kill_group(const runner *r, size_t i, int sig)
{
    kill(-r->steps[i].pid, sig);
}

static void stop_running_steps(runner *r, int sig)
{
    for (size_t i = 0; i < r->plan.nsteps; i++)
        if (r->steps[i].state == STEP_RUNNING)
            kill_group(r, i, sig);
}

/* The command line of step I: PYTHON SCRIPT --data-dir DIR [--param NAME=VALUE]...
 * (the parameters given to this run). Caller frees each string and the array. */
static char **step_argv(runner *r, size_t i)
{
    size_t argc = 0;
    char **argv = nb_xcalloc(6 + 2 * r->plan.nparams, sizeof *argv);
    argv[argc++] = nb_xstrdup(r->python);
    argv[argc++] = nb_xstrdup(pool_printf(&r->pool, "%s/%s", r->plan.dir,
                                          r->plan.steps[i].script));
    argv[argc++] = nb_xstrdup("--data-dir");
    argv[argc++] = nb_xstrdup(r->plan.data_dir);
    nb_buf param = NB_BUF_INIT;
    for (size_t k = 0; k < r->plan.nparams; k++) {
        if (!r->plan.params[k].overridden)
            continue;
        nb_buf_reset(&param);
        nb_buf_printf(&param, "%s=%s", r->plan.params[k].name, r->plan.params[k].value);
        argv[argc++] = nb_xstrdup("--param");
        argv[argc++] = nb_xstrdup(param.data);
    }
    nb_buf_release(&param);
    argv[argc] = NULL;
    return argv;
}

/* Asks the warm interpreter for step I's process. Returns 0 when it forked one; else
 * the step runs in a fresh process, and when the zygote is gone it is said once. */
static int fork_step(runner *r, size_t i, char *const *argv)
{
    step_run *s = &r->steps[i];
    char *why = NULL;
    int got = nb_zygote_fork(r->zygote, argv, s->log, &s->pid, &why);
    if (got == NB_ZYGOTE_FRESH) {
        s->fresh = nb_pool_strdup(&r->pool, why);
    } else if (got == NB_ZYGOTE_GONE) {
        event_warm(r, pool_printf(&r->pool, "the warm interpreter stopped (%s)", why));
        nb_zygote_free(r->zygote);
        r->zygote = NULL;
    }
    free(why);
    return got == NB_ZYGOTE_FORKED ? 0 : -1;
}

/* Starts step I (forked by the warm interpreter, or in a fresh process) in its own
 * process group, default signal handling, stdin from /dev/null, stdout and stderr into
 * its log. Returns 0, or an errno value. */
static int spawn_step(runner *r, size_t i)
{
    char **argv = step_argv(r, i);
    int rc = 0;
    if (!r->zygote || fork_step(r, i, argv) != 0)
        rc = nb_spawn_process(r->python, argv, r->steps[i].log, -1, -1, &r->steps[i].pid);
    for (size_t k = 0; argv[k]; k++)
        free(argv[k]);
    free(argv);
    return rc;
}

/* A signal stopped the run: no new step starts, and the running ones get SIGTERM. */
static void interrupted(runner *r, int sig)
{
    r->interrupt = sig;
    r->stopping = true;
    stop_running_steps(r, SIGTERM);
}

/* Starts the warm interpreter when the first step has to run (a run with nothing to
 * do does not pay for it), with the scripts of the steps that may still run. Returns
 * false when a signal came while it was starting (the run is then interrupted). */
static bool warm_up(runner *r)
{
    if (r->warm_tried || r->opts->no_warm)
        return true;
    r->warm_tried = true;
    size_t n = 0;
    const char **scripts = nb_xcalloc(r->plan.nsteps + 1, sizeof *scripts);
    for (size_t i = 0; i < r->plan.nsteps; i++)
        if (r->steps[i].state == STEP_WAITING)
            scripts[n++] = pool_printf(&r->pool, "%s/%s", r->plan.dir, r->plan.steps[i].script);
    nb_zygote_setup setup = {
        .python = r->python,
        .dir = r->plan.dir,
        .workdir = r->plan.workdir[0] == '/'
                       ? r->plan.workdir
                       : pool_printf(&r->pool, "%s/%s", r->plan.dir, r->plan.workdir),
        .scripts = scripts,
        .nscripts = n,
        .runtime = pool_printf(&r->pool, "%s/%s", r->plan.dir, NB_RUNTIME_FILE),
        .log = pool_printf(&r->pool, "%s/warm-interpreter.log", r->logs_dir),
    };
    sigset_t stop; /* the signals that interrupt a run, not SIGCHLD */
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGHUP);
    setup.stop = &stop;
    int sig;
    char *why;
    r->zygote = nb_zygote_start(&setup, &sig, &why);
    free(scripts);
    if (sig) {
        interrupted(r, sig);
        return false;
    }
    event_warm(r, why);
    free(why);
    return true;
}

static void start_step(runner *r, size_t i)
{
    step_run *s = &r->steps[i];
    if (!warm_up(r))
        return;
    s->began = monotonic_seconds();
    s->started = wall_seconds();
    int rc = spawn_step(r, i);
    if (rc != 0) {
        finish_step(r, i, STEP_FAILED,
                    pool_printf(&r->pool, "cannot start %s: %s", r->python, strerror(rc)));
        return;
    }
    s->state = STEP_RUNNING;
    r->running++;
    event_start(r, i);
}

static long step_of_pid(const runner *r, pid_t pid)
{
    for (size_t i = 0; i < r->plan.nsteps; i++)
        if (r->steps[i].state == STEP_RUNNING && r->steps[i].pid == pid)
            return (long)i;
    return -1;
}

/* The guard's findings for step I (DATA/STEP/guard.json, written by the runtime when a
 * step changed a loaded value in place that it does not save): printed as warnings and
 * kept as the step's reason in its record. Returns how many. */
static size_t report_guard(runner *r, size_t i)
{
    step_run *s = &r->steps[i];
    const char *name = r->plan.steps[i].name;
    nb_buf path = NB_BUF_INIT;
    nb_buf_printf(&path, "%s/%s/guard.json", r->plan.data_dir, name);
    json_t *reports = json_load_file(path.data, 0, NULL);
    nb_buf_release(&path);
    size_t n = json_is_array(reports) ? json_array_size(reports) : 0;
    nb_buf reason = NB_BUF_INIT;
    for (size_t k = 0; k < n; k++) {
        const char *message = json_string_value(json_object_get(json_array_get(reports, k), "message"));
        if (!message)
            continue;
        if (r->opts->json) {
            json_event(r, json_pack("{s:s, s:s, s:s}", "event", "guard", "step", name, "message",
                                    message));
        } else if (!r->opts->quiet) {
            clear_status_line(r);
            fprintf(r->out, "warning     %-24s %s\n", name, message);
            show_status_line(r);
        }
        nb_buf_printf(&reason, "%s%s", reason.len ? "; " : "guard: ", message);
    }
    if (reason.len)
        s->reason = pool_printf(&r->pool, "%s", reason.data);
    nb_buf_release(&reason);
    json_decref(reports);
    return n;
}

/* A child ended with wait status STATUS. */
static void step_exited(runner *r, size_t i, int status)
{
    step_run *s = &r->steps[i];
    r->running--;
    s->duration = monotonic_seconds() - s->began;
    s->exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    s->signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    kill_group(r, i, SIGKILL); /* anything it started and left behind */
    if (!s->signal && (s->exit_code == 0 || s->exit_code == NB_STEP_EXIT_GUARD))
        report_guard(r, i);
    if (r->interrupt || (r->stopping && s->exit_code != 0))
        finish_step(r, i, STEP_INTERRUPTED,
                    r->interrupt ? pool_printf(&r->pool, "stopped by %s", strsignal(r->interrupt))
                                 : "stopped by --fail-fast");
    else if (s->exit_code == 0)
        accept_outputs(r, i);
    else
        finish_step(r, i, STEP_FAILED, NULL);
    if (r->steps[i].state == STEP_FAILED && r->opts->fail_fast && !r->stopping) {
        r->stopping = true;
        stop_running_steps(r, SIGTERM);
    }
}

static void reap_children(runner *r)
{
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        long i = step_of_pid(r, pid);
        if (i >= 0)
            step_exited(r, (size_t)i, status);
        else
            nb_zygote_reaped(r->zygote, pid); /* or an orphan a step left (we are a subreaper) */
    }
}

/* ---- scheduling --------------------------------------------------------------------------- */

/* The first selected upstream step of I that did not succeed, or -1; WAITING when one
 * has not finished yet. */
enum { UPSTREAM_READY = -1, UPSTREAM_WAITING = -2 };

static long blocking_upstream(const runner *r, size_t i)
{
    const nb_plan_step *step = &r->plan.steps[i];
    long waiting = UPSTREAM_READY;
    for (size_t k = 0; k < step->nupstream; k++) {
        step_state st = r->steps[step->upstream[k]].state;
        if (st == STEP_FAILED || st == STEP_SKIPPED || st == STEP_INTERRUPTED)
            return (long)step->upstream[k];
        if (st == STEP_WAITING || st == STEP_RUNNING)
            waiting = UPSTREAM_WAITING;
    }
    return waiting;
}

/* Starts, skips or passes every step that can be decided now; returns true when any
 * state changed (a decision can unblock the steps after it). */
static bool dispatch(runner *r)
{
    bool changed = false;
    for (size_t i = 0; i < r->plan.nsteps; i++) {
        if (r->steps[i].state != STEP_WAITING)
            continue;
        long blocker = blocking_upstream(r, i);
        if (blocker == UPSTREAM_WAITING)
            continue;
        if (blocker >= 0) {
            finish_step(r, i, STEP_SKIPPED,
                        pool_printf(&r->pool, "upstream %s %s", r->plan.steps[blocker].name,
                                    state_names[r->steps[blocker].state]));
            changed = true;
            continue;
        }
        if (r->stopping || r->running >= (size_t)r->jobs)
            continue;
        const char *reason = stale_reason(r, i);
        nb_step_record cached;
        long long cached_run;
        if (!reason && !r->opts->force) {
            r->steps[i].started = wall_seconds();
            finish_step(r, i, STEP_UP_TO_DATE, NULL);
        } else if (!r->opts->force && (cached_run = cached_record(r, i, &cached)) > 0 &&
                   restore_cached_outputs(r, i, &cached) == 0) {
            r->steps[i].started = wall_seconds();
            finish_step(r, i, STEP_UP_TO_DATE,
                        pool_printf(&r->pool, "%s; outputs of run %lld restored", reason,
                                    cached_run));
        } else {
            r->steps[i].reason = reason ? reason : "--force";
            start_step(r, i);
        }
        changed = true;
    }
    return changed;
}

/* Waits for a child to end, a signal, or the next refresh of the status line. */
static void wait_for_events(runner *r, const sigset_t *signals)
{
    struct timespec timeout = { .tv_sec = 0, .tv_nsec = 250 * 1000 * 1000 };
    siginfo_t info;
    int sig = sigtimedwait(signals, &info, &timeout);
    if ((sig == SIGINT || sig == SIGTERM || sig == SIGHUP) && !r->interrupt)
        interrupted(r, sig);
    reap_children(r);
}

/* After an interrupt: SIGTERM went to every step; give them a moment, then SIGKILL. */
static void drain_children(runner *r, const sigset_t *signals)
{
    double deadline = monotonic_seconds() + 5.0;
    while (r->running > 0 && monotonic_seconds() < deadline)
        wait_for_events(r, signals);
    if (r->running > 0)
        stop_running_steps(r, SIGKILL);
    while (r->running > 0) {
        int status;
        pid_t pid = waitpid(-1, &status, 0);
        long i = pid > 0 ? step_of_pid(r, pid) : -1;
        if (i >= 0)
            step_exited(r, (size_t)i, status);
        else if (pid > 0)
            nb_zygote_reaped(r->zygote, pid);
        else if (errno == ECHILD)
            break;
    }
}

static void schedule(runner *r)
{
    sigset_t signals, saved;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGHUP);
    sigaddset(&signals, SIGCHLD);
    /* handled synchronously with sigtimedwait: no handlers, no races */
    sigprocmask(SIG_BLOCK, &signals, &saved);
    while (!r->interrupt) {
        while (dispatch(r))
            ;
        if (r->running == 0)
            break;
        wait_for_events(r, &signals);
        show_status_line(r);
    }
    if (r->interrupt)
        drain_children(r, &signals);
    /* every step has ended: the warm interpreter has nothing more to do */
    nb_zygote_free(r->zygote);
    r->zygote = NULL;
    for (size_t i = 0; i < r->plan.nsteps; i++)
        if (r->steps[i].state == STEP_WAITING)
            finish_step(r, i, STEP_SKIPPED,
                        r->interrupt ? "the run was interrupted" : "stopped by --fail-fast");
    clear_status_line(r);
    /* consume what is pending, so that unblocking does not kill us before the record */
    struct timespec zero = { 0, 0 };
    siginfo_t info;
    while (sigtimedwait(&signals, &info, &zero) > 0)
        ;
    sigprocmask(SIG_SETMASK, &saved, NULL);
}

/* ---- setting up --------------------------------------------------------------------------- */

static int take_lock(runner *r)
{
    r->lock_fd = nb_runrec_lock(r->plan.dir, r->opts->wait, r->diags);
    return r->lock_fd < 0 ? -1 : 0;
}

/* Marks the steps the options select; errors name an unknown step. */
static int select_steps(runner *r)
{
    const nb_run_opts *o = r->opts;
    size_t n = r->plan.nsteps;
    bool *from = nb_xcalloc(n + 1, sizeof *from), *until = nb_xcalloc(n + 1, sizeof *until);
    bool *only = nb_xcalloc(n + 1, sizeof *only);
    int status = 0;
    long at;
    if (o->from && (at = nb_plan_find(&r->plan, o->from, r->diags)) >= 0)
        nb_plan_reach(&r->plan, (size_t)at, true, from);
    if (o->until && (at = nb_plan_find(&r->plan, o->until, r->diags)) >= 0)
        nb_plan_reach(&r->plan, (size_t)at, false, until);
    for (size_t k = 0; k < o->nonly; k++)
        if ((at = nb_plan_find(&r->plan, o->only[k], r->diags)) >= 0)
            only[at] = true;
    if (r->diags->errors)
        status = -1;
    for (size_t i = 0; i < n; i++) {
        bool selected = (!o->from || from[i]) && (!o->until || until[i]) && (!o->nonly || only[i]);
        r->steps[i].state = selected ? STEP_WAITING : STEP_NOT_SELECTED;
        r->steps[i].exit_code = -1;
    }
    free(from);
    free(until);
    free(only);
    return status;
}

/* The parameter overrides as a JSON object, for the record and `nb2pipe runs`. */
static char *params_json(const runner *r)
{
    json_t *object = json_object();
    for (size_t k = 0; k < r->plan.nparams; k++)
        if (r->plan.params[k].overridden)
            json_object_set_new(object, r->plan.params[k].name,
                                json_string(r->plan.params[k].value));
    char *text = json_dumps(object, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(object);
    return text;
}

static int open_records(runner *r)
{
    if (r->opts->no_record)
        return 0;
    r->rec = nb_runrec_open(r->plan.dir, true, r->diags);
    if (!r->rec)
        return -1;
    char *params = params_json(r);
    r->run_id = nb_runrec_begin(r->rec, params, r->python, r->diags);
    free(params);
    return r->run_id > 0 ? 0 : -1;
}

/* Logs go to .nb2pipe/logs/run-ID/STEP.log, one directory per recorded run. */
static int prepare_logs(runner *r)
{
    nb_buf path = NB_BUF_INIT;
    nb_buf_printf(&path, "%s/.nb2pipe/logs", r->plan.dir);
    int status = make_dir(path.data);
    if (r->run_id > 0) {
        nb_buf_printf(&path, "/run-%lld", r->run_id);
        status = status == 0 ? make_dir(path.data) : status;
    }
    if (status != 0)
        nb_diag_add(r->diags, NB_ERROR, "io-error", (nb_loc){ .file = path.data },
                    "cannot create the log directory: %s", strerror(errno));
    r->logs_dir = nb_buf_detach(&path, NULL);
    for (size_t i = 0; i < r->plan.nsteps; i++)
        r->steps[i].log = pool_printf(&r->pool, "%s/%s.log", r->logs_dir,
                                              r->plan.steps[i].name);
    return status;
}

static int number_of_processors(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

static int setup(runner *r)
{
    if (nb_plan_load(&r->plan, r->opts->dir, r->diags) != 0 ||
        nb_plan_set_params(&r->plan, r->opts->params, r->opts->nparams, r->diags) != 0)
        return -1;
    r->python = nb_plan_resolve_python(r->opts->python);
    if (!r->python) {
        nb_diag_add(r->diags, NB_ERROR, "no-python", (nb_loc){ .file = r->opts->dir },
                    "cannot find the Python to run the steps with (%s): install python3 or "
                    "pass --python PATH",
                    r->opts->python ? r->opts->python : "/usr/bin/python3 or python3 on PATH");
        return -1;
    }
    r->steps = nb_xcalloc(r->plan.nsteps + 1, sizeof *r->steps);
    return select_steps(r);
}

static void release(runner *r)
{
    nb_zygote_free(r->zygote);
    nb_runrec_close(r->rec);
    if (r->lock_fd >= 0)
        close(r->lock_fd);
    free(r->steps);
    free(r->python);
    free(r->logs_dir);
    nb_plan_release(&r->plan);
    nb_pool_release(&r->pool);
}

/* ---- the end of a run --------------------------------------------------------------------- */

/* The last LINES lines of the file at PATH, to show why a step failed. */
static void print_tail(FILE *out, const char *path, int lines)
{
    nb_buf log = NB_BUF_INIT;
    if (nb_buf_read_file(&log, path, (size_t)64 << 20) == 0 && log.len) {
        size_t start = log.len;
        int seen = 0;
        while (start > 0 && seen <= lines)
            if (log.data[--start] == '\n' && start + 1 < log.len)
                seen++;
        if (log.data[start] == '\n')
            start++;
        fputs(log.data + start, out);
        if (log.data[log.len - 1] != '\n')
            fputc('\n', out);
    }
    nb_buf_release(&log);
}

static void print_metrics(const runner *r)
{
    for (size_t i = 0; i < r->plan.nsteps; i++) {
        if (!r->plan.steps[i].has_metrics || r->steps[i].state == STEP_NOT_SELECTED)
            continue;
        nb_buf path = NB_BUF_INIT, text = NB_BUF_INIT;
        nb_buf_printf(&path, "%s/%s/metrics.json", r->plan.data_dir, r->plan.steps[i].name);
        if (nb_buf_read_file(&text, path.data, (size_t)16 << 20) == 0)
            fprintf(r->out, "metrics of step %s (%s):\n%s", r->plan.steps[i].name, path.data,
                    text.data);
        nb_buf_release(&path);
        nb_buf_release(&text);
    }
}

static void print_summary(runner *r, const char *outcome)
{
    size_t counts[STEP_INTERRUPTED + 1] = { 0 };
    for (size_t i = 0; i < r->plan.nsteps; i++)
        counts[r->steps[i].state]++;
    for (size_t i = 0; i < r->plan.nsteps; i++) {
        const step_run *s = &r->steps[i];
        if (s->state != STEP_FAILED)
            continue;
        fprintf(r->out, "\nstep %s failed (%s); end of its log %s:\n", r->plan.steps[i].name,
                failure_text(r, s), s->log);
        print_tail(r->out, s->log, 15);
    }
    if (r->opts->quiet && strcmp(outcome, "ok") == 0)
        return;
    fprintf(r->out, "\n%-24s %-12s %8s  %s\n", "step", "status", "time", "log or reason");
    nb_buf row = NB_BUF_INIT;
    for (size_t i = 0; i < r->plan.nsteps; i++) {
        const step_run *s = &r->steps[i];
        if (s->state == STEP_NOT_SELECTED)
            continue;
        bool ran = s->state == STEP_OK || s->state == STEP_FAILED || s->state == STEP_INTERRUPTED;
        nb_buf_reset(&row);
        nb_buf_printf(&row, "%-24s %-12s ", r->plan.steps[i].name, state_names[s->state]);
        if (ran)
            nb_buf_printf(&row, "%6.2f s  %s", s->duration, s->log);
        else
            nb_buf_printf(&row, "%8s  %s", "", s->reason ? s->reason : "");
        while (row.len && row.data[row.len - 1] == ' ')
            nb_buf_truncate(&row, row.len - 1);
        fprintf(r->out, "%s\n", row.data);
    }
    nb_buf_release(&row);
    nb_buf head = NB_BUF_INIT;
    if (r->run_id > 0)
        nb_buf_printf(&head, "run %lld ", r->run_id);
    fprintf(r->out, "%s%s: %zu ran, %zu up to date, %zu failed, %zu skipped, %zu interrupted in %.2f s\n",
            head.data, outcome, counts[STEP_OK] + counts[STEP_FAILED] + counts[STEP_INTERRUPTED],
            counts[STEP_UP_TO_DATE], counts[STEP_FAILED], counts[STEP_SKIPPED],
            counts[STEP_INTERRUPTED], monotonic_seconds() - r->began);
    nb_buf_release(&head);
}

static const char *outcome_of(const runner *r)
{
    if (r->interrupt)
        return "interrupted";
    for (size_t i = 0; i < r->plan.nsteps; i++)
        if (r->steps[i].state == STEP_FAILED || r->steps[i].state == STEP_INTERRUPTED ||
            r->steps[i].state == STEP_SKIPPED)
            return "failed";
    return "ok";
}

int nb_run(const nb_run_opts *opts, nb_diags *diags, FILE *out)
{
    runner r = { .opts = opts, .diags = diags, .out = out, .lock_fd = -1 };
    r.began = monotonic_seconds();
    r.jobs = opts->jobs > 0 ? opts->jobs : number_of_processors();
    r.tty = isatty(fileno(out)) && !opts->json;
    if (setup(&r) != 0 || take_lock(&r) != 0 || open_records(&r) != 0 || prepare_logs(&r) != 0) {
        release(&r);
        return NB_RUN_ERROR;
    }
    /* steps run headless and leave no byte code behind in the pipeline directory */
    setenv("PYTHONDONTWRITEBYTECODE", "1", 0);
    setenv("MPLBACKEND", "Agg", 0);
    if (opts->strict)
        setenv("NB2PIPE_STRICT", "1", 1);
    if (opts->no_guard)
        setenv("NB2PIPE_GUARD", "0", 1);
    if (opts->json)
        json_event(&r, json_pack("{s:s, s:s, s:i}", "event", "begin", "dir", opts->dir, "jobs",
                                 r.jobs));
    schedule(&r);
    const char *outcome = outcome_of(&r);
    if (r.rec)
        nb_runrec_end(r.rec, r.run_id, outcome, diags);
    if (opts->json)
        json_event(&r, json_pack("{s:s, s:s}", "event", "end", "status", outcome));
    else
        print_summary(&r, outcome);
    if (!opts->json && !opts->quiet && strcmp(outcome, "ok") == 0)
        print_metrics(&r);
    fflush(out);
    int result = r.interrupt ? NB_RUN_INTERRUPTED
                 : strcmp(outcome, "ok") == 0 ? NB_RUN_OK
                                              : NB_RUN_FAILED;
    release(&r);
    return result;
}

/* ---- status ----------------------------------------------------------------------------- */

/* The first upstream step of I that is not up to date, or -1. */
static long stale_upstream(const runner *r, size_t i)
{
    const nb_plan_step *step = &r->plan.steps[i];
    for (size_t k = 0; k < step->nupstream; k++)
        if (r->steps[step->upstream[k]].state != STEP_UP_TO_DATE)
            return (long)step->upstream[k];
    return -1;
}

int nb_run_status(const nb_run_opts *opts, nb_diags *diags, FILE *out)
{
    runner r = { .opts = opts, .diags = diags, .out = out, .lock_fd = -1 };
    if (setup(&r) != 0) {
        release(&r);
        return -1;
    }
    struct stat st;
    nb_buf db = NB_BUF_INIT;
    nb_buf_printf(&db, "%s/.nb2pipe/runs.sqlite", opts->dir);
    if (!opts->no_record && stat(db.data, &st) == 0 &&
        !(r.rec = nb_runrec_open(opts->dir, false, diags))) {
        nb_buf_release(&db);
        release(&r);
        return -1;
    }
    nb_buf_release(&db);
    json_t *json = opts->json ? json_array() : NULL;
    for (size_t i = 0; i < r.plan.nsteps; i++) {
        const char *reason = stale_reason(&r, i);
        long upstream = stale_upstream(&r, i);
        const char *state = !reason ? "up to date"
                            : strcmp(reason, "never ran") == 0 ? "never ran"
                                                                : "stale";
        r.steps[i].state = reason ? STEP_WAITING : STEP_UP_TO_DATE;
        if (!reason && upstream >= 0) {
            /* its inputs may change when the stale step before it runs again */
            state = "stale";
            reason = pool_printf(&r.pool, "upstream %s is not up to date",
                                 r.plan.steps[upstream].name);
            r.steps[i].state = STEP_WAITING;
        } else if (reason && upstream < 0) {
            nb_step_record cached;
            long long cached_run = cached_record(&r, i, &cached);
            if (cached_run > 0)
                reason = pool_printf(&r.pool, "%s; run %lld has the outputs, a run restores them",
                                     reason, cached_run);
        }
        if (json)
            json_array_append_new(json, json_pack("{s:s, s:s, s:s?}", "step", r.plan.steps[i].name,
                                                  "state", state, "reason",
                                                  strcmp(state, "stale") == 0 ? reason : NULL));
        else if (strcmp(state, "stale") == 0)
            fprintf(out, "%-24s %-11s %s\n", r.plan.steps[i].name, state, reason);
        else
            fprintf(out, "%-24s %s\n", r.plan.steps[i].name, state);
    }
    if (json) {
        char *text = json_dumps(json, JSON_INDENT(2));
        fprintf(out, "%s\n", text);
        free(text);
        json_decref(json);
    }
    release(&r);
    return 0;
}
