// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The cpu policy gives a connection to the worker pinned to the CPU that handles it; a CPU
 * without a live worker falls back to the hash, and nothing is dropped. On loopback the SYN is
 * handled in the softirq of the CPU that sent it, so a client pinned to CPU c is seen on c.
 *
 * 1. Take two CPUs c0, c1 the test may run on. Open a group of 2 workers on 127.0.0.1,
 *    ephemeral port, policy cpu. No worker is pinned yet: from each CPU, 20 connections go to
 *    the worker hash.h predicts for their 4-tuple (the seed read from the kernel).
 * 2. rlb_group_set_cpu: worker 0 on c0, worker 1 on c1. The test's thread, pinned to c0,
 *    connects 50 times: all reach worker 0; pinned to c1, 50 times: all reach worker 1; then
 *    c0 again: all reach worker 0.
 * 3. Drain worker 1. From c1, whose worker no longer takes connections, 50 connections all
 *    connect and reach worker 0 (the hash's choice, passed on to the next live worker when
 *    it names worker 1), and the program counts a fallback on slot 1 for each of those.
 * 4. A CPU with no worker: a new group of 3 workers, only c0 given to worker 2. From c0, 50
 *    connections reach worker 2; from c1, 50 connections each reach the worker the hash
 *    predicts, and they use at least 2 of the 3 workers.
 * 5. The program's counters of both groups agree with what the workers accepted, and nothing
 *    was left to the kernel.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <reuselb/hash.h>
#include "rlbtest.h"

#define NR_PINNED 50
#define NR_HASHED 20
#define BY_HASH -1

struct group {
	struct rlb_group *g;
	struct rlb_config cfg;
	unsigned int nr;
	int steered[RLB_MAX_WORKERS], fallback[RLB_MAX_WORKERS];
};

static bool pin_to(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return CHECK(!sched_setaffinity(0, sizeof(set), &set), "cannot pin to CPU %d: %s", cpu,
		     strerror(errno));
}

static bool open_group(struct group *t, unsigned int nr)
{
	int err;

	memset(t, 0, sizeof(*t));
	t->nr = nr;
	if (!CHECK(!rlbt_group_open("127.0.0.1", RLB_POLICY_CPU, nr, &t->g),
		   "cannot open a group of %u", nr))
		return false;
	err = rlbt_group_config(t->g, &t->cfg);
	return CHECK(!err, "cannot read the config map from the kernel: %s", strerror(-err));
}

/* The worker the hash picks for 127.0.0.1:sport -> 127.0.0.1:port. */
static unsigned int hashed(const struct group *t, uint16_t sport)
{
	struct rlb_flow flow = {};

	inet_pton(AF_INET, "127.0.0.1", &flow.saddr[0]);
	inet_pton(AF_INET, "127.0.0.1", &flow.daddr[0]);
	flow.sport = htons(sport);
	flow.dport = htons(rlb_group_port(t->g));
	return rlb_scale(rlb_hash_flow(&flow, t->cfg.seed), t->nr);
}

/* One connection from an ephemeral port: the worker that accepted it, or -1. */
static int steer(struct group *t, uint16_t *sport)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int fd, w;

	fd = rlbt_connect(AF_INET, NULL, 0, "127.0.0.1", rlb_group_port(t->g));
	if (fd < 0) {
		fprintf(stderr, "connect: %s\n", strerror(-fd));
		return -1;
	}
	if (getsockname(fd, (struct sockaddr *)&sin, &len)) {
		fprintf(stderr, "getsockname: %s\n", strerror(errno));
		close(fd);
		return -1;
	}
	*sport = ntohs(sin.sin_port);
	w = rlbt_accepting_worker(t->g, RLBT_TIMEOUT_MS);
	close(fd);
	if (w >= 0)
		t->steered[w]++;
	return w;
}

/*
 * n connections from CPU cpu. want >= 0: each must reach that worker. want == BY_HASH: each
 * must reach the worker the hash picks, or the next one when the hash names the draining
 * worker `drained` (-1: none), whose slot then counts a fallback. used[] (may be NULL) marks
 * the workers reached.
 */
