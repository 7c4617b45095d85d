/* Reading and rewriting table-driven test files: a file holds cases, each
 *
 *   === title
 *   input lines...
 *   --- [section name]
 *   expected lines...
 *   --- [another section]
 *   ...
 *
 * The first "---" line ends the input; a line "--- NAME" starts section NAME, a bare
 * "---" starts the unnamed section "". A case ends at the next "=== " line. Blank lines
 * at the end of a section are not part of it. */
#ifndef NB2PIPE_TESTS_CASEFILE_H
#define NB2PIPE_TESTS_CASEFILE_H

#include "nb2pipe/buf.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct tc_section {
    char *name;
    nb_buf text; /* every line with its newline */
} tc_section;

typedef struct tc_case {
    char *title;
    int line; /* of the title, for messages */
    nb_buf input;
    tc_section *sections;
    size_t nsections;
} tc_case;

typedef struct tc_file {
    char *path;
    tc_case *cases;
    size_t ncases;
} tc_file;

/* Reads PATH; returns false (with a message on stderr) when it cannot. */
bool tc_file_read(tc_file *file, const char *path);
void tc_file_release(tc_file *file);

/* The text of section NAME of CASE, or NULL when the case has none. */
const nb_buf *tc_section_text(const tc_case *c, const char *name);

/* Sets section NAME of CASE to TEXT (used when regenerating expectations). */
void tc_section_set(tc_case *c, const char *name, const char *text, size_t len);

/* Writes FILE back to its path. */
bool tc_file_write(const tc_file *file);

/* True when NB2PIPE_UPDATE_GOLDEN=1: tests rewrite expectations instead of failing. */
bool tc_update_golden(void);

/* Lists the files ending in SUFFIX in DIR, sorted; caller frees each and the array. */
char **tc_list_files(const char *dir, const char *suffix, size_t *count);

#endif
