// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The echo mode over tcp: bytes go back as they came. (Over udp the worker answers in place.) */
#include "server/worker.h"

void echo_on_input(struct worker *w, struct conn *c)
{
	size_t n = c->in_len - c->in_off;

	if (n > conn_out_room(c))
		n = conn_out_room(c);
	if (!n)
		return;
	memcpy(c->out + c->out_len, c->in + c->in_off, n);
	c->out_len += n;
	c->in_off += n;
	worker_bump(&w->requests);
}
