// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Degraded kernels, pretended with REUSELB_PROBE_DISABLE: the group still opens and steers
 * with what is left, and what cannot work is refused with a message that names the feature.
 * The probe runs once per process, so each case runs in a child of its own, forked before
 * anything probed, with the variable set (or unset) first thing.
 *
 * A. Control, nothing disabled: rlb_probe reports migrate and mmapable; a round-robin group's
 *    config (read from the kernel) carries RLB_CFG_MIGRATE; and a connection waiting in the
 *    queue of a worker that closes is migrated: another worker accepts it, the client reads a
 *    clean end of file, and the program counts it in "migrated".
 * B. REUSELB_PROBE_DISABLE=migrate: rlb_probe reports migrate false (and the rest true), the
 *    features line says "missing migrate"; a round-robin group of 4 opens and steers 100
 *    connections in exact rotation, 25 each; config.flags lacks RLB_CFG_MIGRATE; and with
 *    net.ipv4.tcp_migrate_req at 0, the connection waiting on a closing worker is reset, not
 *    migrated, and nothing is counted as migrated.
 * C. REUSELB_PROBE_DISABLE=mmapable: rlb_probe reports mmapable false; opening a least-conn
 *    group fails with -EOPNOTSUPP and a message naming mmapable; switching a live round-robin
 *    group to least-conn is refused the same way; round-robin steers 100 connections in exact
 *    rotation; load reporting (rlb_worker_accepted, ...) is a harmless no-op.
 * The parent checks that every child exited 0.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "rlbtest.h"

#define NR_WORKERS 4
#define NR_CONNS 100

/* Steers NR_CONNS connections; all in one exact rotation, NR_CONNS / NR_WORKERS each. */
static void check_rotation(struct rlb_group *g, const char *what)
{
	struct rlbt_turns t;
	int off = rlbt_rotation(g, rlbt_steer, AF_INET, NULL, NULL, NR_CONNS, &t);

	if (!CHECK(off >= 0, "%s: a connection reached no single worker", what))
		return;
	CHECK(!off, "%s: %d connections out of rotation", what, off);
	for (int w = 0; w < NR_WORKERS; w++)
		CHECK(t.counts[w] == NR_CONNS / NR_WORKERS, "%s: worker %d received %d, want %d",
		      what, w, t.counts[w], NR_CONNS / NR_WORKERS);
	printf("%s: %d connections, %d/%d/%d/%d\n", what, NR_CONNS, t.counts[0], t.counts[1],
	       t.counts[2], t.counts[3]);
}

/*
 * One connection per worker, left in the queues (round-robin puts connection k on the k-th
 * worker after the last one it chose); then the worker holding connection 0 closes (under
 * migrate, the program passes it to a live worker). Returns what the client of
 * connection 0 read afterwards: 0 for a clean end of file (it was migrated and accepted),
 * -ECONNRESET, or another -errno; -EIO if the test could not get that far. *migrated_to is
 * the worker that accepted connection 0, or -1.
 */
