// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * A rolling restart of a UDP group: a flow that began before it stays with the old instance
 * until that one exits; a flow that began after goes to the new one; no datagram of either is
 * lost.
 *
 * 1. A: "$REUSELB serve -a 127.0.0.1 -p PORT --udp --mode echo -w 2 --name zd-udp-PID
 *    --flow-timeout 1 --grace 20".
 * 2. Flow 1 (a connected socket from 127.0.0.2) pings in a thread of its own, one datagram
 *    at a time, each answered with its own bytes within a second or counted lost.
 * 3. After 50, B: the same command with --takeover. Flow 2 (from 127.0.0.3) then sends 50
 *    while flow 1 goes on for 50 more; then flow 1 stops.
 * 4. A has been quiet for its flow timeout: it prints "handed over group G to pid B; its
 *    flows went quiet" and exits 0. Its datagram count is exactly flow 1's: every datagram of
 *    flow 1, those after B joined too, went to A, and none of flow 2's did.
 * 5. Flow 1 and flow 2 send 50 more each: B answers them; the program has steered exactly
 *    flow 2's 100 and flow 1's last 50 to B.
 * 6. Not one datagram of either flow was lost.
 * 7. And back, under load: rlbload starts 2000 flows a second (one echo datagram each, from
 *    100 source addresses); after 1000, A2 takes over from B; B's flows go quiet and it exits
 *    0; after 1000 more to A2, the load stops: every datagram was answered. SIGTERM to A2:
 *    exit 0.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "rlbtest.h"

#define NR_WORKERS 2
#define BURST 50
#define ANSWER_MS 1000
#define WAIT_MS 20000
#define STEP 1000
#define MIN_RATE 2000

struct steering {
	const char *name;
	uint64_t until;
};

static bool steered_enough(void *arg)
{
	struct steering *s = arg;
	struct rlbt_totals t;

	return !rlbt_group_totals(s->name, &t) && t.steered >= s->until;
}

struct flow {
	int fd;
	const char *src;
	long sent, lost;
	int stop; /* atomic: the pinging thread ends */
};

static int flow_open(struct flow *f, const char *src, uint16_t port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };

	f->src = src;
	f->fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (f->fd < 0)
		return -errno;
	inet_pton(AF_INET, src, &sin.sin_addr);
	if (bind(f->fd, (struct sockaddr *)&sin, sizeof(sin)))
		return -errno;
	sin.sin_port = htons(port);
	inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
	if (connect(f->fd, (struct sockaddr *)&sin, sizeof(sin)))
		return -errno;
	return 0;
}

/* One datagram, answered with the same bytes within ANSWER_MS, or it counts as lost. */
static void ping(struct flow *f)
{
	char msg[64], answer[64];
	struct pollfd pfd = { .fd = f->fd, .events = POLLIN };
	int len = snprintf(msg, sizeof(msg), "%s %ld", f->src, f->sent);
	ssize_t n = -1;

	f->sent++;
	if (send(f->fd, msg, len, 0) == len && poll(&pfd, 1, ANSWER_MS) == 1)
		n = recv(f->fd, answer, sizeof(answer), 0);
	if (n != len || memcmp(answer, msg, len)) {
		if (f->lost++ < 5)
			fprintf(stderr, "flow from %s: datagram %ld lost\n", f->src, f->sent - 1);
	}
}

static void pings(struct flow *f, int n)
{
	for (int i = 0; i < n; i++)
		ping(f);
}

static void *pinger(void *arg)
{
	const struct timespec pause = { .tv_nsec = 2 * 1000 * 1000 };
	struct flow *f = arg;

	/* paced, not flooded: a steady flow that never goes quiet for a flow timeout */
	while (!__atomic_load_n(&f->stop, __ATOMIC_ACQUIRE)) {
		ping(f);
		nanosleep(&pause, NULL);
	}
	return NULL;
}

struct progress {
	struct flow *f;
	long until;
};

static bool sent_enough(void *arg)
{
	struct progress *p = arg;

	return __atomic_load_n(&p->f->sent, __ATOMIC_RELAXED) >= p->until;
}

/* The sum of the "worker N: datagrams M" lines. */
static long datagrams(const struct rlbt_server *s)
{
	const char *line = s->output;
	long sum = 0, n;
	unsigned int id;

	while (line && *line) {
		if (sscanf(line, "worker %u: datagrams %ld", &id, &n) == 2)
			sum += n;
		line = strchr(line, '\n');
		if (line)
			line++;
	}
	return sum;
}

static int start(const char *port, const char *name, bool takeover, struct rlbt_server *s)
{
	const char *argv[] = { "serve",
			       "-a",
			       "127.0.0.1",
			       "-p",
			       port,
			       "--udp",
			       "--mode",
			       "echo",
			       "-w",
			       "2",
			       "--name",
			       name,
			       "--flow-timeout",
			       "1",
			       "--grace",
			       "20",
			       takeover ? "--takeover" : NULL,
			       NULL };
	int err = rlbt_serve_start_err(argv, -1, s);

	CHECK(!err, "serve --udp%s did not start: %s", takeover ? " --takeover" : "",
	      strerror(-err));
	return err;
}

