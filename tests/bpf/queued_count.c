// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The program counts a connection it steers in load.queued (until its worker reports it
 * accepted) for least-conn, which reads that count to see a burst of its own choices, and
 * for no other built-in policy: the atomic add costs a transfer of the line between CPUs
 * (issue 13: 127 ns of 453 per connection).
 *
 * 1. A group of 2 workers on 127.0.0.1, ephemeral port, policy hash. 20 connections, each
 *    accepted and closed (rlbt_steer) without the worker reporting it: queued stays 0 on both
 *    workers.
 * 2. Switch the live group to least-conn. 20 more connections, none reported: each worker's
 *    queued is exactly the number of those it took.
 * 3. Each reported accepted and closed (rlb_worker_accepted, rlb_worker_closed): queued is 0
 *    again on both, nobody is active.
 * 4. The stats map: steered 40 in all, each worker's what it took, no fallback, nothing
 *    unsteered.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "rlbtest.h"

#define NR_WORKERS 2
#define NR_CONNS 20

static bool steer_all(struct rlb_group *g, int counts[NR_WORKERS])
{
	for (int i = 0; i < NR_CONNS; i++) {
		int w = rlbt_steer(g, AF_INET, NULL, 0, "127.0.0.1");

		if (!CHECK(w >= 0 && w < NR_WORKERS, "connection %d reached no single worker", i))
			return false;
		counts[w]++;
	}
	return true;
}

int main(void)
{
	int by_hash[NR_WORKERS] = { 0 }, by_least[NR_WORKERS] = { 0 }, err;
	struct rlb_group_stats st;
	struct rlb_group *g = NULL;
	uint64_t steered = 0;

	rlbt_require_root();
	if (!CHECK(!rlbt_group_open("127.0.0.1", RLB_POLICY_HASH, NR_WORKERS, &g),
		   "cannot open the group"))
		goto out;

	/* 1 */
	if (!steer_all(g, by_hash))
		goto out;
	for (int w = 0; w < NR_WORKERS; w++)
		CHECK(rlb_worker_queued(g, w) == 0,
		      "hash: worker %d took %d connections and shows %llu queued, want 0", w,
		      by_hash[w], (unsigned long long)rlb_worker_queued(g, w));
	printf("hash: %d/%d connections, queued %llu/%llu\n", by_hash[0], by_hash[1],
	       (unsigned long long)rlb_worker_queued(g, 0),
	       (unsigned long long)rlb_worker_queued(g, 1));

	/* 2 */
	err = rlb_group_set_policy(g, RLB_POLICY_LEAST_CONN);
	if (!CHECK(!err, "rlb_group_set_policy(least-conn): %s: %s", strerror(-err),
		   rlb_last_error()))
		goto out;
	if (!steer_all(g, by_least))
		goto out;
	for (int w = 0; w < NR_WORKERS; w++)
		CHECK(rlb_worker_queued(g, w) == (uint64_t)by_least[w],
		      "least-conn: worker %d took %d connections and shows %llu queued", w,
		      by_least[w], (unsigned long long)rlb_worker_queued(g, w));
	printf("least-conn: %d/%d connections, queued %llu/%llu\n", by_least[0], by_least[1],
	       (unsigned long long)rlb_worker_queued(g, 0),
	       (unsigned long long)rlb_worker_queued(g, 1));

	/* 3 */
	for (int w = 0; w < NR_WORKERS; w++) {
		for (int i = 0; i < by_least[w]; i++) {
			rlb_worker_accepted(g, w);
			rlb_worker_closed(g, w);
		}
	}
	err = rlb_ctl_read(rlb_group_ctl(g), &st);
	if (!CHECK(!err, "rlb_ctl_read: %s: %s", strerror(-err), rlb_last_error()))
		goto out;
	for (int w = 0; w < NR_WORKERS; w++)
		CHECK(rlb_worker_queued(g, w) == 0 && !st.workers[w].active,
		      "worker %d after its reports: queued %llu, active %llu; want 0, 0", w,
		      (unsigned long long)rlb_worker_queued(g, w),
		      (unsigned long long)st.workers[w].active);

	/* 4 */
	for (int w = 0; w < NR_WORKERS; w++) {
		const struct rlb_worker_stats *ws = &st.workers[w];

		steered += ws->steered;
		CHECK(ws->steered == (uint64_t)(by_hash[w] + by_least[w]) && !ws->fallback,
		      "stats of worker %d: steered %llu, fallback %llu; want %d, 0", w,
		      (unsigned long long)ws->steered, (unsigned long long)ws->fallback,
		      by_hash[w] + by_least[w]);
	}
	CHECK(steered == 2 * NR_CONNS && !st.unsteered, "steered %llu, unsteered %llu; want %d, 0",
	      (unsigned long long)steered, (unsigned long long)st.unsteered, 2 * NR_CONNS);
out:
	rlb_group_close(g);
	return rlbt_finish();
}
