// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * reuselb list: the groups served on this host now, found by their pins and told from stale
 * pins by the owner's flock.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "cli/cli.h"

#define CMD "list"
/* Groups shown; more are counted but not listed. */
#define LIST_MAX 256
#define POLICY_NAME_MAX 64

static const char usage[] =
	"Usage: reuselb list [--json] [-p PORT [--udp] | --name GROUP]\n"
	"\n"
	"List the reuselb groups serving on this host: name, owner's pid, workers (live and\n"
	"draining), policy. Pins left by a server that died are not listed (the next\n"
	"'reuselb serve' on that name removes them).\n"
	"\n";

static const char more[] =
	"\n"
	"Exit status:\n"
	"  0 listed (no group at all is not an error); 1 failure (not root); 2 usage error,\n"
	"  a -p or --name with no such group included\n"
	"\n"
	"EXAMPLES:\n"
	"  reuselb list\n"
	"  reuselb list --json\n"
	"  reuselb list -p 8080      # exit 0 if the TCP group on 8080 is up, else 2\n";

static const struct cli_option options[] = {
	{ "json", CLI_OPT_JSON, NULL,
	  "one JSON object: {\"groups\":[{\"name\":\"tcp-8080\",\"pid\":N,\n"
	  "\"workers\":N,\"live\":N,\"draining\":N,\"policy\":\"NAME\"}, ...]}" },
	{ "port", 'p', "PORT", "only the group on this port (an error if there is none)" },
	{ "udp", CLI_OPT_UDP, NULL, "with -p: the UDP group on that port (default TCP)" },
	{ "name", CLI_OPT_NAME, "GROUP",
	  "only the group of that name (an error if there is none)" },
	CLI_VERBOSE_HELP_OPTIONS,
	{},
};

struct list_args {
	struct cli_common common;
	bool filter; /* -p or --name: that group only */
};

struct group_row {
	char name[RLB_NAME_MAX + 1];
	int pid;
	unsigned int workers, live, draining;
	char policy[POLICY_NAME_MAX];
	bool adopted;	/* reuselb attach: the sockets are other processes' */
	char pids[256]; /* adopted: the pids serving its workers, "1,2,3" */
};

static int list_operands(void *args, struct cli_parser *p)
{
	struct list_args *a = args;

	if (cli_operands_at_most(p, 0))
		return -EINVAL;
	a->filter = p->given['p'] || p->given[CLI_OPT_NAME];
	if (!a->filter && p->given[CLI_OPT_UDP])
		return cli_usage_error(CMD, "--udp goes with -p PORT");
	return a->filter ? cli_target_finish(&a->common.target, p) : 0;
}

static const struct cli_command command = {
	.name = CMD,
	.usage = usage,
	.options = options,
	.more = more,
};

/* The pids of an adopted group's live members, "1,2,3". */
static void list_pids(const struct rlb_group_stats *st, char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = 0;
	for (unsigned int i = 0; i < st->nr_workers && off < len; i++)
		if (st->workers[i].pid)
			off += snprintf(buf + off, len - off, "%s%d", off ? "," : "",
					st->workers[i].pid);
}

/* Reads a group's figures; false when it stopped meanwhile (then it is left out). */
static bool read_row(struct group_row *r)
{
	struct rlb_group_stats st;
	struct rlb_ctl *ctl;
	bool ok;

	if (rlb_ctl_open(r->name, &ctl))
		return false;
	ok = !rlb_ctl_read(ctl, &st) && !rlb_ctl_policy_name(ctl, r->policy, sizeof(r->policy));
	rlb_ctl_close(ctl);
	if (!ok)
		return false;
	r->workers = st.nr_workers;
	r->adopted = st.adopted;
	if (st.adopted)
		list_pids(&st, r->pids, sizeof(r->pids));
	for (unsigned int i = 0; i < st.nr_workers; i++) {
		r->live += st.workers[i].state == RLB_WORKER_LIVE;
		r->draining += st.workers[i].state == RLB_WORKER_DRAINING;
	}
	return true;
}

/*
 * Pins whose sockets are all gone: ',"stale":[...]' or one line each. None under a filter: the
 * group asked for is live, and the others' stale pins are not what was asked.
 */
