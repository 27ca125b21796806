// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Connections reset by the kernel on a closing listener (rst_trace.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "rst_trace.h"

#define TRACEFS "/sys/kernel/tracing"
#define EVENT "events/tcp/tcp_send_reset"
#define MAX_CPUS 1024

static int write_file(const char *dir, const char *file, const char *text)
{
	char path[256];
	int fd, err = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		err = -errno;
	close(fd);
	return err;
}

int rst_trace_start(struct rst_trace *t)
{
	int err;

	snprintf(t->dir, sizeof(t->dir), "%s/instances/rlbtest-%d", TRACEFS, getpid());
	if (mkdir(t->dir, 0700) && errno != EEXIST) {
		err = -errno;
		t->dir[0] = '\0';
		return err;
	}
	/* the stack says which kernel path sent the reset */
	err = write_file(t->dir, EVENT "/trigger", "stacktrace");
	if (!err)
		err = write_file(t->dir, EVENT "/enable", "1");
	if (err)
		rst_trace_stop(t);
	return err;
}

/* Whether an event line's src= is a local address at port. */
static bool from_port(const char *line, unsigned int port)
{
	const char *src = strstr(line, " src="), *end;
	char want[16];

	if (!src)
		return false;
	end = strchr(src + 1, ' ');
	snprintf(want, sizeof(want), ":%u", port);
	return end && (size_t)(end - src) > strlen(want) &&
	       !strncmp(end - strlen(want), want, strlen(want));
}

/* The CPU an entry of the trace file was recorded on: "[001]", or -1. */
static int cpu_of(const char *line)
{
	const char *open = strstr(line, "] ");
	int cpu = -1;

	while (open && open > line && open[-1] != '[')
		open--;
	if (open && open > line && sscanf(open, "%d", &cpu) != 1)
		cpu = -1;
	return cpu >= 0 && cpu < MAX_CPUS ? cpu : -1;
}

long rst_trace_forgotten(const struct rst_trace *t, unsigned int port)
{
	char path[256], line[512];
	bool ours[MAX_CPUS] = {};
	int stack = -1; /* the CPU whose stack the " => function" lines are */
	long n = 0;
	FILE *f;

	if (!t->dir[0])
		return -ENOENT;
	snprintf(path, sizeof(path), "%s/trace", t->dir);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	/* each event, then "<stack trace>" and its " => function" lines, on the same CPU */
	while (fgets(line, sizeof(line), f)) {
		int cpu = cpu_of(line);

		if (strstr(line, "tcp_send_reset:") && cpu >= 0) {
			ours[cpu] = from_port(line, port);
		} else if (strstr(line, "<stack trace>")) {
			stack = cpu;
		} else if (stack >= 0 && ours[stack] &&
			   strstr(line, "=> inet_csk_complete_hashdance")) {
			n++;
			ours[stack] = false;
		}
	}
	fclose(f);
	return n;
}

void rst_trace_stop(struct rst_trace *t)
{
	if (!t->dir[0])
		return;
	write_file(t->dir, EVENT "/enable", "0");
	write_file(t->dir, EVENT "/trigger", "!stacktrace");
	rmdir(t->dir);
	t->dir[0] = '\0';
}
