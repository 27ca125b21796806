// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Test fixture, not an example: the reuselb maps, but an XDP program instead of an
 * sk_reuseport one, which the steering program could not tail-call.
 * tests/bpf/custom_errors.c expects loading it to fail with a clear error.
 */
#include <reuselb/policy.bpf.h>

SEC("xdp")
int bad_type(struct xdp_md *ctx)
{
	__u32 key = 0;

	/* uses a group map, so that the object has what a policy needs but the program type */
	return bpf_map_lookup_elem(&config, &key) ? XDP_PASS : XDP_DROP;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
