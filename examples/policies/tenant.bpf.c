// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Tenant isolation by destination address. One server bound to 0.0.0.0 serves several local
 * addresses, and each address gets a pool of workers of its own: a flood on one tenant's
 * address queues behind its own workers only. The built-in policies never look at the
 * address a client connected to. Addresses not in the table are left to the kernel's hash.
 */
#include <reuselb/policy.bpf.h>

/* A local IPv4 address (network order) and its pool: workers first .. first + count - 1. */
static const struct {
	__u32 addr, first, count;
} tenants[] = {
	{ bpf_htonl(0x7f000001), 0, 2 }, /* 127.0.0.1 */
	{ bpf_htonl(0x7f000002), 2, 2 }, /* 127.0.0.2 */
};

RLB_POLICY(tenant)
{
	const struct rlb_config *cfg = rlb_config();
	struct rlb_flow f;

	if (!cfg || rlb_read_flow(md, &f) || md->eth_protocol != bpf_htons(ETH_P_IP))
		return RLB_NONE;
	for (__u32 i = 0; i < sizeof(tenants) / sizeof(tenants[0]); i++)
		if (f.daddr[0] == tenants[i].addr) /* within the pool, a hash of the 4-tuple */
			return tenants[i].first +
			       rlb_scale(rlb_hash_flow(&f, cfg->seed), tenants[i].count);
	return RLB_NONE;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
