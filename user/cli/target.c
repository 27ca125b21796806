// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * What the group commands (stats, policy, weight, drain, undrain, list) share: reading the
 * command line with getopt_long (probe's too), the group named by -p PORT [--udp] or --name
 * GROUP, a WORKER operand, and errors as one line on stderr with the exit status they call for.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <netinet/in.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include "cli/cli.h"

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "reuselb %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "; see 'reuselb %s --help'\n", cmd);
	return -EINVAL;
}

int cli_lib_error(const char *cmd, int err)
{
	fprintf(stderr, "reuselb %s: %s\n", cmd, rlb_last_error());
	return err == -EINVAL || err == -ERANGE ? CLI_EXIT_USAGE : CLI_EXIT_FAILURE;
}

static int quiet(enum rlb_log_level level, const char *fmt, va_list ap)
{
	(void)level;
	(void)fmt;
	(void)ap;
	return 0;
}

static int loud(enum rlb_log_level level, const char *fmt, va_list ap)
{
	(void)level;
	return vfprintf(stderr, fmt, ap);
}

void cli_libbpf_verbose(bool verbose)
{
	/* libbpf's warnings would break the one-line errors: they are for -v */
	rlb_set_log(verbose ? loud : quiet);
}

const char *cli_state_name(enum rlb_worker_state state)
{
	switch (state) {
	case RLB_WORKER_EMPTY:
		return "closed";
	case RLB_WORKER_LIVE:
		return "live";
	case RLB_WORKER_DRAINING:
		return "draining";
	}
	/* a state newer than this binary */
	return "unknown";
}

void cli_json_string(FILE *f, const char *s)
{
	char buf[256];
	size_t need = cli_json_escape(s, buf, sizeof(buf));

	if (need < sizeof(buf)) {
		fprintf(f, "\"%s\"", buf);
		return;
	}
	/* longer than any name we print: escape it one character at a time */
	fputc('"', f);
	for (; *s; s++) {
		char one[2] = { *s, '\0' };

		cli_json_escape(one, buf, sizeof(buf));
		fputs(buf, f);
	}
	fputc('"', f);
}

const char *cli_option_name(const struct cli_parser *p, int val)
{
	for (const struct cli_option *o = p->options; o->name; o++) {
		if (o->val == val)
			return o->name;
	}
	return "?";
}

int cli_uint_option(const struct cli_parser *p, int opt, const char *val, unsigned long min,
		    unsigned long max, const char *unit, unsigned long *out)
{
	char show[CLI_SHOW_MAX + 4];

	if (cli_parse_uint(val, min, max, out))
		return cli_usage_error(p->cmd, "bad --%s '%s': give %lu to %lu%s",
				       cli_option_name(p, opt), cli_show(val, show), min, max,
				       unit);
	return 0;
}

void cli_parser_init(struct cli_parser *p, const char *cmd, int argc, char **argv,
		     const struct cli_option *options)
{
	size_t n = 0, s = 0;

	memset(p, 0, sizeof(*p));
	p->cmd = cmd;
	p->argc = argc;
	p->argv = argv;
	p->options = options;
	p->next = argc;
	/* the leading ':' makes getopt report a missing value as ':' and keep quiet: we print */
	p->shortopts[s++] = ':';
	for (const struct cli_option *o = options; o->name && n < CLI_OPTIONS_MAX; o++, n++) {
		p->longopts[n] = (struct option){ o->name, o->arg ? required_argument : no_argument,
						  NULL, o->val };
		if (o->val < 256) {
			p->shortopts[s++] = o->val;
			if (o->arg)
				p->shortopts[s++] = ':';
		}
	}
	/* optind = 0 restarts glibc's getopt, for callers that parse more than one command line */
	optind = 0;
	opterr = 0;
}

int cli_next_option(struct cli_parser *p, int *opt, const char **val)
{
	char show[CLI_SHOW_MAX + 4];
	const char *arg;
	int o;

	o = getopt_long(p->argc, p->argv, p->shortopts, p->longopts, NULL);
	if (o == -1) {
		p->next = optind;
		return 1;
	}
	if (o == ':')
		return cli_usage_error(p->cmd, "option --%s needs a value",
				       cli_option_name(p, optopt));
	if (o == '?') {
		arg = p->argv[optind - 1];
		/* getopt leaves optopt 0 for a long option it does not know */
		if (optopt && strcmp(cli_option_name(p, optopt), "?"))
			return cli_usage_error(p->cmd, "option --%s takes no value",
					       cli_option_name(p, optopt));
		/*
		 * "-5" as a weight reads as an option to getopt: say what it is. getopt stops
		 * at the first digit: in "-15" it is still on the argument (argv[optind]), in
		 * "-5" it has moved past it.
		 */
		if (optopt >= '0' && optopt <= '9') {
			if (optind < p->argc && p->argv[optind][0] == '-' &&
			    p->argv[optind][1] == optopt)
				arg = p->argv[optind];
			return cli_usage_error(p->cmd,
					       "bad value '%s': negative numbers are not allowed",
					       cli_show(arg, show));
		}
		if (optopt)
			return cli_usage_error(p->cmd, "unknown option '-%c'", optopt);
		return cli_usage_error(p->cmd, "unknown option '%s'", cli_show(arg, show));
	}
	if (o < 0 || o >= CLI_OPT__END)
		return cli_usage_error(p->cmd, "unknown option");
	if (p->given[o] && !CLI_OPT_REPEATS(o))
		return cli_usage_error(p->cmd, "option --%s given more than once",
				       cli_option_name(p, o));
	p->given[o] = true;
	*opt = o;
	*val = optarg;
	return 0;
}

