#include "nb2pipe/fsout.h"

#include "nb2pipe/alloc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

void nb_fileset_init(nb_fileset *fs)
{
    memset(fs, 0, sizeof *fs);
}

void nb_fileset_release(nb_fileset *fs)
{
    for (size_t i = 0; i < fs->len; i++) {
        free(fs->files[i].path);
        nb_buf_release(&fs->files[i].data);
    }
    free(fs->files);
    nb_fileset_init(fs);
}

nb_buf *nb_fileset_add(nb_fileset *fs, const char *path)
{
    fs->files = nb_xgrow(fs->files, &fs->cap, fs->len + 1, sizeof *fs->files);
    nb_outfile *f = &fs->files[fs->len++];
    f->path = nb_xstrdup(path);
    nb_buf_init(&f->data);
    f->executable = false;
    return &f->data;
}

nb_buf *nb_fileset_add_executable(nb_fileset *fs, const char *path)
{
    nb_buf *data = nb_fileset_add(fs, path);
    fs->files[fs->len - 1].executable = true;
    return data;
}

const nb_outfile *nb_fileset_find(const nb_fileset *fs, const char *path)
{
    for (size_t i = 0; i < fs->len; i++)
        if (strcmp(fs->files[i].path, path) == 0)
            return &fs->files[i];
    return NULL;
}

static int compare_files(const void *a, const void *b)
{
    return strcmp(((const nb_outfile *)a)->path, ((const nb_outfile *)b)->path);
}

void nb_fileset_sort(nb_fileset *fs)
{
    if (fs->len > 1)
        qsort(fs->files, fs->len, sizeof *fs->files, compare_files);
}

/* The length of the device name NAME (LEN bytes) starts with, when what follows it is
 * the end or a dot; else 0. */
static size_t device_prefix(const char *name, size_t len)
{
    static const char *const three[] = { "con", "prn", "aux", "nul" };
    size_t n = 0;
    for (size_t i = 0; i < 4; i++)
        if (len >= 3 && strncasecmp(name, three[i], 3) == 0)
            n = 3;
    if (len >= 4 && (strncasecmp(name, "com", 3) == 0 || strncasecmp(name, "lpt", 3) == 0) &&
        name[3] >= '1' && name[3] <= '9')
        n = 4;
    return n && (len == n || name[n] == '.') ? n : 0;
}

bool nb_name_is_device(const char *name)
{
    return device_prefix(name, strlen(name)) > 0;
}

void nb_buf_add_file_name(nb_buf *out, const char *stem, const char *ext)
{
    size_t len = strlen(stem), n = device_prefix(stem, len);
    nb_buf_add(out, stem, n ? n : len);
    if (n) {
        nb_buf_putc(out, '_');
        nb_buf_add(out, stem + n, len - n);
    }
    nb_buf_puts(out, ext);
}

bool nb_path_is_safe(const char *path)
{
    size_t len = strlen(path);
    if (len == 0 || len > 1024 || path[0] == '/')
        return false;
    const char *segment = path;
    for (const char *p = path;; p++) {
        if (*p == '/' || *p == '\0') {
            size_t n = (size_t)(p - segment);
            if (n == 0 || n > 255 || (n == 1 && segment[0] == '.') ||
                (n == 2 && segment[0] == '.' && segment[1] == '.') ||
                device_prefix(segment, n) > 0)
                return false;
            if (*p == '\0')
                return true;
            segment = p + 1;
        } else if ((unsigned char)*p < 0x20 || *p == 0x7f || *p == '\\') {
            return false;
        }
    }
}

char *nb_path_search(const char *name)
{
    const char *path = getenv("PATH");
    if (!path || !*path)
        path = "/usr/local/bin:/usr/bin:/bin";
    nb_buf candidate = NB_BUF_INIT;
    char *found = NULL;
    while (!found && *path) {
        size_t n = strcspn(path, ":");
        nb_buf_reset(&candidate);
        if (n == 0)
            nb_buf_puts(&candidate, "."); /* an empty entry is the working directory */
        else
            nb_buf_add(&candidate, path, n);
        nb_buf_printf(&candidate, "/%s", name);
        struct stat st;
        if (stat(candidate.data, &st) == 0 && S_ISREG(st.st_mode) &&
            access(candidate.data, X_OK) == 0)
            found = nb_path_absolute(candidate.data);
        path += n + (path[n] == ':');
    }
    nb_buf_release(&candidate);
    return found;
}

