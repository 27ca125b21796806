// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Least-conn takes the less loaded of two random live workers, from the load the workers
 * publish through the mmapped "load" map.
 *
 * 1. Open a group of 4 workers on 127.0.0.1, ephemeral port, policy round-robin. Connect until
 *    worker 2 has accepted 50 connections and hold those open (both ends), reporting each with
 *    rlb_worker_accepted(g, 2); the other workers' connections are closed at once.
 * 2. Switch the live group to least-conn. The load map, read back through the kernel
 *    (rlb_ctl_read), shows worker 2 with 50 active connections and the others with none.
 * 3. 200 new connections, each reported accepted and closed by the worker that took it, so
 *    that the others stay at load 0: worker 2 gets exactly 0 (whenever it is one of the two
 *    choices, the other is idle), and each other worker at least 20 (each is drawn with
 *    probability 1/3: 20 of 200 is more than six standard deviations below the mean).
 * 4. Close the 50 held connections, reporting each: worker 2's load is 0 again, and of 200
 *    new connections it gets at least 20 again (its load is live, not a verdict; with all
 *    idle each worker is drawn 1 time in 4, and 20 of 200 is five deviations below that).
 * 5. A stalled worker: rlb_worker_busy(g, 1, +1) with nothing else open. Of 200 connections
 *    worker 1 gets 0, the others at least 20 each. After rlb_worker_busy(g, 1, -1) worker 1
 *    gets its share again.
 * 6. The counters agree: the load map's "accepted" of each worker is what it accepted, nobody
 *    is left active or busy, and the program steered every connection itself (steered equals
 *    accepted, no fallback, nothing unsteered).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "rlbtest.h"

#define NR_WORKERS 4
#define LOADED 2
#define STALLED 1
#define NR_HELD 50
#define NR_CONNS 200
/* Each other worker's floor over NR_CONNS connections: see step 3. */
#define MIN_SHARE 20

struct held {
	int client, server;
};

static int accepted[NR_WORKERS];

/*
 * One connection whose accepted end is kept: returns the worker that accepted it (server
 * end in *server, client end in *client), or -1.
 */
static int connect_and_accept(struct rlb_group *g, int *client, int *server)
{
	struct pollfd pfd[NR_WORKERS];
	int ready;

	*client = rlbt_connect(AF_INET, NULL, 0, "127.0.0.1", rlb_group_port(g));
	if (*client < 0) {
		fprintf(stderr, "connect: %s\n", strerror(-*client));
		return -1;
	}
	for (int w = 0; w < NR_WORKERS; w++)
		pfd[w] = (struct pollfd){ .fd = rlb_group_fd(g, w), .events = POLLIN };
	ready = poll(pfd, NR_WORKERS, RLBT_TIMEOUT_MS);
	for (int w = 0; ready == 1 && w < NR_WORKERS; w++) {
		if (!(pfd[w].revents & POLLIN))
			continue;
		*server = accept4(pfd[w].fd, NULL, NULL, SOCK_CLOEXEC);
		if (*server >= 0)
			return w;
	}
	fprintf(stderr, "%d listeners ready after a connection, want 1\n", ready);
	close(*client);
	return -1;
}

/*
 * n connections, each accepted and closed by its worker, which reports both (the others stay
 * at their load). Counts them per worker into counts; false if one failed.
 */
static bool run(struct rlb_group *g, int n, int counts[NR_WORKERS])
{
	memset(counts, 0, NR_WORKERS * sizeof(counts[0]));
	for (int i = 0; i < n; i++) {
		int w = rlbt_steer(g, AF_INET, NULL, 0, "127.0.0.1");

		if (!CHECK(w >= 0, "connection %d reached no single worker", i))
			return false;
		rlb_worker_accepted(g, w);
		rlb_worker_closed(g, w);
		counts[w]++;
		accepted[w]++;
	}
	return true;
}

/* Worker skip gets nothing, every other worker at least MIN_SHARE. */
static void check_avoided(const char *what, const int counts[NR_WORKERS], int skip)
{
	for (int w = 0; w < NR_WORKERS; w++) {
		if (w == skip)
			CHECK(counts[w] == 0, "%s: worker %d received %d of %d connections, want 0",
			      what, w, counts[w], NR_CONNS);
		else
			CHECK(counts[w] >= MIN_SHARE,
			      "%s: worker %d received %d of %d connections, want at least %d", what,
			      w, counts[w], NR_CONNS, MIN_SHARE);
	}
	printf("%s: %d/%d/%d/%d\n", what, counts[0], counts[1], counts[2], counts[3]);
}

