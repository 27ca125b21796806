// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* A process watched for its death through a pidfd (pid_watch.h). */
#include <errno.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "server/pid_watch.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

int pid_watch_set(struct pid_watch *w, int pid)
{
	if (pid == w->pid)
		return 0;
	pid_watch_close(w);
	w->pid = pid;
	if (pid <= 0)
		return 0;
	w->fd = syscall(SYS_pidfd_open, pid, 0);
	return w->fd < 0 ? -errno : 0;
}

void pid_watch_fired(struct pid_watch *w)
{
	if (w->fd >= 0)
		close(w->fd);
	w->fd = -1;
}

void pid_watch_close(struct pid_watch *w)
{
	pid_watch_fired(w);
	w->pid = 0;
}
