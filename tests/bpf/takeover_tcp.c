// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * A rolling restart of the real binary under load, from instance A to B and back to a new A:
 * not one connection fails.
 *
 * 1. A: "$REUSELB serve -a 127.0.0.1 -p PORT -w 2 --mode http --name zd-roll-PID --takeover
 *    --metrics 127.0.0.1:MPORT --confirm 0", PORT and MPORT free ports (--confirm 0: each
 *    instance lets go as soon as its successor serves, so that its queues still hold
 *    requests to migrate; race_takeover_kill covers the wait): with no live group to take over,
 *    A says so on stderr and serves. Every instance below is given the same --metrics: a
 *    successor shares the address, and after each handover a scrape of it answers 200 with
 *    the group's policy info.
 * 2. rlbload opens 2500 connections a second from 100 source addresses for the whole test,
 *    each a GET whose whole answer it checks. A SIGUSR2 that no successor sent is ignored:
 *    A says so and goes on serving.
 * 3. Once 1000 are accepted, a connection of the test's own asks A for GET /burn?us=1000000
 *    (again until A's busy count in the load map shows one in progress): that worker's accept
 *    queue grows while it burns. Then B: the same command with --takeover. B says on stderr
 *    that it took over from A's pid; the burn request is answered 200 by A after the
 *    takeover; A prints "handed over group G to pid B; 0 connections cut at the grace
 *    deadline" and exits 0 by itself; then B says that A has exited and holds the pins
 *    (rlb_list_groups names B), and B's program counts what it got from A's queue as
 *    migrated (checked over both handovers: how much queued depends on B's start-up time).
 * 4. 1000 connections later, A2 takes over from B the same way.
 * 5. 1000 connections later, stop the load: not one refused, reset, unanswered (in 60 s) or
 *    answered wrongly, at 1000 connections a second or more; every answered connection was
 *    accepted by one of the three (their "worker N: accepted M" lines add up to it, with the
 *    test's own burn connections). --grace 60: the old instance has all the time it needs,
 *    and exits as soon as it is done.
 * 6. SIGTERM to A2: exit 0, and the group's pins are gone.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "rlbtest.h"

#define NR_WORKERS 2
#define STEP 1000
/*
 * The floor says the load was real, not what the machine can give: beside a CPU hog on a busy
 * 2-CPU machine, rlbload itself reaches about 1 500/s.
 */
#define MIN_RATE 1000
#define WAIT_MS 20000
/*
 * Bounds, not deadlines: a burn of 1 s of CPU takes several seconds beside a CPU hog, and the
 * connections queued behind it wait as long. The old instance exits as soon as it is done.
 */
#define GRACE "60"
#define EXIT_MS 90000
#define ANSWER_MS 60000
#define MAX_BURNS 40

struct ctx {
	char name[32];
	char port[16];
	char metrics[32]; /* 127.0.0.1:MPORT */
	uint64_t until;
	uint64_t migrated;
	long own; /* connections the test made itself (burn requests) */
};

static bool enough_accepted(void *arg)
{
	struct ctx *c = arg;
	struct rlbt_totals t;

	return !rlbt_group_totals(c->name, &t) && t.accepted >= c->until;
}

/* The group's own count: what the serving generation accepted so far, then STEP more. */
static bool more(struct ctx *c, const char *what)
{
	struct rlbt_totals t = {};

	rlbt_group_totals(c->name, &t);
	c->until = t.accepted + STEP;
	return CHECK(rlbt_wait_for(enough_accepted, c, WAIT_MS),
		     "%s: fewer than %d connections accepted in %d ms", what, STEP, WAIT_MS);
}

static bool burning(void *arg)
{
	struct ctx *c = arg;
	struct rlbt_totals t;

	return !rlbt_group_totals(c->name, &t) && t.busy;
}

/* A burn request in progress on one of the serving instance's workers: its fd, or -1. */
static int hold_a_worker(struct ctx *c)
{
	static const char req[] =
		"GET /burn?us=1000000 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
	int fd = -1;

	for (int i = 0; i < MAX_BURNS && !burning(c); i++) {
		if (fd >= 0)
			close(fd);
		fd = rlbt_connect(AF_INET, NULL, 0, "127.0.0.1", atoi(c->port));
		if (!CHECK(fd >= 0, "burn connection: %s", strerror(-fd)))
			return -1;
		c->own++;
		CHECK(write(fd, req, sizeof(req) - 1) == sizeof(req) - 1, "write: %s",
		      strerror(errno));
		rlbt_wait_for(burning, c, 100);
	}
	CHECK(burning(c), "no burn request got under way in %d tries", MAX_BURNS);
	return fd;
}

/* Every instance is started alike: with nothing to take over, --takeover just serves. */
static int start(struct ctx *c, int err_fd, struct rlbt_server *s)
{
	const char *argv[] = { "serve",	     "-a",	  "127.0.0.1", "-p",	    c->port,
			       "-w",	     "2",	  "--mode",    "http",	    "--name",
			       c->name,	     "--grace",	  GRACE,       "--metrics", c->metrics,
			       "--takeover", "--confirm", "0",	       NULL };
	int err = rlbt_serve_start_err(argv, err_fd, s);

	CHECK(!err, "serve --takeover did not start: %s", strerror(-err));
	return err;
}

/* GET /metrics: 200 and the group's policy info line. */
static void check_scrape(const struct ctx *c, const char *when)
{
	static const char req[] = "GET /metrics HTTP/1.1\r\nHost: t\r\n\r\n";
	char buf[16384], want[128];
	size_t len = 0;
	int fd = rlbt_connect(AF_INET, NULL, 0, "127.0.0.1", atoi(strchr(c->metrics, ':') + 1));

	if (!CHECK(fd >= 0, "%s: connect to the metrics address: %s", when, strerror(-fd)))
		return;
	if (write(fd, req, sizeof(req) - 1) == sizeof(req) - 1) {
		/* the endpoint answers and closes: read to end of file, bounded by the buffer */
		for (ssize_t n = 1; n > 0 && len<sizeof(buf) - 1; len += n> 0 ? n : 0)
			n = read(fd, buf + len, sizeof(buf) - 1 - len);
	}
	buf[len] = '\0';
	close(fd);
	snprintf(want, sizeof(want),
		 "\nreuselb_policy_info{group=\"%s\",policy=\"round-robin\"} 1\n", c->name);
	CHECK(!strncmp(buf, "HTTP/1.1 200 ", 13) && strstr(buf, want),
	      "%s: the scrape did not answer 200 with the policy info: %.80s", when, buf);
}

/* from takes over from to; checks both sides' lines and that the new one holds the pins. */
static bool hand_over(struct ctx *c, struct rlbt_server *from, int from_err, struct rlbt_server *to,
		      int to_err)
{
	/* the burn is 1 s of CPU, which a busy machine may stretch well past 5 s */
	const struct timeval slow = { .tv_sec = 20 };
	char line[128], answer[256];
	struct rlbt_totals t = {};
	int status, burn;
	pid_t from_pid = from->pid;
	ssize_t n;

	burn = hold_a_worker(c);
	if (burn >= 0)
		setsockopt(burn, SOL_SOCKET, SO_RCVTIMEO, &slow, sizeof(slow));
	if (start(c, to_err, to))
		return false;
	/* the old instance finishes what it has: the burn request is answered */
	if (burn >= 0) {
		struct pollfd pfd = { .fd = burn, .events = POLLIN };

		poll(&pfd, 1, ANSWER_MS);
	}
	n = burn >= 0 ? read(burn, answer, sizeof(answer) - 1) : -1;
	CHECK(n > 12 && !memcmp(answer, "HTTP/1.1 200 ", 13),
	      "the burn request under way at the takeover: %s",
	      n < 0 ? strerror(errno) : "no 200 answer");
	if (burn >= 0)
		close(burn);
	status = rlbt_serve_wait(from, EXIT_MS);
	CHECK(status == 0, "pid %d exited with %d after the takeover, want 0", from_pid, status);
	snprintf(line, sizeof(line), "reuselb: handed over group %s to pid %d; 0 connections cut",
		 c->name, to->pid);
	CHECK(from->output && strstr(from->output, line), "pid %d did not print \"%s\"", from_pid,
	      line);
	CHECK(rlbt_wait_owner(c->name, to->pid, WAIT_MS),
	      "pid %d does not hold the pins: pid %d does", to->pid, rlbt_group_owner(c->name));
	snprintf(line, sizeof(line), "reuselb: took over group %s from pid %d\n", c->name,
		 from_pid);
	CHECK(strstr(rlbt_file_text(to_err), line), "pid %d's stderr lacks \"%s\"", to->pid, line);
	rlbt_group_totals(c->name, &t);
	printf("pid %d took over from pid %d: %llu queued connections migrated\n", to->pid,
	       from_pid, (unsigned long long)t.migrated);
	c->migrated += t.migrated;
	check_scrape(c, "after the handover");
	(void)from_err;
	return true;
}

static long accepted_total(const struct rlbt_server *s)
{
	long sum = 0;

	for (unsigned int w = 0; w < NR_WORKERS; w++) {
		long n = rlbt_serve_accepted(s, w);

		CHECK(n >= 0, "no \"worker %u: accepted N\" line", w);
		sum += n > 0 ? n : 0;
	}
	return sum;
}

int main(void)
{
	struct rlbt_server a = { .pid = -1, .out_fd = -1 }, b = a, a2 = a;
	/*
	 * A connection may wait out a whole burn (1 s of CPU) in the queue: on a busy 2-core
	 * machine that is several seconds, which says nothing about the handover, so the load's
	 * timeout is generous; what must hold is that every connection is answered.
	 */
	const char *load_argv[] = { "-p", NULL,	  "-m", "http",	 "-d", "120",
				    "-r", "2500", "-t", "60000", NULL };
	int err_a = fileno(tmpfile()), err_b = fileno(tmpfile()), err_a2 = fileno(tmpfile());
	struct rlbt_load load = { .pid = -1 };
	struct rlbt_load_result res = {};
	struct ctx c = {};
	char pins[128], line[160];
	struct stat st;
	long sum;
	int port, status;

	rlbt_require_root();
	port = rlbt_free_port(AF_INET, "127.0.0.1");
	if (!CHECK(port > 0, "no free port: %s", strerror(-port)))
		return rlbt_finish();
	snprintf(c.port, sizeof(c.port), "%d", port);
	port = rlbt_free_port(AF_INET, "127.0.0.1");
	if (!CHECK(port > 0, "no free port: %s", strerror(-port)))
		return rlbt_finish();
	snprintf(c.metrics, sizeof(c.metrics), "127.0.0.1:%d", port);
	snprintf(c.name, sizeof(c.name), "zd-roll-%d", getpid());
	load_argv[1] = c.port;

	if (start(&c, err_a, &a))
		goto out;
	snprintf(line, sizeof(line), "reuselb: no live group %s to take over: serving it anew\n",
		 c.name);
	CHECK(strstr(rlbt_file_text(err_a), line), "A's stderr lacks \"%s\"", line);
	if (!CHECK(!rlbt_load_start(load_argv, &load), "cannot start rlbload"))
		goto out;
	if (!more(&c, "A alone"))
		goto out;
	kill(a.pid, SIGUSR2);
	snprintf(line, sizeof(line), "reuselb: ignoring SIGUSR2 from pid %d: no new instance",
		 getpid());
	CHECK(rlbt_wait_said(err_a, line, WAIT_MS), "A's stderr lacks \"%s\"", line);
	if (!more(&c, "A after a stray SIGUSR2"))
		goto out;
	if (!hand_over(&c, &a, err_a, &b, err_b) || !more(&c, "after A to B"))
		goto out;
	if (!hand_over(&c, &b, err_b, &a2, err_a2) || !more(&c, "after B to A2"))
		goto out;

	status = rlbt_load_finish(&load, true, WAIT_MS, &res);
	CHECK(status == 0 && res.total && res.ok == res.total, "rlbload: exit %d, connections %s",
	      status, rlbt_load_summary(&res));
	CHECK(res.rate >= MIN_RATE, "rlbload ran at %.0f connections/s, want %d or more", res.rate,
	      MIN_RATE);
	status = rlbt_serve_stop(&a2);
	CHECK(status == 0, "A2 exited with %d after SIGTERM", status);
	sum = accepted_total(&a) + accepted_total(&b) + accepted_total(&a2);
	CHECK(c.migrated > 0, "nothing migrated from the old instances' queues at the handovers");
	CHECK(sum == (long)res.ok + c.own,
	      "the instances accepted %ld connections; rlbload had %llu answered, the test made "
	      "%ld",
	      sum, (unsigned long long)res.ok, c.own);
	snprintf(pins, sizeof(pins), "%s/%s", RLB_PIN_ROOT, c.name);
	CHECK(stat(pins, &st), "%s is left after the last instance exited", pins);
	printf("rolling restart A -> B -> A2 under load: %llu connections at %.0f/s, %llu failed; "
	       "accepted by A %ld, B %ld, A2 %ld; %llu migrated at the handovers\n",
	       (unsigned long long)res.total, res.rate, (unsigned long long)(res.total - res.ok),
	       accepted_total(&a), accepted_total(&b), accepted_total(&a2),
	       (unsigned long long)c.migrated);
out:
	if (load.pid > 0)
		rlbt_load_finish(&load, true, WAIT_MS, &res);
	printf("stderr of A:\n%s", rlbt_file_text(err_a));
	printf("stderr of B:\n%s", rlbt_file_text(err_b));
	printf("stderr of A2:\n%s", rlbt_file_text(err_a2));
	rlbt_serve_free(&a);
	rlbt_serve_free(&b);
	rlbt_serve_free(&a2);
	return rlbt_finish();
}
