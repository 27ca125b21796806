// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The probe of user/lib/probe.c for the queue policy's own reading of the accept queues: it
 * loads where the kernel lets an sk_reuseport program cast a socket with bpf_rdonly_cast and
 * read its sk_ack_backlog, the one thing the steering program's kfunc build adds.
 */
#include <linux/bpf.h>
#include "queue_kfuncs.bpf.h"

SEC("sk_reuseport")
int rlb_probe_kq(struct sk_reuseport_md *md)
{
	struct sock___rlb *sk;

	if (!md->sk)
		return SK_PASS;
	sk = bpf_rdonly_cast(md->sk, bpf_core_type_id_kernel(struct sock___rlb));
	/* a use of the value, so that the read stays; never true for a real queue */
	return sk->sk_ack_backlog == 0xffffffffu ? SK_DROP : SK_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
