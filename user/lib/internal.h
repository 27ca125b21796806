/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* libreuselb's private declarations: the group, the control handle, pins, errors. */
#ifndef REUSELB_INTERNAL_H
#define REUSELB_INTERNAL_H

#include <pthread.h>
#include <stddef.h>
#include <reuselb/reuselb.h>

#define RLB_BPFFS "/sys/fs/bpf"
#define RLB_PATH_MAX 256
#define RLB_PIN_PROG "steer"
/* A directory beside the pins whose flock is the group's control lock (bpffs allows no dot). */
#define RLB_PIN_CTL_LOCK "ctl_lock"
#define RLB_MAX_GROUPS 256

struct steer_bpf;
struct bpf_map;
struct bpf_program;
struct sockaddr;

/* The maps' names (and pins' names), indexed by enum rlb_map. */
extern const char *const rlb_map_names[RLB_MAP__COUNT];

/* The maps a controller needs, from the skeleton (owner) or from the pins (CLI). */
struct rlb_ctl {
	char name[RLB_NAME_MAX + 1];
	int fd[RLB_MAP__COUNT]; /* fd[RLB_MAP_CONFIG], ...: every map of RLB_MAPS */
	bool owned;		/* the fds are ours to close */
	int lock_fd;		/* the open RLB_PIN_CTL_LOCK directory, -1 until first locked */
	pthread_mutex_t mutex;	/* threads of one process share lock_fd's flock: this parts them */
};

/* Sets up the name and the lock of a controller whose fds are filled in later. */
void rlb_ctl_init(struct rlb_ctl *c, const char *name);
/* Closes what rlb_ctl_init and rlb_ctl_lock opened; the map fds are the caller's. */
void rlb_ctl_fini(struct rlb_ctl *c);
/*
 * The group's control lock. Every read-modify-write of config, workers or the tables holds
 * it, so that concurrent changes from any process (CLI, library, a takeover) apply one after
 * the other instead of building on the same old state. Not recursive.
 */
int rlb_ctl_lock(struct rlb_ctl *c);
/* Key 0 of the group's config map; -errno with the error set. */
int rlb_read_config(const struct rlb_ctl *c, struct rlb_config *cfg);
int rlb_write_config(struct rlb_ctl *c, const struct rlb_config *cfg);
void rlb_ctl_unlock(struct rlb_ctl *c);

/* A worker's progress through its latest shed order (user/lib/shed.c); its thread's own. */
struct rlb_shed_state {
	uint64_t next_look_ms; /* when to read the order again */
	uint32_t seq;	       /* the order acted on */
	uint32_t budget, done; /* connections to close, closed so far */
	uint64_t start_ms, window_ms;
};

/* A copy of a successor's listener, held by the owner (hold.c). */
struct rlb_held {
	int fd;
	int pid; /* the successor's */
};

#define RLB_HELD_MAX RLB_MAX_WORKERS

