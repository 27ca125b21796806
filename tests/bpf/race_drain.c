// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Drains at once never drain every worker (issue 17, item 1): the last live worker can never
 * be drained, whatever runs concurrently. One server serves every trial; between trials the
 * test undrains through the library.
 *
 * 1. "reuselb serve -a 127.0.0.1 -p 0 -w 2 --mode id" (the real binary).
 * 2. RACE_TRIALS times (default 300): "reuselb drain -p P 0" and "... 1" released at the same
 *    instant (race.h). Exactly one exits 0, the other exits 1 with one line naming itself as
 *    the last live worker; the stats show one worker live, the refused one, and one draining.
 *    Every 50th trial, 8 connections all reach the live worker and none is unsteered.
 * 3. RACE_TRIALS through the library from separate processes: two children, each with a
 *    controller of its own (rlb_ctl_open), drain one worker each, released together: one 0,
 *    one -EBUSY.
 * 4. RACE_TRIALS through the library within one process: two threads drain one worker each
 *    through the same controller: one 0, one -EBUSY.
 * 5. RACE_TRIALS / 3 trials of three drains at once on a 3-worker server: exactly one refused.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "race.h"
#include "rlbtest.h"

#define MAX_STOP_FAILURES 10
/* Microseconds over which the actors' starts are spread: what varies where their steps meet. */
#define SPREAD_US 100

/* Realtime actors: on a busy machine ordinary ones would start milliseconds apart. */
static const struct rlbt_race_opts race_opts = { .realtime = true, .spread_us = SPREAD_US };

static unsigned int trials(void)
{
	const char *s = getenv("RACE_TRIALS");

	return s && atoi(s) > 0 ? (unsigned int)atoi(s) : 300;
}

/* The only live worker of the group, -1 when none or more than one is live. */
static int only_live(struct rlb_ctl *ctl, unsigned int *nr_live)
{
	struct rlb_group_stats st;
	int live = -1;

	*nr_live = 0;
	if (rlb_ctl_read(ctl, &st))
		return -1;
	for (unsigned int i = 0; i < st.nr_workers; i++) {
		if (st.workers[i].state == RLB_WORKER_LIVE) {
			live = i;
			(*nr_live)++;
		}
	}
	return *nr_live == 1 ? live : -1;
}

static bool undrain_all(struct rlb_ctl *ctl, unsigned int nr)
{
	for (unsigned int i = 0; i < nr; i++)
		if (!CHECK(!rlb_ctl_set_draining(ctl, i, false), "undrain %u: %s", i,
			   rlb_last_error()))
			return false;
	return true;
}

/*
 * What nr drains at once returned (0, or 1 for refused as the last live worker): exactly
 * one refused, and it is the one worker still live.
 */
static void check_outcome(const char *what, unsigned int t, struct rlb_ctl *ctl, const int *status,
			  unsigned int nr)
{
	unsigned int ok = 0, refused = 0, nr_live;
	int which = -1, live;

	for (unsigned int i = 0; i < nr; i++) {
		if (status[i] == 0) {
			ok++;
		} else if (status[i] == 1) {
			refused++;
			which = i;
		} else {
			CHECK(false, "%s, trial %u: drain %u returned %d", what, t, i, status[i]);
		}
	}
	live = only_live(ctl, &nr_live);
	CHECK(ok == nr - 1 && refused == 1 && live == which,
	      "%s, trial %u: %u drains done, %u refused (worker %d); %u live (worker %d)", what, t,
	      ok, refused, which, nr_live, live);
}

/* 8 connections all reach worker want. */
static void check_traffic(unsigned int t, uint16_t port, int want)
{
	for (int i = 0; i < 8; i++) {
		int got = rlbt_ask_id(AF_INET, NULL, 0, "127.0.0.1", port);

		CHECK(got == want, "trial %u: connection %d reached worker %d, the live one is %d",
		      t, i, got, want);
	}
}

