#include "nb2pipe/runner.h"

#include "nb2pipe/alloc.h"
#include "nb2pipe/buf.h"
#include "nb2pipe/fsout.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

/* What the manifest says about the pipeline. */
typedef struct plan {
    json_t *root;
    json_t *steps;  /* array of {name, script, upstream, inputs, outputs, metrics, params} */
    json_t *params; /* array of {name, type, default} */
} plan;

static int load_plan(const char *dir, plan *pl, nb_diags *diags)
{
    nb_buf path = NB_BUF_INIT;
    nb_buf_printf(&path, "%s/%s", dir, NB_MANIFEST);
    json_error_t err;
    pl->root = json_load_file(path.data, 0, &err);
    int status = 0;
    if (!pl->root) {
        struct stat st;
        if (stat(path.data, &st) != 0)
            nb_diag_add(diags, NB_ERROR, "not-a-pipeline", (nb_loc){ .file = dir },
                        "no %s here: convert a notebook first (nb2pipe convert NOTEBOOK)",
                        NB_MANIFEST);
        else
            nb_diag_add(diags, NB_ERROR, "bad-manifest",
                        (nb_loc){ .file = path.data, .line = err.line, .col = err.column },
                        "cannot read the manifest: %s", err.text);
        status = -1;
    } else {
        json_t *pipeline = json_object_get(pl->root, "pipeline");
        pl->steps = json_object_get(pipeline, "steps");
        pl->params = json_object_get(pipeline, "params");
        if (!json_is_array(pl->steps) || !json_is_array(pl->params)) {
            nb_diag_add(diags, NB_ERROR, "bad-manifest", (nb_loc){ .file = path.data },
                        "the manifest has no pipeline steps: convert the notebook again");
            status = -1;
        }
        size_t i;
        json_t *step;
        json_array_foreach(pl->steps, i, step) {
            const char *script = json_string_value(json_object_get(step, "script"));
            if (status == 0 && (!json_string_value(json_object_get(step, "name")) || !script ||
                                !nb_path_is_safe(script))) {
                nb_diag_add(diags, NB_ERROR, "bad-manifest", (nb_loc){ .file = path.data },
                            "step %zu of the manifest has no valid name or script", i + 1);
                status = -1;
            }
        }
    }
    nb_buf_release(&path);
    return status;
}

static bool known_param(const plan *pl, const char *assignment)
{
    size_t n = strcspn(assignment, "=");
    size_t i;
    json_t *param;
    json_array_foreach(pl->params, i, param) {
        const char *name = json_string_value(json_object_get(param, "name"));
        if (name && strlen(name) == n && strncmp(name, assignment, n) == 0)
            return true;
    }
    return false;
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char *default_python(void)
{
    return access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3" : "python3";
}

/* Runs one step's script with its output going to LOG; returns its wait status, or -1
 * when it could not start. */
static int spawn_step(const nb_run_opts *opts, const char *script, const char *log)
{
    nb_buf script_path = NB_BUF_INIT, data_dir = NB_BUF_INIT;
    nb_buf_printf(&script_path, "%s/%s", opts->dir, script);
    nb_buf_printf(&data_dir, "%s/output", opts->dir);
    const char *python = opts->python ? opts->python : default_python();
    /* posix_spawn wants mutable strings: give it copies */
    size_t argc = 0;
    char **argv = nb_xcalloc(6 + 2 * opts->nparams, sizeof *argv);
    argv[argc++] = nb_xstrdup(python);
    argv[argc++] = nb_xstrdup(script_path.data);
    argv[argc++] = nb_xstrdup("--data-dir");
    argv[argc++] = nb_xstrdup(data_dir.data);
    for (size_t i = 0; i < opts->nparams; i++) {
        argv[argc++] = nb_xstrdup("--param");
        argv[argc++] = nb_xstrdup(opts->params[i]);
    }
    argv[argc] = NULL;
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log, O_WRONLY | O_CREAT | O_TRUNC, 0666);
    posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
    posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    pid_t pid;
    int rc = posix_spawnp(&pid, python, &actions, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&actions);
    int status = -1;
    if (rc == 0) {
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
            ;
    } else {
        errno = rc;
    }
    for (size_t i = 0; i < argc; i++)
        free(argv[i]);
    free(argv);
    nb_buf_release(&script_path);
    nb_buf_release(&data_dir);
    return rc == 0 ? status : -1;
}

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

