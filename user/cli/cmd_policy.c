// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * reuselb policy: switches the steering policy of a live group with one map update (the
 * program reads the old policy or the new one, never a mix: no connection is refused), or
 * installs and removes a policy of the user's own in front of the built-in one.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <bpf/libbpf.h>
#include "cli/cli.h"

#define CMD "policy"
#define POLICY_NAME_MAX 64

static const char usage[] =
	"Usage: reuselb policy {-p PORT [--udp] | --name GROUP} NAME\n"
	"       reuselb policy {-p PORT [--udp] | --name GROUP} load FILE.bpf.o\n"
	"       reuselb policy {-p PORT [--udp] | --name GROUP} unload\n"
	"\n"
	"Switch the steering policy of a live group, at once and atomically: connections in\n"
	"flight are not touched, new ones follow the new policy. 'load' installs a policy of\n"
	"your own (an object built against reuselb/policy.bpf.h, see examples/policies) in\n"
	"front of the built-in one; 'unload' removes it, and the built-in one steers again.\n"
	"'reuselb stats' shows the policy: NAME, or custom:NAME while one of yours is loaded.\n"
	"\n";

static const char more[] =
	"\n"
	"Exit status:\n"
	"  0 switched; 1 failure (not root, a BPF error); 2 usage error, an unknown group or\n"
	"  policy included, or an object the group cannot take: not a BPF object or truncated,\n"
	"  not exactly one sk_reuseport program, maps unlike the group's, or refused by the\n"
	"  verifier, whose log then follows the error line on stderr (nothing was changed)\n"
	"\n"
	"EXAMPLES:\n"
	"  reuselb policy -p 8080 least-conn        # the less loaded of two random workers\n"
	"  reuselb policy -p 5300 --udp source-ip   # one client, one worker\n"
	"  reuselb policy -p 8080 load fill_first.bpf.o\n"
	"  reuselb policy -p 8080 unload            # back to the built-in policy\n";

static const struct cli_option options[] = {
	CLI_TARGET_OPTIONS,
	{ "verbose", 'v', NULL, "show libbpf's own messages (load)" },
	{ "help", 'h', NULL, "show this help" },
	{},
};

enum action {
	ACTION_SET,
	ACTION_LOAD,
	ACTION_UNLOAD,
};

struct policy_args {
	struct cli_common common;
	enum action action;
	enum rlb_policy policy;
	const char *file;
};

static void print_policies(FILE *f)
{
	fprintf(f, "\nPolicies:\n");
	for (int p = 0; p < RLB_POLICY__COUNT; p++)
		fprintf(f, "  %-12s %s\n", rlb_policy_info(p)->name, rlb_policy_info(p)->help);
}

static int parse_operands(void *args, struct cli_parser *p)
{
	struct policy_args *a = args;
	char **ops = p->argv + p->next;
	int nr = p->argc - p->next, want;
	char show[CLI_SHOW_MAX + 4];
	struct stat st;

	if (nr == 0)
		return cli_usage_error(CMD,
				       "missing the policy: give a NAME (%s), load FILE or "
				       "unload",
				       rlb_policy_names());
	if (strcmp(ops[0], "load") == 0) {
		a->action = ACTION_LOAD;
		want = 2;
		if (nr < 2)
			return cli_usage_error(CMD,
					       "load needs the policy's object: load FILE.bpf.o");
		a->file = ops[1];
		if (!*a->file)
			return cli_usage_error(CMD, "load needs the policy's object, not an empty "
						    "name: load FILE.bpf.o");
		/* a file that is not there is a wrong command line: refuse it before the group */
		if (stat(a->file, &st))
			return cli_usage_error(CMD, "cannot load '%s': %s", cli_show(a->file, show),
					       strerror(errno));
		if (!S_ISREG(st.st_mode))
			return cli_usage_error(CMD, "cannot load '%s': not a regular file",
					       cli_show(a->file, show));
	} else if (strcmp(ops[0], "unload") == 0) {
		a->action = ACTION_UNLOAD;
		want = 1;
	} else {
		a->action = ACTION_SET;
		want = 1;
		if (rlb_policy_parse(ops[0], &a->policy))
			return cli_usage_error(CMD,
					       "unknown policy '%s': choose one of %s, or load "
					       "FILE, or unload",
					       cli_show(ops[0], show), rlb_policy_names());
	}
	if (cli_operands_at_most(p, want))
		return -EINVAL;
	return cli_target_finish(&a->common.target, p);
}

static const struct cli_command command = {
	.name = CMD,
	.usage = usage,
	.options = options,
	.more = more,
	.help_extra = print_policies,
};

