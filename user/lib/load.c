// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Load reporting by the worker threads: atomic adds on the mmapped "load" map, so that the
 * program (least-conn) and the CLI see live figures without a system call per connection.
 */
#include "internal.h"

static struct rlb_load *slot_load(struct rlb_group *g, unsigned int worker)
{
	if (!g->load || worker >= g->opts.nr_workers)
		return NULL;
	return &g->load[g->base + worker];
}

/*
 * The program counted the connection as queued when it steered it; one the kernel's hash
 * placed (or that migrated in) was never counted, hence no decrement below zero.
 */
static void leave_queue(struct rlb_load *l)
{
	__u64 q = __atomic_load_n(&l->queued, __ATOMIC_RELAXED);

	while (q && !__atomic_compare_exchange_n(&l->queued, &q, q - 1, true, __ATOMIC_RELAXED,
						 __ATOMIC_RELAXED))
		;
}

void rlb_worker_accepted(struct rlb_group *g, unsigned int worker)
{
	struct rlb_load *l = slot_load(g, worker);

	if (!l)
		return;
	__atomic_fetch_add(&l->accepted, 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&l->active, 1, __ATOMIC_RELAXED);
	leave_queue(l);
}

void rlb_worker_closed(struct rlb_group *g, unsigned int worker)
{
	struct rlb_load *l = slot_load(g, worker);

	if (l)
		__atomic_fetch_sub(&l->active, 1, __ATOMIC_RELAXED);
}

void rlb_worker_busy(struct rlb_group *g, unsigned int worker, int delta)
{
	struct rlb_load *l = slot_load(g, worker);

	if (l)
		__atomic_fetch_add(&l->busy, (__u64)(__s64)delta, __ATOMIC_RELAXED);
}
