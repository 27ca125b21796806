// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The group commands' command lines, without a group and without privileges.
 *
 * 1. cli_parse_group_name: the pins' rules for a name, exactly.
 * 2. cli_json_escape: quotes, backslashes and control characters escaped; a short buffer
 *    holds a prefix of whole escapes and the return value says how much the whole needs.
 * 3. cli_show: long values cut to CLI_SHOW_MAX characters and "...", control characters '?'.
 * 4. cli_target_*: -p and --name give the pins' name (tcp-PORT, udp-PORT, GROUP).
 * 5. Every bad command line of stats, policy, weight, drain, undrain, list and probe: exit 2,
 *    nothing on stdout, exactly one line on stderr that starts with "reuselb CMD: " and
 *    (where the case says) names the bad value. These fail before any group is opened, so
 *    the test needs neither root nor a server.
 *    serve's bad command lines too, on the same parser.
 * 6. --help of each command (serve's too): exit 0, USAGE and EXAMPLES on stdout, nothing on
 *    stderr, -h and -v explained, no line wider than 90 columns; every option named.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "rlbtest.h"

#define MAX_ARGS 16

static const struct {
	const char *in;
	int err;
} name_cases[] = {
	{ "tcp-8080", 0 },
	{ "udp-53", 0 },
	{ "web_1.v2", 0 },
	{ "A", 0 },
	{ "1234567890123456789012345678901234567890123456789012345678901234", 0 },
	{ "12345678901234567890123456789012345678901234567890123456789012345", -EINVAL },
	{ "", -EINVAL },
	{ NULL, -EINVAL },
	{ ".hidden", -EINVAL },
	{ "..", -EINVAL },
	{ "a/b", -EINVAL },
	{ "../etc", -EINVAL },
	{ "a b", -EINVAL },
	{ "a\nb", -EINVAL },
	{ "caf\xc3\xa9", -EINVAL },
};

static void test_group_names(void)
{
	char buf[RLB_NAME_MAX + 1];

	/* the library's rules, which the CLI and the server call */
	rlbt_cases += 4;
	rlb_default_name(false, 8080, buf, sizeof(buf));
	CHECK(!strcmp(buf, "tcp-8080"), "default name %s", buf);
	rlb_default_name(true, 53, buf, sizeof(buf));
	CHECK(!strcmp(buf, "udp-53"), "default name %s", buf);
	CHECK(rlb_group_owner("../etc") == 0, "owner of a bad name");
	CHECK(rlb_group_owner("rlb-unit-no-such-group") == 0, "owner of no group");
	rlbt_for_each_case(i, name_cases) {
		int err = cli_parse_group_name(name_cases[i].in);

		CHECK(err == name_cases[i].err, "cli_parse_group_name(\"%s\") = %d, want %d",
		      name_cases[i].in ? name_cases[i].in : "(null)", err, name_cases[i].err);
	}
}

static const struct {
	const char *in;
	size_t len;
	const char *want;
	size_t need;
} json_cases[] = {
	{ "tcp-8080", 64, "tcp-8080", 8 },
	{ "custom:fill_first", 64, "custom:fill_first", 17 },
	{ "a\"b", 64, "a\\\"b", 4 },
	{ "a\\b", 64, "a\\\\b", 4 },
	{ "\n", 64, "\\u000a", 6 },
	{ "\x1f\x7f", 64, "\\u001f\\u007f", 12 },
	{ "", 64, "", 0 },
	/* short buffers: whole escapes only, and the size the whole text needs */
	{ "abcdef", 4, "abc", 6 },
	{ "ab\"cd", 4, "ab", 6 },
	{ "\n", 6, "", 6 },
	{ "\n", 7, "\\u000a", 6 },
	{ "abc", 1, "", 3 },
};

static void test_json_escape(void)
{
	char buf[64];

	rlbt_for_each_case(i, json_cases) {
		size_t need;

		memset(buf, 'X', sizeof(buf));
		need = cli_json_escape(json_cases[i].in, buf, json_cases[i].len);
		CHECK(need == json_cases[i].need && !strcmp(buf, json_cases[i].want),
		      "cli_json_escape case %zu: \"%s\" (needs %zu), want \"%s\" (%zu)", i, buf,
		      need, json_cases[i].want, json_cases[i].need);
	}
	/* a zero-length buffer is not written at all */
	buf[0] = 'X';
	rlbt_cases++;
	CHECK(cli_json_escape("ab", buf, 0) == 2 && buf[0] == 'X',
	      "cli_json_escape with len 0 wrote the buffer");
}

static void test_show(void)
{
	char buf[CLI_SHOW_MAX + 4], longer[CLI_SHOW_MAX + 10];

	memset(longer, 'a', sizeof(longer) - 1);
	longer[sizeof(longer) - 1] = '\0';
	rlbt_cases += 4;
	CHECK(!strcmp(cli_show("abc", buf), "abc"), "cli_show(abc) = %s", buf);
	CHECK(!strcmp(cli_show("a\nb\tc", buf), "a?b?c"), "cli_show(a\\nb\\tc) = %s", buf);
	CHECK(!strcmp(cli_show(NULL, buf), ""), "cli_show(NULL) = %s", buf);
	cli_show(longer, buf);
	CHECK(strlen(buf) == CLI_SHOW_MAX + 3 && !strcmp(buf + CLI_SHOW_MAX, "..."),
	      "cli_show of %zu characters = %s", strlen(longer), buf);
}

/* Runs the target options of a command line through the shared parser. */
static int parse_target(const char *const *args, struct cli_target *t)
{
	static const struct cli_option options[] = {
		CLI_TARGET_OPTIONS,
		{},
	};
	char *argv[MAX_ARGS];
	struct cli_parser p;
	const char *val;
	int argc = 0, opt, err;

	for (; args[argc] && argc < MAX_ARGS - 1; argc++)
		argv[argc] = (char *)args[argc];
	argv[argc] = NULL;
	memset(t, 0, sizeof(*t));
	cli_parser_init(&p, "test", argc, argv, options);
	while (!(err = cli_next_option(&p, &opt, &val))) {
		err = cli_target_option(t, &p, opt, val);
		if (err)
			return err < 0 ? err : -EPROTO;
	}
	return err < 0 ? err : cli_target_finish(t, &p);
}

static const struct {
	const char *args[6];
	int err;
	const char *group;
} target_cases[] = {
	{ { "x", "-p", "8080" }, 0, "tcp-8080" },
	{ { "x", "--port=8080", "--udp" }, 0, "udp-8080" },
	{ { "x", "--udp", "-p", "53" }, 0, "udp-53" },
	{ { "x", "--name", "web" }, 0, "web" },
	{ { "x", "--name=tcp-80" }, 0, "tcp-80" },
	{ { "x" }, -EINVAL, "" },
	{ { "x", "--udp" }, -EINVAL, "" },
	{ { "x", "-p", "0" }, -EINVAL, "" },
	{ { "x", "-p", "80", "--name", "web" }, -EINVAL, "" },
	{ { "x", "--name", "web", "--udp" }, -EINVAL, "" },
	{ { "x", "-p", "80", "-p", "81" }, -EINVAL, "" },
	{ { "x", "--udp", "--udp", "-p", "80" }, -EINVAL, "" },
	{ { "x", "--name", "a/b" }, -EINVAL, "" },
};

static void test_target(void)
{
	struct cli_target t;

	rlbt_for_each_case(i, target_cases) {
		int err = parse_target(target_cases[i].args, &t);

		if (CHECK(err == target_cases[i].err, "target case %zu: %d, want %d", i, err,
			  target_cases[i].err) &&
		    !err)
			CHECK(!strcmp(t.group, target_cases[i].group),
			      "target case %zu: group %s, want %s", i, t.group,
			      target_cases[i].group);
	}
}

/* What a command printed: stdout and stderr, read back from files. */
struct captured {
	int status;
	char out[16384]; /* serve --help is some 9 KiB */
	char err[8192];
};

static void read_back(FILE *f, char *buf, size_t size)
{
	size_t n;

	rewind(f);
	n = fread(buf, 1, size - 1, f);
	buf[n] = '\0';
	fclose(f);
}

static void run(int (*cmd)(int, char **), const char *const *args, struct captured *c)
{
	FILE *out = tmpfile(), *err = tmpfile();
	int saved_out = dup(STDOUT_FILENO), saved_err = dup(STDERR_FILENO);
	char *argv[MAX_ARGS];
	int argc = 0;

	for (; args[argc] && argc < MAX_ARGS - 1; argc++)
		argv[argc] = (char *)args[argc];
	argv[argc] = NULL;
	fflush(stdout);
	fflush(stderr);
	dup2(fileno(out), STDOUT_FILENO);
	dup2(fileno(err), STDERR_FILENO);
	c->status = cmd(argc, argv);
	fflush(stdout);
	fflush(stderr);
	dup2(saved_out, STDOUT_FILENO);
	dup2(saved_err, STDERR_FILENO);
	close(saved_out);
	close(saved_err);
	read_back(out, c->out, sizeof(c->out));
	read_back(err, c->err, sizeof(c->err));
}

static int count_lines(const char *s)
{
	int n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

/* The longest line of s. */
static int max_line(const char *s)
{
	int n = 0, max = 0;

	for (; *s; s++) {
		n = *s == '\n' ? 0 : n + 1;
		max = n > max ? n : max;
	}
	return max;
}

/*
 * Every option of every command is explained in its --help: the option tables make the
 * lines, so this holds a table against its own help (the option's name on a line that
 * starts with it).
 */
static void test_help_lists_options(void)
{
	static const struct {
		int (*cmd)(int, char **);
		const char *name;
		const char *const options[16];
	} cases[] = {
		{ cmd_serve,
		  "serve",
		  { "addr", "port", "workers", "policy", "mode", "udp", "backlog", "max-conns",
		    "idle-timeout", "name", "flow-timeout", "metrics", "takeover", "grace" } },
		{ cmd_stats, "stats", { "port", "udp", "name", "json", "watch", "count" } },
		{ cmd_list, "list", { "port", "udp", "name", "json" } },
		{ cmd_probe, "probe", { "json" } },
	};
	static struct captured c;

	rlbt_for_each_case(i, cases) {
		const char *const args[MAX_ARGS] = { cases[i].name, "--help" };

		run(cases[i].cmd, args, &c);
		for (int j = 0; cases[i].options[j]; j++) {
			char line[64];

			snprintf(line, sizeof(line), "--%s", cases[i].options[j]);
			CHECK(strstr(c.out, line), "%s --help does not explain %s", cases[i].name,
			      line);
		}
	}
}

#define HUGE "99999999999999999999999999999"

/* Each line: the command, its arguments (argv[0] first), and a word the message must hold. */
static const struct {
	int (*cmd)(int, char **);
	const char *args[MAX_ARGS];
	const char *names;
} usage_cases[] = {
	/* the group, for every command */
	{ cmd_stats, { "stats" }, "missing the group" },
	{ cmd_stats, { "stats", "-p" }, "needs a value" },
	{ cmd_stats, { "stats", "-p", "" }, "bad port ''" },
	{ cmd_stats, { "stats", "-p", "0" }, "bad port '0'" },
	{ cmd_stats, { "stats", "-p", "-1" }, "bad port '-1'" },
	{ cmd_stats, { "stats", "-p", "65536" }, "65536" },
	{ cmd_stats, { "stats", "-p", HUGE }, HUGE },
	{ cmd_stats, { "stats", "-p", "http" }, "'http'" },
	{ cmd_stats, { "stats", "-p", "80", "-p", "80" }, "more than once" },
	{ cmd_stats, { "stats", "-p", "80", "--udp", "--udp" }, "more than once" },
	{ cmd_stats, { "stats", "--udp" }, "missing the group" },
	{ cmd_stats, { "stats", "--udp=1", "-p", "80" }, "takes no value" },
	{ cmd_stats, { "stats", "--name" }, "needs a value" },
	{ cmd_stats, { "stats", "--name", "" }, "bad group name" },
	{ cmd_stats, { "stats", "--name", "../x" }, "bad group name" },
	{ cmd_stats, { "stats", "--name", "a", "--name", "a" }, "more than once" },
	{ cmd_stats, { "stats", "--name", "a", "-p", "80" }, "not both" },
	{ cmd_stats, { "stats", "--name", "a", "--udp" }, "--udp" },
	{ cmd_stats, { "stats", "-p", "80", "--bogus" }, "--bogus" },
	{ cmd_stats, { "stats", "-p", "80", "-x" }, "-x" },
	{ cmd_stats, { "stats", "-p", "80", "extra" }, "extra" },
	/* stats' own options */
	{ cmd_stats, { "stats", "-p", "80", "--json", "--json" }, "more than once" },
	{ cmd_stats, { "stats", "-p", "80", "--watch" }, "needs a value" },
	{ cmd_stats, { "stats", "-p", "80", "--watch", "" }, "--watch" },
	{ cmd_stats, { "stats", "-p", "80", "--watch", "0" }, "--watch '0'" },
	{ cmd_stats, { "stats", "-p", "80", "--watch", "3601" }, "3601" },
	{ cmd_stats, { "stats", "-p", "80", "--watch", "-1" }, "-1" },
	{ cmd_stats, { "stats", "-p", "80", "--watch", "1s" }, "1s" },
	{ cmd_stats, { "stats", "-p", "80", "--watch", HUGE }, HUGE },
	{ cmd_stats, { "stats", "-p", "80", "--watch", "1", "--watch", "2" }, "more than once" },
	{ cmd_stats, { "stats", "-p", "80", "--count", "2" }, "--count goes with --watch" },
	{ cmd_stats, { "stats", "-p", "80", "--watch", "1", "--count", "0" }, "--count '0'" },
	{ cmd_stats, { "stats", "-p", "80", "--watch", "1", "--count", "x" }, "'x'" },
	/* policy */
	{ cmd_policy, { "policy", "-p", "80" }, "missing the policy" },
	{ cmd_policy, { "policy", "hash" }, "missing the group" },
	{ cmd_policy, { "policy", "-p", "80", "nope" }, "unknown policy 'nope'" },
	{ cmd_policy, { "policy", "-p", "80", "" }, "unknown policy ''" },
	{ cmd_policy, { "policy", "-p", "80", "HASH" }, "unknown policy 'HASH'" },
	{ cmd_policy, { "policy", "-p", "80", "hash", "random" }, "unexpected argument 'random'" },
	{ cmd_policy, { "policy", "-p", "80", "-1" }, "negative" },
	{ cmd_policy, { "policy", "-p", "80", "load" }, "load needs" },
	{ cmd_policy, { "policy", "-p", "80", "load", "" }, "load needs" },
	{ cmd_policy, { "policy", "-p", "80", "load", "/nonexistent.bpf.o" }, "/nonexistent.bpf.o" },
	{ cmd_policy, { "policy", "-p", "80", "load", "/" }, "not a regular file" },
	{ cmd_policy, { "policy", "-p", "80", "unload", "x" }, "unexpected argument 'x'" },
	{ cmd_policy, { "policy", "-p", "80", "-v", "-v", "hash" }, "more than once" },
	/* weight */
	{ cmd_weight, { "weight", "-p", "80" }, "missing the worker and the weight" },
	{ cmd_weight, { "weight", "-p", "80", "1" }, "missing the weight" },
	{ cmd_weight, { "weight", "-p", "80", "1", "2", "3" }, "unexpected argument '3'" },
	{ cmd_weight, { "weight", "-p", "80", "", "100" }, "bad worker ''" },
	{ cmd_weight, { "weight", "-p", "80", "x", "100" }, "bad worker 'x'" },
	{ cmd_weight, { "weight", "-p", "80", "-1", "100" }, "-1" },
	{ cmd_weight, { "weight", "-p", "80", "--", "-1", "100" }, "bad worker '-1'" },
	{ cmd_weight, { "weight", "-p", "80", HUGE, "100" }, HUGE },
	{ cmd_weight, { "weight", "-p", "80", "1", "" }, "bad weight ''" },
	{ cmd_weight, { "weight", "-p", "80", "1", "1001" }, "bad weight '1001'" },
	{ cmd_weight, { "weight", "-p", "80", "1", "-5" }, "-5" },
	{ cmd_weight, { "weight", "-p", "80", "1", "-15" }, "bad value '-15': negative" },
	{ cmd_weight, { "weight", "-p", "80", "-15", "1" }, "bad value '-15': negative" },
	{ cmd_weight, { "weight", "-p", "80", "--", "1", "-5" }, "bad weight '-5'" },
	{ cmd_weight, { "weight", "-p", "80", "1", "1e2" }, "bad weight '1e2'" },
	{ cmd_weight, { "weight", "-p", "80", "1", HUGE }, HUGE },
	{ cmd_weight, { "weight", "1", "100" }, "missing the group" },
	/* drain and undrain */
	{ cmd_drain, { "drain", "-p", "80" }, "missing the worker" },
	{ cmd_drain, { "drain", "-p", "80", "1", "2" }, "unexpected argument '2'" },
	{ cmd_drain, { "drain", "-p", "80", "one" }, "bad worker 'one'" },
	{ cmd_drain, { "drain", "-p", "80", "" }, "bad worker ''" },
	{ cmd_drain, { "drain", "-p", "80", "-1" }, "-1" },
	{ cmd_drain, { "drain", "-p", "80", HUGE }, HUGE },
	{ cmd_drain, { "drain", "1" }, "missing the group" },
	{ cmd_undrain, { "undrain", "-p", "80" }, "missing the worker" },
	{ cmd_undrain, { "undrain", "-p", "80", "x" }, "bad worker 'x'" },
	{ cmd_undrain, { "undrain", "-p", "80", "1", "--udp", "--udp" }, "more than once" },
	/* list and probe */
	{ cmd_list, { "list", "extra" }, "unexpected argument 'extra'" },
	{ cmd_list, { "list", "--udp" }, "--udp goes with -p" },
	{ cmd_list, { "list", "--json", "--json" }, "more than once" },
	{ cmd_list, { "list", "-p", "0" }, "bad port '0'" },
	{ cmd_probe, { "probe", "extra" }, "unexpected argument 'extra'" },
	{ cmd_probe, { "probe", "-p", "80" }, "-p" },
	{ cmd_probe, { "probe", "--json", "--json" }, "more than once" },
	/* serve, on the same parser */
	{ cmd_serve, { "serve" }, "missing --port" },
	{ cmd_serve, { "serve", "-p" }, "needs a value" },
	{ cmd_serve, { "serve", "-p", "70000" }, "bad port '70000'" },
	{ cmd_serve, { "serve", "-p", "0", "-p", "1" }, "more than once" },
	{ cmd_serve, { "serve", "-p", "0", "extra" }, "unexpected argument 'extra'" },
	{ cmd_serve, { "serve", "-p", "0", "--bogus" }, "--bogus" },
	{ cmd_serve, { "serve", "-p", "0", "--takeover=1" }, "takes no value" },
	{ cmd_serve, { "serve", "-p", "0", "-w", "0" }, "bad --workers '0': give 1 to 64" },
	{ cmd_serve, { "serve", "-p", "0", "--policy", "nope" }, "unknown policy 'nope'" },
	{ cmd_serve, { "serve", "-p", "0", "--mode", "ftp" }, "unknown mode 'ftp'" },
	{ cmd_serve, { "serve", "-p", "0", "--name", "../x" }, "bad group name" },
	{ cmd_serve, { "serve", "-p", "0", "--metrics", "1.2.3.4" }, "bad --metrics" },
	{ cmd_serve, { "serve", "-p", "0", "--idle-timeout", "-1" }, "--idle-timeout '-1'" },
	{ cmd_serve, { "serve", "-p", "0", "--grace", "86401" }, "--grace '86401'" },
	{ cmd_serve, { "serve", "-p", "0", "--udp" }, "--udp needs --mode" },
	{ cmd_serve, { "serve", "-p", "0", "--udp", "--mode", "id", "-b", "5" }, "--backlog" },
	{ cmd_serve, { "serve", "-p", "0", "--flow-timeout", "5" }, "udp only" },
	{ cmd_serve, { "serve", "-p", "0", "--takeover" }, "--takeover needs the group" },
	{ cmd_serve, { "serve", "-p", "80", "--takeover", "--policy", "kernel" }, "kernel" },
};

static void test_usage_errors(void)
{
	static struct captured c;

	rlbt_for_each_case(i, usage_cases) {
		const char *const *args = usage_cases[i].args;
		char prefix[64];

		run(usage_cases[i].cmd, args, &c);
		snprintf(prefix, sizeof(prefix), "reuselb %s: ", args[0]);
		CHECK(c.status == CLI_EXIT_USAGE, "case %zu (%s): exit %d, want 2", i, args[0],
		      c.status);
		CHECK(c.out[0] == '\0', "case %zu (%s): printed on stdout: %s", i, args[0], c.out);
		CHECK(count_lines(c.err) == 1, "case %zu (%s): %d lines on stderr: %s", i, args[0],
		      count_lines(c.err), c.err);
		CHECK(!strncmp(c.err, prefix, strlen(prefix)),
		      "case %zu: stderr does not start "
		      "with \"%s\": %s",
		      i, prefix, c.err);
		CHECK(strstr(c.err, usage_cases[i].names) != NULL,
		      "case %zu (%s): stderr does not name \"%s\": %s", i, args[0],
		      usage_cases[i].names, c.err);
	}
}

static void test_help(void)
{
	static int (*const cmds[])(int,
				   char **) = { cmd_stats,   cmd_policy, cmd_weight, cmd_drain,
						cmd_undrain, cmd_list,	 cmd_probe,  cmd_serve };
	static const char *const names[] = { "stats",	"policy", "weight", "drain",
					     "undrain", "list",	  "probe",  "serve" };
	static struct captured c;

	rlbt_for_each_case(i, cmds) {
		const char *const args[MAX_ARGS] = { names[i], "--help" };

		run(cmds[i], args, &c);
		CHECK(c.status == 0 && c.err[0] == '\0', "%s --help: exit %d, stderr %s", names[i],
		      c.status, c.err);
		CHECK(strstr(c.out, "Usage: reuselb ") && strstr(c.out, "EXAMPLES:") &&
			      strstr(c.out, "Exit status:"),
		      "%s --help lacks Usage, Exit status or EXAMPLES:\n%s", names[i], c.out);
		CHECK(strstr(c.out, "  -h, --help ") && strstr(c.out, "  -v, --verbose "),
		      "%s --help does not explain -h and -v:\n%s", names[i], c.out);
		CHECK(max_line(c.out) <= 90, "%s --help has a line of %d columns", names[i],
		      max_line(c.out));
	}
}

int main(void)
{
	test_group_names();
	test_json_escape();
	test_show();
	test_target();
	test_usage_errors();
	test_help();
	test_help_lists_options();
	return rlbt_finish();
}
