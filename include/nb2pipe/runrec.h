/* Run records of a pipeline directory: every run and every step execution in a SQLite
 * database (.nb2pipe/runs.sqlite), and the outputs of every successful step kept by
 * content hash (.nb2pipe/objects/), so that the state before any step of any recorded
 * run can be put back. */
#ifndef NB2PIPE_RUNREC_H
#define NB2PIPE_RUNREC_H

#include "nb2pipe/alloc.h"
#include "nb2pipe/diag.h"
#include "nb2pipe/runplan.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct nb_runrec nb_runrec;

/* Opens the records of the pipeline in DIR, creating them when CREATE and missing.
 * Returns NULL after recording an error when the database is damaged or is not one
 * nb2pipe wrote (or, without CREATE, does not exist: code "no-runs"). */
nb_runrec *nb_runrec_open(const char *dir, bool create, nb_diags *diags);
void nb_runrec_close(nb_runrec *rec);

/* Takes the lock that lets one nb2pipe at a time run or restore the pipeline in DIR
 * (.nb2pipe/lock; the kernel drops it when the process ends). Waits for it when WAIT,
 * else fails at once. Returns the descriptor to close to release it, or -1 after
 * recording an error. */
int nb_runrec_lock(const char *dir, bool wait, nb_diags *diags);

/* One file a step left in the data directory. */
typedef struct nb_output_record {
    const char *path; /* relative to the data directory: "STEP/VAR.pkl" */
    char hash[NB_HASH_HEX];
    long long size;
} nb_output_record;

/* What happened to one step in one run. */
typedef struct nb_step_record {
    const char *step;
    const char *status; /* "ok", "failed", "up-to-date", "skipped", "interrupted" */
    const char *reason; /* why it ran, or why it was skipped; may be NULL */
    const char *log;    /* path of its log, or NULL */
    double started;     /* seconds since the epoch */
    double duration;    /* seconds */
    int exit_code;      /* -1 when it did not exit normally or did not run */
    nb_fingerprint fingerprint;
    nb_output_record *outputs;
    size_t noutputs;
} nb_step_record;

/* Starts a run; returns its id (1, 2, ...), or -1 after recording an error. PARAMS is a
 * JSON object of the parameter values the run uses. */
long long nb_runrec_begin(nb_runrec *rec, const char *params, const char *python,
                          nb_diags *diags);

/* Records STEP's outcome in RUN. Returns 0 or -1 after recording an error. */
int nb_runrec_add_step(nb_runrec *rec, long long run, const nb_step_record *step,
                       nb_diags *diags);

/* Ends RUN with STATUS ("ok", "failed", "interrupted"). */
int nb_runrec_end(nb_runrec *rec, long long run, const char *status, nb_diags *diags);

/* The newest record of STEP that left outputs ("ok" or "up-to-date"), in a run no
 * later than BEFORE (0: any run). Its strings live in POOL. Returns 1 when found, 0
 * when the step never ran successfully, -1 after recording an error. */
int nb_runrec_last_good(nb_runrec *rec, const char *step, long long before, nb_pool *pool,
                        nb_step_record *out, long long *run, nb_diags *diags);

/* The newest record of STEP with the whole fingerprint FINGERPRINT that left outputs,
 * in any run: the run cache. Returns like nb_runrec_last_good. */
int nb_runrec_same_fingerprint(nb_runrec *rec, const char *step, const char *fingerprint,
                               nb_pool *pool, nb_step_record *out, long long *run,
                               nb_diags *diags);

/* One line of `nb2pipe runs`. */
typedef struct nb_run_summary {
    long long id;
    double started, ended; /* ended is 0 while running or when it was killed */
    const char *status;
    const char *params; /* JSON object */
    const char *python;
    int executed, up_to_date, failed, skipped;
} nb_run_summary;

/* All runs, oldest first, in *RUNS (allocated in POOL). Returns the count, or -1. */
long nb_runrec_list(nb_runrec *rec, nb_pool *pool, nb_run_summary **runs, nb_diags *diags);

/* The parameter overrides RUN used (a JSON object), or NULL after recording an error
 * when there is no such run. */
const char *nb_runrec_run_params(nb_runrec *rec, long long run, nb_pool *pool, nb_diags *diags);

/* The id of the newest run, or of the newest successful one; 0 when there is none. */
long long nb_runrec_latest(nb_runrec *rec, bool successful);

/* The steps recorded for RUN, in the order they were recorded (outputs not loaded). */
long nb_runrec_steps(nb_runrec *rec, long long run, nb_pool *pool, nb_step_record **steps,
                     nb_diags *diags);

/* Keeps the newest KEEP runs and the newest successful one; forgets older runs and
 * deletes the objects and logs no kept run refers to. Counts what went. */
int nb_runrec_gc(nb_runrec *rec, long keep, long *runs_removed, long *objects_removed,
                 long long *bytes_freed, nb_diags *diags);

/* Keeps the file at PATH in the object store under HASH (nothing to do when the store
 * has it): a hard link to it, so that the output is not written twice (steps and restore
 * replace outputs by renaming, never in place), or a copy where a link cannot be made
 * (another file system). Returns 0 or -1 after recording an error. */
int nb_runrec_keep(nb_runrec *rec, const char *path, const char *hash, nb_diags *diags);

/* Path of the stored object HASH (it may not exist). Caller frees. */
char *nb_runrec_object_path(const nb_runrec *rec, const char *hash);

/* True when the store holds object HASH (its bytes are checked by nb_runrec_restore). */
bool nb_runrec_has_object(const nb_runrec *rec, const char *hash);

/* Replaces DEST atomically with the stored object HASH, after checking the object still
 * has that hash. Returns 0 or -1 after recording an error. */
int nb_runrec_restore(nb_runrec *rec, const char *hash, const char *dest, nb_diags *diags);

/* Copies SOURCE to DEST through a temporary file in DEST's directory and a rename, with
 * mode 0644. Returns 0, or -1 with errno set. */
int nb_copy_file_atomic(const char *source, const char *dest);

#endif
