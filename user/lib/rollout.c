// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Rollouts: a takeover that stops half-way. The successor (reuselb serve --takeover --canary)
 * joins the live group as the takeover does, but instead of pointing config.base at its
 * generation it sets config.rollout, canary_base/canary_nr and a share (state CANARY): the
 * program then gives each new connection or flow to one generation (bpf/rollout.bpf.h).
 * From there the user sets the share, or ends the rollout either way:
 *   promote   config points at the canary's generation (state SERVING), exactly where a
 *             takeover stands once its successor serves: the owner hands over as it does then.
 *   rollback  the owner's generation takes every new connection (state ROLLBACK); the canary
 *             sees it, closes its listeners (their queues migrate to the owner), finishes
 *             within its grace period and exits, undoing its claim as it closes.
 * A canary that dies is undone by the owner like a successor that died (takeover.c), which
 * records the event here. Every step holds the control lock and checks the canary for life.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "internal.h"
#include "rollout.h"

static const char *const event_names[] = {
	[RLB_ROLLOUT_NONE] = "",
	[RLB_ROLLOUT_PROMOTED] = "promoted",
	[RLB_ROLLOUT_ROLLED_BACK] = "rolled back",
	[RLB_ROLLOUT_CANARY_DIED] = "canary died",
};

const char *rlb_rollout_event_name(unsigned int event)
{
	return event < sizeof(event_names) / sizeof(event_names[0]) ? event_names[event] : "?";
}

void rlb_rollout_join(const struct rlb_group *g, struct rlb_config *cfg)
{
	cfg->canary_base = g->base;
	cfg->canary_nr = g->opts.nr_workers;
	cfg->share = g->opts.canary_share;
	cfg->rollout = 1;
	cfg->handover = RLB_HANDOVER_CANARY;
	cfg->event = RLB_ROLLOUT_NONE;
	cfg->event_pid = 0;
}

void rlb_rollout_end(struct rlb_config *cfg)
{
	if (cfg->handover != RLB_HANDOVER_CANARY)
		return;
	cfg->rollout = 0;
	cfg->event = rlb_pid_alive(cfg->successor) ? RLB_ROLLOUT_ROLLED_BACK :
						     RLB_ROLLOUT_CANARY_DIED;
	cfg->event_pid = cfg->successor;
}

int rlb_rollout_owner_leaves(struct rlb_ctl *c, struct rlb_config *cfg)
{
	int err;

	if (cfg->handover != RLB_HANDOVER_CANARY)
		return 0;
	cfg->base = cfg->canary_base;
	cfg->nr_workers = cfg->canary_nr;
	err = rlb_build_tables_for(c, cfg);
	if (err)
		return err;
	cfg->rollout = 0;
	cfg->event = RLB_ROLLOUT_PROMOTED;
	cfg->event_pid = cfg->successor;
	return 0;
}

/* Sums one generation's counters into gen. */
static int sum_generation(const struct rlb_ctl *c, struct rlb_rollout_gen *gen, unsigned int base,
			  unsigned int nr)
{
	int ncpu = libbpf_num_possible_cpus();
	struct rlb_stats *percpu;
	struct rlb_load l;
	int err = 0;

	if (ncpu < 0)
		return rlb_error(ncpu, "cannot count CPUs: %s", strerror(-ncpu));
	percpu = calloc(ncpu, sizeof(*percpu));
	if (!percpu)
		return rlb_error(-ENOMEM, "out of memory");
	gen->generation = base / RLB_MAX_WORKERS;
	gen->nr_workers = nr;
	for (__u32 slot = base; slot < base + nr && slot < RLB_MAX_SLOTS && !err; slot++) {
		if (bpf_map_lookup_elem(c->fd[RLB_MAP_STATS], &slot, percpu)) {
			err = rlb_bpf_error(-errno, "cannot read the stats map");
			break;
		}
		for (int i = 0; i < ncpu; i++) {
			gen->steered += percpu[i].steered;
			gen->errors += percpu[i].fallback;
		}
		if (bpf_map_lookup_elem(c->fd[RLB_MAP_LOAD], &slot, &l))
			err = rlb_bpf_error(-errno, "cannot read the load map");
		else
			gen->active += l.active;
	}
	free(percpu);
	return err;
}

