// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * A successor killed (kill -9) at any point of its takeover, under load: the old owner never
 * lets go of a group whose successor is not alive and serving, takes it back when the
 * successor dies, and not one connection is refused.
 *
 * 1. A: "$REUSELB serve -a 127.0.0.1 -p PORT -w 2 --mode http --name tk-kill-PID --confirm
 *    3000" (A keeps its listeners until a successor has served 3 s).
 * 2. rlbload opens 2000 connections a second for the whole test, each a GET whose whole
 *    answer it checks. Wait until A has accepted 500.
 * 3. For each offset of 0, 5, 25, 100, 500 and 2000 ms: B, the same command with --takeover,
 *    is started, and killed with SIGKILL that long after it was started (the point of the
 *    test: where in its takeover it dies depends on the offset: loading, claimed, bound,
 *    joined, serving). Then, within 10 s: config has no successor and points at A's
 *    generation again, list names A, and A has accepted 300 more connections. A has not
 *    exited. The TCP connections B held are counted from its open files, with B stopped by
 *    SIGSTOP just before the SIGKILL (its own count in the load map is printed beside).
 *    Then the same, with B killed as soon as config shows it in state proposed, joined,
 *    serving (polled without pause).
 * 4. Then a B that is not killed: after A's 3 s of confirmation, A prints "handed over group
 *    G to pid B" and exits 0, and list names B.
 * 5. Stop the load: not one connection refused, timed out or in error; the resets and the
 *    connections closed without an answer are at most those the killed successors held
 *    (counted with B stopped just before the kill: they die with the process that holds
 *    them). And the kernel reset no handshake on a closing listener of B (rst_trace.h):
 *    A holds copies of B's listeners, and closes them only once config points at A again.
 * 6. SIGTERM to B: exit 0; the pins are gone.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "rlbtest.h"
#include "rst_trace.h"
#include "takeover_race.h"

#define NR_WORKERS 2
#define WAIT_MS 10000
#define STEP 300

struct ctx {
	char name[32];
	char port[16];
	unsigned int base; /* A's generation */
	int owner;
	uint64_t accepted;
};

static bool restored(void *arg)
{
	struct ctx *c = arg;
	struct rlb_config cfg;

	return !tr_config(c->name, &cfg) && !cfg.successor && cfg.base == c->base &&
	       cfg.handover == RLB_HANDOVER_NONE && rlbt_group_owner(c->name) == c->owner;
}