/* The built-in policy, whatever custom policy runs in front of it. */
static const char *builtin_policy(const struct rlb_ctl *ctl)
{
	struct rlb_group_stats st;

	if (rlb_ctl_read(ctl, &st))
		return "?";
	return rlb_policy_name(st.policy);
}

static bool is_custom(const char *name)
{
	return strncmp(name, "custom:", 7) == 0;
}

static int set_policy(struct rlb_ctl *ctl, const struct policy_args *a)
{
	char before[POLICY_NAME_MAX] = "?", builtin[POLICY_NAME_MAX];
	int err;

	rlb_ctl_policy_name(ctl, before, sizeof(before));
	snprintf(builtin, sizeof(builtin), "%s", builtin_policy(ctl));
	err = rlb_ctl_set_policy(ctl, a->policy);
	if (err)
		return cli_lib_error(CMD, err);
	if (is_custom(before))
		printf("group %s: built-in policy %s (was %s); %s still steers in front of it "
		       "('reuselb policy ... unload' removes it)\n",
		       a->common.target.group, rlb_policy_name(a->policy), builtin, before);
	else
		printf("group %s: policy %s (was %s)\n", a->common.target.group,
		       rlb_policy_name(a->policy), before);
	return CLI_EXIT_OK;
}

/*
 * One rule for an object the group cannot take, whoever finds the fault: it is bad input, as
 * a wrong command line is (exit 2, nothing changed). libbpf's checks of the file (not an ELF
 * object, truncated: libbpf's own codes from LIBBPF_ERRNO__LIBELF, or -EINVAL), ours (not
 * exactly one sk_reuseport program, maps unlike the group's: -EINVAL) and the verifier's (it
 * leaves its log). What stays 1 is what the object cannot help: privileges, BPF failures.
 */
static bool object_refused(int err, const char *log)
{
	return log[0] || err == -EINVAL || err == -ENOEXEC || err <= -LIBBPF_ERRNO__LIBELF;
}

static int load_policy(struct rlb_ctl *ctl, const struct policy_args *a)
{
	char now[POLICY_NAME_MAX] = "?";
	const char *log;
	int err;

	err = rlb_ctl_load_policy(ctl, a->file);
	if (err) {
		log = rlb_verifier_log();
		fprintf(stderr, "reuselb " CMD ": %s\n", rlb_last_error());
		if (log[0]) {
			fputs(log, stderr);
			if (log[strlen(log) - 1] != '\n')
				fputc('\n', stderr);
		}
		return object_refused(err, log) ? CLI_EXIT_USAGE : CLI_EXIT_FAILURE;
	}
	if (rlb_policy_notice()[0])
		fprintf(stderr, "reuselb " CMD ": note: %s\n", rlb_policy_notice());
	rlb_ctl_policy_name(ctl, now, sizeof(now));
	printf("group %s: policy %s, in front of the built-in %s\n", a->common.target.group, now,
	       builtin_policy(ctl));
	return CLI_EXIT_OK;
}

static int unload_policy(struct rlb_ctl *ctl, const struct policy_args *a)
{
	char before[POLICY_NAME_MAX] = "?", now[POLICY_NAME_MAX] = "?";
	int err;

	rlb_ctl_policy_name(ctl, before, sizeof(before));
	err = rlb_ctl_unload_policy(ctl);
	if (err)
		return cli_lib_error(CMD, err);
	rlb_ctl_policy_name(ctl, now, sizeof(now));
	if (is_custom(before))
		printf("group %s: removed %s; policy %s steers again\n", a->common.target.group,
		       before, now);
	else
		printf("group %s: no policy of your own was loaded; policy %s steers\n",
		       a->common.target.group, now);
	return CLI_EXIT_OK;
}

int cmd_policy(int argc, char **argv)
{
	struct policy_args a;
	struct rlb_ctl *ctl;
	int ret;

	memset(&a, 0, sizeof(a));
	ret = cli_begin(&command, argc, argv, &a.common, &a, parse_operands);
	if (ret >= 0)
		return ret;
	ret = cli_target_open(&a.common.target, CMD, &ctl);
	if (ret)
		return ret;
	switch (a.action) {
	case ACTION_SET:
		ret = set_policy(ctl, &a);
		break;
	case ACTION_LOAD:
		ret = load_policy(ctl, &a);
		break;
	case ACTION_UNLOAD:
		ret = unload_policy(ctl, &a);
		break;
	}
	rlb_ctl_close(ctl);
	return ret;
}
