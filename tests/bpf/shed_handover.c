// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Keep-alive connections leave the losing instance of a handover gently: spread over its
 * --shed-window, which is cut to its --grace.
 *
 * Three runs: a takeover with --shed-window 4 --grace 20 (window 4 s); a takeover with
 * --shed-window 60 --grace 3 (the window is cut to 3 s); a canary at 50 % with
 * --shed-window 3, rolled back.
 * 1. A: "$REUSELB serve -a 127.0.0.1 -p 0 -w 2 --mode http --name sh-PID-RUN --confirm 200
 *    --shed-window S --grace G" (the rollback run: B too, -p A's port --takeover --canary 50).
 * 2. 100 keep-alive clients, each a GET every 50 ms on its own connection (a client told
 *    Connection: close opens a new one for its next GET); the group holds all 100 (the
 *    rollback run: the loser B holds L of them, about half; the takeover runs: L = 100, on A).
 * 3. The takeover runs: B, the same with -p A's port --takeover; the rollback run:
 *    rlb_ctl_rollout_rollback(). Each client records when it first read Connection: close.
 *    Until L clients have been told to close and have had an answer on their new connection:
 *    - L were told, each once (the winner ends none), and no client saw an error;
 *    - the closes are spread: from the first to the last more than a third of the window,
 *      at most the window and 2 s; half a window after the first, some but not all
 *      (between a fifth and four fifths of L) had been told;
 *    - the loser exits 0 by itself with "0 connections cut", and the winner's workers hold
 *      all 100.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rlbtest.h"
#include "keepalive.h"

#define CLIENTS 100
#define PERIOD_MS 50
#define WAIT_MS 60000
#define SLACK_MS 2000

struct shed_case {
	const char *window, *grace;
	long window_ms; /* what it comes to: the window, at most the grace */
	bool rollback;	/* B is a canary at 50 % with the window, and is rolled back */
};

/* Active connections of the group: of both generations, and of the loser's in *loser. */
static uint64_t active_of(struct rlb_ctl *ctl, int loser_pid, uint64_t *loser)
{
	struct rlb_rollout_view v;
	uint64_t all = 0;

	*loser = 0;
	if (rlb_ctl_rollout_read(ctl, &v))
		return 0;
	for (unsigned int i = 0; i < v.nr; i++) {
		all += v.gens[i].active;
		*loser += v.gens[i].pid == loser_pid ? v.gens[i].active : 0;
	}
	return all;
}

/* Clients told to close that have an answer on their new connection. */
static unsigned int moved(const struct rlbt_ka_fleet *f)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < f->n; i++)
		n += f->c[i].first_close_ms && f->c[i].answers_since_close;
	return n;
}

