// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * DNS query-name affinity, a UDP policy that reads the payload: every query for a name goes to
 * the same worker whatever port it comes from, so each worker caches its own share of the
 * names instead of all workers caching all of them. Names are hashed without regard to case
 * (DNS names are case-insensitive). A datagram too short to hold a question is left to the
 * kernel's hash. The built-in policies never look past the ports.
 */
#include <linux/in.h> /* IPPROTO_UDP */
#include <reuselb/policy.bpf.h>

#define QNAME_OFF 20 /* the program sees the datagram from its UDP header (8) + DNS header (12) */
#define QNAME_MAX 64 /* bytes of the name that are hashed */

RLB_POLICY(dns_qname)
{
	__u8 name[QNAME_MAX] = {};
	__u32 h = 2166136261u; /* FNV-1a, over the name as it is on the wire */
	/* 64 bits: on a 32-bit len, Linux 6.1's verifier loses len >= 1 at the "- QNAME_OFF" */
	__u64 len = md->len;

	if (md->ip_protocol != IPPROTO_UDP || len <= QNAME_OFF)
		return RLB_NONE;
	len = len - QNAME_OFF < QNAME_MAX ? len - QNAME_OFF : QNAME_MAX;
	if (bpf_skb_load_bytes(md, QNAME_OFF, name, len))
		return RLB_NONE;
	/* the name ends at its root label, a zero byte; label lengths (< 64) are never letters */
	for (__u32 i = 0; i < QNAME_MAX && name[i]; i++)
		h = (h ^ (name[i] >= 'A' && name[i] <= 'Z' ? name[i] | 0x20 : name[i])) * 16777619u;
	return rlb_scale(h, rlb_nr_workers());
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
