/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A process watched for its death through a pidfd, which turns readable once it has exited:
 * an owner watches its successor (a canary, or a takeover under way) in its event loop, so
 * that a kill -9 is undone at once rather than at its next periodic look. Where pidfd_open
 * fails (Linux < 5.3, no descriptor left) there is no fd: the caller's periodic look is all.
 */
#ifndef RLB_SERVER_PID_WATCH_H
#define RLB_SERVER_PID_WATCH_H

#include <stdbool.h>

/* Start from { .fd = -1 }. */
struct pid_watch {
	int pid; /* the process watched, 0: none */
	int fd;	 /* its pidfd, -1 when there is none (or it has fired) */
};

/*
 * Watches pid from now (0: nothing), unless it is the one watched already. Returns -errno of
 * pidfd_open when there is no fd to watch it by (the caller says so and looks periodically).
 */
int pid_watch_set(struct pid_watch *w, int pid);
/* The fd fired: closed, so that a poll does not spin on it while the death is dealt with. */
void pid_watch_fired(struct pid_watch *w);
void pid_watch_close(struct pid_watch *w);

#endif
