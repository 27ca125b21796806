// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Changes at once never leave a stale table (issue 17, item 2): after any set of concurrent
 * weight, drain and policy changes returns, the active half of the weighted and maglev tables
 * (config.table picks it) is exactly what the table builders make of the weights and states
 * that stats shows, and traffic follows it. One server serves every trial; between trials
 * the test resets the group through the library.
 *
 * 1. "reuselb serve -a 127.0.0.1 -p 0 -w 4 --policy weighted --mode id" (the real binary).
 * 2. RACE_TRIALS times (default 300), released at the same instant (race.h):
 *    - two trials in three, the case: "weight -p P 1 0" and "weight -p P 2 0"; the
 *      stats then show weights 100/0/0/100;
 *    - every third, three commands drawn at random from weight W X, drain W, undrain W and
 *      policy weighted|maglev.
 *    Every command exits 0. The active halves of "weighted" and "maglev", read from the pins,
 *    equal rlb_build_weighted(weights of live workers) and rlb_build_maglev(live workers) over
 *    what rlb_ctl_read (stats) reports. Then 8 connections: under weighted, none reaches a
 *    worker of weight 0 or draining; under maglev, none a draining one.
 * 3. Nothing was unsteered; the server exits 0.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <bpf/bpf.h>

#include "race.h"
#include "rlbtest.h"
#include "../../user/lib/internal.h"

#define NR_WORKERS 4
#define NR_CONNS 8
#define MAX_ACTORS 3
#define MAX_STOP_FAILURES 10

/*
 * Realtime actors (else a busy machine starts them milliseconds apart) whose starts are spread
 * over 3 ms, about the time a rebuild of the tables takes: without the control lock this finds
 * a stale table about once in 50 trials, where starts spread over 0.1 ms found one in 200.
 */
static const struct rlbt_race_opts race_opts = { .realtime = true, .spread_us = 3000 };

struct pins {
	int config, weighted, maglev;
};

static unsigned int trials(void)
{
	const char *s = getenv("RACE_TRIALS");

	return s && atoi(s) > 0 ? (unsigned int)atoi(s) : 300;
}

static int open_pin(const char *group, const char *map)
{
	char path[256];
	int fd;

	snprintf(path, sizeof(path), "%s/%s/%s", RLB_PIN_ROOT, group, map);
	fd = bpf_obj_get(path);
	CHECK(fd >= 0, "cannot open %s: %s", path, strerror(errno));
	return fd;
}

/* Both halves of an array map of __u32, in one batch. */
static int read_all(int fd, __u32 *values, __u32 nr)
{
	__u32 *keys = calloc(nr, sizeof(*keys)), count = nr, out;
	int err;

	if (!keys)
		return -ENOMEM;
	err = bpf_map_lookup_batch(fd, NULL, &out, keys, values, &count, NULL);
	free(keys);
	/* ENOENT: the batch reached the end of the map, which is the whole of it */
	if (err && errno != ENOENT)
		return -errno;
	return count == nr ? 0 : -EIO;
}

/*
 * The active tables against what the builders make of the stats. Fills live and weights as
 * the stats show them.
 */
static void check_tables(unsigned int t, const struct pins *p, struct rlb_ctl *ctl,
			 struct rlb_group_stats *st)
{
	static __u32 weighted[2 * RLB_WEIGHT_TABLE], maglev[2 * RLB_MAGLEV_SIZE];
	static __u32 want_w[RLB_WEIGHT_TABLE], want_m[RLB_MAGLEV_SIZE];
	__u32 weights[NR_WORKERS], key = 0, half;
	bool live[NR_WORKERS];
	struct rlb_config cfg;
	unsigned int diff = 0, first = 0;