static void print_stale(bool json, bool filter)
{
	static char names[LIST_MAX][RLB_NAME_MAX + 1];
	int n = filter ? 0 : rlb_list_stale(names, LIST_MAX);

	if (json)
		printf(",\"stale\":[");
	for (int i = 0; i < n && i < LIST_MAX; i++) {
		if (json) {
			printf("%s", i ? "," : "");
			cli_json_string(stdout, names[i]);
		} else {
			printf("stale pins: %s (no socket left; 'reuselb detach --name %s' removes "
			       "them)\n",
			       names[i], names[i]);
		}
	}
	if (json)
		printf("]");
}

static void print_rows(const struct list_args *a, const struct group_row *rows, int n)
{
	if (a->common.json) {
		printf("{\"groups\":[");
		for (int i = 0; i < n; i++) {
			printf("%s{\"name\":", i ? "," : "");
			cli_json_string(stdout, rows[i].name);
			printf(",\"pid\":%d,\"workers\":%u,\"live\":%u,\"draining\":%u,\"policy\":",
			       rows[i].pid, rows[i].workers, rows[i].live, rows[i].draining);
			cli_json_string(stdout, rows[i].policy);
			if (rows[i].adopted)
				printf(",\"adopted\":true,\"pids\":[%s]", rows[i].pids);
			printf("}");
		}
		printf("]");
		print_stale(true, a->filter);
		printf("}\n");
		return;
	}
	if (n == 0) {
		printf("no reuselb group is serving on this host\n");
		print_stale(false, a->filter);
		return;
	}
	printf("%-20s  %8s  %7s  %4s  %8s  %s\n", "group", "pid", "workers", "live", "draining",
	       "policy");
	for (int i = 0; i < n; i++) {
		char pid[16];

		/* an attached group with no attach --follow running has no owner: say adopted */
		if (rows[i].adopted && rows[i].pid <= 0)
			snprintf(pid, sizeof(pid), "adopted");
		else
			snprintf(pid, sizeof(pid), "%d", rows[i].pid);
		printf("%-20s  %8s  %7u  %4u  %8u  %s", rows[i].name, pid, rows[i].workers,
		       rows[i].live, rows[i].draining, rows[i].policy);
		if (rows[i].adopted)
			printf("  adopted, pids %s", rows[i].pids);
		printf("\n");
	}
	print_stale(false, a->filter);
}

int cmd_list(int argc, char **argv)
{
	static char names[LIST_MAX][RLB_NAME_MAX + 1];
	static struct group_row rows[LIST_MAX];
	static int pids[LIST_MAX];
	struct list_args a;
	struct rlb_ctl *ctl;
	int n, nr_rows = 0, ret;

	memset(&a, 0, sizeof(a));
	ret = cli_begin(&command, argc, argv, &a.common, &a, list_operands);
	if (ret >= 0)
		return ret;
	if (a.filter) {
		/* the same answer as every other command for a group that is not there */
		ret = cli_target_open(&a.common.target, CMD, &ctl);
		if (ret)
			return ret;
		rlb_ctl_close(ctl);
	}
	/* rlb_list_groups() sees nothing in a directory it cannot read: say why instead */
	if (access(RLB_PIN_ROOT, R_OK | X_OK) && errno == EACCES) {
		fprintf(stderr,
			"reuselb " CMD ": cannot read %s: %s: run as root, or grant CAP_BPF "
			"and CAP_NET_ADMIN\n",
			RLB_PIN_ROOT, strerror(EACCES));
		return CLI_EXIT_FAILURE;
	}
	n = rlb_list_groups(names, pids, LIST_MAX);
	for (int i = 0; i < n && i < LIST_MAX; i++) {
		struct group_row *r = &rows[nr_rows];

		if (a.filter && strcmp(names[i], a.common.target.group))
			continue;
		memset(r, 0, sizeof(*r));
		memcpy(r->name, names[i], sizeof(r->name));
		r->pid = pids[i];
		nr_rows += read_row(r);
	}
	print_rows(&a, rows, nr_rows);
	if (n > LIST_MAX)
		fprintf(stderr, "reuselb " CMD ": %d more groups not shown\n", n - LIST_MAX);
	return CLI_EXIT_OK;
}