int cli_target_option(struct cli_target *t, const struct cli_parser *p, int opt, const char *val)
{
	char show[CLI_SHOW_MAX + 4];

	switch (opt) {
	case 'p':
		if (cli_parse_port(val, false, &t->port))
			return cli_usage_error(p->cmd,
					       "bad port '%s': give the group's port, 1 to "
					       "65535",
					       cli_show(val, show));
		return 0;
	case CLI_OPT_UDP:
		t->udp = true;
		return 0;
	case CLI_OPT_NAME:
		if (cli_parse_group_name(val))
			return cli_usage_error(p->cmd,
					       "bad group name '%s': use 1 to %d letters, "
					       "digits, '.', '_' or '-', not starting with '.'",
					       cli_show(val, show), RLB_NAME_MAX);
		t->name = val;
		return 0;
	}
	return 1;
}

int cli_target_finish(struct cli_target *t, const struct cli_parser *p)
{
	bool port = p->given['p'], name = p->given[CLI_OPT_NAME];

	if (port && name)
		return cli_usage_error(p->cmd, "give -p PORT or --name GROUP, not both");
	if (!port && !name)
		return cli_usage_error(p->cmd, "missing the group: give -p PORT [--udp] or "
					       "--name GROUP (see 'reuselb list')");
	if (name && p->given[CLI_OPT_UDP])
		return cli_usage_error(p->cmd, "--udp goes with -p PORT; a --name says the "
					       "protocol itself");
	if (name)
		snprintf(t->group, sizeof(t->group), "%s", t->name);
	else
		rlb_default_name(t->udp, t->port, t->group, sizeof(t->group));
	return 0;
}

int cli_options(struct cli_parser *p, struct cli_common *c, cli_option_fn *own, void *args)
{
	/* set whenever cli_next_option() returns 0; gcc -O3 cannot tell (-Wmaybe-uninitialized) */
	const char *val = NULL;
	int opt = 0, err;

	while (!(err = cli_next_option(p, &opt, &val))) {
		err = own ? own(args, p, opt, val) : 1;
		if (err <= 0) {
			if (err < 0)
				return err;
			continue;
		}
		err = cli_target_option(&c->target, p, opt, val);
		if (err < 0)
			return err;
		if (err == 0)
			continue;
		switch (opt) {
		case CLI_OPT_JSON:
			c->json = true;
			break;
		case 'v':
			c->verbose = true;
			break;
		case 'h':
			/* what follows is not read: -h on a wrong command line still helps */
			c->help = true;
			return 0;
		}
	}
	return err < 0 ? err : p->next;
}

/* "-p, --port=PORT" or "    --udp" */
static int option_head(const struct cli_option *o, char *buf, size_t len)
{
	return snprintf(buf, len, "%s%c%s--%s%s%s", o->val < 256 ? "-" : " ",
			o->val < 256 ? o->val : ' ', o->val < 256 ? ", " : "  ", o->name,
			o->arg ? "=" : "", o->arg ? o->arg : "");
}

void cli_print_options(FILE *f, const struct cli_option *options)
{
	char head[64];
	int width = 0;

	for (const struct cli_option *o = options; o->name; o++) {
		int n = option_head(o, head, sizeof(head));

		width = n > width ? n : width;
	}
	for (const struct cli_option *o = options; o->name; o++) {
		const char *line = o->help, *end;

		option_head(o, head, sizeof(head));
		fprintf(f, "  %-*s  ", width, head);
		/* continuation lines start under the first one */
		while ((end = strchr(line, '\n'))) {
			fprintf(f, "%.*s\n%*s", (int)(end - line), line, width + 4, "");
			line = end + 1;
		}
		fprintf(f, "%s\n", line);
	}
}

void cli_help(const struct cli_command *cmd, FILE *f)
{
	fputs(cmd->usage, f);
	cli_print_options(f, cmd->options);
	fputs("\nOptions are given once each; a repeated option is a usage error.\n", f);
	if (cmd->help_extra)
		cmd->help_extra(f);
	fputs(cmd->more, f);
}

