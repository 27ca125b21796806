/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * libreuselb: a SO_REUSEPORT group of listening sockets, one per worker, steered by an
 * sk_reuseport BPF program. Functions return 0 or a negative errno; on failure
 * rlb_last_error() holds one line saying what failed, why, and what to do.
 */
#ifndef REUSELB_H
#define REUSELB_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <reuselb/abi.h>
#include <reuselb/cid.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Pins of a serving group, RLB_PIN_ROOT/<name>/: the maps of RLB_MAPS (reuselb/abi.h) under
 * their names, config, socks, workers, load, stats, weighted, maglev, cpus, flows and custom;
 * the program, steer; and ctl_lock, a directory whose flock is the group's control lock.
 */
#define RLB_PIN_ROOT "/sys/fs/bpf/reuselb"
#define RLB_NAME_MAX 64

struct rlb_group;
struct rlb_ctl;

struct rlb_group_opts {
	const char *addr;	   /* numeric IPv4 or IPv6 address; NULL means "0.0.0.0" */
	uint16_t port;		   /* 0 picks an ephemeral port: read it with rlb_group_port() */
	bool udp;		   /* datagram sockets instead of TCP listeners */
	unsigned int nr_workers;   /* 1 .. RLB_MAX_WORKERS */
	enum rlb_policy policy;	   /* RLB_POLICY_KERNEL loads no BPF at all */
	int backlog;		   /* listen() backlog; 0 means SOMAXCONN */
	bool pin;		   /* pin maps and program for the CLI and bpftool; lock the name */
	const char *name;	   /* group name for the pins; NULL means tcp-PORT or udp-PORT */
	bool takeover;		   /* join the live group of that name and take it over */
	unsigned int flow_timeout; /* UDP: seconds a flow stays on its socket; 0 means 30 */
	/*
	 * UDP: flows the program remembers (RLB_FLOW_TABLE_MIN .. RLB_FLOW_TABLE_MAX); 0 means
	 * RLB_MAX_FLOWS, or for a takeover the live table's size (another is refused).
	 */
	unsigned int flow_table;
	/*
	 * UDP: remember no flows (serve --udp-flows off): the policy steers every datagram, as
	 * for DNS-like traffic whose every query stands alone. A restart then moves each source
	 * to the new instance with its next datagram.
	 */
	bool no_flows;
	/*
	 * With takeover: join as a canary (reuselb serve --canary) that gets canary_share
	 * percent (0 .. 100) of new connections and flows beside the owner, instead of all
	 * of them; reuselb rollout then sets the share, promotes it or rolls it back.
	 */
	bool canary;
	unsigned int canary_share;
};

/*
 * Opens the group: binds nr_workers sockets (non-blocking, close-on-exec), loads and attaches
 * the program, fills the maps.
 */
int rlb_group_open(const struct rlb_group_opts *opts, struct rlb_group **out);

/*
 * Rolling restart. A takeover is a small state machine recorded in config (enum
 * rlb_handover), each step taken under the group's control lock with the other side's pid
 * checked for life, and undone by whichever side survives:
 *   1. The successor, rlb_group_open with takeover, before it binds anything: refuses another
 *      endpoint (-EINVAL), a read-only bpffs, or a group another live successor has claimed
 *      (-EBUSY); clears a dead successor's claim; claims the group (PROPOSED).
 *   2. Still in rlb_group_open: binds into the live group, attaches its program and points
 *      config at its generation (JOINED). From then on new connections go to it.
 *   3. Once its workers run, it calls rlb_group_serving (SERVING), which sends SIGUSR2 to the
 *      owner, and takes the pins once the owner lets go of them.
 * The owner meanwhile calls rlb_group_check_takeover now and then (or on SIGUSR2): a
 * successor that died at any step is undone there (config back to the owner's generation,
 * the owner's program attached again), and the owner goes on serving; its listeners were never
 * out of the group. Once the successor has been SERVING as long as the owner wants, the owner
 * calls rlb_group_handover (RELEASED), closes its TCP listeners (their queues migrate to the
 * successor), finishes what it has and closes the group, which leaves program and pins to
 * the successor. UDP sockets stay open until the owner is done with the flows they still get.
 */
