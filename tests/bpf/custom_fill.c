// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * examples/policies/fill_first.bpf.c packs connections onto the first workers with room,
 * reading the load the workers publish and their weights (capacity) from the group's maps.
 *
 * The test stands in for the worker threads: after each connection it publishes one more
 * open connection on the worker that got it (rlb_worker_accepted), or one fewer
 * (rlb_worker_closed), exactly as a server does.
 *
 * 1. Open a group of 4 workers on 127.0.0.1, policy round-robin; every worker's weight
 *    (capacity) is 2. Load fill_first.bpf.o: the policy's name is custom:fill_first.
 * 2. 8 connections fill the workers in order: 0 0 1 1 2 2 3 3.
 * 3. All are full: 4 more go to the least loaded, the first of equals: 0 1 2 3.
 * 4. Worker 2 closes two connections (load 1 < 2): the next goes to 2, and the one after to 2
 *    again (the least loaded, all full).
 * 5. Worker 0 drains and closes its three connections: it gets nothing (not live); the
 *    next goes to the least loaded of the live ones, worker 1.
 * 6. The stats map agrees with what the workers received, no fallback, nothing unsteered.
 * 7. Unload: 8 connections rotate over the four workers (round-robin), including worker 0
 *    once it is live again.
 */
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "rlbtest.h"

#define NR_WORKERS 4
#define CAPACITY 2

static int counts[NR_WORKERS];

/* One connection per entry of want; each must reach that worker, which then holds it. */
static void expect(struct rlb_group *g, const char *step, const int *want, int n)
{
	for (int i = 0; i < n; i++) {
		int w = rlbt_steer_reset(g, AF_INET, NULL, 0, "127.0.0.1");

		if (!CHECK(w >= 0, "%s: connection %d reached no single worker", step, i))
			return;
		CHECK(w == want[i], "%s: connection %d reached worker %d, want %d", step, i, w,
		      want[i]);
		counts[w]++;
		rlb_worker_accepted(g, w);
	}
}

int main(void)
{
	static const int fill[] = { 0, 0, 1, 1, 2, 2, 3, 3 }, spill[] = { 0, 1, 2, 3 },
			 refill[] = { 2, 2 }, drained[] = { 1 };
	struct rlb_group_stats st;
	struct rlb_group *g = NULL;
	struct rlb_ctl *ctl;
	int err, bad;

	rlbt_require_root();
	/* 1. */
	if (!CHECK(!rlbt_group_open("127.0.0.1", RLB_POLICY_ROUND_ROBIN, NR_WORKERS, &g),
		   "cannot open the group"))
		goto out;
	ctl = rlb_group_ctl(g);
	for (int w = 0; w < NR_WORKERS; w++)
		if (!CHECK(!rlb_ctl_set_weight(ctl, w, CAPACITY), "weight of %d: %s", w,
			   rlb_last_error()))
			goto out;
	err = rlb_ctl_load_policy(ctl, rlbt_policy_path("fill_first"));
	if (!CHECK(!err, "rlb_ctl_load_policy(%s): %s: %s\n%s", rlbt_policy_path("fill_first"),
		   strerror(-err), rlb_last_error(), rlb_verifier_log()))
		goto out;
	CHECK(rlbt_policy_is(ctl, "custom:fill_first"), "not the policy just loaded");

	/* 2. - 5. */
	expect(g, "fill", fill, 8);
	expect(g, "all full", spill, 4);
	rlb_worker_closed(g, 2);
	rlb_worker_closed(g, 2);
	expect(g, "room on 2", refill, 2);
	if (!CHECK(!rlb_ctl_set_draining(ctl, 0, true), "drain 0: %s", rlb_last_error()))
		goto out;
	for (int i = 0; i < 3; i++)
		rlb_worker_closed(g, 0);
	expect(g, "0 drained", drained, 1);

	/* 6. */
	err = rlb_ctl_read(ctl, &st);
	if (!CHECK(!err, "rlb_ctl_read: %s", rlb_last_error()))
		goto out;
	for (int w = 0; w < NR_WORKERS; w++)
		CHECK(st.workers[w].steered == (uint64_t)counts[w] && !st.workers[w].fallback,
		      "stats of slot %d: steered %llu, fallback %llu; want %d, 0", w,
		      (unsigned long long)st.workers[w].steered,
		      (unsigned long long)st.workers[w].fallback, counts[w]);
	CHECK(!st.unsteered, "%llu connections unsteered", (unsigned long long)st.unsteered);

	/* 7. */
	if (!CHECK(!rlb_ctl_set_draining(ctl, 0, false), "undrain 0: %s", rlb_last_error()))
		goto out;
	err = rlb_ctl_unload_policy(ctl);
	if (!CHECK(!err, "rlb_ctl_unload_policy: %s", rlb_last_error()))
		goto out;
	bad = rlbt_rotation(g, rlbt_steer_reset, AF_INET, NULL, NULL, 2 * NR_WORKERS, NULL);
	if (!CHECK(bad >= 0, "a connection after the unload reached no single worker"))
		goto out;
	CHECK(!bad, "after the unload, %d of %d connections out of the round-robin rotation", bad,
	      2 * NR_WORKERS);
	printf("fill first, capacity %d: workers received %d/%d/%d/%d\n", CAPACITY, counts[0],
	       counts[1], counts[2], counts[3]);
out:
	rlb_group_close(g);
	return rlbt_finish();
}
