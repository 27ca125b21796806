/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The one header that the steering program and userspace both see: every type and constant
 * stored in a map. Fixed-width types and explicit padding. Policy and worker state are
 * enum-typed fields (4 bytes, asserted below) so that BTF lets bpftool print them by name.
 */
#ifndef REUSELB_ABI_H
#define REUSELB_ABI_H

#include <linux/types.h>

#define RLB_MAX_WORKERS 64
/* Slots in socks/workers/stats: two generations of RLB_MAX_WORKERS during a takeover. */
#define RLB_MAX_SLOTS (2 * RLB_MAX_WORKERS)
/* stats index that counts connections no worker took: the kernel's hash decided. */
#define RLB_STATS_UNSTEERED RLB_MAX_SLOTS
/*
 * stats index written by the group's owner, not the program: its "steered" counts UDP flows
 * that the flows table evicted before their timeout (it was too small for the load).
 */
#define RLB_STATS_EVICTED (RLB_MAX_SLOTS + 1)
#define RLB_STATS_ENTRIES (RLB_MAX_SLOTS + 2)
#define RLB_WEIGHT_MAX 1000
#define RLB_WEIGHT_DEFAULT 100
/* "No worker" in the lookup tables (weighted, maglev, cpus). */
#define RLB_NONE 0xffffffffu
/* Entries of one half of the weighted table: a power of two, so a turn is a mask. */
#define RLB_WEIGHT_TABLE 4096
/* Entries of one half of the Maglev table: a prime well above RLB_MAX_WORKERS. */
#define RLB_MAGLEV_SIZE 16381
#define RLB_MAX_CPUS 1024
/*
 * UDP flows remembered by the program (LRU: the oldest go first): the size of the flows map
 * as built; the owner sets its own (serve --flow-table) before loading, within the limits.
 */
#define RLB_MAX_FLOWS 65536
#define RLB_FLOW_TABLE_MIN 64
#define RLB_FLOW_TABLE_MAX 4194304 /* 2^22: some 400 MiB of kernel memory */
#define RLB_FLOW_TIMEOUT_DEFAULT 30

enum rlb_policy {
	RLB_POLICY_KERNEL = 0,	    /* program returns unselected: the kernel's hash decides */
	RLB_POLICY_HASH = 1,	    /* seeded hash of the 4-tuple read from the packet */
	RLB_POLICY_SOURCE_IP = 2,   /* seeded hash of the source address only */
	RLB_POLICY_ROUND_ROBIN = 3, /* exact rotation over the slots */
	RLB_POLICY_RANDOM = 4,
	RLB_POLICY_LEAST_CONN = 5, /* less loaded of two random live workers */
	RLB_POLICY_WEIGHTED = 6,   /* rotation through the weighted table */
	RLB_POLICY_MAGLEV = 7,	   /* Maglev consistent hash of source address and port */
	RLB_POLICY_CPU = 8,	   /* the worker pinned to the CPU the program runs on */
	RLB_POLICY_QUIC_CID = 9,   /* the worker named in a QUIC destination connection ID */
	RLB_POLICY_QUEUE = 10,	   /* the live worker with the shortest accept queue */
	RLB_POLICY__COUNT,
};

/*
 * The maps of a group, X(ID, name): each is pinned under its name (RLB_PIN_ROOT/<group>/name,
 * bpffs refuses a '.'), opened by the CLI, and shared by a taking-over instance and by users'
 * own policies. The definitions are in reuselb/policy.bpf.h ("custom" in bpf/steer.bpf.c),
 * under these names: a name listed here and not defined fails the BPF build, a map defined and
 * not listed is refused when the group loads its program.
 */
#define RLB_MAPS(X)           \
	X(CONFIG, config)     \
	X(SOCKS, socks)       \
	X(WORKERS, workers)   \
	X(LOAD, load)         \
	X(STATS, stats)       \
	X(WEIGHTED, weighted) \
	X(MAGLEV, maglev)     \
	X(CPUS, cpus)         \
	X(FLOWS, flows)       \
	X(CUSTOM, custom)     \
	X(PICK, pick)         \
	X(SHED, shed)         \
	X(MEMBERS, members)   \
	X(FLOWS_NEW, flows_new)

