/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Several actors released at the same instant, for tests of what happens when control
 * commands meet. Every actor is forked first; each child says it is ready on one pipe and then
 * blocks reading another; once all are ready the parent closes that pipe's write end, and the
 * end of file wakes every child at once. Then each runs its command (exec) or its function.
 * tests/tools/rlbrace is the same for shell tests.
 */
#ifndef RLBT_RACE_H
#define RLBT_RACE_H

#include <stdbool.h>
#include <stddef.h>

/* Most actors in one race. */
#define RLBT_RACE_MAX 64

/* What one actor did. */
struct rlbt_race_result {
	int status; /* exit status, 128 + signal, or -1 when it never ran or had to be killed */
	char *out;  /* its stdout (exec only, else NULL), NUL-terminated */
	char *err;  /* its stderr, likewise */
};

/* How the actors are released. Zeroed: together, as ordinary processes, 10 s to finish. */
struct rlbt_race_opts {
	/*
	 * Realtime (SCHED_FIFO, lowest priority) children: on a busy machine ordinary children
	 * woken together still start milliseconds apart, each waiting for a CPU, while the steps
	 * that race last microseconds. Needs root (CAP_SYS_NICE); else they stay ordinary.
	 */
	bool realtime;
	/* each child waits a random 0..spread_us microseconds after the release (busy) */
	unsigned int spread_us;
	int timeout_ms; /* 0: 10 000 */
};

/*
 * Runs the n commands argvs[i] (argvs[i][0] is looked up in PATH; NULL-terminated), released
 * together, and collects their exit statuses and output into res[0..n). Returns 0 once all
 * have exited, -ETIMEDOUT when one had not by the timeout (it is killed; its status is -1),
 * or -errno when the race could not be set up (nothing ran). Free the outputs with
 * rlbt_race_free. opts may be NULL.
 */
int rlbt_race_exec(char *const *const argvs[], unsigned int n, const struct rlbt_race_opts *opts,
		   struct rlbt_race_result *res);

/*
 * The same with functions: child i runs fn(i, arg) and exits with what it returns (0..255).
 * Output is not captured (res[i].out and .err are NULL).
 */
int rlbt_race_fn(int (*fn)(unsigned int i, void *arg), void *arg, unsigned int n,
		 const struct rlbt_race_opts *opts, struct rlbt_race_result *res);

void rlbt_race_free(struct rlbt_race_result *res, unsigned int n);

#endif
