// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * A user's policy goes in and out of a live group with bpftool alone, with the commands that
 * docs/custom-policies.md gives.
 *
 * 1. Open a pinned group of 4 workers on 127.0.0.1, policy round-robin: its pins are in
 *    /sys/fs/bpf/reuselb/tcp-PORT.
 * 2. bpftool prog load fill_first.bpf.o G/rlbt_policy type sk_reuseport/migrate (the attach
 *    type of the group's program: config.flags has RLB_CFG_MIGRATE), with every map of the
 *    object replaced by the group's pinned one: exit 0.
 * 3. bpftool map update pinned G/custom key 0 0 0 0 value pinned G/rlbt_policy: exit 0.
 * 4. Through the pins, as the CLI sees it (rlb_ctl_open): the policy is custom:fill_first; 8
 *    connections all reach worker 0 (capacity 100, and nobody publishes load), and the
 *    group's stats map counts them.
 * 5. bpftool map delete pinned G/custom key 0 0 0 0, and the pin removed: the policy is
 *    round-robin again, 8 connections rotate, and the policy's program is freed.
 */
#define _GNU_SOURCE /* accept4 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <bpf/bpf.h>

#include "rlbtest.h"

#define NR_WORKERS 4
#define NR_CONNS 8

static const char *const maps[] = { "config",	"socks",  "workers", "load", "stats",
				    "weighted", "maglev", "cpus",    "flows" };

/*
 * One connection to the group, from src:sport (NULL, 0: the kernel's choice) to dst: returns
 * the worker that accepted and served it, or -1. Unlike rlbt_steer, the client ends it with a
 * reset (SO_LINGER 0) and the worker closes only once the reset is in, so that no packet of
 * it is left in flight: when the TIME_WAIT table is full (tcp_max_tw_buckets), a late FIN
 * reaches the listeners, runs the steering program again and is counted, which would spoil
 * the exact counts checked here.
 */
static int serve_once(struct rlb_group *g, const char *src, uint16_t sport, const char *dst)
{
	struct linger reset = { .l_onoff = 1, .l_linger = 0 };
	struct pollfd pfd[NR_WORKERS];
	int fd, cfd = -1, worker = -1, ready;
	char c;

	fd = rlbt_connect(AF_INET, src, sport, dst, rlb_group_port(g));
	if (fd < 0) {
		fprintf(stderr, "connect to %s: %s\n", dst, strerror(-fd));
		return -1;
	}
	for (int i = 0; i < NR_WORKERS; i++)
		pfd[i] = (struct pollfd){ .fd = rlb_group_fd(g, i), .events = POLLIN };
	ready = poll(pfd, NR_WORKERS, RLBT_TIMEOUT_MS);
	for (int i = 0; i < NR_WORKERS && ready == 1; i++)
		if (pfd[i].revents & POLLIN)
			worker = i;
	if (worker < 0) {
		fprintf(stderr, "%d workers have the connection to %s, want 1\n", ready, dst);
		goto out;
	}
	cfd = accept4(pfd[worker].fd, NULL, NULL, SOCK_CLOEXEC);
	if (cfd < 0 || write(cfd, "w", 1) != 1 || read(fd, &c, 1) != 1) {
		fprintf(stderr, "worker %d did not serve the connection: %s\n", worker,
			strerror(errno));
		worker = -1;
		goto out;
	}
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &reset, sizeof(reset));
	close(fd);
	fd = -1;
	pfd[0] = (struct pollfd){ .fd = cfd, .events = POLLIN };
	if (poll(pfd, 1, RLBT_TIMEOUT_MS) != 1 || read(cfd, &c, 1) >= 0 || errno != ECONNRESET) {
		fprintf(stderr, "worker %d never saw the client's reset\n", worker);
		worker = -1;
	}
out:
	if (fd >= 0)
		close(fd);
	if (cfd >= 0)
		close(cfd);
	return worker;
}

/* Runs a shell command line, shown first; returns its exit status. */
static int run(const char *cmd)
{
	int status;

	printf("# %s\n", cmd);
	fflush(stdout);
	status = system(cmd);
	return status == -1 ? -errno : WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

/* The id of the program pinned at path, or 0. */
static uint32_t pinned_prog_id(const char *path)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);
	int fd = bpf_obj_get(path);
	uint32_t id = 0;

	if (fd < 0)
		return 0;
	if (!bpf_obj_get_info_by_fd(fd, &info, &len))
		id = info.id;
	close(fd);
	return id;
}

static void check_name(struct rlb_ctl *ctl, const char *want)
{
	char name[64] = "";
	int err = rlb_ctl_policy_name(ctl, name, sizeof(name));

	CHECK(!err && !strcmp(name, want), "policy name '%s' (%s), want '%s'", name,
	      err ? rlb_last_error() : "ok", want);
}