/* A map's index in the tables made from RLB_MAPS (RLB_MAP_CONFIG, ...). */
enum rlb_map {
#define RLB_MAP_ENUM(id, name) RLB_MAP_##id,
	RLB_MAPS(RLB_MAP_ENUM)
#undef RLB_MAP_ENUM
		RLB_MAP__COUNT,
};

enum rlb_worker_state {
	RLB_WORKER_EMPTY = 0,	 /* no worker in this slot */
	RLB_WORKER_LIVE = 1,	 /* takes new connections */
	RLB_WORKER_DRAINING = 2, /* serves what it has, gets nothing new */
};

/*
 * config.handover: where a rolling restart stands. Each step is taken under the group's
 * control lock by the side named, with the other side's pid checked for life; whichever side
 * survives undoes what a dead one left (user/lib/takeover.c).
 */
enum rlb_handover {
	RLB_HANDOVER_NONE = 0, /* no takeover: config.successor is 0 */
	RLB_HANDOVER_PROPOSED =
		1,		  /* a successor claimed the group; it binds, base is the owner's */
	RLB_HANDOVER_JOINED = 2,  /* its sockets and program are in, base is its generation */
	RLB_HANDOVER_SERVING = 3, /* its workers run; the owner keeps its listeners a while */
	RLB_HANDOVER_RELEASED = 4, /* the owner let go of its listeners; the successor waits for
				    * the pins */
	/* a rollout (user/lib/rollout.c): the successor joined as a canary, config.rollout is 1 */
	RLB_HANDOVER_CANARY = 5,
	/* the canary was rolled back: it closes its listeners, finishes and exits */
	RLB_HANDOVER_ROLLBACK = 6,
};

/* config.event: how the last rollout of the group ended (reuselb rollout shows it). */
enum rlb_rollout_event {
	RLB_ROLLOUT_NONE = 0,
	RLB_ROLLOUT_PROMOTED = 1,    /* reuselb rollout promote: the canary took the group */
	RLB_ROLLOUT_ROLLED_BACK = 2, /* reuselb rollout rollback: the canary left */
	RLB_ROLLOUT_CANARY_DIED = 3, /* the canary died; the owner took its share back */
};

_Static_assert(sizeof(enum rlb_policy) == 4, "BPF ABI: enum rlb_policy");
_Static_assert(sizeof(enum rlb_handover) == 4, "BPF ABI: enum rlb_handover");
_Static_assert(sizeof(enum rlb_worker_state) == 4, "BPF ABI: enum rlb_worker_state");
_Static_assert(sizeof(enum rlb_rollout_event) == 4, "BPF ABI: enum rlb_rollout_event");

/* config.flags: the program was loaded as BPF_SK_REUSEPORT_SELECT_OR_MIGRATE. */
#define RLB_CFG_MIGRATE 1u
/* config.flags: datagrams of a known flow go back to the socket that had the flow. */
#define RLB_CFG_FLOWS 2u
/*
 * config.flags: the sockets belong to processes reuselb did not start (reuselb attach): no
 * owner holds the pins' lock, and nobody reports accepted or active connections.
 */
#define RLB_CFG_ADOPTED 4u

