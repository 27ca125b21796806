// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * reuselb attach / detach: steer the SO_REUSEPORT sockets of a server reuselb did not start
 * (nginx, HAProxy, a fork-per-core server), with no change to it. attach adopts the sockets
 * (rlb_group_adopt), prints who serves each slot and exits, leaving program and pins with the
 * sockets' group; with --follow it stays and keeps the maps in step (attach_follow.c). detach
 * gives the group back to the kernel's hash and removes the pins.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "cli/cli.h"
#include "cli/attach_follow.h"

#define PIDS_MAX 64

static const char attach_usage[] =
	"Usage: reuselb attach -p PORT [-a ADDR] [--udp] [--pid PID]... [--policy NAME]\n"
	"                      [--name GROUP] [--follow [--detach-on-exit]]\n"
	"\n"
	"Steer a running server's SO_REUSEPORT sockets on PORT (nginx 'listen ... reuseport',\n"
	"HAProxy shards, a fork-per-core server) with no change to it: every socket bound to\n"
	"ADDR:PORT is copied out of the process that serves it (pidfd_getfd), given a worker\n"
	"slot, and the group gets the steering program with its maps pinned under\n" RLB_PIN_ROOT
	"/GROUP/, as 'reuselb serve' makes them. Prints one line per worker\n"
	"(slot, pid, command, fd, socket cookie) and exits: the program stays attached to the\n"
	"server's sockets, and stats, policy, weight, drain and list work on the group. What\n"
	"the server does not report (accepted, active) is shown as unknown.\n"
	"Needs CAP_SYS_PTRACE (or the server's uid), CAP_BPF and CAP_NET_ADMIN: run as root.\n"
	"\n";

static const char detach_usage[] =
	"Usage: reuselb detach {-p PORT [-a ADDR] [--udp] | --name GROUP}\n"
	"\n"
	"Take the steering program out of an attached server's sockets (the kernel's hash\n"
	"decides again) and remove the group's pins; pins left by a server whose sockets have\n"
	"all closed are removed too.\n"
	"\n";

static const char attach_more[] =
	"\n"
	"Exit status:\n"
	"  0 attached; 1 failure (no socket on the port, one without SO_REUSEPORT, sockets of\n"
	"  two groups, a pid not ours to trace, a group reuselb steers already, another\n"
	"  tool's program on the group without --replace, not root);\n"
	"  2 usage error. A failed attach changes nothing: no program, no pins.\n"
	"\n"
	"EXAMPLES:\n"
	"  reuselb attach -p 8080 --policy round-robin     # every nginx worker on 8080\n"
	"  reuselb stats -p 8080                           # pid and command per worker\n"
	"  reuselb attach -p 443 --policy least-conn --follow &   # follows reloads\n"
	"  reuselb detach -p 8080                          # back to the kernel's hash\n";

static const char detach_more[] =
	"\n"
	"Exit status:\n"
	"  0 detached (or stale pins removed); 1 failure (a group served by 'reuselb serve',\n"
	"  one held by 'attach --follow', not root); 2 usage error, an unknown group included\n"
	"\n"
	"EXAMPLES:\n"
	"  reuselb detach -p 8080\n"
	"  reuselb detach --name web\n";

static const struct cli_option attach_options[] = {
	{ "port", 'p', "PORT", "the port the server listens on (1 to 65535)" },
	{ "addr", 'a', "ADDR",
	  "the address its sockets are bound to (default: the one address\n"
	  "found on the port)" },
	{ "udp", CLI_OPT_UDP, NULL, "the server's bound UDP sockets (default TCP listeners)" },
	{ "pid", CLI_OPT_PID, "PID",
	  "only sockets this process holds; repeat for more processes\n"
	  "(default: every process's)" },
	{ "policy", CLI_OPT_POLICY, "NAME",
	  "how the program picks a worker (default round-robin)" },
	{ "name", CLI_OPT_NAME, "GROUP",
	  "the group's name for its pins (default tcp-PORT, udp-PORT)" },
	{ "follow", CLI_OPT_FOLLOW, NULL,
	  "stay, and re-sync the maps within 1 s when the server's sockets\n"
	  "change (a reload, a worker replaced); until SIGTERM or SIGINT" },
	{ "detach-on-exit", CLI_OPT_DETACH_ON_EXIT, NULL,
	  "with --follow: detach when stopped (default: the program stays)" },
	{ "replace", CLI_OPT_REPLACE, NULL,
	  "replace another tool's steering program on the group (eBPF or\n"
	  "classic BPF); without it, attach refuses" },
	CLI_VERBOSE_HELP_OPTIONS,
	{},
};

