// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Maglev keeps flows where they are when a worker leaves: only that worker's flows move.
 *
 * 1. Open a group of 8 workers on 127.0.0.1, ephemeral port, policy maglev.
 * 2. 10 000 distinct flows: 40 source addresses 127.0.0.2 .. 127.0.0.41 times 250 fixed
 *    source ports (free on every address when the test starts; SO_REUSEADDR and a linger-0
 *    close let a flow connect again at once). Record the worker of each. Every worker has
 *    some (at least half its even share), and every flow is on the worker that the kernel's
 *    active Maglev table names for hash.h's hash of its source address and port (the table
 *    read from the kernel, the seed from the config map).
 * 3. Drain worker 5 (rlb_ctl_set_draining): the config flips to the other half of the table.
 *    Run the same 10 000 flows again: none reaches worker 5; the share of flows that changed
 *    worker is at most 1/8 + 2 %; of the flows that were not on worker 5, at most 2 % moved;
 *    and every flow is where the new table says.
 * 4. Undrain worker 5: the table is rebuilt from the same live set, so every one of the
 *    10 000 flows is back on its worker of step 2.
 * 5. The program steered all 30 000 connections itself: no fallback, nothing unsteered.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>

#include <reuselb/hash.h>
#include "rlbtest.h"

#define NR_WORKERS 8
#define DRAINED 5
#define NR_ADDRS 40
#define NR_PORTS 250
#define NR_FLOWS (NR_ADDRS * NR_PORTS)
/* Attempts at finding NR_PORTS distinct free ports. */
#define MAX_PORT_TRIES (20 * NR_PORTS)

static uint16_t ports[NR_PORTS];

static void flow_source(int f, char *addr, size_t len, uint16_t *port)
{
	snprintf(addr, len, "127.0.0.%d", 2 + f / NR_PORTS);
	*port = ports[f % NR_PORTS];
}