char *nb_path_absolute(const char *path)
{
    nb_buf full = NB_BUF_INIT;
    if (path[0] != '/') {
        char cwd[4096];
        if (getcwd(cwd, sizeof cwd))
            nb_buf_puts(&full, cwd);
        nb_buf_putc(&full, '/');
    }
    nb_buf_puts(&full, path);
    /* split into segments and resolve . and .. */
    nb_buf out = NB_BUF_INIT;
    const char *p = full.data;
    while (*p) {
        while (*p == '/')
            p++;
        const char *end = strchr(p, '/');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (n == 0 || (n == 1 && p[0] == '.')) {
            /* skip */
        } else if (n == 2 && p[0] == '.' && p[1] == '.') {
            char *slash = strrchr(out.data, '/');
            nb_buf_truncate(&out, slash ? (size_t)(slash - out.data) : 0);
        } else {
            nb_buf_putc(&out, '/');
            nb_buf_add(&out, p, n);
        }
        p += n;
    }
    if (out.len == 0)
        nb_buf_putc(&out, '/');
    nb_buf_release(&full);
    return nb_buf_detach(&out, NULL);
}

char *nb_path_relative(const char *from, const char *to)
{
    char *a = nb_path_absolute(from), *b = nb_path_absolute(to);
    /* the longest common prefix of whole segments */
    size_t common = 0, i = 0;
    for (; a[i] && a[i] == b[i]; i++)
        if (a[i] == '/')
            common = i;
    if ((a[i] == '\0' || a[i] == '/') && (b[i] == '\0' || b[i] == '/'))
        common = i;
    nb_buf out = NB_BUF_INIT;
    for (const char *p = a + common; *p; p++)
        if (*p == '/' && p[1])
            nb_buf_puts(&out, out.len ? "/.." : "..");
    const char *rest = b + common;
    if (*rest == '/')
        rest++;
    if (*rest) {
        if (out.len)
            nb_buf_putc(&out, '/');
        nb_buf_puts(&out, rest);
    }
    if (out.len == 0)
        nb_buf_putc(&out, '.');
    free(a);
    free(b);
    return nb_buf_detach(&out, NULL);
}

enum { SEAL_LEN = sizeof NB_SEAL_PLACEHOLDER - 1, SEAL_DIGITS = 6 /* "[xxh3:" */ };

/* The first seal-shaped "[xxh3:<16 hex>]" in DATA, or NULL. */
static const char *find_seal(const char *data, size_t len)
{
    for (const char *p = data; p + SEAL_LEN <= data + len; p++) {
        p = memchr(p, '[', (size_t)(data + len - p));
        if (!p || p + SEAL_LEN > data + len)
            return NULL;
        if (memcmp(p, "[xxh3:", SEAL_DIGITS) != 0 || p[SEAL_LEN - 1] != ']')
            continue;
        bool hex = true;
        for (int i = SEAL_DIGITS; i < SEAL_LEN - 1 && hex; i++)
            hex = strchr("0123456789abcdef", p[i]) != NULL && p[i] != '\0';
        if (hex)
            return p;
    }
    return NULL;
}

/* The seal's 16 digits for DATA, whose seal at SEAL is taken as zeros. */
static void seal_digits(const char *data, size_t len, const char *seal, char out[17])
{
    XXH3_state_t *state = XXH3_createState();
    XXH3_64bits_reset(state);
    size_t before = (size_t)(seal - data) + SEAL_DIGITS;
    XXH3_64bits_update(state, data, before);
    XXH3_64bits_update(state, "0000000000000000", 16);
    XXH3_64bits_update(state, seal + SEAL_LEN - 1, len - before - 16);
    snprintf(out, 17, "%016llx", (unsigned long long)XXH3_64bits_digest(state));
    XXH3_freeState(state);
}

