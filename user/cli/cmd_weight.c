// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * reuselb weight: a worker's weight (0..1000) for the weighted policy. The library rebuilds
 * the weighted table in its inactive half and flips one index: the program never reads a
 * table half written.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "cli/cli.h"

#define CMD "weight"

static const char usage[] =
	"Usage: reuselb weight {-p PORT [--udp] | --name GROUP} WORKER WEIGHT\n"
	"\n"
	"Set a worker's weight, 0 to 1000 (default 100). Under the weighted policy each\n"
	"worker gets new connections in proportion to its weight; 0 gives it none (but,\n"
	"unlike drain, weights matter only to the weighted policy and to policies of your\n"
	"own that read them). 'reuselb stats' shows the weights.\n"
	"\n"
	"  WORKER             the worker's id, 0 to the group's workers - 1\n"
	"  WEIGHT             0 to 1000\n";

static const char more[] =
	"\n"
	"Exit status:\n"
	"  0 set; 1 failure (not root, a BPF error); 2 usage error, an unknown group or a\n"
	"  worker out of range included (nothing was changed)\n"
	"\n"
	"EXAMPLES:\n"
	"  reuselb policy -p 8080 weighted\n"
	"  reuselb weight -p 8080 0 300      # worker 0 gets three times ...\n"
	"  reuselb weight -p 8080 1 100      # ... what worker 1 gets\n";

static const struct cli_option options[] = {
	CLI_TARGET_OPTIONS,
	CLI_VERBOSE_HELP_OPTIONS,
	{},
};

struct weight_args {
	struct cli_common common;
	unsigned int worker, weight;
};

static int weight_operands(void *args, struct cli_parser *p)
{
	struct weight_args *a = args;
	int first = p->next, nr = p->argc - p->next;
	char show[CLI_SHOW_MAX + 4];
	unsigned long n;

	if (nr < 2)
		return cli_usage_error(CMD, "missing %s: give WORKER WEIGHT",
				       nr ? "the weight" : "the worker and the weight");
	if (cli_operands_at_most(p, 2) || cli_parse_worker(CMD, p->argv[first], &a->worker))
		return -EINVAL;
	if (cli_parse_uint(p->argv[first + 1], 0, RLB_WEIGHT_MAX, &n))
		return cli_usage_error(CMD, "bad weight '%s': give 0 to %d",
				       cli_show(p->argv[first + 1], show), RLB_WEIGHT_MAX);
	a->weight = n;
	return cli_target_finish(&a->common.target, p);
}

static const struct cli_command command = {
	.name = CMD,
	.usage = usage,
	.options = options,
	.more = more,
};

int cmd_weight(int argc, char **argv)
{
	struct rlb_group_stats st;
	struct weight_args a;
	struct rlb_ctl *ctl;
	unsigned int before = 0;
	int ret, err;

	memset(&a, 0, sizeof(a));
	ret = cli_begin(&command, argc, argv, &a.common, &a, weight_operands);
	if (ret >= 0)
		return ret;
	ret = cli_target_open(&a.common.target, CMD, &ctl);
	if (ret)
		return ret;
	err = rlb_ctl_read(ctl, &st);
	if (!err && a.worker < st.nr_workers)
		before = st.workers[a.worker].weight;
	if (!err)
		err = rlb_ctl_set_weight(ctl, a.worker, a.weight);
	if (err) {
		ret = cli_lib_error(CMD, err);
	} else {
		printf("group %s: worker %u weight %u (was %u)", a.common.target.group, a.worker,
		       a.weight, before);
		if (st.policy != RLB_POLICY_WEIGHTED)
			printf("; the group's policy is %s: weights count under weighted",
			       rlb_policy_name(st.policy));
		printf("\n");
	}
	rlb_ctl_close(ctl);
	return ret;
}
