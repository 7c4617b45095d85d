#include "zygote.h"

#include "spawn.h"

#include "nb2pipe/alloc.h"
#include "nb2pipe/buf.h"
#include "nb2pipe/diag.h"
#include "nb2pipe/fsout.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

extern const char nb_zygote_py[];
extern const size_t nb_zygote_py_len;

/* A forked step answers in milliseconds; this long means the zygote is stuck. */
#define FORK_TIMEOUT 60.0
/* How long the zygote gets to exit at the end of its socket before it is killed. */
#define EXIT_GRACE 2.0

struct nb_zygote {
    pid_t pid;
    int fd;     /* our end of the socket */
    bool alive; /* not reaped yet */
    bool subreaper;
    nb_buf in;  /* bytes read that do not make a whole line yet */
    size_t modules;
    double seconds;
};

static double monotonic_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static char *text_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static char *text_printf(const char *fmt, ...)
{
    nb_buf text = NB_BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    nb_buf_vprintf(&text, fmt, ap);
    va_end(ap);
    return nb_buf_detach(&text, NULL);
}

/* A signal of STOP that is pending, taken from the pending set; 0 when none is. */
static int take_pending(const sigset_t *stop)
{
    sigset_t pending;
    if (!stop || sigpending(&pending) != 0)
        return 0;
    for (int sig = 1; sig < 65; sig++) {
        if (sigismember(stop, sig) == 1 && sigismember(&pending, sig) == 1) {
            sigset_t one;
            sigemptyset(&one);
            sigaddset(&one, sig);
            struct timespec zero = { 0, 0 };
            sigtimedwait(&one, NULL, &zero);
            return sig;
        }
    }
    return 0;
}

/* Reads the zygote's next message into *MESSAGE (caller decrefs). Waits at most TIMEOUT
 * seconds (< 0: as long as it takes) and, with STOP, until a signal of STOP is pending
 * (*SIGNAL). Returns 0, or -1 with *WHY set (unless a signal came). */
static int read_message(nb_zygote *z, double timeout, const sigset_t *stop, int *signal,
                        json_t **message, char **why)
{
    double deadline = monotonic_seconds() + timeout;
    char *newline;
    while (!(newline = memchr(z->in.data, '\n', z->in.len))) {
        if ((*signal = take_pending(stop)) != 0)
            return -1;
        if (timeout >= 0 && monotonic_seconds() > deadline) {
            *why = text_printf("no answer in %.0f s", timeout);
            return -1;
        }
        struct pollfd p = { .fd = z->fd, .events = POLLIN };
        if (poll(&p, 1, 100) <= 0)
            continue;
        char chunk[4096];
        ssize_t n = read(z->fd, chunk, sizeof chunk);
        if (n > 0) {
            nb_buf_add(&z->in, chunk, (size_t)n);
        } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
            *why = text_printf("it exited (see its log)");
            return -1;
        }
    }
    size_t len = (size_t)(newline - z->in.data);
    json_error_t err;
    *message = json_loadb(z->in.data, len, 0, &err);
    memmove(z->in.data, newline + 1, z->in.len - len - 1);
    nb_buf_truncate(&z->in, z->in.len - len - 1);
    if (!json_is_object(*message)) {
        json_decref(*message);
        *why = text_printf("it answered something that is not a JSON object");
        return -1;
    }
    return 0;
}

static int send_message(nb_zygote *z, json_t *message, char **why)
{
    char *text = json_dumps(message, JSON_COMPACT);
    json_decref(message);
    size_t len = strlen(text), done = 0;
    text[len++] = '\n'; /* over the NUL: the message is a line */
    while (done < len) {
        ssize_t n = send(z->fd, text + done, len - done, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            *why = errno == EPIPE || errno == ECONNRESET
                       ? text_printf("it exited (see its log)")
                       : text_printf("cannot write to it: %s", strerror(errno));
            free(text);
            return -1;
        }
        done += (size_t)n;
    }
    free(text);
    return 0;
}

/* Writes the zygote's code to DIR/.nb2pipe/nb2pipe_zygote.py; returns its path. */
static char *write_code(const char *dir, char **why)
{
    nb_buf path = NB_BUF_INIT;
    nb_buf_printf(&path, "%s/.nb2pipe/nb2pipe_zygote.py", dir);
    nb_diags diags = NB_DIAGS_INIT;
    if (nb_write_file_atomic(path.data, nb_zygote_py, nb_zygote_py_len, 0644, &diags) != 0) {
        *why = text_printf("cannot write %s: %s", path.data, diags.items[0].message);
        nb_buf_release(&path);
    }
    nb_diags_release(&diags);
    return *why ? NULL : nb_buf_detach(&path, NULL);
}

/* Starts PYTHON on the code at PATH with one end of a new socket pair; Z gets the other. */
static int spawn(nb_zygote *z, const char *python, const char *path, const char *log, char **why)
{
    int ends[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ends) != 0) {
        *why = text_printf("cannot make a socket: %s", strerror(errno));
        return -1;
    }
    /* two descriptor numbers free here (so not inherited by the child): the child gets
     * its end as the second, which is then not closed on exec */
    int passed = fcntl(ends[1], F_DUPFD_CLOEXEC, 10);
    int as = fcntl(ends[1], F_DUPFD_CLOEXEC, 10);
    char *argv[] = { nb_xstrdup(python), nb_xstrdup(path), text_printf("%d", as), NULL };
    int rc = passed < 0 || as < 0 ? errno
                                  : nb_spawn_process(python, argv, log, passed, as, &z->pid);
    for (size_t i = 0; argv[i]; i++)
        free(argv[i]);
    close(ends[1]);
    if (passed >= 0)
        close(passed);
    if (as >= 0)
        close(as);
    if (rc != 0) {
        close(ends[0]);
        *why = text_printf("cannot start %s: %s", python, strerror(rc));
        return -1;
    }
    z->fd = ends[0];
    z->alive = true;
    return 0;
}

