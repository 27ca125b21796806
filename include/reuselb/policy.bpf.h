/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The maps of a reuselb group and the helpers a steering policy needs, for the built-in
 * program (bpf/steer.bpf.c) and for users' own policies alike. A custom policy is one
 * function that returns a worker (0 .. rlb_nr_workers() - 1) or RLB_NONE:
 *
 *	#include <reuselb/policy.bpf.h>
 *
 *	RLB_POLICY(by_port)
 *	{
 *		struct rlb_flow f;
 *
 *		if (rlb_read_flow(md, &f))
 *			return RLB_NONE;
 *		return bpf_ntohs(f.sport) % rlb_nr_workers();
 *	}
 *
 * RLB_POLICY makes the sk_reuseport program around it: the choice goes through rlb_select(),
 * which keeps reuselb's guarantee (a worker that cannot take the connection passes it to the
 * next live one; with none live, the kernel's hash decides; nothing is dropped), counts the
 * decision in "stats", and remembers a UDP flow's socket for a rolling restart. The policy
 * runs only for new connections and new UDP flows: the built-in program answers the rest.
 *
 * Verifier cost: a loop over workers that returns from inside the loop makes the verifier
 * walk every path (hundreds of thousands of instructions); keep the index in a variable and
 * leave with break, as examples/policies/fill_first.bpf.c does.
 */
#ifndef REUSELB_POLICY_BPF_H
#define REUSELB_POLICY_BPF_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include <reuselb/abi.h>
#include <reuselb/hash.h>

/*
 * The group's maps, each under its name in RLB_MAPS (reuselb/abi.h): a user's policy that
 * defines no map of its own shares exactly these (and "custom" lives in bpf/steer.bpf.c).
 */

/* Key 0: struct rlb_config. Written by userspace and bpftool, read by the program. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct rlb_config);
} config SEC(".maps");

/* Key slot: the worker's socket (fd in, cookie out). Written by userspace. */
struct {
	__uint(type, BPF_MAP_TYPE_REUSEPORT_SOCKARRAY);
	__uint(max_entries, RLB_MAX_SLOTS);
	__type(key, __u32);
	__type(value, __u64);
} socks SEC(".maps");

/* Key slot: struct rlb_worker (state, weight). Written by userspace and bpftool. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, RLB_MAX_SLOTS);
	__type(key, __u32);
	__type(value, struct rlb_worker);
} workers SEC(".maps");

/* Key slot: struct rlb_load. Written by the worker threads through mmap, read by the program. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, RLB_MAX_SLOTS);
	__type(key, __u32);
	__type(value, struct rlb_load);
} load SEC(".maps");

/*
 * Key slot, or RLB_STATS_UNSTEERED: struct rlb_stats per CPU. Written by the program;
 * RLB_STATS_EVICTED by the owner.
 */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, RLB_STATS_ENTRIES);
	__type(key, __u32);
	__type(value, struct rlb_stats);
} stats SEC(".maps");

/*
 * Key half * RLB_WEIGHT_TABLE + i: a worker, in proportion to its weight. Written by userspace
 * into the inactive half, then made active by flipping config.table.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2 * RLB_WEIGHT_TABLE);
	__type(key, __u32);
	__type(value, __u32);
} weighted SEC(".maps");

/* Key half * RLB_MAGLEV_SIZE + i: the Maglev lookup table, written like "weighted". */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2 * RLB_MAGLEV_SIZE);
	__type(key, __u32);
	__type(value, __u32);
} maglev SEC(".maps");

