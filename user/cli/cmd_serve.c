// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * reuselb serve: opens a steered SO_REUSEPORT group and serves it, one worker thread per
 * socket, until SIGINT or SIGTERM.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>
#include "cli/cli.h"

#define MAX_CONNS_LIMIT 1000000
#define IDLE_TIMEOUT_LIMIT 86400

static const char usage[] =
    "Usage: reuselb serve -p PORT [-a ADDR] [-w N] [--policy NAME] [--mode MODE]\n"
    "                     [--udp] [-b N] [--max-conns N] [--idle-timeout SECS] [-v]\n"
    "\n"
    "Serve a SO_REUSEPORT group: one socket and one thread per worker, and a BPF\n"
    "program that picks the worker of each new connection (or datagram).\n"
    "\n"
    "  -a, --addr=ADDR          numeric IPv4 or IPv6 address to bind\n"
    "                           (default 0.0.0.0; :: for IPv6)\n"
    "  -p, --port=PORT          port to bind, 0 for any free one (required)\n"
    "  -w, --workers=N          workers, 1 to %d (default: online CPUs, at most %d)\n"
    "      --policy=NAME        how the program picks a worker (default round-robin)\n"
    "      --mode=MODE          what the workers answer (default http)\n"
    "      --udp                datagram sockets instead of TCP (modes echo and id)\n"
    "  -b, --backlog=N          listen backlog per socket (tcp; default SOMAXCONN)\n"
    "      --max-conns=N        open connections per worker, more are closed at once\n"
    "                           (tcp; default %d)\n"
    "      --idle-timeout=SECS  close connections idle that long, 0 never\n"
    "                           (tcp; default %d)\n"
    "  -v, --verbose            show libbpf's own messages\n"
    "  -h, --help               show this help\n"
    "\n"
    "Options are given once each; a repeated option is a usage error.\n"
    "\n";

static const char usage_modes[] =
    "\n"
    "Modes:\n"
    "  http  HTTP/1.1 with keep-alive and pipelining: each answer is 200 with the\n"
    "        header \"X-Reuselb-Worker: ID\" and the body \"worker ID\";\n"
    "        GET /burn?us=N first spends N microseconds (up to 1000000) of CPU\n"
    "  echo  sends back what it receives until the peer closes\n"
    "        (with --udp: each datagram)\n"
    "  id    sends \"worker ID\" and closes (with --udp: answers each datagram)\n"
    "\n"
    "Output:\n"
    "  Once serving, one line on stdout (\"udp\" with --udp; \"program id none\"\n"
    "  under the kernel policy):\n"
    "    reuselb: serving tcp ADDR port PORT, N workers, policy NAME, program id ID\n"
    "  On SIGINT or SIGTERM, one line per worker, then the group is closed:\n"
    "    worker ID: accepted N, requests N     (with --udp: worker ID: datagrams N)\n"
    "\n"
    "Exit status:\n"
    "  0 stopped by SIGINT or SIGTERM; 1 failure (opening the group, or a worker);\n"
    "  2 usage error\n"
    "\n"
    "EXAMPLES:\n"
    "  reuselb serve -p 8080 -w 4 --policy round-robin --mode http\n"
    "                      # 4 workers in turn; try: curl -si localhost:8080/\n"
    "  reuselb serve -a :: -p 0 --mode id\n"
    "                      # any free IPv6 port (see the first line); each\n"
    "                      # connection reads which worker took it\n"
    "  reuselb serve -p 5300 --udp --mode echo --policy source-ip\n"
    "                      # each client address always reaches the same worker\n"
    "  reuselb serve -p 8080 --policy kernel\n"
    "                      # no BPF at all: the kernel's own hash, as a baseline\n";

static const char *policy_help(enum rlb_policy policy)
{
	switch (policy) {
	case RLB_POLICY_KERNEL:
		return "no BPF program: the kernel's hash of the 4-tuple picks";
	case RLB_POLICY_HASH:
		return "a seeded hash of the 4-tuple";
	case RLB_POLICY_SOURCE_IP:
		return "a seeded hash of the source address: one client, one worker";
	case RLB_POLICY_ROUND_ROBIN:
		return "each worker in turn";
	case RLB_POLICY_RANDOM:
		return "a random worker";
	case RLB_POLICY_LEAST_CONN:
		return "the less loaded of two random workers";
	case RLB_POLICY_WEIGHTED:
		return "in turn, in proportion to the workers' weights";
	case RLB_POLICY_MAGLEV:
		return "Maglev consistent hash of source address and port";
	case RLB_POLICY_CPU:
		return "the worker on the CPU that took the packet (one CPU per worker)";
	case RLB_POLICY_QUIC_CID:
		return "the worker named in the QUIC connection ID (udp)";
	default:
		/* a policy newer than this text: its name alone */
		return "";
	}
}

static void print_help(void)
{
	printf(usage, RLB_MAX_WORKERS, RLB_MAX_WORKERS, SERVER_MAX_CONNS_DEFAULT,
	       SERVER_IDLE_TIMEOUT_DEFAULT);
	printf("Policies:\n");
	for (int p = 0; p < RLB_POLICY__COUNT; p++)
		printf("  %-12s %s\n", rlb_policy_name(p), policy_help(p));
	printf("%s", usage_modes);
}

