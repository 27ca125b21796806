// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Steering never drops, whatever a user's policy returns.
 *
 * 1. Open a group of 4 workers on 127.0.0.1, policy round-robin.
 * 2. Control: drop_all.bpf.o loaded with plain libbpf (no reuselb) into the custom slot
 *    refuses a connection (ECONNREFUSED): the fixture really drops, so step 3 can fail.
 * 3. rlb_ctl_load_policy(drop_all.bpf.o) succeeds with a notice naming the program and
 *    SK_PASS; the group shows custom:drop_all, and 1 000 connections are all accepted (0
 *    refused), each by one worker.
 * 4. drop_tail.bpf.o (a tail call through a program array of its own) is refused, naming
 *    the program array; drop_all stays installed.
 * 5. The shipped policies load with no notice: their returns are all SK_PASS already, and
 *    they load exactly as built.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "rlbtest.h"

#define NR_WORKERS 4
#define NR_CONNS 1000

/* Step 2: drop_all as built, into the custom slot; returns its object (to close) or NULL. */
static struct bpf_object *install_unguarded(struct rlb_group *g)
{
	const char *path = rlbt_policy_path("drop_all");
	struct bpf_object *obj = bpf_object__open_file(path, NULL);
	struct bpf_program *prog;
	struct rlb_config cfg;
	int custom, fd;
	__u32 key = 0;

	if (!CHECK(obj, "open %s: %s", path, strerror(errno)))
		return NULL;
	prog = bpf_object__find_program_by_name(obj, "drop_all");
	if (!CHECK(prog && !rlbt_group_config(g, &cfg), "no program drop_all, or no config"))
		goto fail;
	bpf_program__set_expected_attach_type(prog, cfg.flags & RLB_CFG_MIGRATE ?
							    BPF_SK_REUSEPORT_SELECT_OR_MIGRATE :
							    BPF_SK_REUSEPORT_SELECT);
	if (!CHECK(!bpf_object__load(obj), "load %s with libbpf: %s", path, strerror(errno)))
		goto fail;
	fd = bpf_program__fd(prog);
	custom = rlbt_group_map_fd(g, "custom");
	if (!CHECK(custom >= 0 && !bpf_map_update_elem(custom, &key, &fd, 0),
		   "cannot install drop_all by hand: %s", strerror(errno))) {
		if (custom >= 0)
			close(custom);
		goto fail;
	}
	close(custom);
	return obj;
fail:
	bpf_object__close(obj);
	return NULL;
}

int main(void)
{
	static const char *const shipped[] = { "fill_first", "tenant", "dns_qname" };
	struct bpf_object *raw;
	struct rlb_group *g = NULL;
	int err, fd, refused = 0, unplaced = 0;
	uint32_t id;

	rlbt_require_root();
	/* 1. */
	if (!CHECK(!rlbt_group_open("127.0.0.1", RLB_POLICY_ROUND_ROBIN, NR_WORKERS, &g),
		   "cannot open the group"))
		goto out;

	/* 2. */
	raw = install_unguarded(g);
	if (raw) {
		fd = rlbt_connect(AF_INET, NULL, 0, "127.0.0.1", rlb_group_port(g));
		CHECK(fd == -ECONNREFUSED, "control: drop_all as built let a connection in (%s)",
		      fd < 0 ? strerror(-fd) : "connected");
		if (fd >= 0) {
			close(fd);
			rlbt_accepting_worker(g, 1000);
		}
		CHECK(!rlb_ctl_unload_policy(rlb_group_ctl(g)), "unload: %s", rlb_last_error());
		bpf_object__close(raw);
	}

	/* 3. */
	err = rlb_ctl_load_policy(rlb_group_ctl(g), rlbt_policy_path("drop_all"));
	if (!CHECK(!err, "load drop_all: %s", rlb_last_error()))
		goto out;
	printf("notice: %s\n", rlb_policy_notice());
	CHECK(strstr(rlb_policy_notice(), "drop_all") && strstr(rlb_policy_notice(), "SK_PASS"),
	      "no notice that drop_all's returns were changed: '%s'", rlb_policy_notice());
	CHECK(rlbt_policy_is(rlb_group_ctl(g), "custom:drop_all"), "the policy is not drop_all");
	id = rlbt_custom_prog_id(g);
	for (int i = 0; i < NR_CONNS; i++) {
		fd = rlbt_connect(AF_INET, NULL, 0, "127.0.0.1", rlb_group_port(g));
		if (fd < 0) {
			if (!refused++)
				fprintf(stderr, "connection %d: %s\n", i, strerror(-fd));
			continue;
		}
		unplaced += rlbt_accepting_worker(g, RLBT_TIMEOUT_MS) < 0;
		close(fd);
	}
	printf("drop_all guarded: %d connections, %d refused, %d not accepted by one worker\n",
	       NR_CONNS, refused, unplaced);
	CHECK(refused == 0 && unplaced == 0, "%d refused, %d not accepted", refused, unplaced);

	/* 4. */
	err = rlb_ctl_load_policy(rlb_group_ctl(g), rlbt_policy_path("drop_tail"));
	printf("drop_tail: %s\n", rlb_last_error());
	CHECK(err == -EINVAL && strstr(rlb_last_error(), "program array") &&
		      strstr(rlb_last_error(), "drop_tail"),
	      "drop_tail: returned %d: %s", err, rlb_last_error());
	CHECK(rlbt_custom_prog_id(g) == id, "the custom slot changed after a refusal");

	/* 5. */
	for (size_t i = 0; i < ARRAY_SIZE(shipped); i++) {
		err = rlb_ctl_load_policy(rlb_group_ctl(g), rlbt_policy_path(shipped[i]));
		CHECK(!err, "load %s: %s", shipped[i], rlb_last_error());
		CHECK(!err && !rlb_policy_notice()[0], "%s: a notice: %s", shipped[i],
		      rlb_policy_notice());
	}
	CHECK(!rlb_ctl_unload_policy(rlb_group_ctl(g)), "unload: %s", rlb_last_error());
out:
	rlb_group_close(g);
	return rlbt_finish();
}