struct rlb_group {
	struct rlb_group_opts opts;
	char name[RLB_NAME_MAX + 1];
	struct steer_bpf *skel; /* NULL under the "kernel" policy */
	struct rlb_ctl ctl;
	struct rlb_features features;
	struct rlb_load *load; /* the mmapped "load" map, NULL under "kernel" */
	size_t load_len;
	int lock_fd;	   /* flock on the pin directory, -1 when not (yet) ours */
	unsigned int base; /* our generation: slots base .. base + nr_workers - 1 */
	int predecessor;   /* pid of the owner we take over from, 0 when none */
	bool handed_over;  /* a successor owns the group: leave program and pins */
	int pin_err;	   /* a successor: re-pinning the program failed (-errno) */
	bool claimed;	   /* config.successor names us and the pins are not ours yet */
	int reattached;	   /* the rolled-back canary after which our program was attached again */
	struct rlb_shed_state shed[RLB_MAX_WORKERS];
	pthread_t waiter; /* takes the lock once the predecessor lets go */
	bool waiter_running;
	int waiter_stop;
	uint16_t port;
	uint32_t prog_id;
	int fds[RLB_MAX_WORKERS];
	struct rlb_flows_watch *flows; /* UDP: counts flows evicted early (flows.c) */
	/*
	 * An adopted group (adopt.c): fds are copies of sockets other processes opened, and
	 * members says who serves each. Closing detaches only what we attached, and only when
	 * asked (adopt_detach): else program and pins stay with the sockets' group.
	 */
	bool adopted;
	bool adopt_attached;
	bool adopt_detach;
	struct rlb_member members[RLB_MAX_WORKERS];
	unsigned long inos[RLB_MAX_WORKERS]; /* adopted: each slot's socket inode, 0 if none */
	struct rlb_adopt_ctx *adopt_ctx;     /* adopted: what to look for again (adopt.c) */
	struct rlb_queue_watch *queues;	     /* writes the queue policy's depths (queue_poll.c) */
	int hold_fd;  /* TCP: where a successor sends copies of its listeners (hold.c), or -1 */
	int hold_err; /* a successor: giving them to the owner failed (-errno), else 0 */
	pthread_mutex_t hold_lock; /* a successor: one set of listeners at a time (close_worker) */
	struct rlb_held held[RLB_HELD_MAX];
	unsigned int nr_held;
};

