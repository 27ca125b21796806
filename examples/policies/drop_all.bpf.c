// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Test fixture, not an example: a policy that uses the group's maps but returns SK_DROP for
 * every connection instead of going through rlb_select(), the verdict coming back from a
 * function of its own (so that it is not a constant at the program's exit). Loaded as built,
 * it refuses every connection; tests/bpf/custom_drop.c expects reuselb to make its returns
 * SK_PASS (the kernel's hash then places each connection) and to say so.
 */
#include <reuselb/policy.bpf.h>

static __attribute__((noinline)) int verdict(struct sk_reuseport_md *md)
{
	/* never true for a connection: md->len is a packet's length */
	return md->len > 0xfffffff0u ? SK_PASS : SK_DROP;
}

SEC("sk_reuseport")
int drop_all(struct sk_reuseport_md *md)
{
	__u32 slot = 0;

	/* a group map in use, so that the object is taken for a policy */
	if (!bpf_map_lookup_elem(&workers, &slot))
		return SK_DROP;
	return verdict(md);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
