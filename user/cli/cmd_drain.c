// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * reuselb drain / undrain: a draining worker gets no new connections from the program but
 * keeps its socket, so it goes on serving what it has. The library refuses to drain the last
 * live worker (-EBUSY): the group would have nowhere to steer.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "cli/cli.h"

static const char drain_usage[] =
	"Usage: reuselb drain {-p PORT [--udp] | --name GROUP} [--shed [--shed-window SECS]] WORKER\n"
	"\n"
	"Drain a worker: the steering program gives it no new connections, while the\n"
	"connections it has stay open and are served (keep-alive included). 'reuselb stats'\n"
	"shows it as draining; 'reuselb undrain' brings it back. Draining the last live\n"
	"worker is refused. With --shed (serve --mode http), the worker also closes its\n"
	"keep-alive connections gently: the answer to the next request of each says\n"
	"Connection: close, a few at a time over --shed-window, and the clients reconnect to\n"
	"the other workers.\n"
	"\n"
	"  WORKER             the worker's id, 0 to the group's workers - 1\n";

static const char undrain_usage[] =
	"Usage: reuselb undrain {-p PORT [--udp] | --name GROUP} WORKER\n"
	"\n"
	"Bring a drained worker back: it takes new connections again.\n"
	"\n"
	"  WORKER             the worker's id, 0 to the group's workers - 1\n";

static const char more[] =
	"\n"
	"Exit status:\n"
	"  0 done; 1 failure (the last live worker, a closed worker, not root, a BPF error);\n"
	"  2 usage error, an unknown group or a worker out of range included (nothing was\n"
	"  changed)\n"
	"\n"
	"EXAMPLES:\n"
	"  reuselb drain -p 8080 2       # worker 2 finishes what it has, gets nothing new\n"
	"  reuselb stats -p 8080         # its active connections fall to 0\n"
	"  reuselb undrain -p 8080 2     # and it takes connections again\n";

static const struct cli_option options[] = {
	CLI_TARGET_OPTIONS,
	CLI_VERBOSE_HELP_OPTIONS,
	{},
};

#define SHED_WINDOW_DEFAULT 10
#define SHED_WINDOW_MAX 3600

static const struct cli_option drain_options[] = {
	CLI_TARGET_OPTIONS,
	{ "shed", CLI_OPT_SHED, NULL, "also close its keep-alive connections gently" },
	{ "shed-window", CLI_OPT_SHED_WINDOW, "SECS",
	  "with --shed: spread them over this long, 0 to " CLI_STR(
		  SHED_WINDOW_MAX) " (default " CLI_STR(SHED_WINDOW_DEFAULT) ")" },
	CLI_VERBOSE_HELP_OPTIONS,
	{},
};

static int drain_option(void *args, const struct cli_parser *p, int opt, const char *val);

static const struct cli_command drain_command = {
	.name = "drain",
	.usage = drain_usage,
	.options = drain_options,
	.more = more,
	.own = drain_option,
};

static const struct cli_command undrain_command = {
	.name = "undrain",
	.usage = undrain_usage,
	.options = options,
	.more = more,
};

struct drain_args {
	struct cli_common common;
	const char *cmd;
	unsigned int worker;
	bool shed;
	unsigned int shed_window;
};

static int drain_option(void *args, const struct cli_parser *p, int opt, const char *val)
{
	struct drain_args *a = args;
	unsigned long n = 0;
	int err;

	switch (opt) {
	case CLI_OPT_SHED:
		a->shed = true;
		return 0;
	case CLI_OPT_SHED_WINDOW:
		err = cli_uint_option(p, opt, val, 0, SHED_WINDOW_MAX, " seconds", &n);
		a->shed_window = n;
		return err;
	}
	return 1;
}

static int drain_operands(void *args, struct cli_parser *p)
{
	struct drain_args *a = args;

	if (p->next == p->argc)
		return cli_usage_error(a->cmd,
				       "missing the worker: give its id (see 'reuselb stats')");
	if (cli_operands_at_most(p, 1) || cli_parse_worker(a->cmd, p->argv[p->next], &a->worker))
		return -EINVAL;
	if (p->given[CLI_OPT_SHED_WINDOW] && !a->shed)
		return cli_usage_error(a->cmd, "--shed-window goes with --shed");
	return cli_target_finish(&a->common.target, p);
}

static int run(const struct cli_command *command, int argc, char **argv, bool draining)
{
	const char *cmd = command->name;
	struct rlb_group_stats st;
	struct drain_args a;
	struct rlb_ctl *ctl;
	int ret, err;

	memset(&a, 0, sizeof(a));
	a.cmd = cmd;
	a.shed_window = SHED_WINDOW_DEFAULT;
	ret = cli_begin(command, argc, argv, &a.common, &a, drain_operands);
	if (ret >= 0)
		return ret;
	ret = cli_target_open(&a.common.target, cmd, &ctl);
	if (ret)
		return ret;
	err = rlb_ctl_set_draining(ctl, a.worker, draining);
	if (!err && a.shed)
		err = rlb_ctl_shed(ctl, a.worker, RLB_SHED_ALL, a.shed_window);
	if (!err)
		err = rlb_ctl_read(ctl, &st);
	if (err)
		ret = cli_lib_error(cmd, err);
	else if (draining)
		printf("group %s: worker %u draining: it gets no new connections and keeps its "
		       "%llu open\n",
		       a.common.target.group, a.worker,
		       (unsigned long long)st.workers[a.worker].active);
	if (!err && a.shed)
		printf("group %s: worker %u closes them gently over %u s\n", a.common.target.group,
		       a.worker, a.shed_window);
	if (!err && !draining)
		printf("group %s: worker %u live: it takes new connections\n",
		       a.common.target.group, a.worker);
	rlb_ctl_close(ctl);
	return ret;
}

int cmd_drain(int argc, char **argv)
{
	return run(&drain_command, argc, argv, true);
}

int cmd_undrain(int argc, char **argv)
{
	return run(&undrain_command, argc, argv, false);
}