static int close_with_queue(struct rlb_group *g, int *migrated_to)
{
	int clients[NR_WORKERS], victim, result = -EIO, accepted = 0;
	struct pollfd pfd[NR_WORKERS];
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	uint16_t port0;
	char c;

	*migrated_to = -1;
	for (int k = 0; k < NR_WORKERS; k++)
		clients[k] = -1;
	/* where the rotation stands: connection 0 goes to the worker after this one */
	victim = rlbt_steer(g, AF_INET, NULL, 0, "127.0.0.1");
	if (!CHECK(victim >= 0, "the probing connection reached no single worker"))
		return -EIO;
	victim = (victim + 1) % NR_WORKERS;
	for (int k = 0; k < NR_WORKERS; k++) {
		clients[k] = rlbt_connect(AF_INET, NULL, 0, "127.0.0.1", rlb_group_port(g));
		if (!CHECK(clients[k] >= 0, "connect %d: %s", k, strerror(-clients[k])))
			goto out;
	}
	if (!CHECK(!getsockname(clients[0], (struct sockaddr *)&sin, &len), "getsockname: %s",
		   strerror(errno)))
		goto out;
	port0 = sin.sin_port;
	/* every queue holds its one connection before the close */
	for (int w = 0; w < NR_WORKERS; w++) {
		struct pollfd one = { .fd = rlb_group_fd(g, w), .events = POLLIN };

		if (!CHECK(poll(&one, 1, RLBT_TIMEOUT_MS) == 1,
			   "worker %d has no connection queued", w))
			goto out;
	}
	if (!CHECK(!rlb_group_close_worker(g, victim), "rlb_group_close_worker(%d): %s", victim,
		   rlb_last_error()))
		goto out;
	/* accept whatever the live workers hold now: their own, and connection 0 if migrated */
	for (int w = 0; w < NR_WORKERS; w++)
		pfd[w] = (struct pollfd){ .fd = rlb_group_fd(g, w), .events = POLLIN };
	for (int round = 0; round < 2 * NR_WORKERS && poll(pfd, NR_WORKERS, 0) > 0; round++) {
		for (int w = 0; w < NR_WORKERS; w++) {
			int fd;

			if (!(pfd[w].revents & POLLIN))
				continue;
			len = sizeof(sin);
			fd = accept4(pfd[w].fd, (struct sockaddr *)&sin, &len,
				     SOCK_CLOEXEC | SOCK_NONBLOCK);
			if (fd < 0)
				continue;
			accepted++;
			if (sin.sin_port == port0)
				*migrated_to = w;
			close(fd);
		}
	}
	CHECK(accepted == NR_WORKERS || accepted == NR_WORKERS - 1,
	      "the live workers accepted %d connections, want %d or %d", accepted, NR_WORKERS - 1,
	      NR_WORKERS);
	for (int k = 1; k < NR_WORKERS; k++)
		CHECK(read(clients[k], &c, 1) == 0, "client %d: no clean end of file: %s", k,
		      strerror(errno));
	result = read(clients[0], &c, 1) == 0 ? 0 : -errno;
out:
	for (int k = 0; k < NR_WORKERS; k++)
		if (clients[k] >= 0)
			close(clients[k]);
	return result;
}

static void control(void)
{
	struct rlb_group_stats st;
	struct rlb_features f;
	struct rlb_group *g = NULL;
	struct rlb_config cfg;
	int err, to;

	err = rlb_probe(&f);
	if (!CHECK(!err, "rlb_probe: %s", rlb_last_error()))
		return;
	CHECK(f.sk_reuseport && f.mmapable, "control: sk_reuseport %d, mmapable %d", f.sk_reuseport,
	      f.mmapable);
	if (!f.migrate) {
		printf("control: this kernel has no migrate (before 5.14): nothing to compare\n");
		return;
	}
	if (!CHECK(!rlbt_group_open("127.0.0.1", RLB_POLICY_ROUND_ROBIN, NR_WORKERS, &g),
		   "control: cannot open the group"))
		return;
	err = rlbt_group_config(g, &cfg);
	if (CHECK(!err, "cannot read the config map: %s", strerror(-err)))
		CHECK(cfg.flags & RLB_CFG_MIGRATE,
		      "control: config.flags %#x lacks RLB_CFG_MIGRATE", cfg.flags);
	err = close_with_queue(g, &to);
	CHECK(err == 0 && to >= 0,
	      "control: the connection queued on the closed worker read %s, accepted by %d; "
	      "want a clean end of file after a migration",
	      err ? strerror(-err) : "end of file", to);
	err = rlb_ctl_read(rlb_group_ctl(g), &st);
	if (CHECK(!err, "rlb_ctl_read: %s", rlb_last_error()) && to >= 0)
		CHECK(st.workers[to].migrated == 1, "control: slot %d counts %llu migrated, want 1",
		      to, (unsigned long long)st.workers[to].migrated);
	printf("control: the queued connection migrated to worker %d\n", to);
	rlb_group_close(g);
}

