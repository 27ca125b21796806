// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The queue policy's order: the shortest accept queue first; among equal queues, the load the
 * workers report (connections open, requests in progress: a worker that accepted its
 * connection and is busy with it keeps an empty queue); among equals of both, in turn. Run as
 * probed (the program reads the queues) and with REUSELB_PROBE_DISABLE=queue_kfuncs (the
 * owner's poller writes them; the test waits for its next reading after each connection, so
 * that each choice is made on fresh depths). Each way runs in a process of its own.
 *
 * 1. 2 workers on 127.0.0.1, ephemeral port, policy round-robin: connections alternate, and
 *    worker 0 keeps its HELD (accepted and reported open, as serve does), worker 1 closes its
 *    own. Policy queue: both queues empty, worker 0 holds HELD open, worker 1 none: the next
 *    NR_CONNS (each accepted, reported and closed) all go to worker 1.
 * 2. The queue comes first: one more connection goes to worker 1 and stays in its accept
 *    queue (sock_diag shows 1). Worker 0 still holds HELD open: the next NR_CONNS all go to
 *    worker 0, and worker 1's queue is still 1 after them.
 * 3. Worker 1 accepts its queued connection and worker 0 closes its HELD: all equal again,
 *    and the next NR_CONNS alternate, NR_CONNS / 2 each.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "rlbtest.h"

#define NR_WORKERS 2
#define HELD 3
#define NR_CONNS 100

struct held {
	int client;
	int server;
};

struct ctx {
	struct rlb_group *g;
	struct rlb_load *load; /* the load map, mapped: the poller's stamps */
	bool polled;	       /* the owner's poller writes the depths */
	struct held held[HELD];
	int nr_held;
	int parked; /* the client of the connection left in worker 1's queue, or -1 */
	int counts[NR_WORKERS];
};

static __u64 mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/* Waits until the poller has written every serving slot after after_ns; 0 or its stamp. */
static __u64 written_after(struct ctx *c, unsigned int base, __u64 after_ns)
{
	long end = rlbt_now_ms() + RLBT_TIMEOUT_MS;

	while (rlbt_now_ms() < end) {
		__u64 oldest = ~0ull;

		for (int w = 0; w < NR_WORKERS; w++) {
			__u64 at = __atomic_load_n(&c->load[base + w].depth_ns, __ATOMIC_ACQUIRE);

			oldest = at < oldest ? at : oldest;
		}
		if (oldest > after_ns)
			return oldest;
		usleep(200);
	}
	return 0;
}

/*
 * Polled depths: waits for a reading that began after now. The stamp is taken when a reading
 * ends, so the first one stamped after now may have seen a queue from before (a connection
 * not yet accepted; seen in the 6.1 guest under TCG); the one after it began later.
 */
static bool fresh_depths(struct ctx *c, __u64 now_ns)
{
	struct rlb_config cfg;
	__u64 at;

	if (!c->polled)
		return true;
	if (rlbt_group_config(c->g, &cfg))
		return false;
	at = written_after(c, cfg.base, now_ns);
	if (at)
		at = written_after(c, cfg.base, at);
	return CHECK(at, "the poller wrote no depths within %d ms", RLBT_TIMEOUT_MS);
}

static uint32_t queue_of(struct ctx *c, int w)
{
	struct rlb_queue q[RLB_MAX_WORKERS];

	if (rlb_group_read_queues(c->g, q) || !q[w].known)
		return ~0u;
	return q[w].queue;
}

/* Waits until sock_diag shows worker w's accept queue at want. */
static bool queue_is(struct ctx *c, int w, uint32_t want)
{
	long end = rlbt_now_ms() + RLBT_TIMEOUT_MS;

	while (rlbt_now_ms() < end) {
		if (queue_of(c, w) == want)
			return true;
		usleep(200);
	}
	return CHECK(false, "worker %d's queue is %u, want %u", w, queue_of(c, w), want);
}

/*
 * Accepts one connection from the first of workers 0..nr-1 that has one, reported accepted
 * as a server does. Returns the worker and its fd in *fd, or -1 when none came in time.
 */
static int accept_one(struct ctx *c, int nr, int *fd)
{
	long end = rlbt_now_ms() + RLBT_TIMEOUT_MS;

	while (rlbt_now_ms() < end) {
		struct pollfd pfd[NR_WORKERS];

		for (int w = 0; w < nr; w++)
			pfd[w] = (struct pollfd){ .fd = rlb_group_fd(c->g, w), .events = POLLIN };
		if (poll(pfd, nr, 10) <= 0)
			continue;
		for (int w = 0; w < nr; w++) {
			if (!(pfd[w].revents & POLLIN))
				continue;
			*fd = accept4(pfd[w].fd, NULL, NULL, SOCK_CLOEXEC);
			if (*fd < 0)
				continue;
			rlb_worker_accepted(c->g, w);
			return w;
		}
	}
	return -1;
}

/*
 * n connections one after the other, each accepted (by one of workers 0..nr-1), reported and
 * closed; per worker into c->counts.
 */
