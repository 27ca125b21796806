// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* reuselb: the subcommand table. A new subcommand is one line here and one cmd_<name>.c. */
#include <stdio.h>
#include <string.h>
#include "cli/cli.h"

static const struct cmd {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *help;
} cmds[] = {
	{ "serve", cmd_serve, "serve a BPF-steered SO_REUSEPORT group with worker threads" },
	{ "stats", cmd_stats, "show a live group's workers: steered, accepted, active, share" },
	{ "policy", cmd_policy, "switch a live group's policy, or load/unload one of your own" },
	{ "weight", cmd_weight, "set a worker's weight (0 to 1000) for the weighted policy" },
	{ "drain", cmd_drain, "give a worker no new connections; it keeps serving its own" },
	{ "undrain", cmd_undrain, "let a drained worker take new connections again" },
	{ "list", cmd_list, "list the groups serving on this host" },
	{ "probe", cmd_probe, "show the BPF features the running kernel offers" },
	{ "rebalance", cmd_rebalance,
	  "move keep-alive connections off the busiest workers, gently" },
	{ "rollout", cmd_rollout,
	  "show a canary beside the serving instance; set, promote, roll back" },
	{ "attach", cmd_attach, "steer the SO_REUSEPORT sockets of a running server (nginx, ...)" },
	{ "detach", cmd_detach, "give an attached server's sockets back to the kernel's hash" },
};

static const struct cmd *find_cmd(const char *name)
{
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		if (strcmp(name, cmds[i].name) == 0)
			return &cmds[i];
	}
	return NULL;
}

static void usage(FILE *f)
{
	fprintf(f, "Usage: reuselb COMMAND [OPTIONS]\n"
		   "       reuselb help [COMMAND]\n"
		   "       reuselb --version\n"
		   "\n"
		   "A SO_REUSEPORT load balancer: a BPF program picks the socket (the worker)\n"
		   "of each new connection.\n"
		   "\n"
		   "Commands:\n");
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		fprintf(f, "  %-10s %s\n", cmds[i].name, cmds[i].help);
	fprintf(f, "\n"
		   "stats, policy, weight, drain and undrain act on a live group, named by\n"
		   "-p PORT [--udp] (the group tcp-PORT or udp-PORT) or --name GROUP.\n"
		   "'reuselb COMMAND --help' explains a command's options.\n"
		   "\n"
		   "Exit status: 0 success, 1 failure, 2 usage error (a wrong command line,\n"
		   "an unknown group included: nothing was done).\n");
}

static int usage_error(const char *what, const char *arg)
{
	fprintf(stderr, "reuselb: %s '%s'; see 'reuselb --help'\n", what, arg);
	return CLI_EXIT_USAGE;
}

int main(int argc, char **argv)
{
	const struct cmd *cmd;
	const char *arg;

	if (argc < 2) {
		usage(stderr);
		return CLI_EXIT_USAGE;
	}
	arg = argv[1];
	if (strcmp(arg, "help") == 0 || strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
		if (argc > 3)
			return usage_error("unexpected argument", argv[3]);
		if (argc == 2) {
			usage(stdout);
			return CLI_EXIT_OK;
		}
		cmd = find_cmd(argv[2]);
		if (!cmd)
			return usage_error("unknown command", argv[2]);
		return cmd->run(2, (char *[]){ argv[2], "--help", NULL });
	}
	if (strcmp(arg, "--version") == 0) {
		if (argc > 2)
			return usage_error("unexpected argument", argv[2]);
		printf("reuselb %s\n", RLB_VERSION);
		return CLI_EXIT_OK;
	}
	cmd = find_cmd(arg);
	if (!cmd)
		return usage_error(arg[0] == '-' ? "unknown option" : "unknown command", arg);
	return cmd->run(argc - 1, argv + 1);
}