int rlb_group_serving(struct rlb_group *g);

/* What rlb_group_check_takeover saw: a successor and its state, or one that died. */
struct rlb_takeover_view {
	int successor;	    /* its pid, 0 when no takeover is under way */
	unsigned int state; /* enum rlb_handover */
	bool undone;	    /* it had died in that state, and its takeover is undone */
};
int rlb_group_check_takeover(struct rlb_group *g, struct rlb_takeover_view *v);
/* "proposed", "joined", "serving", "released" (enum rlb_handover), for messages. */
const char *rlb_handover_name(unsigned int state);

/*
 * The owner lets go (RELEASED) and its workers leave the steering: only to a successor that
 * lives and serves (-ESRCH if it died: rlb_group_check_takeover undoes it; -EAGAIN when it
 * does not serve yet).
 */
int rlb_group_handover(struct rlb_group *g);
bool rlb_group_handed_over(const struct rlb_group *g);
/* False while a taking-over group waits for its predecessor to let go of the pins. */
bool rlb_group_owns_pins(const struct rlb_group *g);
/*
 * A successor whose predecessor has handed the group over (rlb_group_handover): from then on
 * it is the group's server, even before the predecessor has finished and let go of the pins.
 * Also true for a group that owns its pins.
 */
bool rlb_group_released(struct rlb_group *g);
/* A successor that owns the pins but could not pin its program there: -errno, else 0. */
int rlb_group_pin_error(const struct rlb_group *g);
/*
 * A successor (TCP) that could not give its owner copies of its listeners: -errno (the reason
 * is rlb_last_error() right after rlb_group_open), else 0. The takeover goes on; but if this
 * instance dies before it serves alone, a handshake completing on one of its listeners at
 * that instant is reset by the kernel instead of migrating.
 */
int rlb_group_hold_error(const struct rlb_group *g);

/* Detaches the program, closes every socket still open and frees the group. NULL is a no-op. */
void rlb_group_close(struct rlb_group *g);

/* The listening (or datagram) socket of a worker, or -1 once it is closed. */
int rlb_group_fd(const struct rlb_group *g, unsigned int worker);

/* Closes one worker's socket; the program sends its share to the next live worker. */
int rlb_group_close_worker(struct rlb_group *g, unsigned int worker);

unsigned int rlb_group_nr_workers(const struct rlb_group *g);
uint16_t rlb_group_port(const struct rlb_group *g);
enum rlb_policy rlb_group_policy(const struct rlb_group *g);

/* Switches the policy of the live group with one map update. Not for a "kernel" group. */
int rlb_group_set_policy(struct rlb_group *g, enum rlb_policy policy);

/* The id of the loaded steering program (for bpftool prog show id N), or 0 under "kernel". */
uint32_t rlb_group_prog_id(const struct rlb_group *g);

/*
 * Load reporting from the worker threads: atomic adds on a shared mapping, no system call.
 * No-ops under "kernel", which has no maps.
 */
void rlb_worker_accepted(struct rlb_group *g, unsigned int worker);
void rlb_worker_closed(struct rlb_group *g, unsigned int worker);
void rlb_worker_busy(struct rlb_group *g, unsigned int worker, int delta);

/*
 * The connections the program steered to the worker that it has not accepted yet, and a
 * correction of that count by the listener's owner: n of them will never be accepted (the
 * kernel dropped them before). The count does not go below 0. Counted under least-conn and
 * users' policies (rlb_select), the ones that read it; 0 under the other built-in policies.
 */
uint64_t rlb_worker_queued(struct rlb_group *g, unsigned int worker);
void rlb_worker_unqueue(struct rlb_group *g, unsigned int worker, uint64_t n);

/* Tells the cpu policy that this worker runs on this CPU (the caller pins the thread). */
int rlb_group_set_cpu(struct rlb_group *g, unsigned int worker, unsigned int cpu);

/* The group's name (tcp-PORT, udp-PORT or opts.name). */
const char *rlb_group_name(const struct rlb_group *g);

