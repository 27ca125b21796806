// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * A live group changes policy with one map update, without reopening anything.
 *
 * 1. Open a group of 4 workers on 127.0.0.1, ephemeral port, policy round-robin. 8
 *    connections from 127.0.0.2 rotate over the four workers, twice.
 * 2. rlb_group_set_policy(source-ip): the group and the kernel's config map both say
 *    source-ip, and the program id has not changed.
 * 3. 20 connections from 127.0.0.2 all reach one worker; so do 20 from 127.0.0.3 (each to
 *    its own worker, which may be the same).
 * 4. Back to round-robin: 8 connections from 127.0.0.2 rotate again.
 */
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "rlbtest.h"

#define NR_WORKERS 4
#define NR_ROTATE 8
#define NR_STICKY 20

/* NR_ROTATE connections from 127.0.0.2 follow the rotation from wherever it stands. */
static void check_rotation(struct rlb_group *g, const char *when)
{
	int bad = rlbt_rotation(g, rlbt_steer, AF_INET, "127.0.0.2", NULL, NR_ROTATE, NULL);

	if (CHECK(bad >= 0, "%s: a connection reached no single worker", when))
		CHECK(!bad, "%s: %d of %d connections out of rotation", when, bad, NR_ROTATE);
}

/* NR_STICKY connections from src all reach one worker. */
static void check_sticky(struct rlb_group *g, const char *src)
{
	int first = -1, moved = 0;

	for (int i = 0; i < NR_STICKY; i++) {
		int w = rlbt_steer(g, AF_INET, src, 0, "127.0.0.1");

		if (!CHECK(w >= 0, "source-ip: connection %d from %s failed", i, src))
			return;
		if (i == 0)
			first = w;
		if (w != first && moved++ == 0)
			fprintf(stderr, "connection %d from %s reached worker %d, the first %d\n",
				i, src, w, first);
	}
	CHECK(!moved, "source-ip: %d of %d connections from %s left its worker", moved, NR_STICKY,
	      src);
}

int main(void)
{
	struct rlb_group *g = NULL;
	struct rlb_config cfg;
	uint32_t id;
	int err;

	rlbt_require_root();
	if (!CHECK(!rlbt_group_open("127.0.0.1", RLB_POLICY_ROUND_ROBIN, NR_WORKERS, &g),
		   "cannot open the group"))
		goto out;
	id = rlb_group_prog_id(g);
	check_rotation(g, "round-robin");

	err = rlb_group_set_policy(g, RLB_POLICY_SOURCE_IP);
	if (!CHECK(!err, "rlb_group_set_policy(source-ip): %s: %s", strerror(-err),
		   rlb_last_error()))
		goto out;
	CHECK(rlb_group_policy(g) == RLB_POLICY_SOURCE_IP, "the group says policy %s",
	      rlb_policy_name(rlb_group_policy(g)));
	err = rlbt_group_config(g, &cfg);
	if (CHECK(!err, "cannot read the config map from the kernel: %s", strerror(-err)))
		CHECK(cfg.policy == RLB_POLICY_SOURCE_IP, "the kernel's config says policy %u",
		      cfg.policy);
	CHECK(rlb_group_prog_id(g) == id, "program id changed from %u to %u", id,
	      rlb_group_prog_id(g));
	check_sticky(g, "127.0.0.2");
	check_sticky(g, "127.0.0.3");

	err = rlb_group_set_policy(g, RLB_POLICY_ROUND_ROBIN);
	if (!CHECK(!err, "rlb_group_set_policy(round-robin): %s: %s", strerror(-err),
		   rlb_last_error()))
		goto out;
	check_rotation(g, "round-robin again");
	printf("round-robin -> source-ip -> round-robin on program %u\n", id);
out:
	rlb_group_close(g);
	return rlbt_finish();
}
