/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The life of a "reuselb serve" process (serve.c), apart from its command line: what it prints,
 * which signals it takes, and how it hands its group over to a successor.
 */
#ifndef RLB_SERVER_SERVE_H
#define RLB_SERVER_SERVE_H

#include <stdint.h>
#include <reuselb/reuselb.h>

#include "server/server.h"

/* Seconds an instance that handed its group over goes on finishing what it has. */
#define SERVE_GRACE_DEFAULT 30
/*
 * Milliseconds a successor must have served (and lived) before the old instance lets go of
 * its listeners: a successor that dies sooner loses no connection, the old one takes back.
 */
#define SERVE_CONFIRM_DEFAULT_MS 3000
/* serve_run's result for a request that conflicts with the live group (exit status 2). */
#define SERVE_REFUSED 2

struct serve_config {
	struct rlb_group_opts group; /* group.addr is also what the ready line names */
	struct server_opts server;   /* .group is filled in once the group is open */
	const char *metrics_addr;    /* numeric address of the metrics endpoint; NULL: none */
	uint16_t metrics_port;	     /* 0: any free port (printed) */
	unsigned int grace_s;
	unsigned int confirm_ms; /* see SERVE_CONFIRM_DEFAULT_MS */
};

/*
 * Opens everything, prints the ready line, and serves until SIGINT or SIGTERM, a worker's
 * failure, or a handover. Returns 0 after a stop signal or a handover, 1 after a failure,
 * SERVE_REFUSED when the group's options conflict with the live group (both printed, one
 * line).
 */
int serve_run(struct serve_config *cfg);

#endif
