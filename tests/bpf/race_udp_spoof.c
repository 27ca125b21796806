// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Spoofed sources cannot move real UDP flows in a rolling restart. A flow's first datagram is
 * remembered in "flows_new"; its second promotes it into "flows". A flood of one-datagram
 * sources (free to an attacker who spoofs them) turns over flows_new only, so a flow that has
 * answered stays with the old instance for as long as that one serves it.
 *
 * The kernel's LRU already spares an entry looked up again while such entries fill less than
 * half the table (its active list is rotated only once it outgrows the inactive one). A table
 * sized for its load (serve --flow-table: new flows per second x timeout) is fuller than that
 * with real flows, so the test fills 5/8 of it with them.
 *
 * 1. A: "$REUSELB serve -a 127.0.0.1 -p PORT --udp --mode echo -w 2 --name spoof-PID
 *    --flow-timeout 60 --grace 120 --flow-table TABLE".
 * 2. NR_REAL flows, from source addresses 127.0.0.2 and up (IP_PKTINFO on one socket; the
 *    answer's destination names its flow), send HELLO datagrams each, every one echoed (by A,
 *    the only instance so far).
 * 3. B: the same command with --takeover and --mode id, so an answer names its instance: B
 *    says "worker N", A echoes. From B's ready line on, new flows go to B.
 * 4. While A waits for its flows to go quiet (they are, for the length of the flood), FLOOD
 *    sources 127.1.0.0 and up (IP_PKTINFO, sendmmsg) send one datagram each, many times the
 *    table. The program steered at least twice the table's size of them to B (the rest, if
 *    any, the loopback backlog dropped before the program ran). The rate is printed.
 * 5. Each real flow sends one datagram more: every one is echoed, by A. Flows moved: 0.
 * 6. A flow new after the flood (127.2.0.1) is answered by B, twice.
 * 7. SIGTERM to B, then to A: both exit 0.
 *
 * Without the new/assured split (a flow remembered in "flows" from its first datagram) step 5
 * fails: the flood takes the table from the quiet real flows, and their next datagram goes to
 * B.
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

#define TABLE 4096
#define TABLE_S "4096"
#define NR_REAL (TABLE / 8 * 5)
#define HELLO 2
#define FLOOD 200000
/* the real flows' source addresses: 127.0.0.2 and up */
#define REAL_ADDR 0x7f000002u
/* datagrams a sendmmsg() call sends */
#define BATCH 256
#define ANSWER_MS 2000

/* The late flow: a UDP socket from src, connected to the group. Returns it or -errno. */
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

/* A datagram of real flow i from its own address (IP_PKTINFO). Returns 0 or -errno. */
static int real_send(int fd, uint16_t port, int i, int n)
{
	struct sockaddr_in dst = { .sin_family = AF_INET, .sin_port = htons(port) };
	char cbuf[CMSG_SPACE(sizeof(struct in_pktinfo))] = {}, msg[32];
	struct iovec iov = { .iov_base = msg };
	struct msghdr m = { .msg_name = &dst,
			    .msg_namelen = sizeof(dst),
			    .msg_iov = &iov,
			    .msg_iovlen = 1,
			    .msg_control = cbuf,
			    .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *cm = CMSG_FIRSTHDR(&m);
	struct in_pktinfo pi = {};

	iov.iov_len = snprintf(msg, sizeof(msg), "real %d datagram %d", i, n);
	dst.sin_addr.s_addr = htonl(0x7f000001);
	cm->cmsg_level = IPPROTO_IP;
	cm->cmsg_type = IP_PKTINFO;
	cm->cmsg_len = CMSG_LEN(sizeof(pi));
	pi.ipi_spec_dst.s_addr = htonl(REAL_ADDR + (uint32_t)i);
	memcpy(CMSG_DATA(cm), &pi, sizeof(pi));
	return sendmsg(fd, &m, 0) == (ssize_t)iov.iov_len ? 0 : -errno;
}

/*
 * Reads answers until each of the flows first .. first + n - 1 has one in got[] (or for
 * ANSWER_MS nothing came): the answer's destination address names the flow.
 */
static void real_collect(int fd, int first, int n, enum answer *got)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	int missing = n;

	for (int i = first; i < first + n; i++)
		got[i] = LOST;
	while (missing && poll(&pfd, 1, ANSWER_MS) == 1) {
		char cbuf[CMSG_SPACE(sizeof(struct in_pktinfo))], answer[64];
		struct iovec iov = { .iov_base = answer, .iov_len = sizeof(answer) - 1 };
		struct msghdr m = { .msg_iov = &iov,
				    .msg_iovlen = 1,
				    .msg_control = cbuf,
				    .msg_controllen = sizeof(cbuf) };
		struct cmsghdr *cm;
		ssize_t len = recvmsg(fd, &m, MSG_DONTWAIT);
		struct in_pktinfo pi;
		uint32_t i;

		cm = len > 0 ? CMSG_FIRSTHDR(&m) : NULL;
		if (!cm || cm->cmsg_level != IPPROTO_IP || cm->cmsg_type != IP_PKTINFO)
			continue;
		memcpy(&pi, CMSG_DATA(cm), sizeof(pi));
		i = ntohl(pi.ipi_addr.s_addr) - REAL_ADDR;
		if (i < (uint32_t)first || i >= (uint32_t)(first + n) || got[i] != LOST)
			continue;
		answer[len] = '\0';
		got[i] = !strncmp(answer, "real ", 5)	? BY_A :
			 !strncmp(answer, "worker ", 7) ? BY_B :
							  LOST;
		missing--;
	}
}

