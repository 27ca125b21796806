// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The udp mode: each slot is a connected datagram socket on its own source address that has one
 * request out at a time. The answer to a request that timed out may still come: it is drained
 * before the next request, so that it is not taken for the next answer.
 */
#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "loadgen.h"

static const char ping[] = "ping\n";

static int udp_open(struct lg_thread *t, struct slot *s)
{
	const struct lg_config *cfg = t->cfg;
	struct sockaddr_in src = { .sin_family = AF_INET,
				   .sin_addr.s_addr = lg_source_addr(s->src) };
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = s };

	s->fd = socket(cfg->target.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->fd < 0)
		return -errno;
	if (cfg->nr_sources && cfg->target.ss_family == AF_INET &&
	    bind(s->fd, (struct sockaddr *)&src, sizeof(src)))
		return -errno;
	if (connect(s->fd, (struct sockaddr *)&cfg->target, cfg->target_len) ||
	    epoll_ctl(t->epfd, EPOLL_CTL_ADD, s->fd, &ev))
		return -errno;
	return 0;
}

static int udp_start(struct lg_thread *t, struct slot *s)
{
	int err;

	if (s->fd < 0) {
		err = udp_open(t, s);
		if (err)
			return err;
	}
	s->state = SLOT_WAITING;
	if (send(s->fd, ping, sizeof(ping) - 1, 0) < 0)
		return -errno;
	return 0;
}

static int udp_on_event(struct lg_thread *t, struct slot *s, int64_t *worker)
{
	ssize_t n = recv(s->fd, s->in, sizeof(s->in), 0);

	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -errno;
	/* an echo server answers with our own datagram: it names no worker */
	if (t->cfg->proto == LG_PROTO_ECHO)
		return n == sizeof(ping) - 1 && !memcmp(s->in, ping, n) ? 1 : -EBADMSG;
	return reply_parse_id(s->in, n, worker);
}

static void udp_finish(struct lg_thread *t, struct slot *s, bool ok)
{
	(void)t;
	/* bounded: a socket's queue holds what came since the last look, a few datagrams at most */
	for (int i = 0; !ok && s->fd >= 0 && i < 64; i++) {
		if (recv(s->fd, s->in, sizeof(s->in), MSG_DONTWAIT) < 0)
			break;
	}
}

const struct lg_ops lg_udp_ops = {
	.start = udp_start,
	.on_event = udp_on_event,
	.finish = udp_finish,
};
