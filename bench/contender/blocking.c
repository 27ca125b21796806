// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The seed's design: each worker blocks in accept() on its own SO_REUSEPORT listener and serves
 * the connection it got to its end before it accepts the next one. A keep-alive client holds
 * its worker for as long as it stays; connections that the kernel's hash queues behind it wait.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "contender.h"

static bool send_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		buf += n;
		len -= n;
	}
	return true;
}

static void serve_conn(struct ctr_worker *w, int fd)
{
	char in[CTR_BUF_SIZE], out[CTR_BUF_SIZE];
	size_t in_len = 0, out_len;
	bool closing = false;

	if (w->opts->mode == CTR_ID) {
		out_len = proto_id(w->id, out);
		if (send_all(fd, out, out_len))
			w->requests++;
		return;
	}
	while (!closing) {
		ssize_t n = recv(fd, in + in_len, sizeof(in) - in_len, 0);
		size_t off = 0;

		if (n <= 0)
			return;
		in_len += n;
		if (w->opts->mode == CTR_ECHO) {
			w->requests++;
			if (!send_all(fd, in, in_len))
				return;
			in_len = 0;
			continue;
		}
		out_len = 0;
		while (!closing && off < in_len && sizeof(out) - out_len >= CTR_MAX_RESPONSE) {
			size_t len;
			int m = proto_http(in + off, in_len - off, w->id, out + out_len, &len,
					   &closing);

			if (m < 0)
				return;
			if (!m)
				break;
			off += m;
			out_len += len;
			w->requests++;
		}
		memmove(in, in + off, in_len - off);
		in_len -= off;
		if (!send_all(fd, out, out_len))
			return;
	}
}

static void serve_datagrams(struct ctr_worker *w)
{
	char buf[CTR_BUF_SIZE];

	while (!*w->stop) {
		struct sockaddr_storage peer;
		socklen_t peer_len = sizeof(peer);
		ssize_t n =
			recvfrom(w->lfd, buf, sizeof(buf), 0, (struct sockaddr *)&peer, &peer_len);

		if (n < 0 && errno == EINTR)
			continue;
		/* 0 from an empty datagram, or from the shutdown() that stops us */
		if (n <= 0)
			continue;
		w->requests++;
		if (w->opts->mode == CTR_ID)
			n = proto_id(w->id, buf);
		sendto(w->lfd, buf, n, 0, (struct sockaddr *)&peer, peer_len);
	}
}

void *ctr_blocking_main(void *arg)
{
	struct ctr_worker *w = arg;
	const int one = 1;

	if (w->opts->udp) {
		serve_datagrams(w);
		return NULL;
	}
	while (!*w->stop) {
		int fd = accept(w->lfd, NULL, NULL);

		if (fd < 0)
			continue;
		w->accepted++;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		/* main shuts down the connection being served, too, when it stops us */
		__atomic_store_n(&w->busy_fd, fd, __ATOMIC_RELEASE);
		if (!*w->stop)
			serve_conn(w, fd);
		__atomic_store_n(&w->busy_fd, -1, __ATOMIC_RELEASE);
		close(fd);
	}
	return NULL;
}