/* Key CPU id: struct rlb_cpu, the worker pinned to that CPU. Written by userspace. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, RLB_MAX_CPUS);
	__type(key, __u32);
	__type(value, struct rlb_cpu);
} cpus SEC(".maps");

/*
 * Key struct rlb_flow: struct rlb_flow_slot. Written by the program for UDP flows; the owner
 * sizes it (serve --flow-table) and reads it to count flows evicted before their timeout.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, RLB_MAX_FLOWS);
	__type(key, struct rlb_flow);
	__type(value, struct rlb_flow_slot);
} flows SEC(".maps");

/*
 * Key struct rlb_flow: struct rlb_flow_slot, a UDP flow seen once so far. Written by the
 * program; sized by the owner like "flows". A flow's second datagram promotes it into "flows":
 * a flood of one-datagram sources (spoofed ones cost an attacker nothing) turns this table
 * over and leaves the flows that answered alone (conntrack's unassured and assured).
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, RLB_MAX_FLOWS);
	__type(key, struct rlb_flow);
	__type(value, struct rlb_flow_slot);
} flows_new SEC(".maps");

/* Key 0, per CPU: struct rlb_pick, the generation of the packet placed now (a rollout). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct rlb_pick);
} pick SEC(".maps");

/* Key slot: struct rlb_shed. Written by the CLI, read by the workers' process; not by BPF. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, RLB_MAX_SLOTS);
	__type(key, __u32);
	__type(value, struct rlb_shed);
} shed SEC(".maps");

/* Key slot: struct rlb_member, the process that serves the slot. Written by userspace only. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, RLB_MAX_SLOTS);
	__type(key, __u32);
	__type(value, struct rlb_member);
} members SEC(".maps");

static __always_inline const struct rlb_config *rlb_config(void)
{
	__u32 key = 0;

	return bpf_map_lookup_elem(&config, &key);
}

/*
 * The helpers below come in two forms: rlb_x_of(cfg, ...) for a caller that has read the
 * config once (the built-in program: a lookup per use adds up on a path run per datagram),
 * and rlb_x(...), which looks it up itself, for users' policies.
 */

/* During a rollout, the generation the program gave this packet; NULL when none is on. */
static __always_inline const struct rlb_pick *rlb_picked(const struct rlb_config *cfg)
{
	__u32 key = 0;

	return cfg && cfg->rollout ? bpf_map_lookup_elem(&pick, &key) : NULL;
}

/*
 * Workers in the generation this packet goes to (the serving one, or in a rollout the one
 * the split gave it); 0 when the config is unusable.
 */
static __always_inline __u32 rlb_nr_workers_of(const struct rlb_config *cfg)
{
	const struct rlb_pick *p = rlb_picked(cfg);
	__u32 nr, base;

	if (!cfg)
		return 0;
	nr = p ? p->nr : cfg->nr_workers;
	base = p ? p->base : cfg->base;
	if (nr > RLB_MAX_WORKERS || base > RLB_MAX_SLOTS - nr)
		return 0;
	return nr;
}

static __always_inline __u32 rlb_nr_workers(void)
{
	return rlb_nr_workers_of(rlb_config());
}

static __always_inline __u32 rlb_slot_of(const struct rlb_config *cfg, __u32 worker)
{
	const struct rlb_pick *p = rlb_picked(cfg);

	return (p ? p->base : cfg ? cfg->base : 0) + worker;
}

static __always_inline __u32 rlb_slot(__u32 worker)
{
	return rlb_slot_of(rlb_config(), worker);
}

static __always_inline int rlb_worker_live_of(const struct rlb_config *cfg, __u32 worker)
{
	__u32 slot = rlb_slot_of(cfg, worker);
	struct rlb_worker *w = bpf_map_lookup_elem(&workers, &slot);

	return w && w->state == RLB_WORKER_LIVE;
}

/*
 * The generation (0 or 1) whose workers this packet's policy picks from: during a rollout,
 * the one the split gave it (canary or not); else the serving one.
 */
static __always_inline __u32 rlb_generation(void)
{
	return rlb_slot(0) / RLB_MAX_WORKERS;
}

static __always_inline int rlb_worker_live(__u32 worker)
{
	return rlb_worker_live_of(rlb_config(), worker);
}

static __always_inline __u32 rlb_worker_weight(__u32 worker)
{
	__u32 slot = rlb_slot(worker);
	struct rlb_worker *w = bpf_map_lookup_elem(&workers, &slot);

	return w ? w->weight : 0;
}