	if (!CHECK(!rlb_ctl_read(ctl, st), "trial %u: rlb_ctl_read: %s", t, rlb_last_error()) ||
	    !CHECK(!bpf_map_lookup_elem(p->config, &key, &cfg), "trial %u: config: %s", t,
		   strerror(errno)) ||
	    !CHECK(!read_all(p->weighted, weighted, 2 * RLB_WEIGHT_TABLE),
		   "trial %u: cannot read the weighted table", t) ||
	    !CHECK(!read_all(p->maglev, maglev, 2 * RLB_MAGLEV_SIZE),
		   "trial %u: cannot read the maglev table", t))
		return;
	CHECK(st->nr_workers == NR_WORKERS, "trial %u: %u workers", t, st->nr_workers);
	for (unsigned int i = 0; i < NR_WORKERS; i++) {
		live[i] = st->workers[i].state == RLB_WORKER_LIVE;
		weights[i] = live[i] ? st->workers[i].weight : 0;
	}
	half = cfg.table & 1;
	rlb_build_weighted(weights, NR_WORKERS, want_w, RLB_WEIGHT_TABLE);
	rlb_build_maglev(live, NR_WORKERS, want_m, RLB_MAGLEV_SIZE);
	for (unsigned int e = 0; e < RLB_WEIGHT_TABLE; e++) {
		if (weighted[half * RLB_WEIGHT_TABLE + e] != want_w[e] && !diff++)
			first = e;
	}
	CHECK(!diff,
	      "trial %u: active weighted half %u differs from the weights %u/%u/%u/%u in %u of "
	      "%u entries (first: entry %u holds %u, want %u)",
	      t, half, weights[0], weights[1], weights[2], weights[3], diff, RLB_WEIGHT_TABLE,
	      first, weighted[half * RLB_WEIGHT_TABLE + first], want_w[first]);
	diff = 0;
	for (unsigned int e = 0; e < RLB_MAGLEV_SIZE; e++) {
		if (maglev[half * RLB_MAGLEV_SIZE + e] != want_m[e] && !diff++)
			first = e;
	}
	CHECK(!diff,
	      "trial %u: active maglev half %u differs from the live workers %d%d%d%d in %u of "
	      "%u entries",
	      t, half, live[0], live[1], live[2], live[3], diff, RLB_MAGLEV_SIZE);
}

/* Connections reach no worker that the stats say must get none. */
static void check_traffic(unsigned int t, uint16_t port, const struct rlb_group_stats *st)
{
	for (int c = 0; c < NR_CONNS; c++) {
		int w = rlbt_ask_id(AF_INET, NULL, 0, "127.0.0.1", port);
		const struct rlb_worker_stats *ws;

		if (!CHECK(w >= 0 && w < NR_WORKERS, "trial %u: connection %d: %d", t, c, w))
			return;
		ws = &st->workers[w];
		CHECK(ws->state == RLB_WORKER_LIVE,
		      "trial %u: connection %d reached worker %d, which is draining", t, c, w);
		CHECK(st->policy != RLB_POLICY_WEIGHTED || ws->weight,
		      "trial %u: connection %d reached worker %d, whose weight is 0", t, c, w);
	}
}

/* Back to weighted, every worker live at weight 100. */
static bool reset(struct rlb_ctl *ctl)
{
	struct rlb_group_stats st;
	int err = rlb_ctl_read(ctl, &st);

	if (!err && st.policy != RLB_POLICY_WEIGHTED)
		err = rlb_ctl_set_policy(ctl, RLB_POLICY_WEIGHTED);
	for (unsigned int i = 0; i < NR_WORKERS && !err; i++) {
		if (st.workers[i].weight != RLB_WEIGHT_DEFAULT)
			err = rlb_ctl_set_weight(ctl, i, RLB_WEIGHT_DEFAULT);
		if (!err && st.workers[i].state != RLB_WORKER_LIVE)
			err = rlb_ctl_set_draining(ctl, i, false);
	}
	return CHECK(!err, "reset: %s", rlb_last_error());
}

/* One random command into argv (words kept in buf), for the mixed trials. */
static void random_command(char *argv[8], char buf[3][16], const char *port)
{
	static const char *const weights[] = { "0", "50", "100", "300" };
	unsigned int kind = rlbt_below(4);

	argv[0] = getenv("REUSELB");
	argv[2] = "-p";
	argv[3] = (char *)port;
	snprintf(buf[0], 16, "%u", rlbt_below(NR_WORKERS));
	argv[4] = buf[0];
	argv[5] = NULL;
	switch (kind) {
	case 0:
		argv[1] = "weight";
		snprintf(buf[1], 16, "%s", weights[rlbt_below(4)]);
		argv[5] = buf[1];
		argv[6] = NULL;
		break;
	case 1:
		argv[1] = "drain";
		break;
	case 2:
		argv[1] = "undrain";
		break;
	default:
		argv[1] = "policy";
		argv[4] = rlbt_below(2) ? "maglev" : "weighted";
		break;
	}
}

