// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The steering program of a reuselb group. It reads the policy from "config", lets the policy
 * choose a slot, and selects that slot's socket from "socks". It never drops: an empty or
 * draining slot passes the choice on to the next live slot, and when none is live it returns
 * SK_PASS without selecting, so that the kernel's own hash decides.
 *
 * One C function serves both attach types: userspace loads it as
 * BPF_SK_REUSEPORT_SELECT_OR_MIGRATE where the kernel has it, else BPF_SK_REUSEPORT_SELECT.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include <reuselb/abi.h>
#include <reuselb/hash.h>

/* Key 0: struct rlb_config. Written by userspace and bpftool, read here. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct rlb_config);
} config SEC(".maps");

/* Key slot: the worker's listening socket (fd in, cookie out). Written by userspace. */
struct {
	__uint(type, BPF_MAP_TYPE_REUSEPORT_SOCKARRAY);
	__uint(max_entries, RLB_MAX_SLOTS);
	__type(key, __u32);
	__type(value, __u64);
} socks SEC(".maps");

/* Key slot: struct rlb_worker (state, weight). Written by userspace and bpftool, read here. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, RLB_MAX_SLOTS);
	__type(key, __u32);
	__type(value, struct rlb_worker);
} workers SEC(".maps");

/* Key slot: struct rlb_load. Written by the worker threads through mmap, read here. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, RLB_MAX_SLOTS);
	__type(key, __u32);
	__type(value, struct rlb_load);
} load SEC(".maps");

/* Key slot or RLB_STATS_UNSTEERED: struct rlb_stats per CPU. Written here, summed by userspace. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, RLB_MAX_SLOTS + 1);
	__type(key, __u32);
	__type(value, struct rlb_stats);
} stats SEC(".maps");

/* Next turn of round-robin; shared by all CPUs, hence the atomic add. */
__u64 rr_cursor;

static __always_inline struct rlb_stats *stats_of(__u32 slot)
{
	return bpf_map_lookup_elem(&stats, &slot);
}

static __always_inline int worker_live(__u32 slot)
{
	struct rlb_worker *w = bpf_map_lookup_elem(&workers, &slot);

	return w && w->state == RLB_WORKER_LIVE;
}

/*
 * Reads the 4-tuple from the packet. Returns -1 when there is no packet to read: a request
 * migrating from a closed listener comes with an empty skb.
 */
static __always_inline int read_flow(struct sk_reuseport_md *md, struct rlb_flow *f)
{
	__u16 ports[2];

	__builtin_memset(f, 0, sizeof(*f));
	if (md->eth_protocol == bpf_htons(ETH_P_IP)) {
		/* saddr and daddr are adjacent in struct iphdr, at offset 12 */
		__u32 a[2];

		if (bpf_skb_load_bytes_relative(md, 12, a, sizeof(a), BPF_HDR_START_NET))
			return -1;
		f->saddr[0] = a[0];
		f->daddr[0] = a[1];
	} else if (md->eth_protocol == bpf_htons(ETH_P_IPV6)) {
		/* saddr then daddr, at offset 8 of struct ipv6hdr */
		if (bpf_skb_load_bytes_relative(md, 8, f, 32, BPF_HDR_START_NET))
			return -1;
	} else {
		return -1;
	}
	/* md->data starts at the transport header; TCP and UDP both begin with the two ports */
	if (bpf_skb_load_bytes(md, 0, ports, sizeof(ports)))
		return -1;
	f->sport = ports[0];
	f->dport = ports[1];
	return 0;
}

/* The policy's choice, as an offset 0 .. nr-1 into the serving generation. */
static __always_inline __u32 choose(struct sk_reuseport_md *md, const struct rlb_config *cfg,
				    __u32 nr)
{
	struct rlb_flow flow;

	switch (cfg->policy) {
	case RLB_POLICY_HASH:
		if (read_flow(md, &flow))
			return rlb_scale(md->hash, nr);
		return rlb_scale(rlb_hash_flow(&flow, cfg->seed), nr);
	case RLB_POLICY_SOURCE_IP:
		if (read_flow(md, &flow))
			return rlb_scale(md->hash, nr);
		return rlb_scale(rlb_hash_saddr(&flow, cfg->seed), nr);
	case RLB_POLICY_ROUND_ROBIN:
		return __sync_fetch_and_add(&rr_cursor, 1) % nr;
	case RLB_POLICY_RANDOM:
	default:
		return rlb_scale(bpf_get_prandom_u32(), nr);
	}
}

/*
 * Selects the chosen slot, or the next live one after it. Returns the slot taken, or -1 when
 * no slot could take the connection.
 */
static __always_inline int select_from(struct sk_reuseport_md *md, const struct rlb_config *cfg,
				       __u32 nr, __u32 pick)
{
	for (__u32 i = 0; i < RLB_MAX_WORKERS; i++) {
		__u32 slot;

		if (i >= nr)
			break;
		slot = cfg->base + (pick + i) % nr;
		if (!worker_live(slot))
			continue;
		/* -ENOENT: the socket closed while its slot still said live */
		if (bpf_sk_select_reuseport(md, &socks, &slot, 0) == 0)
			return slot;
	}
	return -1;
}

SEC("sk_reuseport")
int rlb_steer(struct sk_reuseport_md *md)
{
	__u32 key = 0, nr, pick, first;
	struct rlb_config *cfg;
	struct rlb_stats *st;
	int slot;

	cfg = bpf_map_lookup_elem(&config, &key);
	if (!cfg || cfg->policy == RLB_POLICY_KERNEL)
		return SK_PASS;
	nr = cfg->nr_workers;
	if (nr == 0 || nr > RLB_MAX_WORKERS || cfg->base > RLB_MAX_SLOTS - nr)
		return SK_PASS;

	pick = choose(md, cfg, nr);
	first = cfg->base + pick;
	slot = select_from(md, cfg, nr, pick);
	if (slot != (int)first) {
		st = stats_of(first);
		if (st)
			__sync_fetch_and_add(&st->fallback, 1);
	}
	st = stats_of(slot < 0 ? RLB_STATS_UNSTEERED : (__u32)slot);
	if (st) {
		if (md->migrating_sk)
			__sync_fetch_and_add(&st->migrated, 1);
		else
			__sync_fetch_and_add(&st->steered, 1);
	}
	return SK_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
