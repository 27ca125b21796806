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
		{ "http", SERVER_MODE_HTTP },
		{ "echo", SERVER_MODE_ECHO },
		{ "id", SERVER_MODE_ID },
	};

	for (size_t i = 0; s && i < sizeof(modes) / sizeof(modes[0]); i++) {
		if (strcmp(s, modes[i].name) == 0) {
			*out = modes[i].mode;
			return 0;
		}
	}
	return -EINVAL;
}

int cli_parse_group_name(const char *s)
{
	return rlb_name_valid(s) ? 0 : -EINVAL;
}

size_t cli_json_escape(const char *s, char *buf, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t need = 0, put = 0;
	bool room = len > 0;

	for (; *s; s++) {
		unsigned char c = *s;
		char esc[6];
		size_t n;

		if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = c;
			n = 2;
		} else if (c < 0x20 || c == 0x7f) {
			/* \u00XX for every control character: one rule, valid everywhere */
			memcpy(esc, "\\u00", 4);
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
			n = 6;
		} else {
			esc[0] = c;
			n = 1;
		}
		/* an escape that does not fit whole is left out, and so is all that follows */
		if (room && put + n < len) {
			memcpy(buf + put, esc, n);
			put += n;
		} else {
			room = false;
		}
		need += n;
	}
	if (len)
		buf[put] = '\0';
	return need;
}

const char *cli_show(const char *s, char *buf)
{
	size_t n = 0;

	if (!s)
		s = "";
	for (; s[n] && n < CLI_SHOW_MAX; n++)
		buf[n] = (unsigned char)s[n] < 0x20 || s[n] == 0x7f ? '?' : s[n];
	if (s[n]) {
		memcpy(buf + n, "...", 3);
		n += 3;
	}
	buf[n] = '\0';
	return buf;
}
