// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * UDP groups: round-robin over the flows, and a flow's datagrams stay on the worker that had
 * its first one (the program remembers UDP flows: config flag RLB_CFG_FLOWS). Once on
 * 127.0.0.1, once on ::1.
 *
 * 1. Open a UDP group of 4 workers (rlb_group_opts.udp), ephemeral port, policy round-robin.
 *    Its config (read from the kernel) carries RLB_CFG_FLOWS.
 * 2. 40 flows, each a connected client socket with its own ephemeral port, send one datagram
 *    each, one after the other: flow i reaches worker (start + i) % 4, where start is flow 0's
 *    worker, so each worker has exactly 10 flows.
 * 3. Five more rounds over the 40 flows, interleaved: every datagram reaches its flow's
 *    worker.
 * 4. 4 new flows continue the rotation where step 2 left it (turns 40 .. 43): the 200
 *    datagrams of known flows took no turn.
 * 5. Close worker 1. Its 11 flows (10 of step 2, 1 of step 4) send again: not one datagram
 *    is lost; each flow takes the next turn of the rotation (44, 45, ...), and a turn of the
 *    closed worker is skipped. Two more rounds of all flows: those stay on their new
 *    workers, and the other flows keep theirs.
 * 6. The program's counters agree: each slot's steered count is the number of datagrams its
 *    worker received, no fallback (a skipped turn is no failed choice), nothing unsteered.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "rlbtest.h"

#define NR_WORKERS 4
#define NR_FLOWS 40
#define NR_NEW 4
#define NR_ROUNDS 5
#define CLOSED 1

struct flow {
	int fd, worker;
};

struct run {
	const char *addr;
	int family;
	struct rlb_group *g;
	struct flow flows[NR_FLOWS + NR_NEW];
	int received[NR_WORKERS];
	int start; /* worker of turn 0 */
};

static int open_udp_group(struct run *r)
{
	struct rlb_group_opts opts = {
		.addr = r->addr,
		.udp = true,
		.nr_workers = NR_WORKERS,
		.policy = RLB_POLICY_ROUND_ROBIN,
	};
	int err = rlb_group_open(&opts, &r->g);

	if (err)
		fprintf(stderr, "rlb_group_open(udp %s): %s: %s\n", r->addr, strerror(-err),
			rlb_last_error());
	return err;
}

/* A client socket connected to the group: one flow, from an ephemeral port. */
static int flow_socket(struct run *r)
{
	struct sockaddr_storage ss = {};
	socklen_t len;
	int fd;

	if (r->family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(rlb_group_port(r->g));
		inet_pton(AF_INET, r->addr, &sin->sin_addr);
		len = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(rlb_group_port(r->g));
		inet_pton(AF_INET6, r->addr, &sin6->sin6_addr);
		len = sizeof(*sin6);
	}
	fd = socket(r->family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&ss, len)) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

/* One datagram of flow f: the worker that received it, or -1. */
static int send_one(struct run *r, int f)
{
	char msg[32];
	int n = snprintf(msg, sizeof(msg), "flow %d", f), w;

	if (send(r->flows[f].fd, msg, n, 0) != n) {
		fprintf(stderr, "send on flow %d: %s\n", f, strerror(errno));
		return -1;
	}
	w = rlbt_udp_worker(r->g, RLBT_TIMEOUT_MS);
	if (w >= 0)
		r->received[w]++;
	return w;
}

/* The worker of turn t of the rotation, with worker `closed` out of it (-1: none). */
static int turn(const struct run *r, int t)
{
	return (r->start + t) % NR_WORKERS;
}