/* Sets the thread's last error, one line (printf-style, no trailing newline). Returns err. */
int rlb_error(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* An error of a BPF call: names missing capabilities on EPERM. Returns err. */
int rlb_bpf_error(int err, const char *what);

/*
 * Room for a verifier log: Linux 6.1 fails a load whose log does not fit (ENOSPC) rather than
 * cut it, so it must hold the whole log of a large program. Only the pages written are used.
 */
#define RLB_LOG_SIZE (64u << 20)

/* Keeps (the end of) the verifier log of a failed load for rlb_verifier_log(). */
void rlb_keep_verifier_log(const char *log);
/*
 * A buffer of RLB_LOG_SIZE for the verifier's log of prog, set on it; NULL, with the error
 * set, when out of memory. After the load, rlb_log_done() keeps the log for
 * rlb_verifier_log() when keep (a refused load), clears it otherwise, and frees the buffer
 * (NULL is a no-op).
 */
char *rlb_log_buf(struct bpf_program *prog);
void rlb_log_done(char *log, bool keep);

/* What loading the program takes, for messages; CAP_SYS_ADMIN covers it all. */
#define RLB_CAPS_NEEDED "CAP_BPF, CAP_PERFMON and CAP_NET_ADMIN (or CAP_SYS_ADMIN)"

/* " (missing CAP_BPF, CAP_PERFMON)" or "" when the process has what BPF needs. */
const char *rlb_missing_caps(void);

/*
 * An error of opening a group with a steering policy: on EPERM or EACCES, names in one line
 * everything the process lacks (capabilities, and write access to bpffs when it pins) and the
 * policy that needs none. Returns err.
 */
int rlb_group_priv_error(int err, const char *what, bool pins);

int rlb_check_name(const char *name);
/* Whether pid is a running process (not gone, not a zombie). */
bool rlb_pid_alive(int pid);
/* The pid that serves the group (-1 if it cannot be told), or 0 when nobody does. */
int rlb_group_live(const char *name);
int rlb_pin_path(char *buf, size_t len, const char *name, const char *file);
int rlb_pins_lock(struct rlb_group *g);
int rlb_pins_pin(struct rlb_group *g, struct bpf_map *const *maps, int nr_maps,
		 struct bpf_program *prog);
void rlb_pins_remove(struct rlb_group *g);
/* Removes the pins of a group no process holds the lock of; -EBUSY naming the one that does. */
int rlb_pins_clear(const char *name);

/* Fills table[0..size) with worker ids in proportion to weights; RLB_NONE if all are 0. */
void rlb_build_weighted(const __u32 *weights, unsigned int nr, __u32 *table, unsigned int size);
/* Fills a Maglev table (size prime) over the live workers; RLB_NONE if none is live. */
void rlb_build_maglev(const bool *live, unsigned int nr, __u32 *table, unsigned int size);
/* Rebuilds both tables from the workers map and flips config.table to them. Hold the lock. */
int rlb_ctl_rebuild_tables(struct rlb_ctl *c);
/* Writes both tables for cfg's generation into the inactive half; sets cfg->table to it. */
int rlb_build_tables_for(struct rlb_ctl *c, struct rlb_config *cfg);

/* config.flags and config.flow_timeout as this process would set them. */
unsigned int rlb_config_flags(const struct rlb_group *g);
unsigned int rlb_flow_timeout(const struct rlb_group *g);

/* The flows map's size this process asks for (opts.flow_table or the default). */
unsigned int rlb_flow_table(const struct rlb_group *g);
/* Before load: sizes the flows map, or checks that a successor's size is the live one's. */
int rlb_flows_size(struct rlb_group *g);
/* UDP groups: the owner's count of flows evicted before their timeout (flows.c). */
int rlb_flows_watch_start(struct rlb_group *g);
void rlb_flows_watch_stop(struct rlb_group *g);
/* The flows map's size and the count of flows it evicted early, through c. */
int rlb_flows_read(const struct rlb_ctl *c, uint64_t *evicted, unsigned int *table);
/*
 * The steering program's skeleton: the build whose queue policy reads the accept queues
 * itself when kernel_depths, else the plain one (steer_variant.c). NULL and errno on failure.
 */
struct steer_bpf *rlb_steer_open(bool kernel_depths);
/* Whether the kernel lets the steering program read the accept queues (steer_variant.c). */
bool rlb_probe_queue_kfuncs(void);
/* The owner's thread that writes the queue policy's depths while the policy is queue. */
int rlb_queue_watch_start(struct rlb_group *g);
void rlb_queue_watch_stop(struct rlb_group *g);
/* Fills st's per-worker queues from sock_diag; a failure leaves them unknown (queues.c). */
void rlb_ctl_fill_queues(const struct rlb_ctl *c, struct rlb_group_stats *st);
/* The skeleton's maps, indexed by enum rlb_map. */
void rlb_skel_maps(const struct rlb_group *g, struct bpf_map *maps[RLB_MAP__COUNT]);

/* members.c: the slot's struct rlb_member, pid's comm filled in from /proc. */
int rlb_member_write(struct rlb_ctl *c, __u32 slot, const struct rlb_member *m);
void rlb_member_comm(int pid, char comm[16]);
/*
 * adopt.c, in group.c: loads the program for the sockets in g->fds (copies of another
 * process's), fills the maps and members, pins, and attaches the program to their group last.
 */
int rlb_group_steer_adopted(struct rlb_group *g, const struct sockaddr *sa, unsigned int len);

int rlb_takeover_share_maps(struct rlb_group *g);
/*
 * A successor's first step, before it binds anything: checks that the pins can be rewritten,
 * clears the claim of a successor that died, and claims the group (config.successor, state
 * PROPOSED); -EBUSY when a live successor has it. Sets g->base to the other generation.
 */
int rlb_takeover_claim(struct rlb_group *g);
/* Attaches our program and points config at our generation (JOINED), if our claim holds. */
int rlb_takeover_finish(struct rlb_group *g);
void rlb_takeover_stop(struct rlb_group *g);
/* Closing mid-takeover: leave the group to a joined successor, or undo our own claim. */
void rlb_takeover_leave(struct rlb_group *g);
/* Whether a successor lives that is to take the pins from us. */
bool rlb_takeover_successor_alive(struct rlb_group *g);

/* hold.c: the owner listens for its successors' listeners (TCP groups with pins). */
int rlb_hold_open(struct rlb_group *g);
/* A successor sends copies of its open listeners to g->predecessor: their whole current set. */
int rlb_hold_give(struct rlb_group *g);
/*
 * The owner takes what successors sent and keeps the copies of pid keep (its live successor,
 * 0 for none); every other copy closes, after a short pause when its sender is dead, so that
 * the handshakes steered to that listener before config pointed away from it complete first.
 */
void rlb_hold_sweep(struct rlb_group *g, int keep);
void rlb_hold_close(struct rlb_group *g);

#endif