int rlb_ctl_rollout_read(const struct rlb_ctl *c, struct rlb_rollout_view *v)
{
	struct rlb_config cfg;
	struct rlb_rollout_gen *serving = &v->gens[0], *other = &v->gens[1], tmp;
	unsigned int other_base = 0, other_nr = 0;
	int owner, err;

	memset(v, 0, sizeof(*v));
	err = rlb_read_config(c, &cfg);
	if (err)
		return err;
	owner = cfg.owner ? (int)cfg.owner : rlb_group_live(c->name);
	v->rollout = cfg.rollout;
	v->event = cfg.event;
	v->event_pid = cfg.event_pid;
	v->nr = 1;
	*serving = (struct rlb_rollout_gen){ .pid = owner, .share = 100, .state = "serving" };
	*other = (struct rlb_rollout_gen){ .pid = cfg.successor, .state = "handing-over" };
	if (cfg.successor && cfg.handover == RLB_HANDOVER_CANARY) {
		serving->share = 100 - (cfg.share < 100 ? cfg.share : 100);
		other->share = 100 - serving->share;
		other->state = "canary";
	}
	if (cfg.successor &&
	    (cfg.handover == RLB_HANDOVER_CANARY || cfg.handover == RLB_HANDOVER_ROLLBACK)) {
		other_base = cfg.canary_base;
		other_nr = cfg.canary_nr;
		v->nr = 2;
	} else if (cfg.successor && cfg.handover >= RLB_HANDOVER_JOINED &&
		   cfg.handover <= RLB_HANDOVER_RELEASED) {
		/* a takeover, or a promoted canary: the successor serves, the owner leaves */
		serving->pid = cfg.successor;
		other->pid = owner;
		other_base = cfg.prev_base;
		other_nr = cfg.prev_nr_workers;
		v->nr = 2;
	}
	err = sum_generation(c, serving, cfg.base, cfg.nr_workers);
	if (!err && v->nr == 2)
		err = sum_generation(c, other, other_base, other_nr);
	/* in the order of the slots: generation 0 first */
	if (!err && v->nr == 2 && serving->generation > other->generation) {
		tmp = *serving;
		*serving = *other;
		*other = tmp;
	}
	return err;
}

/* Under the lock: cfg holds a live canary's rollout, or the error says why not. */
static int check_canary(struct rlb_ctl *c, struct rlb_config *cfg)
{
	int err = rlb_read_config(c, cfg);

	if (err)
		return err;
	if (!cfg->successor || cfg->handover != RLB_HANDOVER_CANARY)
		return rlb_error(-ENOENT,
				 "group %s has no canary: start one with reuselb serve --takeover "
				 "--canary PCT (reuselb rollout shows the group's generations)",
				 c->name);
	if (!rlb_pid_alive(cfg->successor))
		return rlb_error(-ESRCH,
				 "the canary of group %s, pid %u, is gone: the owner takes its "
				 "share back; nothing was changed",
				 c->name, cfg->successor);
	return 0;
}

int rlb_ctl_rollout_set(struct rlb_ctl *c, unsigned int share)
{
	struct rlb_config cfg;
	int err;

	if (share > 100)
		return rlb_error(-ERANGE, "bad share %u: give 0 to 100 (percent)", share);
	err = rlb_ctl_lock(c);
	if (err)
		return err;
	err = check_canary(c, &cfg);
	if (!err) {
		/* one aligned field: the program sees the old share or the new one */
		cfg.share = share;
		err = rlb_write_config(c, &cfg);
	}
	rlb_ctl_unlock(c);
	return err;
}

int rlb_ctl_rollout_promote(struct rlb_ctl *c)
{
	struct rlb_config cfg;
	int err;

	err = rlb_ctl_lock(c);
	if (err)
		return err;
	err = check_canary(c, &cfg);
	if (!err) {
		cfg.base = cfg.canary_base;
		cfg.nr_workers = cfg.canary_nr;
		/* the tables must describe the canary's generation before config points at it */
		err = rlb_build_tables_for(c, &cfg);
	}
	if (!err) {
		cfg.rollout = 0;
		cfg.handover = RLB_HANDOVER_SERVING;
		cfg.event = RLB_ROLLOUT_PROMOTED;
		cfg.event_pid = cfg.successor;
		err = rlb_write_config(c, &cfg);
	}
	rlb_ctl_unlock(c);
	/* the owner counts --confirm from the first time it sees SERVING: wake it now */
	if (!err && cfg.owner)
		kill(cfg.owner, SIGUSR2);
	return err;
}

int rlb_ctl_rollout_rollback(struct rlb_ctl *c)
{
	struct rlb_config cfg;
	int err;

	err = rlb_ctl_lock(c);
	if (err)
		return err;
	err = check_canary(c, &cfg);
	if (!err) {
		cfg.rollout = 0;
		cfg.handover = RLB_HANDOVER_ROLLBACK;
		cfg.event = RLB_ROLLOUT_ROLLED_BACK;
		cfg.event_pid = cfg.successor;
		err = rlb_write_config(c, &cfg);
	}
	rlb_ctl_unlock(c);
	if (!err)
		kill(cfg.successor, SIGUSR2);
	return err;
}

bool rlb_group_rolled_back(struct rlb_group *g)
{
	struct rlb_config cfg;

	return g->skel && g->claimed && !rlb_read_config(&g->ctl, &cfg) &&
	       (pid_t)cfg.successor == getpid() && cfg.handover == RLB_HANDOVER_ROLLBACK;
}

int rlb_group_roll_back(struct rlb_group *g)
{
	/* UDP sockets stay for the flows they have; listeners close and their queues migrate */
	struct rlb_worker w = { .state = g->opts.udp ? RLB_WORKER_DRAINING : RLB_WORKER_EMPTY };
	int err;

	err = rlb_ctl_lock(&g->ctl);
	if (err)
		return err;
	for (__u32 i = 0; i < g->opts.nr_workers && !err; i++) {
		__u32 slot = g->base + i;

		if (bpf_map_update_elem(g->ctl.fd[RLB_MAP_WORKERS], &slot, &w, 0))
			err = rlb_bpf_error(-errno, "cannot write the workers map");
	}
	rlb_ctl_unlock(&g->ctl);
	return err;
}