/* Long-only options take values past every char, so that one array indexes all options. */
enum {
	OPT_POLICY = 256,
	OPT_MODE,
	OPT_UDP,
	OPT_MAX_CONNS,
	OPT_IDLE_TIMEOUT,
	OPT__END,
};

static const struct option options[] = {
    {"addr", required_argument, NULL, 'a'},
    {"port", required_argument, NULL, 'p'},
    {"workers", required_argument, NULL, 'w'},
    {"policy", required_argument, NULL, OPT_POLICY},
    {"mode", required_argument, NULL, OPT_MODE},
    {"udp", no_argument, NULL, OPT_UDP},
    {"backlog", required_argument, NULL, 'b'},
    {"max-conns", required_argument, NULL, OPT_MAX_CONNS},
    {"idle-timeout", required_argument, NULL, OPT_IDLE_TIMEOUT},
    {"verbose", no_argument, NULL, 'v'},
    {"help", no_argument, NULL, 'h'},
    {},
};

/* The leading ':' makes getopt report a missing value as ':' and keep quiet: we print. */
static const char short_options[] = ":a:p:w:b:vh";

struct serve_args {
	struct cli_addr addr;
	struct rlb_group_opts group;
	struct server_opts server;
	bool help;
	bool given[OPT__END];
};

static const char *option_name(int val)
{
	for (const struct option *o = options; o->name; o++) {
		if (o->val == val)
			return o->name;
	}
	return NULL;
}

__attribute__((format(printf, 1, 2))) static int usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("reuselb serve: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("; see 'reuselb serve --help'\n", stderr);
	return -EINVAL;
}

static unsigned int default_workers(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	if (n < 1)
		return 1;
	return n < RLB_MAX_WORKERS ? n : RLB_MAX_WORKERS;
}

static int parse_option(struct serve_args *a, int opt, const char *val)
{
	unsigned long n;

	switch (opt) {
	case 'a':
		if (cli_parse_addr(val, &a->addr))
			return usage_error("bad address '%s': give a numeric IPv4 or IPv6 address",
					   val);
		break;
	case 'p':
		if (cli_parse_port(val, true, &a->group.port))
			return usage_error("bad port '%s': give 1 to 65535, or 0 for any free port",
					   val);
		break;
	case 'w':
		if (cli_parse_uint(val, 1, RLB_MAX_WORKERS, &n))
			return usage_error("bad number of workers '%s': give 1 to %d", val,
					   RLB_MAX_WORKERS);
		a->group.nr_workers = n;
		break;
	case OPT_POLICY:
		if (rlb_policy_parse(val, &a->group.policy))
			return usage_error("unknown policy '%s': choose one of %s", val,
					   rlb_policy_names());
		break;
	case OPT_MODE:
		if (cli_parse_mode(val, &a->server.mode))
			return usage_error("unknown mode '%s': choose one of http, echo, id", val);
		break;
	case OPT_UDP:
		a->group.udp = a->server.udp = true;
		break;
	case 'b':
		if (cli_parse_uint(val, 1, INT_MAX, &n))
			return usage_error("bad backlog '%s': give 1 to %d", val, INT_MAX);
		a->group.backlog = n;
		break;
	case OPT_MAX_CONNS:
		if (cli_parse_uint(val, 1, MAX_CONNS_LIMIT, &n))
			return usage_error("bad --max-conns '%s': give 1 to %d", val,
					   MAX_CONNS_LIMIT);
		a->server.max_conns = n;
		break;
	case OPT_IDLE_TIMEOUT:
		if (cli_parse_uint(val, 0, IDLE_TIMEOUT_LIMIT, &n))
			return usage_error("bad --idle-timeout '%s': give 0 (never) to %d seconds",
					   val, IDLE_TIMEOUT_LIMIT);
		a->server.idle_timeout_s = n;
		break;
	case 'v':
		a->group.verbose = true;
		break;
	case 'h':
		a->help = true;
		break;
	}
	return 0;
}

