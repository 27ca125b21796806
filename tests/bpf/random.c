// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Random spreads connections over every worker.
 *
 * 1. Open a group of 4 workers on 127.0.0.1, ephemeral port, policy random.
 * 2. Make 400 connections one after the other and see which worker receives each.
 * 3. Every worker received at least 1 and none more than 200. Loose on purpose: a fair coin
 *    misses them with a probability below 1e-24 (Chernoff), while a policy stuck on one
 *    worker, or on two, fails them.
 */
#include <stdio.h>
#include <sys/socket.h>

#include "rlbtest.h"

#define NR_WORKERS 4
#define NR_CONNS 400

int main(void)
{
	int counts[NR_WORKERS] = {};
	struct rlb_group *g = NULL;

	rlbt_require_root();
	if (!CHECK(!rlbt_group_open("127.0.0.1", RLB_POLICY_RANDOM, NR_WORKERS, &g),
		   "cannot open the group"))
		goto out;

	for (int i = 0; i < NR_CONNS; i++) {
		int w = rlbt_steer(g, AF_INET, NULL, 0, "127.0.0.1");

		if (!CHECK(w >= 0, "connection %d reached no single worker", i))
			goto out;
		counts[w]++;
	}
	for (int w = 0; w < NR_WORKERS; w++)
		CHECK(counts[w] >= 1 && counts[w] <= NR_CONNS / 2,
		      "worker %d received %d of %d connections, want 1..%d", w, counts[w], NR_CONNS,
		      NR_CONNS / 2);
	printf("400 connections: %d/%d/%d/%d\n", counts[0], counts[1], counts[2], counts[3]);
out:
	rlb_group_close(g);
	return rlbt_finish();
}
