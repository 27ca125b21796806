// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * A closed worker's turns go to the next live worker; no connection fails.
 *
 * 1. Open a group of 4 workers on 127.0.0.1, ephemeral port, policy round-robin; 8
 *    connections learn where the rotation stands (and check that it rotates).
 * 2. Close worker 1 with rlb_group_close_worker: its fd reads -1.
 * 3. Make 300 more connections. Every one connects and then reads a clean end of file from
 *    the worker that accepted it: nothing refused, nothing reset. None reaches worker 1.
 * 4. The program's rule is "empty slot -> next live slot" while the cursor keeps turning over
 *    all 4 slots, so worker 2 takes its own turns and worker 1's. 300 connections are 75 whole
 *    rotations, so the split is exactly 75/0/150/75, and every connection goes where the rule
 *    says.
 * 5. The program's counters agree: slot 1 counts 75 fallbacks (its turns, taken by slot 2),
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

/* The worker that takes connection i: its turn in the rotation, or the next live one. */
static int expected(int start, int i)
{
	int turn = (start + i) % NR_WORKERS;

	return turn == CLOSED ? (CLOSED + 1) % NR_WORKERS : turn;
}

int main(void)
{
	int counts[NR_WORKERS] = {}, want[NR_WORKERS] = {}, start = -1, bad = 0, err;
	int total[NR_WORKERS] = {};
	struct rlb_group_stats st;
	struct rlb_group *g = NULL;

	rlbt_require_root();
	if (!CHECK(!rlbt_group_open("127.0.0.1", RLB_POLICY_ROUND_ROBIN, NR_WORKERS, &g),
		   "cannot open the group"))
		goto out;

	for (int i = 0; i < NR_BEFORE; i++) {
		int w = rlbt_steer(g, AF_INET, NULL, 0, "127.0.0.1");

		if (!CHECK(w >= 0, "connection %d reached no single worker", i))
			goto out;
		if (i == 0)
			start = w;
		total[w]++;
		CHECK(w == (start + i) % NR_WORKERS, "connection %d reached worker %d, want %d", i,
		      w, (start + i) % NR_WORKERS);
	}

	err = rlb_group_close_worker(g, CLOSED);
	if (!CHECK(!err, "rlb_group_close_worker(%d): %s: %s", CLOSED, strerror(-err),
		   rlb_last_error()))
		goto out;
	CHECK(rlb_group_fd(g, CLOSED) == -1, "worker %d still has fd %d", CLOSED,
	      rlb_group_fd(g, CLOSED));

	for (int i = NR_BEFORE; i < NR_BEFORE + NR_AFTER; i++) {
		int w = rlbt_steer(g, AF_INET, NULL, 0, "127.0.0.1");

		if (!CHECK(w >= 0, "connection %d after the close failed", i))
			goto out;
		counts[w]++;
		total[w]++;
		want[expected(start, i)]++;
		if (w != expected(start, i) && bad++ == 0)
			fprintf(stderr, "connection %d reached worker %d, the rule says %d\n", i, w,
				expected(start, i));
	}
	CHECK(counts[CLOSED] == 0, "closed worker %d received %d connections", CLOSED,
	      counts[CLOSED]);
	/* Written out rather than derived from expected(): the rule's arithmetic, checked. */
	CHECK(want[0] == 75 && want[1] == 0 && want[2] == 150 && want[3] == 75,
	      "the rule gives %d/%d/%d/%d", want[0], want[1], want[2], want[3]);
	for (int w = 0; w < NR_WORKERS; w++)
		CHECK(counts[w] == want[w], "worker %d received %d connections, want %d", w,
		      counts[w], want[w]);
	CHECK(!bad, "%d connections not where the rule says", bad);

	err = rlb_ctl_read(rlb_group_ctl(g), &st);
	if (!CHECK(!err, "rlb_ctl_read: %s: %s", strerror(-err), rlb_last_error()))
		goto out;
	for (int w = 0; w < NR_WORKERS; w++) {
		uint64_t fallback = w == CLOSED ? NR_AFTER / NR_WORKERS : 0;

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
