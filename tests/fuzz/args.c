// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * libFuzzer harness for the option parsers, policy names and the text helpers of messages:
 * any string is either accepted with an in-range result or refused with -EINVAL, escaped or
 * shortened within its buffer, and never read past its end.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "cli/cli.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	char *s = malloc(size + 1), json[64], shown[CLI_SHOW_MAX + 4];
	enum server_mode mode;
	struct cli_addr addr;
	enum rlb_policy policy;
	unsigned long n;
	size_t len;
	uint16_t port;

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (cli_parse_uint(s, 1, 1000, &n) == 0 && (n < 1 || n > 1000))
		abort();
	if (cli_parse_port(s, false, &port) == 0 && port == 0)
		abort();
	if (cli_parse_addr(s, &addr) == 0 && addr.family != AF_INET && addr.family != AF_INET6)
		abort();
	if (cli_parse_mode(s, &mode) == 0 && strcmp(s, "http") && strcmp(s, "echo") &&
	    strcmp(s, "id"))
		abort();
	if (rlb_policy_parse(s, &policy) == 0 && strcmp(rlb_policy_name(policy), s))
		abort();
	len = strlen(s);
	if (cli_parse_group_name(s) == 0 && (len == 0 || len > RLB_NAME_MAX || s[0] == '.'))
		abort();
	if (cli_json_escape(s, json, sizeof(json)) < len || strlen(json) >= sizeof(json))
		abort();
	if (strlen(cli_show(s, shown)) > CLI_SHOW_MAX + 3)
		abort();
	free(s);
	return 0;
}