int main(void)
{
	const char *serve[] = { "serve", "-a",	     "127.0.0.1", "-p",	    "0",  "-w",
				"4",	 "--policy", "weighted",  "--mode", "id", NULL };
	char port[8], group[RLB_NAME_MAX + 1], words[MAX_ACTORS][3][16];
	char *argv[MAX_ACTORS][8], *const *argvs[MAX_ACTORS];
	struct rlbt_race_result res[MAX_ACTORS];
	unsigned int n = trials(), mixed = 0;
	struct rlb_group_stats st;
	struct pins p = { -1, -1, -1 };
	struct rlbt_server s;
	struct rlb_ctl *ctl;
	long start;
	int err;

	rlbt_require_root();
	rlbt_seed();
	/* 1. */
	err = rlbt_serve_start(serve, &s);
	if (!CHECK(!err, "serve did not start: %s", strerror(-err)))
		return rlbt_finish();
	snprintf(port, sizeof(port), "%u", s.port);
	snprintf(group, sizeof(group), "tcp-%u", s.port);
	if (!CHECK(!rlb_ctl_open(group, &ctl), "rlb_ctl_open: %s", rlb_last_error()))
		goto stop;
	p.config = open_pin(group, "config");
	p.weighted = open_pin(group, "weighted");
	p.maglev = open_pin(group, "maglev");
	if (p.config < 0 || p.weighted < 0 || p.maglev < 0)
		goto close;

	/* 2. */
	start = rlbt_now_ms();
	for (unsigned int t = 1; t <= n && rlbt_failures < MAX_STOP_FAILURES; t++) {
		unsigned int nr = 2;

		if (!reset(ctl))
			break;
		if (t % 3) {
			for (unsigned int i = 0; i < 2; i++) {
				argv[i][0] = getenv("REUSELB");
				argv[i][1] = "weight";
				argv[i][2] = "-p";
				argv[i][3] = port;
				argv[i][4] = i ? "2" : "1";
				argv[i][5] = "0";
				argv[i][6] = NULL;
			}
		} else {
			nr = MAX_ACTORS;
			mixed++;
			for (unsigned int i = 0; i < nr; i++)
				random_command(argv[i], words[i], port);
		}
		for (unsigned int i = 0; i < nr; i++)
			argvs[i] = argv[i];
		err = rlbt_race_exec(argvs, nr, &race_opts, res);
		if (!CHECK(!err, "trial %u: the race failed: %s", t, strerror(-err)))
			break;
		for (unsigned int i = 0; i < nr; i++) {
			CHECK(res[i].status == 0, "trial %u: %s %s %s exited %d: %s", t, argv[i][1],
			      argv[i][4], argv[i][5] ? argv[i][5] : "", res[i].status, res[i].err);
		}
		rlbt_race_free(res, nr);
		check_tables(t, &p, ctl, &st);
		if (t % 3) {
			CHECK(st.workers[0].weight == 100 && st.workers[1].weight == 0 &&
				      st.workers[2].weight == 0 && st.workers[3].weight == 100,
			      "trial %u: weights %u/%u/%u/%u, want 100/0/0/100", t,
			      st.workers[0].weight, st.workers[1].weight, st.workers[2].weight,
			      st.workers[3].weight);
		}
		check_traffic(t, s.port, &st);
	}
	printf("%u trials (%u of them mixed) in %ld ms\n", n, mixed, rlbt_now_ms() - start);

	/* 3. */
	if (!rlb_ctl_read(ctl, &st))
		CHECK(st.unsteered == 0, "%llu connections unsteered",
		      (unsigned long long)st.unsteered);
close:
	for (int *fd = &p.config; fd <= &p.maglev; fd++)
		if (*fd >= 0)
			close(*fd);
	rlb_ctl_close(ctl);
stop:
	err = rlbt_serve_stop(&s);
	CHECK(err == 0, "serve exited %d", err);
	rlbt_serve_free(&s);
	return rlbt_finish();
}