static void test_family(struct run *r)
{
	int per[NR_WORKERS] = {}, wrong = 0, t = 0, err;
	struct rlb_group_stats st;
	struct rlb_config cfg;

	for (int f = 0; f < NR_FLOWS + NR_NEW; f++)
		r->flows[f].fd = -1;
	/* 1 */
	if (!CHECK(!open_udp_group(r), "cannot open the group on %s", r->addr))
		return;
	err = rlbt_group_config(r->g, &cfg);
	if (!CHECK(!err, "cannot read the config map: %s", strerror(-err)))
		return;
	CHECK(cfg.flags & RLB_CFG_FLOWS, "%s: config.flags %#x lacks RLB_CFG_FLOWS", r->addr,
	      cfg.flags);
	for (int f = 0; f < NR_FLOWS + NR_NEW; f++) {
		r->flows[f].fd = flow_socket(r);
		if (!CHECK(r->flows[f].fd >= 0, "flow socket %d: %s", f, strerror(-r->flows[f].fd)))
			return;
	}

	/* 2 */
	for (int f = 0; f < NR_FLOWS; f++, t++) {
		int w = send_one(r, f);

		if (!CHECK(w >= 0, "%s: flow %d's first datagram reached no single worker", r->addr,
			   f))
			return;
		if (f == 0)
			r->start = w;
		r->flows[f].worker = w;
		per[w]++;
		CHECK(w == turn(r, t), "%s: flow %d reached worker %d, its turn is worker %d",
		      r->addr, f, w, turn(r, t));
	}
	for (int w = 0; w < NR_WORKERS; w++)
		CHECK(per[w] == NR_FLOWS / NR_WORKERS, "%s: worker %d has %d flows, want %d",
		      r->addr, w, per[w], NR_FLOWS / NR_WORKERS);

	/* 3 */
	for (int round = 0; round < NR_ROUNDS; round++)
		for (int f = 0; f < NR_FLOWS; f++)
			wrong += send_one(r, f) != r->flows[f].worker;
	CHECK(!wrong, "%s: %d of %d datagrams of known flows left their worker", r->addr, wrong,
	      NR_ROUNDS * NR_FLOWS);

	/* 4 */
	for (int f = NR_FLOWS; f < NR_FLOWS + NR_NEW; f++, t++) {
		r->flows[f].worker = send_one(r, f);
		CHECK(r->flows[f].worker == turn(r, t),
		      "%s: new flow %d reached worker %d, turn %d is worker %d", r->addr, f,
		      r->flows[f].worker, t, turn(r, t));
	}

	/* 5 */
	err = rlb_group_close_worker(r->g, CLOSED);
	if (!CHECK(!err, "rlb_group_close_worker(%d): %s: %s", CLOSED, strerror(-err),
		   rlb_last_error()))
		return;
	for (int f = 0; f < NR_FLOWS + NR_NEW; f++) {
		int w, want;

		if (r->flows[f].worker != CLOSED)
			continue;
		while (turn(r, t) == CLOSED)
			t++;
		want = turn(r, t++);
		w = send_one(r, f);
		CHECK(w == want, "%s: flow %d of closed worker %d reached worker %d, want %d",
		      r->addr, f, CLOSED, w, want);
		r->flows[f].worker = w;
	}
	wrong = 0;
	for (int round = 0; round < 2; round++)
		for (int f = 0; f < NR_FLOWS + NR_NEW; f++)
			wrong += send_one(r, f) != r->flows[f].worker;
	CHECK(!wrong, "%s: after the close, %d datagrams left their flow's worker", r->addr, wrong);

	/* 6 */
	err = rlb_ctl_read(rlb_group_ctl(r->g), &st);
	if (!CHECK(!err, "rlb_ctl_read: %s: %s", strerror(-err), rlb_last_error()))
		return;
	for (int w = 0; w < NR_WORKERS; w++)
		CHECK(st.workers[w].steered == (uint64_t)r->received[w] &&
			      st.workers[w].fallback == 0,
		      "%s: stats of slot %d: steered %llu, fallback %llu; want %d, 0", r->addr, w,
		      (unsigned long long)st.workers[w].steered,
		      (unsigned long long)st.workers[w].fallback, r->received[w]);
	CHECK(!st.unsteered, "%s: %llu datagrams unsteered", r->addr,
	      (unsigned long long)st.unsteered);
	printf("%s: %d flows %d/%d/%d/%d from worker %d on; datagrams received %d/%d/%d/%d\n",
	       r->addr, NR_FLOWS, per[0], per[1], per[2], per[3], r->start, r->received[0],
	       r->received[1], r->received[2], r->received[3]);
}

static void close_run(struct run *r)
{
	for (int f = 0; f < NR_FLOWS + NR_NEW; f++)
		if (r->flows[f].fd >= 0)
			close(r->flows[f].fd);
	rlb_group_close(r->g);
}

int main(void)
{
	static struct run v4 = { .addr = "127.0.0.1", .family = AF_INET };
	static struct run v6 = { .addr = "::1", .family = AF_INET6 };

	rlbt_require_root();
	test_family(&v4);
	close_run(&v4);
	test_family(&v6);
	close_run(&v6);
	return rlbt_finish();
}
