/* The command line: subcommands, options, exit codes. The only place that prints
 * diagnostics and decides how the process ends. */
#ifndef NB2PIPE_CLI_H
#define NB2PIPE_CLI_H

/* Exit codes (DESIGN §7). */
enum {
    NB_EXIT_OK = 0,
    NB_EXIT_CHANGED = 1, /* a check failed or files would change */
    NB_EXIT_BAD = 2,     /* bad usage or bad input */
};

/* Runs nb2pipe with ARGV; returns the process exit code. */
int nb_cli_main(int argc, char **argv);

#endif
