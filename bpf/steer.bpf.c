// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The steering program of a reuselb group. A user's own policy, when one is installed in
 * "custom", runs first and for good (tail call); else the built-in policy named in "config"
 * chooses a worker, and rlb_select() makes the choice safe: an empty or draining worker passes
 * it on to the next live one, and with none live the kernel's hash decides. Nothing is dropped.
 *
 * One C function serves both attach types: userspace loads it as
 * BPF_SK_REUSEPORT_SELECT_OR_MIGRATE where the kernel has it, else BPF_SK_REUSEPORT_SELECT.
 */
#include <reuselb/policy.bpf.h>
#include <reuselb/cid.h>
#include "quic.bpf.h"
#include "rollout.bpf.h"
#include "queue.bpf.h"

#define TCP_FLAG_SYN 0x02
#define TCP_FLAG_ACK 0x10

/* Key 0: a user's sk_reuseport program. Written by userspace (reuselb policy load, bpftool). */
struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} custom SEC(".maps");

/* Every map the list in reuselb/abi.h names is defined, under that name. */
#define RLB_MAP_DEFINED(id, name) _Static_assert(sizeof(name) > 0, "map " #name);
RLB_MAPS(RLB_MAP_DEFINED)
#undef RLB_MAP_DEFINED

/*
 * Next turn of round-robin and weighted; shared by all CPUs, hence the atomic add. Not a cursor
 * per CPU: the rotation would no longer be exact (each CPU would rotate on its own, and a
 * client moved between CPUs would see a worker twice), which the policy promises.
 */
__u64 rr_cursor;

/*
 * Whether the policy looks at the 4-tuple (its own or a fallback's hash): then rlb_steer()
 * reads it once, before choose(), and hands it down (NULL when the packet has none to read).
 * The rotations and random picks never read it.
 */
static __always_inline int reads_flow(__u32 policy)
{
	return policy != RLB_POLICY_KERNEL && policy != RLB_POLICY_ROUND_ROBIN &&
	       policy != RLB_POLICY_LEAST_CONN && policy != RLB_POLICY_QUEUE &&
	       policy != RLB_POLICY_WEIGHTED && policy != RLB_POLICY_RANDOM;
}

static __always_inline __u32 by_hash(struct sk_reuseport_md *md, const struct rlb_config *cfg,
				     const struct rlb_flow *flow, __u32 nr)
{
	if (!flow)
		return rlb_scale(md->hash, nr);
	return rlb_scale(rlb_hash_flow(flow, cfg->seed), nr);
}

/*
 * The next turn of the rotation that falls on a live worker. A draining or closed worker's
 * turn is skipped, not given to its neighbour, so the others keep equal shares.
 */
static __always_inline __u32 next_turn(const struct rlb_config *cfg, __u32 nr)
{
	__u32 w = 0;

	for (__u32 i = 0; i < RLB_MAX_WORKERS; i++) {
		if (i >= nr)
			break;
		w = __sync_fetch_and_add(rlb_cursor(cfg, &rr_cursor), 1) % nr;
		if (rlb_worker_live_of(cfg, w))
			break;
	}
	return w;
}

static __always_inline __u32 from_table(void *map, __u32 key)
{
	__u32 *w = bpf_map_lookup_elem(map, &key);

	return w ? *w : RLB_NONE;
}

static __always_inline __u32 maglev_pick(struct sk_reuseport_md *md, const struct rlb_config *cfg,
					 const struct rlb_flow *f, __u32 nr)
{
	struct rlb_flow flow;
	__u32 h;

	if (!f)
		return rlb_scale(md->hash, nr);
	flow = *f;
	/* source address and port only: the flow keeps its worker whatever it connects to */
	__builtin_memset(flow.daddr, 0, sizeof(flow.daddr));
	flow.dport = 0;
	h = rlb_hash_flow(&flow, cfg->seed);
	return from_table(&maglev, (cfg->table & 1) * RLB_MAGLEV_SIZE + h % RLB_MAGLEV_SIZE);
}

static __always_inline __u32 on_this_cpu(struct sk_reuseport_md *md, const struct rlb_config *cfg,
					 const struct rlb_flow *f, __u32 nr)
{
	__u32 cpu = bpf_get_smp_processor_id();
	struct rlb_cpu *c = bpf_map_lookup_elem(&cpus, &cpu);

	if (c && c->worker < nr && rlb_worker_live_of(cfg, c->worker))
		return c->worker;
	return by_hash(md, cfg, f, nr);
}

/*
 * The worker a CID names. A CID of a draining generation is taken to its own socket at once
 * (*done); an unknown or dead one is hashed.
 *
 * The one policy that may place the packet itself instead of returning a worker for
 * rlb_select(): a worker is an offset in the serving generation, and rlb_select() only ever
 * picks within it, while a CID minted by the old instance of a rolling restart names a slot of
 * the other generation. Sending that packet to the serving generation would break the QUIC
 * connection, so the slot is selected here (rlb_select_slot, which counts it) and choose()
 * tells its caller so through *done.
 */
