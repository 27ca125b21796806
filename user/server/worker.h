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
	uint32_t events;	   /* the epoll interest registered now */
	uint32_t in_off, in_len;   /* unconsumed input is in[in_off .. in_len) */
	uint32_t out_off, out_len; /* unsent output is out[out_off .. out_len) */
	uint64_t body_left;	   /* http: bytes of a request body still to skip */
	bool closing;		   /* send what is queued, then close: no more requests */
	bool peer_eof;		   /* the peer has shut down its sending side */
	bool lingering;		   /* our side is shut down: discard input until the peer closes */
	char in[CONN_IN_SIZE];
	char out[CONN_OUT_SIZE];
};

struct worker {
	struct rlb_group *group;
	unsigned int id;
	enum server_mode mode;
	bool udp;
	unsigned int max_conns;
	uint64_t idle_timeout_ms; /* 0: never */
	int lfd;		  /* the group's socket for this worker; the group owns it */
	int epfd;
	int failfd;	    /* the server's: written when this worker fails */
	int spare_fd;	    /* /dev/null, given up to accept (and close) a connection on EMFILE */
	uint64_t now_ms;    /* CLOCK_MONOTONIC, read once per turn of the loop */
	uint64_t resume_ms; /* the listener is out of the epoll set until then; 0: it is in */
	struct conn *oldest, *newest;
	unsigned int nr_conns;
	char *dgram; /* udp: one datagram, received and answered in place */
	pthread_t thread;
	/* results, read by the main thread after the join */
	uint64_t accepted, requests;
	int err;
	const char *what;
};

/* Opens the worker's epoll set with its socket and the server's stop eventfd in it. */
int worker_init(struct worker *w, const struct server_opts *opts, unsigned int id, int stopfd,
		int failfd);
/* The thread: serves until stopfd is readable, then closes its connections. */
void *worker_main(void *arg);
/* After the join (or instead of a start): frees what worker_init() made. */
void worker_fini(struct worker *w);

static inline size_t conn_out_room(const struct conn *c)
{
	return CONN_OUT_SIZE - c->out_len;
}

/* Mode handlers: each consumes what it can of in[] and queues its answers in out[]. */
void http_on_input(struct worker *w, struct conn *c);
void echo_on_input(struct worker *w, struct conn *c);
/* id over tcp: answers a new connection at once; the caller closes it. */
void id_on_accept(struct worker *w, int fd);
/* "worker <id>\n" into buf; returns its length. */
size_t id_line(const struct worker *w, char *buf, size_t size);

#endif
