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
	int counts[NR_WORKERS] = {}, start = -1, bad = 0;
	struct rlb_group *g = NULL;

	rlbt_require_root();
	if (!CHECK(!rlbt_group_open("::1", RLB_POLICY_ROUND_ROBIN, NR_WORKERS, &g),
		   "cannot open the group on ::1"))
		goto out;

	for (int i = 0; i < NR_CONNS; i++) {
		int w = rlbt_steer(g, AF_INET6, NULL, 0, "::1");

		if (!CHECK(w >= 0, "connection %d reached no single worker", i))
			goto out;
		if (i == 0)
			start = w;
		counts[w]++;
		if (w != (start + i) % NR_WORKERS && bad++ == 0)
			fprintf(stderr, "connection %d reached worker %d, want %d\n", i, w,
				(start + i) % NR_WORKERS);
	}
	for (int w = 0; w < NR_WORKERS; w++)
		CHECK(counts[w] == NR_CONNS / NR_WORKERS,
		      "worker %d received %d connections, want %d", w, counts[w],
		      NR_CONNS / NR_WORKERS);
	CHECK(!bad, "%d connections out of rotation", bad);
	printf("40 connections over ::1: %d/%d/%d/%d\n", counts[0], counts[1], counts[2],
	       counts[3]);
out:
	rlb_group_close(g);
	return rlbt_finish();
}
