// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * reuselb serve: the command line and its help. The process itself (group, workers, metrics,
 * signals, handover) is user/server/serve.c.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "cli/cli.h"
#include "server/serve.h"

#define MAX_CONNS_LIMIT 1000000
#define IDLE_TIMEOUT_LIMIT 86400
#define SECONDS_LIMIT 86400

static const char usage[] =
    "Usage: reuselb serve -p PORT [-a ADDR] [-w N] [--policy NAME] [--mode MODE]\n"
    "                     [--udp] [-b N] [--max-conns N] [--idle-timeout SECS]\n"
    "                     [--name GROUP] [--flow-timeout SECS] [--metrics ADDR:PORT]\n"
    "                     [--takeover] [--grace SECS] [--confirm MS] [-v]\n"
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
    "      --name=GROUP         name of the group for its pins and the other commands:\n"
    "                           letters, digits, '.', '_', '-' (default tcp-PORT or\n"
    "                           udp-PORT)\n"
    "      --flow-timeout=SECS  udp: a flow stays on the worker that had it until it has\n"
    "                           been quiet this long, 1 to %d (default %d); after a\n"
    "                           handover, the old instance leaves once its flows are\n"
    "                           this quiet\n"
    "      --metrics=ADDR:PORT  serve Prometheus metrics at http://ADDR:PORT/metrics\n"
    "                           (IPv6: [ADDR]:PORT; port 0 picks a free one); off unless\n"
    "                           given\n"
    "      --takeover           take over the live group of the same name and port from\n"
    "                           the instance serving it (a rolling restart); with none\n"
    "                           live, just serve it\n"
    "      --grace=SECS         once a successor has taken over: finish the open\n"
    "                           connections (udp: the old flows) for at most this long,\n"
    "                           0 to %d (default %d)\n"
    "      --confirm=MS         keep serving beside a successor until it has served\n"
    "                           this long, 0 to 600000 ms (default %d); if it dies\n"
    "                           first, take the group back\n"
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
    "  Once serving, a line on stderr with what the kernel offers and, for what it\n"
    "  lacks, what is given up (not under the kernel policy, which needs no BPF):\n"
    "    reuselb: kernel features: uses sk_reuseport migrate ...; missing none\n"
    "  With --takeover, on stderr: \"reuselb: took over group NAME from pid N\" (or\n"
    "  that there was none to take over), and later \"reuselb: pid N has exited:\n"
    "  group NAME is ours\". With --metrics, on stdout:\n"
    "    reuselb: metrics at http://ADDR:PORT/metrics\n"
    "  then one line on stdout (\"udp\" with --udp; \"program id none\" under the\n"
    "  kernel policy):\n"
    "    reuselb: serving tcp ADDR port PORT, N workers, policy NAME, program id ID\n"
    "  After a handover, on stdout:\n"
    "    reuselb: handed over group NAME to pid N; M connections cut at the grace deadline\n"
    "    (with --udp: ...; its flows went quiet, or: flows still came at the grace deadline)\n"
    "  On exit, one line per worker, then the group is closed:\n"
    "    worker ID: accepted N, requests N     (with --udp: worker ID: datagrams N)\n"
    "\n"
    "Metrics (--metrics):\n"
    "  Per worker: reuselb_steered_total, reuselb_fallback_total, reuselb_migrated_total\n"
    "  (from the program), reuselb_accepted_total, reuselb_active_connections,\n"
    "  reuselb_worker_draining; per group: reuselb_unsteered_total and\n"
    "  reuselb_policy_info{policy=\"NAME\"} 1. Under the kernel policy there is no\n"
    "  program: only accepted, active (the workers' own counts) and the policy info.\n"
    "  Other paths answer 404. The endpoint closes when the group is handed over:\n"
    "  the successor, given the same --metrics, serves it from then on.\n"
    "\n"
    "Rolling restart (--takeover):\n"
    "  The new instance joins the live group (same --name, or same -p and --udp),\n"
    "  attaches its program and takes every new connection from then on; once its\n"
    "  workers run it signals the old one (SIGUSR2). The old one keeps its listeners\n"
    "  in the group for --confirm; if the new one dies meanwhile, it takes the group\n"
    "  back and serves on. Then it hands over: each worker closes its\n"
    "  listener, whose queued connections the kernel moves to the new instance (with\n"
    "  a migrate-capable kernel), finishes its open connections (HTTP ends\n"
    "  keep-alive), and exits 0 once they are done or --grace has passed. A UDP\n"
    "  instance goes on answering the flows it had until they have been quiet for\n"
    "  --flow-timeout or --grace has passed. SIGINT or SIGTERM still stop at once.\n"
    "  A SIGUSR2 with no successor in the group is ignored.\n"
    "  With systemd, a template unit and one command per restart, e.g.:\n"
    "    # /etc/systemd/system/reuselb-web@.service\n"
    "    [Service]\n"
    "    ExecStart=/usr/sbin/reuselb serve -p 8080 --name web --takeover --grace 30\n"
    "    KillMode=mixed\n"
    "    TimeoutStopSec=40\n"
    "  then: systemctl start reuselb-web@b    # @a hands over to @b and exits 0\n"
    "        (next time: systemctl start reuselb-web@a)\n"
    "\n"
    "Exit status:\n"
    "  0 stopped by SIGINT or SIGTERM, or after a handover; 1 failure (opening the\n"
    "  group, or a worker; a takeover that another successor won); 2 usage error, or a\n"
    "  request that conflicts with the live group (a takeover of another protocol,\n"
    "  address or port; policy kernel on a port a reuselb group serves)\n"
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
    "                      # no BPF at all: the kernel's own hash, as a baseline\n"
    "  reuselb serve -p 8080 --name web --metrics 127.0.0.1:9464\n"
    "                      # then: curl -s 127.0.0.1:9464/metrics\n"
    "  reuselb serve -p 8080 --name web --takeover --metrics 127.0.0.1:9464\n"
    "                      # replaces the running instance without dropping a\n"
    "                      # connection\n";

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
	       SERVER_IDLE_TIMEOUT_DEFAULT, SECONDS_LIMIT, RLB_FLOW_TIMEOUT_DEFAULT, SECONDS_LIMIT,
	       SERVE_GRACE_DEFAULT, SERVE_CONFIRM_DEFAULT_MS);
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
	OPT_NAME,
	OPT_FLOW_TIMEOUT,
	OPT_METRICS,
	OPT_TAKEOVER,
	OPT_GRACE,
	OPT_CONFIRM,
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
    {"name", required_argument, NULL, OPT_NAME},
    {"flow-timeout", required_argument, NULL, OPT_FLOW_TIMEOUT},
    {"metrics", required_argument, NULL, OPT_METRICS},
    {"takeover", no_argument, NULL, OPT_TAKEOVER},
    {"grace", required_argument, NULL, OPT_GRACE},
    {"confirm", required_argument, NULL, OPT_CONFIRM},
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
	struct cli_addr metrics_addr; /* --metrics, when given[OPT_METRICS] */
	uint16_t metrics_port;
	unsigned int grace_s;
	unsigned int confirm_ms;
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