static bool read_stats(struct rlb_group *g, struct rlb_group_stats *st)
{
	int err = rlb_ctl_read(rlb_group_ctl(g), st);

	return CHECK(!err, "rlb_ctl_read: %s: %s", strerror(-err), rlb_last_error());
}

int main(void)
{
	struct held held[NR_HELD];
	int nr_held = 0, counts[NR_WORKERS], err;
	struct rlb_group_stats st;
	struct rlb_group *g = NULL;

	rlbt_require_root();
	if (!CHECK(!rlbt_group_open("127.0.0.1", RLB_POLICY_ROUND_ROBIN, NR_WORKERS, &g),
		   "cannot open the group"))
		goto out;

	/* 1: round-robin needs exactly NR_WORKERS * NR_HELD connections; allow twice that */
	for (int i = 0; i < 2 * NR_WORKERS * NR_HELD && nr_held < NR_HELD; i++) {
		int client, server, w = connect_and_accept(g, &client, &server);

		if (!CHECK(w >= 0, "loading connection %d failed", i))
			goto out;
		accepted[w]++;
		rlb_worker_accepted(g, w);
		if (w == LOADED) {
			held[nr_held++] = (struct held){ client, server };
			continue;
		}
		rlb_worker_closed(g, w);
		close(server);
		close(client);
	}
	if (!CHECK(nr_held == NR_HELD, "worker %d holds %d connections, want %d", LOADED, nr_held,
		   NR_HELD))
		goto out;

	/* 2 */
	err = rlb_group_set_policy(g, RLB_POLICY_LEAST_CONN);
	if (!CHECK(!err, "rlb_group_set_policy(least-conn): %s: %s", strerror(-err),
		   rlb_last_error()))
		goto out;
	if (!read_stats(g, &st))
		goto out;
	for (int w = 0; w < NR_WORKERS; w++)
		CHECK(st.workers[w].active == (w == LOADED ? NR_HELD : 0u),
		      "the load map shows worker %d with %llu active connections, want %d", w,
		      (unsigned long long)st.workers[w].active, w == LOADED ? NR_HELD : 0);

	/* 3 */
	if (!run(g, NR_CONNS, counts))
		goto out;
	check_avoided("worker 2 holding 50", counts, LOADED);

	/* 4 */
	for (int i = 0; i < nr_held; i++) {
		close(held[i].server);
		close(held[i].client);
		rlb_worker_closed(g, LOADED);
	}
	nr_held = 0;
	if (!run(g, NR_CONNS, counts))
		goto out;
	check_avoided("all idle", counts, -1);

	/* 5 */
	rlb_worker_busy(g, STALLED, +1);
	if (!read_stats(g, &st))
		goto out;
	CHECK(st.workers[STALLED].busy == 1, "the load map shows worker %d busy %llu, want 1",
	      STALLED, (unsigned long long)st.workers[STALLED].busy);
	if (!run(g, NR_CONNS, counts))
		goto out;
	check_avoided("worker 1 busy", counts, STALLED);
	rlb_worker_busy(g, STALLED, -1);
	if (!run(g, NR_CONNS, counts))
		goto out;
	check_avoided("worker 1 idle again", counts, -1);

	/* 6 */
	if (!read_stats(g, &st))
		goto out;
	for (int w = 0; w < NR_WORKERS; w++) {
		const struct rlb_worker_stats *ws = &st.workers[w];

		CHECK(ws->accepted == (uint64_t)accepted[w] && !ws->active && !ws->busy,
		      "load of worker %d: accepted %llu, active %llu, busy %llu; want %d, 0, 0", w,
		      (unsigned long long)ws->accepted, (unsigned long long)ws->active,
		      (unsigned long long)ws->busy, accepted[w]);
		CHECK(ws->steered == (uint64_t)accepted[w] && !ws->fallback,
		      "stats of worker %d: steered %llu, fallback %llu; want %d, 0", w,
		      (unsigned long long)ws->steered, (unsigned long long)ws->fallback,
		      accepted[w]);
	}
	CHECK(!st.unsteered, "%llu connections unsteered", (unsigned long long)st.unsteered);
out:
	for (int i = 0; i < nr_held; i++) {
		close(held[i].server);
		close(held[i].client);
	}
	rlb_group_close(g);
	return rlbt_finish();
}
