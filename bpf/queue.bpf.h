/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The policies that pick the least busy live worker by a full scan: queue (the shortest
 * accept queue) and least-conn (the least load the workers report).
 *
 * The depth of each listener's accept queue is written into load[slot].depth by the group's
 * owner from sock_diag every few milliseconds (user/lib/queues.c), and raised by one here for
 * each connection steered to the slot in between, so that connections arriving between two
 * readings see each other. A worker that stops accepting keeps its depth above the others'
 * and gets nothing more until it drains its queue.
 *
 * Ties go round: the scan starts just after the worker chosen last and keeps the first of
 * the lowest, so at light load (all queues empty) the shares are those of round-robin, also
 * when a worker is skipped (a start that only moved on by one would give a skipped worker's
 * turns to its neighbour). A flow hash would break ties unevenly (a few flows hash alike).
 */
#ifndef RLB_QUEUE_BPF_H
#define RLB_QUEUE_BPF_H

#include <reuselb/policy.bpf.h>

#ifdef RLB_QUEUE_KFUNCS
#define RLB_KERNEL_DEPTHS 1
#include "queue_kfuncs.bpf.h"

/*
 * The accept queue of the slot's listener, read at the moment of the choice. The sockarray
 * maps slot to socket directly, so no cookie needs matching; the verifier will not index its
 * flexible array, hence bpf_probe_read_kernel for the pointer. -1 for an empty slot.
 */
static __always_inline int rlb_kernel_depth(__u32 slot, __u64 *depth)
{
	struct reuseport_array___rlb *arr =
		bpf_rdonly_cast(&socks, bpf_core_type_id_kernel(struct reuseport_array___rlb));
	struct sock___rlb *sk = NULL;

	if (slot >= RLB_MAX_SLOTS || bpf_probe_read_kernel(&sk, sizeof(sk), &arr->ptrs[slot]) ||
	    !sk)
		return -1;
	sk = bpf_rdonly_cast(sk, bpf_core_type_id_kernel(struct sock___rlb));
	*depth = sk->sk_ack_backlog;
	return 0;
}
#else
#define RLB_KERNEL_DEPTHS 0
#endif

/*
 * Where the next scan starts: after the worker chosen last. Two CPUs that read it at once
 * may choose the same worker; the next scans go on from there.
 */
__u32 scan_cursor;

enum rlb_scan_by {
	RLB_SCAN_QUEUE,
	RLB_SCAN_LOAD,
};

/*
 * queue: the accept queue. least-conn: what the workers report (connections open, requests in
 * progress) and the connections on their way to it: the program's own count of those it
 * steered and the worker has not accepted, or the kernel's accept queue where it is longer
 * (a server that does not report, or connections the kernel's hash placed).
 */
static __always_inline __u64 scan_weight(const struct rlb_load *l, __u32 slot, enum rlb_scan_by by)
{
	__u64 depth = l->depth;

#ifdef RLB_QUEUE_KFUNCS
	if (rlb_kernel_depth(slot, &depth))
		depth = 0;
#else
	if (by == RLB_SCAN_LOAD)
		depth = 0;
#endif
	if (by == RLB_SCAN_QUEUE)
		return depth;
	return l->active + l->busy + (l->queued > depth ? l->queued : depth);
}

/*
 * The live worker with the lowest figure, the first of equals from a rotating start; the
 * start itself when none is live (rlb_select then passes it on, or lets the kernel decide).
 */
static __always_inline __u32 rlb_least(struct sk_reuseport_md *md, __u32 nr, enum rlb_scan_by by)
{
	__u32 start = scan_cursor % nr, best = RLB_NONE;
	const struct rlb_config *cfg = rlb_config();
	__u64 best_weight = ~0ULL;
	struct rlb_load *l;
	__u32 slot;

	if (!cfg)
		return start;
	for (__u32 i = 0; i < RLB_MAX_WORKERS; i++) {
		__u32 w = start + i;
		struct rlb_worker *st;
		__u64 weight;

		if (i >= nr)
			break;
		if (w >= nr)
			w -= nr;
		slot = cfg->base + w;
		st = bpf_map_lookup_elem(&workers, &slot);
		l = bpf_map_lookup_elem(&load, &slot);
		if (!st || !l || st->state != RLB_WORKER_LIVE)
			continue;
		weight = scan_weight(l, slot, by);
		if (weight < best_weight) {
			best_weight = weight;
			best = w;
		}
	}
	if (best == RLB_NONE)
		return start;
	scan_cursor = best + 1;
	/* the polled depths only: the kernel's own are exact at the next choice */
	if (!RLB_KERNEL_DEPTHS && by == RLB_SCAN_QUEUE && md->ip_protocol == IPPROTO_TCP &&
	    !md->migrating_sk) {
		slot = cfg->base + best;
		l = bpf_map_lookup_elem(&load, &slot);
		if (l)
			__sync_fetch_and_add(&l->depth, 1);
	}
	return best;
}

#endif