void nb_fileset_seal(nb_fileset *fs)
{
    for (size_t i = 0; i < fs->len; i++) {
        nb_buf *data = &fs->files[i].data;
        char *seal = strstr(data->data, NB_SEAL_PLACEHOLDER);
        if (!seal)
            continue;
        char digits[17];
        seal_digits(data->data, data->len, seal, digits);
        memcpy(seal + SEAL_DIGITS, digits, 16);
    }
}

bool nb_seal_intact(const char *data, size_t len)
{
    const char *seal = find_seal(data, len);
    if (!seal)
        return false;
    char digits[17];
    seal_digits(data, len, seal, digits);
    return memcmp(seal + SEAL_DIGITS, digits, 16) == 0;
}

/* ---- The directory as it is -------------------------------------------------------- */

static char *join(const char *dir, const char *path)
{
    nb_buf b = NB_BUF_INIT;
    nb_buf_printf(&b, "%s/%s", dir, path);
    return nb_buf_detach(&b, NULL);
}

/* What nb2pipe wrote last time: the manifest's list of files in DIR. */
typedef struct previous {
    json_t *files; /* array of paths, or NULL */
} previous;

static void read_previous(const char *dir, previous *prev)
{
    memset(prev, 0, sizeof *prev);
    char *path = join(dir, NB_MANIFEST);
    json_t *root = json_load_file(path, 0, NULL);
    json_t *files = json_object_get(root, "files");
    if (json_is_array(files))
        prev->files = json_incref(files);
    json_decref(root);
    free(path);
}

/* The state of one path before writing. */
enum disk_state { DISK_MISSING, DISK_SAME, DISK_OURS, DISK_FOREIGN, DISK_NOT_FILE };

static enum disk_state disk_state(const char *dir, const nb_outfile *f)
{
    char *path = join(dir, f->path);
    struct stat st;
    enum disk_state state;
    if (lstat(path, &st) != 0) {
        state = DISK_MISSING;
    } else if (!S_ISREG(st.st_mode)) {
        state = DISK_NOT_FILE;
    } else {
        nb_buf data = NB_BUF_INIT;
        if (nb_buf_read_file(&data, path, (size_t)1 << 30) != 0)
            state = DISK_FOREIGN;
        else if (nb_buf_equals(&data, f->data.data, f->data.len))
            state = DISK_SAME;
        else
            state = nb_seal_intact(data.data, data.len) ? DISK_OURS : DISK_FOREIGN;
        nb_buf_release(&data);
    }
    free(path);
    return state;
}

/* Files of the previous manifest this set no longer has: removable when their seal is
 * intact, left in place (with a warning) when edited. */
static void stale_files(const char *dir, const nb_fileset *fs, const previous *prev,
                        nb_buf *removable, nb_diags *diags)
{
    size_t i;
    json_t *item;
    json_array_foreach(prev->files, i, item) {
        const char *path = json_string_value(item);
        if (!path || nb_fileset_find(fs, path) || !nb_path_is_safe(path))
            continue;
        char *full = join(dir, path);
        nb_buf data = NB_BUF_INIT;
        if (nb_buf_read_file(&data, full, (size_t)1 << 30) == 0) {
            if (nb_seal_intact(data.data, data.len))
                nb_buf_printf(removable, "%s\n", path);
            else
                nb_diag_add(diags, NB_WARNING, "edited-file", (nb_loc){ .file = full },
                            "no longer generated, but edited since nb2pipe wrote it: left in "
                            "place");
        }
        nb_buf_release(&data);
        free(full);
    }
}

/* ---- Writing --------------------------------------------------------------------- */

