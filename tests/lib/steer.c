// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sock.h"
#include "steer.h"
#include "wait.h"

int rlbt_group_open(const char *addr, enum rlb_policy policy, unsigned int nr_workers,
		    struct rlb_group **out)
{
	struct rlb_group_opts opts = {
		.addr = addr,
		.port = 0,
		.nr_workers = nr_workers,
		.policy = policy,
	};
	int err;

	err = rlb_group_open(&opts, out);
	if (err)
		fprintf(stderr, "rlb_group_open(%s, %s, %u workers): %s: %s\n", addr,
			rlb_policy_name(policy), nr_workers, strerror(-err), rlb_last_error());
	return err;
}

/* Accepts and closes whatever is pending on the polled listeners; returns how many. */
static int drain_listeners(struct pollfd *pfd, unsigned int n)
{
	int drained = 0;

	for (int round = 0; round < 64; round++) {
		int ready = poll(pfd, n, 0);

		if (ready <= 0)
			break;
		for (unsigned int i = 0; i < n; i++) {
			int cfd;

			if (!(pfd[i].revents & POLLIN))
				continue;
			cfd = accept4(pfd[i].fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
			if (cfd >= 0) {
				close(cfd);
				drained++;
			}
		}
	}
	return drained;
}

/*
 * One pollfd a worker of the group, for POLLIN; returns how many, or 0 when the group has more
 * than RLB_MAX_WORKERS.
 */
static unsigned int poll_workers(struct rlb_group *g, struct pollfd pfd[RLB_MAX_WORKERS])
{
	unsigned int n = rlb_group_nr_workers(g);

	if (n > RLB_MAX_WORKERS)
		return 0;
	/* A closed worker is -1, which poll() skips. */
	for (unsigned int i = 0; i < n; i++)
		pfd[i] = (struct pollfd){ .fd = rlb_group_fd(g, i), .events = POLLIN };
	return n;
}

int rlbt_accepting_worker(struct rlb_group *g, int timeout_ms)
{
	struct pollfd pfd[RLB_MAX_WORKERS];
	unsigned int n = poll_workers(g, pfd);
	int ready, worker = -1, cfd, extra;

	if (!n)
		return -1;
	ready = poll(pfd, n, timeout_ms);
	if (ready == 0) {
		fprintf(stderr, "no worker received the connection within %d ms\n", timeout_ms);
		return -1;
	}
	if (ready < 0) {
		fprintf(stderr, "poll: %s\n", strerror(errno));
		return -1;
	}
	for (unsigned int i = 0; i < n; i++) {
		if (pfd[i].revents & POLLIN) {
			worker = i;
			break;
		}
	}
	if (worker < 0) {
		fprintf(stderr, "poll: a listener reports an error or hangup, not a connection\n");
		return -1;
	}
	if (ready > 1) {
		fprintf(stderr, "%d workers have a pending connection, expected one\n", ready);
		drain_listeners(pfd, n);
		return -1;
	}
	cfd = accept4(pfd[worker].fd, NULL, NULL, SOCK_CLOEXEC);
	if (cfd < 0) {
		fprintf(stderr, "accept on worker %d: %s\n", worker, strerror(errno));
		return -1;
	}
	close(cfd);
	extra = drain_listeners(pfd, n);
	if (extra) {
		fprintf(stderr, "%d more connection%s pending, expected one\n", extra,
			extra == 1 ? " was" : "s were");
		return -1;
	}
	return worker;
}

int rlbt_steer(struct rlb_group *g, int family, const char *src_addr, uint16_t src_port,
	       const char *dst_addr)
{
	int fd, worker;
	char c;
	ssize_t r;

	fd = rlbt_connect(family, src_addr, src_port, dst_addr, rlb_group_port(g));
	if (fd < 0) {
		fprintf(stderr, "connect %s:%u from %s:%u: %s\n", dst_addr, rlb_group_port(g),
			src_addr ? src_addr : "*", src_port, strerror(-fd));
		return -1;
	}
	worker = rlbt_accepting_worker(g, RLBT_TIMEOUT_MS);
	if (worker >= 0) {
		/* The worker closed its end: a healthy connection reads EOF, a broken one reset. */
		r = read(fd, &c, 1);
		if (r != 0) {
			fprintf(stderr, "worker %d took the connection but the client read %s\n",
				worker, r < 0 ? strerror(errno) : "data");
			worker = -1;
		}
	}
	close(fd);
	return worker;
}

int rlbt_steer_reset(struct rlb_group *g, int family, const char *src_addr, uint16_t src_port,
		     const char *dst_addr)
{
	struct linger reset = { .l_onoff = 1, .l_linger = 0 };
	struct pollfd pfd[RLB_MAX_WORKERS];
	unsigned int n = poll_workers(g, pfd);
	int fd, cfd = -1, worker = -1, ready;
	char c;

	if (!n)
		return -1;
	fd = rlbt_connect(family, src_addr, src_port, dst_addr, rlb_group_port(g));
	if (fd < 0) {
		fprintf(stderr, "connect to %s: %s\n", dst_addr, strerror(-fd));
		return -1;
	}
	ready = poll(pfd, n, RLBT_TIMEOUT_MS);
	for (unsigned int i = 0; i < n && ready == 1; i++)
		if (pfd[i].revents & POLLIN)
			worker = i;
	if (worker < 0) {
		fprintf(stderr, "%d workers have the connection to %s, want 1\n", ready, dst_addr);
		goto out;
	}
	cfd = accept4(pfd[worker].fd, NULL, NULL, SOCK_CLOEXEC);
	if (cfd < 0 || write(cfd, "w", 1) != 1 || read(fd, &c, 1) != 1) {
		fprintf(stderr, "worker %d did not serve the connection: %s\n", worker,
			strerror(errno));
		worker = -1;
		goto out;
	}
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &reset, sizeof(reset));
	close(fd);
	fd = -1;
	pfd[0] = (struct pollfd){ .fd = cfd, .events = POLLIN };
	if (poll(pfd, 1, RLBT_TIMEOUT_MS) != 1 || read(cfd, &c, 1) >= 0 || errno != ECONNRESET) {
		fprintf(stderr, "worker %d never saw the client's reset\n", worker);
		worker = -1;
	}
out:
	if (fd >= 0)
		close(fd);
	if (cfd >= 0)
		close(cfd);
	return worker;
}

