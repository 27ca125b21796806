// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Weighted gives each worker its weight's share of the connections, live.
 *
 * 1. Open a group of 4 workers on 127.0.0.1, ephemeral port, policy weighted. With the
 *    default weights (100 each), before any change, the table steers from the first
 *    connection: 400 connections are exactly 100 per worker, nothing left to the kernel.
 *    Then set the weights to 1:1:2:0 through the group's controller (rlb_ctl_set_weight).
 * 2. 4000 connections: shares within 3 % of 25/25/50/0. The program walks a table of 4096
 *    entries built by smooth weighted round-robin, whose period for 1:1:2 is 4 and divides
 *    4096, so any 4000 consecutive turns are exactly 1000/1000/2000/0: that is checked too.
 * 3. Set worker 1's weight to 0 on the live group. Of 300 more connections worker 1 gets
 *    none, and workers 0 and 2 split them 1:2 (100/200, give or take the one turn where the
 *    table's period of 3 does not divide 4096).
 * 4. A canary: a new group of 2 workers with weights 99 and 1. Of 2000 connections the
 *    canary gets 15 to 25 (1 %: exactly 1 in every 100 consecutive turns, so 20 or 21).
 * 5. The program's counters agree: each slot's steered count is what its worker accepted,
 *    no fallback, nothing unsteered.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "rlbtest.h"

#define NR_WORKERS 4
#define NR_DEFAULT 400
#define NR_CONNS 4000
#define NR_LIVE_CHANGE 300
#define NR_CANARY 2000

static bool set_weights(struct rlb_group *g, const unsigned int *weights, unsigned int n)
{
	for (unsigned int w = 0; w < n; w++) {
		int err = rlb_ctl_set_weight(rlb_group_ctl(g), w, weights[w]);

		if (!CHECK(!err, "rlb_ctl_set_weight(%u, %u): %s: %s", w, weights[w],
			   strerror(-err), rlb_last_error()))
			return false;
	}
	return true;
}

/* n connections; counts[] and total[] add up where they went. False if one failed. */
static bool run(struct rlb_group *g, int n, int *counts, int *total)
{
	for (int i = 0; i < n; i++) {
		int w = rlbt_steer(g, AF_INET, NULL, 0, "127.0.0.1");

		if (!CHECK(w >= 0, "connection %d reached no single worker", i))
			return false;
		counts[w]++;
		total[w]++;
	}
	return true;
}

/* The program steered exactly total[w] to each of the n slots, without fallback. */
static void check_stats(struct rlb_group *g, const int *total, unsigned int n)
{
	struct rlb_group_stats st;
	int err = rlb_ctl_read(rlb_group_ctl(g), &st);

	if (!CHECK(!err, "rlb_ctl_read: %s: %s", strerror(-err), rlb_last_error()))
		return;
	for (unsigned int w = 0; w < n; w++)
		CHECK(st.workers[w].steered == (uint64_t)total[w] && !st.workers[w].fallback,
		      "stats of slot %u: steered %llu, fallback %llu; want %d, 0", w,
		      (unsigned long long)st.workers[w].steered,
		      (unsigned long long)st.workers[w].fallback, total[w]);
	CHECK(!st.unsteered, "%llu connections unsteered", (unsigned long long)st.unsteered);
}

int main(void)
{
	const unsigned int weights[NR_WORKERS] = { 1, 1, 2, 0 }, canary_weights[2] = { 99, 1 };
	const int want[NR_WORKERS] = { 1000, 1000, 2000, 0 };
	int counts[NR_WORKERS] = {}, total[NR_WORKERS] = {}, canary[2] = {}, canary_total[2] = {};
	struct rlb_group *g = NULL, *c = NULL;
	int err;

	rlbt_require_root();
	/* 1 */
	if (!CHECK(!rlbt_group_open("127.0.0.1", RLB_POLICY_WEIGHTED, NR_WORKERS, &g),
		   "cannot open the group"))
		goto out;
	if (!run(g, NR_DEFAULT, counts, total))
		goto out;
	for (int w = 0; w < NR_WORKERS; w++)
		CHECK(counts[w] == NR_DEFAULT / NR_WORKERS,
		      "default weights: worker %d received %d of %d connections, want %d", w,
		      counts[w], NR_DEFAULT, NR_DEFAULT / NR_WORKERS);
	printf("default weights, %d connections: %d/%d/%d/%d\n", NR_DEFAULT, counts[0], counts[1],
	       counts[2], counts[3]);
	check_stats(g, total, NR_WORKERS);
	memset(counts, 0, sizeof(counts));
	if (!set_weights(g, weights, NR_WORKERS))
		goto out;

	/* 2 */
	if (!run(g, NR_CONNS, counts, total))
		goto out;
	for (int w = 0; w < NR_WORKERS; w++) {
		double share = 100.0 * counts[w] / NR_CONNS, target = 100.0 * want[w] / NR_CONNS;

		CHECK(abs(counts[w] - want[w]) <= NR_CONNS * 3 / 100,
		      "worker %d: %.2f %% of the connections, want %.0f %% +- 3", w, share, target);
		CHECK(counts[w] == want[w], "worker %d received %d connections, the table gives %d",
		      w, counts[w], want[w]);
	}
	printf("weights 1:1:2:0, %d connections: %d/%d/%d/%d (%.2f/%.2f/%.2f/%.2f %%)\n", NR_CONNS,
	       counts[0], counts[1], counts[2], counts[3], 100.0 * counts[0] / NR_CONNS,
	       100.0 * counts[1] / NR_CONNS, 100.0 * counts[2] / NR_CONNS,
	       100.0 * counts[3] / NR_CONNS);

	/* 3 */
	err = rlb_ctl_set_weight(rlb_group_ctl(g), 1, 0);
	if (!CHECK(!err, "rlb_ctl_set_weight(1, 0): %s: %s", strerror(-err), rlb_last_error()))
		goto out;
	memset(counts, 0, sizeof(counts));
	if (!run(g, NR_LIVE_CHANGE, counts, total))
		goto out;
	CHECK(counts[1] == 0 && counts[3] == 0,
	      "weight 0: worker 1 received %d connections, worker 3 %d; want 0", counts[1],
	      counts[3]);
	CHECK(abs(counts[0] - NR_LIVE_CHANGE / 3) <= 1,
	      "weights 1:0:2:0: worker 0 received %d of %d connections, want %d +- 1", counts[0],
	      NR_LIVE_CHANGE, NR_LIVE_CHANGE / 3);
	printf("weights 1:0:2:0, %d connections: %d/%d/%d/%d\n", NR_LIVE_CHANGE, counts[0],
	       counts[1], counts[2], counts[3]);
	check_stats(g, total, NR_WORKERS);

	/* 4 */
	if (!CHECK(!rlbt_group_open("127.0.0.1", RLB_POLICY_WEIGHTED, 2, &c),
		   "cannot open the canary group"))
		goto out;
	if (!set_weights(c, canary_weights, 2))
		goto out;
	if (!run(c, NR_CANARY, canary, canary_total))
		goto out;
	CHECK(canary[1] >= 15 && canary[1] <= 25,
	      "the canary (weight 1 of 100) received %d of %d connections, want 15..25", canary[1],
	      NR_CANARY);
	printf("weights 99:1, %d connections: %d/%d\n", NR_CANARY, canary[0], canary[1]);
	check_stats(c, canary_total, 2);
out:
	rlb_group_close(c);
	rlb_group_close(g);
	return rlbt_finish();
}
