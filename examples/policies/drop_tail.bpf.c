// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Test fixture, not an example: a policy that tail-calls a program array of its own. Whatever
 * program someone puts there would end the steering with its own return, SK_DROP included,
 * where no guard of reuselb's reaches: tests/bpf/custom_drop.c expects the load to be refused.
 */
#include <reuselb/policy.bpf.h>

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} next_policy SEC(".maps");

RLB_POLICY(drop_tail)
{
	bpf_tail_call(md, &next_policy, 0);
	return RLB_NONE;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
