// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The tcp modes. conn: each request is a connection of its own (connect from the slot's source
 * address, ask, read the answer, close). keepalive: a slot keeps its connection and asks again,
 * and connects anew only after the server closed it or a request failed.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "loadgen.h"

static const char get_close[] = "GET / HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n";
static const char get_keep[] = "GET / HTTP/1.1\r\nHost: bench\r\n\r\n";

static int watch(struct lg_thread *t, struct slot *s, int op, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = s };

	return epoll_ctl(t->epfd, op, s->fd, &ev) ? -errno : 0;
}

/*
 * Binds the source address with IP_BIND_ADDRESS_NO_PORT, so that connect() picks the port for
 * the whole 4-tuple: bind() alone would pick it for the address, and run out of ports sooner.
 */
static int bind_source(const struct lg_thread *t, const struct slot *s)
{
	struct sockaddr_in src = { .sin_family = AF_INET,
				   .sin_addr.s_addr = lg_source_addr(s->src) };
	const int one = 1;

	if (!t->cfg->nr_sources || t->cfg->target.ss_family != AF_INET)
		return 0;
	if (setsockopt(s->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one)) ||
	    bind(s->fd, (struct sockaddr *)&src, sizeof(src)))
		return -errno;
	return 0;
}

static int tcp_connect(struct lg_thread *t, struct slot *s)
{
	const struct lg_config *cfg = t->cfg;
	int err;

	s->fd = socket(cfg->target.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->fd < 0)
		return -errno;
	err = bind_source(t, s);
	if (err)
		return err;
	if (connect(s->fd, (struct sockaddr *)&cfg->target, cfg->target_len) &&
	    errno != EINPROGRESS)
		return -errno;
	s->state = SLOT_CONNECTING;
	return watch(t, s, EPOLL_CTL_ADD, EPOLLOUT);
}

/* Sends the request (http) or nothing (id: the server speaks first), then waits for the answer. */
static int ask(struct lg_thread *t, struct slot *s)
{
	const struct lg_config *cfg = t->cfg;
	char burn[128];
	const char *req;
	ssize_t n;
	int len;

	s->state = SLOT_WAITING;
	if (cfg->proto == LG_PROTO_ID)
		return 0;
	if (s->burn) {
		len = snprintf(burn, sizeof(burn),
			       "GET /burn?us=%u HTTP/1.1\r\nHost: bench\r\n%s\r\n", cfg->burn_us,
			       cfg->mode == LG_MODE_CONN ? "Connection: close\r\n" : "");
		req = burn;
	} else if (cfg->mode == LG_MODE_CONN) {
		req = get_close;
		len = sizeof(get_close) - 1;
	} else {
		req = get_keep;
		len = sizeof(get_keep) - 1;
	}
	/* a fresh or idle connection's send buffer takes a short request whole */
	n = send(s->fd, req, len, MSG_NOSIGNAL);
	if (n < 0)
		return -errno;
	return n == len ? 0 : -EIO;
}

static int tcp_start(struct lg_thread *t, struct slot *s)
{
	if (s->fd < 0)
		return tcp_connect(t, s);
	return ask(t, s);
}

static int on_connected(struct lg_thread *t, struct slot *s)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &len))
		return -errno;
	if (err)
		return -err;
	err = watch(t, s, EPOLL_CTL_MOD, EPOLLIN);
	return err ? err : ask(t, s);
}

static int tcp_on_event(struct lg_thread *t, struct slot *s, int64_t *worker)
{
	ssize_t n;

	if (s->state == SLOT_CONNECTING)
		return on_connected(t, s);
	n = recv(s->fd, s->in + s->in_len, sizeof(s->in) - s->in_len, 0);
	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -errno;
	/* closed before the whole answer came */
	if (n == 0)
		return -ENODATA;
	s->in_len += n;
	if (t->cfg->proto == LG_PROTO_ID)
		return reply_parse_id(s->in, s->in_len, worker);
	return reply_parse_http(s->in, s->in_len, worker);
}

static void tcp_finish(struct lg_thread *t, struct slot *s, bool ok)
{
	if (ok && t->cfg->mode == LG_MODE_KEEPALIVE)
		return;
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
}

const struct lg_ops lg_tcp_ops = {
	.start = tcp_start,
	.on_event = tcp_on_event,
	.finish = tcp_finish,
};