/*
 * The rule for a group's name, which names its pins: 1 to RLB_NAME_MAX letters, digits, '.',
 * '_' or '-', not starting with '.'.
 */
bool rlb_name_valid(const char *name);
/* The name of a group opened without opts.name: "tcp-PORT" or "udp-PORT", into buf. */
void rlb_default_name(bool udp, uint16_t port, char *buf, size_t len);
/*
 * Whether a group on that port and protocol may take this name (rlb_group_open checks it
 * too): rlb_name_valid(), and tcp-N, udp-N only for the group of port N and that protocol,
 * whose default names they are. 0, or -EINVAL with rlb_last_error() saying why.
 */
int rlb_check_group_name(const char *name, bool udp, uint16_t port);
/* The pid that serves the group of that name: 0 if nobody does, -1 if it cannot be told. */
int rlb_group_owner(const char *name);

/*
 * Control of a group's steering, in process (rlb_group_ctl) or from outside through the pins
 * (rlb_ctl_open): the same calls serve the server, the CLI and any other user.
 */
/*
 * A listener's queues, from sock_diag (no BPF needed): for TCP the connections waiting to be
 * accepted, the listen backlog, and the connections dropped because the queue was full; for
 * UDP the bytes waiting, the receive buffer, and the datagrams dropped.
 */
struct rlb_queue {
	bool known; /* sock_diag showed the socket; false for a closed one or on failure */
	uint32_t queue;
	uint32_t limit;
	uint64_t drops;
};

struct rlb_worker_stats {
	enum rlb_worker_state state;
	uint32_t weight;
	uint64_t steered, fallback, migrated; /* from the program */
	uint64_t accepted, active, busy;      /* from the worker */
	int pid;			      /* the process serving it (members), 0 if unknown */
	char comm[16];			      /* its command name */
	struct rlb_queue queue;		      /* from the kernel (sock_diag) */
};

struct rlb_group_stats {
	enum rlb_policy policy;
	unsigned int nr_workers;
	unsigned int base;
	uint64_t unsteered; /* connections no worker could take: the kernel's hash decided */
	/*
	 * UDP groups (else 0): the size of the flows table, and the flows it evicted before
	 * their timeout, counted by the owner once a second (a lower bound): more than 0 says
	 * the table is too small for the rate of new flows.
	 */
	unsigned int flow_table;
	uint64_t flows_evicted;
	/* sockets of processes reuselb did not start: accepted, active, busy are unknown */
	bool adopted;
	struct rlb_worker_stats workers[RLB_MAX_WORKERS];
};

/*
 * reuselb attach: steering a group of sockets that other processes opened, with no change to
 * them. Every socket bound to addr:port with SO_REUSEPORT (held by any process, or by pids) is
 * copied out of the process that serves it (pidfd_getfd: CAP_SYS_PTRACE, or the same uid),
 * given a worker slot, and the group gets the program, maps and pins rlb_group_open gives a
 * group of its own; the program is attached last, so a failure leaves the server as it was.
 * The copies are closed again once the maps hold the sockets: a server's close stays a close.
 */
struct rlb_adopt_opts {
	const char *addr;	/* the sockets' numeric address; NULL: the one address found */
	uint16_t port;		/* 1 .. 65535 */
	bool udp;		/* bound datagram sockets instead of TCP listeners */
	const int *pids;	/* only sockets these processes hold; NULL: every process's */
	unsigned int nr_pids;	/* at most 64 */
	enum rlb_policy policy; /* not RLB_POLICY_KERNEL */
	const char *name;	/* NULL means tcp-PORT or udp-PORT */
	bool replace;		/* replace another tool's steering program (else -EEXIST) */
};

/* Who serves a worker of an adopted group: pid 0 when its socket has closed. */
struct rlb_member_info {
	int pid, fd;
	char comm[16];
	uint64_t cookie;
};

int rlb_group_adopt(const struct rlb_adopt_opts *opts, struct rlb_group **out);
int rlb_group_member(const struct rlb_group *g, unsigned int worker, struct rlb_member_info *out);
/*
 * Looks for the group's sockets again: sockets that closed leave their slot, new ones take a
 * free slot, and the program is attached to the sockets' group again if it has none of ours
 * (a server restarted with new sockets). 0 when nothing changed, 1 when the maps did (msg says
 * what, one line), or -errno.
 */
