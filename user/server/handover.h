/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The old instance's side of a rolling restart, once the group is handed over
 * (rlb_group_handover): the workers let go of their sockets or flows, and the server stops
 * when they are done or when the grace period ends.
 */
#ifndef RLB_SERVER_HANDOVER_H
#define RLB_SERVER_HANDOVER_H

#include <stdbool.h>
#include "server/server.h"

struct handover_opts {
	bool udp;
	unsigned int grace_s;	     /* at most this long; then what is left is cut */
	unsigned int flow_timeout_s; /* udp: this long without a datagram, the old flows are over */
	int sigfd;		     /* a signalfd: SIGINT or SIGTERM ends the wait at once */
};

struct handover_result {
	bool deadline;	  /* the grace period ended first */
	bool interrupted; /* SIGINT or SIGTERM ended it */
	uint64_t cut;	  /* tcp: connections still open at the end, closed by us */
};

/*
 * Tells the workers (server_handover), waits until TCP workers have closed their listeners
 * and their last connections, or UDP ones have had no datagram for flow_timeout_s, or the
 * grace period ends, or a stop signal comes; then stops the server (server_stop). A worker
 * failure also ends the wait (the caller reports it). Returns 0 or -errno when it could not
 * wait; the server is stopped either way.
 */
int server_wind_down(struct server *s, const struct handover_opts *o, struct handover_result *r);

#endif