static bool run(struct ctx *c, int n, int nr)
{
	memset(c->counts, 0, sizeof(c->counts));
	for (int i = 0; i < n; i++) {
		int cfd = rlbt_connect(AF_INET, NULL, 0, "127.0.0.1", rlb_group_port(c->g));
		int sfd = -1, w;

		if (!CHECK(cfd >= 0, "connect %d: %s", i, strerror(-cfd)))
			return false;
		w = accept_one(c, nr, &sfd);
		close(cfd);
		if (!CHECK(w >= 0, "connection %d reached none of workers 0..%d", i, nr - 1))
			return false;
		close(sfd);
		rlb_worker_closed(c->g, w);
		c->counts[w]++;
		if (!fresh_depths(c, mono_ns()))
			return false;
	}
	printf("%d/%d\n", c->counts[0], c->counts[1]);
	return true;
}

static bool loaded(void *arg)
{
	struct ctx *c = arg;
	int err = 0;

	for (int i = 0; c->nr_held < HELD && i < 4 * HELD; i++) {
		int cfd = rlbt_connect(AF_INET, NULL, 0, "127.0.0.1", rlb_group_port(c->g));
		int sfd = -1, w;

		if (!CHECK(cfd >= 0, "connect: %s", strerror(-cfd)))
			return false;
		w = accept_one(c, NR_WORKERS, &sfd);
		if (!CHECK(w >= 0, "a round-robin connection reached no worker")) {
			close(cfd);
			return false;
		}
		if (w == 0) {
			c->held[c->nr_held++] = (struct held){ .client = cfd, .server = sfd };
			continue;
		}
		close(sfd);
		close(cfd);
		rlb_worker_closed(c->g, w);
	}
	if (!CHECK(c->nr_held == HELD, "worker 0 holds %d, want %d", c->nr_held, HELD))
		return false;
	err = rlb_group_set_policy(c->g, RLB_POLICY_QUEUE);
	if (!CHECK(!err, "set policy queue: %s", rlb_last_error()) || !fresh_depths(c, mono_ns()) ||
	    !run(c, NR_CONNS, NR_WORKERS))
		return false;
	return CHECK(c->counts[1] == NR_CONNS, "worker 1 got %d of %d, want all", c->counts[1],
		     NR_CONNS);
}

static bool queue_first(void *arg)
{
	struct ctx *c = arg;

	c->parked = rlbt_connect(AF_INET, NULL, 0, "127.0.0.1", rlb_group_port(c->g));
	if (!CHECK(c->parked >= 0, "connect: %s", strerror(-c->parked)) || !queue_is(c, 1, 1) ||
	    !fresh_depths(c, mono_ns()))
		return false;
	/* only worker 0's listener is accepted from: one landing on worker 1 would stay queued */
	if (!run(c, NR_CONNS, 1))
		return false;
	CHECK(c->counts[0] == NR_CONNS, "worker 0 got %d of %d, want all", c->counts[0], NR_CONNS);
	CHECK(queue_of(c, 1) == 1, "worker 1's queue is %u, want 1", queue_of(c, 1));
	return true;
}

static bool equal(void *arg)
{
	struct ctx *c = arg;
	int w = rlbt_accepting_worker(c->g, RLBT_TIMEOUT_MS);

	/* rlbt_accepting_worker accepted and closed the queued one: report it as a server would */
	if (!CHECK(w == 1, "the queued connection was accepted by worker %d, want 1", w))
		return false;
	rlb_worker_accepted(c->g, 1);
	rlb_worker_closed(c->g, 1);
	close(c->parked);
	c->parked = -1;
	for (; c->nr_held > 0; c->nr_held--) {
		close(c->held[c->nr_held - 1].server);
		close(c->held[c->nr_held - 1].client);
		rlb_worker_closed(c->g, 0);
	}
	if (!queue_is(c, 1, 0) || !fresh_depths(c, mono_ns()) || !run(c, NR_CONNS, NR_WORKERS))
		return false;
	return CHECK(c->counts[0] == NR_CONNS / 2 && c->counts[1] == NR_CONNS / 2,
		     "shares %d/%d, want %d each", c->counts[0], c->counts[1], NR_CONNS / 2);
}

static const struct rlbt_case cases[] = {
	{ "1 equal queues, worker 0 holds connections open", loaded },
	{ "2 a queued connection outweighs open ones", queue_first },
	{ "3 all equal: in turn", equal },
};

static void scenario(void)
{
	struct rlb_features f = { 0 };
	struct ctx c = { .parked = -1 };
	size_t len = RLB_MAX_SLOTS * sizeof(struct rlb_load);
	int fd;

	rlb_probe(&f);
	c.polled = !f.queue_kfuncs;
	printf("depths %s\n", c.polled ? "polled by the owner" : "read by the program");
	if (!CHECK(!rlbt_group_open("127.0.0.1", RLB_POLICY_ROUND_ROBIN, NR_WORKERS, &c.g),
		   "cannot open the group"))
		return;
	fd = rlbt_group_map_fd(c.g, "load");
	c.load = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
	if (CHECK(c.load != MAP_FAILED, "cannot map the load map: %s", strerror(errno))) {
		rlbt_run_cases(cases, ARRAY_SIZE(cases), &c);
		munmap(c.load, len);
	}
	if (fd >= 0)
		close(fd);
	for (int i = 0; i < c.nr_held; i++) {
		close(c.held[i].server);
		close(c.held[i].client);
	}
	if (c.parked >= 0)
		close(c.parked);
	rlb_group_close(c.g);
}

int main(void)
{
	rlbt_require_root();
	rlbt_in_child("as probed", NULL, scenario);
	rlbt_in_child("polled depths", "queue_kfuncs", scenario);
	return rlbt_finish();
}
