// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * A user's policy, examples/policies/tenant.bpf.c, steers a live group by destination address,
 * and unloading it gives the group back to its built-in policy.
 *
 * 1. Open a group of 4 workers on 0.0.0.0, ephemeral port, policy round-robin. 8 connections
 *    to 127.0.0.1 rotate over the four workers.
 * 2. rlb_ctl_load_policy(tenant.bpf.o): the group's steering program is the same one, a
 *    sk_reuseport program sits in its "custom" slot, and the policy's name is custom:tenant.
 * 3. 64 connections from 127.0.0.1, each from its own source port, alternately to 127.0.0.1
 *    and 127.0.0.2: every one reaches exactly the worker the policy computes (pool {0, 1} for
 *    127.0.0.1, {2, 3} for 127.0.0.2, the 4-tuple hash with the group's seed within the pool),
 *    and every worker of each pool had some.
 * 4. The stats map agrees: each slot's steered count grew by what it received; no fallback,
 *    nothing unsteered.
 * 5. 16 connections to 127.0.0.3, which the policy does not know (it returns RLB_NONE): all
 *    are served, by the kernel's hash, and counted as unsteered, exactly 16.
 * 6. rlb_ctl_unload_policy: the name is round-robin again, the slot is empty, the policy's
 *    program is freed, and 8 connections to 127.0.0.1 rotate again.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <reuselb/hash.h>
#include "rlbtest.h"

#define NR_WORKERS 4
#define NR_ROTATE 8
#define NR_TENANT 64
#define NR_UNKNOWN 16

/* NR_ROTATE connections to 127.0.0.1 follow the round-robin rotation. */
static void check_rotation(struct rlb_group *g, const char *when)
{
	int bad = rlbt_rotation(g, rlbt_steer_reset, AF_INET, NULL, NULL, NR_ROTATE, NULL);

	if (CHECK(bad >= 0, "%s: a connection reached no single worker", when))
		CHECK(!bad, "%s: %d of %d connections out of rotation", when, bad, NR_ROTATE);
}

/* The worker tenant.bpf.c chooses for this connection. */
static int tenant_worker(const char *src, uint16_t sport, const char *dst, uint16_t dport,
			 __u32 seed)
{
	struct rlb_flow f = {};
	int first = !strcmp(dst, "127.0.0.1") ? 0 : 2;

	inet_pton(AF_INET, src, &f.saddr[0]);
	inet_pton(AF_INET, dst, &f.daddr[0]);
	f.sport = htons(sport);
	f.dport = htons(dport);
	return first + rlb_scale(rlb_hash_flow(&f, seed), 2);
}

int main(void)
{
	struct rlb_group_stats before, after;
	int counts[NR_WORKERS] = {}, wrong = 0, err;
	struct rlb_group *g = NULL;
	struct rlb_config cfg;
	uint32_t steer_id, policy_id;

	rlbt_require_root();
	/* 1. */
	if (!CHECK(!rlbt_group_open("0.0.0.0", RLB_POLICY_ROUND_ROBIN, NR_WORKERS, &g),
		   "cannot open the group"))
		goto out;
	steer_id = rlb_group_prog_id(g);
	check_rotation(g, "round-robin before the policy");
	CHECK(rlbt_policy_is(rlb_group_ctl(g), "round-robin"), "not the built-in policy");

	/* 2. */
	err = rlb_ctl_load_policy(rlb_group_ctl(g), rlbt_policy_path("tenant"));
	if (!CHECK(!err, "rlb_ctl_load_policy(%s): %s: %s\n%s", rlbt_policy_path("tenant"),
		   strerror(-err), rlb_last_error(), rlb_verifier_log()))
		goto out;
	policy_id = rlbt_custom_prog_id(g);
	CHECK(policy_id && rlbt_prog_type(policy_id) == BPF_PROG_TYPE_SK_REUSEPORT,
	      "the custom slot holds program %u, of type %d", policy_id, rlbt_prog_type(policy_id));
	CHECK(rlb_group_prog_id(g) == steer_id, "the steering program changed: %u, was %u",
	      rlb_group_prog_id(g), steer_id);
	CHECK(rlbt_policy_is(rlb_group_ctl(g), "custom:tenant"), "not the tenant policy");

	/* 3. */
	err = rlbt_group_config(g, &cfg);
	if (!CHECK(!err, "cannot read the config map: %s", strerror(-err)))
		goto out;
	err = rlb_ctl_read(rlb_group_ctl(g), &before);
	if (!CHECK(!err, "rlb_ctl_read: %s", rlb_last_error()))
		goto out;
	for (int i = 0; i < NR_TENANT; i++) {
		const char *dst = i % 2 ? "127.0.0.2" : "127.0.0.1";
		int port = rlbt_free_port(AF_INET, "127.0.0.1"), want, w;

		if (!CHECK(port > 0, "no free port: %s", strerror(-port)))
			goto out;
		want = tenant_worker("127.0.0.1", port, dst, rlb_group_port(g), cfg.seed);
		w = rlbt_steer_reset(g, AF_INET, "127.0.0.1", port, dst);
		if (!CHECK(w >= 0, "connection %d to %s reached no single worker", i, dst))
			goto out;
		counts[w]++;
		if (w != want && wrong++ < 5)
			fprintf(stderr,
				"127.0.0.1:%d -> %s reached worker %d, the policy says %d\n", port,
				dst, w, want);
	}
	CHECK(!wrong, "%d of %d connections not on the policy's worker", wrong, NR_TENANT);
	for (int w = 0; w < NR_WORKERS; w++)
		CHECK(counts[w] > 0, "worker %d of its tenant's pool had no connection", w);

	/* 4. */
	err = rlb_ctl_read(rlb_group_ctl(g), &after);
	if (!CHECK(!err, "rlb_ctl_read: %s", rlb_last_error()))
		goto out;
	for (int w = 0; w < NR_WORKERS; w++)
		CHECK(after.workers[w].steered - before.workers[w].steered == (uint64_t)counts[w] &&
			      after.workers[w].fallback == before.workers[w].fallback,
		      "slot %d: steered +%llu, fallback +%llu; want +%d, +0", w,
		      (unsigned long long)(after.workers[w].steered - before.workers[w].steered),
		      (unsigned long long)(after.workers[w].fallback - before.workers[w].fallback),
		      counts[w]);
	CHECK(after.unsteered == before.unsteered, "%llu connections unsteered",
	      (unsigned long long)(after.unsteered - before.unsteered));

	/* 5. */
	before = after;
	for (int i = 0; i < NR_UNKNOWN; i++)
		if (!CHECK(rlbt_steer_reset(g, AF_INET, NULL, 0, "127.0.0.3") >= 0,
			   "connection %d to 127.0.0.3 (no tenant) was not served", i))
			goto out;
	err = rlb_ctl_read(rlb_group_ctl(g), &after);
	if (!CHECK(!err, "rlb_ctl_read: %s", rlb_last_error()))
		goto out;
	CHECK(after.unsteered - before.unsteered == NR_UNKNOWN, "unsteered +%llu, want +%d",
	      (unsigned long long)(after.unsteered - before.unsteered), NR_UNKNOWN);
	for (int w = 0; w < NR_WORKERS; w++)
		CHECK(after.workers[w].steered == before.workers[w].steered,
		      "slot %d steered %llu connections to an unknown address", w,
		      (unsigned long long)(after.workers[w].steered - before.workers[w].steered));

	/* 6. */
	err = rlb_ctl_unload_policy(rlb_group_ctl(g));
	if (!CHECK(!err, "rlb_ctl_unload_policy: %s", rlb_last_error()))
		goto out;
	CHECK(rlbt_policy_is(rlb_group_ctl(g), "round-robin"), "not the built-in policy");
	CHECK(!rlbt_custom_prog_id(g), "the custom slot still holds program %u",
	      rlbt_custom_prog_id(g));
	CHECK(rlbt_wait_prog_gone(policy_id) == -ENOENT, "the policy's program %u is still loaded",
	      policy_id);
	check_rotation(g, "round-robin after the policy");
	printf("tenant: 127.0.0.1 -> %d/%d, 127.0.0.2 -> %d/%d; %d unknown-address connections "
	       "left to the kernel\n",
	       counts[0], counts[1], counts[2], counts[3], NR_UNKNOWN);
out:
	rlb_group_close(g);
	return rlbt_finish();
}
