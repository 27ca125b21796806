// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * A worker's spare connection buffers: a closed connection's struct conn (16 KiB of buffers)
 * goes back on the worker's list instead of to malloc, whose trimming of the freed memory
 * (madvise) would otherwise cost a system call every few short connections.
 */
#include <stdlib.h>
#include "server/worker.h"

/* More spares than this go back to malloc: a burst's buffers do not stay for good. */
#define CONN_POOL_MAX 256

struct conn *conn_get(struct worker *w)
{
	struct conn *c = w->spare;

	if (!c)
		return malloc(sizeof(*c));
	w->spare = c->next;
	w->nr_spare--;
	return c;
}

void conn_put(struct worker *w, struct conn *c)
{
	if (w->nr_spare >= CONN_POOL_MAX) {
		free(c);
		return;
	}
	c->next = w->spare;
	w->spare = c;
	w->nr_spare++;
}

void conn_pool_free(struct worker *w)
{
	while (w->spare) {
		struct conn *c = w->spare;

		w->spare = c->next;
		free(c);
	}
	w->nr_spare = 0;
}
