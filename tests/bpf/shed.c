// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Keep-alive connections moved gently: a drained worker sheds its connections over a window,
 * and rebalance tells the busiest workers to shed their excess.
 *
 * 1. "$REUSELB serve -a 127.0.0.1 -p PORT -w 4 --mode http --name shed-PID" (round-robin).
 * 2. 400 keep-alive clients, each a GET every 100 ms on its own connection; a client whose
 *    answer says Connection: close opens a new connection for its next GET. Each worker then
 *    has exactly 100 open.
 * 3. "reuselb drain --name G --shed --shed-window 4 0": worker 0's active connections fall to
 *    0, not at once (after at least half the window) and within the window and 2 s; the
 *    others end within 10 % of each other; all 400 clients are connected again, and none saw
 *    an error (a refused or reset connection, an answer not 200, a close not announced).
 * 4. "reuselb undrain ... 0", then "reuselb rebalance --name G --shed-window 2": it names
 *    workers 1 to 3 (each above the mean by more than 10 %); within the window and 2 s worker
 *    0 has connections again; still no client error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rlbtest.h"
#include "keepalive.h"

#define CLIENTS 400
#define WORKERS 4
#define PERIOD_MS 100
#define WINDOW_S 4
#define WAIT_MS 60000

static int active_of(const char *name, uint64_t active[WORKERS])
{
	struct rlb_group_stats st;
	struct rlb_ctl *ctl;
	int err = rlb_ctl_open(name, &ctl);

	if (err)
		return err;
	err = rlb_ctl_read(ctl, &st);
	for (int i = 0; !err && i < WORKERS; i++)
		active[i] = st.workers[i].active;
	rlb_ctl_close(ctl);
	return err;
}

/* Turns the clients until cond holds of the active counts or timeout_ms passes. */
static bool run_until(struct rlbt_ka_fleet *f, const char *name, bool (*cond)(const uint64_t *),
		      uint64_t active[WORKERS], int timeout_ms)
{
	long end = rlbt_now_ms() + timeout_ms, look = 0;

	while (rlbt_now_ms() < end) {
		rlbt_ka_turn(f);
		if (rlbt_now_ms() < look)
			continue;
		look = rlbt_now_ms() + 50;
		if (!active_of(name, active) && cond(active))
			return true;
	}
	return false;
}

static bool all_even(const uint64_t *a)
{
	return a[0] == CLIENTS / WORKERS && a[1] == CLIENTS / WORKERS &&
	       a[2] == CLIENTS / WORKERS && a[3] == CLIENTS / WORKERS;
}

static bool zero_gone(const uint64_t *a)
{
	return a[0] == 0 && a[1] + a[2] + a[3] == CLIENTS;
}

static bool zero_back(const uint64_t *a)
{
	return a[0] > 0;
}

/* $REUSELB with args; its exit status, its stdout in out. */
static int cli(char *out, size_t len, const char *args)
{
	char cmd[512];
	FILE *p;
	size_t n;

	snprintf(cmd, sizeof(cmd), "'%s' %s", getenv("REUSELB"), args);
	p = popen(cmd, "r");
	if (!p)
		return -1;
	n = fread(out, 1, len - 1, p);
	out[n] = '\0';
	return WEXITSTATUS(pclose(p));
}

int main(void)
{
	const char *argv[] = { "serve", "-a",	  "127.0.0.1", "-p",	 "0",  "-w",
			       "4",	"--mode", "http",      "--name", NULL, NULL };
	struct rlbt_server s = { .pid = -1, .out_fd = -1 };
	struct rlbt_ka_fleet f;
	uint64_t active[WORKERS], lo, hi;
	char name[32], args[128], out[1024];
	long start, took;
	int status;

	rlbt_require_root();
	snprintf(name, sizeof(name), "shed-%d", getpid());
	argv[10] = name;
	/* 1. */
	if (!CHECK(!rlbt_serve_start(argv, &s), "serve did not start"))
		return rlbt_finish();
	/* 2. */
	if (!CHECK(!rlbt_ka_init(&f, CLIENTS, s.port, PERIOD_MS), "out of memory"))
		return rlbt_finish();
	CHECK(run_until(&f, name, all_even, active, WAIT_MS),
	      "the workers do not have 100 each: %llu %llu %llu %llu",
	      (unsigned long long)active[0], (unsigned long long)active[1],
	      (unsigned long long)active[2], (unsigned long long)active[3]);
	f.reconnects = 0;

	/* 3. */
	snprintf(args, sizeof(args), "drain --name %s --shed --shed-window %d 0", name, WINDOW_S);
	status = cli(out, sizeof(out), args);
	CHECK(status == 0 && strstr(out, "closes them gently over 4 s"), "drain --shed: %d: %s",
	      status, out);
	start = rlbt_now_ms();
	CHECK(run_until(&f, name, zero_gone, active, WAIT_MS), "worker 0 still has %llu",
	      (unsigned long long)active[0]);
	took = rlbt_now_ms() - start;
	printf("worker 0 shed its %d connections in %ld ms (window %d s), %lu reconnects: now "
	       "%llu %llu %llu %llu\n",
	       CLIENTS / WORKERS, took, WINDOW_S, f.reconnects, (unsigned long long)active[0],
	       (unsigned long long)active[1], (unsigned long long)active[2],
	       (unsigned long long)active[3]);
	CHECK(took >= WINDOW_S * 1000 / 2 && took <= WINDOW_S * 1000 + 2000,
	      "shed in %ld ms, want between half the window and the window and 2 s", took);
	lo = hi = active[1];
	for (int i = 2; i < WORKERS; i++) {
		lo = active[i] < lo ? active[i] : lo;
		hi = active[i] > hi ? active[i] : hi;
	}
	CHECK(hi * 100 <= lo * 110, "the others are not within 10 %%: %llu %llu %llu",
	      (unsigned long long)active[1], (unsigned long long)active[2],
	      (unsigned long long)active[3]);
	CHECK(f.errors == 0, "%lu client errors after the drain", f.errors);

	/* 4. */
	snprintf(args, sizeof(args), "undrain --name %s 0", name);
	CHECK(cli(out, sizeof(out), args) == 0, "undrain: %s", out);
	snprintf(args, sizeof(args), "rebalance --name %s --shed-window 2", name);
	status = cli(out, sizeof(out), args);
	printf("%s", out);
	CHECK(status == 0 && strstr(out, "worker 1 closes") && strstr(out, "worker 2 closes") &&
		      strstr(out, "worker 3 closes") && !strstr(out, "worker 0 closes"),
	      "rebalance: %d: %s", status, out);
	CHECK(run_until(&f, name, zero_back, active, 2000 + 2000), "worker 0 got nothing back");
	CHECK(f.errors == 0, "%lu client errors after the rebalance", f.errors);
	printf("%lu answers in all, %lu client errors\n", f.answers, f.errors);

	rlbt_ka_free(&f);
	status = rlbt_serve_stop(&s);
	CHECK(status == 0, "serve exited %d", status);
	rlbt_serve_free(&s);
	return rlbt_finish();
}
