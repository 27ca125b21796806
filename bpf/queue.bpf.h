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
 * the lowest, so at light load (all queues empty, nothing reported open) the shares are those
 * of round-robin, also when a worker is skipped (a start that only moved on by one would give
 * a skipped worker's turns to its neighbour). A flow hash would break ties unevenly (a few
 * flows hash alike).
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

/* queue's second key is kept below the queue's own bits */
#define RLB_QUEUE_REPORTED_MAX 0xffffffffULL

enum rlb_scan_by {
	RLB_SCAN_QUEUE,
	RLB_SCAN_LOAD,
};

/*
 * queue: the accept queue first, then, among equal queues, what the worker reports (connections
 * open, requests in progress). A worker that accepts at once and then burns CPU on a request
 * keeps its accept queue empty while it is busy; its open connection tells it from an idle one.
 * Servers that do not report (adopted groups) leave that figure 0: ties then go in turn.
 * least-conn: what the workers report and the connections on their way to it: the program's
 * own count of those it steered and the worker has not accepted, or the kernel's accept queue
 * where it is longer (a server that does not report, or connections the kernel's hash placed).
 */
static __always_inline __u64 scan_weight(const struct rlb_load *l, __u32 slot, enum rlb_scan_by by)
{
	__u64 depth = l->depth, reported = l->active + l->busy;

#ifdef RLB_QUEUE_KFUNCS
	if (rlb_kernel_depth(slot, &depth))
		depth = 0;
#else
	if (by == RLB_SCAN_LOAD)
		depth = 0;
#endif
	if (by == RLB_SCAN_QUEUE)
		return depth << 32 |
		       (reported < RLB_QUEUE_REPORTED_MAX ? reported : RLB_QUEUE_REPORTED_MAX);
	return reported + (l->queued > depth ? l->queued : depth);
}

/* A scan in progress: bpf_loop() hands it to scan_one() for each worker. */
struct rlb_scan {
	__u32 base;  /* first slot of the generation the connection goes to */
	__u32 nr;    /* its workers */
	__u32 start; /* the worker the scan begins with */
	__u32 best;  /* the lowest so far, RLB_NONE before any live one */
	__u64 best_weight;
	enum rlb_scan_by by;
};

/*
 * One worker of the scan, the i-th after its start. A bpf_loop() callback rather than an
 * unrolled loop: the verifier checks it once, not once per path into the policy (64
 * iterations on each of them cost it some 400 000 instructions once rollouts came in).
 */
static long scan_one(__u32 i, void *data)
{
	struct rlb_scan *s = data;
	__u32 w = s->start + i, slot;
	struct rlb_worker *st;
	struct rlb_load *l;
	__u64 weight;

	if (w >= s->nr)
		w -= s->nr;
	slot = s->base + w;
	st = bpf_map_lookup_elem(&workers, &slot);
	l = bpf_map_lookup_elem(&load, &slot);
	if (!st || !l || st->state != RLB_WORKER_LIVE)
		return 0;
	weight = scan_weight(l, slot, s->by);
	if (weight < s->best_weight) {
		s->best_weight = weight;
		s->best = w;
	}
	return 0;
}

/*
 * The live worker with the lowest figure, the first of equals from a rotating start; the
 * start itself when none is live (rlb_select then passes it on, or lets the kernel decide).
 */
static __always_inline __u32 rlb_least(struct sk_reuseport_md *md, const struct rlb_config *cfg,
				       __u32 nr, enum rlb_scan_by by)
{
	struct rlb_scan s = {
		.base = rlb_slot_of(cfg, 0),
		.nr = nr,
		.start = scan_cursor % nr,
		.best = RLB_NONE,
		.best_weight = ~0ULL,
		.by = by,
	};
	struct rlb_load *l;
	__u32 slot;

	if (nr > RLB_MAX_WORKERS || bpf_loop(nr, scan_one, &s, 0) < 0 || s.best >= nr)
		return s.start;
	scan_cursor = s.best + 1;
	/* the polled depths only: the kernel's own are exact at the next choice */
	if (!RLB_KERNEL_DEPTHS && by == RLB_SCAN_QUEUE && md->ip_protocol == IPPROTO_TCP &&
	    !md->migrating_sk) {
		slot = s.base + s.best;
		l = bpf_map_lookup_elem(&load, &slot);
		if (l)
			__sync_fetch_and_add(&l->depth, 1);
	}
	return s.best;
}

#endif
