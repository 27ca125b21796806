/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Children of a test: the real binary ($REUSELB) serving, and the load client (rlbload). */
#ifndef RLBT_PROC_H
#define RLBT_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* The real binary ($REUSELB) running a "serve" command. */
struct rlbt_server {
	pid_t pid;
	int out_fd;	  /* read end of its stdout */
	uint16_t port;	  /* from the ready line */
	uint32_t prog_id; /* from the ready line, 0 for "none" */
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

/* rlbt_serve_start with the server's stderr written to err_fd (-1: the test's own). */
int rlbt_serve_start_err(const char *const argv[], int err_fd, struct rlbt_server *s);

/*
 * SIGTERM, then waits RLBT_TIMEOUT_MS for the exit while collecting the rest of stdout.
 * Returns the exit status, 128 + signal if a signal ended it, or -ETIMEDOUT when it had to be
 * killed.
 */
int rlbt_serve_stop(struct rlbt_server *s);

/*
 * Waits up to timeout_ms for the server to exit by itself (after a handover, a signal sent by
 * the test), collecting its stdout. Returns the exit status, 128 + signal, or -ETIMEDOUT when
 * it had to be killed.
 */
int rlbt_serve_wait(struct rlbt_server *s, int timeout_ms);

/* From the collected output, the line "worker <id>: accepted <n>, ...": n, or -ENOENT. */
long rlbt_serve_accepted(const struct rlbt_server *s, unsigned int worker);

void rlbt_serve_free(struct rlbt_server *s);

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

#endif
