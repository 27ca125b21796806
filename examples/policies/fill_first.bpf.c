// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Fill first: a new connection goes to the first live worker with room, where a worker's
 * weight is its capacity in open connections (`reuselb weight`). Work is packed onto as few
 * workers as it needs, so their caches stay warm and the others idle (or can be drained and
 * stopped); only when every worker is full does the least loaded take the excess. The
 * built-in least-conn does the opposite: it spreads connections over every worker.
 */
#include <reuselb/policy.bpf.h>

RLB_POLICY(fill_first)
{
	__u32 nr = rlb_nr_workers(), best = RLB_NONE;
	__u64 conns, least = ~0ULL;

	/*
	 * The loop keeps a slot, not i, and ends in break, not return: a worker number that the
	 * verifier knows exactly would make it check the selection once per worker.
	 */
	for (__u32 i = 0; i < RLB_MAX_WORKERS && i < nr; i++) {
		__u32 slot = rlb_slot(i);
		struct rlb_worker *w = bpf_map_lookup_elem(&workers, &slot);
		struct rlb_load *l = bpf_map_lookup_elem(&load, &slot);

		if (!w || !l || w->state != RLB_WORKER_LIVE)
			continue;
		conns = l->active + l->busy;
		if (conns < least || conns < w->weight)
			best = slot, least = conns;
		if (conns < w->weight)
			break;
	}
	return best == RLB_NONE ? RLB_NONE : best - rlb_slot(0);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