/* 2. and 5. Drains of workers 0..nr-1 by the CLI, released together. */
static void cli_trials(struct rlb_ctl *ctl, uint16_t port, unsigned int nr, unsigned int n)
{
	char p[8], ids[RLB_MAX_WORKERS][4], *argv[RLB_MAX_WORKERS][6];
	char *const *argvs[RLB_MAX_WORKERS];
	struct rlbt_race_result res[RLB_MAX_WORKERS];
	const char *bin = getenv("REUSELB");
	int status[RLB_MAX_WORKERS];
	long start = rlbt_now_ms();

	snprintf(p, sizeof(p), "%u", port);
	for (unsigned int i = 0; i < nr; i++) {
		snprintf(ids[i], sizeof(ids[i]), "%u", i);
		argv[i][0] = (char *)bin;
		argv[i][1] = "drain";
		argv[i][2] = "-p";
		argv[i][3] = p;
		argv[i][4] = ids[i];
		argv[i][5] = NULL;
		argvs[i] = argv[i];
	}
	for (unsigned int t = 1; t <= n && rlbt_failures < MAX_STOP_FAILURES; t++) {
		int err = rlbt_race_exec(argvs, nr, &race_opts, res);

		if (!CHECK(!err, "trial %u: the race failed: %s", t, strerror(-err)))
			break;
		for (unsigned int i = 0; i < nr; i++) {
			status[i] = res[i].status;
			if (status[i] == 1)
				CHECK(strstr(res[i].err, "is the last live worker") &&
					      strchr(res[i].err, '\n') ==
						      res[i].err + strlen(res[i].err) - 1,
				      "trial %u: drain %u refused with: %s", t, i, res[i].err);
			else if (status[i] != 0)
				CHECK(false, "trial %u: drain %u exited %d: %s", t, i, status[i],
				      res[i].err);
		}
		check_outcome("CLI", t, ctl, status, nr);
		if (t % 50 == 0) {
			unsigned int nr_live;
			int live = only_live(ctl, &nr_live);

			if (live >= 0)
				check_traffic(t, port, live);
		}
		rlbt_race_free(res, nr);
		if (!undrain_all(ctl, nr))
			break;
	}
	printf("%u trials of %u CLI drains at once: %ld ms\n", n, nr, rlbt_now_ms() - start);
}

/*
 * 3. A child process: a controller of its own, opened before the fork and not locked yet, so
 * that the child opens the lock itself (an open file description of its own) and its drain
 * starts at the release, not after the pins are opened.
 */
static int drain_in_child(unsigned int i, void *arg)
{
	struct rlb_ctl **ctls = arg;
	int err = rlb_ctl_set_draining(ctls[i], i, true);

	return err == 0 ? 0 : err == -EBUSY ? 1 : 2;
}

static void process_trials(struct rlb_ctl *ctl, const char *group, unsigned int n)
{
	struct rlbt_race_result res[2];
	long start = rlbt_now_ms();

	for (unsigned int t = 1; t <= n && rlbt_failures < MAX_STOP_FAILURES; t++) {
		struct rlb_ctl *ctls[2] = {};
		int err, st[2];

		for (unsigned int i = 0; i < 2; i++)
			if (!CHECK(!rlb_ctl_open(group, &ctls[i]), "rlb_ctl_open(%s): %s", group,
				   rlb_last_error()))
				return;
		err = rlbt_race_fn(drain_in_child, ctls, 2, &race_opts, res);
		rlb_ctl_close(ctls[0]);
		rlb_ctl_close(ctls[1]);
		if (!CHECK(!err, "trial %u: the race failed: %s", t, strerror(-err)))
			break;
		st[0] = res[0].status;
		st[1] = res[1].status;
		check_outcome("library, two processes", t, ctl, st, 2);
		if (!undrain_all(ctl, 2))
			break;
	}
	printf("%u trials of 2 library drains from 2 processes: %ld ms\n", n,
	       rlbt_now_ms() - start);
}

