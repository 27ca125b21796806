/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What the reuselb subcommands share: their entry points, the exit codes, and the parsers for
 * option values. The parsers return 0 or -EINVAL and never print: the caller names the option
 * in its message.
 */
#ifndef RLB_CLI_H
#define RLB_CLI_H

#include <arpa/inet.h>
#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "server/server.h"

enum cli_exit {
	CLI_EXIT_OK = 0,
	CLI_EXIT_FAILURE = 1, /* the command was valid but failed at run time */
	CLI_EXIT_USAGE = 2,   /* the command line is wrong: nothing was done */
};

/* One per subcommand; argv[0] is the subcommand's name. They return an enum cli_exit. */
int cmd_serve(int argc, char **argv);
int cmd_stats(int argc, char **argv);
int cmd_policy(int argc, char **argv);
int cmd_weight(int argc, char **argv);
int cmd_drain(int argc, char **argv);
int cmd_undrain(int argc, char **argv);
int cmd_list(int argc, char **argv);
int cmd_probe(int argc, char **argv);
int cmd_rollout(int argc, char **argv);
int cmd_rebalance(int argc, char **argv);
int cmd_attach(int argc, char **argv);
int cmd_detach(int argc, char **argv);

struct cli_addr {
	int family;		     /* AF_INET or AF_INET6 */
	char text[INET6_ADDRSTRLEN]; /* canonical form, as inet_ntop() writes it */
};

/* A port, 1..65535; 0 too when allow_zero (an ephemeral port). */
int cli_parse_port(const char *s, bool allow_zero, uint16_t *out);
/* A decimal number in min..max: digits only, no sign, no blanks, no trailing characters. */
int cli_parse_uint(const char *s, unsigned long min, unsigned long max, unsigned long *out);
/* A numeric IPv4 or IPv6 address; names are not resolved. */
int cli_parse_addr(const char *s, struct cli_addr *out);
/* "http", "echo" or "id". */
int cli_parse_mode(const char *s, enum server_mode *out);
/* A group name as the pins take it (rlb_name_valid()). */
int cli_parse_group_name(const char *s);
/*
 * s as the body of a JSON string (quotes not included) into buf, always NUL-terminated.
 * Returns the length the whole escaped text needs, like snprintf.
 */
size_t cli_json_escape(const char *s, char *buf, size_t len);
/*
 * s as it may be shown inside a one-line message: at most CLI_SHOW_MAX characters (longer
 * ones end in "..."), control characters as '?'. Writes buf (CLI_SHOW_MAX + 4 bytes) and
 * returns it.
 */
#define CLI_SHOW_MAX 60
const char *cli_show(const char *s, char *buf);

/*
 * Command-line handling that every group command shares (target.c): the group named by
 * -p PORT [--udp] or --name GROUP, the options and operands they have in common (probe's
 * too), a repeated option refused, one-line errors.
 */

/* Values of long-only options, past every char, so that one array indexes all options. */
enum cli_opt {
	CLI_OPT_UDP = 256,
	CLI_OPT_NAME,
	CLI_OPT_JSON,
	CLI_OPT_WATCH,
	CLI_OPT_COUNT,
	/* serve's */
	CLI_OPT_POLICY,
	CLI_OPT_MODE,
	CLI_OPT_MAX_CONNS,
	CLI_OPT_IDLE_TIMEOUT,
	CLI_OPT_FLOW_TIMEOUT,
	CLI_OPT_FLOW_TABLE,
	CLI_OPT_METRICS,
	CLI_OPT_TAKEOVER,
	CLI_OPT_GRACE,
	CLI_OPT_CONFIRM,
	CLI_OPT_UDP_FLOWS,
	CLI_OPT_CANARY,
	CLI_OPT_DEFER_ACCEPT,
	/* drain's and rebalance's */
	CLI_OPT_SHED,
	CLI_OPT_SHED_WINDOW,
	CLI_OPT_THRESHOLD,
	/* attach's */
	CLI_OPT_PID,
	CLI_OPT_FOLLOW,
	CLI_OPT_DETACH_ON_EXIT,
	CLI_OPT_REPLACE,
	CLI_OPT__END,
};