/* NR_PORTS distinct ports that no socket holds on any address. */
static bool pick_ports(void)
{
	int n = 0;

	for (int i = 0; i < MAX_PORT_TRIES && n < NR_PORTS; i++) {
		int p = rlbt_free_port(AF_INET, "0.0.0.0"), dup = 0;

		if (!CHECK(p > 0, "no free port: %s", strerror(-p)))
			return false;
		for (int j = 0; j < n && !dup; j++)
			dup = ports[j] == p;
		if (!dup)
			ports[n++] = p;
	}
	return CHECK(n == NR_PORTS, "found %d distinct free ports, want %d", n, NR_PORTS);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Connects every flow once and records its worker. False if a connection failed. */
static bool run(struct rlb_group *g, int *worker, const char *what)
{
	double start = now_s();
	char addr[INET_ADDRSTRLEN];
	uint16_t port;

	for (int f = 0; f < NR_FLOWS; f++) {
		flow_source(f, addr, sizeof(addr), &port);
		worker[f] = rlbt_steer(g, AF_INET, addr, port, "127.0.0.1");
		if (!CHECK(worker[f] >= 0, "%s: flow %s:%u reached no single worker", what, addr,
			   port))
			return false;
	}
	printf("%s: %d flows in %.2f s\n", what, NR_FLOWS, now_s() - start);
	return true;
}

/*
 * The worker of each flow as the kernel's tables say: the active half of the "maglev" map at
 * hash.h's hash of the source address and port. Returns how many flows are elsewhere.
 */
static int mispredicted(struct rlb_group *g, const int *worker, const char *what)
{
	static __u32 table[RLB_MAGLEV_SIZE];
	char addr[INET_ADDRSTRLEN];
	struct rlb_config cfg;
	int fd, err, bad = 0;
	uint16_t port;

	err = rlbt_group_config(g, &cfg);
	if (!CHECK(!err, "cannot read the config map: %s", strerror(-err)))
		return -1;
	fd = rlbt_group_map_fd(g, "maglev");
	if (!CHECK(fd >= 0, "cannot find the maglev map: %s", strerror(-fd)))
		return -1;
	for (__u32 i = 0; i < RLB_MAGLEV_SIZE; i++) {
		__u32 key = (cfg.table & 1) * RLB_MAGLEV_SIZE + i;

		if (!CHECK(!bpf_map_lookup_elem(fd, &key, &table[i]), "maglev[%u]: %s", key,
			   strerror(errno))) {
			close(fd);
			return -1;
		}
	}
	close(fd);
	for (int f = 0; f < NR_FLOWS; f++) {
		struct rlb_flow flow = {};
		__u32 want;

		flow_source(f, addr, sizeof(addr), &port);
		inet_pton(AF_INET, addr, &flow.saddr[0]);
		flow.sport = htons(port);
		want = table[rlb_hash_flow(&flow, cfg.seed) % RLB_MAGLEV_SIZE];
		if (worker[f] != (int)want && bad++ == 0)
			fprintf(stderr, "%s: flow %s:%u reached worker %d, the table says %u\n",
				what, addr, port, worker[f], want);
	}
	return bad;
}

int main(void)
{
	static int before[NR_FLOWS], after[NR_FLOWS], again[NR_FLOWS];
	int counts[NR_WORKERS] = {}, moved = 0, on_drained = 0, strays = 0, back = 0, bad, err;
	struct rlb_group_stats st;
	struct rlb_group *g = NULL;
	struct rlb_config cfg;
	__u32 half;

	rlbt_require_root();
	if (!pick_ports())
		goto out;
	/* 1 */
	if (!CHECK(!rlbt_group_open("127.0.0.1", RLB_POLICY_MAGLEV, NR_WORKERS, &g),
		   "cannot open the group"))
		goto out;

	/* 2 */
	if (!run(g, before, "all 8 live"))
		goto out;
	for (int f = 0; f < NR_FLOWS; f++)
		counts[before[f]]++;
	for (int w = 0; w < NR_WORKERS; w++)
		CHECK(counts[w] >= NR_FLOWS / NR_WORKERS / 2,
		      "worker %d has %d of %d flows, want at least %d", w, counts[w], NR_FLOWS,
		      NR_FLOWS / NR_WORKERS / 2);
	printf("flows per worker: %d/%d/%d/%d/%d/%d/%d/%d\n", counts[0], counts[1], counts[2],
	       counts[3], counts[4], counts[5], counts[6], counts[7]);
	bad = mispredicted(g, before, "all 8 live");
	CHECK(bad == 0, "%d of %d flows not where the Maglev table says", bad, NR_FLOWS);
	err = rlbt_group_config(g, &cfg);
	if (!CHECK(!err, "cannot read the config map: %s", strerror(-err)))
		goto out;
	half = cfg.table;

	/* 3 */
	err = rlb_ctl_set_draining(rlb_group_ctl(g), DRAINED, true);
	if (!CHECK(!err, "rlb_ctl_set_draining(%d): %s: %s", DRAINED, strerror(-err),
		   rlb_last_error()))
		goto out;
	err = rlbt_group_config(g, &cfg);
	if (!CHECK(!err, "cannot read the config map: %s", strerror(-err)))
		goto out;
	CHECK(cfg.table != half, "the drain left config.table at %u", half);
	if (!run(g, after, "worker 5 draining"))
		goto out;
	for (int f = 0; f < NR_FLOWS; f++) {
		moved += after[f] != before[f];
		on_drained += before[f] == DRAINED;
		strays += before[f] != DRAINED && after[f] != before[f];
		CHECK(after[f] != DRAINED, "flow %d reached draining worker %d", f, DRAINED);
	}
	printf("drain worker 5: %d of %d flows moved (%.2f %%; worker 5 had %d = %.2f %%), "
	       "%d of the other %d moved (%.2f %%)\n",
	       moved, NR_FLOWS, 100.0 * moved / NR_FLOWS, on_drained, 100.0 * on_drained / NR_FLOWS,
	       strays, NR_FLOWS - on_drained, 100.0 * strays / (NR_FLOWS - on_drained));
	CHECK(moved * 100 <= NR_FLOWS * 100 / NR_WORKERS + 2 * NR_FLOWS,
	      "%d of %d flows changed worker, want at most 1/8 + 2 %% (%d)", moved, NR_FLOWS,
	      NR_FLOWS / NR_WORKERS + 2 * NR_FLOWS / 100);
	CHECK(strays * 100 <= 2 * (NR_FLOWS - on_drained),
	      "%d of the %d flows not on worker %d moved, want at most 2 %%", strays,
	      NR_FLOWS - on_drained, DRAINED);
	bad = mispredicted(g, after, "worker 5 draining");
	CHECK(bad == 0, "%d of %d flows not where the Maglev table says", bad, NR_FLOWS);

	/* 4 */
	err = rlb_ctl_set_draining(rlb_group_ctl(g), DRAINED, false);
	if (!CHECK(!err, "undrain worker %d: %s: %s", DRAINED, strerror(-err), rlb_last_error()))
		goto out;
	if (!run(g, again, "worker 5 live again"))
		goto out;
	for (int f = 0; f < NR_FLOWS; f++)
		back += again[f] == before[f];
	CHECK(back == NR_FLOWS, "%d of %d flows are back on their first worker", back, NR_FLOWS);

	/* 5 */
	err = rlb_ctl_read(rlb_group_ctl(g), &st);
	if (!CHECK(!err, "rlb_ctl_read: %s: %s", strerror(-err), rlb_last_error()))
		goto out;
	for (int w = 0; w < NR_WORKERS; w++) {
		uint64_t want = 0;

		for (int f = 0; f < NR_FLOWS; f++)
			want += (before[f] == w) + (after[f] == w) + (again[f] == w);
		CHECK(st.workers[w].steered == want && !st.workers[w].fallback,
		      "stats of slot %d: steered %llu, fallback %llu; want %llu, 0", w,
		      (unsigned long long)st.workers[w].steered,
		      (unsigned long long)st.workers[w].fallback, (unsigned long long)want);
	}
	CHECK(!st.unsteered, "%llu connections unsteered", (unsigned long long)st.unsteered);
out:
	rlb_group_close(g);
	return rlbt_finish();
}
