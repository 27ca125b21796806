/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The serving side of "reuselb serve": one thread per socket of a reuselb group, each with its
 * own epoll loop, answering in one of the modes below.
 */
#ifndef RLB_SERVER_H
#define RLB_SERVER_H

#include <stdbool.h>
#include <stdint.h>
#include <reuselb/reuselb.h>

enum server_mode {
	SERVER_MODE_HTTP, /* HTTP/1.1, keep-alive, pipelining: "worker <id>\n" */
	SERVER_MODE_ECHO, /* bytes (datagrams) back to the sender */
	SERVER_MODE_ID,	  /* "worker <id>\n", then close (one reply per datagram) */
};

#define SERVER_MAX_CONNS_DEFAULT 10000
#define SERVER_IDLE_TIMEOUT_DEFAULT 30

struct server_opts {
	struct rlb_group *group; /* the caller opens it, and closes it after server_stop() */
	enum server_mode mode;
	bool udp;		     /* must match the group's sockets */
	unsigned int max_conns;	     /* per worker; over it new connections are closed at once */
	unsigned int idle_timeout_s; /* 0: connections never time out */
	bool pin_threads; /* each worker on a CPU of its own, told to the group (cpu policy) */
	/* http: after a handover, keep-alive ends spread over this long (0: with each answer) */
	unsigned int shed_window_ms;
	bool defer_accept; /* http: TCP_DEFER_ACCEPT on the listeners (defer.c) */
};

struct server;

/* Sets up every worker's epoll set, then starts the threads with the caller's signal mask. */
int server_start(const struct server_opts *opts, struct server **out);

unsigned int server_nr_workers(const struct server *s);

/* Readable once a worker has failed and stopped: the caller should stop the server. */
int server_failure_fd(const struct server *s);

/*
 * Asks a worker to close its socket from its own thread (so that no descriptor is closed
 * under a thread that uses it); the group's program then sends its share elsewhere, and a
 * TCP listener's queue migrates to the live listeners. Returns at once: see
 * server_worker_done().
 */
int server_close_worker(struct server *s, unsigned int worker);

/*
 * Rolling restart, after rlb_group_handover(): TCP workers close their listeners (the queues
 * migrate to the successor) and finish the connections they have, HTTP ones ending keep-alive
 * (over opts.shed_window_ms: worker_handover.c); UDP workers go on answering the old flows
 * that still come, until server_stop().
 */
void server_handover(struct server *s);

/* Readable (an eventfd) whenever a worker has closed its socket and its last connection. */
int server_idle_fd(const struct server *s);

/* This worker's socket is closed and no connection is left. */
bool server_worker_done(const struct server *s, unsigned int worker);

/* Every worker's socket is closed and no connection is left. */
bool server_drained(const struct server *s);

/* UDP: CLOCK_MONOTONIC milliseconds of the latest datagram any worker received, 0 if none. */
uint64_t server_last_datagram_ms(const struct server *s);

/* The current time on the clock that server_last_datagram_ms() uses. */
uint64_t server_now_ms(void);

/* Figures of a running worker, read live (for metrics): accepted and open connections. */
void server_worker_live(const struct server *s, unsigned int worker, uint64_t *accepted,
			uint64_t *active);

/* Tells every worker to stop, waits for them, and closes their connections. */
void server_stop(struct server *s);

struct server_worker_stats {
	uint64_t accepted; /* tcp: connections taken from the listener */
	uint64_t requests; /* http responses, id replies, echo reads; udp: datagrams received */
	uint64_t cut;	   /* connections still open (and not winding down) at the stop */
	int err;	   /* 0, or the -errno that stopped this worker early */
	const char *what;  /* the call that failed, when err is set */
};

/* Valid after server_stop(). */
void server_worker_stats(const struct server *s, unsigned int worker,
			 struct server_worker_stats *out);

void server_free(struct server *s);

#endif