static const struct cli_option detach_options[] = {
	CLI_TARGET_OPTIONS,
	{ "addr", 'a', "ADDR", "with -p: the group bound to this address" },
	CLI_VERBOSE_HELP_OPTIONS,
	{},
};

struct attach_args {
	struct cli_common common;
	struct cli_addr addr;
	bool has_addr;
	uint16_t port;
	bool udp;
	const char *name;
	int pids[PIDS_MAX];
	unsigned int nr_pids;
	enum rlb_policy policy;
	bool follow, detach_on_exit, replace;
};

static int attach_option(void *args, const struct cli_parser *p, int opt, const char *val)
{
	struct attach_args *a = args;
	unsigned long n;

	switch (opt) {
	case 'p':
		if (strcmp(p->cmd, "attach"))
			return 1;
		if (cli_parse_port(val, false, &a->port))
			return cli_usage_error(p->cmd, "bad port '%s': give 1 to 65535", val);
		return 0;
	case 'a':
		if (cli_parse_addr(val, &a->addr))
			return cli_usage_error(
				p->cmd, "bad address '%s': give a numeric IPv4 or IPv6 address",
				val);
		a->has_addr = true;
		return 0;
	case CLI_OPT_UDP:
		if (strcmp(p->cmd, "attach"))
			return 1;
		a->udp = true;
		return 0;
	case CLI_OPT_NAME:
		if (strcmp(p->cmd, "attach"))
			return 1;
		if (cli_parse_group_name(val))
			return cli_usage_error(p->cmd,
					       "bad group name '%s': use 1 to %d letters, digits, "
					       "'.', '_' or '-', not starting with '.'",
					       val, RLB_NAME_MAX);
		a->name = val;
		return 0;
	case CLI_OPT_PID:
		if (a->nr_pids == PIDS_MAX)
			return cli_usage_error(p->cmd, "too many --pid: give at most %d", PIDS_MAX);
		if (cli_uint_option(p, opt, val, 1, 4194304, "", &n))
			return -EINVAL;
		a->pids[a->nr_pids++] = n;
		return 0;
	case CLI_OPT_POLICY:
		if (rlb_policy_parse(val, &a->policy))
			return cli_usage_error(p->cmd, "unknown policy '%s': choose one of %s", val,
					       rlb_policy_names());
		if (a->policy == RLB_POLICY_KERNEL)
			return cli_usage_error(
				p->cmd, "policy kernel steers nothing: to give the group back "
					"to the kernel's hash, use 'reuselb detach'");
		return 0;
	case CLI_OPT_FOLLOW:
		a->follow = true;
		return 0;
	case CLI_OPT_DETACH_ON_EXIT:
		a->detach_on_exit = true;
		return 0;
	case CLI_OPT_REPLACE:
		a->replace = true;
		return 0;
	}
	return 1;
}

static int attach_operands(void *args, struct cli_parser *p)
{
	struct attach_args *a = args;

	if (cli_operands_at_most(p, 0))
		return -EINVAL;
	if (!p->given['p'])
		return cli_usage_error(p->cmd,
				       "missing -p PORT: give the port the server listens on");
	if (a->detach_on_exit && !a->follow)
		return cli_usage_error(p->cmd, "--detach-on-exit goes with --follow");
	if (a->name && rlb_check_group_name(a->name, a->udp, a->port))
		return cli_usage_error(p->cmd, "%s", rlb_last_error());
	return 0;
}

static const struct cli_command attach_command = {
	.name = "attach",
	.usage = attach_usage,
	.options = attach_options,
	.more = attach_more,
	.own = attach_option,
};

static const struct cli_command detach_command = {
	.name = "detach",
	.usage = detach_usage,
	.options = detach_options,
	.more = detach_more,
	.own = attach_option,
};

