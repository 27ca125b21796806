// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Parsers for option values: pure, so that tests/unit/args.c can hold them to exact results. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "cli/cli.h"

int cli_parse_uint(const char *s, unsigned long min, unsigned long max, unsigned long *out)
{
	unsigned long v;
	char *end;

	/* strtoul() would skip blanks and accept a sign: "-1" is ULONG_MAX to it */
	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

int cli_parse_port(const char *s, bool allow_zero, uint16_t *out)
{
	unsigned long v;
	int err;

	err = cli_parse_uint(s, allow_zero ? 0 : 1, 65535, &v);
	if (err)
		return err;
	*out = v;
	return 0;
}

int cli_parse_addr(const char *s, struct cli_addr *out)
{
	unsigned char buf[sizeof(struct in6_addr)];
	int family;

	if (!s)
		return -EINVAL;
	if (inet_pton(AF_INET, s, buf) == 1)
		family = AF_INET;
	else if (inet_pton(AF_INET6, s, buf) == 1)
		family = AF_INET6;
	else
		return -EINVAL;
	if (!inet_ntop(family, buf, out->text, sizeof(out->text)))
		return -EINVAL;
	out->family = family;
	return 0;
}

int cli_parse_mode(const char *s, enum server_mode *out)
{
	static const struct {
		const char *name;
		enum server_mode mode;
	} modes[] = {
	    {"http", SERVER_MODE_HTTP},
	    {"echo", SERVER_MODE_ECHO},
	    {"id", SERVER_MODE_ID},
	};

	for (size_t i = 0; s && i < sizeof(modes) / sizeof(modes[0]); i++) {
		if (strcmp(s, modes[i].name) == 0) {
			*out = modes[i].mode;
			return 0;
		}
	}
	return -EINVAL;
}
