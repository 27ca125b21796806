// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Source-ip keeps each client address on one worker, whatever its source port.
 *
 * 1. Open a group of 4 workers on 127.0.0.1, ephemeral port, policy source-ip.
 * 2. Connect from 64 source addresses 127.0.0.2 .. 127.0.0.65, five rounds over all of them
 *    (interleaved, so that a policy that merely repeats its last choice cannot pass), each
 *    connection from a new ephemeral source port.
 * 3. Every source reached the same worker all five times.
 * 4. The sources used at least 3 of the 4 workers: a constant choice would pass step 3.
 * 5. Each source's worker is the one hash.h predicts, rlb_scale(rlb_hash_saddr(flow, seed), 4),
 *    with the group's random seed read from its config map in the kernel.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include <reuselb/hash.h>
#include "rlbtest.h"

#define NR_WORKERS 4
#define NR_SOURCES 64
#define NR_ROUNDS 5

int main(void)
{
	int first[NR_SOURCES], moved = 0, mispredicted = 0, used = 0, err;
	bool seen[NR_WORKERS] = {};
	struct rlb_group *g = NULL;
	struct rlb_config cfg;
	char src[INET_ADDRSTRLEN];

	rlbt_require_root();
	if (!CHECK(!rlbt_group_open("127.0.0.1", RLB_POLICY_SOURCE_IP, NR_WORKERS, &g),
		   "cannot open the group"))
		goto out;

	for (int round = 0; round < NR_ROUNDS; round++) {
		for (int s = 0; s < NR_SOURCES; s++) {
			int w;

			snprintf(src, sizeof(src), "127.0.0.%d", s + 2);
			w = rlbt_steer(g, AF_INET, src, 0, "127.0.0.1");
			if (!CHECK(w >= 0, "connection from %s reached no single worker", src))
				goto out;
			if (round == 0) {
				first[s] = w;
				seen[w] = true;
			} else if (w != first[s] && moved++ == 0) {
				fprintf(stderr,
					"%s reached worker %d in round 0, worker %d in round %d\n",
					src, first[s], w, round);
			}
		}
	}
	CHECK(!moved, "%d connections left their source's worker", moved);
	for (int w = 0; w < NR_WORKERS; w++)
		used += seen[w];
	CHECK(used >= 3, "%d sources used only %d of %d workers", NR_SOURCES, used, NR_WORKERS);

	err = rlbt_group_config(g, &cfg);
	if (!CHECK(!err, "cannot read the config map from the kernel: %s", strerror(-err)))
		goto out;
	for (int s = 0; s < NR_SOURCES; s++) {
		struct rlb_flow flow = {};
		unsigned int want;

		snprintf(src, sizeof(src), "127.0.0.%d", s + 2);
		inet_pton(AF_INET, src, &flow.saddr[0]);
		want = rlb_scale(rlb_hash_saddr(&flow, cfg.seed), NR_WORKERS);
		if (first[s] != (int)want && mispredicted++ == 0)
			fprintf(stderr, "%s reached worker %d, hash.h predicts %u\n", src, first[s],
				want);
	}
	CHECK(!mispredicted, "%d of %d sources not on the predicted worker", mispredicted,
	      NR_SOURCES);
	printf("%d sources, %d rounds each, used %d workers\n", NR_SOURCES, NR_ROUNDS, used);
out:
	rlb_group_close(g);
	return rlbt_finish();
}
