// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The library keeps tcp-N and udp-N for the group of port N and that protocol (issue 17, item
 * 6), so that a program on libreuselb cannot shadow another port's group either.
 *
 * 1. rlb_check_group_name over a table of names, protocols and ports: a group's own default
 *    name and names of another form pass; another port's or protocol's default name, a
 *    non-canonical one (tcp-0N, tcp-70000) and any tcp-N on port 0 give -EINVAL and a message
 *    naming the name.
 * 2. rlb_group_open (pins on) with --name tcp-P on port P+1 fails with -EINVAL before
 *    binding: port P+1 is still free and no pin directory tcp-P appears.
 * 3. rlb_group_open with its own default name tcp-P on port P succeeds and is named so.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "rlbtest.h"

struct name_case {
	const char *name;
	bool udp;
	uint16_t port;
	bool ok;
};

static const struct name_case cases[] = {
	{ "tcp-8080", false, 8080, true },   { "udp-8080", true, 8080, true },
	{ "web", false, 8080, true },	     { "tcp", false, 8080, true },
	{ "tcp-", false, 8080, true },	     { "tcp-x1", false, 8080, true },
	{ "tcp-8080a", false, 8080, true },  { "tcp-8080", false, 8081, false },
	{ "tcp-8080", true, 8080, false },   { "udp-8080", false, 8080, false },
	{ "tcp-08080", false, 8080, false }, { "tcp-70000", false, 8080, false },
	{ "tcp-8080", false, 0, false },     { "tcp-0", false, 0, false },
	{ "a/b", false, 8080, false },
};

static struct rlb_group_opts opts(const char *name, uint16_t port)
{
	return (struct rlb_group_opts){ .addr = "127.0.0.1",
					.port = port,
					.nr_workers = 2,
					.policy = RLB_POLICY_ROUND_ROBIN,
					.pin = true,
					.name = name };
}

int main(void)
{
	char name[32], path[128];
	struct rlb_group_opts o;
	struct rlb_group *g;
	int p, q, err;

	rlbt_require_root();
	/* 1. */
	rlbt_for_each_case(i, cases) {
		const struct name_case *c = &cases[i];

		err = rlb_check_group_name(c->name, c->udp, c->port);
		CHECK(c->ok ? err == 0 : err == -EINVAL, "%s for %s port %u: %d (%s)", c->name,
		      c->udp ? "udp" : "tcp", c->port, err, err ? rlb_last_error() : "accepted");
		if (err)
			CHECK(strstr(rlb_last_error(), c->name), "%s: message '%s'", c->name,
			      rlb_last_error());
	}

	/* 2. */
	p = rlbt_free_port(AF_INET, "127.0.0.1");
	q = rlbt_free_port(AF_INET, "127.0.0.1");
	if (!CHECK(p > 0 && q > 0 && p != q, "no free ports: %d %d", p, q))
		return rlbt_finish();
	snprintf(name, sizeof(name), "tcp-%d", p);
	o = opts(name, q);
	err = rlb_group_open(&o, &g);
	CHECK(err == -EINVAL && strstr(rlb_last_error(), "default name of tcp port"),
	      "%s on port %d: %d (%s)", name, q, err, err ? rlb_last_error() : "opened");
	if (!err)
		rlb_group_close(g);
	snprintf(path, sizeof(path), "%s/%s", RLB_PIN_ROOT, name);
	CHECK(access(path, F_OK), "%s exists after the refusal", path);
	{
		int fd = rlbt_connect(AF_INET, NULL, 0, "127.0.0.1", q);

		CHECK(fd == -ECONNREFUSED, "port %d after the refusal: connect gave %d", q, fd);
		if (fd >= 0)
			close(fd);
	}

	/* 3. */
	o = opts(name, p);
	err = rlb_group_open(&o, &g);
	if (CHECK(!err, "%s on its own port %d: %s", name, p, rlb_last_error())) {
		CHECK(!strcmp(rlb_group_name(g), name), "named %s", rlb_group_name(g));
		CHECK(rlbt_steer(g, AF_INET, NULL, 0, "127.0.0.1") >= 0, "no connection steered");
		rlb_group_close(g);
	}
	return rlbt_finish();
}
