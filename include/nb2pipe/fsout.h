/* The output directory: the files of one conversion are built in memory as a file set,
 * then written atomically (into a temporary directory, then renamed into place). A file
 * nb2pipe did not write, or one edited since, is never overwritten without --force.
 * Every generated file carries a seal in its header, "[xxh3:<16 hex>]", the hash of
 * the file with the seal's digits zeroed: a file whose seal matches is nb2pipe's and
 * unedited. (Seals rather than a list of hashes in the manifest: editing one cell then
 * changes one step file, and a fresh clone needs no state.) The manifest
 * (nb2pipe.lock.json) lists the generated files, so that files no longer generated can
 * be removed. */
#ifndef NB2PIPE_FSOUT_H
#define NB2PIPE_FSOUT_H

#include "nb2pipe/buf.h"
#include "nb2pipe/diag.h"

#include <stdbool.h>
#include <stddef.h>

#define NB_MANIFEST "nb2pipe.lock.json"
/* The module every step script imports, written next to the manifest. */
#define NB_RUNTIME_FILE "nb2pipe_runtime.py"

typedef struct nb_outfile {
    char *path; /* relative to the output directory, '/'-separated */
    nb_buf data;
    bool executable;
} nb_outfile;

typedef struct nb_fileset {
    nb_outfile *files;
    size_t len, cap;
} nb_fileset;

void nb_fileset_init(nb_fileset *fs);
void nb_fileset_release(nb_fileset *fs);

/* Adds file PATH (empty) and returns its buffer for the caller to fill. PATH must be
 * new in the set. */
nb_buf *nb_fileset_add(nb_fileset *fs, const char *path);

/* The same for a file written executable (a script users run). */
nb_buf *nb_fileset_add_executable(nb_fileset *fs, const char *path);

/* The file at PATH, or NULL. */
const nb_outfile *nb_fileset_find(const nb_fileset *fs, const char *path);

/* Sorts the files by path (the order they are written and listed in). */
void nb_fileset_sort(nb_fileset *fs);

/* True when relative path PATH stays inside the directory it is relative to: not
 * absolute, no "." or ".." or empty segment, no backslash, no control character, and
 * no segment that is a Windows device name (nb_name_is_device). */
bool nb_path_is_safe(const char *path);

/* True when file name NAME is one Windows will not create a file for (CON, PRN, AUX,
 * NUL, COM1-9, LPT1-9, in any case, alone or before a dot: "nul.yaml" too). */
bool nb_name_is_device(const char *name);

/* Appends file name STEM + EXT to OUT; a STEM that would make a device name gets "_"
 * after its device part ("con" -> "con_", "lpt1.x" -> "lpt1_.x"). For file names made
 * from user-chosen names (--name, the notebook's). */
void nb_buf_add_file_name(nb_buf *out, const char *stem, const char *ext);

/* The lexically normalised absolute form of PATH (relative to the working directory):
 * no ".", "..", or repeated slashes. Caller frees. */
char *nb_path_absolute(const char *path);

/* The absolute path of the executable NAME found on PATH (the usual directories when
 * PATH is unset or empty), or NULL. Caller frees. */
char *nb_path_search(const char *name);

/* The relative path from directory FROM to directory TO (both as given, relative to the
 * working directory): "..", "../data", ".". Caller frees. */
char *nb_path_relative(const char *from, const char *to);

/* Replaces the file PATH with LEN bytes at DATA atomically: a temporary file in the
 * same directory, given the old file's permissions (or MODE when there is none), then
 * renamed over it. A crash leaves the old file or the new one, never half of either.
 * Returns 0, or -1 after recording an error. */
int nb_write_file_atomic(const char *path, const char *data, size_t len, unsigned mode,
                         nb_diags *diags);

/* The placeholder an emitter writes where a file's seal goes. */
#define NB_SEAL_PLACEHOLDER "[xxh3:0000000000000000]"

/* Replaces the seal placeholder of every file of FS by its seal. */
void nb_fileset_seal(nb_fileset *fs);

/* True when the LEN bytes at DATA hold a seal that matches them: a file nb2pipe wrote
 * and nobody edited. */
bool nb_seal_intact(const char *data, size_t len);

typedef struct nb_write_opts {
    bool force; /* overwrite files nb2pipe did not write or that were edited */
    bool check; /* write nothing; report what would change */
} nb_write_opts;

/* Writes FS into directory DIR (created when missing). Files whose content is already
 * right are left alone (their mtime too). Files of the previous manifest that FS no
 * longer has are removed when unedited. The manifest, when FS has it, is written last.
 * The paths written or removed (with OPTS->check: that would be) are appended to
 * CHANGED, one per line; with OPTS->check nothing is written.
 * Returns 0 (nothing to change, or written), 1 (check: something would change), or -1
 * after recording an error (a conflict with a file nb2pipe does not own, an unsafe
 * path, an I/O error), in which case no file in DIR was changed. */
int nb_fileset_write(const nb_fileset *fs, const char *dir, const nb_write_opts *opts,
                     nb_buf *changed, nb_diags *diags);

#endif