/* 4. Two threads of one process, one controller. */
struct thread_arg {
	struct rlb_ctl *ctl;
	pthread_barrier_t *go;
	unsigned int worker;
	long delay_us; /* after the release, as the processes' spread */
	int err;
};

static void *drain_in_thread(void *p)
{
	struct thread_arg *a = p;
	struct timespec ts;
	long until;

	pthread_barrier_wait(a->go);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	until = ts.tv_sec * 1000000L + ts.tv_nsec / 1000 + a->delay_us;
	do
		clock_gettime(CLOCK_MONOTONIC, &ts);
	while (ts.tv_sec * 1000000L + ts.tv_nsec / 1000 < until);
	a->err = rlb_ctl_set_draining(a->ctl, a->worker, true);
	return NULL;
}

static void thread_trials(struct rlb_ctl *ctl, unsigned int n)
{
	long start = rlbt_now_ms();

	for (unsigned int t = 1; t <= n && rlbt_failures < MAX_STOP_FAILURES; t++) {
		struct thread_arg a[2];
		pthread_barrier_t go;
		pthread_t th[2];
		int st[2];

		pthread_barrier_init(&go, NULL, 2);
		for (unsigned int i = 0; i < 2; i++) {
			a[i] = (struct thread_arg){ .ctl = ctl,
						    .go = &go,
						    .worker = i,
						    .delay_us = rlbt_below(SPREAD_US) };
			pthread_create(&th[i], NULL, drain_in_thread, &a[i]);
		}
		for (unsigned int i = 0; i < 2; i++) {
			pthread_join(th[i], NULL);
			st[i] = a[i].err == 0 ? 0 : a[i].err == -EBUSY ? 1 : 2;
		}
		pthread_barrier_destroy(&go);
		check_outcome("library, two threads", t, ctl, st, 2);
		if (!undrain_all(ctl, 2))
			break;
	}
	printf("%u trials of 2 library drains from 2 threads: %ld ms\n", n, rlbt_now_ms() - start);
}

static int serve(const char *workers, struct rlbt_server *s, struct rlb_ctl **ctl)
{
	const char *argv[] = { "serve", "-a",	 "127.0.0.1", "-p", "0",
			       "-w",	workers, "--mode",    "id", NULL };
	char group[RLB_NAME_MAX + 1];
	int err = rlbt_serve_start(argv, s);

	if (!CHECK(!err, "serve -w %s did not start: %s", workers, strerror(-err)))
		return err;
	snprintf(group, sizeof(group), "tcp-%u", s->port);
	err = rlb_ctl_open(group, ctl);
	if (!CHECK(!err, "rlb_ctl_open(%s): %s", group, rlb_last_error())) {
		rlbt_serve_stop(s);
		rlbt_serve_free(s);
	}
	return err;
}

static void stop(struct rlbt_server *s, struct rlb_ctl *ctl)
{
	struct rlb_group_stats st;
	int status;

	if (!rlb_ctl_read(ctl, &st))
		CHECK(st.unsteered == 0, "%llu connections unsteered",
		      (unsigned long long)st.unsteered);
	rlb_ctl_close(ctl);
	status = rlbt_serve_stop(s);
	CHECK(status == 0, "serve exited %d", status);
	rlbt_serve_free(s);
}

int main(void)
{
	unsigned int n = trials();
	struct rlbt_server s;
	struct rlb_ctl *ctl;
	char group[RLB_NAME_MAX + 1];

	rlbt_require_root();
	rlbt_seed();
	/* 1. */
	if (serve("2", &s, &ctl))
		return rlbt_finish();
	snprintf(group, sizeof(group), "%s", rlb_ctl_name(ctl));
	/* 2. */
	cli_trials(ctl, s.port, 2, n);
	/* 3. */
	process_trials(ctl, group, n);
	/* 4. */
	thread_trials(ctl, n);
	stop(&s, ctl);

	/* 5. */
	if (serve("3", &s, &ctl))
		return rlbt_finish();
	cli_trials(ctl, s.port, 3, n / 3);
	stop(&s, ctl);
	return rlbt_finish();
}