int cli_begin(const struct cli_command *cmd, int argc, char **argv, struct cli_common *c,
	      void *args, int (*operands)(void *args, struct cli_parser *p))
{
	struct cli_parser p;
	int err;

	cli_parser_init(&p, cmd->name, argc, argv, cmd->options);
	err = cli_options(&p, c, cmd->own, args);
	if (err < 0)
		return CLI_EXIT_USAGE;
	if (c->help) {
		cli_help(cmd, stdout);
		return CLI_EXIT_OK;
	}
	err = operands ? operands(args, &p) : cli_operands_at_most(&p, 0);
	if (err)
		return CLI_EXIT_USAGE;
	cli_libbpf_verbose(c->verbose);
	return -1;
}

int cli_operands_at_most(const struct cli_parser *p, int max)
{
	char show[CLI_SHOW_MAX + 4];

	if (p->argc - p->next <= max)
		return 0;
	return cli_usage_error(p->cmd, "unexpected argument '%s'",
			       cli_show(p->argv[p->next + max], show));
}

int cli_parse_worker(const char *cmd, const char *s, unsigned int *out)
{
	char show[CLI_SHOW_MAX + 4];
	unsigned long n;

	/* the group's own range is checked by the library, which knows how many workers it has */
	if (cli_parse_uint(s, 0, UINT_MAX, &n))
		return cli_usage_error(cmd,
				       "bad worker '%s': give a worker id, 0 or more (see "
				       "'reuselb stats')",
				       cli_show(s, show));
	*out = n;
	return 0;
}

/* A live group's recorded endpoint (config), or -errno; port 0 when none was recorded. */
static int group_endpoint(const char *group, struct rlb_config *cfg)
{
	char path[256];
	__u32 key = 0;
	int fd, err = 0;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s/config", RLB_PIN_ROOT, group) >=
	    sizeof(path))
		return -ENAMETOOLONG;
	fd = bpf_obj_get(path);
	if (fd < 0)
		return -errno;
	if (bpf_map_lookup_elem(fd, &key, cfg))
		err = -errno;
	close(fd);
	return err;
}

/*
 * -p PORT [--udp]: the group whose sockets serve that port, by the endpoint its first owner
 * recorded in config, and not by name alone, which --name may have given to any group.
 * Sets t->group; 0, 1 when no live group records the port (t->group stays the default name,
 * for a group that recorded none and for the usual "no group" message), or the exit status
 * after printing why when more than one does.
 */
static int resolve_port(struct cli_target *t, const char *cmd)
{
	static char names[256][RLB_NAME_MAX + 1];
	char list[512] = "", addr[INET6_ADDRSTRLEN];
	int n = rlb_list_groups(names, NULL, 256), found = -1, nr = 0;
	size_t off = 0;

	for (int i = 0; i < n && i < 256; i++) {
		struct rlb_config cfg;

		if (group_endpoint(names[i], &cfg) || cfg.port != t->port ||
		    cfg.proto != (t->udp ? IPPROTO_UDP : IPPROTO_TCP))
			continue;
		found = i;
		nr++;
		if (!inet_ntop(cfg.family, cfg.addr, addr, sizeof(addr)))
			snprintf(addr, sizeof(addr), "?");
		if (off < sizeof(list))
			off += snprintf(list + off, sizeof(list) - off, "%s%s on %s",
					nr > 1 ? ", " : "", names[i], addr);
	}
	if (nr > 1) {
		fprintf(stderr,
			"reuselb %s: %d %s groups serve port %u: %s; name one with --name "
			"GROUP\n",
			cmd, nr, t->udp ? "udp" : "tcp", t->port, list);
		return CLI_EXIT_USAGE;
	}
	if (nr == 0)
		return 1;
	snprintf(t->group, sizeof(t->group), "%s", names[found]);
	return 0;
}

int cli_target_open(struct cli_target *t, const char *cmd, struct rlb_ctl **out)
{
	int err;

	*out = NULL;
	if (!t->name) {
		err = resolve_port(t, cmd);
		if (err > 1)
			return err;
	}
	err = rlb_ctl_open(t->group, out);
	if (!err)
		return CLI_EXIT_OK;
	/*
	 * A group that does not exist is a wrong -p or --name: nothing was done. (A live group
	 * with a pin missing is -ENOENT too, but a failure: its pins are being made or removed.)
	 */
	if (err == -ENOENT && !rlb_group_owner(t->group)) {
		fprintf(stderr, "reuselb %s: %s; see 'reuselb list'\n", cmd, rlb_last_error());
		return CLI_EXIT_USAGE;
	}
	return cli_lib_error(cmd, err);
}