/*
 * Open connections, requests in progress, and connections steered to the worker that it has
 * not accepted yet: a burst of SYNs sees each other before any of them is accepted.
 */
static __always_inline __u64 rlb_worker_load(__u32 worker)
{
	__u32 slot = rlb_slot(worker);
	struct rlb_load *l = bpf_map_lookup_elem(&load, &slot);

	return l ? l->active + l->busy + l->queued : ~0ULL;
}

/* A new TCP connection is on its way to the slot's accept queue. */
static __always_inline void rlb_count_queued(struct sk_reuseport_md *md, __u32 slot)
{
	struct rlb_load *l;

	if (md->ip_protocol != IPPROTO_TCP || md->migrating_sk)
		return;
	l = bpf_map_lookup_elem(&load, &slot);
	if (l)
		__sync_fetch_and_add(&l->queued, 1);
}

/*
 * The headers in front of the program's view of the packet, as far as the ports: read with one
 * load from the network header, which the ports follow when it has no options (IPv4) or
 * extension headers (IPv6).
 */
struct rlb_hdr4 {
	__u8 ver_ihl;
	__u8 pad[8];
	__u8 protocol;
	__u16 check;
	__u32 saddr;
	__u32 daddr;
	__u16 ports[2];
};

struct rlb_hdr6 {
	__u32 ver_flow;
	__u16 len;
	__u8 nexthdr;
	__u8 hop_limit;
	__u32 saddr[4];
	__u32 daddr[4];
	__u16 ports[2];
};

/*
 * Reads the 4-tuple from the packet, v4 or v6. Returns -1 when there is no packet to read:
 * a request migrating from a closed listener comes with an empty skb.
 */
static __always_inline int rlb_read_flow(struct sk_reuseport_md *md, struct rlb_flow *f)
{
	union {
		struct rlb_hdr4 v4;
		struct rlb_hdr6 v6;
	} h;
	int direct;

	if (md->eth_protocol == bpf_htons(ETH_P_IP)) {
		if (bpf_skb_load_bytes_relative(md, 0, &h.v4, sizeof(h.v4), BPF_HDR_START_NET))
			return -1;
		__builtin_memset(f, 0, sizeof(*f));
		f->saddr[0] = h.v4.saddr;
		f->daddr[0] = h.v4.daddr;
		direct = h.v4.ver_ihl == 0x45;
	} else if (md->eth_protocol == bpf_htons(ETH_P_IPV6)) {
		if (bpf_skb_load_bytes_relative(md, 0, &h.v6, sizeof(h.v6), BPF_HDR_START_NET))
			return -1;
		__builtin_memcpy(f, h.v6.saddr, 32);
		direct = h.v6.nexthdr == md->ip_protocol;
	} else {
		return -1;
	}
	/*
	 * Options or extension headers put the ports elsewhere; the program sees the packet from
	 * its transport header, and TCP and UDP start with the ports.
	 */
	if (!direct && bpf_skb_load_bytes(md, 0, h.v4.ports, sizeof(h.v4.ports)))
		return -1;
	/* the union's two views put the ports at different offsets */
	if (md->eth_protocol == bpf_htons(ETH_P_IPV6) && direct) {
		f->sport = h.v6.ports[0];
		f->dport = h.v6.ports[1];
	} else {
		f->sport = h.v4.ports[0];
		f->dport = h.v4.ports[1];
	}
	return 0;
}

/*
 * The stats map is per-CPU, and one CPU runs one program at a time: plain adds, no atomics.
 */
static __always_inline void rlb_count(__u32 slot, int migrating, int fallback)
{
	struct rlb_stats *st = bpf_map_lookup_elem(&stats, &slot);

	if (!st)
		return;
	if (fallback)
		st->fallback++;
	else if (migrating)
		st->migrated++;
	else
		st->steered++;
}

/*
 * Selects the socket of a slot of any generation, as long as it is open and not closed for
 * good: used for flows and connection IDs that belong to a draining generation.
 */