/*
 * One option of a command, declared once: getopt's tables and the option's lines in --help
 * are made from it. A command's options are an array ending with a zeroed entry.
 */
struct cli_option {
	const char *name; /* the long name, "port" */
	int val;	  /* a char for an option that has a short form too ('p'), else CLI_OPT_* */
	const char *arg;  /* the value's name in the help ("PORT"); NULL for a flag */
	const char *help; /* what it does; '\n' starts a continuation line */
};
/* The options that may be given more than once (their command collects the values). */
#define CLI_OPT_REPEATS(val) ((val) == CLI_OPT_PID)
#define CLI_OPTIONS_MAX 24

#define CLI_STR_(x) #x
/* A number #defined as a literal, as a string for help texts. */
#define CLI_STR(x) CLI_STR_(x)

/* The options that name the group, for a command's option table. */
#define CLI_TARGET_OPTIONS                                                                         \
	{ "port", 'p', "PORT", "the group serving on this port (1 to 65535)" },                    \
		{ "udp", CLI_OPT_UDP, NULL, "with -p: the UDP group on that port (default TCP)" }, \
	{                                                                                          \
		"name", CLI_OPT_NAME, "GROUP",                                                     \
			"the group of that name (serve --name, or tcp-PORT, udp-PORT)"             \
	}
/* -v and -h, which cli_options() takes: the last options of every command's table. */
#define CLI_VERBOSE_HELP_OPTIONS                                \
	{ "verbose", 'v', NULL, "show libbpf's own messages" }, \
	{                                                       \
		"help", 'h', NULL, "show this help"             \
	}

/* A command line being read: the command's name for messages, its options, what was given. */
struct cli_parser {
	const char *cmd;
	int argc;
	char **argv;
	const struct cli_option *options;
	struct option longopts[CLI_OPTIONS_MAX + 1]; /* made from options, for getopt_long */
	char shortopts[2 * CLI_OPTIONS_MAX + 2];     /* ":p:vh", made from options */
	bool given[CLI_OPT__END];
	int next; /* after the options: argv[next..argc) are the operands */
};

void cli_parser_init(struct cli_parser *p, const char *cmd, int argc, char **argv,
		     const struct cli_option *options);
/*
 * The value of a numeric option, min to max, into *out: 0, or -EINVAL after printing "bad
 * --NAME 'VAL': give MIN to MAX<unit>".
 */
int cli_uint_option(const struct cli_parser *p, int opt, const char *val, unsigned long min,
		    unsigned long max, const char *unit, unsigned long *out);
/* The long name of the option whose val is val, for messages ("?" when none). */
const char *cli_option_name(const struct cli_parser *p, int val);
/*
 * The next option into *opt and its value into *val. Returns 0, 1 after the last option
 * (operands start at p->next), or -EINVAL after printing a usage error: an unknown option, a
 * missing value, a value to a flag, an option given twice.
 */
int cli_next_option(struct cli_parser *p, int *opt, const char **val);

/* Which group a command acts on. */
struct cli_target {
	uint16_t port;
	bool udp;
	const char *name;	      /* --name, or NULL */
	char group[RLB_NAME_MAX + 1]; /* the name of the pins, once cli_target_finish() ran */
};

/*
 * Takes -p, --udp and --name into t: 0, 1 when opt is none of them, or -EINVAL after printing
 * a usage error.
 */
int cli_target_option(struct cli_target *t, const struct cli_parser *p, int opt, const char *val);
/*
 * After the options: exactly one of -p and --name, --udp only with -p; sets t->group. 0 or
 * -EINVAL after printing a usage error.
 */
int cli_target_finish(struct cli_target *t, const struct cli_parser *p);

