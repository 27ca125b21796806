// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Pure userspace parts shared with the program:
 * 1. every policy name parses to its enum and back; unknown, empty and near-miss names fail;
 *    the policy table has a row (name, help, needs) for every enum value, and its needs decide
 *    which features a policy is refused without;
 * 2. the ABI: struct sizes and enum values that pinned maps and bpftool users depend on;
 * 3. the hash: fixed vectors (so a change of the function is a visible decision), v4 and v6
 *    keys differ, source-ip ignores ports and destination;
 * 4. the CID layout: a minted-looking CID names its slot, a changed nonce or a wrong version
 *    does not.
 */
#include <errno.h>
#include <string.h>
#include "rlbtest.h"

static void test_names(void)
{
	const char *bad[] = { "", "Round-Robin", "round_robin", "roundrobin", "hash ", "custom" };
	enum rlb_policy p;

	for (int i = 0; i < RLB_POLICY__COUNT; i++) {
		const char *name = rlb_policy_name(i);

		CHECK(rlb_policy_parse(name, &p) == 0 && p == (enum rlb_policy)i, "%s", name);
		CHECK(strstr(rlb_policy_names(), name), "%s missing from the list", name);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK(rlb_policy_parse(bad[i], &p) == -EINVAL, "'%s' parsed", bad[i]);
	CHECK(strstr(rlb_last_error(), "choose one of"), "error: %s", rlb_last_error());
	CHECK(strcmp(rlb_policy_name(RLB_POLICY__COUNT), "unknown") == 0, "out of range name");
}

/* The policy table has a whole row for every enum value, and its needs decide the checks. */
static void test_table(void)
{
	struct rlb_features all = { .sk_reuseport = true, .mmapable = true }, f;
	char buf[128];

	for (int i = 0; i < RLB_POLICY__COUNT; i++) {
		const struct rlb_policy_info *info = rlb_policy_info(i);

		if (!CHECK(info && info->name && info->name[0] && info->help && info->help[0],
			   "policy %d has no row, name or help", i))
			continue;
		CHECK(!(info->needs & RLB_NEEDS_BPF) == (i == RLB_POLICY_KERNEL),
		      "%s: only kernel runs without a program", info->name);
		CHECK(rlb_policy_check(i, &all, NULL) == 0, "%s refused with every feature: %s",
		      info->name, rlb_last_error());
		f = all;
		f.mmapable = false;
		CHECK((rlb_policy_check(i, &f, "g") == -EOPNOTSUPP) ==
			      !!(info->needs & RLB_NEEDS_MMAPABLE),
		      "%s without mmapable: %s", info->name, rlb_last_error());
	}
	CHECK(rlb_policy_info(RLB_POLICY__COUNT) == NULL, "a row past the enum");
	CHECK(rlb_policy_check(RLB_POLICY__COUNT, &all, NULL) == -EINVAL, "bad policy accepted");
	f = all;
	f.mmapable = false;
	CHECK(rlb_policy_check(RLB_POLICY_LEAST_CONN, &f, "web") == -EOPNOTSUPP &&
		      strstr(rlb_last_error(), "least-conn needs mmapable") &&
		      strstr(rlb_last_error(), "group web"),
	      "least-conn without mmapable: %s", rlb_last_error());
	CHECK(rlb_policies_missing(&f, buf, sizeof(buf)) == 2 && !strcmp(buf, "least-conn, queue"),
	      "missing without mmapable: %s", buf);
	CHECK(rlb_policies_missing(&all, buf, sizeof(buf)) == 0 && !buf[0], "missing: %s", buf);
	CHECK(rlb_policy_info(RLB_POLICY_CPU)->needs & RLB_NEEDS_PINNED_THREADS,
	      "cpu pins the threads");
}

static void test_abi(void)
{
	CHECK(RLB_POLICY_KERNEL == 0 && RLB_POLICY_ROUND_ROBIN == 3 && RLB_POLICY_QUIC_CID == 9,
	      "policy numbers are part of the map ABI");
	CHECK(sizeof(struct rlb_config) == 112 && sizeof(struct rlb_worker) == 8 &&
		      sizeof(struct rlb_load) == 64 && sizeof(struct rlb_stats) == 24,
	      "struct sizes are part of the map ABI");
	CHECK((RLB_WEIGHT_TABLE & (RLB_WEIGHT_TABLE - 1)) == 0, "weighted table is a power of 2");
}

static void test_hash(void)
{
	struct rlb_flow a = {
		.saddr = { 0x0200007f }, .daddr = { 0x0100007f }, .sport = 0x3930, .dport = 0x901f
	};
	struct rlb_flow b = a, v6 = a;

	CHECK(rlb_hash_flow(&a, 0) == 0xc24f4ed3u, "hash vector: %#x", rlb_hash_flow(&a, 0));
	CHECK(rlb_hash_saddr(&a, 7) == 0x6b2a6111u, "saddr vector: %#x", rlb_hash_saddr(&a, 7));
	b.sport++;
	CHECK(rlb_hash_flow(&a, 1) != rlb_hash_flow(&b, 1), "ports change the flow hash");
	b.daddr[0]++;
	CHECK(rlb_hash_saddr(&a, 1) == rlb_hash_saddr(&b, 1), "source-ip ignores the rest");
	v6.saddr[3] = 1;
	CHECK(rlb_hash_flow(&a, 1) != rlb_hash_flow(&v6, 1), "v6 keys use all words");
	CHECK(rlb_scale(0xffffffffu, 4) == 3 && rlb_scale(0, 4) == 0, "scale bounds");
}

static void test_cid(void)
{
	__u8 cid[RLB_CID_LEN] = { RLB_CID_VERSION | 0x12, 0x34, 5, 0, 0xde, 0xad, 0xbe, 0xef };

	cid[3] = rlb_cid_check(cid, 42);
	CHECK(rlb_cid_slot(cid, 42) == 5, "minted CID names slot %u", rlb_cid_slot(cid, 42));
	CHECK(rlb_cid_slot(cid, 43) == RLB_NONE, "another group's seed must not match");
	cid[7] ^= 1;
	CHECK(rlb_cid_slot(cid, 42) == RLB_NONE, "a changed nonce fails the check");
	cid[7] ^= 1;
	cid[0] = 0x80;
	CHECK(rlb_cid_slot(cid, 42) == RLB_NONE, "a wrong version is not ours");
}

int main(void)
{
	test_names();
	test_table();
	test_abi();
	test_hash();
	test_cid();
	return rlbt_finish();
}
