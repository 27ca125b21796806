// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The option value parsers of the CLI (user/cli/args.c), held to exact results.
 *
 * 1. cli_parse_uint: digits only, within min..max; no sign, blank, base prefix, trailing
 *    character or overflow.
 * 2. cli_parse_port: 1..65535, and 0 only where allowed.
 * 3. cli_parse_addr: numeric IPv4 and IPv6 only, written back in canonical form.
 * 4. cli_parse_mode: the three mode names, exactly.
 * On failure every parser returns -EINVAL and leaves its output untouched.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "cli/cli.h"
#include "rlbtest.h"

/* What each output holds before the call: a failing parser must leave it so. */
#define UNTOUCHED 4242

static const char *show(const char *s)
{
	return s ? s : "(null)";
}

static const struct {
	const char *in;
	unsigned long min, max;
	int err;
	unsigned long want;
} uint_cases[] = {
	{ "0", 0, 10, 0, 0 },
	{ "10", 0, 10, 0, 10 },
	{ "7", 7, 7, 0, 7 },
	{ "007", 0, 10, 0, 7 },
	{ "11", 0, 10, -EINVAL, 0 },
	{ "4", 5, 10, -EINVAL, 0 },
	{ "0", 1, 10, -EINVAL, 0 },
	{ "", 0, 10, -EINVAL, 0 },
	{ NULL, 0, 10, -EINVAL, 0 },
	{ "-1", 0, ULONG_MAX, -EINVAL, 0 },
	{ "-0", 0, 10, -EINVAL, 0 },
	{ "+1", 0, 10, -EINVAL, 0 },
	{ " 1", 0, 10, -EINVAL, 0 },
	{ "1 ", 0, 10, -EINVAL, 0 },
	{ "1x", 0, 10, -EINVAL, 0 },
	{ "0x10", 0, 100, -EINVAL, 0 },
	{ "1.5", 0, 10, -EINVAL, 0 },
	{ "1e3", 0, 10000, -EINVAL, 0 },
	{ "18446744073709551615", 0, ULONG_MAX, 0, ULONG_MAX },
	{ "18446744073709551616", 0, ULONG_MAX, -EINVAL, 0 },
	{ "99999999999999999999999999", 0, ULONG_MAX, -EINVAL, 0 },
};

static const struct {
	const char *in;
	bool allow_zero;
	int err;
	uint16_t want;
} port_cases[] = {
	{ "1", false, 0, 1 },	       { "8080", false, 0, 8080 },  { "65535", false, 0, 65535 },
	{ "0", true, 0, 0 },	       { "0", false, -EINVAL, 0 },  { "65536", true, -EINVAL, 0 },
	{ "70000", true, -EINVAL, 0 }, { "-1", true, -EINVAL, 0 },  { "", true, -EINVAL, 0 },
	{ "http", true, -EINVAL, 0 },  { "80 ", true, -EINVAL, 0 },
};

static const struct {
	const char *in;
	int err;
	int family;
	const char *want;
} addr_cases[] = {
	{ "0.0.0.0", 0, AF_INET, "0.0.0.0" },
	{ "127.0.0.1", 0, AF_INET, "127.0.0.1" },
	{ "255.255.255.255", 0, AF_INET, "255.255.255.255" },
	{ "::", 0, AF_INET6, "::" },
	{ "::0", 0, AF_INET6, "::" },
	{ "::1", 0, AF_INET6, "::1" },
	{ "0:0:0:0:0:0:0:1", 0, AF_INET6, "::1" },
	{ "FE80::A", 0, AF_INET6, "fe80::a" },
	{ "::ffff:10.0.0.1", 0, AF_INET6, "::ffff:10.0.0.1" },
	{ "", -EINVAL, 0, NULL },
	{ NULL, -EINVAL, 0, NULL },
	{ "1.2.3", -EINVAL, 0, NULL },
	{ "256.0.0.1", -EINVAL, 0, NULL },
	{ "1.2.3.4 ", -EINVAL, 0, NULL },
	{ "localhost", -EINVAL, 0, NULL },
	{ "[::1]", -EINVAL, 0, NULL },
	{ "fe80::1%lo", -EINVAL, 0, NULL },
	{ "1::2::3", -EINVAL, 0, NULL },
};

