#include "nb2pipe/runrec.h"

#include "nb2pipe/buf.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <sys/file.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* "nb2p": tells our database from any other SQLite file someone put there. */
enum { APPLICATION_ID = 0x6e623270, SCHEMA_VERSION = 1 };

static const char schema[] =
    "CREATE TABLE runs ("
    "  id INTEGER PRIMARY KEY, started REAL NOT NULL, ended REAL, status TEXT NOT NULL,"
    "  params TEXT NOT NULL, python TEXT NOT NULL);"
    "CREATE TABLE steps ("
    "  run INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE, seq INTEGER NOT NULL,"
    "  step TEXT NOT NULL, status TEXT NOT NULL, reason TEXT, log TEXT,"
    "  started REAL, duration REAL, exit_code INTEGER,"
    "  fingerprint TEXT NOT NULL, code TEXT NOT NULL, params TEXT NOT NULL,"
    "  inputs TEXT NOT NULL, python TEXT NOT NULL,"
    "  PRIMARY KEY (run, step));"
    "CREATE TABLE outputs ("
    "  run INTEGER NOT NULL, step TEXT NOT NULL, path TEXT NOT NULL, hash TEXT NOT NULL,"
    "  size INTEGER NOT NULL, PRIMARY KEY (run, step, path),"
    "  FOREIGN KEY (run, step) REFERENCES steps(run, step) ON DELETE CASCADE);"
    "CREATE INDEX steps_by_name ON steps(step, run);";

struct nb_runrec {
    sqlite3 *db;
    char *path;    /* DIR/.nb2pipe/runs.sqlite */
    char *objects; /* DIR/.nb2pipe/objects */
    char *logs;    /* DIR/.nb2pipe/logs */
};

static int db_error(nb_runrec *rec, nb_diags *diags, const char *doing)
{
    nb_diag_add(diags, NB_ERROR, "bad-run-records", (nb_loc){ .file = rec->path },
                "cannot %s the run records: %s (move the file away to start afresh, or run "
                "with --no-record)",
                doing, sqlite3_errmsg(rec->db));
    return -1;
}

static int make_dir(const char *path)
{
    return mkdir(path, 0777) == 0 || errno == EEXIST ? 0 : -1;
}

static long long pragma_value(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *stmt = NULL;
    long long value = -1;
    if (sqlite3_prepare_v2(db, sql, -1, &stmt, NULL) == SQLITE_OK &&
        sqlite3_step(stmt) == SQLITE_ROW)
        value = sqlite3_column_int64(stmt, 0);
    sqlite3_finalize(stmt);
    return value;
}

