// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * kill -9 of an instance while its successor is in the group, under load: the connections
 * queued at the killed instance's listeners are served by the successor; only those it had
 * already accepted die with it, and they are counted apart.
 *
 * 1. A: "$REUSELB serve -a 127.0.0.1 -p PORT -w 2 --mode http --name zd-kill-PID".
 * 2. rlbload opens 2500 connections a second, each a GET whose whole answer it checks.
 * 3. Once 1000 are accepted, SIGSTOP A (a hung instance, the usual reason for a kill -9): the
 *    program still steers to its listeners and the kernel completes the handshakes, so the
 *    connections queue there. Wait until 300 have been steered to A since the stop; A's load
 *    map then says how many connections it had accepted and not yet closed (active).
 * 4. B: the same command with --takeover. B joins, takes the new connections and signals A,
 *    which cannot answer. kill -9 A: its listeners close, and B's migrate program moves their
 *    queues to B. A exits by SIGKILL; B says it took over from A's pid and, once A is gone,
 *    that the group is its own (rlb_list_groups names B).
 * 5. 1000 connections after the queued ones, stop the load. Nothing refused, nothing timed
 *    out; B counts at least the 300 as migrated; the failed connections are at most A's
 *    active ones (reset when A died), and they are reported apart.
 * 6. SIGTERM to B: exit 0, and the group's pins are gone.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rlbtest.h"

#define QUEUED 300
#define STEP 1000
#define WAIT_MS 20000

struct ctx {
	char name[32];
	char port[16];
	uint64_t steered, accepted; /* wait until the group counts this many */
};

static bool reached(void *arg)
{
	struct ctx *c = arg;
	struct rlbt_totals t;

	return !rlbt_group_totals(c->name, &t) && t.steered >= c->steered &&
	       t.accepted >= c->accepted;
}

static int start(struct ctx *c, bool takeover, int err_fd, struct rlbt_server *s)
{
	const char *argv[] = { "serve", "-a",	  "127.0.0.1", "-p",
			       c->port, "-w",	  "2",	       "--mode",
			       "http",	"--name", c->name,     takeover ? "--takeover" : NULL,
			       NULL };
	int err = rlbt_serve_start_err(argv, err_fd, s);

	CHECK(!err, "serve%s did not start: %s", takeover ? " --takeover" : "", strerror(-err));
	return err;
}

int main(void)
{
	struct rlbt_server a = { .pid = -1, .out_fd = -1 }, b = a;
	/* -t: a bound, not a deadline: on a busy machine an answer can take seconds */
	const char *load_argv[] = { "-p", NULL,	  "-m", "http",	 "-d", "120",
				    "-r", "2500", "-t", "60000", NULL };
	int err_a = fileno(tmpfile()), err_b = fileno(tmpfile());
	struct rlbt_load load = { .pid = -1 };
	struct rlbt_load_result res = {};
	struct rlbt_totals t0 = {}, t1 = {}, tb = {};
	struct ctx c = {};
	char pins[128], line[128];
	struct stat st;
	pid_t a_pid;
	int port, status;
	uint64_t failed;

	rlbt_require_root();
	port = rlbt_free_port(AF_INET, "127.0.0.1");
	if (!CHECK(port > 0, "no free port: %s", strerror(-port)))
		return rlbt_finish();
	snprintf(c.port, sizeof(c.port), "%d", port);
	snprintf(c.name, sizeof(c.name), "zd-kill-%d", getpid());
	load_argv[1] = c.port;

	if (start(&c, false, err_a, &a))
		goto out;
	a_pid = a.pid;
	if (!CHECK(!rlbt_load_start(load_argv, &load), "cannot start rlbload"))
		goto out;
	c.accepted = STEP;
	if (!CHECK(rlbt_wait_for(reached, &c, WAIT_MS), "A accepted fewer than %d", STEP))
		goto out;

	/* 3. */
	kill(a_pid, SIGSTOP);
	rlbt_group_totals(c.name, &t0);
	c.steered = t0.steered + QUEUED;
	c.accepted = 0;
	if (!CHECK(rlbt_wait_for(reached, &c, WAIT_MS), "fewer than %d steered to stopped A",
		   QUEUED))
		goto out;
	rlbt_group_totals(c.name, &t1);

	/* 4. */
	if (start(&c, true, err_b, &b))
		goto out;
	kill(a_pid, SIGKILL);
	status = rlbt_serve_wait(&a, WAIT_MS);
	CHECK(status == 128 + SIGKILL, "A ended with %d, want %d (SIGKILL)", status, 128 + SIGKILL);
	CHECK(rlbt_wait_owner(c.name, b.pid, WAIT_MS), "B does not hold the pins: pid %d does",
	      rlbt_group_owner(c.name));
	snprintf(line, sizeof(line), "reuselb: took over group %s from pid %d\n", c.name, a_pid);
	CHECK(strstr(rlbt_file_text(err_b), line), "B's stderr lacks \"%s\"", line);
	snprintf(line, sizeof(line), "reuselb: pid %d has exited: group %s is ours\n", a_pid,
		 c.name);
	/* B looks for the lock every 100 ms: the line comes a little after the lock is B's */
	CHECK(rlbt_wait_said(err_b, line, WAIT_MS), "B's stderr lacks \"%s\"", line);

	/* 5. */
	c.steered = 0;
	c.accepted = STEP + QUEUED;
	CHECK(rlbt_wait_for(reached, &c, WAIT_MS), "B accepted fewer than %d", STEP + QUEUED);
	rlbt_group_totals(c.name, &tb);
	status = rlbt_load_finish(&load, true, WAIT_MS, &res);
	failed = res.total - res.ok;
	CHECK(res.total && !res.refused && !res.timeout && !res.error,
	      "rlbload: connections %s; want none refused, timed out or in error",
	      rlbt_load_summary(&res));
	CHECK(failed <= t1.active,
	      "%llu connections failed, more than the %llu A had accepted and not closed",
	      (unsigned long long)failed, (unsigned long long)t1.active);
	CHECK(tb.migrated >= QUEUED, "B counts %llu migrated, want %d or more",
	      (unsigned long long)tb.migrated, QUEUED);
	printf("kill -9 of A with B in the group: %llu connections at %.0f/s; %llu steered to A "
	       "while it hung, %llu migrated to B and answered; A had %llu accepted and open, "
	       "%llu connections failed with it (%llu reset, %llu bad), status of rlbload %d\n",
	       (unsigned long long)res.total, res.rate,
	       (unsigned long long)(t1.steered - t0.steered), (unsigned long long)tb.migrated,
	       (unsigned long long)t1.active, (unsigned long long)failed,
	       (unsigned long long)res.reset, (unsigned long long)res.bad, status);

	/* 6. */
	status = rlbt_serve_stop(&b);
	CHECK(status == 0, "B exited with %d after SIGTERM", status);
	snprintf(pins, sizeof(pins), "%s/%s", RLB_PIN_ROOT, c.name);
	CHECK(stat(pins, &st), "%s is left after B exited", pins);
out:
	if (load.pid > 0)
		rlbt_load_finish(&load, true, WAIT_MS, &res);
	printf("stderr of A:\n%s", rlbt_file_text(err_a));
	printf("stderr of B:\n%s", rlbt_file_text(err_b));
	rlbt_serve_free(&a);
	rlbt_serve_free(&b);
	return rlbt_finish();
}
