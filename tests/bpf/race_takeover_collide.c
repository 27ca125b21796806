// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Two takeovers at the same instant, under load, 30 times over: exactly one successor wins,
 * the other stops before it binds anything, and no listener is left behind.
 *
 * 1. O: "$REUSELB serve -a 127.0.0.1 -p PORT -w 2 --mode http --name tk-coll-PID --confirm
 *    500"; rlbload opens 1000 connections a second for the whole test.
 * 2. Each trial: two copies of that command with --takeover, forked first and then let go
 *    together (a pipe). Exactly one exits, with status 1 and one line on its output:
 *    "... being taken over by pid W already ..." naming the other, W (or, when it was so slow
 *    to start that W owns the group already, "... changed hands while this instance started
 *    (pid W ..."); it never said "took over" or "serving". W says "took over group G from
 *    pid O"; O prints "handed over group G to pid W" and exits 0; list names W; W has
 *    accepted 200 connections; and the kernel holds exactly 2 listeners on PORT (W's): no
 *    orphan. W is O of the next trial.
 * 3. Stop the load: not one connection refused, reset, timed out, cut or in error.
 * 4. SIGTERM to the last owner: exit 0; the pins are gone, and no listener is left on PORT.
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
#include "takeover_race.h"

#define TRIALS 30
#define NR_WORKERS 2
#define WAIT_MS 15000
#define STEP 200

struct ctx {
	char name[32];
	int owner;
	uint64_t accepted;
};

static bool enough(void *arg)
{
	struct ctx *c = arg;
	struct rlbt_totals t;

	return !rlbt_group_totals(c->name, &t) && t.accepted >= c->accepted;
}

static bool said(struct tr_proc *p, const char *what)
{
	return strstr(rlbt_file_text(p->out_fd), what) != NULL;
}

/* The output of p up to its first newline, for a message. */
static const char *first_line(struct tr_proc *p)
{
	static char buf[512];

	snprintf(buf, sizeof(buf), "%s", rlbt_file_text(p->out_fd));
	buf[strcspn(buf, "\n")] = '\0';
	return buf;
}

int main(void)
{
	const char *load_argv[] = { "-p", NULL, "-m", "http", "-d", "300", "-r", "1000", NULL };
	struct tr_proc owner = { .pid = -1, .out_fd = -1, .status = -1 }, p[2] = { owner, owner };
	struct rlbt_load load = { .pid = -1 };
	struct rlbt_load_result res = {};
	char port_s[16], pins[128], line[160], line2[160];
	int port, gate, wins[2] = { 0 };
	struct ctx c = {};
	struct stat st;

	rlbt_require_root();
	port = rlbt_free_port(AF_INET, "127.0.0.1");
	if (!CHECK(port > 0, "no free port: %s", strerror(-port)))
		return rlbt_finish();
	snprintf(port_s, sizeof(port_s), "%d", port);
	snprintf(c.name, sizeof(c.name), "tk-coll-%d", getpid());
	load_argv[1] = port_s;
	const char *argv_o[] = { "serve", "-a",	       "127.0.0.1", "-p",     port_s, "-w",
				 "2",	  "--mode",    "http",	    "--name", c.name, "--grace",
				 "10",	  "--confirm", "500",	    NULL };
	const char *argv_t[] = { "serve", "-a",	       "127.0.0.1", "-p",	  port_s, "-w",
				 "2",	  "--mode",    "http",	    "--name",	  c.name, "--grace",
				 "10",	  "--confirm", "500",	    "--takeover", NULL };
	const char *const *one[] = { argv_o }, *const * two[] = { argv_t, argv_t };

	/* 1. */
	if (!CHECK(!tr_fork_held(&owner, 1, one, &gate), "cannot start O"))
		return rlbt_finish();
	tr_release(gate);
	for (long end = rlbt_now_ms() + WAIT_MS;
	     !said(&owner, "reuselb: serving") && rlbt_now_ms() < end;)
		tr_reap(&owner, 5);
	if (!CHECK(said(&owner, "reuselb: serving"), "O does not serve: %s",
		   rlbt_file_text(owner.out_fd)))
		goto out;
	if (!CHECK(!rlbt_load_start(load_argv, &load), "cannot start rlbload"))
		goto out;

	/* 2. */
	for (int trial = 0; trial < TRIALS; trial++, rlbt_cases++) {
		struct tr_proc *w = NULL, *l = NULL;
		int n;

		if (!CHECK(!tr_fork_held(p, 2, two, &gate), "trial %d: cannot fork", trial))
			goto out;
		tr_release(gate);
		/* the loser stops at its claim, long before the winner's owner lets go */
		for (long end = rlbt_now_ms() + WAIT_MS; !w && rlbt_now_ms() < end;) {
			for (int i = 0; i < 2 && !w; i++) {
				if (tr_reap(&p[i], 0)) {
					l = &p[i];
					w = &p[1 - i];
				}
			}
			if (!w)
				tr_reap(&p[0], 5);
		}
		if (!CHECK(w, "trial %d: neither successor stopped: %s | %s", trial,
			   first_line(&p[0]), first_line(&p[1])))
			goto out;
		wins[w - p]++;
		/* it found the winner's claim, or (slower) the winner owning the group already */
		snprintf(line, sizeof(line), "being taken over by pid %d already", w->pid);
		snprintf(line2, sizeof(line2), "changed hands while this instance started (pid %d",
			 w->pid);
		CHECK(l->status == 1 && (said(l, line) || said(l, line2)) &&
			      !said(l, "took over") && !said(l, "reuselb: serving"),
		      "trial %d: the loser ended with %d and said: %s", trial, l->status,
		      rlbt_file_text(l->out_fd));
		/* the winner: O hands over to it and exits, and it owns the pins */
		CHECK(tr_reap(&owner, WAIT_MS) && owner.status == 0,
		      "trial %d: O (pid %d) ended with %d: %s", trial, owner.pid, owner.status,
		      rlbt_file_text(owner.out_fd));
		snprintf(line, sizeof(line), "reuselb: handed over group %s to pid %d; ", c.name,
			 w->pid);
		CHECK(said(&owner, line), "trial %d: O did not say \"%s\": %s", trial, line,
		      rlbt_file_text(owner.out_fd));
		snprintf(line, sizeof(line), "reuselb: took over group %s from pid %d\n", c.name,
			 owner.pid);
		CHECK(said(w, line), "trial %d: the winner did not say \"%s\"", trial, line);
		if (!CHECK(rlbt_wait_owner(c.name, w->pid, WAIT_MS),
			   "trial %d: the winner does not own the pins: pid %d does", trial,
			   rlbt_group_owner(c.name)))
			goto out;
		close(owner.out_fd);
		close(l->out_fd);
		owner = *w;
		p[0].pid = p[1].pid = -1;
		n = tr_listeners(port);
		CHECK(n == NR_WORKERS, "trial %d: %d listeners on port %d, want %d (the winner's)",
		      trial, n, port, NR_WORKERS);
		{
			struct rlbt_totals t = {};

			rlbt_group_totals(c.name, &t);
			c.accepted = t.accepted + STEP;
			CHECK(rlbt_wait_for(enough, &c, WAIT_MS),
			      "trial %d: the winner accepted fewer than %d", trial, STEP);
		}
	}

	/* 3. */
	rlbt_load_finish(&load, true, WAIT_MS, &res);
	CHECK(res.total && res.ok == res.total, "rlbload: connections %s; want all answered",
	      rlbt_load_summary(&res));
	printf("%d pairs of takeovers released together: the first forked won %d, the second "
	       "%d; %llu connections at %.0f/s, %s\n",
	       TRIALS, wins[0], wins[1], (unsigned long long)res.total, res.rate,
	       rlbt_load_summary(&res));

	/* 4. */
	kill(owner.pid, SIGTERM);
	CHECK(tr_reap(&owner, WAIT_MS) && owner.status == 0, "the last owner exited with %d",
	      owner.status);
	snprintf(pins, sizeof(pins), "%s/%s", RLB_PIN_ROOT, c.name);
	CHECK(stat(pins, &st), "%s is left after the last owner exited", pins);
	CHECK(tr_listeners(port) == 0, "%d listeners left on port %d", tr_listeners(port), port);
out:
	if (load.pid > 0)
		rlbt_load_finish(&load, true, WAIT_MS, &res);
	/* SIGTERM first, so that what a failed trial left does not leave pins behind too */
	for (int i = 0; i < 2; i++)
		tr_stop(&p[i], WAIT_MS);
	tr_stop(&owner, WAIT_MS);
	return rlbt_finish();
}