int nb_write_file_atomic(const char *path, const char *data, size_t len, unsigned mode,
                         nb_diags *diags)
{
    struct stat st;
    if (stat(path, &st) == 0)
        mode = st.st_mode & 07777;
    const char *slash = strrchr(path, '/');
    nb_buf tmp = NB_BUF_INIT;
    if (slash)
        nb_buf_add(&tmp, path, (size_t)(slash - path) + 1);
    nb_buf_printf(&tmp, ".%s.nb2pipe-XXXXXX", slash ? slash + 1 : path);
    int fd = mkstemp(tmp.data);
    int status = -1;
    if (fd >= 0) {
        size_t done = 0;
        while (done < len) {
            ssize_t n = write(fd, data + done, len - done);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                break;
            done += (size_t)n;
        }
        bool ok = done == len && fchmod(fd, (mode_t)mode) == 0 && fsync(fd) == 0;
        ok = close(fd) == 0 && ok;
        if (ok && rename(tmp.data, path) == 0)
            status = 0;
        else
            unlink(tmp.data);
    }
    if (status != 0)
        nb_diag_add(diags, NB_ERROR, "io-error", (nb_loc){ .file = path }, "cannot write: %s",
                    strerror(errno));
    nb_buf_release(&tmp);
    return status;
}

/* Creates directory PATH and its missing parents. PATH itself is tried first: nearly
 * every file goes to a directory that exists already, and then this is one call. */
static int make_dirs(const char *path, nb_diags *diags)
{
    if (mkdir(path, 0777) == 0 || errno == EEXIST)
        return 0;
    const char *slash = strrchr(path, '/');
    if (errno == ENOENT && slash && slash != path) {
        char *parent = nb_xstrndup(path, (size_t)(slash - path));
        int rc = make_dirs(parent, diags);
        free(parent);
        if (rc != 0)
            return -1; /* reported for the parent */
        if (mkdir(path, 0777) == 0 || errno == EEXIST)
            return 0;
    }
    nb_diag_add(diags, NB_ERROR, "io-error", (nb_loc){ .file = path },
                "cannot create directory: %s", strerror(errno));
    return -1;
}

static int make_parent_dirs(const char *path, nb_diags *diags)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return 0;
    char *parent = nb_xstrndup(path, (size_t)(slash - path));
    int rc = make_dirs(parent, diags);
    free(parent);
    return rc;
}

static int write_file(const char *path, const nb_outfile *f, nb_diags *diags)
{
    if (make_parent_dirs(path, diags) != 0)
        return -1;
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, f->executable ? 0777 : 0666);
    if (fd < 0)
        goto fail;
    size_t done = 0;
    while (done < f->data.len) {
        ssize_t n = write(fd, f->data.data + done, f->data.len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            close(fd);
            goto fail;
        }
        done += (size_t)n;
    }
    if (close(fd) != 0)
        goto fail;
    return 0;
fail:
    nb_diag_add(diags, NB_ERROR, "io-error", (nb_loc){ .file = path }, "cannot write: %s",
                strerror(errno));
    return -1;
}

static void remove_tree(const char *path)
{
    DIR *d = opendir(path);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            char *child = join(path, e->d_name);
            struct stat st;
            if (lstat(child, &st) == 0 && S_ISDIR(st.st_mode))
                remove_tree(child);
            else
                unlink(child);
            free(child);
        }
        closedir(d);
    }
    rmdir(path);
}

/* Removes now-empty parent directories of PATH up to (not including) DIR. */
static void prune_empty_parents(const char *dir, const char *rel)
{
    char *copy = nb_xstrdup(rel);
    for (char *slash = strrchr(copy, '/'); slash; slash = strrchr(copy, '/')) {
        *slash = '\0';
        char *full = join(dir, copy);
        int rc = rmdir(full);
        free(full);
        if (rc != 0)
            break;
    }
    free(copy);
}

