// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The program's count of connections steered to a worker and not accepted yet (load.queued),
 * squared with the truth by the worker that owns the listener: a connection the kernel drops
 * before anyone accepts it (reset while its request socket waits under TCP_DEFER_ACCEPT, or a
 * handshake never completed) leaves the count raised for good, and least-conn would then
 * steer around that worker for ever.
 */
#include "internal.h"

static struct rlb_load *queued_load(struct rlb_group *g, unsigned int worker)
{
	if (!g->load || worker >= g->opts.nr_workers)
		return NULL;
	return &g->load[g->base + worker];
}

uint64_t rlb_worker_queued(struct rlb_group *g, unsigned int worker)
{
	struct rlb_load *l = queued_load(g, worker);

	return l ? __atomic_load_n(&l->queued, __ATOMIC_RELAXED) : 0;
}

/* Compare-and-swap: the program's adds in between are kept, and the count stays >= 0. */
void rlb_worker_unqueue(struct rlb_group *g, unsigned int worker, uint64_t n)
{
	struct rlb_load *l = queued_load(g, worker);
	__u64 q;

	if (!l || !n)
		return;
	q = __atomic_load_n(&l->queued, __ATOMIC_RELAXED);
	while (q && !__atomic_compare_exchange_n(&l->queued, &q, q > n ? q - n : 0, true,
						 __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		;
}
