// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * HTTP keep-alive after a handover. Ended with each connection's next answer, every client of
 * the old instance comes back within one round of its requests, a burst on the successor;
 * given a window (serve --shed-window), the worker sheds them on the schedule of a shed order
 * (rlb_worker_shed_start: after a fraction f of the window, f of them at most), and what is
 * still open when the window ends (idle ones, or more than it counted) ends as it did without
 * one: idle connections at once, busy ones with their next answer. The window is at most the
 * grace period (cmd_serve.c), so the old instance still leaves in time.
 */
#include "server/worker.h"

void worker_handover_begin(struct worker *w)
{
	if (w->udp || w->mode != SERVER_MODE_HTTP || !w->shed_window_ms) {
		w->handed_over = true;
		return;
	}
	rlb_worker_shed_start(w->group, w->id, w->nr_conns, w->shed_window_ms);
	w->shed_end_ms = w->now_ms + w->shed_window_ms;
}

bool worker_keepalive_ends(struct worker *w, int bits)
{
	if (w->udp || w->mode != SERVER_MODE_HTTP)
		return false;
	if (w->shed_end_ms && w->now_ms >= w->shed_end_ms) {
		w->shed_end_ms = 0;
		w->handed_over = true;
		return true;
	}
	return (bits & WORKER_CTL_HANDOVER) && w->handed_over;
}
