/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Helpers for the tests: checks that count failures (and the cases of a table), a root gate
 * that knows CI, TCP clients from a chosen source, the worker that accepted a connection of an
 * in-process group, the real binary and the load client started and stopped, users' policies,
 * and questions asked of the kernel rather than of our own state (which programs are loaded,
 * what a map holds). The shell tests have theirs in common.bash, next to this file.
 */
#ifndef RLBTEST_H
#define RLBTEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <linux/bpf.h>
#include <reuselb/reuselb.h>

/* How long a helper waits for the kernel or for the server before it gives up. */
#define RLBT_TIMEOUT_MS 5000

extern int rlbt_failures;

void rlbt_fail(const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * CHECK(cond, fmt, ...): cond is what must hold. When it does not, prints file:line, the
 * condition and the message, and counts a failure; the test goes on, so one run shows every
 * broken expectation. Evaluates to cond, so a test can still stop where going on is pointless:
 *	if (!CHECK(fd >= 0, "connect: %s", strerror(-fd)))
 *		goto cleanup;
 */
#define CHECK(cond, fmt, ...)                                                                      \
	({                                                                                         \
		bool ___ok = !!(cond);                                                             \
		if (!___ok)                                                                        \
			rlbt_fail(__FILE__, __LINE__, "CHECK(%s) failed: " fmt, #cond,             \
				  ##__VA_ARGS__);                                                  \
		___ok;                                                                             \
	})

/*
 * Prints PASS or FAIL and the number of failed checks, and the number of cases when a table
 * counted them; main returns what this returns.
 */
int rlbt_finish(void);

#ifndef ARRAY_SIZE
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#endif

/* Rows of case tables run so far, each counted once whatever checks it makes. */
extern int rlbt_cases;

/*
 * The loop of a table-driven test: i runs over the rows of table, and each is counted as a
 * case, also when the body goes on to the next with continue.
 */
#define rlbt_for_each_case(i, table) for (size_t i = 0; i < ARRAY_SIZE(table); i++, rlbt_cases++)

/*
 * Exits unless the test runs as root: 77 (skipped) normally, 1 under CI=true, where a skip
 * would hide a test that never ran.
 */
void rlbt_require_root(void);

/*
 * A blocking TCP connection from src_addr:src_port (NULL and 0: the kernel chooses) to
 * dst_addr:port. A fixed source port gets SO_REUSEADDR and SO_LINGER {1, 0}, so that closing
 * it sends a reset and the same 4-tuple can connect again at once instead of waiting out
 * TIME_WAIT. Send and receive time out after RLBT_TIMEOUT_MS. Returns the fd or -errno.
 */
int rlbt_connect(int family, const char *src_addr, uint16_t src_port, const char *dst_addr,
		 uint16_t port);

/* A free port on addr (bound once with port 0, then released), for fixed-source clients. */
int rlbt_free_port(int family, const char *addr);

/*
 * Waits for exactly one connection on the workers of an in-process group, accepts it and
 * closes it. Returns the worker that had it, or -1 on timeout or when more than one was
 * pending (those are accepted and closed too, so that the next round starts clean).
 */
int rlbt_accepting_worker(struct rlb_group *g, int timeout_ms);

/*
 * One connection to an in-process group, from src_addr:src_port (NULL, 0: the kernel's
 * choice) to dst_addr and the group's port: connects, finds the worker that received it
 * (rlbt_accepting_worker), and checks that the client then reads a clean end of file, not a
 * reset. Returns the worker, or -1 after printing what went wrong.
 */
int rlbt_steer(struct rlb_group *g, int family, const char *src_addr, uint16_t src_port,
	       const char *dst_addr);

/*
 * As rlbt_steer, but the worker writes a byte that the client reads, then the client ends the
 * connection with a reset (SO_LINGER 0) and the worker closes only once the reset is in, so
 * that no packet of it is left in flight: when the TIME_WAIT table is full
 * (tcp_max_tw_buckets), a late FIN reaches the listeners, runs the steering program again and
 * is counted, which would spoil exact counts of the stats map. Returns the worker, or -1 after
 * printing what went wrong.
 */
int rlbt_steer_reset(struct rlb_group *g, int family, const char *src_addr, uint16_t src_port,
		     const char *dst_addr);

/* rlbt_steer and rlbt_steer_reset: one connection, and the worker that took it. */
typedef int rlbt_steer_fn(struct rlb_group *g, int family, const char *src_addr, uint16_t src_port,
			  const char *dst_addr);

/*
 * nr connections made with steer from src_addr (NULL: the kernel's choice) to 127.0.0.1.
 * Returns how many did not reach the next worker of a round-robin rotation that starts where
 * the first one landed (the first such is printed), or -1 as soon as one reached no single
 * worker. counts, if not NULL, has one entry a worker: each connection adds one where it went.
 */
int rlbt_rotation(struct rlb_group *g, rlbt_steer_fn *steer, const char *src_addr, int nr,
		  int *counts);

/* rlb_group_open with the options every steering test uses; prints the library's error. */
int rlbt_group_open(const char *addr, enum rlb_policy policy, unsigned int nr_workers,
		    struct rlb_group **out);

/*
 * The group's config map as the kernel holds it (found from the attached program's map ids),
 * so that a test can use the random seed to predict where a hashed flow lands.
 */
int rlbt_group_config(const struct rlb_group *g, struct rlb_config *cfg);

/* Programs of this type loaded in the kernel now, or -errno. */
int rlbt_count_progs(enum bpf_prog_type type);

/*
 * The same, with their ids: fills at most max of them into ids (which may be NULL) and
 * returns how many there are, or -errno. Comparing sets of ids keeps a test true while
 * unrelated programs (another test's, still being freed) go away.
 */
int rlbt_list_progs(enum bpf_prog_type type, uint32_t *ids, int max);

/* The type of the loaded program with this id, -ENOENT if there is none, or -errno. */
int rlbt_prog_type(uint32_t id);

/*
 * A program is freed an RCU grace period after its last user is gone. These wait for that,
 * grace period by grace period (membarrier), up to a bound, and return what they saw last.
 */
int rlbt_wait_count_progs(enum bpf_prog_type type, int want);
int rlbt_wait_prog_gone(uint32_t id);

/* The real binary ($REUSELB) running a "serve" command. */
struct rlbt_server {
	pid_t pid;
	int out_fd;	      /* read end of its stdout */
	uint16_t port;	      /* from the ready line */
	uint32_t prog_id;     /* from the ready line, 0 for "none" */
	unsigned int nr_workers;
	char addr[64];
	char policy[32];
	char *output; /* all of its stdout read so far, NUL-terminated */
	size_t output_len;
};

/*
 * Starts $REUSELB with argv (without argv[0], NULL-terminated) and reads its stdout up to
 * the ready line "reuselb: serving tcp ADDR port PORT, N workers, policy NAME, program id ID".
 * Returns 0, or -errno with the server stopped.
 */
int rlbt_serve_start(const char *const argv[], struct rlbt_server *s);

/*
 * SIGTERM, then waits RLBT_TIMEOUT_MS for the exit while collecting the rest of stdout.
 * Returns the exit status, 128 + signal if a signal ended it, or -ETIMEDOUT when it had to be
 * killed.
 */
int rlbt_serve_stop(struct rlbt_server *s);

/* From the collected output, the line "worker <id>: accepted <n>, ...": n, or -ENOENT. */
long rlbt_serve_accepted(const struct rlbt_server *s, unsigned int worker);

void rlbt_serve_free(struct rlbt_server *s);

/*
 * Connects to a "--mode id" server and reads its one line "worker <id>\n". Returns the id,
 * -EPROTO for any other answer, or -errno.
 */
int rlbt_ask_id(int family, const char *src_addr, uint16_t src_port, const char *dst_addr,
		uint16_t port);

/*
 * A map of an in-process group, found by name ("maglev", "cpus", ...) among the maps of its
 * attached program, as the kernel holds it. Returns a new fd (the caller closes it) or -errno.
 */
int rlbt_group_map_fd(const struct rlb_group *g, const char *name);

/*
 * Waits for exactly one datagram on the sockets of an in-process UDP group and reads it.
 * Returns the worker that had it, or -1 on timeout or when more than one socket had one
 * (those are read too, so that the next round starts clean).
 */
int rlbt_udp_worker(struct rlb_group *g, int timeout_ms);

/* rlbt_serve_start with the server's stderr written to err_fd (-1: the test's own). */
int rlbt_serve_start_err(const char *const argv[], int err_fd, struct rlbt_server *s);

/*
 * Waits up to timeout_ms for the server to exit by itself (after a handover, a signal sent by
 * the test), collecting its stdout. Returns the exit status, 128 + signal, or -ETIMEDOUT when
 * it had to be killed.
 */
int rlbt_serve_wait(struct rlbt_server *s, int timeout_ms);

/* The load client $RLB_BIN_DIR/rlbload, running. */
struct rlbt_load {
	pid_t pid;
	int out_fd; /* read end of its stdout */
};

/* Its summary line, parsed. */
struct rlbt_load_result {
	uint64_t total, ok, refused, reset, timeout, bad, error;
	double seconds, rate;
};

/* Starts rlbload with argv (without argv[0], NULL-terminated). Returns 0 or -errno. */
int rlbt_load_start(const char *const argv[], struct rlbt_load *l);

/*
 * With stop, SIGINT first (it starts nothing new and finishes what is under way); then waits
 * up to timeout_ms for its summary and exit (else kills it). Returns its exit status (0: every
 * connection answered), -EPROTO for no summary, or -ETIMEDOUT.
 */
int rlbt_load_finish(struct rlbt_load *l, bool stop, int timeout_ms, struct rlbt_load_result *r);

/*
 * The counts of a load result as one line, for a failure message: "N in all: N ok, N refused,
 * N reset, N timeout, N bad, N error". The text is static: valid until the next call.
 */
const char *rlbt_load_summary(const struct rlbt_load_result *r);

/* Sums over the workers of a live group's serving generation, read through its pins. */
struct rlbt_totals {
	uint64_t steered, migrated, accepted, active, busy;
	unsigned int base;
};
int rlbt_group_totals(const char *name, struct rlbt_totals *t);

/* The pid that holds the group's pins (rlb_list_groups): 0 if none, -1 if unknown. */
int rlbt_group_owner(const char *name);

/* Polls cond(arg) until it holds or timeout_ms pass; returns whether it held. */
bool rlbt_wait_for(bool (*cond)(void *arg), void *arg, int timeout_ms);

/* Waits until rlbt_group_owner(name) is pid; returns whether it came to that in timeout_ms. */
bool rlbt_wait_owner(const char *name, int pid, int timeout_ms);

/* ---- time, a server's stderr, HTTP answers ---- */

/* CLOCK_MONOTONIC in milliseconds. */
long rlbt_now_ms(void);

/*
 * All that the file of fd holds (read from offset 0, up to 16 KiB), NUL-terminated: a server's
 * stderr kept in a tmpfile(). The text is static: valid until the next call.
 */
const char *rlbt_file_text(int fd);

/* Waits until the file of fd holds line (rlbt_file_text); returns whether it did in time. */
bool rlbt_wait_said(int fd, const char *line, int timeout_ms);

/*
 * Reads one whole answer of "serve --mode http" from fd, the head and the one-line body
 * ("worker N\n"), into buf (NUL-terminated). Returns 0, or -EPIPE for an end of file first,
 * -ETIMEDOUT, -ENOBUFS when it does not fit, or another -errno.
 */
int rlbt_http_read(int fd, char *buf, size_t size);

/* One keep-alive "GET /" on fd and its whole answer: the status, or -errno (as above). */
int rlbt_http_get(int fd);

/* ---- users' policies (examples/policies) ---- */

/*
 * $RLB_BIN_DIR/examples/policies/NAME.bpf.o, the object the build made of NAME.bpf.c. The path
 * is static: valid until the next call.
 */
const char *rlbt_policy_path(const char *name);

/* The id of the program in the group's "custom" slot (read from the kernel), 0 when empty. */
uint32_t rlbt_custom_prog_id(const struct rlb_group *g);

/*
 * Whether rlb_ctl_policy_name says want ("round-robin", "custom:tenant", ...); when not, prints
 * what it says instead.
 */
bool rlbt_policy_is(struct rlb_ctl *ctl, const char *want);

/* ---- processes, sysctls, random numbers ---- */

/*
 * Runs fn in a child whose feature probe sees REUSELB_PROBE_DISABLE=disable (NULL: unset): the
 * library probes once per process, so each degraded kernel needs a process of its own. The
 * child's checks end with rlbt_finish, prefixed with name; the parent checks that it exited 0.
 */
void rlbt_in_child(const char *name, const char *disable, void (*fn)(void));

/* The integer in a /proc/sys file, or -1. */
int rlbt_read_sysctl(const char *path);

/*
 * A random generator for tests that try many inputs: rlbt_seed seeds it from $RLBT_SEED, or
 * from the time and pid, and prints the seed, so that RLBT_SEED=N replays a failed run.
 * rlbt_below(n) is uniform enough in 0..n-1 (0 for n 0). Not thread-safe.
 */
void rlbt_seed(void);
uint64_t rlbt_rnd(void);
uint32_t rlbt_below(uint32_t n);

#endif