static void print_workers(struct rlb_group *g, const struct attach_args *a)
{
	struct rlb_member_info m;

	printf("group %s attached: %s port %u, policy %s, %u workers\n", rlb_group_name(g),
	       a->udp ? "udp" : "tcp", a->port, rlb_policy_name(rlb_group_policy(g)),
	       rlb_group_nr_workers(g));
	for (unsigned int i = 0; i < rlb_group_nr_workers(g); i++) {
		if (rlb_group_member(g, i, &m))
			continue;
		printf("slot %u pid %d comm %s fd %d cookie %llu\n", i, m.pid, m.comm, m.fd,
		       (unsigned long long)m.cookie);
	}
	fflush(stdout);
}

int cmd_attach(int argc, char **argv)
{
	struct rlb_adopt_opts o = {};
	struct attach_args a;
	struct rlb_group *g;
	int ret, err;

	memset(&a, 0, sizeof(a));
	a.policy = RLB_POLICY_ROUND_ROBIN;
	ret = cli_begin(&attach_command, argc, argv, &a.common, &a, attach_operands);
	if (ret >= 0)
		return ret;
	o.addr = a.has_addr ? a.addr.text : NULL;
	o.port = a.port;
	o.udp = a.udp;
	o.pids = a.nr_pids ? a.pids : NULL;
	o.nr_pids = a.nr_pids;
	o.policy = a.policy;
	o.name = a.name;
	o.replace = a.replace;
	err = rlb_group_adopt(&o, &g);
	if (err) {
		/* a pid that does not exist is a wrong command line: nothing was done */
		if (err == -ESRCH && a.nr_pids) {
			fprintf(stderr, "reuselb attach: %s\n", rlb_last_error());
			return CLI_EXIT_USAGE;
		}
		return cli_lib_error("attach", err);
	}
	print_workers(g, &a);
	if (!a.follow && a.policy == RLB_POLICY_QUEUE) {
		struct rlb_features f;

		/* the queue policy then runs on depths that only a process kept open can write */
		if (rlb_probe(&f) == 0 && !f.queue_kfuncs)
			fprintf(stderr,
				"reuselb attach: note: this kernel's program cannot read the accept "
				"queues itself, so queue steers on depths that 'attach --follow' "
				"writes: without it, queue turns like round-robin\n");
	}
	if (!a.follow) {
		rlb_group_release(g, false);
		return CLI_EXIT_OK;
	}
	return attach_follow(g, a.detach_on_exit);
}

static int detach_operands(void *args, struct cli_parser *p)
{
	struct attach_args *a = args;

	if (cli_operands_at_most(p, 0))
		return -EINVAL;
	if (a->has_addr && !p->given['p'])
		return cli_usage_error(p->cmd, "-a goes with -p PORT");
	return cli_target_finish(&a->common.target, p);
}

int cmd_detach(int argc, char **argv)
{
	struct cli_target *t;
	struct attach_args a;
	char dir[RLB_NAME_MAX + 64];
	struct rlb_ctl *ctl;
	bool stale = false;
	int ret, err;

	memset(&a, 0, sizeof(a));
	ret = cli_begin(&detach_command, argc, argv, &a.common, &a, detach_operands);
	if (ret >= 0)
		return ret;
	t = &a.common.target;
	snprintf(dir, sizeof(dir), "%s/%s", RLB_PIN_ROOT, t->group);
	/* pins nobody holds and no socket keeps: cleaned, whatever -a says */
	if (!(rlb_group_owner(t->group) == 0 && access(dir, F_OK) == 0) && !t->name) {
		ret = cli_target_open(t, "detach", &ctl);
		if (ret)
			return ret;
		rlb_ctl_close(ctl);
	}
	err = rlb_detach(t->group, a.has_addr ? a.addr.text : NULL, &stale);
	if (err == -ENOENT) {
		fprintf(stderr, "reuselb detach: %s; see 'reuselb list'\n", rlb_last_error());
		return CLI_EXIT_USAGE;
	}
	if (err)
		return cli_lib_error("detach", err);
	if (stale)
		printf("group %s: removed its stale pins (its sockets had all closed)\n", t->group);
	else
		printf("group %s detached: the kernel's hash picks the socket again\n", t->group);
	return CLI_EXIT_OK;
}
