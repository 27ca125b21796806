/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * contender: the servers that users would write instead of reuselb, speaking reuselb's
 * protocols (http with X-Reuselb-Worker, id, echo; udp id and echo) so that one load generator
 * measures them all. One model per file:
 *   blocking      the seed's design: a thread per SO_REUSEPORT listener, each blocking in
 *                 accept() and serving one connection at a time; the kernel's hash picks
 *   exclusive     one listener in every worker's epoll set with EPOLLEXCLUSIVE: the kernel
 *                 wakes one waiting worker per new connection
 *   incoming-cpu  SO_REUSEPORT listeners with a cBPF program (SO_ATTACH_REUSEPORT_CBPF) that
 *                 picks the listener of the CPU the packet came in on; worker i runs on CPU i
 *   ebpf-min      SO_REUSEPORT listeners with the smallest eBPF steering program (ebpf.c): the
 *                 floor under the cost of any sk_reuseport program, reuselb's included
 */
#ifndef CONTENDER_H
#define CONTENDER_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define CTR_MAX_WORKERS 64
#define CTR_BUF_SIZE 8192
/* the longest answer proto_http() writes: reuselb's HTTP_MAX_RESPONSE */
#define CTR_MAX_RESPONSE 256

enum ctr_model {
	CTR_BLOCKING,
	CTR_EXCLUSIVE,
	CTR_INCOMING_CPU,
	CTR_EBPF_MIN,
};

enum ctr_mode {
	CTR_HTTP,
	CTR_ECHO,
	CTR_ID,
};

struct ctr_opts {
	enum ctr_model model;
	enum ctr_mode mode;
	bool udp;
	unsigned int nr_workers;
	struct sockaddr_storage addr; /* port 0: any free one, read back after bind */
	socklen_t addr_len;
};

struct ctr_worker {
	const struct ctr_opts *opts;
	unsigned int id;
	int lfd;	     /* its listener (the shared one, for exclusive) */
	int stopfd;	     /* eventfd, readable once the server stops (epoll models) */
	int busy_fd;	     /* blocking: the connection being served, -1 if none */
	volatile bool *stop; /* blocking: set before the listeners are shut down */
	pthread_t thread;
	uint64_t accepted, requests; /* read by main after the join */
};

/*
 * sockets.c: the listeners of a model, bound and listening, with the model's program attached
 * (its id in *prog_id, 0 if none); returns the port, or -errno.
 */
int ctr_open_sockets(const struct ctr_opts *o, int *fds, unsigned int *nr_fds, uint32_t *prog_id);
/* ebpf.c: attaches the ebpf-min program to the group of fds[0 .. nr) and reads its id. */
int ctr_attach_ebpf(const int *fds, unsigned int nr, uint32_t *prog_id);

/* The worker threads of each model. */
void *ctr_blocking_main(void *arg);
void *ctr_epoll_main(void *arg);

/*
 * proto.c. Answers the first request in in[0, len): returns the bytes it took, 0 while the
 * request is incomplete, -1 when it is malformed or too long. The answer goes to out (at least
 * CTR_MAX_RESPONSE bytes) with its length in *out_len; *close says whether to close after it.
 */
int proto_http(const char *in, size_t len, unsigned int worker, char *out, size_t *out_len,
	       bool *close);
/* "worker <id>\n" into out (at least 32 bytes); returns its length. */
size_t proto_id(unsigned int worker, char *out);

#endif
