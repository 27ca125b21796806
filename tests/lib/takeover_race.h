/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Helpers of the takeover race tests: serve commands started together (forked first, then let
 * go at one instant through a pipe) or at a chosen moment, a group's config read through its
 * pins, and the listeners the kernel holds on a port.
 */
#ifndef TAKEOVER_RACE_H
#define TAKEOVER_RACE_H

#include <stdbool.h>
#include <sys/types.h>
#include <reuselb/abi.h>

/* A "$REUSELB serve ..." child with stdout and stderr in one tmpfile. */
struct tr_proc {
	pid_t pid;
	int out_fd; /* the tmpfile: read it with rlbt_file_text */
	int status; /* exit status once reaped (128 + signal), -1 before */
};

/*
 * Forks nr children, each "$REUSELB" argv[i] (argv[i][0] is "serve"...), held until
 * tr_release. Returns 0 or -errno (the children started so far are killed).
 */
int tr_fork_held(struct tr_proc *p, int nr, const char *const *const argv[], int *gate);
/* Lets every child held behind gate run its command at the same instant. */
void tr_release(int gate);

/* Reaps p if it has ended; waits up to timeout_ms (0: just looks). Returns whether it ended. */
bool tr_reap(struct tr_proc *p, int timeout_ms);

/* Unless p has ended: SIGTERM, then SIGKILL after timeout_ms; reaps it. */
void tr_stop(struct tr_proc *p, int timeout_ms);

/* The config of the pinned group name, or -errno. */
int tr_config(const char *name, struct rlb_config *cfg);

/* Sum of load.active over the slots base .. base + nr - 1 of the group, or -errno. */
long tr_active(const char *name, unsigned int base, unsigned int nr);

/*
 * SIGKILL to p, after counting the TCP connections it holds (it is stopped first, so it cannot
 * accept one more in between). Returns that count, or -errno. Reap p with tr_reap.
 */
long tr_kill_counting(struct tr_proc *p);

/* TCP sockets in LISTEN on 127.0.0.1:port (from /proc/net/tcp), or -errno. */
int tr_listeners(unsigned int port);

#endif
