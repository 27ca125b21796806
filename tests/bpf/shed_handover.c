// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Keep-alive connections leave an old instance gently after a takeover: spread over its
 * --shed-window, which is cut to its --grace.
 *
 * Two runs: --shed-window 4 --grace 20 (window 4 s), and --shed-window 60 --grace 3 (the
 * window is cut to 3 s).
 * 1. A: "$REUSELB serve -a 127.0.0.1 -p 0 -w 2 --mode http --name sh-PID-RUN --confirm 200
 *    --shed-window S --grace G".
 * 2. 100 keep-alive clients, each a GET every 50 ms on its own connection (a client told
 *    Connection: close opens a new one for its next GET); A's workers hold all 100.
 * 3. B: the same with -p A's port --takeover. Each client records when it first read
 *    Connection: close. Until every client has been told to close and has had an answer on
 *    its new connection:
 *    - each was told exactly once (B ends none), none saw an error;
 *    - the closes are spread: from the first to the last more than a third of the window,
 *      at most the window and 2 s; half a window after the first, some but not all
 *      (between a fifth and four fifths) had been told;
 *    - B's workers hold all 100, and A exits 0 by itself with "0 connections cut".
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

/* Active connections of the group's serving generation, read through its pins. */
static uint64_t active_of(const char *name)
{
	struct rlbt_totals t;

	return rlbt_group_totals(name, &t) ? 0 : t.active;
}

/* Every client has been told to close, and has an answer on its new connection. */
static bool all_moved(const struct rlbt_ka_fleet *f)
{
	for (unsigned int i = 0; i < f->n; i++)
		if (!f->c[i].first_close_ms || !f->c[i].answers_since_close)
			return false;
	return true;
}

static void run(int run, const char *window, const char *grace, long window_ms)
{
	const char *argv[] = {
		"serve",  "-a",	     "127.0.0.1", "-p", "0",	     "-w",  "2",
		"--mode", "http",    "--name",	  NULL, "--confirm", "200", "--shed-window",
		window,	  "--grace", grace,	  NULL, NULL
	};
	struct rlbt_server a = { .pid = -1, .out_fd = -1 }, b = a;
	struct rlbt_ka_fleet f;
	char name[48], port[16];
	long first = 0, last = 0, end;
	unsigned int by_half = 0;
	uint64_t active = 0;
	int status;

	snprintf(name, sizeof(name), "sh-%d-%d", getpid(), run);
	argv[10] = name;
	printf("run %d: --shed-window %s --grace %s\n", run, window, grace);
	/* 1. */
	if (!CHECK(!rlbt_serve_start(argv, &a), "A did not start"))
		return;
	/* 2. */
	if (!CHECK(!rlbt_ka_init(&f, CLIENTS, a.port, PERIOD_MS), "out of memory"))
		goto out;
	end = rlbt_now_ms() + WAIT_MS;
	while (rlbt_now_ms() < end && (active = active_of(name)) != CLIENTS)
		for (int i = 0; i < 5; i++)
			rlbt_ka_turn(&f);
	if (!CHECK(active == CLIENTS, "A holds %llu connections, want %d",
		   (unsigned long long)active, CLIENTS))
		goto out;

	/* 3. */
	snprintf(port, sizeof(port), "%u", a.port);
	argv[4] = port;
	argv[17] = "--takeover";
	if (!CHECK(!rlbt_serve_start(argv, &b), "B did not start"))
		goto out;
	end = rlbt_now_ms() + WAIT_MS;
	while (rlbt_now_ms() < end && !all_moved(&f))
		rlbt_ka_turn(&f);
	CHECK(all_moved(&f), "not every client was moved to B");
	for (unsigned int i = 0; i < f.n; i++) {
		long t = f.c[i].first_close_ms;

		if (!t)
			continue;
		first = !first || t < first ? t : first;
		last = t > last ? t : last;
	}
	for (unsigned int i = 0; i < f.n; i++)
		by_half += f.c[i].first_close_ms && f.c[i].first_close_ms <= first + window_ms / 2;
	printf("run %d: %lu closes from the first to the last in %ld ms (window %ld ms), %u of "
	       "%d by half the window; %lu answers, %lu client errors\n",
	       run, f.closes, last - first, window_ms, by_half, CLIENTS, f.answers, f.errors);
	CHECK(f.closes == CLIENTS, "%lu closes, want one per client (%d)", f.closes, CLIENTS);
	CHECK(f.errors == 0, "%lu client errors", f.errors);
	CHECK(last - first > window_ms / 3 && last - first <= window_ms + SLACK_MS,
	      "closes spread over %ld ms, want more than %ld and at most %ld", last - first,
	      window_ms / 3, window_ms + SLACK_MS);
	CHECK(by_half >= CLIENTS / 5 && by_half <= CLIENTS * 4 / 5,
	      "%u of %d told by half the window, want a fifth to four fifths", by_half, CLIENTS);
	/* A has let go of the pins once it exits: B's generation is the group */
	status = rlbt_serve_wait(&a, WAIT_MS);
	CHECK(status == 0 && a.output && strstr(a.output, " 0 connections cut"), "A exited %d: %s",
	      status, a.output ? a.output : "");
	for (int i = 0; i < 20; i++)
		rlbt_ka_turn(&f);
	active = active_of(name);
	CHECK(active == CLIENTS, "B holds %llu connections, want %d", (unsigned long long)active,
	      CLIENTS);
out:
	rlbt_ka_free(&f);
	if (b.pid > 0)
		CHECK(rlbt_serve_stop(&b) == 0, "B did not stop cleanly");
	if (a.pid > 0)
		rlbt_serve_stop(&a);
	rlbt_serve_free(&a);
	rlbt_serve_free(&b);
}

int main(void)
{
	rlbt_require_root();
	run(0, "4", "20", 4000);
	run(1, "60", "3", 3000);
	return rlbt_finish();
}
