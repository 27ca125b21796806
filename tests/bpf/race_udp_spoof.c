// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Spoofed sources cannot move real UDP flows in a rolling restart. A flow's first datagram is
 * remembered in "flows_new"; its second promotes it into "flows". A flood of one-datagram
 * sources (free to an attacker who spoofs them) turns over flows_new only, so a flow that has
 * answered stays with the old instance for as long as that one serves it.
 *
 * 1. A: "$REUSELB serve -a 127.0.0.1 -p PORT --udp --mode echo -w 2 --name spoof-PID
 *    --flow-timeout 60 --grace 120" (flow table: the default 65 536).
 * 2. NR_REAL flows, connected sockets from 127.0.0.2 with ports of their own, send
 *    HELLO datagrams each, every one echoed (by A: the only instance so far).
 * 3. B: the same command with --takeover and --mode id, so an answer names its instance: B
 *    says "worker N", A echoes. From B's ready line on, new flows go to B.
 * 4. While A waits for its flows to go quiet (they are, for the length of the flood), FLOOD
 *    sources 127.1.0.0 and up (IP_PKTINFO on one socket, sendmmsg) send one datagram each: three
 *    times the flow table. The program steered at least twice the table's size of them to B
 *    (the rest, if any, the loopback backlog dropped before any lookup). The rate is printed.
 * 5. Each real flow sends one datagram more: every one is echoed, by A. Flows moved: 0.
 * 6. A flow new after the flood (127.0.0.3) is answered by B, twice.
 * 7. SIGTERM to B, then to A: both exit 0.
 *
 * Without the new/assured split (a flow remembered in "flows" from its first datagram) step 5
 * fails: the flood evicts the quiet real flows, and their next datagram goes to B.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "rlbtest.h"

#define NR_REAL 32
#define HELLO 3
#define FLOOD 200000
#define TABLE 65536
/* datagrams a sendmmsg() call sends */
#define BATCH 256
#define ANSWER_MS 2000

/* A flow: a UDP socket from src, its own port, connected to the group. Returns it or -errno. */
static int flow_open(const char *src, uint16_t port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), err;

	if (fd < 0)
		return -errno;
	inet_pton(AF_INET, src, &sin.sin_addr);
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)))
		goto fail;
	sin.sin_port = htons(port);
	inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)))
		goto fail;
	return fd;
fail:
	err = -errno;
	close(fd);
	return err;
}

enum answer { LOST, BY_A, BY_B };

/* One datagram: echoed (A), "worker N" (B), or nothing within ANSWER_MS. */
static enum answer ask(int fd, int i, int n)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	char msg[32], answer[64];
	int len = snprintf(msg, sizeof(msg), "flow %d datagram %d", i, n);
	ssize_t got;

	if (send(fd, msg, len, 0) != len || poll(&pfd, 1, ANSWER_MS) != 1)
		return LOST;
	got = recv(fd, answer, sizeof(answer) - 1, 0);
	if (got <= 0)
		return LOST;
	answer[got] = '\0';
	if (got == len && !memcmp(answer, msg, len))
		return BY_A;
	return !strncmp(answer, "worker ", 7) ? BY_B : LOST;
}

/*
 * FLOOD datagrams, each from a source address of its own (127.1.0.0 + i) and the same port:
 * a new flow each. Returns the number sent; *ms is how long it took.
 */
static long flood(uint16_t port, long *ms)
{
	static struct mmsghdr msgs[BATCH];
	static char cbufs[BATCH][CMSG_SPACE(sizeof(struct in_pktinfo))];
	struct sockaddr_in dst = { .sin_family = AF_INET, .sin_port = htons(port) };
	struct iovec iov = { .iov_base = "s", .iov_len = 1 };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), small = 4096;
	long sent = 0, start = rlbt_now_ms();

	if (fd < 0)
		return 0;
	/* B answers every one: a small buffer drops the answers, nobody reads them */
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	inet_pton(AF_INET, "127.0.0.1", &dst.sin_addr);
	while (sent < FLOOD) {
		int n = FLOOD - sent < BATCH ? FLOOD - sent : BATCH, done;

		for (int i = 0; i < n; i++) {
			struct msghdr *m = &msgs[i].msg_hdr;
			struct cmsghdr *cm;
			struct in_pktinfo pi = {};

			memset(cbufs[i], 0, sizeof(cbufs[i]));
			*m = (struct msghdr){ .msg_name = &dst,
					      .msg_namelen = sizeof(dst),
					      .msg_iov = &iov,
					      .msg_iovlen = 1,
					      .msg_control = cbufs[i],
					      .msg_controllen = sizeof(cbufs[i]) };
			cm = CMSG_FIRSTHDR(m);
			cm->cmsg_level = IPPROTO_IP;
			cm->cmsg_type = IP_PKTINFO;
			cm->cmsg_len = CMSG_LEN(sizeof(pi));
			/* 127.1.0.0 and up: never 127.0.0.x, the real flows' addresses */
			pi.ipi_spec_dst.s_addr = htonl(0x7f010000 + (uint32_t)(sent + i));
			memcpy(CMSG_DATA(cm), &pi, sizeof(pi));
		}
		done = sendmmsg(fd, msgs, n, 0);
		if (done <= 0) {
			if (done < 0 && errno != ENOBUFS && errno != EAGAIN && errno != EINTR)
				break;
			continue;
		}
		sent += done;
	}
	*ms = rlbt_now_ms() - start;
	close(fd);
	return sent;
}

