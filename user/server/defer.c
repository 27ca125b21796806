// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * serve --defer-accept: TCP_DEFER_ACCEPT on an http worker's listener. Off unless asked, as
 * nginx's "deferred": while it defers, the kernel discards each connection's bare final ACK
 * and counts it in the listener's sk_drops, which stats and metrics report as drops.
 *
 * With it, the kernel hands a connection over only once its first bytes are there (or after
 * DEFER_S seconds of silence), so that the worker accepts, reads, answers and closes a short
 * connection without epoll_ctl and without a read that finds nothing: 5 system calls where a
 * read right after accept4 (the request is still on its way from a client like wrk three
 * times in four) or epoll's wait for it (nginx) costs 6 to 7.
 * The limits must not see the difference:
 * - --max-conns turns a connection over the bound away at once, silent or not: a worker at
 *   its bound lets silent connections through again (it accepts and closes them), and defers
 *   again once below it.
 * - --idle-timeout counts a silent connection's time from its connect: one handed over with
 *   nothing to read has been silent DEFER_S seconds already (conn_start, worker.c).
 * - The accept queue (sock_diag, the queue policy) holds the connections whose request is in;
 *   silent ones wait in the SYN queue, and migrate with it (a migrate program moves requests).
 */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include "server/worker.h"

/* One SYN-ACK retransmission: the kernel's initial retransmission timeout is 1 s. */
#define DEFER_S 1

static void defer_set(struct worker *w, bool on)
{
	int s = on ? DEFER_S : 0;

	/* without it, connections only cost what they cost without deferring: no failure */
	if (!setsockopt(w->lfd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &s, sizeof(s)))
		w->deferring = on;
}

void worker_defer_update(struct worker *w)
{
	bool want = w->defer_accept && w->mode == SERVER_MODE_HTTP && !w->udp && w->lfd >= 0 &&
		    w->nr_conns < w->max_conns;

	if (want != w->deferring && w->lfd >= 0)
		defer_set(w, want);
}

uint64_t worker_defer_waited_ms(const struct worker *w)
{
	return w->deferring ? DEFER_S * 1000ull : 0;
}
