// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The owner holds copies of its successor's listeners until it no longer needs them.
 *
 * A process that dies closes its listeners at once, and a handshake that completes on one of
 * them at that very instant is reset by the kernel: inet_csk_complete_hashdance() finds the
 * listener closed, forgets the new child and sends a reset, and nothing migrates it (Linux
 * 6.18; seen with a successor killed under 2 000 connections/s). Requests still in the queues
 * migrate; that one does not. So a successor, once its TCP listeners are bound and before
 * they can be chosen, sends copies of them to the owner (SCM_RIGHTS over a unix socket named
 * after the group and the owner's pid). If the successor dies, its listeners stay open in the
 * owner until config points at the owner's generation again and the handshakes steered to
 * them have completed; then the owner closes them, and their queues migrate to its own.
 *
 * The owner lets go of the copies as soon as they are not needed: when the successor takes
 * the group (handover), is rolled back, or sends a new set (it closed a worker's listener:
 * the copy must not keep that one open).
 */
#define _GNU_SOURCE /* accept4, struct ucred */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include "internal.h"

/* Long enough for a handshake steered to a listener just before the undo to complete. */
#define HOLD_QUIET_MS 20
#define HOLD_MAGIC "reuselb-hold"

static socklen_t hold_addr(struct sockaddr_un *sun, const char *name, int pid)
{
	int len;

	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	/* abstract (sun_path[0] is '\0'): nothing in the file system to clean up */
	len = snprintf(sun->sun_path + 1, sizeof(sun->sun_path) - 1, "reuselb/%s/%d", name, pid);
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)len);
}

int rlb_hold_open(struct rlb_group *g)
{
	struct sockaddr_un sun;
	socklen_t len = hold_addr(&sun, g->name, getpid());
	int fd, err;

	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return rlb_error(-errno, "cannot open a unix socket: %s", strerror(errno));
	if (bind(fd, (struct sockaddr *)&sun, len) || listen(fd, 8)) {
		err = -errno;
		close(fd);
		return rlb_error(err,
				 "cannot listen on the unix socket @%s, where a successor hands "
				 "over its listeners: %s",
				 sun.sun_path + 1, strerror(-err));
	}
	g->hold_fd = fd;
	return 0;
}

/* The connected peer's pid, or -errno. */
static int peer_pid(int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len))
		return -errno;
	return cred.pid;
}

/* Whether fd is a listening socket (a closed worker's number may name a connection now). */
static bool listening(int fd)
{
	int on = 0;
	socklen_t len = sizeof(on);

	return !getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &on, &len) && on;
}

/* Sends our open listeners to g->predecessor over fd, connected. Hold hold_lock. */
static int give(struct rlb_group *g, int fd, const char *addr)
{
	char cbuf[CMSG_SPACE(sizeof(int) * RLB_MAX_WORKERS)] = {};
	struct iovec iov = { .iov_base = HOLD_MAGIC, .iov_len = sizeof(HOLD_MAGIC) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf };
	struct cmsghdr *cm = (struct cmsghdr *)cbuf;
	unsigned int nr = 0;
	int pid;

	/* an abstract name is anyone's to take: give our listeners to the owner only */
	pid = peer_pid(fd);
	if (pid != g->predecessor)
		return rlb_error(-EPERM, "@%s is held by pid %d, not by pid %d, the owner", addr,
				 pid, g->predecessor);
	for (unsigned int i = 0; i < g->opts.nr_workers; i++) {
		if (g->fds[i] >= 0 && listening(g->fds[i]))
			memcpy(CMSG_DATA(cm) + nr++ * sizeof(int), &g->fds[i], sizeof(int));
	}
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int) * nr);
	msg.msg_controllen = nr ? CMSG_SPACE(sizeof(int) * nr) : 0;
	if (sendmsg(fd, &msg, MSG_NOSIGNAL) < 0)
		return rlb_error(-errno, "cannot send to @%s: %s", addr, strerror(errno));
	return 0;
}

