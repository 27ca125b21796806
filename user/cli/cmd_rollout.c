// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * reuselb rollout: the generations of a group (the serving instance, and a canary or a
 * successor beside it), and the three moves of a rollout: set the canary's share, promote it,
 * roll it back. The library does each under the control lock (user/lib/rollout.c).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include "cli/cli.h"

#define CMD "rollout"

static const char usage[] =
	"Usage: reuselb rollout {-p PORT [--udp] | --name GROUP} [--json]\n"
	"       reuselb rollout {-p PORT [--udp] | --name GROUP} set PCT | promote | rollback\n"
	"\n"
	"Show the generations of a group: the instance serving it and a canary (reuselb serve\n"
	"--takeover --canary PCT) or a successor beside it, each with its pid, its share of new\n"
	"connections and flows, the connections steered to it, those open now, its errors\n"
	"(choices of its workers that could not take the connection) and its state: serving,\n"
	"canary or handing-over. The last line says how the last rollout ended.\n"
	"\n"
	"  set PCT     the canary gets PCT % (0 to 100) of new connections and flows, at once\n"
	"  promote     the canary gets them all; the old instance hands over to it as in a\n"
	"              takeover (its listeners close, their queues move, it finishes within its\n"
	"              --grace, HTTP keep-alive over its --shed-window, and exits)\n"
	"  rollback    the old instance gets them all; the canary hands over to it the same way\n"
	"\n"
	"Open connections and known UDP flows stay where they are, whatever the split.\n";

static const char more[] =
	"\n"
	"Exit status:\n"
	"  0 done; 1 failure (no canary, a canary that died, not root, a BPF error); 2 usage\n"
	"  error, an unknown group included (nothing was changed)\n"
	"\n"
	"EXAMPLES:\n"
	"  reuselb serve -p 8080 --takeover --canary 10 &   # new instance gets 10 %\n"
	"  reuselb rollout -p 8080                          # both generations\n"
	"  reuselb rollout -p 8080 set 50                   # half and half\n"
	"  reuselb rollout -p 8080 promote                  # or: rollback\n";

static const struct cli_option options[] = {
	CLI_TARGET_OPTIONS,
	{ "json", CLI_OPT_JSON, NULL, "one JSON object instead of the table" },
	CLI_VERBOSE_HELP_OPTIONS,
	{},
};

static const struct cli_command command = {
	.name = CMD,
	.usage = usage,
	.options = options,
	.more = more,
};

enum action { SHOW, SET, PROMOTE, ROLLBACK };

struct rollout_args {
	struct cli_common common;
	enum action action;
	unsigned int share;
};

static int rollout_operands(void *args, struct cli_parser *p)
{
	struct rollout_args *a = args;
	unsigned long n;
	const char *what;

	if (p->next < p->argc) {
		what = p->argv[p->next];
		if (strcmp(what, "set") == 0) {
			a->action = SET;
			if (p->next + 1 == p->argc)
				return cli_usage_error(CMD,
						       "set needs the canary's share: 0 to 100");
			if (cli_operands_at_most(p, 2))
				return -EINVAL;
			if (cli_parse_uint(p->argv[p->next + 1], 0, 100, &n))
				return cli_usage_error(CMD,
						       "bad share '%s': give 0 to 100 (percent)",
						       p->argv[p->next + 1]);
			a->share = n;
		} else if (strcmp(what, "promote") == 0 || strcmp(what, "rollback") == 0) {
			a->action = what[0] == 'p' ? PROMOTE : ROLLBACK;
			if (cli_operands_at_most(p, 1))
				return -EINVAL;
		} else {
			return cli_usage_error(CMD,
					       "unknown action '%s': give set PCT, promote or "
					       "rollback, or nothing to show the generations",
					       what);
		}
		if (a->common.json)
			return cli_usage_error(CMD, "--json goes with showing, not with %s", what);
	}
	return cli_target_finish(&a->common.target, p);
}

static void print_json(const char *group, const struct rlb_rollout_view *v)
{
	printf("{\"group\":");
	cli_json_string(stdout, group);
	printf(",\"generations\":[");
	for (unsigned int i = 0; i < v->nr; i++) {
		const struct rlb_rollout_gen *g = &v->gens[i];

		printf("%s{\"generation\":%u,\"pid\":%d,\"share\":%u,\"steered\":%" PRIu64
		       ",\"active\":%" PRIu64 ",\"state\":\"%s\"}",
		       i ? "," : "", g->generation, g->pid, g->share, g->steered, g->active,
		       g->state);
	}
	printf("]}\n");
}

static void print_table(const char *group, const struct rlb_rollout_view *v)
{
	printf("group %s\n", group);
	printf("%-10s %8s %6s %7s %12s %8s %8s  %s\n", "generation", "pid", "share", "workers",
	       "steered", "active", "errors", "state");
	for (unsigned int i = 0; i < v->nr; i++) {
		const struct rlb_rollout_gen *g = &v->gens[i];

		printf("%-10u %8d %5u%% %7u %12" PRIu64 " %8" PRIu64 " %8" PRIu64 "  %s\n",
		       g->generation, g->pid, g->share, g->nr_workers, g->steered, g->active,
		       g->errors, g->state);
	}
	if (v->event)
		printf("last rollout: %s (canary pid %d)\n", rlb_rollout_event_name(v->event),
		       v->event_pid);
}

int cmd_rollout(int argc, char **argv)
{
	struct rlb_rollout_view v;
	struct rollout_args a;
	struct rlb_ctl *ctl;
	int ret, err;

	memset(&a, 0, sizeof(a));
	ret = cli_begin(&command, argc, argv, &a.common, &a, rollout_operands);
	if (ret >= 0)
		return ret;
	ret = cli_target_open(&a.common.target, CMD, &ctl);
	if (ret)
		return ret;
	switch (a.action) {
	case SET:
		err = rlb_ctl_rollout_set(ctl, a.share);
		break;
	case PROMOTE:
		err = rlb_ctl_rollout_promote(ctl);
		break;
	case ROLLBACK:
		err = rlb_ctl_rollout_rollback(ctl);
		break;
	default:
		err = 0;
	}
	if (!err)
		err = rlb_ctl_rollout_read(ctl, &v);
	if (err) {
		ret = cli_lib_error(CMD, err);
	} else if (a.common.json) {
		print_json(a.common.target.group, &v);
	} else {
		if (a.action == SET)
			printf("group %s: the canary gets %u %% of new connections and flows\n",
			       a.common.target.group, a.share);
		else if (a.action == PROMOTE)
			printf("group %s: promoted the canary; the old instance hands over\n",
			       a.common.target.group);
		else if (a.action == ROLLBACK)
			printf("group %s: rolled back; the canary hands over and exits\n",
			       a.common.target.group);
		print_table(a.common.target.group, &v);
	}
	rlb_ctl_close(ctl);
	return ret;
}