static int parse_args(int argc, char **argv, struct serve_args *a)
{
	static const int tcp_only[] = {'b', OPT_MAX_CONNS, OPT_IDLE_TIMEOUT};
	int opt, err;

	memset(a, 0, sizeof(*a));
	a->addr.family = AF_INET;
	strcpy(a->addr.text, "0.0.0.0");
	a->group.nr_workers = default_workers();
	a->group.policy = RLB_POLICY_ROUND_ROBIN;
	a->server.mode = SERVER_MODE_HTTP;
	a->server.max_conns = SERVER_MAX_CONNS_DEFAULT;
	a->server.idle_timeout_s = SERVER_IDLE_TIMEOUT_DEFAULT;

	/* optind = 0 restarts glibc's getopt, for callers that parse more than one command line */
	optind = 0;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, short_options, options, NULL)) != -1) {
		if (opt == ':')
			return usage_error("option --%s needs a value", option_name(optopt));
		if (opt == '?') {
			/* getopt leaves optopt 0 for a long option it does not know */
			if (optopt && option_name(optopt))
				return usage_error("option --%s takes no value",
						   option_name(optopt));
			if (optopt)
				return usage_error("unknown option '-%c'", optopt);
			return usage_error("unknown option '%s'", argv[optind - 1]);
		}
		if (a->given[opt])
			return usage_error("option --%s given more than once", option_name(opt));
		a->given[opt] = true;
		err = parse_option(a, opt, optarg);
		if (err)
			return err;
		if (a->help)
			return 0;
	}
	if (optind < argc)
		return usage_error("unexpected argument '%s'", argv[optind]);
	if (!a->given['p'])
		return usage_error("missing --port (0 picks any free port)");
	if (a->group.udp && a->server.mode == SERVER_MODE_HTTP)
		return usage_error("--udp needs --mode echo or --mode id (http is tcp only)");
	for (size_t i = 0; a->group.udp && i < sizeof(tcp_only) / sizeof(tcp_only[0]); i++) {
		if (a->given[tcp_only[i]])
			return usage_error("--%s applies to tcp only, not with --udp",
					   option_name(tcp_only[i]));
	}
	a->group.addr = a->addr.text;
	/* so that bpftool and the other reuselb commands find the running group */
	a->group.pin = true;
	a->server.pin_threads = a->group.policy == RLB_POLICY_CPU;
	return 0;
}

/* Returns when a stop signal is pending or a worker has failed. */
static int wait_for_stop(int sigfd, int failfd)
{
	struct pollfd fds[] = {
	    {.fd = sigfd, .events = POLLIN},
	    {.fd = failfd, .events = POLLIN},
	};

	while (poll(fds, 2, -1) < 0) {
		if (errno != EINTR)
			return -errno;
	}
	return 0;
}

/* Prints each worker's totals; returns the exit status that their errors call for. */
static int report(const struct server *s, unsigned int nr_workers, bool udp)
{
	int ret = CLI_EXIT_OK;

	for (unsigned int i = 0; i < nr_workers; i++) {
		struct server_worker_stats st;

		server_worker_stats(s, i, &st);
		if (udp)
			printf("worker %u: datagrams %" PRIu64 "\n", i, st.requests);
		else
			printf("worker %u: accepted %" PRIu64 ", requests %" PRIu64 "\n", i,
			       st.accepted, st.requests);
		if (st.err) {
			fprintf(stderr, "reuselb: worker %u stopped early: %s: %s\n", i, st.what,
				strerror(-st.err));
			ret = CLI_EXIT_FAILURE;
		}
	}
	return ret;
}

static int serve(struct serve_args *a)
{
	struct rlb_group *g = NULL;
	struct server *s = NULL;
	int sigfd, err, ret = CLI_EXIT_FAILURE;
	uint32_t prog_id;
	sigset_t sigs;

	/*
	 * Before any thread exists, so that all of them inherit the mask and the signals wait in
	 * the signalfd; a SIGTERM during the program load then stops us cleanly, too. A peer that
	 * goes away shows up as EPIPE from send(), not as SIGPIPE.
	 */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);
	sigfd = signalfd(-1, &sigs, SFD_CLOEXEC);
	if (sigfd < 0) {
		fprintf(stderr, "reuselb: cannot create a signalfd: %s\n", strerror(errno));
		return CLI_EXIT_FAILURE;
	}

	err = rlb_group_open(&a->group, &g);
	if (err) {
		fprintf(stderr, "reuselb: %s\n", rlb_last_error());
		fputs(rlb_verifier_log(), stderr);
		goto out;
	}
	a->server.group = g;
	err = server_start(&a->server, &s);
	if (err) {
		fprintf(stderr, "reuselb: cannot start the workers: %s\n", strerror(-err));
		goto out;
	}

	printf("reuselb: serving %s %s port %u, %u workers, policy %s, program id ",
	       a->group.udp ? "udp" : "tcp", a->addr.text, rlb_group_port(g),
	       rlb_group_nr_workers(g), rlb_policy_name(rlb_group_policy(g)));
	prog_id = rlb_group_prog_id(g);
	if (prog_id)
		printf("%u\n", prog_id);
	else
		printf("none\n");
	fflush(stdout);

	err = wait_for_stop(sigfd, server_failure_fd(s));
	server_stop(s);
	ret = report(s, rlb_group_nr_workers(g), a->group.udp);
	if (err) {
		fprintf(stderr, "reuselb: cannot wait for signals: %s\n", strerror(-err));
		ret = CLI_EXIT_FAILURE;
	}
out:
	server_free(s);
	rlb_group_close(g);
	close(sigfd);
	return ret;
}

int cmd_serve(int argc, char **argv)
{
	struct serve_args a;

	if (parse_args(argc, argv, &a))
		return CLI_EXIT_USAGE;
	if (a.help) {
		print_help();
		return CLI_EXIT_OK;
	}
	return serve(&a);
}