static __always_inline int rlb_select_slot(struct sk_reuseport_md *md, __u32 slot)
{
	struct rlb_worker *w = bpf_map_lookup_elem(&workers, &slot);

	if (!w || w->state == RLB_WORKER_EMPTY)
		return -1;
	if (bpf_sk_select_reuseport(md, &socks, &slot, 0))
		return -1;
	rlb_count(slot, md->migrating_sk != 0, 0);
	return 0;
}

/*
 * Selects the worker's socket, or the next live one after it, and returns the slot taken. A
 * worker may be draining, or its socket may have closed while its state still said live
 * (-ENOENT from the helper). With no live worker, or worker == RLB_NONE, nothing is selected
 * (RLB_NONE is returned) and the kernel's hash decides.
 *
 * queued: whether a new TCP connection is counted in load.queued (rlb_count_queued). The count
 * is an atomic add on a line the workers write on every request: a transfer between CPUs
 * that cost 127 ns of 453 per connection (issue 13's ablation), paid only for a policy that
 * reads it. A connection left out is one like those the kernel's hash places: the worker's
 * decrement stops at 0.
 */
static __always_inline __u32 rlb_select_worker_counting(struct sk_reuseport_md *md,
							const struct rlb_config *cfg, __u32 worker,
							int queued)
{
	__u32 nr = rlb_nr_workers_of(cfg), base = rlb_slot_of(cfg, 0);
	int migrating = md->migrating_sk != 0;

	if (worker < nr) {
		for (__u32 i = 0; i < RLB_MAX_WORKERS; i++) {
			__u32 slot;

			if (i >= nr)
				break;
			slot = base + (worker + i) % nr;
			if (rlb_worker_live_of(cfg, slot - base) &&
			    bpf_sk_select_reuseport(md, &socks, &slot, 0) == 0) {
				if (i)
					rlb_count(base + worker, 0, 1);
				rlb_count(slot, migrating, 0);
				if (queued)
					rlb_count_queued(md, slot);
				return slot;
			}
		}
		rlb_count(base + worker, 0, 1);
	}
	rlb_count(RLB_STATS_UNSTEERED, migrating, 0);
	return RLB_NONE;
}

/* For users' policies, which may read the queued count (rlb_worker_load): always counted. */
static __always_inline __u32 rlb_select_worker_of(struct sk_reuseport_md *md,
						  const struct rlb_config *cfg, __u32 worker)
{
	return rlb_select_worker_counting(md, cfg, worker, 1);
}

static __always_inline __u32 rlb_select_worker(struct sk_reuseport_md *md, __u32 worker)
{
	return rlb_select_worker_of(md, rlb_config(), worker);
}

/* Whether the group remembers this packet's flow (UDP groups do). */
static __always_inline int rlb_tracks_flows_of(struct sk_reuseport_md *md,
					       const struct rlb_config *cfg)
{
	return cfg && (cfg->flags & RLB_CFG_FLOWS) && md->ip_protocol == IPPROTO_UDP;
}

/* Whether the group remembers this packet's flow (UDP groups do); fills flow if so. */
static __always_inline int rlb_tracks_flow(struct sk_reuseport_md *md, struct rlb_flow *flow)
{
	return rlb_tracks_flows_of(md, rlb_config()) && rlb_read_flow(md, flow) == 0;
}

/*
 * Flow times are CLOCK_MONOTONIC at the tick's precision (bpf_ktime_get_coarse_ns): timeouts
 * are whole seconds, and reading the clock itself cost more on this path (kvm-clock).
 *
 * A flow's last datagram is written down only when the entry is older than this: a store per
 * datagram into the shared table costs more than the timeout (whole seconds) needs.
 */
#define RLB_FLOW_REFRESH_NS (1ULL << 28) /* about a quarter of a second */

/*
 * A flow's second datagram (its first is in "flows_new", younger than the timeout): it goes
 * where the first went, and the flow is assured from now on. Returns 0 once selected. The
 * entry in flows_new is left to age out: deleting it would cost a hash operation per flow.
 */
