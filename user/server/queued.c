// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The program counts each connection it steers to a worker as queued until the worker accepts
 * it, under least-conn (which reads that count) and users' policies; 0 under the others. A
 * connection the kernel drops before anyone accepts it leaves the count raised for good, and
 * least-conn would steer around the worker for ever: a handshake that never completes (a SYN
 * whose client vanished), and under serve --defer-accept (defer.c) a client that connects and
 * resets before sending anything.
 * The worker owns its listener, so it squares the count every CHECK_MS, deferring or not:
 * - what the count holds beyond the listener's accept queue (TCP_INFO: tcpi_unacked) is on
 *   its way through the handshake or the deferral, or dead;
 * - a connection on its way is accepted within DEFER_S plus a round trip of its SYN, so what
 *   the excess held at two readings CHECK_MS apart, at the least, is taken off.
 * Exact when the listener has a quiet moment; under a steady stream it may also take off the
 * few connections caught mid-handshake at a reading, a brief undercount (their accepts find
 * the count at 0) against a permanent overcount. One wake-up every CHECK_MS when idle.
 */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include "server/worker.h"

/* Above defer.c's DEFER_S plus the client's answer to the SYN-ACK sent again then. */
#define CHECK_MS 2000

void worker_queued_start(struct worker *w)
{
	w->queued_excess = 0;
	w->queued_look_ms =
		w->mode == SERVER_MODE_HTTP && !w->udp && w->lfd >= 0 ? w->now_ms + CHECK_MS : 0;
}

void worker_queued_check(struct worker *w)
{
	struct tcp_info ti = {};
	socklen_t len = sizeof(ti);
	uint64_t queued, excess, dead;

	if (!w->queued_look_ms || w->now_ms < w->queued_look_ms)
		return;
	if (w->lfd < 0) {
		/* closed: its requests migrated without being counted (rlb_count_queued) */
		w->queued_look_ms = 0;
		return;
	}
	w->queued_look_ms = w->now_ms + CHECK_MS;
	queued = rlb_worker_queued(w->group, w->id);
	/* nothing counted: no system call */
	if (!queued) {
		w->queued_excess = 0;
		return;
	}
	if (getsockopt(w->lfd, IPPROTO_TCP, TCP_INFO, &ti, &len))
		return;
	excess = queued > ti.tcpi_unacked ? queued - ti.tcpi_unacked : 0;
	dead = excess < w->queued_excess ? excess : w->queued_excess;
	w->queued_excess = excess - dead;
	rlb_worker_unqueue(w->group, w->id, dead);
}
