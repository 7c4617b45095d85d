/* Starting a process the way nb2pipe starts a step's Python: shared by the runner
 * (a step in a fresh process) and the warm interpreter (which must start in the same
 * state as the steps it forks). Private to the runner's files. */
#ifndef NB2PIPE_SPAWN_H
#define NB2PIPE_SPAWN_H

#include <sys/types.h>

/* Starts PROGRAM with ARGV (NULL ended) and nb2pipe's environment: in its own process
 * group (so that a kill reaches whatever it spawns), no signal blocked, SIGINT,
 * SIGTERM, SIGHUP, SIGCHLD and SIGPIPE at their defaults, stdin from /dev/null, stdout
 * and stderr into LOG (created or truncated). With KEEP_FD >= 0 that descriptor is
 * passed on as descriptor KEEP_AS (which must be free in the caller). Returns 0 with
 * *PID set, or an errno value. */
int nb_spawn_process(const char *program, char *const *argv, const char *log, int keep_fd,
                     int keep_as, pid_t *pid);

#endif
