// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Steering works the same over IPv6.
 *
 * 1. Open a group of 4 workers on ::1, ephemeral port, policy round-robin.
 * 2. Make 40 connections over ::1 one after the other.
 * 3. Every worker received exactly 10, in rotation order.
 */
#include <stdio.h>
#include <sys/socket.h>

#include "rlbtest.h"

#define NR_WORKERS 4
#define NR_CONNS 40

int main(void)
{
	struct rlb_group *g = NULL;
	struct rlbt_turns t;
	int bad;

	rlbt_require_root();
	if (!CHECK(!rlbt_group_open("::1", RLB_POLICY_ROUND_ROBIN, NR_WORKERS, &g),
		   "cannot open the group on ::1"))
		goto out;

	bad = rlbt_rotation(g, rlbt_steer, AF_INET6, NULL, "::1", NR_CONNS, &t);
	if (!CHECK(bad >= 0, "a connection reached no single worker"))
		goto out;
	for (int w = 0; w < NR_WORKERS; w++)
		CHECK(t.counts[w] == NR_CONNS / NR_WORKERS,
		      "worker %d received %d connections, want %d", w, t.counts[w],
		      NR_CONNS / NR_WORKERS);
	CHECK(!bad, "%d connections out of rotation", bad);
	printf("40 connections over ::1: %d/%d/%d/%d\n", t.counts[0], t.counts[1], t.counts[2],
	       t.counts[3]);
out:
	rlb_group_close(g);
	return rlbt_finish();
}
