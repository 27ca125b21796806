// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The failure that the migrate program prevents: connections waiting in the accept queue of a
 * listener that closes are reset, unless the program moves them to a live listener.
 *
 * Each case runs in a child of its own (the library probes the kernel once per process), in a
 * new network namespace: there net.ipv4.tcp_migrate_req is 0 whatever the host has, so that
 * without a migrate program the kernel does not move the queue by itself either.
 *
 * 1. Open a group of 4 workers on 127.0.0.1, ephemeral port, round-robin; nobody accepts.
 * 2. 200 connections, completed by the kernel and left in the queues: each listener's accept
 *    queue (TCP_INFO of a listener: tcpi_unacked) holds 50.
 * 3. Close worker 1 with rlb_group_close_worker.
 * 4. Accept and close everything the 3 live listeners hold; then every client reads either a
 *    clean end of file (it was accepted) or a reset.
 * A. REUSELB_PROBE_DISABLE=migrate: the library loads the select-only program. Resets > 0
 *    (exactly the 50 of worker 1's queue); the live listeners held 150.
 * B. Nothing disabled (a migrate program): 0 resets, all 200 accepted, and the program counts
 *    50 migrated.
 * Prints the counts of both cases.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "rlbtest.h"

#define NR_WORKERS 4
#define NR_CONNS 200
#define CLOSED 1

struct outcome {
	int resets, eofs, other, accepted;
	uint64_t migrated;
};

/* Connections waiting in a listener's accept queue. */
static int queued(int lfd)
{
	struct tcp_info ti = {};
	socklen_t len = sizeof(ti);

	if (getsockopt(lfd, IPPROTO_TCP, TCP_INFO, &ti, &len))
		return -errno;
	return ti.tcpi_unacked;
}

struct queues {
	struct rlb_group *g;
	int want;
};

static bool queues_full(void *arg)
{
	const struct queues *q = arg;

	for (unsigned int w = 0; w < NR_WORKERS; w++) {
		if (queued(rlb_group_fd(q->g, w)) < q->want)
			return false;
	}
	return true;
}

/* Accepts and closes what the open listeners hold; returns how many. */
static int accept_all(struct rlb_group *g)
{
	int accepted = 0;

	for (unsigned int w = 0; w < NR_WORKERS; w++) {
		int lfd = rlb_group_fd(g, w), fd;

		/* bounded by the connections made: no queue holds more */
		for (int i = 0; lfd >= 0 && i <= NR_CONNS; i++) {
			fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
			if (fd < 0)
				break;
			close(fd);
			accepted++;
		}
	}
	return accepted;
}

static void run_case(const char *name, struct outcome *out)
{
	static int clients[NR_CONNS];
	struct rlb_group_stats st;
	struct rlb_group *g = NULL;
	struct queues q;
	int err, made = 0;

	memset(out, 0, sizeof(*out));
	err = rlbt_private_netns();
	if (!CHECK(!err, "%s: cannot make a network namespace: %s", name, strerror(-err)))
		return;
	if (!CHECK(rlbt_read_sysctl("/proc/sys/net/ipv4/tcp_migrate_req") == 0,
		   "%s: tcp_migrate_req is not 0 in a new namespace", name))
		return;
	if (!CHECK(!rlbt_group_open("127.0.0.1", RLB_POLICY_ROUND_ROBIN, NR_WORKERS, &g),
		   "%s: cannot open the group", name))
		return;
	for (; made < NR_CONNS; made++) {
		clients[made] = rlbt_connect(AF_INET, NULL, 0, "127.0.0.1", rlb_group_port(g));
		if (!CHECK(clients[made] >= 0, "%s: connect %d: %s", name, made,
			   strerror(-clients[made])))
			goto out;
	}
	q = (struct queues){ .g = g, .want = NR_CONNS / NR_WORKERS };
	if (!CHECK(rlbt_wait_for(queues_full, &q, RLBT_TIMEOUT_MS),
		   "%s: the accept queues hold %d/%d/%d/%d, want %d each", name,
		   queued(rlb_group_fd(g, 0)), queued(rlb_group_fd(g, 1)),
		   queued(rlb_group_fd(g, 2)), queued(rlb_group_fd(g, 3)), q.want))
		goto out;

	err = rlb_group_close_worker(g, CLOSED);
	if (!CHECK(!err, "%s: rlb_group_close_worker: %s", name, rlb_last_error()))
		goto out;
	out->accepted = accept_all(g);
	for (int i = 0; i < made; i++) {
		char c;
		ssize_t r = read(clients[i], &c, 1);

		if (r == 0)
			out->eofs++;
		else if (r < 0 && errno == ECONNRESET)
			out->resets++;
		else
			out->other++;
	}
	err = rlb_ctl_read(rlb_group_ctl(g), &st);
	if (CHECK(!err, "%s: rlb_ctl_read: %s", name, rlb_last_error()))
		for (int w = 0; w < NR_WORKERS; w++)
			out->migrated += st.workers[w].migrated;
	printf("%s: %d connections queued, worker %d closed: %d accepted by the others, %d "
	       "clients read a clean end of file, %d a reset, %d neither; %llu migrated\n",
	       name, made, CLOSED, out->accepted, out->eofs, out->resets, out->other,
	       (unsigned long long)out->migrated);
out:
	for (int i = 0; i < made; i++)
		close(clients[i]);
	rlb_group_close(g);
}

static void without_migrate(void)
{
	struct rlb_features f;
	struct outcome o;

	if (!CHECK(!rlb_probe(&f) && !f.migrate, "migrate disabled: the probe still has it"))
		return;
	run_case("select-only program", &o);
	CHECK(o.resets > 0, "select-only program: no connection was reset");
	CHECK(o.resets == NR_CONNS / NR_WORKERS && o.accepted == NR_CONNS - o.resets &&
		      o.eofs == o.accepted && !o.other && !o.migrated,
	      "select-only program: %d resets, %d accepted, %d clean, %d other, %llu migrated; "
	      "want %d, %d, %d, 0, 0",
	      o.resets, o.accepted, o.eofs, o.other, (unsigned long long)o.migrated,
	      NR_CONNS / NR_WORKERS, NR_CONNS - NR_CONNS / NR_WORKERS,
	      NR_CONNS - NR_CONNS / NR_WORKERS);
}

static void with_migrate(void)
{
	struct rlb_features f;
	struct outcome o;

	if (!CHECK(!rlb_probe(&f), "rlb_probe: %s", rlb_last_error()))
		return;
	if (!f.migrate) {
		printf("this kernel has no migrate (before 5.14): nothing to compare\n");
		return;
	}
	run_case("migrate program", &o);
	CHECK(o.resets == 0 && o.accepted == NR_CONNS && o.eofs == NR_CONNS && !o.other,
	      "migrate program: %d resets, %d accepted, %d clean, %d other; want 0, %d, %d, 0",
	      o.resets, o.accepted, o.eofs, o.other, NR_CONNS, NR_CONNS);
	CHECK(o.migrated == NR_CONNS / NR_WORKERS, "migrate program: %llu migrated, want %d",
	      (unsigned long long)o.migrated, NR_CONNS / NR_WORKERS);
}

int main(void)
{
	rlbt_require_root();
	rlbt_in_child("without migrate", "migrate", without_migrate);
	rlbt_in_child("with migrate", NULL, with_migrate);
	return rlbt_finish();
}
