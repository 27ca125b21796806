/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * loadgen: a load generator for servers on loopback. Each thread owns a set of slots (a client
 * socket each, spread over source addresses 127.0.0.2 ...) and an epoll loop; the engine
 * (engine.c) decides when a slot starts a request, a mode (tcp.c, udp.c) how, and reply.c reads
 * which worker answered.
 */
#ifndef LOADGEN_H
#define LOADGEN_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "hist.h"

/* distinct worker ids one run tells apart (nginx answers with pids, not indices) */
#define LG_MAX_WORKERS 64
#define LG_REPLY_SIZE 1024
#define LG_MAX_SOURCES 253

enum lg_mode {
	LG_MODE_CONN,	   /* a new tcp connection per request: the connection rate */
	LG_MODE_KEEPALIVE, /* requests one after another on long-lived tcp connections */
	LG_MODE_UDP,	   /* a datagram per request, one outstanding per socket */
};

enum lg_proto {
	LG_PROTO_HTTP, /* GET, answered with an X-Reuselb-Worker header */
	LG_PROTO_ID, /* the server speaks first: "worker <id>\n" (udp: in answer to any datagram) */
	LG_PROTO_ECHO, /* udp: the datagram comes back, naming no worker */
};

struct lg_config {
	enum lg_mode mode;
	enum lg_proto proto;
	struct sockaddr_storage target;
	socklen_t target_len;
	unsigned int nr_sources; /* 127.0.0.2 onwards, IPv4 targets only; 0: the kernel picks */
	unsigned int nr_slots;	 /* concurrent requests (connections, sockets), all threads */
	unsigned int nr_threads;
	double rate;	      /* requests/s over all threads; 0: closed loop, as fast as answered */
	uint64_t duration_ns; /* measured time, after the warm-up */
	uint64_t warmup_ns;   /* run, but neither counted nor timed */
	uint64_t timeout_ns;  /* a request not answered by then is counted and abandoned */
	unsigned int burn_pct; /* http: share of requests that ask for /burn?us=burn_us */
	unsigned int burn_us;
};

enum slot_state {
	SLOT_IDLE,	 /* no request; keep-alive: the connection (if any) waits for one */
	SLOT_CONNECTING, /* tcp: connect() in progress */
	SLOT_WAITING,	 /* request sent, reply not complete */
};

struct slot {
	int fd;
	enum slot_state state;
	unsigned int src;  /* index of the source address */
	bool burn;	   /* the request in flight is a burning one */
	uint64_t start_ns; /* when the request was due (open loop) or sent (closed loop) */
	uint32_t in_len;
	char in[LG_REPLY_SIZE];
};

struct worker_count {
	uint64_t id; /* as the server said it: a worker index, or nginx's pid */
	uint64_t count;
};

struct lg_result {
	struct hist lat;      /* requests that are not burning ones */
	struct hist burn_lat; /* the burning ones */
	uint64_t errors;      /* refused, reset, malformed or unexpected answers */
	int first_error;      /* -errno of the first of them, to tell what went wrong */
	uint64_t timeouts;    /* unanswered after the timeout, or at the end after half the run */
	uint64_t unsent;      /* open loop: due but never started for lack of a free slot */
	unsigned int nr_workers;
	uint64_t unknown_worker; /* answers that named no worker (udp echo) */
	struct worker_count workers[LG_MAX_WORKERS];
};

struct lg_thread {
	const struct lg_config *cfg;
	unsigned int index;
	int epfd;
	unsigned int nr_slots;
	unsigned int first_src; /* slot i uses source (first_src + i) % nr_sources */
	struct slot *slots;
	unsigned int *idle; /* stack of idle slot indices */
	unsigned int nr_idle;
	uint64_t rng;
	uint64_t measure_from_ns, measure_until_ns;
	struct lg_result res;
};

/* What a mode does with a slot. The engine owns the slot's state outside a request. */
struct lg_ops {
	/* Starts a request on an idle slot: 0, or -errno (counted as an error). */
	int (*start)(struct lg_thread *t, struct slot *s);
	/*
	 * Handles an epoll event of a slot: 0 while the reply is incomplete, 1 when it is complete
	 * (with the worker in *worker, or -1 if it named none), -errno when the request failed.
	 */
	int (*on_event)(struct lg_thread *t, struct slot *s, int64_t *worker);
	/*
	 * Ends the slot's request (ok: answered), or handles an event on an idle slot (!ok): conn
	 * closes the socket, keep-alive keeps it after an answer, udp drains late answers.
	 */
	void (*finish)(struct lg_thread *t, struct slot *s, bool ok);
};

extern const struct lg_ops lg_tcp_ops;
extern const struct lg_ops lg_udp_ops;

/* Runs one thread's share of the load until its end; results in t->res. */
int lg_thread_run(struct lg_thread *t);

/*
 * reply.c: what a server answered. 1 when the answer is complete (the worker in *worker, -1 if
 * it names none), 0 when more is needed, -EBADMSG when it is not the answer expected.
 */
int reply_parse_http(const char *buf, size_t len, int64_t *worker);
int reply_parse_id(const char *buf, size_t len, int64_t *worker);

/* Source address i (0-based): 127.0.0.2 + i. */
static inline uint32_t lg_source_addr(unsigned int i)
{
	return htonl(0x7f000002u + i);
}

uint64_t lg_now_ns(void);
void lg_count_worker(struct lg_result *r, int64_t worker, uint64_t n);

#endif