static __always_inline __u32 by_cid(struct sk_reuseport_md *md, const struct rlb_config *cfg,
				    const struct rlb_flow *f, __u32 nr, int *done)
{
	__u8 cid[RLB_CID_LEN];
	__u32 slot, base;

	if (rlb_quic_dcid(md, cid))
		return by_hash(md, cfg, f, nr);
	slot = rlb_cid_slot(cid, cfg->seed);
	base = rlb_slot_of(cfg, 0);
	if (slot >= base && slot - base < nr && rlb_worker_live_of(cfg, slot - base))
		return slot - base;
	if (slot < RLB_MAX_SLOTS && rlb_select_slot(md, slot) == 0) {
		*done = 1;
		return RLB_NONE;
	}
	return by_hash(md, cfg, f, nr);
}

static __always_inline __u32 choose(struct sk_reuseport_md *md, const struct rlb_config *cfg,
				    const struct rlb_flow *f, __u32 nr, int *done)
{
	switch (cfg->policy) {
	case RLB_POLICY_KERNEL:
		return RLB_NONE;
	case RLB_POLICY_HASH:
		return by_hash(md, cfg, f, nr);
	case RLB_POLICY_SOURCE_IP:
		if (!f)
			return rlb_scale(md->hash, nr);
		return rlb_scale(rlb_hash_saddr(f, cfg->seed), nr);
	case RLB_POLICY_ROUND_ROBIN:
		return next_turn(cfg, nr);
	case RLB_POLICY_LEAST_CONN:
		return rlb_least(md, cfg, nr, RLB_SCAN_LOAD);
	case RLB_POLICY_QUEUE:
		return rlb_least(md, cfg, nr, RLB_SCAN_QUEUE);
	case RLB_POLICY_WEIGHTED:
		return from_table(&weighted,
				  (cfg->table & 1) * RLB_WEIGHT_TABLE +
					  (__sync_fetch_and_add(rlb_cursor(cfg, &rr_cursor), 1) &
					   (RLB_WEIGHT_TABLE - 1)));
	case RLB_POLICY_MAGLEV:
		return maglev_pick(md, cfg, f, nr);
	case RLB_POLICY_CPU:
		return on_this_cpu(md, cfg, f, nr);
	case RLB_POLICY_QUIC_CID:
		return by_cid(md, cfg, f, nr, done);
	case RLB_POLICY_RANDOM:
	default:
		return rlb_scale(bpf_get_prandom_u32(), nr);
	}
}

/*
 * A TCP segment that is not a SYN also looks up a listener when it finds no connection (a
 * FIN after TIME_WAIT overflowed, the ACK of a SYN cookie): no connection is being placed, so
 * it takes no turn and counts nothing, and the kernel's hash gives it to any listener (a
 * cookie is valid on every one of them).
 */
static __always_inline int not_a_new_connection(struct sk_reuseport_md *md)
{
	__u8 flags;

	if (md->ip_protocol != IPPROTO_TCP || md->migrating_sk)
		return 0;
	/* byte 13 of the TCP header holds the flags */
	if (bpf_skb_load_bytes(md, 13, &flags, 1))
		return 0;
	return (flags & (TCP_FLAG_SYN | TCP_FLAG_ACK)) != TCP_FLAG_SYN;
}

/*
 * The config is read once, and the packet's 4-tuple at most once: a datagram of a known flow
 * costs one load of its headers, one lookup in "flows" and the select.
 */
SEC("sk_reuseport")
int rlb_steer(struct sk_reuseport_md *md)
{
	const struct rlb_config *cfg = rlb_config();
	const struct rlb_flow *f = NULL;
	struct rlb_flow flow;
	int done = 0, flows;
	__u32 nr, slot;

	/* never NULL (key 0 of an array): the check is for the verifier */
	if (!cfg)
		return SK_PASS;
	flows = rlb_tracks_flows_of(md, cfg);
	if (flows) {
		if (rlb_read_flow(md, &flow) == 0) {
			f = &flow;
			/* a known UDP flow stays where it is, whoever chose its socket */
			if (rlb_known_flow_of(md, cfg, f) == 0)
				return SK_PASS;
		}
	} else if (not_a_new_connection(md)) {
		return SK_PASS;
	}
	/* in a rollout, the new connection or flow goes to a generation first */
	rlb_rollout_split(cfg);
	/*
	 * Tried even with no policy installed: the key and map are constant, so the JIT emits a
	 * direct jump that stays a nop while the slot is empty (a few instructions). Gating it
	 * on a config bit measured no gain (issue 13, 2026-12-01: CPU per connection 0.999 vs
	 * 1.009 x kernel, A/A 1.010, intervals +-5 %), made this program 1.2 KB larger, and
	 * would leave a policy installed with bpftool alone waiting for someone to set the bit.
	 */
	bpf_tail_call(md, &custom, 0);

	if (!flows && reads_flow(cfg->policy) && rlb_read_flow(md, &flow) == 0)
		f = &flow;
	nr = rlb_nr_workers_of(cfg);
	nr = nr ? choose(md, cfg, f, nr, &done) : RLB_NONE;
	if (done)
		return SK_PASS;
	/* of the built-in policies, only least-conn reads load.queued */
	slot = rlb_select_worker_counting(md, cfg, nr, cfg->policy == RLB_POLICY_LEAST_CONN);
	if (slot != RLB_NONE && flows && f)
		rlb_remember_flow(f, slot);
	return SK_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
