/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * In-process groups: opened with the options every steering test uses, and the worker that
 * took each connection or datagram, found by polling the group's own sockets.
 */
#ifndef RLBT_STEER_H
#define RLBT_STEER_H

#include <stdint.h>
#include <reuselb/reuselb.h>

/* rlb_group_open with the options every steering test uses; prints the library's error. */
int rlbt_group_open(const char *addr, enum rlb_policy policy, unsigned int nr_workers,
		    struct rlb_group **out);

/*
 * Waits for exactly one connection on the workers of an in-process group, accepts it and
 * closes it. Returns the worker that had it, or -1 on timeout or when more than one was
 * pending (those are accepted and closed too, so that the next round starts clean).
 */
int rlbt_accepting_worker(struct rlb_group *g, int timeout_ms);

/*
 * One connection to an in-process group, from src_addr:src_port (NULL, 0: the kernel's
 * choice) to dst_addr and the group's port: connects, finds the worker that received it
 * (rlbt_accepting_worker), and checks that the client then reads a clean end of file, not a
 * reset. Returns the worker, or -1 after printing what went wrong.
 */
int rlbt_steer(struct rlb_group *g, int family, const char *src_addr, uint16_t src_port,
	       const char *dst_addr);

/*
 * As rlbt_steer, but the worker writes a byte that the client reads, then the client ends the
 * connection with a reset (SO_LINGER 0) and the worker closes only once the reset is in, so
 * that no packet of it is left in flight: when the TIME_WAIT table is full
 * (tcp_max_tw_buckets), a late FIN reaches the listeners, runs the steering program again and
 * is counted, which would spoil exact counts of the stats map. Returns the worker, or -1 after
 * printing what went wrong.
 */
int rlbt_steer_reset(struct rlb_group *g, int family, const char *src_addr, uint16_t src_port,
		     const char *dst_addr);

/* rlbt_steer and rlbt_steer_reset: one connection, and the worker that took it. */
typedef int rlbt_steer_fn(struct rlb_group *g, int family, const char *src_addr, uint16_t src_port,
			  const char *dst_addr);

/* What rlbt_rotation saw. */
struct rlbt_turns {
	int first;		     /* the worker of the first connection */
	int next;		     /* the worker whose turn comes after the last connection */
	int counts[RLB_MAX_WORKERS]; /* connections each worker received */
};

/*
 * nr connections made one after the other with steer, from src_addr (NULL: the kernel's
 * choice) to dst_addr (NULL: 127.0.0.1 or ::1, as family says). Returns how many did not reach
 * the next worker of a round-robin rotation that starts where the first one landed (the first
 * such is printed), or -1 as soon as one reached no single worker. t, if not NULL, receives
 * where the rotation started, where it stands, and the connections of each worker.
 */
int rlbt_rotation(struct rlb_group *g, rlbt_steer_fn *steer, int family, const char *src_addr,
		  const char *dst_addr, int nr, struct rlbt_turns *t);

/*
 * Waits for exactly one datagram on the sockets of an in-process UDP group and reads it.
 * Returns the worker that had it, or -1 on timeout or when more than one socket had one
 * (those are read too, so that the next round starts clean).
 */
int rlbt_udp_worker(struct rlb_group *g, int timeout_ms);

#endif
