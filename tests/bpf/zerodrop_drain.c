// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Drain one worker of a serving group, then close it, under load: not one connection fails.
 *
 * 1. The workers of "reuselb serve" (user/server), in process, on a pinned group
 *    "zd-drain-PID": 4 workers on 127.0.0.1, ephemeral port, round-robin, mode http.
 * 2. rlbload opens 2500 connections a second from 100 source addresses for the whole test;
 *    each sends a GET and checks the whole answer (200, "worker N").
 * 3. Once 1000 are accepted, drain worker 1 through the pins (rlb_ctl_open and
 *    rlb_ctl_set_draining, the path of "reuselb drain"). From 200 later on, its steered count
 *    stands still while 1000 more connections come.
 * 4. Close worker 1's listener, from its own thread (server_close_worker), and wait until it
 *    has finished its last connection.
 * 5. Close worker 2 with no drain first, while its accept queue is full: connections of the
 *    test's own ask for GET /burn?us=300000, one at a time, until one holds worker 2's thread:
 *    its queue (steered minus accepted) has grown by more than the worker accepts in one
 *    batch. (Its busy count is no sign: the load's own requests raise it for an instant, and
 *    on a busy machine such an instant is seen.) A burn answered first went elsewhere, or
 *    ended too soon: then the next. The close request waits behind the burn; the worker
 *    accepts at most one batch after it, then closes with the rest still queued. That queue
 *    migrates to the live workers: the program counts migrations, and each burn request is
 *    answered 200.
 * 6. After 1000 more connections, stop the load. Not one was refused, reset, unanswered (in
 *    60 s) or answered wrongly, and it ran at 1000 connections a second or more. Prints the
 *    counts.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "rlbtest.h"
#include "server/server.h"

#define NR_WORKERS 4
#define RATE "2500"
/*
 * The floor says the load was real, not what the machine can give: beside a CPU hog on a busy
 * 2-CPU machine, rlbload itself reaches about 1 500/s.
 */
#define MIN_RATE 1000
#define STEP 1000
#define WAIT_MS 20000
#define LOAD_TIMEOUT_MS "60000"
#define ANSWER_MS 60000
#define MAX_BURNS 40
/* more than a worker accepts in one batch (ACCEPT_BATCH in user/server/worker.c) */
#define HELD_QUEUE (64 + 16)

struct ctx {
	struct rlb_group *g;
	struct server *s;
	uint64_t until; /* accepted connections to wait for */
	unsigned int worker;
	int64_t queue_base; /* the worker's steered minus accepted when the hold began */
	int burn_fd;	    /* the burn request under way */
};

static uint64_t accepted(struct rlb_group *g)
{
	struct rlb_group_stats st;
	uint64_t n = 0;

	if (rlb_ctl_read(rlb_group_ctl(g), &st))
		return 0;
	for (unsigned int i = 0; i < st.nr_workers; i++)
		n += st.workers[i].accepted;
	return n;
}

static uint64_t steered(struct rlb_group *g, unsigned int worker)
{
	struct rlb_group_stats st;

	return rlb_ctl_read(rlb_group_ctl(g), &st) ? 0 : st.workers[worker].steered;
}

static bool enough_accepted(void *arg)
{
	struct ctx *c = arg;

	return accepted(c->g) >= c->until;
}

static bool worker_done(void *arg)
{
	struct ctx *c = arg;

	return server_worker_done(c->s, c->worker);
}

/* Waits for STEP more accepted connections. */
static bool more(struct ctx *c, uint64_t n, const char *what)
{
	c->until = accepted(c->g) + n;
	return CHECK(rlbt_wait_for(enough_accepted, c, WAIT_MS),
		     "%s: %llu connections accepted, waited for %llu", what,
		     (unsigned long long)accepted(c->g), (unsigned long long)c->until);
}

/* Connections steered to the worker and not accepted yet, since the hold began. */
static int64_t queue_growth(struct ctx *c)
{
	struct rlb_group_stats st;

	if (rlb_ctl_read(rlb_group_ctl(c->g), &st))
		return 0;
	return (int64_t)(st.workers[c->worker].steered - st.workers[c->worker].accepted) -
	       c->queue_base;
}

static bool held(void *arg)
{
	return queue_growth(arg) >= HELD_QUEUE;
}

/* Held, or the burn under way is answered (it ran elsewhere, or ended before the queue grew). */
static bool held_or_answered(void *arg)
{
	struct ctx *c = arg;
	struct pollfd pfd = { .fd = c->burn_fd, .events = POLLIN };

	return held(c) || poll(&pfd, 1, 0) > 0;
}

/*
 * Holds a worker's thread with burn requests, one at a time until one holds it while its queue
 * grows. Returns how many were sent; their connections are in fds, to be read later.
 */
static int hold_worker(struct ctx *c, unsigned int worker, int *fds)
{
	static const char req[] =
		"GET /burn?us=300000 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
	int n = 0;

	c->worker = worker;
	c->queue_base = 0;
	c->queue_base = queue_growth(c);
	while (n < MAX_BURNS && !held(c)) {
		fds[n] = rlbt_connect(AF_INET, NULL, 0, "127.0.0.1", rlb_group_port(c->g));
		if (!CHECK(fds[n] >= 0, "burn connection: %s", strerror(-fds[n])))
			break;
		if (!CHECK(write(fds[n], req, sizeof(req) - 1) == sizeof(req) - 1, "write: %s",
			   strerror(errno))) {
			close(fds[n]);
			break;
		}
		c->burn_fd = fds[n++];
		CHECK(rlbt_wait_for(held_or_answered, c, WAIT_MS),
		      "burn request %d: neither answered nor holding worker %u", n, worker);
	}
	CHECK(held(c), "none of %d burn requests held worker %u (its queue grew by %lld)", n,
	      worker, (long long)queue_growth(c));
	return n;
}