static const struct {
	const char *in;
	int err;
	enum server_mode want;
} mode_cases[] = {
	{ "http", 0, SERVER_MODE_HTTP },
	{ "echo", 0, SERVER_MODE_ECHO },
	{ "id", 0, SERVER_MODE_ID },
	{ "HTTP", -EINVAL, 0 },
	{ "ids", -EINVAL, 0 },
	{ "", -EINVAL, 0 },
	{ NULL, -EINVAL, 0 },
};

static void test_uint(void)
{
	rlbt_for_each_case(i, uint_cases) {
		const char *in = uint_cases[i].in;
		unsigned long out = UNTOUCHED;
		int err;

		err = cli_parse_uint(in, uint_cases[i].min, uint_cases[i].max, &out);
		if (!CHECK(err == uint_cases[i].err,
			   "cli_parse_uint(\"%s\", %lu, %lu): %d, want %d", show(in),
			   uint_cases[i].min, uint_cases[i].max, err, uint_cases[i].err))
			continue;
		if (err)
			CHECK(out == UNTOUCHED, "cli_parse_uint(\"%s\"): wrote %lu on failure",
			      show(in), out);
		else
			CHECK(out == uint_cases[i].want, "cli_parse_uint(\"%s\"): %lu, want %lu",
			      show(in), out, uint_cases[i].want);
	}
}

static void test_port(void)
{
	rlbt_for_each_case(i, port_cases) {
		const char *in = port_cases[i].in;
		uint16_t out = UNTOUCHED;
		int err;

		err = cli_parse_port(in, port_cases[i].allow_zero, &out);
		if (!CHECK(err == port_cases[i].err, "cli_parse_port(\"%s\", %d): %d, want %d",
			   show(in), port_cases[i].allow_zero, err, port_cases[i].err))
			continue;
		if (err)
			CHECK(out == UNTOUCHED, "cli_parse_port(\"%s\"): wrote %u on failure",
			      show(in), out);
		else
			CHECK(out == port_cases[i].want, "cli_parse_port(\"%s\"): %u, want %u",
			      show(in), out, port_cases[i].want);
	}
}

static void test_addr(void)
{
	rlbt_for_each_case(i, addr_cases) {
		const char *in = addr_cases[i].in;
		struct cli_addr out = { .family = UNTOUCHED };
		int err;

		err = cli_parse_addr(in, &out);
		if (!CHECK(err == addr_cases[i].err, "cli_parse_addr(\"%s\"): %d, want %d",
			   show(in), err, addr_cases[i].err))
			continue;
		if (err)
			CHECK(out.family == UNTOUCHED,
			      "cli_parse_addr(\"%s\"): wrote family %d on failure", show(in),
			      out.family);
		else
			CHECK(out.family == addr_cases[i].family &&
				      !strcmp(out.text, addr_cases[i].want),
			      "cli_parse_addr(\"%s\"): family %d \"%s\", want %d \"%s\"", show(in),
			      out.family, out.text, addr_cases[i].family, addr_cases[i].want);
	}
}

static void test_mode(void)
{
	rlbt_for_each_case(i, mode_cases) {
		const char *in = mode_cases[i].in;
		enum server_mode out = UNTOUCHED;
		int err;

		err = cli_parse_mode(in, &out);
		if (!CHECK(err == mode_cases[i].err, "cli_parse_mode(\"%s\"): %d, want %d",
			   show(in), err, mode_cases[i].err))
			continue;
		if (err)
			CHECK(out == UNTOUCHED, "cli_parse_mode(\"%s\"): wrote %d on failure",
			      show(in), out);
		else
			CHECK(out == mode_cases[i].want, "cli_parse_mode(\"%s\"): %d, want %d",
			      show(in), out, mode_cases[i].want);
	}
}

int main(void)
{
	test_uint();
	test_port();
	test_addr();
	test_mode();
	return rlbt_finish();
}
