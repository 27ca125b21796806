// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The lookup tables of the weighted and maglev policies. Both are rebuilt from the live
 * workers whenever a weight or a state changes, written into the inactive half of their map,
 * and switched on together by flipping config.table: the program never sees half a table.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include "internal.h"

/*
 * Smooth weighted round-robin (as nginx does it): each worker's share of the table is exactly
 * proportional to its weight, and its entries are spread out rather than in one run.
 */
void rlb_build_weighted(const __u32 *weights, unsigned int nr, __u32 *table, unsigned int size)
{
	long long current[RLB_MAX_WORKERS] = { 0 }, total = 0;

	for (unsigned int i = 0; i < nr; i++)
		total += weights[i];
	for (unsigned int e = 0; e < size; e++) {
		int best = -1;

		for (unsigned int i = 0; i < nr && total; i++) {
			if (!weights[i])
				continue;
			current[i] += weights[i];
			if (best < 0 || current[i] > current[best])
				best = i;
		}
		if (best < 0) {
			table[e] = RLB_NONE;
			continue;
		}
		current[best] -= total;
		table[e] = best;
	}
}

/*
 * Maglev (Eisenbud et al., NSDI 2016): every live worker walks its own permutation of the
 * table and claims the next free entry in turn. A worker's permutation depends only on its
 * id, so removing one worker moves little more than its own share of the flows.
 */
void rlb_build_maglev(const bool *live, unsigned int nr, __u32 *table, unsigned int size)
{
	__u32 offset[RLB_MAX_WORKERS], skip[RLB_MAX_WORKERS], next[RLB_MAX_WORKERS] = { 0 };
	unsigned int filled = 0, nr_live = 0;

	for (unsigned int e = 0; e < size; e++)
		table[e] = RLB_NONE;
	for (unsigned int i = 0; i < nr; i++) {
		offset[i] = rlb_hash_final(rlb_hash_step(0x6d61676c, i), 1) % size;
		skip[i] = rlb_hash_final(rlb_hash_step(0x65762121, i), 1) % (size - 1) + 1;
		nr_live += live[i];
	}
	while (nr_live && filled < size) {
		for (unsigned int i = 0; i < nr && filled < size; i++) {
			__u32 c;

			if (!live[i])
				continue;
			do {
				c = (offset[i] + (__u64)next[i] * skip[i]) % size;
				next[i]++;
			} while (table[c] != RLB_NONE);
			table[c] = i;
			filled++;
		}
	}
}

static int write_half(int fd, __u32 first, const __u32 *values, unsigned int n)
{
	__u32 *keys = malloc(n * sizeof(*keys));
	__u32 count = n;
	int err = 0;

	if (!keys)
		return rlb_error(-ENOMEM, "out of memory");
	for (unsigned int i = 0; i < n; i++)
		keys[i] = first + i;
	if (bpf_map_update_batch(fd, keys, values, &count, NULL))
		err = rlb_bpf_error(-errno, "cannot write a lookup table");
	free(keys);
	return err;
}

int rlb_build_tables_for(struct rlb_ctl *c, struct rlb_config *cfg)
{
	__u32 weights[RLB_MAX_WORKERS], half, *table;
	bool live[RLB_MAX_WORKERS];
	struct rlb_worker w;
	int err;

	for (__u32 i = 0; i < cfg->nr_workers && i < RLB_MAX_WORKERS; i++) {
		__u32 slot = cfg->base + i;

		if (bpf_map_lookup_elem(c->fd[RLB_MAP_WORKERS], &slot, &w))
			return rlb_bpf_error(-errno, "cannot read the workers map");
		live[i] = w.state == RLB_WORKER_LIVE;
		weights[i] = live[i] ? w.weight : 0;
	}
	table = malloc(RLB_MAGLEV_SIZE * sizeof(*table));
	if (!table)
		return rlb_error(-ENOMEM, "out of memory");
	half = !(cfg->table & 1);
	rlb_build_weighted(weights, cfg->nr_workers, table, RLB_WEIGHT_TABLE);
	err = write_half(c->fd[RLB_MAP_WEIGHTED], half * RLB_WEIGHT_TABLE, table, RLB_WEIGHT_TABLE);
	if (!err) {
		rlb_build_maglev(live, cfg->nr_workers, table, RLB_MAGLEV_SIZE);
		err = write_half(c->fd[RLB_MAP_MAGLEV], half * RLB_MAGLEV_SIZE, table,
				 RLB_MAGLEV_SIZE);
	}
	free(table);
	if (!err)
		cfg->table = half;
	return err;
}

int rlb_ctl_rebuild_tables(struct rlb_ctl *c)
{
	struct rlb_config cfg;
	__u32 key = 0, half;
	int err;

	if (bpf_map_lookup_elem(c->fd[RLB_MAP_CONFIG], &key, &cfg))
		return rlb_bpf_error(-errno, "cannot read the config map");
	err = rlb_build_tables_for(c, &cfg);
	if (err)
		return err;
	half = cfg.table;
	/* re-read: only the table field is ours to change, the policy may have moved meanwhile */
	if (bpf_map_lookup_elem(c->fd[RLB_MAP_CONFIG], &key, &cfg))
		return rlb_bpf_error(-errno, "cannot read the config map");
	cfg.table = half;
	if (bpf_map_update_elem(c->fd[RLB_MAP_CONFIG], &key, &cfg, 0))
		return rlb_bpf_error(-errno, "cannot write the config map");
	return 0;
}
