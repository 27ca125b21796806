/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What "reuselb serve" tells a service manager (sd_notify(3)), spoken without libsystemd: one
 * datagram of "KEY=VALUE" lines to the AF_UNIX socket named by $NOTIFY_SOCKET (a path, or an
 * abstract name written with a leading '@'). Without $NOTIFY_SOCKET every call is a no-op.
 *
 * Only the service's main process speaks for it: an instance that takes a group over (a
 * reload, ExecReload=... --takeover) keeps quiet until its predecessor has handed over, so
 * that its death before then does not look like the service's; from the handover on it is the
 * main process (MAINPID=, READY=1), and the predecessor winds down without a STOPPING=1.
 */
#ifndef RLB_SERVER_NOTIFY_H
#define RLB_SERVER_NOTIFY_H

#include <stdbool.h>

#include "server/serve.h"

/* One message built like printf ("READY=1\nSTATUS=serving"): 0, or -errno. */
int notify_send(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* What an instance has told so far. */
struct notify {
	const struct serve_config *cfg;
	struct rlb_group *g;
	int predecessor; /* the pid it takes over from, 0 if none */
	bool main;	 /* the manager knows it as the main process */
	bool warned;	 /* a failure to notify was reported (once) */
};

/* Serving: READY=1 (with MAINPID under --takeover), or, taking over, only a STATUS. */
void notify_started(struct notify *n, const struct serve_config *cfg, struct rlb_group *g,
		    int predecessor);
/* A successor, now and then until it is the main process: MAINPID, READY=1 on the handover. */
void notify_check(struct notify *n);
/* The predecessor has handed over to pid successor: MAINPID=successor at once. */
void notify_handover(struct notify *n, int successor);
/* The predecessor serves on after pid successor died while taking over. */
void notify_undone(struct notify *n, int successor);
/* Leaving without a handover: STOPPING=1 if this is the main process. */
void notify_stopping(struct notify *n);

#endif
