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
#include <errno.h>
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

static const char *const maps[] = { "config",	"socks",  "workers", "load",  "stats",
				    "weighted", "maglev", "cpus",    "flows", "flows_new" };

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

int main(void)
{
	struct rlb_group_opts opts = {
		.addr = "127.0.0.1",
		.nr_workers = NR_WORKERS,
		.policy = RLB_POLICY_ROUND_ROBIN,
		.pin = true,
	};
	const char *bpftool = access("/usr/sbin/bpftool", X_OK) ? "bpftool" : "/usr/sbin/bpftool";
	char group[256], prog[300] = "", cmd[4096], name[64];
	struct rlb_group_stats before, after;
	struct rlb_group *g = NULL;
	struct rlb_ctl *ctl = NULL;
	struct rlb_config cfg;
	int err, w, bad;
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
	len = snprintf(cmd, sizeof(cmd), "%s prog load %s %s type %s", bpftool,
		       rlbt_policy_path("fill_first"), prog,
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
	CHECK(rlbt_policy_is(ctl, "custom:fill_first"), "the pins do not show the policy");
	err = rlb_ctl_read(ctl, &before);
	if (!CHECK(!err, "rlb_ctl_read: %s", rlb_last_error()))
		goto out;
	for (int i = 0; i < NR_CONNS; i++) {
		w = rlbt_steer_reset(g, AF_INET, NULL, 0, "127.0.0.1");
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
	CHECK(rlbt_policy_is(ctl, "round-robin"), "the pins do not show the built-in policy");
	bad = rlbt_rotation(g, rlbt_steer_reset, AF_INET, NULL, NULL, NR_CONNS, NULL);
	if (!CHECK(bad >= 0, "a connection after the delete reached no worker"))
		goto out;
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
