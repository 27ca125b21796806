// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The worker of the exclusive and incoming-cpu models: a level-triggered epoll loop over the
 * listener, the worker's connections and the stop eventfd, like a reuselb worker's.
 */
#define _GNU_SOURCE /* accept4, sched_setaffinity */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "contender.h"

#define EVENT_BATCH 64
#define ACCEPT_BATCH 64
#define DGRAM_BATCH 64

struct conn {
	int fd;
	bool closing; /* close once out[] is sent */
	uint32_t in_len, out_off, out_len;
	char in[CTR_BUF_SIZE];
	char out[CTR_BUF_SIZE];
};

static int watch(int epfd, int op, int fd, uint32_t events, void *ptr)
{
	struct epoll_event ev = { .events = events, .data.ptr = ptr };

	return epoll_ctl(epfd, op, fd, &ev);
}

static void conn_close(struct conn *c)
{
	close(c->fd);
	free(c);
}

static void on_accept(struct ctr_worker *w, int epfd)
{
	const int one = 1;

	for (int i = 0; i < ACCEPT_BATCH; i++) {
		int fd = accept4(w->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct conn *c;
		char line[32];

		if (fd < 0)
			return;
		w->accepted++;
		if (w->opts->mode == CTR_ID) {
			size_t len = proto_id(w->id, line);

			if (send(fd, line, len, MSG_NOSIGNAL) == (ssize_t)len)
				w->requests++;
			close(fd);
			continue;
		}
		c = malloc(sizeof(*c));
		if (!c) {
			close(fd);
			continue;
		}
		c->fd = fd;
		c->closing = false;
		c->in_len = c->out_off = c->out_len = 0;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (watch(epfd, EPOLL_CTL_ADD, fd, EPOLLIN, c))
			conn_close(c);
	}
}

/* Answers every complete request in in[]; false when the connection is to be closed. */
static bool answer(struct ctr_worker *w, struct conn *c)
{
	uint32_t off = 0;

	if (w->opts->mode == CTR_ECHO) {
		memcpy(c->out + c->out_len, c->in, c->in_len);
		c->out_len += c->in_len;
		c->in_len = 0;
		w->requests++;
		return true;
	}
	while (!c->closing && off < c->in_len && CTR_BUF_SIZE - c->out_len >= CTR_MAX_RESPONSE) {
		size_t len;
		int n = proto_http(c->in + off, c->in_len - off, w->id, c->out + c->out_len, &len,
				   &c->closing);

		if (n < 0)
			return false;
		if (!n)
			break;
		off += n;
		c->out_len += len;
		w->requests++;
	}
	memmove(c->in, c->in + off, c->in_len - off);
	c->in_len -= off;
	return true;
}

/* Sends what out[] holds; false when the connection is done (closed by either side). */
static bool flush(struct conn *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);

		if (n < 0)
			return errno == EAGAIN;
		c->out_off += n;
	}
	c->out_off = c->out_len = 0;
	return !c->closing;
}

static void on_conn(struct ctr_worker *w, int epfd, struct conn *c, uint32_t events)
{
	ssize_t n;

	if (events & EPOLLOUT) {
		if (!flush(c))
			goto close;
		if (c->out_len)
			return;
		if (watch(epfd, EPOLL_CTL_MOD, c->fd, EPOLLIN, c))
			goto close;
		return;
	}
	/* echo: what fits into out[] (the output is drained before more is read) */
	n = recv(c->fd, c->in + c->in_len, CTR_BUF_SIZE - c->in_len, 0);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0)
		goto close;
	c->in_len += n;
	if (!answer(w, c) || !flush(c))
		goto close;
	if (c->out_len && watch(epfd, EPOLL_CTL_MOD, c->fd, EPOLLOUT, c))
		goto close;
	return;
close:
	conn_close(c);
}

static void on_datagrams(struct ctr_worker *w, char *buf)
{
	for (int i = 0; i < DGRAM_BATCH; i++) {
		struct sockaddr_storage peer;
		socklen_t peer_len = sizeof(peer);
		ssize_t n =
			recvfrom(w->lfd, buf, CTR_BUF_SIZE, 0, (struct sockaddr *)&peer, &peer_len);

		if (n < 0)
			return;
		w->requests++;
		if (w->opts->mode == CTR_ID)
			n = proto_id(w->id, buf);
		sendto(w->lfd, buf, n, 0, (struct sockaddr *)&peer, peer_len);
	}
}

/* incoming-cpu: worker i on CPU i, where the packets that pick listener i are processed */
static void pin(const struct ctr_worker *w)
{
	long nr_cpus = sysconf(_SC_NPROCESSORS_ONLN);
	cpu_set_t set;

	if (w->opts->model != CTR_INCOMING_CPU || nr_cpus < 1)
		return;
	CPU_ZERO(&set);
	CPU_SET(w->id % nr_cpus, &set);
	sched_setaffinity(0, sizeof(set), &set);
}

void *ctr_epoll_main(void *arg)
{
	struct ctr_worker *w = arg;
	uint32_t lev = EPOLLIN | (w->opts->model == CTR_EXCLUSIVE ? EPOLLEXCLUSIVE : 0);
	struct epoll_event events[EVENT_BATCH];
	char dgram[CTR_BUF_SIZE];
	bool stop = false;
	int epfd;

	pin(w);
	epfd = epoll_create1(EPOLL_CLOEXEC);
	if (epfd < 0 || watch(epfd, EPOLL_CTL_ADD, w->stopfd, EPOLLIN, NULL) ||
	    watch(epfd, EPOLL_CTL_ADD, w->lfd, lev, w))
		return (void *)(intptr_t)-errno;
	while (!stop) {
		int n = epoll_wait(epfd, events, EVENT_BATCH, -1);

		for (int i = 0; i < n; i++) {
			void *p = events[i].data.ptr;

			if (!p)
				stop = true;
			else if (p == w && w->opts->udp)
				on_datagrams(w, dgram);
			else if (p == w)
				on_accept(w, epfd);
			else
				on_conn(w, epfd, p, events[i].events);
		}
	}
	/* connections still open are closed with the process: the server is stopping */
	close(epfd);
	return NULL;
}