/*
 * The rule of the library's pins (letters, digits, '.', '_', '-'; no leading '.'), checked here
 * so that a bad name is a usage error that costs nothing.
 */
static bool valid_name(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > RLB_NAME_MAX || s[0] == '.')
		return false;
	for (size_t i = 0; i < n; i++) {
		if (!isalnum((unsigned char)s[i]) && !strchr("._-", s[i]))
			return false;
	}
	return true;
}

/* "IPV4:PORT" or "[IPV6]:PORT"; a bare IPv6 address would leave the port ambiguous. */
static int parse_host_port(const char *s, struct cli_addr *addr, uint16_t *port)
{
	char host[INET6_ADDRSTRLEN + 2];
	const char *colon = strrchr(s, ':');
	bool bracketed = s[0] == '[';
	size_t len;

	if (!colon || colon == s)
		return -EINVAL;
	len = colon - s;
	if (bracketed) {
		if (len < 3 || s[len - 1] != ']')
			return -EINVAL;
		s++;
		len -= 2;
	}
	if (len >= sizeof(host))
		return -EINVAL;
	memcpy(host, s, len);
	host[len] = '\0';
	if (cli_parse_addr(host, addr) || cli_parse_port(colon + 1, true, port))
		return -EINVAL;
	/* brackets exactly for IPv6 */
	if ((addr->family == AF_INET6) != bracketed)
		return -EINVAL;
	return 0;
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
	case OPT_NAME:
		if (!valid_name(val))
			return usage_error("bad group name '%s': use 1 to %d letters, digits, '.', "
					   "'_' or '-', not starting with '.'",
					   val, RLB_NAME_MAX);
		a->group.name = val;
		break;
	case OPT_FLOW_TIMEOUT:
		if (cli_parse_uint(val, 1, SECONDS_LIMIT, &n))
			return usage_error("bad --flow-timeout '%s': give 1 to %d seconds", val,
					   SECONDS_LIMIT);
		a->group.flow_timeout = n;
		break;
	case OPT_METRICS:
		if (parse_host_port(val, &a->metrics_addr, &a->metrics_port))
			return usage_error("bad --metrics '%s': give ADDR:PORT, e.g. 127.0.0.1:9464 "
					   "or [::1]:9464",
					   val);
		break;
	case OPT_TAKEOVER:
		a->group.takeover = true;
		break;
	case OPT_GRACE:
		if (cli_parse_uint(val, 0, SECONDS_LIMIT, &n))
			return usage_error("bad --grace '%s': give 0 to %d seconds", val,
					   SECONDS_LIMIT);
		a->grace_s = n;
		break;
	case OPT_CONFIRM:
		if (cli_parse_uint(val, 0, 600000, &n))
			return usage_error("bad --confirm '%s': give 0 to 600000 ms", val);
		a->confirm_ms = n;
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
	a->grace_s = SERVE_GRACE_DEFAULT;
	a->confirm_ms = SERVE_CONFIRM_DEFAULT_MS;

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
	if (a->given[OPT_FLOW_TIMEOUT] && !a->group.udp)
		return usage_error("--flow-timeout applies to udp only: add --udp or drop it");
	if (a->group.takeover && a->group.policy == RLB_POLICY_KERNEL)
		return usage_error("--takeover needs a steering program: the kernel policy has none");
	if (a->group.takeover && !a->group.name && !a->group.port)
		return usage_error("--takeover needs the group: give --name or a fixed --port, "
				   "not 0");
	a->group.addr = a->addr.text;
	/* so that bpftool and the other reuselb commands find the running group */
	a->group.pin = true;
	a->server.pin_threads = a->group.policy == RLB_POLICY_CPU;
	return 0;
}

/* What the command line asks of the process. */
static void to_config(const struct serve_args *a, struct serve_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->group = a->group;
	cfg->server = a->server;
	cfg->grace_s = a->grace_s;
	cfg->confirm_ms = a->confirm_ms;
	if (a->given[OPT_METRICS]) {
		cfg->metrics_addr = a->metrics_addr.text;
		cfg->metrics_port = a->metrics_port;
	}
}

int cmd_serve(int argc, char **argv)
{
	struct serve_config cfg;
	struct serve_args a;

	if (parse_args(argc, argv, &a))
		return CLI_EXIT_USAGE;
	if (a.help) {
		print_help();
		return CLI_EXIT_OK;
	}
	to_config(&a, &cfg);
	switch (serve_run(&cfg)) {
	case 0:
		return CLI_EXIT_OK;
	case SERVE_REFUSED:
		return CLI_EXIT_USAGE;
	default:
		return CLI_EXIT_FAILURE;
	}
}