int rlb_hold_give(struct rlb_group *g)
{
	struct sockaddr_un sun;
	socklen_t len = hold_addr(&sun, g->name, g->predecessor);
	int fd, err;

	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return rlb_error(-errno, "cannot open a unix socket: %s", strerror(errno));
	if (connect(fd, (struct sockaddr *)&sun, len)) {
		err = rlb_error(-errno, "cannot reach @%s: %s", sun.sun_path + 1, strerror(errno));
	} else {
		/* one set at a time: the owner keeps the last it got */
		pthread_mutex_lock(&g->hold_lock);
		err = give(g, fd, sun.sun_path + 1);
		pthread_mutex_unlock(&g->hold_lock);
	}
	/* what was sent stays queued at the owner after this close, fds and all */
	close(fd);
	return err;
}

/* Closes the copies held for pid (all when pid is 0); after a pause if their sender is dead. */
static void let_go(struct rlb_group *g, int keep, int pid)
{
	const struct timespec quiet = { .tv_nsec = HOLD_QUIET_MS * 1000 * 1000L };
	unsigned int kept = 0;
	bool paused = false;

	for (unsigned int i = 0; i < g->nr_held; i++) {
		struct rlb_held h = g->held[i];

		if (h.pid == keep && h.pid != pid) {
			g->held[kept++] = h;
			continue;
		}
		/* a dead sender's listener closes with this copy: its handshakes finish first */
		if (!paused && !rlb_pid_alive(h.pid)) {
			nanosleep(&quiet, NULL);
			paused = true;
		}
		close(h.fd);
	}
	g->nr_held = kept;
}

/* Takes one message of a successor: its listeners, which replace what it sent before. */
static void take(struct rlb_group *g, int conn, int keep)
{
	char cbuf[CMSG_SPACE(sizeof(int) * RLB_MAX_WORKERS)], data[sizeof(HOLD_MAGIC)] = {};
	struct iovec iov = { .iov_base = data, .iov_len = sizeof(data) };
	struct msghdr msg = { .msg_iov = &iov,
			      .msg_iovlen = 1,
			      .msg_control = cbuf,
			      .msg_controllen = sizeof(cbuf) };
	int pid = peer_pid(conn), nr = 0, fds[RLB_MAX_WORKERS];
	struct cmsghdr *cm;
	ssize_t n;
	bool ours;

	n = recvmsg(conn, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	if (n < 0)
		return;
	for (cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
		int got = (int)((cm->cmsg_len - CMSG_LEN(0)) / sizeof(int));

		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		for (int i = 0; i < got; i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(cm) + (size_t)i * sizeof(int), sizeof(int));
			if (nr < RLB_MAX_WORKERS)
				fds[nr++] = fd;
			else
				close(fd);
		}
	}
	/* only the live successor's current set is worth holding; anything else goes at once */
	ours = pid > 0 && pid == keep && n == (ssize_t)sizeof(data) &&
	       !memcmp(data, HOLD_MAGIC, sizeof(data));
	let_go(g, keep, pid);
	for (int i = 0; i < nr; i++) {
		if (ours && g->nr_held < RLB_HELD_MAX)
			g->held[g->nr_held++] = (struct rlb_held){ .fd = fds[i], .pid = pid };
		else
			close(fds[i]);
	}
}

void rlb_hold_sweep(struct rlb_group *g, int keep)
{
	int conn;

	if (g->hold_fd < 0)
		return;
	while ((conn = accept4(g->hold_fd, NULL, NULL, SOCK_CLOEXEC)) >= 0) {
		take(g, conn, keep);
		close(conn);
	}
	let_go(g, keep, 0);
}

void rlb_hold_close(struct rlb_group *g)
{
	for (unsigned int i = 0; i < g->nr_held; i++)
		close(g->held[i].fd);
	g->nr_held = 0;
	if (g->hold_fd >= 0)
		close(g->hold_fd);
	g->hold_fd = -1;
}

int rlb_group_hold_error(const struct rlb_group *g)
{
	return g->hold_err;
}
