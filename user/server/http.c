// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The http mode: answers the requests of a connection in order, pipelined ones included, with
 * the parser of http_parse.c. A request that takes time is counted busy in the group's load.
 */
#include <time.h>
#include "server/worker.h"

/*
 * A 200 answer depends on the worker, keep-alive and HEAD only: each of the four is formatted
 * once and copied after that, which spares a snprintf per request.
 */
static int format_ok(struct worker *w, char *buf, bool keep_alive, bool head)
{
	unsigned int k = keep_alive * 2 + head;

	if (!w->ok_len[k]) {
		int n = http_format_response(w->ok[k], sizeof(w->ok[k]), 200, w->id, keep_alive,
					     head);

		if (n <= 0)
			return n;
		w->ok_len[k] = n;
	}
	memcpy(buf, w->ok[k], w->ok_len[k]);
	return w->ok_len[k];
}

/* The caller has made HTTP_MAX_RESPONSE bytes of room in out[]. */
static void answer(struct worker *w, struct conn *c, int status, bool keep_alive, bool head)
{
	char *buf = c->out + c->out_len;
	int n = status == 200 ? format_ok(w, buf, keep_alive, head) :
				http_format_response(buf, conn_out_room(c), status, w->id,
						     keep_alive, head);

	if (n > 0)
		c->out_len += n;
	worker_bump(&w->requests);
	c->answered = true;
	if (!keep_alive)
		c->closing = true;
}

void http_on_input(struct worker *w, struct conn *c)
{
	while (!c->closing && c->in_off < c->in_len) {
		size_t avail = c->in_len - c->in_off;
		struct http_request req;
		bool slow;
		int n;

		if (c->body_left) {
			size_t skip = avail < c->body_left ? avail : c->body_left;

			c->in_off += skip;
			c->body_left -= skip;
			continue;
		}
		if (conn_out_room(c) < HTTP_MAX_RESPONSE)
			return;
		n = http_parse_request(c->in + c->in_off, avail, &req);
		if (n == 0)
			return;
		if (n < 0) {
			answer(w, c, http_error_status(n), false, false);
			return;
		}
		c->in_off += n;
		c->body_left = req.content_length;
		/* only then may its connection end without lingering (worker.c, conn_settle) */
		c->peer_closes = !req.keep_alive;
		/*
		 * Busy while a request takes time (burn, stall): the program's least-conn and the
		 * CLI see it. A plain answer takes a microsecond, in which nothing would read the
		 * mark: it would cost two atomic adds on a line that both workers write and the
		 * steering program reads.
		 */
		slow = req.burn_us || req.stall_ms;
		if (slow)
			rlb_worker_busy(w->group, w->id, 1);
		if (req.burn_us)
			http_burn(req.burn_us);
		if (req.stall_ms)
			http_stall(req.stall_ms);
		/*
		 * after a handover, each connection ends with its next answer (with a shed window,
		 * once it is over); a worker told to shed (reuselb drain --shed, rebalance, the
		 * window after a handover) ends some, spread over a window
		 */
		answer(w, c, 200,
		       req.keep_alive && !w->handed_over &&
			       !rlb_worker_should_shed(w->group, w->id),
		       req.head);
		if (slow)
			rlb_worker_busy(w->group, w->id, -1);
	}
}