/* What the options shared by the commands give; a command sees only those its table lists. */
struct cli_common {
	struct cli_target target; /* -p, --udp, --name */
	bool json;		  /* --json */
	bool verbose;		  /* -v */
	bool help;		  /* -h */
};

/*
 * A command's own option, tried before those cli_options() takes: 0, 1 when it is not one of
 * the command's own, or -EINVAL after printing a usage error. args is what was given to
 * cli_options().
 */
typedef int cli_option_fn(void *args, const struct cli_parser *p, int opt, const char *val);

/*
 * Reads the options of p: the command's own through own (NULL when it has none), then -p,
 * --udp, --name, --json, -v and -h into c. Returns the index in argv of the first operand (1
 * or more), 0 after -h (the rest of the command line is not read), or -EINVAL after printing a
 * usage error.
 */
int cli_options(struct cli_parser *p, struct cli_common *c, cli_option_fn *own, void *args);

/* The options' lines of a --help: "  -p, --port=PORT   help", aligned. */
void cli_print_options(FILE *f, const struct cli_option *options);

/*
 * A command, declared once: its name, its help around the option lines, its options. The
 * skeleton of every command but serve's is
 *
 *	ret = cli_begin(&cmd, argc, argv, &a.common, &a, operands);
 *	if (ret >= 0)
 *		return ret;
 *	... act ...
 */
struct cli_command {
	const char *name;
	const char *usage;		  /* "Usage: ..." and what it does, before the options */
	const struct cli_option *options; /* ends with a zeroed entry */
	const char *more;		  /* after the options: exit status, EXAMPLES */
	cli_option_fn *own;		  /* the command's own options, or NULL */
	void (*help_extra)(FILE *f);	  /* printed between the options and more, or NULL */
};

/* The whole --help of a command, on f. */
void cli_help(const struct cli_command *cmd, FILE *f);

/*
 * What every command does first: reads the options (the command's own into args), then hands
 * the operands to operands() (NULL: none allowed), prints the help after -h, and sets libbpf's
 * messages to -v. Returns -1 when the command is to go on, else its exit status: 0 after -h,
 * 2 after a usage error.
 */
int cli_begin(const struct cli_command *cmd, int argc, char **argv, struct cli_common *c,
	      void *args, int (*operands)(void *args, struct cli_parser *p));
/*
 * Refuses operands past the first max: 0, or -EINVAL after printing "unexpected argument"
 * with the first one too many.
 */
int cli_operands_at_most(const struct cli_parser *p, int max);
/*
 * A WORKER operand: a worker id, 0 or more (the group's own bound is the library's to check).
 * 0, or -EINVAL after printing a usage error.
 */
int cli_parse_worker(const char *cmd, const char *s, unsigned int *out);

/*
 * Opens the group's pins for control. -p PORT [--udp] finds the group whose sockets serve
 * that port (the endpoint recorded in its config), whatever its name, and sets t->group to
 * it. On failure prints one line and returns the exit status: 2 for an unknown group (a wrong
 * -p or --name) and for a port that two groups serve (on different addresses: --name tells
 * them apart), 1 otherwise.
 */
int cli_target_open(struct cli_target *t, const char *cmd, struct rlb_ctl **out);

/*
 * "reuselb CMD: <message>; see 'reuselb CMD --help'" on stderr, one line. Returns -EINVAL.
 */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/*
 * "reuselb CMD: <rlb_last_error()>" on stderr. Returns the exit status for the library's err:
 * 2 for -EINVAL and -ERANGE (a value on the command line the group cannot take), else 1.
 */
int cli_lib_error(const char *cmd, int err);

/* libbpf's own messages on stderr with -v, none otherwise. */
void cli_libbpf_verbose(bool verbose);

/* "live", "draining", "closed". */
const char *cli_state_name(enum rlb_worker_state state);

/* A JSON string, quoted and escaped, to f. */
void cli_json_string(FILE *f, const char *s);

#endif
