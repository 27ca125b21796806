// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * reuselb serve: the command line and its help. The process itself (group, workers, metrics,
 * signals, handover) is user/server/serve.c.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "cli/cli.h"
#include "server/serve.h"

#define MAX_CONNS_LIMIT 1000000
#define IDLE_TIMEOUT_LIMIT 86400
#define SECONDS_LIMIT 86400
#define CONFIRM_LIMIT 600000

#define CMD "serve"

static const char usage[] =
	"Usage: reuselb serve -p PORT [-a ADDR] [-w N] [--policy NAME] [--mode MODE]\n"
	"                     [--udp] [-b N] [--max-conns N] [--idle-timeout SECS]\n"
	"                     [--name GROUP] [--flow-timeout SECS] [--flow-table N]\n"
	"                     [--udp-flows on|off]\n"
	"                     [--metrics ADDR:PORT] [--takeover] [--grace SECS]\n"
	"                     [--confirm MS] [--canary PCT] [--shed-window SECS]\n"
	"                     [--defer-accept] [-v]\n"
	"\n"
	"Serve a SO_REUSEPORT group: one socket and one thread per worker, and a BPF\n"
	"program that picks the worker of each new connection (or datagram).\n"
	"\n";

/* Help strings split where the help breaks its lines. */
/* clang-format off */
static const struct cli_option options[] = {
	{ "addr", 'a', "ADDR",
	  "numeric IPv4 or IPv6 address to bind\n"
	  "(default 0.0.0.0; :: for IPv6)" },
	{ "port", 'p', "PORT", "port to bind, 0 for any free one (required)" },
	{ "workers", 'w', "N",
	  "workers, 1 to " CLI_STR(RLB_MAX_WORKERS)
	  " (default: online CPUs, at most " CLI_STR(RLB_MAX_WORKERS) ")" },
	{ "policy", CLI_OPT_POLICY, "NAME", "how the program picks a worker (default round-robin)" },
	{ "mode", CLI_OPT_MODE, "MODE", "what the workers answer (default http; see Modes)" },
	{ "udp", CLI_OPT_UDP, NULL, "datagram sockets instead of TCP (modes echo and id)" },
	{ "backlog", 'b', "N", "listen backlog per socket (tcp; default SOMAXCONN)" },
	{ "max-conns", CLI_OPT_MAX_CONNS, "N",
	  "open connections per worker, more are closed at once\n"
	  "(tcp; 1 to " CLI_STR(MAX_CONNS_LIMIT) ", default " CLI_STR(SERVER_MAX_CONNS_DEFAULT) ")" },
	{ "idle-timeout", CLI_OPT_IDLE_TIMEOUT, "SECS",
	  "close connections idle that long, 0 never\n"
	  "(tcp; up to " CLI_STR(IDLE_TIMEOUT_LIMIT)
	  ", default " CLI_STR(SERVER_IDLE_TIMEOUT_DEFAULT) ")" },
	{ "name", CLI_OPT_NAME, "GROUP",
	  "name of the group for its pins and the other commands:\n"
	  "letters, digits, '.', '_', '-' (default tcp-PORT or\n"
	  "udp-PORT; those names are only for that port's group)" },
	{ "flow-timeout", CLI_OPT_FLOW_TIMEOUT, "SECS",
	  "udp: a flow stays on the worker that had it until it has\n"
	  "been quiet this long, 1 to " CLI_STR(SECONDS_LIMIT)
	  " (default " CLI_STR(RLB_FLOW_TIMEOUT_DEFAULT) "); after a\n"
	  "handover, the old instance leaves once its flows are\n"
	  "this quiet" },
	{ "flow-table", CLI_OPT_FLOW_TABLE, "N",
	  "udp: flows remembered, " CLI_STR(RLB_FLOW_TABLE_MIN) " to " CLI_STR(RLB_FLOW_TABLE_MAX)
	  " (default " CLI_STR(RLB_MAX_FLOWS) ");\n"
	  "the oldest are evicted when it is full, and those evicted\n"
	  "before --flow-timeout are counted (reuselb stats): give\n"
	  "at least new flows per second x flow timeout. A takeover\n"
	  "keeps the live table's size (another is refused)" },
	{ "udp-flows", CLI_OPT_UDP_FLOWS, "on|off",
	  "udp: off remembers no flows: the policy steers every\n"
	  "datagram (DNS-like traffic, each query alone); a restart\n"
	  "then moves a source with its next datagram (default on)" },
	{ "metrics", CLI_OPT_METRICS, "ADDR:PORT",
	  "serve Prometheus metrics at http://ADDR:PORT/metrics\n"
	  "(IPv6: [ADDR]:PORT; port 0 picks a free one); off unless\n"
	  "given" },
	{ "takeover", CLI_OPT_TAKEOVER, NULL,
	  "take over the live group of the same name and port from\n"
	  "the instance serving it (a rolling restart); with none\n"
	  "live, just serve it" },
	{ "grace", CLI_OPT_GRACE, "SECS",
	  "once a successor has taken over: finish the open\n"
	  "connections (udp: the old flows) for at most this long,\n"
	  "0 to " CLI_STR(SECONDS_LIMIT) " (default " CLI_STR(SERVE_GRACE_DEFAULT) ")" },
	{ "confirm", CLI_OPT_CONFIRM, "MS",
	  "keep serving beside a successor until it has served\n"
	  "this long, 0 to " CLI_STR(CONFIRM_LIMIT) " ms (default "
	  CLI_STR(SERVE_CONFIRM_DEFAULT_MS) "); if it dies\n"
	  "first, take the group back" },
	{ "canary", CLI_OPT_CANARY, "PCT",
	  "with --takeover: join as a canary that gets PCT % (0 to\n"
	  "100) of new connections and flows beside the live\n"
	  "instance instead of all of them; then reuselb rollout\n"
	  "sets the share, promotes it or rolls it back" },
	{ "shed-window", CLI_OPT_SHED_WINDOW, "SECS",
	  "http: once a successor has taken over (or a rollout\n"
	  "promoted or rolled back), end the keep-alive connections\n"
	  "a few at a time over this long, not each with its next\n"
	  "answer; at most --grace (a longer one is cut to it), 0 to\n"
	  CLI_STR(SECONDS_LIMIT) " (default 0: with the next answer)" },
	{ "defer-accept", CLI_OPT_DEFER_ACCEPT, NULL,
	  "http: the kernel hands a connection over only once its\n"
	  "request is in (TCP_DEFER_ACCEPT, as nginx's listen ...\n"
	  "deferred): 5 system calls per short connection instead\n"
	  "of 6-7. The kernel then counts each connection's final\n"
	  "ACK, which it discards while it defers, in the listener's\n"
	  "drops (reuselb stats, reuselb_listen_drops_total)" },
	CLI_VERBOSE_HELP_OPTIONS,
	{},
};
/* clang-format on */

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
	"  reuselb_policy_info{policy=\"NAME\"} 1; with --udp also reuselb_flow_table_size\n"
	"  and reuselb_flows_evicted_total (flows evicted before their timeout, counted\n"
	"  once a second: a lower bound). Under the kernel policy there is no\n"
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
	"  keep-alive: with each next answer, or a few at a time over --shed-window),\n"
	"  and exits 0 once they are done or --grace has passed. A UDP\n"
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

