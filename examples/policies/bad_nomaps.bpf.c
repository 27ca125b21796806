// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Test fixture, not an example: an sk_reuseport program that does not use reuselb's maps (it
 * does not include <reuselb/policy.bpf.h>), so it cannot select a worker of the group.
 * tests/bpf/custom_errors.c expects loading it to fail with a clear error.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("sk_reuseport")
int bad_nomaps(struct sk_reuseport_md *md)
{
	return SK_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