static int start(const char *port, const char *name, bool takeover, struct rlbt_server *s)
{
	const char *argv[] = { "serve",
			       "-a",
			       "127.0.0.1",
			       "-p",
			       port,
			       "--udp",
			       "--mode",
			       takeover ? "id" : "echo",
			       "-w",
			       "2",
			       "--name",
			       name,
			       "--flow-timeout",
			       "60",
			       "--grace",
			       "120",
			       takeover ? "--takeover" : NULL,
			       NULL };
	int err = rlbt_serve_start_err(argv, -1, s);

	CHECK(!err, "serve --udp%s did not start: %s", takeover ? " --takeover" : "",
	      strerror(-err));
	return err;
}

int main(void)
{
	struct rlbt_server a = { .pid = -1, .out_fd = -1 }, b = a;
	int fds[NR_REAL], late = -1, portnum, moved = 0, lost = 0, status;
	struct rlbt_totals before = {}, after = {};
	char port[16], name[32];
	long sent, ms = 0;

	rlbt_require_root();
	for (int i = 0; i < NR_REAL; i++)
		fds[i] = -1;
	portnum = rlbt_free_port(AF_INET, "127.0.0.1");
	if (!CHECK(portnum > 0, "no free port: %s", strerror(-portnum)))
		return rlbt_finish();
	snprintf(port, sizeof(port), "%d", portnum);
	snprintf(name, sizeof(name), "spoof-%d", getpid());

	/* 1. and 2. */
	if (start(port, name, false, &a))
		goto out;
	for (int i = 0; i < NR_REAL; i++) {
		fds[i] = flow_open("127.0.0.2", portnum);
		if (!CHECK(fds[i] >= 0, "cannot open flow %d: %s", i, strerror(-fds[i])))
			goto out;
		for (int n = 0; n < HELLO; n++)
			if (!CHECK(ask(fds[i], i, n) == BY_A, "flow %d: datagram %d not echoed by A",
				   i, n))
				goto out;
	}

	/* 3. */
	if (start(port, name, true, &b))
		goto out;

	/* 4. */
	if (!CHECK(!rlbt_group_totals(name, &before), "cannot read the group's counters"))
		goto out;
	sent = flood(portnum, &ms);
	CHECK(!rlbt_group_totals(name, &after), "cannot read the group's counters");
	printf("flood: %ld one-datagram sources in %ld ms (%.0f/s); the program steered %llu of "
	       "them to B\n",
	       sent, ms, ms ? sent * 1000.0 / ms : 0.0,
	       (unsigned long long)(after.steered - before.steered));
	CHECK(sent == FLOOD, "the flood sent %ld of %d datagrams", sent, FLOOD);
	CHECK(after.steered - before.steered >= 2 * TABLE,
	      "only %llu flood datagrams reached the program, want %d (twice the flow table)",
	      (unsigned long long)(after.steered - before.steered), 2 * TABLE);

	/* 5. */
	for (int i = 0; i < NR_REAL; i++) {
		enum answer w = ask(fds[i], i, HELLO);

		moved += w == BY_B;
		lost += w == LOST;
	}
	printf("real flows: %d of %d moved to the new instance, %d unanswered\n", moved, NR_REAL,
	       lost);
	CHECK(moved == 0, "%d of %d real flows moved to B during the flood", moved, NR_REAL);
	CHECK(lost == 0, "%d of %d real flows got no answer", lost, NR_REAL);

	/* 6. */
	late = flow_open("127.0.0.3", portnum);
	if (CHECK(late >= 0, "cannot open the late flow: %s", strerror(-late)))
		for (int n = 0; n < 2; n++)
			CHECK(ask(late, NR_REAL, n) == BY_B, "the late flow's datagram %d: not B", n);

	/* 7. */
	status = rlbt_serve_stop(&b);
	CHECK(status == 0, "B exited with %d after SIGTERM", status);
	status = rlbt_serve_stop(&a);
	CHECK(status == 0, "A exited with %d after SIGTERM", status);
out:
	for (int i = 0; i < NR_REAL; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	if (late >= 0)
		close(late);
	rlbt_serve_free(&a);
	rlbt_serve_free(&b);
	return rlbt_finish();
}
