// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The http mode: answers the requests of a connection in order, pipelined ones included, with
 * the parser of http_parse.c. Each request is counted busy in the group's load while handled.
 */
#include <time.h>
#include "server/worker.h"

/* The caller has made HTTP_MAX_RESPONSE bytes of room in out[]. */
static void answer(struct worker *w, struct conn *c, int status, bool keep_alive, bool head)
{
	int n = http_format_response(c->out + c->out_len, conn_out_room(c), status, w->id,
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
		rlb_worker_busy(w->group, w->id, 1);
		if (req.burn_us)
			http_burn(req.burn_us);
		if (req.stall_ms)
			http_stall(req.stall_ms);
		/* after a handover, each connection ends with its next answer */
		answer(w, c, 200, req.keep_alive && !w->handed_over, req.head);
		rlb_worker_busy(w->group, w->id, -1);
	}
}