static void from_cpu(struct group *t, int cpu, int n, int want, int drained, bool *used)
{
	int bad = 0, failed = 0;

	if (!pin_to(cpu))
		return;
	for (int i = 0; i < n; i++) {
		uint16_t sport = 0;
		int w = steer(t, &sport), expect = want;

		if (w < 0) {
			failed++;
			continue;
		}
		if (want == BY_HASH) {
			expect = hashed(t, sport);
			if (expect == drained) {
				t->fallback[drained]++;
				expect = (drained + 1) % t->nr;
			}
		}
		if (used)
			used[w] = true;
		if (w != expect && bad++ == 0)
			fprintf(stderr, "CPU %d, port %u: worker %d, want %d\n", cpu, sport, w,
				expect);
	}
	CHECK(!failed, "CPU %d: %d of %d connections reached no single worker", cpu, failed, n);
	CHECK(!bad, "CPU %d: %d of %d connections reached the wrong worker", cpu, bad, n);
	printf("CPU %d: %d connections, %d elsewhere than expected\n", cpu, n, bad);
}

static void check_stats(const struct group *t)
{
	struct rlb_group_stats st;
	int err = rlb_ctl_read(rlb_group_ctl(t->g), &st);

	if (!CHECK(!err, "rlb_ctl_read: %s: %s", strerror(-err), rlb_last_error()))
		return;
	for (unsigned int w = 0; w < t->nr; w++)
		CHECK(st.workers[w].steered == (uint64_t)t->steered[w] &&
			      st.workers[w].fallback == (uint64_t)t->fallback[w],
		      "stats of slot %u: steered %llu, fallback %llu; want %d, %d", w,
		      (unsigned long long)st.workers[w].steered,
		      (unsigned long long)st.workers[w].fallback, t->steered[w], t->fallback[w]);
	CHECK(!st.unsteered, "%llu connections unsteered", (unsigned long long)st.unsteered);
}

int main(void)
{
	struct group a = {}, b = {};
	bool used[3] = {};
	cpu_set_t orig;
	int cpus[2], ncpu = 0, err;

	rlbt_require_root();
	if (!CHECK(!sched_getaffinity(0, sizeof(orig), &orig), "sched_getaffinity: %s",
		   strerror(errno)))
		return rlbt_finish();
	for (int c = 0; c < CPU_SETSIZE && ncpu < 2; c++)
		if (CPU_ISSET(c, &orig))
			cpus[ncpu++] = c;
	if (!CHECK(ncpu == 2, "the test may run on %d CPU, it needs 2", ncpu))
		return rlbt_finish();

	/* 1 */
	if (!open_group(&a, 2))
		goto out;
	for (int i = 0; i < 2; i++)
		from_cpu(&a, cpus[i], NR_HASHED, BY_HASH, -1, NULL);

	/* 2 */
	for (unsigned int w = 0; w < 2; w++) {
		err = rlb_group_set_cpu(a.g, w, cpus[w]);
		if (!CHECK(!err, "rlb_group_set_cpu(%u, %d): %s: %s", w, cpus[w], strerror(-err),
			   rlb_last_error()))
			goto out;
	}
	from_cpu(&a, cpus[0], NR_PINNED, 0, -1, NULL);
	from_cpu(&a, cpus[1], NR_PINNED, 1, -1, NULL);
	from_cpu(&a, cpus[0], NR_PINNED, 0, -1, NULL);

	/* 3 */
	err = rlb_ctl_set_draining(rlb_group_ctl(a.g), 1, true);
	if (!CHECK(!err, "rlb_ctl_set_draining(1): %s: %s", strerror(-err), rlb_last_error()))
		goto out;
	from_cpu(&a, cpus[1], NR_PINNED, BY_HASH, 1, NULL);
	CHECK(a.fallback[1] > 0, "the hash never named worker 1 in %d connections", NR_PINNED);
	check_stats(&a);

	/* 4 */
	if (!open_group(&b, 3))
		goto out;
	err = rlb_group_set_cpu(b.g, 2, cpus[0]);
	if (!CHECK(!err, "rlb_group_set_cpu(2, %d): %s: %s", cpus[0], strerror(-err),
		   rlb_last_error()))
		goto out;
	from_cpu(&b, cpus[0], NR_PINNED, 2, -1, NULL);
	from_cpu(&b, cpus[1], NR_PINNED, BY_HASH, -1, used);
	CHECK(used[0] + used[1] + used[2] >= 2, "CPU %d: the hash used only one worker", cpus[1]);
	check_stats(&b);
out:
	sched_setaffinity(0, sizeof(orig), &orig);
	rlb_group_close(b.g);
	rlb_group_close(a.g);
	return rlbt_finish();
}
