// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The "kernel" policy loads no BPF at all; any other policy loads one program, for as long
 * as its group is open. Asked of the kernel, not of the library. The test compares sets of
 * program ids, so that programs of earlier tests still being freed do not count.
 *
 * 1. List the sk_reuseport programs loaded in the kernel.
 * 2. Open a group of 4 workers on 127.0.0.1 under "kernel": no new program, and the group
 *    reports no program id. 20 connections each reach exactly one worker, chosen by the
 *    kernel's own hash.
 * 3. Close it and open a group under "hash": exactly one new program, the group's program id,
 *    an sk_reuseport program.
 * 4. Close it: rlb_group_close detaches the program, so the id is gone at once.
 * 5. Whatever step 4 saw, after the RCU grace periods the kernel frees programs in, no new
 *    program is left.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "rlbtest.h"

#define NR_WORKERS 4
#define NR_CONNS 20
#define MAX_IDS 1024

static uint32_t before[MAX_IDS];
static int nr_before;

/* sk_reuseport programs loaded now that were not in step 1; the first of them in *first. */
static int new_progs(uint32_t *first)
{
	uint32_t now[MAX_IDS];
	int n, fresh = 0;

	n = rlbt_list_progs(BPF_PROG_TYPE_SK_REUSEPORT, now, MAX_IDS);
	if (n < 0 || n > MAX_IDS)
		return n < 0 ? n : -E2BIG;
	for (int i = 0; i < n; i++) {
		bool old = false;

		for (int j = 0; j < nr_before && !old; j++)
			old = now[i] == before[j];
		if (old)
			continue;
		if (!fresh++ && first)
			*first = now[i];
	}
	return fresh;
}

int main(void)
{
	struct rlb_group *g = NULL;
	uint32_t id, fresh_id = 0;
	int fresh, type;

	rlbt_require_root();
	nr_before = rlbt_list_progs(BPF_PROG_TYPE_SK_REUSEPORT, before, MAX_IDS);
	if (!CHECK(nr_before >= 0 && nr_before <= MAX_IDS, "cannot list the kernel's programs: %d",
		   nr_before))
		goto out;

	if (!CHECK(!rlbt_group_open("127.0.0.1", RLB_POLICY_KERNEL, NR_WORKERS, &g),
		   "cannot open the kernel group"))
		goto out;
	fresh = new_progs(&fresh_id);
	CHECK(fresh == 0, "under \"kernel\": %d new sk_reuseport programs (id %u)", fresh,
	      fresh_id);
	CHECK(rlb_group_prog_id(g) == 0, "under \"kernel\" the group reports program id %u",
	      rlb_group_prog_id(g));
	for (int i = 0; i < NR_CONNS; i++) {
		int w = rlbt_steer(g, AF_INET, NULL, 0, "127.0.0.1");

		if (!CHECK(w >= 0, "connection %d under \"kernel\" reached no single worker", i))
			break;
	}
	rlb_group_close(g);
	g = NULL;

	if (!CHECK(!rlbt_group_open("127.0.0.1", RLB_POLICY_HASH, NR_WORKERS, &g),
		   "cannot open the hash group"))
		goto out;
	id = rlb_group_prog_id(g);
	fresh = new_progs(&fresh_id);
	CHECK(fresh == 1 && fresh_id == id,
	      "under \"hash\": %d new sk_reuseport programs (the first id %u), want 1 (id %u)",
	      fresh, fresh_id, id);
	type = rlbt_prog_type(id);
	CHECK(type == BPF_PROG_TYPE_SK_REUSEPORT, "program id %u: type %d, want sk_reuseport (%d)",
	      id, type, BPF_PROG_TYPE_SK_REUSEPORT);
	rlb_group_close(g);
	g = NULL;

	type = rlbt_prog_type(id);
	CHECK(type == -ENOENT,
	      "program %u is still loaded right after rlb_group_close (type %d): still attached to "
	      "the closed sockets' reuseport group, so only an RCU callback frees it",
	      id, type);
	type = rlbt_wait_prog_gone(id);
	CHECK(type == -ENOENT, "program %u is still loaded after the RCU grace periods (%d)", id,
	      type);
	fresh = new_progs(&fresh_id);
	CHECK(fresh == 0, "after closing: %d new sk_reuseport programs left (id %u)", fresh,
	      fresh_id);
out:
	rlb_group_close(g);
	return rlbt_finish();
}