int rlb_group_adopt_sync(struct rlb_group *g, char *msg, size_t len);
/* Frees an adopted group: program and pins stay with its sockets unless detach. */
void rlb_group_release(struct rlb_group *g, bool detach);
/*
 * reuselb detach: gives the adopted group of that name back to the kernel's hash and removes
 * its pins; addr, when not NULL, must be the group's. Pins whose sockets have all gone are
 * only removed, and *stale says so.
 */
int rlb_detach(const char *name, const char *addr, bool *stale);

/* Opens a live group's pins. -ENOENT (message lists the live groups) when there is none. */
int rlb_ctl_open(const char *name, struct rlb_ctl **out);
void rlb_ctl_close(struct rlb_ctl *ctl);
/* The group's own controller (not to be closed), or NULL under "kernel". */
struct rlb_ctl *rlb_group_ctl(struct rlb_group *g);
const char *rlb_ctl_name(const struct rlb_ctl *ctl);

int rlb_ctl_read(const struct rlb_ctl *ctl, struct rlb_group_stats *out);
/*
 * The queues of the sockets whose cookies are given (0: none), of a protocol (IPPROTO_TCP or
 * IPPROTO_UDP) and family, from one sock_diag dump: for any socket, ours or not.
 */
int rlb_queues_read(int proto, int family, const uint64_t *cookies, unsigned int n,
		    struct rlb_queue *out);
/* The queues of the serving workers of a group through its maps; *nr is how many. */
int rlb_ctl_read_queues(const struct rlb_ctl *ctl, struct rlb_queue out[RLB_MAX_WORKERS],
			unsigned int *nr);
/* The same for the group's own sockets, under any policy ("kernel" included). */
int rlb_group_read_queues(const struct rlb_group *g, struct rlb_queue out[RLB_MAX_WORKERS]);

/*
 * The queue policy's depths, for a kernel whose program cannot read them itself: every
 * RLB_QUEUE_POLL_MS, one rlb_queue_poll writes each serving listener's accept queue (from
 * sock_diag) into the load map. rlb_group_open runs this in a thread of its own while the
 * policy is queue; a process that follows a group it did not open calls rlb_queue_poll from
 * its own loop. The poller keeps ctl, which must outlive it.
 */
#define RLB_QUEUE_POLL_MS 2
struct rlb_queue_poller;
int rlb_queue_poller_open(struct rlb_ctl *ctl, struct rlb_queue_poller **out);
int rlb_queue_poll(struct rlb_queue_poller *p);
void rlb_queue_poller_close(struct rlb_queue_poller *p);
int rlb_ctl_set_policy(struct rlb_ctl *ctl, enum rlb_policy policy);
/* 0 .. RLB_WEIGHT_MAX; -ERANGE for a bad worker or weight. */
int rlb_ctl_set_weight(struct rlb_ctl *ctl, unsigned int worker, unsigned int weight);
/* Draining the last live worker is refused with -EBUSY. */
int rlb_ctl_set_draining(struct rlb_ctl *ctl, unsigned int worker, bool draining);

/*
 * A policy of the user's own (an object built against reuselb/policy.bpf.h): loaded with the
 * group's maps and installed in front of the built-in policy, live. On a verifier rejection
 * the group is untouched and rlb_verifier_log() holds the log.
 */
int rlb_ctl_load_policy(struct rlb_ctl *ctl, const char *path);
/*
 * After a successful rlb_ctl_load_policy: "" when every return of the policy was already
 * SK_PASS, else one line saying that the returns that might not be (which would drop) were
 * made SK_PASS. Steering never drops, whatever a policy returns.
 */
const char *rlb_policy_notice(void);
/* Removes the user's policy: the built-in one steers again. */
int rlb_ctl_unload_policy(struct rlb_ctl *ctl);
/* "custom:NAME" while a user's policy is installed, else the built-in policy's name. */
int rlb_ctl_policy_name(const struct rlb_ctl *ctl, char *buf, size_t len);