/* Whether the child pid has ended, without reaping it. */
static bool ended(pid_t pid)
{
	siginfo_t si = {};

	return waitid(P_PID, pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid == pid;
}

static bool enough(void *arg)
{
	struct ctx *c = arg;
	struct rlbt_totals t;

	return !rlbt_group_totals(c->name, &t) && t.base == c->base && t.accepted >= c->accepted;
}

static bool more(struct ctx *c, uint64_t n)
{
	struct rlbt_totals t = {};

	rlbt_group_totals(c->name, &t);
	c->accepted = t.accepted + n;
	return rlbt_wait_for(enough, c, WAIT_MS * 2);
}

int main(void)
{
	static const int offsets[] = { 0, 5, 25, 100, 500, 2000 };
	const char *load_argv[] = { "-p", NULL, "-m", "http", "-d", "300", "-r", "2000", NULL };
	struct rlbt_server a = { .pid = -1, .out_fd = -1 };
	struct rlbt_load load = { .pid = -1 };
	struct rlbt_load_result res = {};
	int err_a = fileno(tmpfile());
	long dead_held = 0, forgotten;
	struct rst_trace rst = {};
	struct ctx c = {};
	struct tr_proc b = { .pid = -1, .out_fd = -1, .status = -1 };
	char pins[128], line[160];
	struct stat st;
	int port, status, gate, err;

	rlbt_require_root();
	port = rlbt_free_port(AF_INET, "127.0.0.1");
	if (!CHECK(port > 0, "no free port: %s", strerror(-port)))
		return rlbt_finish();
	err = rst_trace_start(&rst);
	if (!CHECK(!err, "cannot trace tcp:tcp_send_reset in tracefs: %s; mount tracefs on %s",
		   strerror(-err), "/sys/kernel/tracing"))
		return rlbt_finish();
	snprintf(c.port, sizeof(c.port), "%d", port);
	snprintf(c.name, sizeof(c.name), "tk-kill-%d", getpid());
	load_argv[1] = c.port;
	const char *argv_a[] = { "serve", "-a",	       "127.0.0.1", "-p",     c.port, "-w",
				 "2",	  "--mode",    "http",	    "--name", c.name, "--grace",
				 "10",	  "--confirm", "3000",	    NULL };
	const char *argv_b[] = { "serve", "-a",	       "127.0.0.1", "-p",	  c.port, "-w",
				 "2",	  "--mode",    "http",	    "--name",	  c.name, "--grace",
				 "10",	  "--confirm", "3000",	    "--takeover", NULL };
	const char *const *argvs[] = { argv_b };

	/* 1. */
	if (!CHECK(!rlbt_serve_start_err(argv_a, err_a, &a), "A did not start"))
		goto out;
	c.owner = a.pid;
	c.base = 0;
	/* 2. */
	if (!CHECK(!rlbt_load_start(load_argv, &load), "cannot start rlbload"))
		goto out;
	if (!CHECK(more(&c, 500), "A accepted fewer than 500"))
		goto out;

	/* 3. */
	for (size_t i = 0; i < ARRAY_SIZE(offsets); i++, rlbt_cases++) {
		struct timespec at = { .tv_sec = offsets[i] / 1000,
				       .tv_nsec = (offsets[i] % 1000) * 1000000L };
		struct rlb_config cfg = {};
		long active, held;

		if (!CHECK(!tr_fork_held(&b, 1, argvs, &gate), "cannot start B"))
			goto out;
		tr_release(gate);
		nanosleep(&at, NULL);
		tr_config(c.name, &cfg);
		held = tr_kill_counting(&b);
		tr_reap(&b, WAIT_MS);
		CHECK(b.status == 128 + SIGKILL, "offset %d ms: B ended with %d before the kill",
		      offsets[i], b.status);
		if (!CHECK(rlbt_wait_for(restored, &c, WAIT_MS),
			   "offset %d ms: the group is not A's again (owner %d)", offsets[i],
			   rlbt_group_owner(c.name)))
			goto out;
		active = tr_active(c.name, RLB_MAX_WORKERS, NR_WORKERS);
		CHECK(held >= 0, "cannot count the connections of B: %s", strerror((int)-held));
		dead_held += held > 0 ? held : 0;
		CHECK(more(&c, STEP), "offset %d ms: A accepted fewer than %d after", offsets[i],
		      STEP);
		CHECK(!ended(a.pid), "offset %d ms: A has exited", offsets[i]);
		printf("offset %4d ms: B killed in state %s; it held %ld connections (%ld by its "
		       "count); A serves again\nB said: %s",
		       offsets[i],
		       rlb_handover_name(cfg.successor == (__u32)b.pid ? cfg.handover : 0), held,
		       active, rlbt_file_text(b.out_fd));
		close(b.out_fd);
	}

	/* 3b. */
	for (unsigned int want = RLB_HANDOVER_PROPOSED; want <= RLB_HANDOVER_SERVING;
	     want++, rlbt_cases++) {
		long deadline, active, held;
		struct rlb_config cfg = {};
		bool seen = false;

		if (!CHECK(!tr_fork_held(&b, 1, argvs, &gate), "cannot start B"))
			goto out;
		tr_release(gate);
		/* no pause: a state such as proposed lasts only while B binds its sockets */
		for (deadline = rlbt_now_ms() + WAIT_MS; !seen && rlbt_now_ms() < deadline;)
			seen = !tr_config(c.name, &cfg) && cfg.successor == (__u32)b.pid &&
			       cfg.handover >= want;
		held = tr_kill_counting(&b);
		tr_reap(&b, WAIT_MS);
		CHECK(seen, "B never reached state %s", rlb_handover_name(want));
		if (!CHECK(rlbt_wait_for(restored, &c, WAIT_MS),
			   "killed at %s: the group is not A's again (owner %d)",
			   rlb_handover_name(want), rlbt_group_owner(c.name)))
			goto out;
		active = tr_active(c.name, RLB_MAX_WORKERS, NR_WORKERS);
		CHECK(held >= 0, "cannot count the connections of B: %s", strerror((int)-held));
		dead_held += held > 0 ? held : 0;
		CHECK(more(&c, STEP), "killed at %s: A accepted fewer than %d after",
		      rlb_handover_name(want), STEP);
		CHECK(!ended(a.pid), "killed at %s: A has exited", rlb_handover_name(want));
		printf("B killed once seen in state %s (wanted %s); it held %ld connections (%ld by "
		       "its count); A serves again\n",
		       rlb_handover_name(cfg.handover), rlb_handover_name(want), held, active);
		close(b.out_fd);
	}

	/* 4. */
	if (!CHECK(!tr_fork_held(&b, 1, argvs, &gate), "cannot start B"))
		goto out;
	tr_release(gate);
	status = rlbt_serve_wait(&a, WAIT_MS * 3);
	CHECK(status == 0, "A exited with %d after handing over", status);
	snprintf(line, sizeof(line), "reuselb: handed over group %s to pid %d; ", c.name, b.pid);
	CHECK(strstr(a.output ? a.output : "", line), "A's stdout lacks \"%s\"", line);
	CHECK(rlbt_wait_owner(c.name, b.pid, WAIT_MS), "B does not hold the pins: pid %d does",
	      rlbt_group_owner(c.name));
	c.owner = b.pid;
	c.base = RLB_MAX_WORKERS;
	CHECK(more(&c, STEP), "B accepted fewer than %d", STEP);

	/* 5. */
	status = rlbt_load_finish(&load, true, WAIT_MS, &res);
	CHECK(res.total && !res.refused && !res.timeout && !res.error,
	      "rlbload: connections %s; want none refused, timed out or in error",
	      rlbt_load_summary(&res));
	/* a connection a killed process held ends with it: a reset, or an empty answer */
	CHECK((long)(res.reset + res.bad) <= dead_held,
	      "%llu connections reset or cut, more than the %ld the killed successors held",
	      (unsigned long long)(res.reset + res.bad), dead_held);
	/*
	 * and none else: A held copies of B's listeners, so none closed under a handshake
	 * (rst_trace.h); they closed once config pointed at A again, and their queues migrated
	 */
	forgotten = rst_trace_forgotten(&rst, port);
	CHECK(forgotten == 0, "the kernel reset %ld handshakes on a closing listener of B (%s)",
	      forgotten, forgotten < 0 ? strerror((int)-forgotten) : "A did not hold it");
	printf("successor killed at 0, 5, 25, 100, 500, 2000 ms: %llu connections at %.0f/s, "
	       "%llu refused, %llu timed out, %llu reset and %llu cut (the killed ones held %ld, "
	       "the kernel reset %ld on their closing listeners), status of rlbload %d\n",
	       (unsigned long long)res.total, res.rate, (unsigned long long)res.refused,
	       (unsigned long long)res.timeout, (unsigned long long)res.reset,
	       (unsigned long long)res.bad, dead_held, forgotten, status);

	/* 6. */
	kill(b.pid, SIGTERM);
	CHECK(tr_reap(&b, WAIT_MS) && b.status == 0, "B exited with %d after SIGTERM", b.status);
	snprintf(pins, sizeof(pins), "%s/%s", RLB_PIN_ROOT, c.name);
	CHECK(stat(pins, &st), "%s is left after B exited", pins);
out:
	if (load.pid > 0)
		rlbt_load_finish(&load, true, WAIT_MS, &res);
	tr_stop(&b, WAIT_MS);
	printf("stderr of A:\n%s", rlbt_file_text(err_a));
	rlbt_serve_free(&a);
	rst_trace_stop(&rst);
	return rlbt_finish();
}