/* Datagram n of every real flow, in batches the socket's buffer holds the answers of. */
static void real_round(int fd, uint16_t port, int n, enum answer *got)
{
	for (int first = 0; first < NR_REAL; first += 128) {
		int count = NR_REAL - first < 128 ? NR_REAL - first : 128;

		for (int i = first; i < first + count; i++)
			real_send(fd, port, i, n);
		real_collect(fd, first, count, got);
	}
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
			       "--flow-table",
			       TABLE_S,
			       takeover ? "--takeover" : NULL,
			       NULL };
	int err = rlbt_serve_start_err(argv, -1, s);

	CHECK(!err, "serve --udp%s did not start: %s", takeover ? " --takeover" : "",
	      strerror(-err));
	return err;
}

/* The real flows' socket: answers to any 127.x address, with IP_PKTINFO. Returns it or -errno. */
static int real_socket(void)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), on = 1, size = 1 << 20;

	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size));
	if (setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &on, sizeof(on))) {
		on = -errno;
		close(fd);
		return on;
	}
	return fd;
}

/* How many of got[] are want. */
static int count(const enum answer *got, enum answer want)
{
	int n = 0;

	for (int i = 0; i < NR_REAL; i++)
		n += got[i] == want;
	return n;
}

int main(void)
{
	struct rlbt_server a = { .pid = -1, .out_fd = -1 }, b = a;
	static enum answer got[NR_REAL];
	int fd = -1, late = -1, portnum, moved, lost, status;
	struct rlbt_totals before = {}, after = {};
	char port[16], name[32];
	long sent, ms = 0;

	rlbt_require_root();
	portnum = rlbt_free_port(AF_INET, "127.0.0.1");
	if (!CHECK(portnum > 0, "no free port: %s", strerror(-portnum)))
		return rlbt_finish();
	snprintf(port, sizeof(port), "%d", portnum);
	snprintf(name, sizeof(name), "spoof-%d", getpid());

	/* 1. and 2. */
	if (start(port, name, false, &a))
		goto out;
	fd = real_socket();
	if (!CHECK(fd >= 0, "cannot open the real flows' socket: %s", strerror(-fd)))
		goto out;
	for (int n = 0; n < HELLO; n++) {
		real_round(fd, portnum, n, got);
		if (!CHECK(count(got, BY_A) == NR_REAL,
			   "datagram %d: %d of %d real flows echoed by A", n, count(got, BY_A),
			   NR_REAL))
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
	real_round(fd, portnum, HELLO, got);
	moved = count(got, BY_B);
	lost = count(got, LOST);
	printf("real flows: %d of %d moved to the new instance, %d unanswered (flow table %d)\n",
	       moved, NR_REAL, lost, TABLE);
	CHECK(moved == 0, "%d of %d real flows moved to B during the flood", moved, NR_REAL);
	CHECK(lost == 0, "%d of %d real flows got no answer", lost, NR_REAL);

	/* 6. */
	late = flow_open("127.2.0.1", portnum);
	if (CHECK(late >= 0, "cannot open the late flow: %s", strerror(-late)))
		for (int n = 0; n < 2; n++)
			CHECK(ask(late, NR_REAL, n) == BY_B, "the late flow's datagram %d: not B",
			      n);

	/* 7. */
	status = rlbt_serve_stop(&b);
	CHECK(status == 0, "B exited with %d after SIGTERM", status);
	status = rlbt_serve_stop(&a);
	CHECK(status == 0, "A exited with %d after SIGTERM", status);
out:
	if (fd >= 0)
		close(fd);
	if (late >= 0)
		close(late);
	rlbt_serve_free(&a);
	rlbt_serve_free(&b);
	return rlbt_finish();
}