static void print_policies(FILE *f)
{
	fprintf(f, "\nPolicies:\n");
	for (int p = 0; p < RLB_POLICY__COUNT; p++)
		fprintf(f, "  %-12s %s%s\n", rlb_policy_info(p)->name, rlb_policy_info(p)->help,
			rlb_policy_info(p)->needs & RLB_NEEDS_UDP ? " (udp)" : "");
}

struct serve_args {
	struct cli_common common; /* -v, -h: serve reads its -p, --udp and --name itself */
	struct cli_addr addr;
	struct rlb_group_opts group;
	struct server_opts server;
	bool metrics; /* --metrics was given */
	struct cli_addr metrics_addr;
	uint16_t metrics_port;
	unsigned int grace_s;
	unsigned int confirm_ms;
	unsigned int shed_window_s;
};

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

/* serve's own options; -p allows 0 here. --udp and --name are the shared ones. */
static int serve_option(void *args, const struct cli_parser *p, int opt, const char *val)
{
	struct serve_args *a = args;
	unsigned long n = 0;
	int err = 0;

	switch (opt) {
	case 'a':
		if (cli_parse_addr(val, &a->addr))
			return cli_usage_error(
				CMD, "bad address '%s': give a numeric IPv4 or IPv6 address", val);
		break;
	case 'p':
		if (cli_parse_port(val, true, &a->group.port))
			return cli_usage_error(
				CMD, "bad port '%s': give 1 to 65535, or 0 for any free port", val);
		break;
	case 'w':
		err = cli_uint_option(p, opt, val, 1, RLB_MAX_WORKERS, "", &n);
		a->group.nr_workers = n;
		break;
	case CLI_OPT_POLICY:
		if (rlb_policy_parse(val, &a->group.policy))
			return cli_usage_error(CMD, "unknown policy '%s': choose one of %s", val,
					       rlb_policy_names());
		break;
	case CLI_OPT_MODE:
		if (cli_parse_mode(val, &a->server.mode))
			return cli_usage_error(
				CMD, "unknown mode '%s': choose one of http, echo, id", val);
		break;
	case 'b':
		err = cli_uint_option(p, opt, val, 1, INT_MAX, "", &n);
		a->group.backlog = n;
		break;
	case CLI_OPT_MAX_CONNS:
		err = cli_uint_option(p, opt, val, 1, MAX_CONNS_LIMIT, "", &n);
		a->server.max_conns = n;
		break;
	case CLI_OPT_IDLE_TIMEOUT:
		err = cli_uint_option(p, opt, val, 0, IDLE_TIMEOUT_LIMIT, " seconds (0: never)",
				      &n);
		a->server.idle_timeout_s = n;
		break;
	case CLI_OPT_FLOW_TIMEOUT:
		err = cli_uint_option(p, opt, val, 1, SECONDS_LIMIT, " seconds", &n);
		a->group.flow_timeout = n;
		break;
	case CLI_OPT_FLOW_TABLE:
		err = cli_uint_option(p, opt, val, RLB_FLOW_TABLE_MIN, RLB_FLOW_TABLE_MAX, " flows",
				      &n);
		a->group.flow_table = n;
		break;
	case CLI_OPT_UDP_FLOWS:
		if (strcmp(val, "on") && strcmp(val, "off"))
			return cli_usage_error(CMD, "bad --udp-flows '%s': give on or off", val);
		a->group.no_flows = !strcmp(val, "off");
		break;
	case CLI_OPT_METRICS:
		a->metrics = true;
		if (parse_host_port(val, &a->metrics_addr, &a->metrics_port))
			return cli_usage_error(
				CMD,
				"bad --metrics '%s': give ADDR:PORT, e.g. 127.0.0.1:9464 "
				"or [::1]:9464",
				val);
		break;
	case CLI_OPT_TAKEOVER:
		a->group.takeover = true;
		break;
	case CLI_OPT_GRACE:
		err = cli_uint_option(p, opt, val, 0, SECONDS_LIMIT, " seconds", &n);
		a->grace_s = n;
		break;
	case CLI_OPT_CONFIRM:
		err = cli_uint_option(p, opt, val, 0, CONFIRM_LIMIT, " ms", &n);
		a->confirm_ms = n;
		break;
	case CLI_OPT_SHED_WINDOW:
		err = cli_uint_option(p, opt, val, 0, SECONDS_LIMIT, " seconds", &n);
		a->shed_window_s = n;
		break;
	case CLI_OPT_DEFER_ACCEPT:
		a->server.defer_accept = true;
		break;
	case CLI_OPT_CANARY:
		err = cli_uint_option(p, opt, val, 0, 100, " percent", &n);
		a->group.canary = true;
		a->group.canary_share = n;
		break;
	default:
		/* --udp, --name, -v and -h */
		return 1;
	}
	return err;
}