static int write_all(const nb_fileset *fs, const char *dir, const bool *to_write,
                     const nb_buf *removable, nb_diags *diags)
{
    char *tmp_template = join(dir, ".nb2pipe-tmp-XXXXXX");
    if (!mkdtemp(tmp_template)) {
        nb_diag_add(diags, NB_ERROR, "io-error", (nb_loc){ .file = dir },
                    "cannot create a temporary directory: %s", strerror(errno));
        free(tmp_template);
        return -1;
    }
    int status = 0;
    size_t manifest = fs->len;
    for (size_t i = 0; i < fs->len && status == 0; i++) {
        if (!to_write[i])
            continue;
        char *path = join(tmp_template, fs->files[i].path);
        status = write_file(path, &fs->files[i], diags);
        free(path);
    }
    /* everything is on disk: rename into place, the manifest last */
    for (size_t i = 0; i < fs->len && status == 0; i++) {
        if (!to_write[i])
            continue;
        if (strcmp(fs->files[i].path, NB_MANIFEST) == 0) {
            manifest = i;
            continue;
        }
        char *from = join(tmp_template, fs->files[i].path);
        char *to = join(dir, fs->files[i].path);
        if (make_parent_dirs(to, diags) != 0 || rename(from, to) != 0) {
            if (status == 0)
                nb_diag_add(diags, NB_ERROR, "io-error", (nb_loc){ .file = to },
                            "cannot move into place: %s", strerror(errno));
            status = -1;
        }
        free(from);
        free(to);
    }
    for (const char *p = removable->data; status == 0 && *p;) {
        const char *nl = strchr(p, '\n');
        char *rel = nb_xstrndup(p, (size_t)(nl - p));
        char *full = join(dir, rel);
        unlink(full);
        prune_empty_parents(dir, rel);
        free(full);
        free(rel);
        p = nl + 1;
    }
    if (status == 0 && manifest < fs->len) {
        char *from = join(tmp_template, NB_MANIFEST);
        char *to = join(dir, NB_MANIFEST);
        if (rename(from, to) != 0) {
            nb_diag_add(diags, NB_ERROR, "io-error", (nb_loc){ .file = to },
                        "cannot move into place: %s", strerror(errno));
            status = -1;
        }
        free(from);
        free(to);
    }
    remove_tree(tmp_template);
    free(tmp_template);
    return status;
}

int nb_fileset_write(const nb_fileset *fs, const char *dir, const nb_write_opts *opts,
                     nb_buf *changed, nb_diags *diags)
{
    for (size_t i = 0; i < fs->len; i++) {
        if (!nb_path_is_safe(fs->files[i].path)) {
            nb_diag_add(diags, NB_ERROR, "unsafe-path", (nb_loc){ .file = dir },
                        "refusing to write '%s': it would leave the output directory",
                        fs->files[i].path);
            return -1;
        }
    }
    bool check = opts && opts->check, force = opts && opts->force;
    previous prev;
    read_previous(dir, &prev);
    bool *to_write = nb_xcalloc(fs->len + 1, sizeof *to_write);
    size_t conflicts = 0, changes = 0;
    for (size_t i = 0; i < fs->len; i++) {
        const nb_outfile *f = &fs->files[i];
        enum disk_state state = disk_state(dir, f);
        if (state == DISK_SAME)
            continue;
        if ((state == DISK_FOREIGN && !force) || state == DISK_NOT_FILE) {
            if (!check) {
                char *full = join(dir, f->path);
                nb_diag_add(diags, NB_ERROR, "would-overwrite", (nb_loc){ .file = full },
                            state == DISK_NOT_FILE
                                ? "is not a regular file; nb2pipe will not replace it"
                                : "exists and is not a file nb2pipe wrote (or it was edited "
                                  "since): pass --force to overwrite it");
                free(full);
            }
            conflicts++;
        }
        to_write[i] = true;
        changes++;
        nb_buf_printf(changed, "%s\n", f->path);
    }
    nb_buf removable = NB_BUF_INIT;
    stale_files(dir, fs, &prev, &removable, diags);
    if (removable.len) {
        changes++;
        nb_buf_add(changed, removable.data, removable.len);
    }
    int status;
    if (check)
        status = changes ? 1 : 0;
    else if (conflicts)
        status = -1;
    else if (changes == 0)
        status = 0;
    else
        status = make_dirs(dir, diags) == 0 ? write_all(fs, dir, to_write, &removable, diags) : -1;
    nb_buf_release(&removable);
    free(to_write);
    json_decref(prev.files);
    return status;
}