int rlbt_rotation(struct rlb_group *g, rlbt_steer_fn *steer, int family, const char *src_addr,
		  const char *dst_addr, int nr, struct rlbt_turns *t)
{
	unsigned int n = rlb_group_nr_workers(g);
	struct rlbt_turns turns = { .first = -1, .next = -1 };
	int off = 0;

	if (!dst_addr)
		dst_addr = family == AF_INET6 ? "::1" : "127.0.0.1";
	if (!n || n > RLB_MAX_WORKERS)
		return -1;
	for (int i = 0; i < nr; i++) {
		int w = steer(g, family, src_addr, 0, dst_addr);

		if (w < 0 || w >= (int)n) {
			fprintf(stderr, "connection %d to %s reached no single worker\n", i,
				dst_addr);
			return -1;
		}
		if (i == 0)
			turns.first = w;
		turns.counts[w]++;
		if (w != (int)((turns.first + i) % n) && off++ == 0)
			fprintf(stderr,
				"connection %d to %s reached worker %d, the rotation says %d\n", i,
				dst_addr, w, (turns.first + i) % n);
	}
	if (nr > 0)
		turns.next = (turns.first + nr) % n;
	if (t)
		*t = turns;
	return off;
}

/* Reads every datagram waiting on the polled sockets; returns how many. */
static int drain_datagrams(struct pollfd *pfd, unsigned int n)
{
	char buf[2048];
	int drained = 0;

	for (int round = 0; round < 1024; round++) {
		int got = 0;

		for (unsigned int i = 0; i < n; i++) {
			if (pfd[i].fd >= 0 && recv(pfd[i].fd, buf, sizeof(buf), MSG_DONTWAIT) >= 0)
				got++;
		}
		if (!got)
			break;
		drained += got;
	}
	return drained;
}

int rlbt_udp_worker(struct rlb_group *g, int timeout_ms)
{
	struct pollfd pfd[RLB_MAX_WORKERS];
	unsigned int n = poll_workers(g, pfd);
	int ready, worker = -1, extra;
	char buf[2048];

	if (!n)
		return -1;
	ready = poll(pfd, n, timeout_ms);
	if (ready == 0) {
		fprintf(stderr, "no worker received the datagram within %d ms\n", timeout_ms);
		return -1;
	}
	if (ready < 0) {
		fprintf(stderr, "poll: %s\n", strerror(errno));
		return -1;
	}
	for (unsigned int i = 0; i < n && worker < 0; i++)
		if (pfd[i].revents & POLLIN)
			worker = i;
	if (worker < 0 || recv(pfd[worker].fd, buf, sizeof(buf), MSG_DONTWAIT) < 0) {
		fprintf(stderr, "no datagram to read on any worker\n");
		return -1;
	}
	extra = drain_datagrams(pfd, n);
	if (ready > 1 || extra) {
		fprintf(stderr, "%d more datagram%s waiting, expected one\n", extra,
			extra == 1 ? " was" : "s were");
		return -1;
	}
	return worker;
}
