// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* reuselb probe: what the running kernel offers reuselb, and what each feature is for. */
#include <stdio.h>
#include <string.h>
#include "cli/cli.h"

#define CMD "probe"

static const char usage[] =
	"Usage: reuselb probe [--json] [-v]\n"
	"\n"
	"Probe the running kernel for the BPF features reuselb uses, by loading tiny\n"
	"programs and maps (needs the same privileges as 'reuselb serve'). Each feature\n"
	"that is missing costs something (see the table), but 'serve' still runs.\n"
	"REUSELB_PROBE_DISABLE=migrate,mmapable,... pretends features are missing.\n"
	"\n";

static const char more[] =
	"\n"
	"Exit status:\n"
	"  0 probed (whatever is missing); 1 failure (not root); 2 usage error\n"
	"\n"
	"EXAMPLES:\n"
	"  reuselb probe\n"
	"  reuselb probe --json\n"
	"  REUSELB_PROBE_DISABLE=migrate reuselb probe   # what a 5.10 kernel would show\n";

/* no group: the table has no -p, --udp or --name, so the common target stays unused */
static const struct cli_option options[] = {
	{ "json", CLI_OPT_JSON, NULL,
	  "one JSON object: {\"sk_reuseport\":true,\"migrate\":true,\n"
	  "\"mmapable\":true,\"btf\":true,\"sockhash_select\":true}" },
	CLI_VERBOSE_HELP_OPTIONS,
	{},
};

static const struct cli_command command = {
	.name = CMD,
	.usage = usage,
	.options = options,
	.more = more,
};

int cmd_probe(int argc, char **argv)
{
	struct cli_common c = {};
	struct rlb_features f;
	char line[256], policies[256];
	int err;

	err = cli_begin(&command, argc, argv, &c, NULL, NULL);
	if (err >= 0)
		return err;
	err = rlb_probe(&f);
	if (err)
		return cli_lib_error(CMD, err);
	if (c.json) {
		printf("{\"sk_reuseport\":%s,\"migrate\":%s,\"mmapable\":%s,\"btf\":%s,"
		       "\"sockhash_select\":%s}\n",
		       f.sk_reuseport ? "true" : "false", f.migrate ? "true" : "false",
		       f.mmapable ? "true" : "false", f.btf ? "true" : "false",
		       f.sockhash_select ? "true" : "false");
		return CLI_EXIT_OK;
	}
	printf("%-16s %-4s %s\n", "feature", "have", "without it");
	printf("%-16s %-4s %s\n", "sk_reuseport", f.sk_reuseport ? "yes" : "no",
	       "no steering program: only --policy kernel runs");
	printf("%-16s %-4s %s\n", "migrate", f.migrate ? "yes" : "no",
	       "a closed listener's queued connections are reset, not moved (Linux 5.14)");
	printf("%-16s %-4s %s\n", "mmapable", f.mmapable ? "yes" : "no",
	       "workers report no load: no accepted/active figures (Linux 5.5)");
	printf("%-16s %-4s %s\n", "btf", f.btf ? "yes" : "no",
	       "informational: kernel BTF; reuselb's own program does not need it");
	printf("%-16s %-4s %s\n", "sockhash_select", f.sockhash_select ? "yes" : "no",
	       "not used by reuselb yet (Linux 5.8)");
	/* what each policy needs is the policy table's to say */
	if (rlb_policies_missing(&f, policies, sizeof(policies)))
		printf("policies this kernel cannot run: %s\n", policies);
	else
		printf("policies: all run on this kernel\n");
	printf("%s\n", rlb_features_line(&f, line, sizeof(line)));
	return CLI_EXIT_OK;
}
