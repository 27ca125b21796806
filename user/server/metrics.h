/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The --metrics endpoint of "reuselb serve": a small HTTP server in a thread of its own that
 * answers GET /metrics in the Prometheus text format (version 0.0.4), 404 elsewhere.
 */
#ifndef RLB_SERVER_METRICS_H
#define RLB_SERVER_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <reuselb/reuselb.h>

#include "server/server.h"

struct metrics_worker {
	uint64_t steered, fallback, migrated; /* from the program */
	uint64_t accepted, active;	      /* from the worker */
	bool draining;
	struct rlb_queue queue; /* from the kernel (sock_diag), under any policy */
};

/* What one scrape shows. */
struct metrics_snapshot {
	const char *group;
	const char *policy; /* "round-robin", "custom:NAME", "kernel" */
	bool steering;	    /* false under "kernel": no program, only accepted and active */
	unsigned int nr_workers;
	uint64_t unsteered;
	unsigned int flow_table; /* UDP: the flows table's size; 0 for TCP */
	uint64_t flows_evicted;	 /* UDP: flows it evicted before their timeout */
	struct metrics_worker workers[RLB_MAX_WORKERS];
	/* the generations of a rollout or takeover (1 or 2) and each one's share, in percent */
	unsigned int nr_generations;
	struct {
		unsigned int generation, share;
	} generations[2];
};

/*
 * The exposition text of a snapshot: # HELP and # TYPE before each metric's samples, label
 * values escaped. Returns a string to free(), its length in *len, or NULL when out of memory.
 */
char *metrics_render(const struct metrics_snapshot *snap, size_t *len);

/* The generations of snap's group and their shares, read through ctl (metrics_rollout.c). */
int metrics_generations(const struct rlb_ctl *ctl, struct metrics_snapshot *snap);
/* reuselb_generation_share{group,generation}, after the other families (metrics_rollout.c). */
void metrics_render_generations(FILE *f, const struct metrics_snapshot *snap, const char *group);

/* Writes value with the text format's label escapes (\\, \", \n); returns bytes needed. */
size_t metrics_escape(char *buf, size_t size, const char *value);

struct metrics;

/*
 * Binds and listens on addr:port (numeric; port 0 picks a free one). The socket has
 * SO_REUSEPORT so that a successor (share) can bind the same address during a rolling restart;
 * without share, an address that another process holds is refused with -EADDRINUSE. Returns 0
 * or -errno, and prints nothing.
 */
int metrics_open(const char *addr, uint16_t port, bool share, struct metrics **out);
uint16_t metrics_port(const struct metrics *m);

/* Serves scrapes of g (and, under "kernel", of s's own counters) from a new thread. */
int metrics_start(struct metrics *m, struct rlb_group *g, const struct server *s);

/* Stops the thread and closes the socket. NULL is a no-op. */
void metrics_close(struct metrics *m);

#endif