int main(void)
{
	struct rlb_group_opts opts = {
		.addr = "127.0.0.1",
		.nr_workers = NR_WORKERS,
		.policy = RLB_POLICY_ROUND_ROBIN,
		.pin = true,
	};
	const char *bpftool = access("/usr/sbin/bpftool", X_OK) ? "bpftool" : "/usr/sbin/bpftool";
	const char *dir = getenv("RLB_BIN_DIR");
	char group[256], prog[300] = "", cmd[4096], name[64];
	struct rlb_group_stats before, after;
	struct rlb_group *g = NULL;
	struct rlb_ctl *ctl = NULL;
	struct rlb_config cfg;
	int err, w, start = -1, bad = 0;
	uint32_t id;
	size_t len;

	rlbt_require_root();
	/* 1. */
	err = rlb_group_open(&opts, &g);
	if (!CHECK(!err, "cannot open the pinned group: %s", rlb_last_error()))
		goto out;
	snprintf(group, sizeof(group), "%s/%s", RLB_PIN_ROOT, rlb_group_name(g));
	snprintf(prog, sizeof(prog), "%s/rlbt_policy", group);
	err = rlbt_group_config(g, &cfg);
	if (!CHECK(!err, "cannot read the config map: %s", strerror(-err)))
		goto out;

	/* 2. */
	len = snprintf(cmd, sizeof(cmd),
		       "%s prog load %s/examples/policies/fill_first.bpf.o %s type %s", bpftool,
		       dir ? dir : ".", prog,
		       cfg.flags & RLB_CFG_MIGRATE ? "sk_reuseport/migrate" : "sk_reuseport");
	for (size_t i = 0; i < sizeof(maps) / sizeof(maps[0]); i++)
		len += snprintf(cmd + len, sizeof(cmd) - len, " map name %s pinned %s/%s", maps[i],
				group, maps[i]);
	if (!CHECK(run(cmd) == 0, "bpftool prog load failed"))
		goto out;

	/* 3. */
	snprintf(cmd, sizeof(cmd), "%s map update pinned %s/custom key 0 0 0 0 value pinned %s",
		 bpftool, group, prog);
	if (!CHECK(run(cmd) == 0, "bpftool map update failed"))
		goto out;

	/* 4. */
	err = rlb_ctl_open(rlb_group_name(g), &ctl);
	if (!CHECK(!err, "rlb_ctl_open(%s): %s", rlb_group_name(g), rlb_last_error()))
		goto out;
	check_name(ctl, "custom:fill_first");
	err = rlb_ctl_read(ctl, &before);
	if (!CHECK(!err, "rlb_ctl_read: %s", rlb_last_error()))
		goto out;
	for (int i = 0; i < NR_CONNS; i++) {
		w = serve_once(g, NULL, 0, "127.0.0.1");
		CHECK(w == 0, "connection %d under fill_first reached worker %d, want 0", i, w);
	}
	err = rlb_ctl_read(ctl, &after);
	if (!CHECK(!err, "rlb_ctl_read: %s", rlb_last_error()))
		goto out;
	CHECK(after.workers[0].steered - before.workers[0].steered == NR_CONNS,
	      "the stats map counted %llu steered to worker 0, want %d",
	      (unsigned long long)(after.workers[0].steered - before.workers[0].steered), NR_CONNS);
	id = pinned_prog_id(prog);
	CHECK(id, "cannot read the id of %s", prog);

	/* 5. */
	snprintf(cmd, sizeof(cmd), "%s map delete pinned %s/custom key 0 0 0 0", bpftool, group);
	CHECK(run(cmd) == 0, "bpftool map delete failed");
	CHECK(!unlink(prog), "rm %s: %s", prog, strerror(errno));
	check_name(ctl, "round-robin");
	for (int i = 0; i < NR_CONNS; i++) {
		w = serve_once(g, NULL, 0, "127.0.0.1");
		if (!CHECK(w >= 0, "connection %d after the delete reached no worker", i))
			goto out;
		if (i == 0)
			start = w;
		bad += w != (start + i) % NR_WORKERS;
	}
	CHECK(!bad, "after the delete, %d of %d connections out of the rotation", bad, NR_CONNS);
	CHECK(!id || rlbt_wait_prog_gone(id) == -ENOENT, "the policy's program %u is still loaded",
	      id);
	rlb_ctl_policy_name(ctl, name, sizeof(name));
	printf("bpftool: custom:fill_first in and out of %s; now %s\n", rlb_group_name(g), name);
out:
	if (g && prog[0])
		unlink(prog);
	rlb_ctl_close(ctl);
	rlb_group_close(g);
	return rlbt_finish();
}
