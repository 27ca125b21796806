/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Inside the server: a worker thread, its connections, and the mode handlers that the event
 * loop (worker.c) calls. Each worker and its connections are touched by its own thread only.
 */
#ifndef RLB_SERVER_WORKER_H
#define RLB_SERVER_WORKER_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "server/http.h"
#include "server/server.h"

/* The input buffer holds one whole header block at most: a fuller one is answered with 431. */
#define CONN_IN_SIZE HTTP_MAX_HEADER
#define CONN_OUT_SIZE 8192

struct conn {
	struct conn *prev, *next; /* the worker's list, least recently active first */
	uint64_t last_active_ms;
	int fd;
	uint32_t events;	   /* the epoll interest registered now; 0: not in the set yet */
	uint32_t in_off, in_len;   /* unconsumed input is in[in_off .. in_len) */
	uint32_t out_off, out_len; /* unsent output is out[out_off .. out_len) */
	uint64_t body_left;	   /* http: bytes of a request body still to skip */
	bool closing;		   /* send what is queued, then close: no more requests */
	bool peer_eof;		   /* the peer has shut down its sending side */
	bool lingering;		   /* our side is shut down: discard input until the peer closes */
	bool answered;		   /* http: a request has been answered, keep-alive has begun */
	bool drained;		   /* the last read left nothing in the socket's queue */
	bool peer_closes; /* http: the request answered last asked to close (RFC 9112 9.6) */
	char in[CONN_IN_SIZE];
	char out[CONN_OUT_SIZE];
};

/* Requests from the main thread to a worker: bits of worker.ctl, announced on its ctlfd. */
enum {
	WORKER_CTL_CLOSE = 1,	 /* close the socket (tcp: its queue migrates to the live ones) */
	WORKER_CTL_HANDOVER = 2, /* a successor serves the group: see server_handover() */
};

struct worker {
	struct rlb_group *group;
	unsigned int id;
	enum server_mode mode;
	bool udp;
	unsigned int max_conns;
	uint64_t idle_timeout_ms; /* 0: never */
	int lfd;		  /* the group's socket for this worker, -1 once closed */
	int epfd;
	int failfd;	 /* the server's: written when this worker fails */
	int idlefd;	 /* the server's: written when the socket is closed and no conn is left */
	int ctlfd;	 /* eventfd: the main thread has set bits in ctl */
	int ctl;	 /* WORKER_CTL_*, set by the main thread, taken by the worker (atomic) */
	int spare_fd;	 /* /dev/null, given up to accept (and close) a connection on EMFILE */
	uint64_t now_ms; /* CLOCK_MONOTONIC, read once per turn of the loop */
	uint64_t resume_ms;	 /* the listener is out of the epoll set until then; 0: it is in */
	bool handed_over;	 /* http: keep-alive ends with the next answer */
	uint64_t shed_window_ms; /* http: after a handover, keep-alive ends over this long */
	uint64_t shed_end_ms;	 /* then all of it ends (worker_handover.c); 0: no window open */
	bool defer_accept;	 /* http: asked for (serve --defer-accept) */
	bool deferring;		 /* http: TCP_DEFER_ACCEPT is on for the listener (defer.c) */
	uint64_t queued_look_ms; /* http: next look at the program's queued count (queued.c) */
	uint64_t queued_excess;	 /* what that count held beyond the accept queue then */
	bool idle_told;		 /* idlefd has been written for this worker */
	struct conn *oldest, *newest;
	struct conn *spare; /* closed connections' buffers, for the next ones (conn_pool.c) */
	unsigned int nr_spare;
	/*
	 * Read live by other threads (metrics, the handover wait), hence written with relaxed
	 * atomic stores by this thread, its only writer, and read with atomic loads.
	 */
	unsigned int nr_conns;
	int closed;	     /* the socket is closed */
	uint64_t last_rx_ms; /* udp: now_ms of the latest datagram, 0 before the first */
	uint64_t accepted, requests;
	char *dgram; /* udp: one datagram, received and answered in place */
	/* http: the 200 answers, formatted once; index keep_alive * 2 + head; length 0 until then */
	char ok[4][HTTP_MAX_RESPONSE];
	uint16_t ok_len[4];
	pthread_t thread;
	/* results, read by the main thread after the join */
	uint64_t cut; /* connections still open (not winding down) when the worker stopped */
	int err;
	const char *what;
};

/* Single writer: a relaxed load and store is enough, and cheaper than an atomic add. */
static inline void worker_bump(uint64_t *counter)
{
	__atomic_store_n(counter, *counter + 1, __ATOMIC_RELAXED);
}

/* Opens the worker's epoll set with its socket, its ctlfd and the server's stop eventfd in it. */
int worker_init(struct worker *w, const struct server_opts *opts, unsigned int id, int stopfd,
		int failfd, int idlefd);
/* Sets bits of WORKER_CTL_* for the worker's thread to act on. */
void worker_request(struct worker *w, int bits);
/* The thread: serves until stopfd is readable, then closes its connections. */
void *worker_main(void *arg);
/* After the join (or instead of a start): frees what worker_init() made. */
void worker_fini(struct worker *w);

/*
 * A handover told to the worker (worker_handover.c): keep-alive ends at once (handed_over), or
 * over the worker's shed window. worker_keepalive_ends() says, after a batch of events, when
 * the idle keep-alive connections are to be closed: now, or when the window is over.
 */
void worker_handover_begin(struct worker *w);
bool worker_keepalive_ends(struct worker *w, int bits);

/* A struct conn from the worker's spares, else from malloc; NULL when out of memory. */
struct conn *conn_get(struct worker *w);
/* Keeps c for a next connection (or frees it when the worker has spares enough). */
void conn_put(struct worker *w, struct conn *c);
/* Frees the spares: the worker is done. */
void conn_pool_free(struct worker *w);

static inline size_t conn_out_room(const struct conn *c)
{
	return CONN_OUT_SIZE - c->out_len;
}

/* Turns TCP_DEFER_ACCEPT on or off as the worker's mode and --max-conns want it (defer.c). */
void worker_defer_update(struct worker *w);
/* How long a connection handed over with nothing to read has been silent already. */
uint64_t worker_defer_waited_ms(const struct worker *w);

/*
 * The program's queued count of the worker, squared with its listener every few seconds:
 * connections the kernel dropped before the worker accepted them are taken off (queued.c).
 * worker_queued_check() returns at once until its time has come (worker_timeout() wakes it).
 */
void worker_queued_start(struct worker *w);
void worker_queued_check(struct worker *w);

/* Mode handlers: each consumes what it can of in[] and queues its answers in out[]. */
void http_on_input(struct worker *w, struct conn *c);
void echo_on_input(struct worker *w, struct conn *c);
/* id over tcp: answers a new connection at once; the caller closes it. */
void id_on_accept(struct worker *w, int fd);
/* "worker <id>\n" into buf; returns its length. */
size_t id_line(const struct worker *w, char *buf, size_t size);

#endif