/* After the options: what they mean together. */
static int serve_operands(void *args, struct cli_parser *p)
{
	static const int tcp_only[] = { 'b', CLI_OPT_MAX_CONNS, CLI_OPT_IDLE_TIMEOUT,
					CLI_OPT_SHED_WINDOW, CLI_OPT_DEFER_ACCEPT };
	struct serve_args *a = args;

	if (cli_operands_at_most(p, 0))
		return -EINVAL;
	a->group.udp = a->server.udp = a->common.target.udp;
	a->group.name = a->common.target.name;
	if (!p->given['p'])
		return cli_usage_error(CMD, "missing --port (0 picks any free port)");
	if (a->group.udp && a->server.mode == SERVER_MODE_HTTP)
		return cli_usage_error(CMD,
				       "--udp needs --mode echo or --mode id (http is tcp only)");
	for (size_t i = 0; a->group.udp && i < sizeof(tcp_only) / sizeof(tcp_only[0]); i++) {
		if (p->given[tcp_only[i]])
			return cli_usage_error(CMD, "--%s applies to tcp only, not with --udp",
					       cli_option_name(p, tcp_only[i]));
	}
	if (p->given[CLI_OPT_DEFER_ACCEPT] && !a->group.udp && a->server.mode != SERVER_MODE_HTTP)
		return cli_usage_error(CMD, "--defer-accept applies to --mode http only");
	if (p->given[CLI_OPT_FLOW_TIMEOUT] && !a->group.udp)
		return cli_usage_error(CMD,
				       "--flow-timeout applies to udp only: add --udp or drop it");
	if (p->given[CLI_OPT_FLOW_TABLE] && !a->group.udp)
		return cli_usage_error(CMD,
				       "--flow-table applies to udp only: add --udp or drop it");
	if (p->given[CLI_OPT_UDP_FLOWS] && !a->group.udp)
		return cli_usage_error(CMD,
				       "--udp-flows applies to udp only: add --udp or drop it");
	if (a->group.takeover && a->group.policy == RLB_POLICY_KERNEL)
		return cli_usage_error(
			CMD, "--takeover needs a steering program: the kernel policy has none");
	if (a->group.canary && !a->group.takeover)
		return cli_usage_error(CMD, "--canary joins a live group: add --takeover");
	if (a->group.takeover && !a->group.name && !a->group.port)
		return cli_usage_error(CMD,
				       "--takeover needs the group: give --name or a fixed --port, "
				       "not 0");
	/* tcp-N and udp-N belong to port N: refused before anything is bound */
	if (a->group.name && rlb_check_group_name(a->group.name, a->group.udp, a->group.port))
		return cli_usage_error(CMD, "%s", rlb_last_error());
	a->group.addr = a->addr.text;
	/* so that bpftool and the other reuselb commands find the running group */
	a->group.pin = true;
	a->server.pin_threads = rlb_policy_info(a->group.policy)->needs & RLB_NEEDS_PINNED_THREADS;
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
	/* the old instance must still be done within its grace period */
	cfg->server.shed_window_ms =
		(a->shed_window_s < a->grace_s ? a->shed_window_s : a->grace_s) * 1000u;
	if (a->metrics) {
		cfg->metrics_addr = a->metrics_addr.text;
		cfg->metrics_port = a->metrics_port;
	}
}

static void set_defaults(struct serve_args *a)
{
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
}

static const struct cli_command command = {
	.name = CMD,
	.usage = usage,
	.options = options,
	.more = usage_modes,
	.own = serve_option,
	.help_extra = print_policies,
};

int cmd_serve(int argc, char **argv)
{
	struct serve_config cfg;
	struct serve_args a;
	int ret;

	set_defaults(&a);
	ret = cli_begin(&command, argc, argv, &a.common, &a, serve_operands);
	if (ret >= 0)
		return ret;
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
