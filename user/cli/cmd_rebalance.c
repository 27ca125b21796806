// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * reuselb rebalance: keep-alive connections stay where they were placed, so a worker that got
 * more of them (before a drain ended, after a restart, from a policy switch) keeps them. This
 * tells each live worker above the mean by more than the threshold to close its excess gently
 * (user/lib/shed.c); their clients reconnect and the policy places them anew.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "cli/cli.h"

#define CMD "rebalance"
#define THRESHOLD_DEFAULT 10
#define WINDOW_DEFAULT 10
#define WINDOW_MAX 3600

static const char usage[] =
	"Usage: reuselb rebalance {-p PORT | --name GROUP} [--threshold PCT] [--shed-window SECS]\n"
	"\n"
	"Even out the live workers' open connections (serve --mode http): each live worker with\n"
	"more than the mean by over PCT % closes the excess gently, the answer to the next\n"
	"request of each connection saying Connection: close, spread over --shed-window; the\n"
	"clients reconnect and the policy places them anew. Prints what each worker was told.\n";

static const char more[] =
	"\n"
	"Exit status:\n"
	"  0 done (also when nothing needed moving); 1 failure (not root, a BPF error); 2 usage\n"
	"  error, an unknown group included\n"
	"\n"
	"EXAMPLES:\n"
	"  reuselb undrain -p 8080 0                   # worker 0 is back, with no connections\n"
	"  reuselb rebalance -p 8080 --shed-window 30  # the others give it some, over 30 s\n";

static const struct cli_option options[] = {
	CLI_TARGET_OPTIONS,
	{ "threshold", CLI_OPT_THRESHOLD, "PCT",
	  "shed above the mean by more than this, 0 to 1000 (default " CLI_STR(
		  THRESHOLD_DEFAULT) ")" },
	{ "shed-window", CLI_OPT_SHED_WINDOW, "SECS",
	  "spread the closes over this long, 0 to " CLI_STR(WINDOW_MAX) " (default " CLI_STR(
		  WINDOW_DEFAULT) ")" },
	CLI_VERBOSE_HELP_OPTIONS,
	{},
};

struct rebalance_args {
	struct cli_common common;
	unsigned int threshold, window;
};

static int rebalance_option(void *args, const struct cli_parser *p, int opt, const char *val)
{
	struct rebalance_args *a = args;
	unsigned long n = 0;
	int err;

	switch (opt) {
	case CLI_OPT_THRESHOLD:
		err = cli_uint_option(p, opt, val, 0, 1000, " percent", &n);
		a->threshold = n;
		return err;
	case CLI_OPT_SHED_WINDOW:
		err = cli_uint_option(p, opt, val, 0, WINDOW_MAX, " seconds", &n);
		a->window = n;
		return err;
	}
	return 1;
}

static int rebalance_operands(void *args, struct cli_parser *p)
{
	struct rebalance_args *a = args;

	if (cli_operands_at_most(p, 0))
		return -EINVAL;
	return cli_target_finish(&a->common.target, p);
}

static const struct cli_command command = {
	.name = CMD,
	.usage = usage,
	.options = options,
	.more = more,
	.own = rebalance_option,
};

int cmd_rebalance(int argc, char **argv)
{
	unsigned int shed[RLB_MAX_WORKERS], told = 0;
	struct rebalance_args a;
	struct rlb_ctl *ctl;
	int ret, err;

	memset(&a, 0, sizeof(a));
	a.threshold = THRESHOLD_DEFAULT;
	a.window = WINDOW_DEFAULT;
	ret = cli_begin(&command, argc, argv, &a.common, &a, rebalance_operands);
	if (ret >= 0)
		return ret;
	ret = cli_target_open(&a.common.target, CMD, &ctl);
	if (ret)
		return ret;
	err = rlb_ctl_rebalance(ctl, a.threshold, a.window, shed);
	if (err) {
		ret = cli_lib_error(CMD, err);
	} else {
		for (unsigned int i = 0; i < RLB_MAX_WORKERS; i++) {
			if (!shed[i])
				continue;
			printf("group %s: worker %u closes %u keep-alive connections gently over "
			       "%u s\n",
			       a.common.target.group, i, shed[i], a.window);
			told++;
		}
		if (!told)
			printf("group %s: the live workers are within %u %% of their mean: nothing "
			       "to move\n",
			       a.common.target.group, a.threshold);
	}
	rlb_ctl_close(ctl);
	return ret;
}
