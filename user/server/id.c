// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The id mode: tells the client which worker it reached, the answer tests check steering by. */
#include <stdio.h>
#include <sys/socket.h>
#include "server/worker.h"

size_t id_line(const struct worker *w, char *buf, size_t size)
{
	int n = snprintf(buf, size, "worker %u\n", w->id);

	if (n < 0 || !size)
		return 0;
	return (size_t)n < size ? (size_t)n : size - 1;
}

void id_on_accept(struct worker *w, int fd)
{
	char line[32], sink[4096];
	size_t len = id_line(w, line, sizeof(line));

	/* a new connection's send buffer always has room for one short line */
	if (send(fd, line, len, MSG_NOSIGNAL) == (ssize_t)len)
		worker_bump(&w->requests);
	/*
	 * close() with unread input sends a reset, which can destroy the line on its way: read what
	 * the peer has sent so far (the socket is non-blocking), a bounded amount.
	 */
	for (int i = 0; i < 4 && recv(fd, sink, sizeof(sink), 0) > 0; i++)
		;
}
