// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#define _GNU_SOURCE
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "wait.h"

long rlbt_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000;
}

bool rlbt_wait_for(bool (*cond)(void *arg), void *arg, int timeout_ms)
{
	const struct timespec pause = { .tv_nsec = 5 * 1000 * 1000 };
	long deadline = rlbt_now_ms() + timeout_ms;

	/* polls the condition itself: the pause only spaces the looks, bounded by the deadline */
	while (!cond(arg)) {
		if (rlbt_now_ms() >= deadline)
			return false;
		nanosleep(&pause, NULL);
	}
	return true;
}

const char *rlbt_file_text(int fd)
{
	static char buf[16384];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);

	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

struct said {
	int fd;
	const char *line;
};

static bool has_said(void *arg)
{
	const struct said *s = arg;

	return strstr(rlbt_file_text(s->fd), s->line);
}

bool rlbt_wait_said(int fd, const char *line, int timeout_ms)
{
	struct said s = { .fd = fd, .line = line };

	return rlbt_wait_for(has_said, &s, timeout_ms);
}