/* A new database gets the schema; an existing one must be ours, of our version. */
static int check_schema(nb_runrec *rec, nb_diags *diags)
{
    long long tables = pragma_value(rec->db, "SELECT count(*) FROM sqlite_master");
    if (tables < 0)
        return db_error(rec, diags, "read");
    if (tables == 0) {
        char stamp[96];
        snprintf(stamp, sizeof stamp, "PRAGMA application_id = %d; PRAGMA user_version = %d;",
                 APPLICATION_ID, SCHEMA_VERSION);
        if (sqlite3_exec(rec->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK ||
            sqlite3_exec(rec->db, schema, NULL, NULL, NULL) != SQLITE_OK ||
            sqlite3_exec(rec->db, stamp, NULL, NULL, NULL) != SQLITE_OK ||
            sqlite3_exec(rec->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
            return db_error(rec, diags, "create");
        return 0;
    }
    long long id = pragma_value(rec->db, "PRAGMA application_id");
    long long version = pragma_value(rec->db, "PRAGMA user_version");
    if (id != APPLICATION_ID || version != SCHEMA_VERSION) {
        nb_diag_add(diags, NB_ERROR, "bad-run-records", (nb_loc){ .file = rec->path },
                    id != APPLICATION_ID
                        ? "this SQLite database was not written by nb2pipe: move it away, or "
                          "run with --no-record"
                        : "these run records are of another nb2pipe version (schema %lld): "
                          "move them away, or run with --no-record",
                    version);
        return -1;
    }
    return 0;
}

nb_runrec *nb_runrec_open(const char *dir, bool create, nb_diags *diags)
{
    nb_runrec *rec = nb_xcalloc(1, sizeof *rec);
    nb_buf path = NB_BUF_INIT;
    nb_buf_printf(&path, "%s/.nb2pipe/objects", dir);
    rec->objects = nb_xstrdup(path.data);
    nb_buf_reset(&path);
    nb_buf_printf(&path, "%s/.nb2pipe/logs", dir);
    rec->logs = nb_xstrdup(path.data);
    nb_buf_reset(&path);
    nb_buf_printf(&path, "%s/.nb2pipe", dir);
    if (create)
        make_dir(path.data);
    nb_buf_puts(&path, "/runs.sqlite");
    rec->path = nb_buf_detach(&path, NULL);
    struct stat st;
    if (!create && stat(rec->path, &st) != 0) {
        nb_diag_add(diags, NB_ERROR, "no-runs", (nb_loc){ .file = dir },
                    "no run records here: run the pipeline first (nb2pipe run %s)", dir);
        nb_runrec_close(rec);
        return NULL;
    }
    int flags = SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0);
    if (sqlite3_open_v2(rec->path, &rec->db, flags, NULL) != SQLITE_OK ||
        sqlite3_busy_timeout(rec->db, 10000) != SQLITE_OK ||
        sqlite3_exec(rec->db, "PRAGMA foreign_keys = ON", NULL, NULL, NULL) != SQLITE_OK ||
        check_schema(rec, diags) != 0) {
        if (diags->errors == 0)
            db_error(rec, diags, "open");
        nb_runrec_close(rec);
        return NULL;
    }
    /* A run commits once per step: with a rollback journal each commit waits for two
     * fsyncs, which on a busy disk made a run with nothing to do take 0.1-0.2 s. A
     * write-ahead log commits without waiting (synchronous=NORMAL) and stays consistent
     * after a crash; a power cut may lose the last records. Left as it is when the file
     * system cannot have one. */
    sqlite3_exec(rec->db, "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL", NULL, NULL,
                 NULL);
    return rec;
}

void nb_runrec_close(nb_runrec *rec)
{
    if (!rec)
        return;
    sqlite3_close(rec->db);
    free(rec->path);
    free(rec->objects);
    free(rec->logs);
    free(rec);
}

static double wall_clock(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Prepares SQL; on failure records an error and returns NULL. */
static sqlite3_stmt *prepare(nb_runrec *rec, const char *sql, nb_diags *diags)
{
    sqlite3_stmt *stmt = NULL;
    if (sqlite3_prepare_v2(rec->db, sql, -1, &stmt, NULL) != SQLITE_OK) {
        db_error(rec, diags, "query");
        sqlite3_finalize(stmt);
        return NULL;
    }
    return stmt;
}

/* Steps a statement that returns no rows, then finalizes it. */
static int finish(nb_runrec *rec, sqlite3_stmt *stmt, nb_diags *diags, const char *doing)
{
    int rc = sqlite3_step(stmt);
    sqlite3_finalize(stmt);
    return rc == SQLITE_DONE ? 0 : db_error(rec, diags, doing);
}

static void bind_text(sqlite3_stmt *stmt, int column, const char *text)
{
    if (text)
        sqlite3_bind_text(stmt, column, text, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(stmt, column);
}

long long nb_runrec_begin(nb_runrec *rec, const char *params, const char *python,
                          nb_diags *diags)
{
    sqlite3_stmt *stmt = prepare(
        rec, "INSERT INTO runs(started, status, params, python) VALUES (?, 'running', ?, ?)",
        diags);
    if (!stmt)
        return -1;
    sqlite3_bind_double(stmt, 1, wall_clock());
    bind_text(stmt, 2, params);
    bind_text(stmt, 3, python);
    if (finish(rec, stmt, diags, "write") != 0)
        return -1;
    return sqlite3_last_insert_rowid(rec->db);
}

int nb_runrec_end(nb_runrec *rec, long long run, const char *status, nb_diags *diags)
{
    sqlite3_stmt *stmt = prepare(rec, "UPDATE runs SET ended = ?, status = ? WHERE id = ?", diags);
    if (!stmt)
        return -1;
    sqlite3_bind_double(stmt, 1, wall_clock());
    bind_text(stmt, 2, status);
    sqlite3_bind_int64(stmt, 3, run);
    return finish(rec, stmt, diags, "write");
}

static int insert_step(nb_runrec *rec, long long run, const nb_step_record *step,
                       nb_diags *diags)
{
    sqlite3_stmt *stmt = prepare(
        rec,
        "INSERT OR REPLACE INTO steps(run, seq, step, status, reason, log, started, duration,"
        " exit_code, fingerprint, code, params, inputs, python) VALUES (?1,"
        " (SELECT count(*) FROM steps WHERE run = ?1), ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10,"
        " ?11, ?12, ?13)",
        diags);
    if (!stmt)
        return -1;
    const nb_fingerprint *fp = &step->fingerprint;
    sqlite3_bind_int64(stmt, 1, run);
    bind_text(stmt, 2, step->step);
    bind_text(stmt, 3, step->status);
    bind_text(stmt, 4, step->reason);
    bind_text(stmt, 5, step->log);
    sqlite3_bind_double(stmt, 6, step->started);
    sqlite3_bind_double(stmt, 7, step->duration);
    sqlite3_bind_int(stmt, 8, step->exit_code);
    bind_text(stmt, 9, fp->whole);
    bind_text(stmt, 10, fp->code);
    bind_text(stmt, 11, fp->params);
    bind_text(stmt, 12, fp->inputs);
    bind_text(stmt, 13, fp->python);
    return finish(rec, stmt, diags, "write");
}

static int insert_output(nb_runrec *rec, long long run, const char *step,
                         const nb_output_record *out, nb_diags *diags)
{
    sqlite3_stmt *stmt = prepare(
        rec, "INSERT INTO outputs(run, step, path, hash, size) VALUES (?, ?, ?, ?, ?)", diags);
    if (!stmt)
        return -1;
    sqlite3_bind_int64(stmt, 1, run);
    bind_text(stmt, 2, step);
    bind_text(stmt, 3, out->path);
    bind_text(stmt, 4, out->hash);
    sqlite3_bind_int64(stmt, 5, out->size);
    return finish(rec, stmt, diags, "write");
}

int nb_runrec_add_step(nb_runrec *rec, long long run, const nb_step_record *step,
                       nb_diags *diags)
{
    if (sqlite3_exec(rec->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        return db_error(rec, diags, "write");
    int status = insert_step(rec, run, step, diags);
    for (size_t i = 0; status == 0 && i < step->noutputs; i++)
        status = insert_output(rec, run, step->step, &step->outputs[i], diags);
    if (sqlite3_exec(rec->db, status == 0 ? "COMMIT" : "ROLLBACK", NULL, NULL, NULL) != SQLITE_OK &&
        status == 0)
        status = db_error(rec, diags, "write");
    return status;
}

static const char *column_text(sqlite3_stmt *stmt, int column, nb_pool *pool)
{
    const unsigned char *text = sqlite3_column_text(stmt, column);
    return text ? nb_pool_strdup(pool, (const char *)text) : NULL;
}

static void column_hash(sqlite3_stmt *stmt, int column, char hex[NB_HASH_HEX])
{
    const unsigned char *text = sqlite3_column_text(stmt, column);
    snprintf(hex, NB_HASH_HEX, "%s", text ? (const char *)text : "");
}

#define STEP_COLUMNS                                                                       \
    "step, status, reason, log, started, duration, exit_code, fingerprint, code, params,"   \
    " inputs, python, run"

/* Reads a row selected with STEP_COLUMNS. */
static long long read_step(sqlite3_stmt *stmt, nb_pool *pool, nb_step_record *out)
{
    memset(out, 0, sizeof *out);
    out->step = column_text(stmt, 0, pool);
    out->status = column_text(stmt, 1, pool);
    out->reason = column_text(stmt, 2, pool);
    out->log = column_text(stmt, 3, pool);
    out->started = sqlite3_column_double(stmt, 4);
    out->duration = sqlite3_column_double(stmt, 5);
    out->exit_code = sqlite3_column_int(stmt, 6);
    column_hash(stmt, 7, out->fingerprint.whole);
    column_hash(stmt, 8, out->fingerprint.code);
    column_hash(stmt, 9, out->fingerprint.params);
    column_hash(stmt, 10, out->fingerprint.inputs);
    column_hash(stmt, 11, out->fingerprint.python);
    return sqlite3_column_int64(stmt, 12);
}

static int read_outputs(nb_runrec *rec, long long run, nb_pool *pool, nb_step_record *step,
                        nb_diags *diags)
{
    sqlite3_stmt *stmt = prepare(
        rec, "SELECT path, hash, size FROM outputs WHERE run = ? AND step = ? ORDER BY path", diags);
    if (!stmt)
        return -1;
    sqlite3_bind_int64(stmt, 1, run);
    bind_text(stmt, 2, step->step);
    size_t cap = 0;
    nb_output_record *items = NULL;
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        items = nb_xgrow(items, &cap, step->noutputs + 1, sizeof *items);
        nb_output_record *out = &items[step->noutputs++];
        out->path = column_text(stmt, 0, pool);
        column_hash(stmt, 1, out->hash);
        out->size = sqlite3_column_int64(stmt, 2);
    }
    sqlite3_finalize(stmt);
    step->outputs = items ? nb_pool_memdup(pool, items, step->noutputs, sizeof *items) : NULL;
    free(items);
    return rc == SQLITE_DONE ? 0 : db_error(rec, diags, "read");
}

/* Reads the first row of STMT (prepared with STEP_COLUMNS and bound) and its outputs;
 * finalizes STMT. Returns 1, 0 when there is no row, or -1 after recording an error. */
static int read_first_step(nb_runrec *rec, sqlite3_stmt *stmt, nb_pool *pool,
                           nb_step_record *out, long long *run, nb_diags *diags)
{
    int rc = sqlite3_step(stmt);
    int found = 0;
    if (rc == SQLITE_ROW) {
        *run = read_step(stmt, pool, out);
        found = 1;
    } else if (rc != SQLITE_DONE) {
        found = db_error(rec, diags, "read");
    }
    sqlite3_finalize(stmt);
    if (found == 1 && read_outputs(rec, *run, pool, out, diags) != 0)
        found = -1;
    return found;
}

int nb_runrec_last_good(nb_runrec *rec, const char *step, long long before, nb_pool *pool,
                        nb_step_record *out, long long *run, nb_diags *diags)
{
    sqlite3_stmt *stmt = prepare(rec,
                                 "SELECT " STEP_COLUMNS " FROM steps WHERE step = ? AND"
                                 " status IN ('ok', 'up-to-date') AND (? = 0 OR run <= ?)"
                                 " ORDER BY run DESC LIMIT 1",
                                 diags);
    if (!stmt)
        return -1;
    bind_text(stmt, 1, step);
    sqlite3_bind_int64(stmt, 2, before);
    sqlite3_bind_int64(stmt, 3, before);
    return read_first_step(rec, stmt, pool, out, run, diags);
}

int nb_runrec_same_fingerprint(nb_runrec *rec, const char *step, const char *fingerprint,
                               nb_pool *pool, nb_step_record *out, long long *run,
                               nb_diags *diags)
{
    sqlite3_stmt *stmt = prepare(rec,
                                 "SELECT " STEP_COLUMNS " FROM steps WHERE step = ? AND"
                                 " fingerprint = ? AND status IN ('ok', 'up-to-date')"
                                 " ORDER BY run DESC LIMIT 1",
                                 diags);
    if (!stmt)
        return -1;
    bind_text(stmt, 1, step);
    bind_text(stmt, 2, fingerprint);
    return read_first_step(rec, stmt, pool, out, run, diags);
}

long nb_runrec_steps(nb_runrec *rec, long long run, nb_pool *pool, nb_step_record **steps,
                     nb_diags *diags)
{
    sqlite3_stmt *stmt =
        prepare(rec, "SELECT " STEP_COLUMNS " FROM steps WHERE run = ? ORDER BY seq", diags);
    if (!stmt)
        return -1;
    sqlite3_bind_int64(stmt, 1, run);
    size_t count = 0, cap = 0;
    nb_step_record *items = NULL;
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        items = nb_xgrow(items, &cap, count + 1, sizeof *items);
        read_step(stmt, pool, &items[count++]);
    }
    sqlite3_finalize(stmt);
    *steps = count ? nb_pool_memdup(pool, items, count, sizeof *items) : NULL;
    free(items);
    return rc == SQLITE_DONE ? (long)count : db_error(rec, diags, "read");
}

long nb_runrec_list(nb_runrec *rec, nb_pool *pool, nb_run_summary **runs, nb_diags *diags)
{
    sqlite3_stmt *stmt = prepare(
        rec,
        "SELECT id, started, ended, status, params, python,"
        " (SELECT count(*) FROM steps WHERE run = runs.id AND status IN ('ok', 'failed', 'interrupted')),"
        " (SELECT count(*) FROM steps WHERE run = runs.id AND status = 'up-to-date'),"
        " (SELECT count(*) FROM steps WHERE run = runs.id AND status IN ('failed', 'interrupted')),"
        " (SELECT count(*) FROM steps WHERE run = runs.id AND status = 'skipped')"
        " FROM runs ORDER BY id",
        diags);
    if (!stmt)
        return -1;
    size_t count = 0, cap = 0;
    nb_run_summary *items = NULL;
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        items = nb_xgrow(items, &cap, count + 1, sizeof *items);
        nb_run_summary *run = &items[count++];
        run->id = sqlite3_column_int64(stmt, 0);
        run->started = sqlite3_column_double(stmt, 1);
        run->ended = sqlite3_column_double(stmt, 2);
        run->status = column_text(stmt, 3, pool);
        run->params = column_text(stmt, 4, pool);
        run->python = column_text(stmt, 5, pool);
        run->executed = sqlite3_column_int(stmt, 6);
        run->up_to_date = sqlite3_column_int(stmt, 7);
        run->failed = sqlite3_column_int(stmt, 8);
        run->skipped = sqlite3_column_int(stmt, 9);
    }
    sqlite3_finalize(stmt);
    *runs = count ? nb_pool_memdup(pool, items, count, sizeof *items) : NULL;
    free(items);
    return rc == SQLITE_DONE ? (long)count : db_error(rec, diags, "read");
}

long long nb_runrec_latest(nb_runrec *rec, bool successful)
{
    long long id = pragma_value(rec->db, successful
                                             ? "SELECT coalesce(max(id), 0) FROM runs WHERE status = 'ok'"
                                             : "SELECT coalesce(max(id), 0) FROM runs");
    return id < 0 ? 0 : id;
}

int nb_runrec_lock(const char *dir, bool wait, nb_diags *diags)
{
    nb_buf path = NB_BUF_INIT;
    nb_buf_printf(&path, "%s/.nb2pipe", dir);
    make_dir(path.data);
    nb_buf_puts(&path, "/lock");
    int fd = open(path.data, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (fd < 0) {
        nb_diag_add(diags, NB_ERROR, "io-error", (nb_loc){ .file = path.data },
                    "cannot create the lock file: %s", strerror(errno));
    } else if (flock(fd, LOCK_EX | (wait ? 0 : LOCK_NB)) != 0) {
        char holder[32] = "";
        ssize_t n = pread(fd, holder, sizeof holder - 1, 0);
        holder[n > 0 ? n : 0] = '\0';
        holder[strcspn(holder, "\n")] = '\0';
        nb_diag_add(diags, NB_ERROR, "locked", (nb_loc){ .file = dir },
                    "another nb2pipe (pid %s) is running or restoring this pipeline: wait for "
                    "it to end, or pass --wait",
                    holder[0] ? holder : "unknown");
        close(fd);
        fd = -1;
    } else {
        /* the pid only serves the message another nb2pipe gives */
        char pid[32];
        int len = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
        if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)len, 0) != len)
            nb_diag_add(diags, NB_WARNING, "io-error", (nb_loc){ .file = path.data },
                        "cannot write the pid into the lock file: %s", strerror(errno));
    }
    nb_buf_release(&path);
    return fd;
}

const char *nb_runrec_run_params(nb_runrec *rec, long long run, nb_pool *pool, nb_diags *diags)
{
    sqlite3_stmt *stmt = prepare(rec, "SELECT params FROM runs WHERE id = ?", diags);
    if (!stmt)
        return NULL;
    sqlite3_bind_int64(stmt, 1, run);
    const char *params = NULL;
    if (sqlite3_step(stmt) == SQLITE_ROW)
        params = column_text(stmt, 0, pool);
    else
        nb_diag_add(diags, NB_ERROR, "no-such-run", (nb_loc){ .file = rec->path },
                    "there is no run %lld (nb2pipe runs lists them)", run);
    sqlite3_finalize(stmt);
    return params;
}

/* ---- the object store ------------------------------------------------------------------ */

char *nb_runrec_object_path(const nb_runrec *rec, const char *hash)
{
    nb_buf path = NB_BUF_INIT;
    /* two levels, like git, so that no directory holds too many files */
    nb_buf_printf(&path, "%s/%.2s/%s", rec->objects, hash, hash + 2);
    return nb_buf_detach(&path, NULL);
}

int nb_copy_file_atomic(const char *source, const char *dest)
{
    int in = open(source, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return -1;
    nb_buf tmp = NB_BUF_INIT;
    nb_buf_printf(&tmp, "%s.tmp-%ld", dest, (long)getpid());
    int out = open(tmp.data, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    int status = out < 0 ? -1 : 0;
    static char chunk[1 << 16];
    while (status == 0) {
        ssize_t n = read(in, chunk, sizeof chunk);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            status = n < 0 ? -1 : 0;
            break;
        }
        for (ssize_t done = 0; status == 0 && done < n;) {
            ssize_t w = write(out, chunk + done, (size_t)(n - done));
            if (w < 0 && errno != EINTR)
                status = -1;
            else if (w > 0)
                done += w;
        }
    }
    int saved = errno;
    close(in);
    if (out >= 0 && close(out) != 0 && status == 0)
        status = -1;
    if (status == 0 && rename(tmp.data, dest) != 0)
        status = -1;
    if (status != 0) {
        saved = errno;
        unlink(tmp.data);
    }
    nb_buf_release(&tmp);
    errno = saved;
    return status;
}

int nb_runrec_keep(nb_runrec *rec, const char *path, const char *hash, nb_diags *diags)
{
    char *object = nb_runrec_object_path(rec, hash);
    struct stat st;
    int status = 0;
    if (stat(object, &st) != 0) {
        nb_buf dir = NB_BUF_INIT;
        nb_buf_printf(&dir, "%s/%.2s", rec->objects, hash);
        if (make_dir(rec->objects) != 0 || make_dir(dir.data) != 0 ||
            (link(path, object) != 0 && errno != EEXIST && nb_copy_file_atomic(path, object) != 0)) {
            nb_diag_add(diags, NB_ERROR, "io-error", (nb_loc){ .file = path },
                        "cannot keep a copy in %s: %s", rec->objects, strerror(errno));
            status = -1;
        }
        nb_buf_release(&dir);
    }
    free(object);
    return status;
}

bool nb_runrec_has_object(const nb_runrec *rec, const char *hash)
{
    char *object = nb_runrec_object_path(rec, hash);
    bool present = access(object, R_OK) == 0;
    free(object);
    return present;
}

int nb_runrec_restore(nb_runrec *rec, const char *hash, const char *dest, nb_diags *diags)
{
    char *object = nb_runrec_object_path(rec, hash);
    char actual[NB_HASH_HEX];
    int status = 0;
    if (nb_hash_file(object, actual) != 0 || strcmp(actual, hash) != 0) {
        nb_diag_add(diags, NB_ERROR, "missing-snapshot", (nb_loc){ .file = object },
                    errno == ENOENT ? "the snapshot of %s is gone (removed by nb2pipe gc?)"
                                    : "the snapshot of %s is damaged",
                    dest);
        status = -1;
    } else if (nb_copy_file_atomic(object, dest) != 0) {
        nb_diag_add(diags, NB_ERROR, "io-error", (nb_loc){ .file = dest }, "cannot write: %s",
                    strerror(errno));
        status = -1;
    }
    free(object);
    return status;
}

/* ---- forgetting old runs --------------------------------------------------------------- */

static bool is_hex(const char *name, size_t len)
{
    return strlen(name) == len && strspn(name, "0123456789abcdef") == len;
}

/* Deletes every object no remaining output row refers to; counts them and their bytes. */
static int sweep_objects(nb_runrec *rec, long *removed, long long *bytes, nb_diags *diags)
{
    sqlite3_stmt *stmt = prepare(rec, "SELECT 1 FROM outputs WHERE hash = ? LIMIT 1", diags);
    if (!stmt)
        return -1;
    DIR *top = opendir(rec->objects);
    struct dirent *sub;
    nb_buf path = NB_BUF_INIT, hash = NB_BUF_INIT;
    while (top && (sub = readdir(top)) != NULL) {
        if (!is_hex(sub->d_name, 2)) /* also passes over "." and ".." */
            continue;
        nb_buf_reset(&path);
        nb_buf_printf(&path, "%s/%s", rec->objects, sub->d_name);
        DIR *dir = opendir(path.data);
        struct dirent *entry;
        while (dir && (entry = readdir(dir)) != NULL) {
            if (!is_hex(entry->d_name, NB_HASH_HEX - 3)) /* temporary files, strangers */
                continue;
            nb_buf_reset(&hash);
            nb_buf_printf(&hash, "%s%s", sub->d_name, entry->d_name);
            sqlite3_reset(stmt);
            bind_text(stmt, 1, hash.data);
            if (sqlite3_step(stmt) == SQLITE_ROW)
                continue;
            nb_buf_reset(&path);
            nb_buf_printf(&path, "%s/%s/%s", rec->objects, sub->d_name, entry->d_name);
            struct stat st;
            if (stat(path.data, &st) == 0 && unlink(path.data) == 0) {
                ++*removed;
                *bytes += (long long)st.st_size;
            }
        }
        if (dir)
            closedir(dir);
    }
    if (top)
        closedir(top);
    sqlite3_finalize(stmt);
    nb_buf_release(&path);
    nb_buf_release(&hash);
    return 0;
}

/* Removes the log directory of a forgotten run. */
static void remove_run_logs(nb_runrec *rec, long long run)
{
    nb_buf path = NB_BUF_INIT;
    nb_buf_printf(&path, "%s/run-%lld", rec->logs, run);
    DIR *dir = opendir(path.data);
    struct dirent *entry;
    size_t base = path.len;
    while (dir && (entry = readdir(dir)) != NULL) {
        if (entry->d_name[0] == '.')
            continue;
        nb_buf_truncate(&path, base);
        nb_buf_printf(&path, "/%s", entry->d_name);
        unlink(path.data);
    }
    if (dir)
        closedir(dir);
    nb_buf_truncate(&path, base);
    rmdir(path.data);
    nb_buf_release(&path);
}

int nb_runrec_gc(nb_runrec *rec, long keep, long *runs_removed, long *objects_removed,
                 long long *bytes_freed, nb_diags *diags)
{
    *runs_removed = *objects_removed = 0;
    *bytes_freed = 0;
    /* the newest KEEP runs stay, and so does the newest successful one, whatever its age */
    sqlite3_stmt *stmt = prepare(rec,
                                 "SELECT id FROM runs WHERE id != ? AND id NOT IN"
                                 " (SELECT id FROM runs ORDER BY id DESC LIMIT ?)",
                                 diags);
    if (!stmt)
        return -1;
    sqlite3_bind_int64(stmt, 1, nb_runrec_latest(rec, true));
    sqlite3_bind_int64(stmt, 2, keep < 0 ? 0 : keep);
    long long *doomed = NULL;
    size_t count = 0, cap = 0;
    while (sqlite3_step(stmt) == SQLITE_ROW) {
        doomed = nb_xgrow(doomed, &cap, count + 1, sizeof *doomed);
        doomed[count++] = sqlite3_column_int64(stmt, 0);
    }
    sqlite3_finalize(stmt);
    int status = 0;
    for (size_t i = 0; status == 0 && i < count; i++) {
        sqlite3_stmt *del = prepare(rec, "DELETE FROM runs WHERE id = ?", diags);
        if (!del) {
            status = -1;
            break;
        }
        sqlite3_bind_int64(del, 1, doomed[i]);
        status = finish(rec, del, diags, "write");
        if (status == 0) {
            remove_run_logs(rec, doomed[i]);
            ++*runs_removed;
        }
    }
    free(doomed);
    if (status == 0)
        status = sweep_objects(rec, objects_removed, bytes_freed, diags);
    return status;
}
