// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * --max-conns against the real binary: over the bound, a new connection is closed at once,
 * and the connections within it are not disturbed.
 *
 * 1. "$REUSELB serve -a 127.0.0.1 -p 0 -w 1 --mode http --max-conns 5". Five connections,
 *    each answered 200 on a keep-alive request: the worker holds five.
 * 2. A sixth connection is closed by the server at once: it reads end of file (or a reset)
 *    within 500 ms, and nothing else.
 * 3. The five are still open and served: another request on each, 200.
 * 4. One of the five closes; once the worker has let it go ("active" 4 in the group's pins),
 *    a new connection is served: 200.
 * 5. The group's pins say accepted 7 (the one turned away counts), active 5; SIGTERM: exit
 *    status 0 and "worker 0: accepted 7".
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "rlbtest.h"

#define MAX_CONNS 5

struct group_ref {
	const char *name;
	uint64_t active;
};

static bool active_is(void *arg)
{
	struct group_ref *g = arg;
	struct rlbt_totals t;

	return !rlbt_group_totals(g->name, &t) && t.active == g->active;
}

int main(void)
{
	static const char *const argv[] = { "serve",  "-a",   "127.0.0.1",   "-p", "0", "-w", "1",
					    "--mode", "http", "--max-conns", "5",  NULL };
	int fds[MAX_CONNS], extra = -1, status, err;
	struct rlbt_server s;
	struct rlbt_totals t;
	char name[32], c;
	struct group_ref ref = { .name = name };
	long start;
	ssize_t r;

	rlbt_require_root();
	for (int i = 0; i < MAX_CONNS; i++)
		fds[i] = -1;
	err = rlbt_serve_start(argv, &s);
	if (!CHECK(!err, "serve --max-conns 5 did not start: %s", strerror(-err)))
		return rlbt_finish();
	snprintf(name, sizeof(name), "tcp-%u", s.port);

	/* 1. five, each served: the worker has taken them all */
	for (int i = 0; i < MAX_CONNS; i++) {
		fds[i] = rlbt_connect(AF_INET, NULL, 0, "127.0.0.1", s.port);
		if (!CHECK(fds[i] >= 0, "connection %d: %s", i, strerror(-fds[i])))
			goto out;
		status = rlbt_http_get(fds[i]);
		CHECK(status == 200, "connection %d: %d (%s)", i, status,
		      status < 0 ? strerror(-status) : "status");
	}

	/* 2. the sixth, turned away at once */
	extra = rlbt_connect(AF_INET, NULL, 0, "127.0.0.1", s.port);
	if (!CHECK(extra >= 0, "the sixth connection: %s", strerror(-extra)))
		goto out;
	start = rlbt_now_ms();
	{
		struct pollfd p = { .fd = extra, .events = POLLIN };

		if (CHECK(poll(&p, 1, 1000) == 1, "the sixth connection is still open after 1 s")) {
			r = read(extra, &c, 1);
			CHECK(r == 0 || (r < 0 && errno == ECONNRESET),
			      "the sixth connection read %s, want an end of file",
			      r > 0 ? "data" : strerror(errno));
			CHECK(rlbt_now_ms() - start <= 500,
			      "the sixth connection closed after %ld ms", rlbt_now_ms() - start);
		}
	}
	close(extra);

	/* 3. the five are undisturbed */
	for (int i = 0; i < MAX_CONNS; i++) {
		status = rlbt_http_get(fds[i]);
		CHECK(status == 200, "connection %d, second request: %d (%s)", i, status,
		      status < 0 ? strerror(-status) : "status");
	}

	/* 4. room again once one has gone */
	close(fds[0]);
	fds[0] = -1;
	ref.active = MAX_CONNS - 1;
	if (CHECK(rlbt_wait_for(active_is, &ref, RLBT_TIMEOUT_MS),
		  "the worker does not let the closed connection go (active != %d)",
		  MAX_CONNS - 1)) {
		fds[0] = rlbt_connect(AF_INET, NULL, 0, "127.0.0.1", s.port);
		if (CHECK(fds[0] >= 0, "a new connection: %s", strerror(-fds[0]))) {
			status = rlbt_http_get(fds[0]);
			CHECK(status == 200, "a new connection after one closed: %d (%s)", status,
			      status < 0 ? strerror(-status) : "status");
		}
	}

	/* 5. the counts */
	err = rlbt_group_totals(name, &t);
	if (CHECK(!err, "group %s: %s", name, strerror(-err))) {
		CHECK(t.accepted == MAX_CONNS + 2, "accepted %lu, want %d",
		      (unsigned long)t.accepted, MAX_CONNS + 2);
		CHECK(t.active == MAX_CONNS, "active %lu, want %d", (unsigned long)t.active,
		      MAX_CONNS);
	}
out:
	for (int i = 0; i < MAX_CONNS; i++) {
		if (fds[i] >= 0)
			close(fds[i]);
	}
	status = rlbt_serve_stop(&s);
	CHECK(status == 0, "serve exited with %d after SIGTERM", status);
	CHECK(rlbt_serve_accepted(&s, 0) == MAX_CONNS + 2, "worker 0: accepted %ld, want %d",
	      rlbt_serve_accepted(&s, 0), MAX_CONNS + 2);
	rlbt_serve_free(&s);
	return rlbt_finish();
}
