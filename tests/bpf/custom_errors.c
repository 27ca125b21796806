// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * A policy that cannot be installed is refused with a clear error, and the group goes on
 * steering exactly as before: under its built-in policy, and under a user's policy already
 * installed.
 *
 * Cases (objects from examples/policies/, built as test fixtures):
 *	bad_verifier.bpf.o	reads the packet unchecked: the verifier's log comes back
 *	bad_nomaps.bpf.o	an sk_reuseport program without the group's maps
 *	bad_type.bpf.o		the group's maps, but an XDP program
 *	tenant.bpf.c		a source file, not an object
 *	missing.bpf.o		no such file
 *
 * 1. Open a group of 4 workers on 127.0.0.1, policy round-robin.
 * 2. Each case: rlb_ctl_load_policy fails with the expected error and a message naming the
 *    file and the cause (for the verifier, rlb_verifier_log() holds the log, which names the
 *    bad access); the policy's name is still round-robin, the custom slot still empty, and 4
 *    connections continue the rotation exactly where it stood.
 * 3. Install fill_first.bpf.o (every connection to worker 0: nobody reports load, capacity
 *    100); the verifier log is empty after that success.
 * 4. Each case again: refused the same way; fill_first is still installed (same program id,
 *    name custom:fill_first) and 4 connections still all reach worker 0.
 * 5. Unload: the rotation resumes exactly where it stood before fill_first (the built-in
 *    policy's cursor did not move while a user's policy steered).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "rlbtest.h"

#define NR_WORKERS 4
#define NR_CONNS 4

struct bad_case {
	const char *file;    /* in $RLB_BIN_DIR/examples/policies, or $RLB_SOURCE_DIR/... */
	bool source;	     /* the file is in the source tree */
	int err;	     /* expected return, 0 for "any error" */
	const char *message; /* in rlb_last_error() */
	const char *log;     /* in rlb_verifier_log(), or NULL for an empty log */
};

static const struct bad_case cases[] = {
	{ "bad_verifier.bpf.o", false, -EACCES, "the kernel rejected", "invalid access to packet" },
	{ "bad_nomaps.bpf.o", false, -EINVAL, "no map 'socks'", NULL },
	{ "bad_type.bpf.o", false, -EINVAL, "has 0 sk_reuseport programs", NULL },
	{ "tenant.bpf.c", true, 0, "is it a BPF object file?", NULL },
	{ "missing.bpf.o", false, -ENOENT, "cannot open", NULL },
};

static const char *case_path(const struct bad_case *c)
{
	static char path[512];
	const char *dir = getenv(c->source ? "RLB_SOURCE_DIR" : "RLB_BIN_DIR");

	snprintf(path, sizeof(path), "%s/examples/policies/%s", dir ? dir : ".", c->file);
	return path;
}

/* The next worker of the rotation; -1 until the first connection shows where it stands. */
static int next_rr = -1;

/* NR_CONNS connections: round-robin (want < 0) continues its rotation, else all reach want. */
static void check_steering(struct rlb_group *g, int want, const char *when)
{
	struct rlbt_turns t;
	int off;

	if (want < 0) {
		off = rlbt_rotation(g, rlbt_steer_reset, AF_INET, NULL, "127.0.0.1", NR_CONNS, &t);
		if (!CHECK(off >= 0, "%s: a connection reached no single worker", when))
			return;
		CHECK(!off && (next_rr < 0 || t.first == next_rr),
		      "%s: %d connections out of rotation; the first reached worker %d, want %d",
		      when, off, t.first, next_rr);
		next_rr = t.next;
		return;
	}
	for (int i = 0; i < NR_CONNS; i++) {
		int w = rlbt_steer_reset(g, AF_INET, NULL, 0, "127.0.0.1");

		if (!CHECK(w >= 0, "%s: connection %d reached no single worker", when, i))
			return;
		CHECK(w == want, "%s: connection %d reached worker %d, want %d", when, i, w, want);
	}
}

/* Every case is refused; the group keeps its policy (installed is 0 or its program id). */
static void check_refusals(struct rlb_group *g, uint32_t installed, const char *name, int want)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct bad_case *c = &cases[i];
		const char *path = case_path(c), *msg, *log;
		char when[128];
		int err;

		err = rlb_ctl_load_policy(rlb_group_ctl(g), path);
		msg = rlb_last_error();
		log = rlb_verifier_log();
		snprintf(when, sizeof(when), "after %s under %s", c->file, name);
		CHECK(err < 0 && (!c->err || err == c->err), "%s: returned %d (%s), want %d",
		      c->file, err, strerror(-err), c->err);
		/* a verifier rejection is -EACCES; -EPERM would mean missing capabilities */
		CHECK(err != -EPERM, "%s: refused for lack of privilege: %s", c->file, msg);
		CHECK(strstr(msg, c->message) && strstr(msg, c->file),
		      "%s: message '%s' does not name the file and '%s'", c->file, msg, c->message);
		if (c->log)
			CHECK(strstr(log, c->log), "%s: the verifier log (%zu bytes) lacks '%s'",
			      c->file, strlen(log), c->log);
		else
			CHECK(!log[0], "%s: a verifier log where none is due: %.200s", c->file,
			      log);
		if (!installed) /* the first round shows what a user sees */
			printf("%s: %s\n%s", c->file, msg, log);
		CHECK(rlbt_custom_prog_id(g) == installed, "%s: the custom slot holds %u, want %u",
		      when, rlbt_custom_prog_id(g), installed);
		CHECK(rlbt_policy_is(rlb_group_ctl(g), name), "%s: the policy's name changed",
		      when);
		check_steering(g, want, when);
	}
}

int main(void)
{
	struct rlb_group *g = NULL;
	const char *path;
	uint32_t id;
	int err;

	rlbt_require_root();
	/* 1. */
	if (!CHECK(!rlbt_group_open("127.0.0.1", RLB_POLICY_ROUND_ROBIN, NR_WORKERS, &g),
		   "cannot open the group"))
		goto out;
	check_steering(g, -1, "round-robin");

	/* 2. */
	check_refusals(g, 0, "round-robin", -1);

	/* 3. */
	path = rlbt_policy_path("fill_first");
	err = rlb_ctl_load_policy(rlb_group_ctl(g), path);
	if (!CHECK(!err, "rlb_ctl_load_policy(%s): %s", path, rlb_last_error()))
		goto out;
	CHECK(!rlb_verifier_log()[0], "a verifier log after a successful load");
	id = rlbt_custom_prog_id(g);
	check_steering(g, 0, "fill_first");

	/* 4. */
	check_refusals(g, id, "custom:fill_first", 0);

	/* 5. */
	err = rlb_ctl_unload_policy(rlb_group_ctl(g));
	if (!CHECK(!err, "rlb_ctl_unload_policy: %s", rlb_last_error()))
		goto out;
	check_steering(g, -1, "round-robin after the unload");
out:
	rlb_group_close(g);
	return rlbt_finish();
}
