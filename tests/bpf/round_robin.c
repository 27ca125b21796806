// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Round-robin gives every worker its turn, exactly.
 *
 * 1. Open a group of 4 workers on 127.0.0.1, ephemeral port, policy round-robin.
 * 2. Make 400 connections one after the other and see which worker's listener receives each.
 * 3. Every worker received exactly 100.
 * 4. The order is the rotation 0, 1, 2, 3, 0, ... starting from whichever worker the program's
 *    cursor pointed at when the group opened.
 * 5. The program's own counters (the stats map, read through rlb_ctl_read) agree: 100 steered
 *    to each slot, no fallback, nothing left to the kernel.
 */
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "rlbtest.h"

#define NR_WORKERS 4
#define NR_CONNS 400

int main(void)
{
	struct rlb_group_stats st;
	struct rlb_group *g = NULL;
	struct rlbt_turns t;
	int bad, err;

	rlbt_require_root();
	if (!CHECK(!rlbt_group_open("127.0.0.1", RLB_POLICY_ROUND_ROBIN, NR_WORKERS, &g),
		   "cannot open the group"))
		goto out;

	bad = rlbt_rotation(g, rlbt_steer, AF_INET, NULL, "127.0.0.1", NR_CONNS, &t);
	if (!CHECK(bad >= 0, "a connection reached no single worker"))
		goto out;
	for (int w = 0; w < NR_WORKERS; w++)
		CHECK(t.counts[w] == NR_CONNS / NR_WORKERS,
		      "worker %d received %d connections, want %d", w, t.counts[w],
		      NR_CONNS / NR_WORKERS);
	CHECK(!bad, "%d connections out of rotation (the first is printed above)", bad);

	err = rlb_ctl_read(rlb_group_ctl(g), &st);
	if (!CHECK(!err, "rlb_ctl_read: %s: %s", strerror(-err), rlb_last_error()))
		goto out;
	for (int w = 0; w < NR_WORKERS; w++)
		CHECK(st.workers[w].steered == (uint64_t)t.counts[w] && !st.workers[w].fallback,
		      "stats of slot %d: steered %llu, fallback %llu; want %d, 0", w,
		      (unsigned long long)st.workers[w].steered,
		      (unsigned long long)st.workers[w].fallback, t.counts[w]);
	CHECK(!st.unsteered, "%llu connections unsteered", (unsigned long long)st.unsteered);
	printf("400 connections: %d/%d/%d/%d, rotation from worker %d\n", t.counts[0], t.counts[1],
	       t.counts[2], t.counts[3], t.first);
out:
	rlb_group_close(g);
	return rlbt_finish();
}
