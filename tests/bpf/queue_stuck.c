// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The queue policy avoids a listener that stopped accepting, both ways it can run: the program
 * reading the accept queues itself (where the kernel has the kfuncs: probe queue_kfuncs), and
 * on the depths the owner's poller writes (sock_diag every RLB_QUEUE_POLL_MS; forced here with
 * REUSELB_PROBE_DISABLE=queue_kfuncs). least-conn and queue share evenly at light load (ties
 * go round). Each way runs in a process of its own (the probe is once per process).
 *
 * 1. A group of 4 workers on 127.0.0.1, ephemeral port, policy queue, backlog 64. Worker 3
 *    never accepts. 400 connections one after the other; each is accepted by whichever of
 *    workers 0-2 has it, or seen landing in worker 3's queue (sock_diag shows it one longer).
 *    Worker 3 gets exactly 1 (its queue is 1 from then on, the others' 0), and sock_diag
 *    shows its queue 1 at the end. Polled depths: after each connection the test waits for
 *    the poller's next reading (load[slot].depth_ns moves on), so that every choice is made
 *    on fresh depths.
 * 2. Worker 0 is drained: it has the shortest queue (0, like 1 and 2) and gets none of 200
 *    more connections; worker 3 none either.
 * 3. Polled depths: the same 400 connections without waiting for the poller, printed for the
 *    record (how many reach the stuck worker between two readings).
 * 4. Light load, all 4 accepting: 4000 connections under queue, then 4000 under least-conn
 *    (each reported accepted and closed by its worker): max/min of the shares <= 1.05.
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
#include <bpf/bpf.h>

#include "rlbtest.h"

#define NR_WORKERS 4
#define STUCK 3
#define DRAINED 0
#define NR_CONNS 400
#define NR_SHARES 4000

struct ctx {
	struct rlb_group *g;
	struct rlb_load *load; /* the load map, mapped: the poller's stamps */
	size_t load_len;
	uint32_t stuck_queue; /* worker STUCK's accept queue as last seen */
	bool polled;	      /* the owner's poller writes the depths */
	int counts[NR_WORKERS];
};

static uint32_t stuck_queue(struct ctx *c)
{
	struct rlb_queue q[RLB_MAX_WORKERS];

	if (rlb_group_read_queues(c->g, q) || !q[STUCK].known)
		return 0;
	return q[STUCK].queue;
}

/*
 * After a connect: the worker of 0..STUCK-1 that has it (accepted and closed), or STUCK when
 * it landed in the stuck queue; -1 when neither happened within RLBT_TIMEOUT_MS.
 */
static int landed(struct ctx *c)
{
	long end = rlbt_now_ms() + RLBT_TIMEOUT_MS;

	while (rlbt_now_ms() < end) {
		struct pollfd pfd[STUCK];
		uint32_t q;

		for (int w = 0; w < STUCK; w++)
			pfd[w] = (struct pollfd){ .fd = rlb_group_fd(c->g, w), .events = POLLIN };
		if (poll(pfd, STUCK, 1) > 0) {
			for (int w = 0; w < STUCK; w++) {
				int fd;

				if (!(pfd[w].revents & POLLIN))
					continue;
				fd = accept4(pfd[w].fd, NULL, NULL, SOCK_CLOEXEC);
				if (fd < 0)
					continue;
				rlb_worker_accepted(c->g, w);
				rlb_worker_closed(c->g, w);
				close(fd);
				return w;
			}
		}
		q = stuck_queue(c);
		if (q > c->stuck_queue) {
			c->stuck_queue = q;
			return STUCK;
		}
	}
	return -1;
}

/* Waits until the poller has written every serving slot after now. */
static bool poller_after(struct ctx *c, __u64 after_ns)
{
	long end = rlbt_now_ms() + RLBT_TIMEOUT_MS;
	struct rlb_config cfg;
	unsigned int base;

	if (rlbt_group_config(c->g, &cfg))
		return false;
	base = cfg.base;

	while (rlbt_now_ms() < end) {
		bool fresh = true;

		for (int w = 0; w < NR_WORKERS; w++)
			fresh &= __atomic_load_n(&c->load[base + w].depth_ns, __ATOMIC_ACQUIRE) >
				 after_ns;
		if (fresh)
			return true;
		usleep(200);
	}
	return false;
}

static __u64 mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/* n connections; per worker into c->counts. Waits for a fresh reading after each if paced. */
static bool run(struct ctx *c, int n, bool paced)
{
	memset(c->counts, 0, sizeof(c->counts));
	for (int i = 0; i < n; i++) {
		int fd = rlbt_connect(AF_INET, NULL, 0, "127.0.0.1", rlb_group_port(c->g)), w;

		if (!CHECK(fd >= 0, "connect %d: %s", i, strerror(-fd)))
			return false;
		w = landed(c);
		if (w != STUCK)
			close(fd);
		if (!CHECK(w >= 0, "connection %d reached no worker", i))
			return false;
		c->counts[w]++;
		if (paced && c->polled &&
		    !CHECK(poller_after(c, mono_ns()), "the poller wrote no depths"))
			return false;
	}
	return true;
}

static bool stuck(void *arg)
{
	struct ctx *c = arg;

	if (!run(c, NR_CONNS, true))
		return false;
	printf("paced: %d/%d/%d/%d\n", c->counts[0], c->counts[1], c->counts[2], c->counts[3]);
	CHECK(c->counts[STUCK] == 1, "the stuck worker got %d of %d connections, want 1",
	      c->counts[STUCK], NR_CONNS);
	CHECK(stuck_queue(c) == 1, "the stuck worker's queue is %u, want 1", stuck_queue(c));
	return true;
}

static bool drained(void *arg)
{
	struct ctx *c = arg;
	int err = rlb_ctl_set_draining(rlb_group_ctl(c->g), DRAINED, true);

	if (!CHECK(!err, "drain: %s", rlb_last_error()))
		return false;
	if (!run(c, NR_CONNS / 2, true))
		return false;
	printf("drained: %d/%d/%d/%d\n", c->counts[0], c->counts[1], c->counts[2], c->counts[3]);
	CHECK(c->counts[DRAINED] == 0, "the drained worker got %d", c->counts[DRAINED]);
	CHECK(c->counts[STUCK] == 0, "the stuck worker got %d", c->counts[STUCK]);
	err = rlb_ctl_set_draining(rlb_group_ctl(c->g), DRAINED, false);
	return CHECK(!err, "undrain: %s", rlb_last_error());
}

static bool unpaced(void *arg)
{
	struct ctx *c = arg;

	if (!c->polled)
		return true;
	if (!run(c, NR_CONNS, false))
		return false;
	printf("unpaced: %d/%d/%d/%d (the stuck worker's between two readings)\n", c->counts[0],
	       c->counts[1], c->counts[2], c->counts[3]);
	return true;
}

/* All accepting: shares of NR_SHARES connections under policy. */
static void shares(struct rlb_group *g, enum rlb_policy policy)
{
	int counts[NR_WORKERS] = { 0 }, min = NR_SHARES, max = 0;
	int err = rlb_group_set_policy(g, policy);

	if (!CHECK(!err, "set policy %s: %s", rlb_policy_name(policy), rlb_last_error()))
		return;
	for (int i = 0; i < NR_SHARES; i++) {
		int w = rlbt_steer(g, AF_INET, NULL, 0, "127.0.0.1");

		if (!CHECK(w >= 0, "connection %d reached no single worker", i))
			return;
		rlb_worker_accepted(g, w);
		rlb_worker_closed(g, w);
		counts[w]++;
	}
	for (int w = 0; w < NR_WORKERS; w++) {
		min = counts[w] < min ? counts[w] : min;
		max = counts[w] > max ? counts[w] : max;
	}
	printf("%s at light load: %d/%d/%d/%d\n", rlb_policy_name(policy), counts[0], counts[1],
	       counts[2], counts[3]);
	CHECK(min > 0 && max <= 1.05 * min, "%s: max/min %d/%d over 1.05", rlb_policy_name(policy),
	      max, min);
}

static bool light_load(void *arg rlbt_unused)
{
	struct rlb_group *g = NULL;

	if (!CHECK(!rlbt_group_open("127.0.0.1", RLB_POLICY_QUEUE, NR_WORKERS, &g),
		   "cannot open the group"))
		return false;
	shares(g, RLB_POLICY_QUEUE);
	shares(g, RLB_POLICY_LEAST_CONN);
	rlb_group_close(g);
	return true;
}

static const struct rlbt_case cases[] = {
	{ "1 stuck listener, fresh depths", stuck },
	{ "2 drained worker with the shortest queue", drained },
	{ "3 stuck listener, at full speed", unpaced },
	{ "4 shares at light load", light_load },
};

static void scenario(void)
{
	struct rlb_group_opts opts = {
		.addr = "127.0.0.1",
		.nr_workers = NR_WORKERS,
		.policy = RLB_POLICY_QUEUE,
		.backlog = 64,
	};
	struct rlb_features f = { 0 };
	struct ctx c = { 0 };
	int err, fd;

	rlb_probe(&f);
	c.polled = !f.queue_kfuncs;
	printf("depths %s\n", c.polled ? "polled by the owner" : "read by the program");
	err = rlb_group_open(&opts, &c.g);
	if (!CHECK(!err, "rlb_group_open: %s", rlb_last_error()))
		return;
	fd = rlbt_group_map_fd(c.g, "load");
	c.load_len = RLB_MAX_SLOTS * sizeof(struct rlb_load);
	c.load = mmap(NULL, c.load_len, PROT_READ, MAP_SHARED, fd, 0);
	if (CHECK(c.load != MAP_FAILED, "cannot map the load map: %s", strerror(errno))) {
		rlbt_run_cases(cases, ARRAY_SIZE(cases), &c);
		munmap(c.load, c.load_len);
	}
	if (fd >= 0)
		close(fd);
	rlb_group_close(c.g);
}

int main(void)
{
	rlbt_require_root();
	/* where the kernel lacks the kfuncs (6.1), the first runs the poller's way too */
	rlbt_in_child("as probed", NULL, scenario);
	rlbt_in_child("polled depths", "queue_kfuncs", scenario);
	return rlbt_finish();
}