int main(void)
{
	struct rlbt_server a = { .pid = -1, .out_fd = -1 }, b = a, a2 = a;
	const char *load_argv[] = {
		"-p", NULL, "-u", "-m", "echo", "-d", "120", "-r", "2500", NULL
	};
	struct rlbt_load load = { .pid = -1 };
	struct rlbt_load_result res = {};
	struct steering sp = { .name = NULL };
	struct rlbt_totals t = {};
	struct flow f1 = { .fd = -1 }, f2 = { .fd = -1 };
	char port[16], name[32], line[128];
	struct progress p = { .f = &f1 };
	pthread_t thread;
	bool running = false;
	long f1_at_a, a_count, b_count;
	int portnum, status, err;

	rlbt_require_root();
	portnum = rlbt_free_port(AF_INET, "127.0.0.1");
	if (!CHECK(portnum > 0, "no free port: %s", strerror(-portnum)))
		return rlbt_finish();
	snprintf(port, sizeof(port), "%d", portnum);
	snprintf(name, sizeof(name), "zd-udp-%d", getpid());
	sp.name = name;

	if (start(port, name, false, &a))
		goto out;
	err = flow_open(&f1, "127.0.0.2", portnum);
	if (!err)
		err = flow_open(&f2, "127.0.0.3", portnum);
	if (!CHECK(!err, "cannot open the flows: %s", strerror(-err)))
		goto out;

	/* 2. and 3. */
	if (!CHECK(!pthread_create(&thread, NULL, pinger, &f1), "cannot start a thread"))
		goto out;
	running = true;
	p.until = BURST;
	CHECK(rlbt_wait_for(sent_enough, &p, WAIT_MS), "flow 1 sent fewer than %d", BURST);
	if (start(port, name, true, &b))
		goto out;
	p.until = __atomic_load_n(&f1.sent, __ATOMIC_RELAXED) + BURST;
	pings(&f2, BURST);
	CHECK(rlbt_wait_for(sent_enough, &p, WAIT_MS), "flow 1 stalled");
	__atomic_store_n(&f1.stop, 1, __ATOMIC_RELEASE);
	pthread_join(thread, NULL);
	running = false;
	f1_at_a = f1.sent;

	/* 4. */
	status = rlbt_serve_wait(&a, WAIT_MS);
	CHECK(status == 0, "A exited with %d, want 0", status);
	snprintf(line, sizeof(line),
		 "reuselb: handed over group %s to pid %d; its flows went quiet", name, b.pid);
	CHECK(a.output && strstr(a.output, line), "A did not print \"%s\"", line);
	a_count = datagrams(&a);
	CHECK(a_count == f1_at_a, "A received %ld datagrams; flow 1 sent it %ld (flow 2 none)",
	      a_count, f1_at_a);
	/* B takes the pins' lock a moment after A let it go */
	CHECK(rlbt_wait_owner(name, b.pid, WAIT_MS), "B does not hold the pins: pid %d does",
	      rlbt_group_owner(name));

	/* 5. */
	pings(&f1, BURST);
	pings(&f2, BURST);
	err = rlbt_group_totals(name, &t);
	b_count = t.steered;
	CHECK(!err && b_count == 3 * BURST,
	      "the program steered %ld datagrams to B, want flow 2's "
	      "%d and flow 1's last %d",
	      b_count, 2 * BURST, BURST);

	/* 6. */
	CHECK(!f1.lost && !f2.lost, "lost: %ld of flow 1's %ld, %ld of flow 2's %ld", f1.lost,
	      f1.sent, f2.lost, f2.sent);
	printf("udp restart: flow 1 (before) sent %ld, all %ld to A until it exited, then %d to "
	       "B; flow 2 (after) sent %ld, all to B; lost %ld and %ld\n",
	       f1.sent, f1_at_a, BURST, f2.sent, f1.lost, f2.lost);

	/* 7. */
	load_argv[1] = port;
	if (!CHECK(!rlbt_load_start(load_argv, &load), "cannot start rlbload"))
		goto out;
	sp.until = b_count + STEP;
	CHECK(rlbt_wait_for(steered_enough, &sp, WAIT_MS), "B got fewer than %d flows", STEP);
	if (start(port, name, true, &a2))
		goto out;
	status = rlbt_serve_wait(&b, WAIT_MS);
	CHECK(status == 0, "B exited with %d, want 0", status);
	snprintf(line, sizeof(line),
		 "reuselb: handed over group %s to pid %d; its flows went quiet", name, a2.pid);
	CHECK(b.output && strstr(b.output, line), "B did not print \"%s\"", line);
	CHECK(rlbt_wait_owner(name, a2.pid, WAIT_MS), "A2 does not hold the pins: pid %d does",
	      rlbt_group_owner(name));
	sp.until = STEP;
	CHECK(rlbt_wait_for(steered_enough, &sp, WAIT_MS), "A2 got fewer than %d flows", STEP);
	status = rlbt_load_finish(&load, true, WAIT_MS, &res);
	CHECK(status == 0 && res.total && res.ok == res.total, "rlbload --udp: exit %d, flows %s",
	      status, rlbt_load_summary(&res));
	CHECK(res.rate >= MIN_RATE, "rlbload ran at %.0f flows/s, want %d or more", res.rate,
	      MIN_RATE);
	status = rlbt_serve_stop(&a2);
	CHECK(status == 0, "A2 exited with %d after SIGTERM", status);
	printf("udp restart B -> A2 under load: %llu flows at %.0f/s, %llu unanswered\n",
	       (unsigned long long)res.total, res.rate, (unsigned long long)(res.total - res.ok));
out:
	if (load.pid > 0)
		rlbt_load_finish(&load, true, WAIT_MS, &res);
	if (running) {
		__atomic_store_n(&f1.stop, 1, __ATOMIC_RELEASE);
		pthread_join(thread, NULL);
	}
	if (f1.fd >= 0)
		close(f1.fd);
	if (f2.fd >= 0)
		close(f2.fd);
	rlbt_serve_free(&a);
	rlbt_serve_free(&b);
	rlbt_serve_free(&a2);
	return rlbt_finish();
}
