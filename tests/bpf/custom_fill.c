// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * examples/policies/fill_first.bpf.c packs connections onto the first workers with room,
 * reading the load the workers publish and their weights (capacity) from the group's maps.
 *
 * The test stands in for the worker threads: after each connection it publishes one more
 * open connection on the worker that got it (rlb_worker_accepted), or one fewer
 * (rlb_worker_closed), exactly as a server does.
 *
 * 1. Open a group of 4 workers on 127.0.0.1, policy round-robin; every worker's weight
 *    (capacity) is 2. Load fill_first.bpf.o: the policy's name is custom:fill_first.
 * 2. 8 connections fill the workers in order: 0 0 1 1 2 2 3 3.
 * 3. All are full: 4 more go to the least loaded, the first of equals: 0 1 2 3.
 * 4. Worker 2 closes two connections (load 1 < 2): the next goes to 2, and the one after to 2
 *    again (the least loaded, all full).
 * 5. Worker 0 drains and closes its three connections: it gets nothing (not live); the
 *    next goes to the least loaded of the live ones, worker 1.
 * 6. The stats map agrees with what the workers received, no fallback, nothing unsteered.
 * 7. Unload: 8 connections rotate over the four workers (round-robin), including worker 0
 *    once it is live again.
 */
#define _GNU_SOURCE /* accept4 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include "rlbtest.h"

#define NR_WORKERS 4
#define CAPACITY 2

static const char *policy_path(const char *name)
{
	static char path[512];
	const char *dir = getenv("RLB_BIN_DIR");

	snprintf(path, sizeof(path), "%s/examples/policies/%s.bpf.o", dir ? dir : ".", name);
	return path;
}

/*
 * One connection to the group, from src:sport (NULL, 0: the kernel's choice) to dst: returns
 * the worker that accepted and served it, or -1. Unlike rlbt_steer, the client ends it with a
 * reset (SO_LINGER 0) and the worker closes only once the reset is in, so that no packet of
 * it is left in flight: when the TIME_WAIT table is full (tcp_max_tw_buckets), a late FIN
 * reaches the listeners, runs the steering program again and is counted, which would spoil
 * the exact counts checked here.
 */
static int serve_once(struct rlb_group *g, const char *src, uint16_t sport, const char *dst)
{
	struct linger reset = { .l_onoff = 1, .l_linger = 0 };
	struct pollfd pfd[NR_WORKERS];
	int fd, cfd = -1, worker = -1, ready;
	char c;

	fd = rlbt_connect(AF_INET, src, sport, dst, rlb_group_port(g));
	if (fd < 0) {
		fprintf(stderr, "connect to %s: %s\n", dst, strerror(-fd));
		return -1;
	}
	for (int i = 0; i < NR_WORKERS; i++)
		pfd[i] = (struct pollfd){ .fd = rlb_group_fd(g, i), .events = POLLIN };
	ready = poll(pfd, NR_WORKERS, RLBT_TIMEOUT_MS);
	for (int i = 0; i < NR_WORKERS && ready == 1; i++)
		if (pfd[i].revents & POLLIN)
			worker = i;
	if (worker < 0) {
		fprintf(stderr, "%d workers have the connection to %s, want 1\n", ready, dst);
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

static int counts[NR_WORKERS];

/* One connection per entry of want; each must reach that worker, which then holds it. */
static void expect(struct rlb_group *g, const char *step, const int *want, int n)
{
	for (int i = 0; i < n; i++) {
		int w = serve_once(g, NULL, 0, "127.0.0.1");

		if (!CHECK(w >= 0, "%s: connection %d reached no single worker", step, i))
			return;
		CHECK(w == want[i], "%s: connection %d reached worker %d, want %d", step, i, w,
		      want[i]);
		counts[w]++;
		rlb_worker_accepted(g, w);
	}
}

int main(void)
{
	static const int fill[] = { 0, 0, 1, 1, 2, 2, 3, 3 }, spill[] = { 0, 1, 2, 3 },
			 refill[] = { 2, 2 }, drained[] = { 1 };
	struct rlb_group_stats st;
	struct rlb_group *g = NULL;
	struct rlb_ctl *ctl;
	char name[64] = "";
	int err, start = -1, bad = 0;

	rlbt_require_root();
	/* 1. */
	if (!CHECK(!rlbt_group_open("127.0.0.1", RLB_POLICY_ROUND_ROBIN, NR_WORKERS, &g),
		   "cannot open the group"))
		goto out;
	ctl = rlb_group_ctl(g);
	for (int w = 0; w < NR_WORKERS; w++)
		if (!CHECK(!rlb_ctl_set_weight(ctl, w, CAPACITY), "weight of %d: %s", w,
			   rlb_last_error()))
			goto out;
	err = rlb_ctl_load_policy(ctl, policy_path("fill_first"));
	if (!CHECK(!err, "rlb_ctl_load_policy(%s): %s: %s\n%s", policy_path("fill_first"),
		   strerror(-err), rlb_last_error(), rlb_verifier_log()))
		goto out;
	rlb_ctl_policy_name(ctl, name, sizeof(name));
	CHECK(!strcmp(name, "custom:fill_first"), "policy name '%s'", name);

	/* 2. - 5. */
	expect(g, "fill", fill, 8);
	expect(g, "all full", spill, 4);
	rlb_worker_closed(g, 2);
	rlb_worker_closed(g, 2);
	expect(g, "room on 2", refill, 2);
	if (!CHECK(!rlb_ctl_set_draining(ctl, 0, true), "drain 0: %s", rlb_last_error()))
		goto out;
	for (int i = 0; i < 3; i++)
		rlb_worker_closed(g, 0);
	expect(g, "0 drained", drained, 1);

	/* 6. */
	err = rlb_ctl_read(ctl, &st);
	if (!CHECK(!err, "rlb_ctl_read: %s", rlb_last_error()))
		goto out;
	for (int w = 0; w < NR_WORKERS; w++)
		CHECK(st.workers[w].steered == (uint64_t)counts[w] && !st.workers[w].fallback,
		      "stats of slot %d: steered %llu, fallback %llu; want %d, 0", w,
		      (unsigned long long)st.workers[w].steered,
		      (unsigned long long)st.workers[w].fallback, counts[w]);
	CHECK(!st.unsteered, "%llu connections unsteered", (unsigned long long)st.unsteered);

	/* 7. */
	if (!CHECK(!rlb_ctl_set_draining(ctl, 0, false), "undrain 0: %s", rlb_last_error()))
		goto out;
	err = rlb_ctl_unload_policy(ctl);
	if (!CHECK(!err, "rlb_ctl_unload_policy: %s", rlb_last_error()))
		goto out;
	for (int i = 0; i < 2 * NR_WORKERS; i++) {
		int w = serve_once(g, NULL, 0, "127.0.0.1");

		if (!CHECK(w >= 0, "connection %d after the unload reached no single worker", i))
			goto out;
		if (i == 0)
			start = w;
		if (w != (start + i) % NR_WORKERS)
			bad++;
	}
	CHECK(!bad, "after the unload, %d of %d connections out of the round-robin rotation", bad,
	      2 * NR_WORKERS);
	printf("fill first, capacity %d: workers received %d/%d/%d/%d\n", CAPACITY, counts[0],
	       counts[1], counts[2], counts[3]);
out:
	rlb_group_close(g);
	return rlbt_finish();
}