static __always_inline int rlb_assure_flow(struct sk_reuseport_md *md, const struct rlb_flow *flow,
					   __u64 now, __u64 timeout)
{
	struct rlb_flow_slot *fs = bpf_map_lookup_elem(&flows_new, flow);
	struct rlb_flow_slot assured;

	if (!fs || now - fs->seen_ns > timeout)
		return -1;
	assured.slot = fs->slot;
	if (rlb_select_slot(md, assured.slot))
		return -1;
	assured.seen_ns = now;
	assured.born = now >> RLB_FLOW_BORN_SHIFT;
	bpf_map_update_elem(&flows, flow, &assured, BPF_ANY);
	return 0;
}

/*
 * A datagram of a flow seen lately goes back to the socket that had it, whatever generation
 * that is, so that a restart leaves running flows where they are. Returns 0 once selected. An
 * assured flow costs one lookup; only a flow not in "flows" (a new one, or its second
 * datagram) also looks in "flows_new".
 */
static __always_inline int rlb_known_flow_of(struct sk_reuseport_md *md,
					     const struct rlb_config *cfg,
					     const struct rlb_flow *flow)
{
	struct rlb_flow_slot *fs = bpf_map_lookup_elem(&flows, flow);
	__u64 now = bpf_ktime_get_coarse_ns(), age;
	__u64 timeout = (__u64)cfg->flow_timeout * 1000000000ULL;

	if (fs) {
		age = now - fs->seen_ns;
		if (age <= timeout && rlb_select_slot(md, fs->slot) == 0) {
			if (age > RLB_FLOW_REFRESH_NS)
				fs->seen_ns = now;
			return 0;
		}
	}
	/*
	 * New, timed out, or its socket gone: the flow begins anew, and its second datagram
	 * must find the slot its first one got now, not the assured entry's.
	 */
	return rlb_assure_flow(md, flow, now, timeout);
}

static __always_inline int rlb_known_flow(struct sk_reuseport_md *md)
{
	const struct rlb_config *cfg = rlb_config();
	struct rlb_flow flow;

	if (!rlb_tracks_flows_of(md, cfg) || rlb_read_flow(md, &flow))
		return -1;
	return rlb_known_flow_of(md, cfg, &flow);
}

/*
 * A UDP flow's first datagram: the slot it got is where the rest of it goes, once its second
 * datagram has promoted it from flows_new into flows (rlb_known_flow_of).
 */
static __always_inline void rlb_remember_flow(const struct rlb_flow *flow, __u32 slot)
{
	struct rlb_flow_slot fs = { .slot = slot };

	fs.seen_ns = bpf_ktime_get_coarse_ns();
	fs.born = fs.seen_ns >> RLB_FLOW_BORN_SHIFT;
	bpf_map_update_elem(&flows_new, flow, &fs, BPF_ANY);
}

/*
 * The policy's choice made safe: see rlb_select_worker(). A UDP flow's first datagram also
 * records the socket it got. Always returns SK_PASS: steering never drops.
 */
static __always_inline int rlb_select(struct sk_reuseport_md *md, __u32 worker)
{
	const struct rlb_config *cfg = rlb_config();
	__u32 slot = rlb_select_worker_of(md, cfg, worker);
	struct rlb_flow flow;

	if (slot != RLB_NONE && rlb_tracks_flows_of(md, cfg) && rlb_read_flow(md, &flow) == 0)
		rlb_remember_flow(&flow, slot);
	return SK_PASS;
}

/* Defines a policy program: the body returns a worker or RLB_NONE (see the top of the file). */
#define RLB_POLICY(name)                                                            \
	static __always_inline __u32 rlb_policy_##name(struct sk_reuseport_md *md); \
	SEC("sk_reuseport")                                                         \
	int name(struct sk_reuseport_md *md)                                        \
	{                                                                           \
		return rlb_select(md, rlb_policy_##name(md));                       \
	}                                                                           \
	static __always_inline __u32 rlb_policy_##name(struct sk_reuseport_md *md)

#endif