/* Each burn request is answered 200 (after the close of the worker that ran it, too). */
static void check_burns(int *fds, int n)
{
	for (int i = 0; i < n; i++) {
		struct pollfd pfd = { .fd = fds[i], .events = POLLIN };
		char buf[256];
		ssize_t r;

		/* a burn takes seconds on a busy machine: the socket's own timeout is shorter */
		poll(&pfd, 1, ANSWER_MS);
		r = read(fds[i], buf, sizeof(buf) - 1);

		CHECK(r > 12 && !memcmp(buf, "HTTP/1.1 200 ", 13), "burn request %d: %s", i,
		      r < 0 ? strerror(errno) : "no 200 answer");
		close(fds[i]);
	}
}

static void close_worker(struct ctx *c, unsigned int worker)
{
	int err = server_close_worker(c->s, worker);

	CHECK(!err, "server_close_worker(%u): %s", worker, strerror(-err));
}

/* Its listener closed and its connections done (the test's own among them: read them first). */
static void wait_worker_done(struct ctx *c, unsigned int worker)
{
	c->worker = worker;
	CHECK(rlbt_wait_for(worker_done, c, WAIT_MS),
	      "worker %u has not closed its listener and its connections", worker);
}

int main(void)
{
	char name[32], port[8];
	struct rlb_group_opts opts = {
		.addr = "127.0.0.1",
		.nr_workers = NR_WORKERS,
		.policy = RLB_POLICY_ROUND_ROBIN,
		.pin = true,
		.name = name,
	};
	struct server_opts sopts = {
		.mode = SERVER_MODE_HTTP,
		.max_conns = SERVER_MAX_CONNS_DEFAULT,
		.idle_timeout_s = SERVER_IDLE_TIMEOUT_DEFAULT,
	};
	/* -t: a bound, not a deadline: those queued behind a burn wait for it on a busy machine */
	const char *load_argv[] = { "-p", port, "-m", "http",	       "-d", "120",
				    "-r", RATE, "-t", LOAD_TIMEOUT_MS, NULL };
	struct rlbt_load_result res;
	struct rlb_group_stats st;
	struct rlbt_load load = { .pid = -1 };
	struct ctx c = {};
	struct rlb_ctl *ctl = NULL;
	uint64_t frozen, migrated = 0;
	int err, status, burns[MAX_BURNS], nr_burns;

	rlbt_require_root();
	snprintf(name, sizeof(name), "zd-drain-%d", getpid());
	err = rlb_group_open(&opts, &c.g);
	if (!CHECK(!err, "rlb_group_open: %s", rlb_last_error()))
		return rlbt_finish();
	sopts.group = c.g;
	err = server_start(&sopts, &c.s);
	if (!CHECK(!err, "server_start: %s", strerror(-err)))
		goto out;
	snprintf(port, sizeof(port), "%u", rlb_group_port(c.g));
	err = rlbt_load_start(load_argv, &load);
	if (!CHECK(!err, "cannot start rlbload: %s", strerror(-err)))
		goto out;

	if (!more(&c, STEP, "before the drain"))
		goto out;
	/* 3. the drain, from outside the process as the CLI does it */
	err = rlb_ctl_open(name, &ctl);
	if (CHECK(!err, "rlb_ctl_open(%s): %s", name, rlb_last_error())) {
		err = rlb_ctl_set_draining(ctl, 1, true);
		CHECK(!err, "rlb_ctl_set_draining(1): %s", rlb_last_error());
		rlb_ctl_close(ctl);
	}
	/* a program run that began before the update may still count one: let those pass */
	more(&c, 200, "after the drain");
	frozen = steered(c.g, 1);
	more(&c, STEP, "draining");
	CHECK(steered(c.g, 1) == frozen, "draining worker 1 was steered %llu more connections",
	      (unsigned long long)(steered(c.g, 1) - frozen));

	/* 4. and 5. */
	close_worker(&c, 1);
	wait_worker_done(&c, 1);
	CHECK(rlb_group_fd(c.g, 1) == -1, "worker 1 still has its listener");
	more(&c, STEP, "after closing worker 1");
	nr_burns = hold_worker(&c, 2, burns);
	close_worker(&c, 2);
	check_burns(burns, nr_burns);
	wait_worker_done(&c, 2);
	more(&c, STEP, "after closing worker 2");

	/* 6. */
	status = rlbt_load_finish(&load, true, WAIT_MS, &res);
	CHECK(status == 0 && res.total && res.ok == res.total, "rlbload: exit %d, connections %s",
	      status, rlbt_load_summary(&res));
	CHECK(res.rate >= MIN_RATE, "rlbload ran at %.0f connections/s, want %d or more", res.rate,
	      MIN_RATE);
	if (!rlb_ctl_read(rlb_group_ctl(c.g), &st))
		for (unsigned int i = 0; i < NR_WORKERS; i++)
			migrated += st.workers[i].migrated;
	CHECK(migrated > 0, "nothing migrated from worker 2's full queue");
	printf("drain and close under load: %llu connections at %.0f/s, %llu failed; worker 1 "
	       "steered %llu before its drain and none after; %llu migrated from the closed "
	       "listeners\n",
	       (unsigned long long)res.total, res.rate, (unsigned long long)(res.total - res.ok),
	       (unsigned long long)frozen, (unsigned long long)migrated);
out:
	if (load.pid > 0)
		rlbt_load_finish(&load, true, WAIT_MS, &res);
	if (c.s) {
		server_stop(c.s);
		server_free(c.s);
	}
	rlb_group_close(c.g);
	return rlbt_finish();
}