/*
 * Mints a QUIC connection ID (layout in reuselb/cid.h) that steers to this worker under the
 * quic-cid policy; host (14 bits) is left for an L4 balancer in front.
 */
/*
 * Rollouts (user/lib/rollout.c): a canary generation beside the serving one, a share of new
 * connections and flows for it, and the way out either side. Every change takes the control
 * lock and checks the canary's pid for life.
 */
struct rlb_rollout_gen {
	unsigned int generation; /* 0 or 1: slots generation * RLB_MAX_WORKERS ... */
	int pid;
	unsigned int nr_workers;
	unsigned int share;	  /* percent of new connections and flows it gets */
	uint64_t steered, active; /* summed over its workers */
	uint64_t errors;	  /* choices of its workers that could not take the connection */
	const char *state;	  /* "serving", "canary" or "handing-over" */
};
struct rlb_rollout_view {
	unsigned int nr; /* generations in gens: 1 with no rollout or takeover, else 2 */
	struct rlb_rollout_gen gens[2];
	bool rollout;		      /* a canary shares the new connections now */
	enum rlb_rollout_event event; /* how the last rollout ended */
	int event_pid;		      /* its canary */
};
int rlb_ctl_rollout_read(const struct rlb_ctl *ctl, struct rlb_rollout_view *v);
/* The canary's share, 0 .. 100, live; -ENOENT when no canary is on, -ERANGE past 100. */
int rlb_ctl_rollout_set(struct rlb_ctl *ctl, unsigned int share);
/* The canary takes every new connection, and the owner hands the group over to it. */
int rlb_ctl_rollout_promote(struct rlb_ctl *ctl);
/* The owner takes every new connection back; the canary closes its listeners and exits. */
int rlb_ctl_rollout_rollback(struct rlb_ctl *ctl);
/* "promoted", "rolled back", "canary died" or "" (enum rlb_rollout_event). */
const char *rlb_rollout_event_name(unsigned int event);
/*
 * A canary's serving loop asks this now and then: true once it was rolled back. It then
 * calls rlb_group_roll_back, which takes its workers out of the steering (TCP listeners close
 * and their queues migrate to the owner), finishes what it has and closes the group.
 */
bool rlb_group_rolled_back(struct rlb_group *g);
int rlb_group_roll_back(struct rlb_group *g);

/*
 * Moving long-lived connections gently (user/lib/shed.c). An order tells a worker to close
 * count of its keep-alive connections (RLB_SHED_ALL: all it has), spread over window_s
 * seconds: a server asks rlb_worker_should_shed() where it decides whether a connection stays
 * open after an answer, and closes it when told (HTTP: Connection: close). Their clients
 * reconnect and the policy places them anew.
 */
int rlb_ctl_shed(struct rlb_ctl *ctl, unsigned int worker, unsigned int count,
		 unsigned int window_s);
/*
 * Orders each live worker whose active connections exceed the live workers' mean by more
 * than threshold percent to shed the excess. shed[i] gets what worker i was told (0: none).
 */
int rlb_ctl_rebalance(struct rlb_ctl *ctl, unsigned int threshold, unsigned int window_s,
		      unsigned int shed[RLB_MAX_WORKERS]);
/* Called by the worker's own thread only: whether this connection should close now. */
bool rlb_worker_should_shed(struct rlb_group *g, unsigned int worker);
/*
 * The worker's own order, without the map (its thread only): shed count connections over
 * window_ms from now, as rlb_worker_should_shed() spreads an order. A server that has handed
 * its group over gives the keep-alive connections it has a window to leave in.
 */
void rlb_worker_shed_start(struct rlb_group *g, unsigned int worker, unsigned int count,
			   unsigned int window_ms);

int rlb_ctl_cid_mint(const struct rlb_ctl *ctl, unsigned int worker, uint16_t host,
		     uint8_t cid[RLB_CID_LEN]);

/*
 * Names of the live groups on this host, sorted, at most max; returns how many there are.
 * pids[i] is the owner's pid (-1 when unknown); pids may be NULL.
 */