/* Map "config", key 0. Written by userspace (library, CLI, bpftool), read by the program. */
struct rlb_config {
	enum rlb_policy policy;
	__u32 nr_workers;   /* slots base .. base + nr_workers - 1 are the serving generation */
	__u32 base;	    /* first slot of the serving generation */
	__u32 seed;	    /* hash seed, random per group */
	__u32 table;	    /* active half (0 or 1) of the weighted and maglev tables */
	__u32 flags;	    /* RLB_CFG_*, set by the owner at start */
	__u32 flow_timeout; /* seconds a UDP flow is remembered after its last datagram */
	__u32 successor;    /* pid taking the group over until it owns the pins, else 0 */
	/*
	 * Where the group's sockets are bound, written once by the first owner after binding and
	 * never by the program: how a successor or the CLI tells one group's endpoint from
	 * another's without reading the sockets.
	 */
	__u32 proto;  /* IPPROTO_TCP or IPPROTO_UDP */
	__u32 family; /* AF_INET or AF_INET6 */
	__u32 port;   /* host byte order */
	__u32 pad;
	__u8 addr[16]; /* IPv6 address, or the IPv4 address in the first 4 bytes */
	/*
	 * A takeover in progress, written under the control lock by the successor (claim, join,
	 * serving) and by the owner (release, or undoing a successor that died). The prev_
	 * fields are the owner's serving generation as it was at the claim, to go back to.
	 */
	enum rlb_handover handover;
	__u32 owner;	 /* pid the successor takes over from, 0 when none */
	__u32 prev_base; /* the owner's config.base, nr_workers and policy */
	__u32 prev_nr_workers;
	enum rlb_policy prev_policy;
	__u32 pad2;
	/*
	 * A rollout, written under the control lock by the canary (join), the CLI (reuselb
	 * rollout set, promote, rollback) and the owner (a canary that died). While rollout is
	 * 1, each new connection or UDP flow is given to a generation first, share in 100 to
	 * the canary's and the rest to base's, in an exact rotation (bpf/rollout.bpf.h); then
	 * the policy picks a worker within that generation. rollout is the one field the
	 * program tests when none is under way.
	 */
	__u32 rollout;
	__u32 share;	   /* 0 .. 100: percent of new connections and flows to the canary */
	__u32 canary_base; /* the canary's generation: slots canary_base .. + canary_nr - 1 */
	__u32 canary_nr;
	enum rlb_rollout_event event; /* how the last rollout ended */
	__u32 event_pid;	      /* the canary of that rollout */
};
_Static_assert(sizeof(struct rlb_config) == 112, "BPF ABI: struct rlb_config");

/*
 * Map "pick", per CPU, key 0: the generation the program gave the packet it is placing now,
 * during a rollout. Written by the program before the policy runs (a user's policy too, after
 * the tail call), read by the helpers of reuselb/policy.bpf.h; a program runs to its end on
 * one CPU, so the value is the current packet's.
 */
struct rlb_pick {
	__u32 generation; /* base / RLB_MAX_WORKERS: 0 or 1 */
	__u32 base;
	__u32 nr;
	__u32 pad;
};
_Static_assert(sizeof(struct rlb_pick) == 16, "BPF ABI: struct rlb_pick");

/* struct rlb_shed.count: every connection the worker has. */
#define RLB_SHED_ALL 0xffffffffu

/*
 * Map "shed", key = slot: an order to a worker to close some of its keep-alive connections
 * gently (the answer to their next request says Connection: close), spread over a window, so
 * that their clients reconnect and the policy places them anew. Written under the control
 * lock by the CLI (reuselb drain --shed, reuselb rebalance); read by the worker's process
 * (rlb_worker_should_shed), which acts once on each new seq. The program does not read it.
 */
struct rlb_shed {
	__u32 seq;	/* a new order when it changes */
	__u32 count;	/* connections to close, or RLB_SHED_ALL */
	__u32 window_s; /* spread over this many seconds */
	__u32 pad;
};
_Static_assert(sizeof(struct rlb_shed) == 16, "BPF ABI: struct rlb_shed");

/*
 * Map "workers", key = slot. Control state of each worker: written by userspace (library at
 * start, CLI drain/weight, bpftool), read by the program. Load lives apart in "load" so that
 * a whole-value update here never races with the workers' counters.
 */
