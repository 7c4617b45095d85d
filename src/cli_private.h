/* What the command modules of the CLI (cli.c, cli_run.c) share. */
#ifndef NB2PIPE_CLI_PRIVATE_H
#define NB2PIPE_CLI_PRIVATE_H

#include "nb2pipe/diag.h"

#include <stdbool.h>

/* What every command shares: where its diagnostics go and how they look. */
typedef struct cli {
    const char *command;
    bool color; /* diagnostics on a terminal, and NO_COLOR unset */
    bool json;  /* diagnostics go into the JSON document on stdout */
    nb_diags diags;
} cli;

/* Prints the text diagnostics recorded so far to stderr and forgets them. */
void flush_diags(cli *c);

/* Says what is wrong with the command line (COMMAND is "run " or NULL) and returns the
 * exit status for bad usage. */
int usage_error(const char *command, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The commands of the local runner (cli_run.c). */
int cmd_run(cli *c, int argc, char **argv);
int cmd_status(cli *c, int argc, char **argv);
int cmd_runs(cli *c, int argc, char **argv);
int cmd_restore(cli *c, int argc, char **argv);
int cmd_gc(cli *c, int argc, char **argv);

#endif