int rlb_list_groups(char (*names)[RLB_NAME_MAX + 1], int *pids, int max);
/*
 * Names of groups whose pins are stale (no owner, no socket left: an attached server that
 * stopped, a server that died), at most max; returns how many there are. The next attach,
 * serve or detach of that name removes them.
 */
int rlb_list_stale(char (*names)[RLB_NAME_MAX + 1], int max);

/* What the running kernel offers; REUSELB_PROBE_DISABLE=a,b pretends features are missing. */
struct rlb_features {
	bool sk_reuseport; /* BPF_PROG_TYPE_SK_REUSEPORT: without it only "kernel" runs */
	bool migrate;	   /* BPF_SK_REUSEPORT_SELECT_OR_MIGRATE (5.14): queues survive a close */
	bool mmapable;	   /* BPF_F_MMAPABLE arrays (5.5): load reporting without syscalls */
	bool btf;	   /* kernel BTF (/sys/kernel/btf/vmlinux) */
	bool sockhash_select; /* bpf_sk_select_reuseport on a sockhash (not used by reuselb yet) */
	/*
	 * bpf_rdonly_cast in sk_reuseport programs (6.18 has it, 6.1 not): the queue policy reads
	 * the accept queues in the program; without it, the owner polls them (sock_diag).
	 */
	bool queue_kfuncs;
};

int rlb_probe(struct rlb_features *out);
/* "kernel features: uses a b; missing c" into buf. */
const char *rlb_features_line(const struct rlb_features *f, char *buf, size_t len);

/* What a built-in policy needs besides the group itself (struct rlb_policy_info.needs). */
enum rlb_policy_needs {
	RLB_NEEDS_BPF = 1u << 0,	    /* a steering program: sk_reuseport (all but kernel) */
	RLB_NEEDS_MMAPABLE = 1u << 1,	    /* workers report their load through an mmapped map */
	RLB_NEEDS_PINNED_THREADS = 1u << 2, /* the server pins worker i's thread to a CPU */
	RLB_NEEDS_UDP = 1u << 3,	    /* means something for datagrams only */
};

/* One built-in policy: the name users type, one line of help, enum rlb_policy_needs. */
struct rlb_policy_info {
	const char *name;
	const char *help;
	unsigned int needs;
};

/* The row of a policy, or NULL for a value that is none. */
const struct rlb_policy_info *rlb_policy_info(enum rlb_policy policy);
/* Policy names as users type them ("round-robin") to and from the enum. */
int rlb_policy_parse(const char *name, enum rlb_policy *out);
const char *rlb_policy_name(enum rlb_policy policy);
/* All names, comma-separated, for usage and error messages. */
const char *rlb_policy_names(void);
/*
 * Whether a kernel (or a group made on it) with features f can run the policy: 0, or
 * -EOPNOTSUPP with a message naming what is missing (and group, when not NULL).
 */
int rlb_policy_check(enum rlb_policy policy, const struct rlb_features *f, const char *group);
/* The policies f cannot run, comma-separated into buf; returns how many. */
int rlb_policies_missing(const struct rlb_features *f, char *buf, size_t len);

/* One line about the last failure in this thread. */
const char *rlb_last_error(void);

/* The verifier's log when the last rlb_group_open failed to load the program, else "". */
const char *rlb_verifier_log(void);

/*
 * Where libbpf's own messages go while the library opens, probes and loads programs. The
 * library never installs a libbpf print function by itself: the application calls this once,
 * at start (libbpf has one print function per process, so this sets it for the whole
 * process), e.g. with a function that prints under -v and drops the rest. NULL drops all.
 * Without a call, libbpf's own default (warnings on stderr) stays.
 */
enum rlb_log_level {
	RLB_LOG_WARN,
	RLB_LOG_INFO,
	RLB_LOG_DEBUG,
};
typedef int (*rlb_log_fn)(enum rlb_log_level level, const char *fmt, va_list ap);
void rlb_set_log(rlb_log_fn fn);

#ifdef __cplusplus
}
#endif

#endif