struct rlb_worker {
	enum rlb_worker_state state;
	__u32 weight; /* 0 .. RLB_WEIGHT_MAX, for the weighted policy */
};
_Static_assert(sizeof(struct rlb_worker) == 8, "BPF ABI: struct rlb_worker");

/*
 * Map "load", key = slot, BPF_F_MMAPABLE. Written by the worker threads, with atomic adds on
 * the shared mapping (no system call on the hot path), and by the program (queued); read by
 * the program and the CLI. One cache line per worker, so workers on different CPUs do not
 * bounce each other's counters.
 */
struct rlb_load {
	__u64 active;	/* connections open now */
	__u64 busy;	/* requests in progress now */
	__u64 accepted; /* connections accepted since start */
	__u64 queued;	/* steered here, not accepted yet: least-conn, users' policies */
	/*
	 * The listener's accept queue for the queue policy: written by the group's owner from
	 * sock_diag every few ms (rlb_ctl_poll_queues), and raised by one by the program for
	 * each connection it steers here in between, so that a burst sees its own choices.
	 */
	__u32 depth;
	__u32 pad0;
	__u64 depth_ns; /* CLOCK_MONOTONIC of the owner's last write of depth */
	__u64 pad[2];
};
_Static_assert(sizeof(struct rlb_load) == 64, "BPF ABI: struct rlb_load");

/*
 * Map "stats", per-CPU, key = slot, plus RLB_STATS_UNSTEERED. Written by the program (and
 * RLB_STATS_EVICTED by the owner); userspace sums the CPUs.
 */
struct rlb_stats {
	__u64 steered;	/* connections (datagrams) the program gave to this slot */
	__u64 fallback; /* the policy chose this slot but it could not take the connection */
	__u64 migrated; /* requests migrated to this slot from a closed listener */
};
_Static_assert(sizeof(struct rlb_stats) == 24, "BPF ABI: struct rlb_stats");

/* Map "cpus", key = CPU id: the worker pinned to it (offset in the generation) or RLB_NONE. */
struct rlb_cpu {
	__u32 worker;
};
_Static_assert(sizeof(struct rlb_cpu) == 4, "BPF ABI: struct rlb_cpu");

/*
 * Map "flows" (LRU hash), key struct rlb_flow (reuselb/hash.h): the slot that took a UDP flow
 * and when it last sent. Written by the program; lets old flows finish on the old generation
 * of a restart while new flows go to the new one. Map "flows_new" holds the same for flows
 * seen once so far, until their second datagram promotes them (reuselb/policy.bpf.h).
 */
struct rlb_flow_slot {
	__u32 slot;
	/*
	 * bpf_ktime_get_coarse_ns() >> RLB_FLOW_BORN_SHIFT when the entry was made (about ms, wrapping
	 * after 52 days): an entry made anew, where the owner's last look saw an older one of
	 * the same flow, tells that the older one was evicted.
	 */
	__u32 born;
	__u64 seen_ns; /* bpf_ktime_get_coarse_ns() of the flow's last datagram (within 1/4 s) */
};
#define RLB_FLOW_BORN_SHIFT 20
_Static_assert(sizeof(struct rlb_flow_slot) == 16, "BPF ABI: struct rlb_flow_slot");

/* rlb_member.flags: the socket was copied out of another process (reuselb attach). */
#define RLB_MEMBER_ADOPTED 1u

/*
 * Map "members", key = slot: which process serves the slot's socket. Written by userspace
 * (the owner at start, reuselb attach at each sync), read by the CLI and bpftool; the
 * program does not read it. The socket's cookie is in "socks".
 */
struct rlb_member {
	__u32 pid; /* the process that serves the socket (for nginx: the worker, not the master) */
	__s32 fd;  /* its descriptor in that process, -1 when unknown */
	__u32 flags; /* RLB_MEMBER_* */
	__u32 pad;
	char comm[16]; /* the process's command name, as /proc/PID/comm has it */
};
_Static_assert(sizeof(struct rlb_member) == 32, "BPF ABI: struct rlb_member");

#endif