static void run(int run, const struct shed_case *k)
{
	const char *argv[] = { "serve",	 "-a",	 "127.0.0.1", "-p", "0",	 "-w",	"2",
			       "--mode", "http", "--name",    NULL, "--confirm", "200", "--grace",
			       k->grace, NULL,	 NULL,	      NULL, NULL,	 NULL,	NULL };
	struct rlbt_server a = { .pid = -1, .out_fd = -1 }, b = a, *loser = k->rollback ? &b : &a;
	struct rlbt_ka_fleet f = { 0 };
	struct rlb_ctl *ctl = NULL;
	char name[48], port[16];
	long first = 0, last = 0, end;
	unsigned int by_half = 0;
	uint64_t all = 0, told = 0;
	int status;

	snprintf(name, sizeof(name), "sh-%d-%d", getpid(), run);
	argv[10] = name;
	printf("run %d: %s--shed-window %s --grace %s\n", run, k->rollback ? "rollback, " : "",
	       k->window, k->grace);
	/* 1. */
	if (!k->rollback) {
		argv[15] = "--shed-window";
		argv[16] = k->window;
	}
	if (!CHECK(!rlbt_serve_start(argv, &a), "A did not start"))
		return;
	if (!CHECK(!rlb_ctl_open(name, &ctl), "cannot open %s: %s", name, rlb_last_error()))
		goto out;
	snprintf(port, sizeof(port), "%u", a.port);
	argv[4] = port;
	argv[15] = "--takeover";
	argv[16] = "--shed-window";
	argv[17] = k->window;
	if (k->rollback) {
		argv[18] = "--canary";
		argv[19] = "50";
		if (!CHECK(!rlbt_serve_start(argv, &b), "B did not start"))
			goto out;
	}
	/* 2. */
	if (!CHECK(!rlbt_ka_init(&f, CLIENTS, a.port, PERIOD_MS), "out of memory"))
		goto out;
	end = rlbt_now_ms() + WAIT_MS;
	while (rlbt_now_ms() < end && (all = active_of(ctl, loser->pid, &told)) != CLIENTS)
		for (int i = 0; i < 5; i++)
			rlbt_ka_turn(&f);
	printf("run %d: the loser holds %llu of %llu\n", run, (unsigned long long)told,
	       (unsigned long long)all);
	if (!CHECK(all == CLIENTS && told > 0, "the group holds %llu connections, the loser %llu",
		   (unsigned long long)all, (unsigned long long)told))
		goto out;

	/* 3. */
	if (k->rollback)
		CHECK(!rlb_ctl_rollout_rollback(ctl), "rollback: %s", rlb_last_error());
	else if (!CHECK(!rlbt_serve_start(argv, &b), "B did not start"))
		goto out;
	end = rlbt_now_ms() + WAIT_MS;
	while (rlbt_now_ms() < end && moved(&f) < told)
		rlbt_ka_turn(&f);
	CHECK(moved(&f) == told, "%u of %llu clients moved to the winner", moved(&f),
	      (unsigned long long)told);
	for (unsigned int i = 0; i < f.n; i++) {
		long t = f.c[i].first_close_ms;

		if (!t)
			continue;
		first = !first || t < first ? t : first;
		last = t > last ? t : last;
	}
	for (unsigned int i = 0; i < f.n; i++)
		by_half += f.c[i].first_close_ms &&
			   f.c[i].first_close_ms <= first + k->window_ms / 2;
	printf("run %d: %lu closes from the first to the last in %ld ms (window %ld ms), %u of "
	       "%llu by half the window; %lu answers, %lu client errors\n",
	       run, f.closes, last - first, k->window_ms, by_half, (unsigned long long)told,
	       f.answers, f.errors);
	CHECK(f.closes == told, "%lu closes, want one per client of the loser (%llu)", f.closes,
	      (unsigned long long)told);
	CHECK(f.errors == 0, "%lu client errors", f.errors);
	CHECK(last - first > k->window_ms / 3 && last - first <= k->window_ms + SLACK_MS,
	      "closes spread over %ld ms, want more than %ld and at most %ld", last - first,
	      k->window_ms / 3, k->window_ms + SLACK_MS);
	CHECK(by_half >= told / 5 && by_half <= told * 4 / 5,
	      "%u of %llu told by half the window, want a fifth to four fifths", by_half,
	      (unsigned long long)told);
	status = rlbt_serve_wait(loser, WAIT_MS);
	CHECK(status == 0 && loser->output && strstr(loser->output, " 0 connections cut"),
	      "the loser exited %d: %s", status, loser->output ? loser->output : "");
	for (int i = 0; i < 20; i++)
		rlbt_ka_turn(&f);
	all = active_of(ctl, loser->pid, &told);
	CHECK(all == CLIENTS && told == 0, "the group holds %llu connections (the loser %llu)",
	      (unsigned long long)all, (unsigned long long)told);
out:
	rlbt_ka_free(&f);
	rlb_ctl_close(ctl);
	if (b.pid > 0)
		CHECK(rlbt_serve_stop(&b) == 0, "B did not stop cleanly");
	if (a.pid > 0)
		CHECK(rlbt_serve_stop(&a) == 0, "A did not stop cleanly");
	rlbt_serve_free(&a);
	rlbt_serve_free(&b);
}

int main(void)
{
	static const struct shed_case cases[] = {
		{ "4", "20", 4000, false },
		{ "60", "3", 3000, false },
		{ "3", "20", 3000, true },
	};

	rlbt_require_root();
	for (int i = 0; i < 3; i++)
		run(i, &cases[i]);
	return rlbt_finish();
}
