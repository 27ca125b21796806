/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A rollout splits new connections and new UDP flows between two generations of a group: the
 * serving one (config.base) and a canary (config.canary_base), share in 100 to the canary.
 * The split is an exact rotation, like the weighted table: turn t of each hundred goes to the
 * canary when floor((t + 1) * share / 100) > floor(t * share / 100), so any 100 consecutive
 * turns give it exactly share, spread evenly (10 % is every tenth). The generation is written
 * to "pick" for this CPU, and the helpers of reuselb/policy.bpf.h (rlb_nr_workers, rlb_slot,
 * rlb_generation) then describe it, for the built-in policies and a user's alike.
 *
 * Known UDP flows and QUIC connection IDs never come here: they keep the slot they had.
 */
#ifndef RLB_ROLLOUT_BPF_H
#define RLB_ROLLOUT_BPF_H

#include <reuselb/policy.bpf.h>

/* Next turn of the split; shared by all CPUs, hence the atomic add. */
__u64 split_cursor;

static __always_inline void rlb_rollout_split(const struct rlb_config *cfg)
{
	__u32 key = 0, turn, share;
	struct rlb_pick *p;

	if (!cfg->rollout)
		return;
	p = bpf_map_lookup_elem(&pick, &key);
	if (!p)
		return;
	share = cfg->share < 100 ? cfg->share : 100;
	turn = __sync_fetch_and_add(&split_cursor, 1) % 100;
	if ((turn + 1) * share / 100 > turn * share / 100) {
		p->base = cfg->canary_base;
		p->nr = cfg->canary_nr;
	} else {
		p->base = cfg->base;
		p->nr = cfg->nr_workers;
	}
	p->generation = p->base / RLB_MAX_WORKERS;
}

/*
 * The cursor of the rotations (round-robin, weighted) for this packet: the serving one, or in
 * a rollout one per generation. One shared cursor would alias with the split: at 10 % every
 * tenth turn goes to the canary, and with two workers each generation would see only odd or
 * only even turns.
 */
__u64 rollout_cursors[2];

static __always_inline __u64 *rlb_cursor(const struct rlb_config *cfg, __u64 *serving)
{
	const struct rlb_pick *p = rlb_picked(cfg);

	return p ? &rollout_cursors[p->generation & 1] : serving;
}

#endif