static json_t *string_array(const char *const *items, size_t count)
{
    json_t *array = json_array();
    for (size_t i = 0; i < count; i++)
        json_array_append_new(array, json_string(items[i]));
    return array;
}

/* Sends the setup and waits for the zygote to be ready. */
static int handshake(nb_zygote *z, const nb_zygote_setup *setup, int *signal, char **why)
{
    json_t *hello = json_pack("{s:s, s:o, s:[s]}", "workdir", setup->workdir, "scripts",
                              string_array(setup->scripts, setup->nscripts), "also",
                              setup->runtime);
    json_t *ready = NULL;
    if (send_message(z, hello, why) != 0 ||
        read_message(z, -1, setup->stop, signal, &ready, why) != 0)
        return -1;
    int status = 0;
    if (!json_is_true(json_object_get(ready, "ready"))) {
        const char *reason = json_string_value(json_object_get(ready, "why"));
        *why = text_printf("%s", reason ? reason : "it declined");
        status = -1;
    }
    z->modules = json_array_size(json_object_get(ready, "preloaded"));
    z->seconds = json_number_value(json_object_get(ready, "seconds"));
    json_decref(ready);
    return status;
}

nb_zygote *nb_zygote_start(const nb_zygote_setup *setup, int *signal, char **why)
{
    *signal = 0;
    *why = NULL;
    nb_zygote *z = nb_xcalloc(1, sizeof *z);
    z->fd = -1;
    nb_buf_init(&z->in);
#ifdef __linux__
    /* the step processes are the zygote's grandchildren; orphaned when the process in
     * between exits, they become our children, which we wait for as for any step */
    z->subreaper = prctl(PR_SET_CHILD_SUBREAPER, 1L, 0L, 0L, 0L) == 0;
    if (!z->subreaper)
        *why = text_printf("cannot become a child subreaper: %s", strerror(errno));
#else
    *why = text_printf("it needs Linux (a child subreaper)");
#endif
    char *code = *why ? NULL : write_code(setup->dir, why);
    if (!code || spawn(z, setup->python, code, setup->log, why) != 0 ||
        handshake(z, setup, signal, why) != 0) {
        free(code);
        nb_zygote_free(z);
        return NULL;
    }
    free(code);
    return z;
}

size_t nb_zygote_modules(const nb_zygote *z)
{
    return z->modules;
}

double nb_zygote_seconds(const nb_zygote *z)
{
    return z->seconds;
}

int nb_zygote_fork(nb_zygote *z, char *const *argv, const char *log, pid_t *pid, char **why)
{
    *why = NULL;
    json_t *args = json_array();
    for (size_t i = 0; argv[i]; i++)
        json_array_append_new(args, json_string(argv[i]));
    json_t *reply = NULL;
    int signal = 0;
    if (!z->alive || send_message(z, json_pack("{s:o, s:s}", "argv", args, "log", log), why) != 0 ||
        read_message(z, FORK_TIMEOUT, NULL, &signal, &reply, why) != 0) {
        if (!*why)
            *why = text_printf("it exited (see its log)");
        return NB_ZYGOTE_GONE;
    }
    json_t *forked = json_object_get(reply, "pid");
    const char *fresh = json_string_value(json_object_get(reply, "fresh"));
    const char *error = json_string_value(json_object_get(reply, "error"));
    int result = NB_ZYGOTE_FRESH;
    if (json_is_integer(forked)) {
        *pid = (pid_t)json_integer_value(forked);
        result = NB_ZYGOTE_FORKED;
    } else if (fresh) {
        *why = text_printf("%s", fresh);
    } else {
        *why = text_printf("the warm interpreter could not fork it: %s",
                           error ? error : "no reason given");
    }
    json_decref(reply);
    return result;
}

bool nb_zygote_reaped(nb_zygote *z, pid_t pid)
{
    if (!z || !z->alive || pid != z->pid)
        return false;
    z->alive = false;
    return true;
}

void nb_zygote_free(nb_zygote *z)
{
    if (!z)
        return;
    if (z->fd >= 0)
        close(z->fd);
    double deadline = monotonic_seconds() + EXIT_GRACE;
    while (z->alive) {
        int status;
        pid_t done = waitpid(z->pid, &status, WNOHANG);
        if (done == z->pid || (done < 0 && errno != EINTR)) {
            z->alive = false;
        } else if (monotonic_seconds() > deadline) {
            kill(-z->pid, SIGKILL); /* its own process group: it and a half-forked child */
            waitpid(z->pid, &status, 0);
            z->alive = false;
        } else {
            struct timespec pause = { 0, 2 * 1000 * 1000 };
            nanosleep(&pause, NULL);
        }
    }
#ifdef __linux__
    if (z->subreaper)
        prctl(PR_SET_CHILD_SUBREAPER, 0L, 0L, 0L, 0L);
#endif
    nb_buf_release(&z->in);
    free(z);
}
