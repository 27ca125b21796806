// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Test fixture, not an example: a policy that compiles but that the verifier rejects. It
 * reads the packet through md->data without checking the read against md->data_end.
 * tests/bpf/custom_errors.c loads it and expects an error with the verifier's log.
 */
#include <reuselb/policy.bpf.h>

RLB_POLICY(bad_verifier)
{
	__u8 *data = (__u8 *)(long)md->data;

	return data[40] % 4; /* no "if (data + 41 > data_end)" first */
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
