// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * A closed worker leaves the rotation; no connection fails.
 *
 * 1. Open a group of 4 workers on 127.0.0.1, ephemeral port, policy round-robin; 8
 *    connections learn where the rotation stands (and check that it rotates).
 * 2. Close worker 1 with rlb_group_close_worker: its fd reads -1.
 * 3. Make 300 more connections. Every one connects and then reads a clean end of file from
 *    the worker that accepted it: nothing refused, nothing reset. None reaches worker 1.
 * 4. Round-robin skips a worker that is not live and takes the next turn, so the rotation
 *    goes on over workers 0, 2 and 3 from where it stood: 300 connections are exactly
 *    100/0/100/100, and every connection goes where the rotation says.
 * 5. The program's counters agree: no fallback anywhere (a skipped turn is no failed choice),
 *    and each slot's steered count is what its worker accepted.
 */
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "rlbtest.h"

#define NR_WORKERS 4
#define NR_BEFORE 8
#define NR_AFTER 300
#define CLOSED 1

/* The worker that takes the next connection: the cursor's turn, skipping the closed one. */
static int expected(int *cursor)
{
	while (*cursor % NR_WORKERS == CLOSED)
		(*cursor)++;
	return (*cursor)++ % NR_WORKERS;
}

int main(void)
{
	int counts[NR_WORKERS] = {}, want[NR_WORKERS] = {}, bad = 0, err, cursor;
	int total[NR_WORKERS] = {};
	struct rlb_group_stats st;
	struct rlb_group *g = NULL;
	struct rlbt_turns t;

	rlbt_require_root();
	if (!CHECK(!rlbt_group_open("127.0.0.1", RLB_POLICY_ROUND_ROBIN, NR_WORKERS, &g),
		   "cannot open the group"))
		goto out;

	err = rlbt_rotation(g, rlbt_steer, AF_INET, NULL, "127.0.0.1", NR_BEFORE, &t);
	if (!CHECK(err >= 0, "a connection before the close reached no single worker"))
		goto out;
	CHECK(!err, "%d of %d connections before the close out of rotation", err, NR_BEFORE);
	for (int w = 0; w < NR_WORKERS; w++)
		total[w] = t.counts[w];

	err = rlb_group_close_worker(g, CLOSED);
	if (!CHECK(!err, "rlb_group_close_worker(%d): %s: %s", CLOSED, strerror(-err),
		   rlb_last_error()))
		goto out;
	CHECK(rlb_group_fd(g, CLOSED) == -1, "worker %d still has fd %d", CLOSED,
	      rlb_group_fd(g, CLOSED));

	cursor = t.next;
	for (int i = NR_BEFORE; i < NR_BEFORE + NR_AFTER; i++) {
		int w = rlbt_steer(g, AF_INET, NULL, 0, "127.0.0.1"), e = expected(&cursor);

		if (!CHECK(w >= 0, "connection %d after the close failed", i))
			goto out;
		counts[w]++;
		total[w]++;
		want[e]++;
		if (w != e && bad++ == 0)
			fprintf(stderr, "connection %d reached worker %d, the rotation says %d\n",
				i, w, e);
	}
	CHECK(counts[CLOSED] == 0, "closed worker %d received %d connections", CLOSED,
	      counts[CLOSED]);
	/* Written out rather than derived from expected(): the rule's arithmetic, checked. */
	CHECK(want[0] == 100 && want[1] == 0 && want[2] == 100 && want[3] == 100,
	      "the rule gives %d/%d/%d/%d", want[0], want[1], want[2], want[3]);
	for (int w = 0; w < NR_WORKERS; w++)
		CHECK(counts[w] == want[w], "worker %d received %d connections, want %d", w,
		      counts[w], want[w]);
	CHECK(!bad, "%d connections not where the rule says", bad);

	err = rlb_ctl_read(rlb_group_ctl(g), &st);
	if (!CHECK(!err, "rlb_ctl_read: %s: %s", strerror(-err), rlb_last_error()))
		goto out;
	for (int w = 0; w < NR_WORKERS; w++) {
		uint64_t fallback = 0;

		CHECK(st.workers[w].steered == (uint64_t)total[w] &&
			      st.workers[w].fallback == fallback,
		      "stats of slot %d: steered %llu, fallback %llu; want %d, %llu", w,
		      (unsigned long long)st.workers[w].steered,
		      (unsigned long long)st.workers[w].fallback, total[w],
		      (unsigned long long)fallback);
	}
	printf("after closing worker %d: %d/%d/%d/%d\n", CLOSED, counts[0], counts[1], counts[2],
	       counts[3]);
out:
	rlb_group_close(g);
	return rlbt_finish();
}
