// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * reuselb drain / undrain: a draining worker gets no new connections from the program but
 * keeps its socket, so it goes on serving what it has. The library refuses to drain the last
 * live worker (-EBUSY): the group would have nowhere to steer.
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include "cli/cli.h"

static const char drain_usage[] =
	"Usage: reuselb drain {-p PORT [--udp] | --name GROUP} WORKER\n"
	"\n"
	"Drain a worker: the steering program gives it no new connections, while the\n"
	"connections it has stay open and are served (keep-alive included). 'reuselb stats'\n"
	"shows it as draining; 'reuselb undrain' brings it back. Draining the last live\n"
	"worker is refused.\n"
	"\n";

static const char undrain_usage[] =
	"Usage: reuselb undrain {-p PORT [--udp] | --name GROUP} WORKER\n"
	"\n"
	"Bring a drained worker back: it takes new connections again.\n"
	"\n";

static const char common_usage[] =
	"  WORKER             the worker's id, 0 to the group's workers - 1\n" CLI_TARGET_USAGE
	"  -v, --verbose      show libbpf's own messages\n"
	"  -h, --help         show this help\n"
	"\n"
	"Options are given once each; a repeated option is a usage error.\n"
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

static const struct option options[] = {
	CLI_TARGET_OPTIONS,
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{},
};

struct drain_args {
	struct cli_target target;
	unsigned int worker;
	bool verbose, help;
};

static int parse_args(const char *cmd, int argc, char **argv, struct drain_args *a)
{
	char show[CLI_SHOW_MAX + 4];
	struct cli_parser p;
	const char *val;
	unsigned long n;
	int opt, err, nr;

	memset(a, 0, sizeof(*a));
	cli_parser_init(&p, cmd, argc, argv, options, ":p:vh");
	while (!(err = cli_next_option(&p, &opt, &val))) {
		err = cli_target_option(&a->target, &p, opt, val);
		if (err < 0)
			return err;
		if (err == 0)
			continue;
		if (opt == 'v')
			a->verbose = true;
		if (opt == 'h') {
			a->help = true;
			return 0;
		}
	}
	if (err < 0)
		return err;
	nr = argc - p.next;
	if (nr < 1)
		return cli_usage_error(cmd,
				       "missing the worker: give its id (see 'reuselb stats')");
	if (nr > 1)
		return cli_usage_error(cmd, "unexpected argument '%s'",
				       cli_show(argv[p.next + 1], show));
	/* the group's own range is checked by the library, which knows how many workers it has */
	if (cli_parse_uint(argv[p.next], 0, UINT_MAX, &n))
		return cli_usage_error(cmd,
				       "bad worker '%s': give a worker id, 0 or more (see "
				       "'reuselb stats')",
				       cli_show(argv[p.next], show));
	a->worker = n;
	return cli_target_finish(&a->target, &p);
}

static int run(const char *cmd, int argc, char **argv, bool draining)
{
	struct rlb_group_stats st;
	struct drain_args a;
	struct rlb_ctl *ctl;
	int ret, err;

	if (parse_args(cmd, argc, argv, &a))
		return CLI_EXIT_USAGE;
	if (a.help) {
		fputs(draining ? drain_usage : undrain_usage, stdout);
		fputs(common_usage, stdout);
		return CLI_EXIT_OK;
	}
	cli_libbpf_verbose(a.verbose);
	ret = cli_target_open(&a.target, cmd, &ctl);
	if (ret)
		return ret;
	err = rlb_ctl_set_draining(ctl, a.worker, draining);
	if (!err)
		err = rlb_ctl_read(ctl, &st);
	if (err)
		ret = cli_lib_error(cmd, err);
	else if (draining)
		printf("group %s: worker %u draining: it gets no new connections and keeps its "
		       "%llu open\n",
		       a.target.group, a.worker, (unsigned long long)st.workers[a.worker].active);
	else
		printf("group %s: worker %u live: it takes new connections\n", a.target.group,
		       a.worker);
	rlb_ctl_close(ctl);
	return ret;
}

int cmd_drain(int argc, char **argv)
{
	return run("drain", argc, argv, true);
}

int cmd_undrain(int argc, char **argv)
{
	return run("undrain", argc, argv, false);
}
