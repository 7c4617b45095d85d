/* The warm interpreter of a run (src/runtime/nb2pipe_zygote.py): one Python process
 * that imports the modules the pipeline's steps import, then forks one process per
 * step, so that a step does not pay for starting Python and importing pandas again.
 * This side starts it, asks it for step processes, and ends it. Private to runner.c. */
#ifndef NB2PIPE_ZYGOTE_H
#define NB2PIPE_ZYGOTE_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

typedef struct nb_zygote nb_zygote;

typedef struct nb_zygote_setup {
    const char *python;   /* the interpreter the steps run with */
    const char *dir;      /* the pipeline directory; the zygote's code goes to DIR/.nb2pipe */
    const char *workdir;  /* where the steps run their code (the notebook's directory) */
    const char *const *scripts; /* the steps that may run: their imports are preloaded */
    size_t nscripts;
    const char *runtime; /* the runtime module: its imports are preloaded too */
    const char *log;     /* the zygote's own stdout and stderr */
    const sigset_t *stop; /* signals (blocked by the caller) that end the wait */
} nb_zygote_setup;

/* Starts the zygote and waits until it has imported the steps' modules. Returns it, or
 * NULL with *WHY set (caller frees) when it cannot start or declined, or with *SIGNAL
 * set to a signal of SETUP->stop that came meanwhile (taken from the pending set). On
 * Linux only: it makes the caller a child subreaper (prctl), so that the forked step
 * processes become the caller's children. */
nb_zygote *nb_zygote_start(const nb_zygote_setup *setup, int *signal, char **why);

/* How many modules the zygote imported, and the seconds it took. */
size_t nb_zygote_modules(const nb_zygote *z);
double nb_zygote_seconds(const nb_zygote *z);

enum { NB_ZYGOTE_FORKED = 1, NB_ZYGOTE_FRESH = 0, NB_ZYGOTE_GONE = -1 };

/* Asks for a process running step ARGV (argv[0] the python, argv[1] the script, NULL
 * ended) with stdout and stderr into LOG. NB_ZYGOTE_FORKED: *PID is the step's process,
 * a child of the caller in its own process group. NB_ZYGOTE_FRESH: this step must run
 * in a fresh process; *WHY says why (caller frees). NB_ZYGOTE_GONE: the zygote failed or
 * no longer answers, *WHY says how; it is no use any more (free it). */
int nb_zygote_fork(nb_zygote *z, char *const *argv, const char *log, pid_t *pid, char **why);

/* True when PID, which the caller has reaped, was the zygote (which is then gone). */
bool nb_zygote_reaped(nb_zygote *z, pid_t pid);

/* Ends the zygote: closes its socket (it exits at the end of it), waits for it a moment,
 * then kills it; stops being a subreaper. Frees Z; NULL is a no-op. */
void nb_zygote_free(nb_zygote *z);

#endif
