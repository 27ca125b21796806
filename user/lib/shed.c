// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Long-lived connections, moved gently. A keep-alive connection stays on its worker for its
 * whole life, whatever the policy does later; to move some, the worker closes them at a
 * request boundary, a few at a time, and their clients reconnect through the program. The
 * order is one entry of the "shed" map per slot (written under the control lock); the worker
 * reads it at most every SHED_LOOK_MS from its own thread and spreads it over the window:
 * after a fraction f of the window, at most f of the budget has been closed.
 */
#include <errno.h>
#include <string.h>
#include <time.h>
#include <bpf/bpf.h>
#include "internal.h"

#define SHED_LOOK_MS 100

static int write_order(struct rlb_ctl *c, __u32 slot, unsigned int count, unsigned int window_s)
{
	struct rlb_shed order;

	if (bpf_map_lookup_elem(c->fd[RLB_MAP_SHED], &slot, &order))
		return rlb_bpf_error(-errno, "cannot read the shed map");
	order.seq++;
	order.count = count;
	order.window_s = window_s;
	if (bpf_map_update_elem(c->fd[RLB_MAP_SHED], &slot, &order, 0))
		return rlb_bpf_error(-errno, "cannot write the shed map");
	return 0;
}

int rlb_ctl_shed(struct rlb_ctl *c, unsigned int worker, unsigned int count, unsigned int window_s)
{
	struct rlb_group_stats st;
	int err;

	err = rlb_ctl_lock(c);
	if (err)
		return err;
	err = rlb_ctl_read(c, &st);
	if (!err && worker >= st.nr_workers)
		err = rlb_error(-ERANGE, "group %s has no worker %u: it has 0 to %u", c->name,
				worker, st.nr_workers - 1);
	if (!err)
		err = write_order(c, st.base + worker, count, window_s);
	rlb_ctl_unlock(c);
	return err;
}

int rlb_ctl_rebalance(struct rlb_ctl *c, unsigned int threshold, unsigned int window_s,
		      unsigned int shed[RLB_MAX_WORKERS])
{
	struct rlb_group_stats st;
	uint64_t sum = 0, mean;
	unsigned int live = 0;
	int err;

	memset(shed, 0, RLB_MAX_WORKERS * sizeof(*shed));
	err = rlb_ctl_lock(c);
	if (err)
		return err;
	err = rlb_ctl_read(c, &st);
	for (unsigned int i = 0; !err && i < st.nr_workers; i++) {
		if (st.workers[i].state != RLB_WORKER_LIVE)
			continue;
		sum += st.workers[i].active;
		live++;
	}
	mean = live ? sum / live : 0;
	for (unsigned int i = 0; !err && live && i < st.nr_workers; i++) {
		uint64_t active = st.workers[i].active;

		if (st.workers[i].state != RLB_WORKER_LIVE ||
		    active * 100 <= mean * (100 + threshold))
			continue;
		shed[i] = active - mean;
		err = write_order(c, st.base + i, shed[i], window_s);
	}
	rlb_ctl_unlock(c);
	return err;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	/* the coarse clock is a read of shared memory: this runs once per keep-alive answer */
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return ts.tv_sec * 1000ull + ts.tv_nsec / 1000000;
}

/* A new order, if there is one: the budget is what it asks, at most what the worker has. */
static void look(struct rlb_group *g, unsigned int worker, struct rlb_shed_state *s, uint64_t now)
{
	__u32 slot = g->base + worker;
	struct rlb_shed order;
	uint64_t active;

	s->next_look_ms = now + SHED_LOOK_MS;
	if (bpf_map_lookup_elem(g->ctl.fd[RLB_MAP_SHED], &slot, &order) || order.seq == s->seq)
		return;
	active = g->load ? __atomic_load_n(&g->load[slot].active, __ATOMIC_RELAXED) : 0;
	s->seq = order.seq;
	s->budget = order.count < active ? order.count : active;
	s->done = 0;
	s->start_ms = now;
	s->window_ms = order.window_s * 1000ull;
}

void rlb_worker_shed_start(struct rlb_group *g, unsigned int worker, unsigned int count,
			   unsigned int window_ms)
{
	struct rlb_shed_state *s;

	if (!g || worker >= g->opts.nr_workers)
		return;
	s = &g->shed[worker];
	/* s->seq stays: a later order in the map still replaces this one */
	s->budget = count;
	s->done = 0;
	s->start_ms = now_ms();
	s->window_ms = window_ms;
}

bool rlb_worker_should_shed(struct rlb_group *g, unsigned int worker)
{
	struct rlb_shed_state *s;
	uint64_t now, allowed;

	if (!g || worker >= g->opts.nr_workers)
		return false;
	s = &g->shed[worker];
	now = now_ms();
	/* without a program there is no map: only the worker's own order (shed_start) */
	if (g->skel && now >= s->next_look_ms)
		look(g, worker, s, now);
	if (s->done >= s->budget)
		return false;
	/* the share of the window gone by, rounded up: the first goes at once */
	allowed = s->window_ms && now - s->start_ms < s->window_ms ?
			  (s->budget * (now - s->start_ms) + s->window_ms - 1) / s->window_ms :
			  s->budget;
	if (s->done >= allowed && s->done > 0)
		return false;
	s->done++;
	return true;
}