static void print_metrics(const nb_run_opts *opts, const plan *pl, FILE *out)
{
    size_t i;
    json_t *step;
    json_array_foreach(pl->steps, i, step) {
        if (json_array_size(json_object_get(step, "metrics")) == 0)
            continue;
        const char *name = json_string_value(json_object_get(step, "name"));
        nb_buf path = NB_BUF_INIT, text = NB_BUF_INIT;
        nb_buf_printf(&path, "%s/output/%s/metrics.json", opts->dir, name);
        if (nb_buf_read_file(&text, path.data, (size_t)16 << 20) == 0)
            fprintf(out, "metrics of step %s (%s):\n%s", name, path.data, text.data);
        nb_buf_release(&path);
        nb_buf_release(&text);
    }
}

static int make_dir(const char *path)
{
    return mkdir(path, 0777) == 0 || errno == EEXIST ? 0 : -1;
}

int nb_run(const nb_run_opts *opts, nb_diags *diags, FILE *progress)
{
    plan pl = { 0 };
    if (load_plan(opts->dir, &pl, diags) != 0) {
        json_decref(pl.root);
        return -1;
    }
    for (size_t i = 0; i < opts->nparams; i++) {
        if (!strchr(opts->params[i], '=') || !known_param(&pl, opts->params[i])) {
            nb_diag_add(diags, NB_ERROR, "unknown-param", (nb_loc){ .file = opts->dir },
                        "--param '%s': the pipeline has no such parameter (NAME=VALUE)",
                        opts->params[i]);
            json_decref(pl.root);
            return -1;
        }
    }
    /* steps run headless and leave no byte code behind in the pipeline directory */
    setenv("PYTHONDONTWRITEBYTECODE", "1", 0);
    setenv("MPLBACKEND", "Agg", 0);
    nb_buf logs = NB_BUF_INIT, log = NB_BUF_INIT;
    nb_buf_printf(&logs, "%s/.nb2pipe", opts->dir);
    make_dir(logs.data);
    nb_buf_puts(&logs, "/logs");
    if (make_dir(logs.data) != 0) {
        nb_diag_add(diags, NB_ERROR, "io-error", (nb_loc){ .file = logs.data },
                    "cannot create the log directory: %s", strerror(errno));
        nb_buf_release(&logs);
        json_decref(pl.root);
        return -1;
    }
    int result = 0;
    double started = now_seconds();
    size_t i, nsteps = json_array_size(pl.steps);
    json_t *step;
    json_array_foreach(pl.steps, i, step) {
        const char *name = json_string_value(json_object_get(step, "name"));
        const char *script = json_string_value(json_object_get(step, "script"));
        nb_buf_reset(&log);
        nb_buf_printf(&log, "%s/%s.log", logs.data, name);
        double t0 = now_seconds();
        int status = spawn_step(opts, script, log.data);
        double took = now_seconds() - t0;
        bool ok = status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
        if (ok) {
            if (!opts->quiet)
                fprintf(progress, "[%zu/%zu] %-24s ok      %6.2f s\n", i + 1, nsteps, name, took);
            continue;
        }
        if (status < 0)
            fprintf(progress, "[%zu/%zu] %-24s failed to start: %s\n", i + 1, nsteps, name,
                    strerror(errno));
        else if (WIFSIGNALED(status))
            fprintf(progress, "[%zu/%zu] %-24s killed by signal %d  %6.2f s\n", i + 1, nsteps, name,
                    WTERMSIG(status), took);
        else
            fprintf(progress, "[%zu/%zu] %-24s failed (exit %d)  %6.2f s\n", i + 1, nsteps, name,
                    WEXITSTATUS(status), took);
        fprintf(progress, "log: %s\n", log.data);
        print_tail(progress, log.data, 15);
        if (i + 1 < nsteps)
            fprintf(progress, "%zu later step%s not run\n", nsteps - i - 1, nsteps - i - 1 == 1 ? "" : "s");
        result = 1;
        break;
    }
    if (result == 0) {
        if (!opts->quiet)
            fprintf(progress, "%zu step%s ok in %.2f s\n", nsteps, nsteps == 1 ? "" : "s",
                    now_seconds() - started);
        print_metrics(opts, &pl, progress);
    }
    fflush(progress);
    nb_buf_release(&logs);
    nb_buf_release(&log);
    json_decref(pl.root);
    return result;
}