static void no_migrate(void)
{
	struct rlb_group_stats st;
	struct rlb_features f;
	struct rlb_group *g = NULL;
	struct rlb_config cfg;
	char line[256];
	int err, to, migrate_req, queued;

	err = rlb_probe(&f);
	if (!CHECK(!err, "rlb_probe: %s", rlb_last_error()))
		return;
	CHECK(!f.migrate && f.sk_reuseport && f.mmapable,
	      "migrate disabled: rlb_probe says migrate %d, sk_reuseport %d, mmapable %d",
	      f.migrate, f.sk_reuseport, f.mmapable);
	rlb_features_line(&f, line, sizeof(line));
	CHECK(strstr(line, "missing migrate"), "features line: %s", line);
	if (!CHECK(!rlbt_group_open("127.0.0.1", RLB_POLICY_ROUND_ROBIN, NR_WORKERS, &g),
		   "migrate disabled: the group does not open"))
		return;
	check_rotation(g, "migrate disabled");
	err = rlbt_group_config(g, &cfg);
	if (CHECK(!err, "cannot read the config map: %s", strerror(-err)))
		CHECK(!(cfg.flags & RLB_CFG_MIGRATE),
		      "migrate disabled: config.flags %#x has RLB_CFG_MIGRATE", cfg.flags);

	/* without a migrate program, only this sysctl would move the queue (by hash) */
	migrate_req = rlbt_read_sysctl("/proc/sys/net/ipv4/tcp_migrate_req");
	queued = close_with_queue(g, &to);
	if (migrate_req == 0)
		CHECK(queued == -ECONNRESET && to < 0,
		      "migrate disabled: the connection queued on the closed worker read %s, "
		      "accepted by %d; want a reset",
		      queued ? strerror(-queued) : "end of file", to);
	else
		printf("net.ipv4.tcp_migrate_req is %d: the kernel itself may migrate; not "
		       "checked\n",
		       migrate_req);
	err = rlb_ctl_read(rlb_group_ctl(g), &st);
	if (CHECK(!err, "rlb_ctl_read: %s", rlb_last_error()))
		for (int w = 0; w < NR_WORKERS; w++)
			CHECK(!st.workers[w].migrated,
			      "migrate disabled: slot %d counts %llu "
			      "migrated",
			      w, (unsigned long long)st.workers[w].migrated);
	printf("migrate disabled: the queued connection read %s\n",
	       queued ? strerror(-queued) : "end of file");
	rlb_group_close(g);
}

static void no_mmap(void)
{
	struct rlb_group_opts opts = {
		.addr = "127.0.0.1",
		.nr_workers = NR_WORKERS,
		.policy = RLB_POLICY_LEAST_CONN,
	};
	struct rlb_features f;
	struct rlb_group *g = NULL;
	const char *msg;
	int err;

	err = rlb_probe(&f);
	if (!CHECK(!err, "rlb_probe: %s", rlb_last_error()))
		return;
	CHECK(!f.mmapable && f.sk_reuseport && f.migrate,
	      "mmapable disabled: rlb_probe says mmapable %d, sk_reuseport %d, migrate %d",
	      f.mmapable, f.sk_reuseport, f.migrate);

	err = rlb_group_open(&opts, &g);
	msg = rlb_last_error();
	CHECK(err == -EOPNOTSUPP && !g, "mmapable disabled: least-conn opened: %d, %p", err,
	      (void *)g);
	CHECK(strstr(msg, "mmapable") && strstr(msg, "least-conn"),
	      "mmapable disabled: the error does not say why: \"%s\"", msg);
	printf("least-conn refused: %s\n", msg);
	rlb_group_close(g);
	g = NULL;

	if (!CHECK(!rlbt_group_open("127.0.0.1", RLB_POLICY_ROUND_ROBIN, NR_WORKERS, &g),
		   "mmapable disabled: round-robin does not open"))
		return;
	err = rlb_group_set_policy(g, RLB_POLICY_LEAST_CONN);
	CHECK(err == -EOPNOTSUPP && strstr(rlb_last_error(), "mmapable"),
	      "mmapable disabled: the live switch to least-conn returned %d (%s), want "
	      "-EOPNOTSUPP naming mmapable",
	      err, err ? rlb_last_error() : "accepted");
	if (!err)
		rlb_group_set_policy(g, RLB_POLICY_ROUND_ROBIN);
	rlb_worker_accepted(g, 0);
	rlb_worker_busy(g, 1, +1);
	rlb_worker_busy(g, 1, -1);
	rlb_worker_closed(g, 0);
	check_rotation(g, "mmapable disabled");
	rlb_group_close(g);
}

int main(void)
{
	rlbt_require_root();
	rlbt_in_child("control", NULL, control);
	rlbt_in_child("migrate disabled", "migrate", no_migrate);
	rlbt_in_child("mmapable disabled", "mmapable", no_mmap);
	return rlbt_finish();
}
