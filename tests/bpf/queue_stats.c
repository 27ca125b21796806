// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * reuselb stats shows a stuck listener's accept queue and its overflows, from sock_diag.
 *
 * 1. A pinned group rlbt-queue-PID of 4 workers on 127.0.0.1, policy round-robin, backlog 2.
 *    Worker 3 never accepts. 40 connections, one after the other (non-blocking connects):
 *    each is accepted by the worker of 0-2 that has it, or lands in worker 3's queue, or is
 *    dropped by worker 3's full queue (sock_diag's drops move on). Worker 3's queue holds
 *    backlog + 1 = 3; of its 10 turns, 7 are dropped.
 * 2. "reuselb stats --name rlbt-queue-PID --json": worker 3 has "queue":3, "queue_limit":2,
 *    "drops" >= 7 (a dropped SYN that is sent again counts again); workers 0-2 queue 0,
 *    drops 0.
 * 3. The table's row of worker 3 ends with its queue 3, limit 2 and its drops.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "rlbtest.h"

#define NR_WORKERS 4
#define STUCK 3
#define BACKLOG 2
#define NR_CONNS 40

static struct rlb_queue stuck_queue(struct rlb_group *g)
{
	struct rlb_queue q[RLB_MAX_WORKERS] = { 0 };

	rlb_group_read_queues(g, q);
	return q[STUCK];
}

/* A non-blocking connect to the group; the fd, or -errno. */
static int start_connect(uint16_t port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) && errno != EINPROGRESS) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

/* Where one connection went: a worker 0..STUCK (queued), STUCK + 1 (dropped), or -1. */
static int landed(struct rlb_group *g, struct rlb_queue *last)
{
	long end = rlbt_now_ms() + RLBT_TIMEOUT_MS;

	while (rlbt_now_ms() < end) {
		struct pollfd pfd[STUCK];
		struct rlb_queue q;

		for (int w = 0; w < STUCK; w++)
			pfd[w] = (struct pollfd){ .fd = rlb_group_fd(g, w), .events = POLLIN };
		if (poll(pfd, STUCK, 1) > 0) {
			for (int w = 0; w < STUCK; w++) {
				int fd = (pfd[w].revents & POLLIN) ?
						 accept4(pfd[w].fd, NULL, NULL, SOCK_CLOEXEC) :
						 -1;

				if (fd >= 0) {
					close(fd);
					return w;
				}
			}
		}
		q = stuck_queue(g);
		if (q.queue > last->queue || q.drops > last->drops) {
			int w = q.drops > last->drops ? STUCK + 1 : STUCK;

			*last = q;
			return w;
		}
	}
	return -1;
}

static bool shell(const char *what, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static bool shell(const char *what, const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	st = system(cmd);
	return CHECK(st == 0, "%s: '%s' exited %d", what, cmd, st);
}

int main(void)
{
	struct rlb_group_opts opts = {
		.addr = "127.0.0.1",
		.nr_workers = NR_WORKERS,
		.policy = RLB_POLICY_ROUND_ROBIN,
		.backlog = BACKLOG,
		.pin = true,
	};
	int clients[NR_CONNS], counts[NR_WORKERS + 1] = { 0 };
	const char *reuselb = getenv("REUSELB");
	struct rlb_queue last = { 0 };
	struct rlb_group *g = NULL;
	char name[64];
	int err;

	for (int i = 0; i < NR_CONNS; i++)
		clients[i] = -1;
	rlbt_require_root();
	snprintf(name, sizeof(name), "rlbt-queue-%d", getpid());
	opts.name = name;
	err = rlb_group_open(&opts, &g);
	if (!CHECK(!err, "rlb_group_open: %s", rlb_last_error()))
		return rlbt_finish();
	for (int i = 0; i < NR_CONNS; i++) {
		int w;

		clients[i] = start_connect(rlb_group_port(g));
		if (!CHECK(clients[i] >= 0, "connect %d: %s", i, strerror(-clients[i])))
			goto out;
		w = landed(g, &last);
		if (!CHECK(w >= 0, "connection %d went nowhere", i))
			goto out;
		counts[w]++;
	}
	printf("accepted %d/%d/%d, queued at 3: %d, dropped: %d\n", counts[0], counts[1], counts[2],
	       counts[3], counts[4]);
	CHECK(counts[STUCK] == BACKLOG + 1 && counts[STUCK + 1] == NR_CONNS / NR_WORKERS - 3,
	      "worker 3 queued %d and dropped %d, want %d and %d", counts[STUCK], counts[STUCK + 1],
	      BACKLOG + 1, NR_CONNS / NR_WORKERS - 3);
	shell("stats --json",
	      "%s stats --name %s --json | jq -e '(.workers[3] | .queue == 3 and .queue_limit == 2 "
	      "and .drops >= 7) and all(.workers[0:3][]; .queue == 0 and .queue_limit == 2 and "
	      ".drops == 0)' >/dev/null",
	      reuselb, name);
	shell("stats table",
	      "%s stats --name %s | grep -Eq '^ +3 +live +100 +10 +0 +0 +0 +0 +- +3 +2 +[0-9]+$'",
	      reuselb, name);
out:
	for (int i = 0; i < NR_CONNS; i++)
		if (clients[i] >= 0)
			close(clients[i]);
	rlb_group_close(g);
	return rlbt_finish();
}
