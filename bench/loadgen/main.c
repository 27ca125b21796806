// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* loadgen: options, threads, and the report that bench/run reads. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loadgen.h"

#define MAX_THREADS 64
#define MAX_SLOTS 60000

static const char usage[] =
	"Usage: loadgen -p PORT [-a ADDR] [-m MODE] [-P PROTO] [-c SLOTS] [-t THREADS]\n"
	"               [-s SOURCES] [-r RATE] [-d SECONDS] [-W SECONDS] [-b PCT:US] [-T MS]\n"
	"               [-o FILE]\n"
	"\n"
	"Load a server on loopback, and report its rate, latency and per-worker share.\n"
	"\n"
	"  -a ADDR      numeric loopback address of the server (default 127.0.0.1)\n"
	"  -p PORT      its port (required)\n"
	"  -m MODE      conn: a new connection per request; keepalive: requests on long-lived\n"
	"               connections; udp: a datagram per request (default conn)\n"
	"  -P PROTO     http (GET, the worker in X-Reuselb-Worker), id (\"worker <id>\"\n"
	"               lines), or echo (udp only) (default http; id with -m udp)\n"
	"  -c SLOTS     requests in flight at once: connections or sockets (default 64)\n"
	"  -t THREADS   threads, each with a share of the slots (default 1)\n"
	"  -s SOURCES   spread slots over 127.0.0.2 .. 127.0.0.(1+SOURCES), 0 for the kernel's\n"
	"               choice (default 253, the most; IPv4 only)\n"
	"  -r RATE      requests/s, open loop; 0 for as fast as answered, closed loop (default 0)\n"
	"  -d SECONDS   measured time (default 3)\n"
	"  -W SECONDS   warm-up before it, neither counted nor timed (default 0.5)\n"
	"  -b PCT:US    http: PCT % of requests ask for /burn?us=US, timed apart from the rest\n"
	"  -T MS        a request unanswered that long counts as a timeout, and so does one still\n"
	"               unanswered at the end after half the measured time (default 2000)\n"
	"  -o FILE      write the latency CDF (\"microseconds fraction\" lines) to FILE\n"
	"\n"
	"Output: \"name value\" lines: requests, rate, errors (and first_error, the first one's\n"
	"cause), timeouts, unsent (open loop: due but never started), p50_us p99_us p999_us\n"
	"max_us mean_us, the same with burn_ for burning requests, and one \"worker ID COUNT\"\n"
	"line per worker that answered.\n"
	"Exit status: 0 when answers came, 1 when none did or the run failed, 2 usage error.\n"
	"\n"
	"EXAMPLES:\n"
	"  loadgen -p 8080 -m conn -d 5                 # connections/s, closed loop\n"
	"  loadgen -p 8080 -m conn -r 2000 -b 5:2000    # 2000/s open loop, 5 % burn 2 ms\n"
	"  loadgen -p 8080 -m keepalive -c 4 -s 4       # 4 clients, one connection each\n"
	"  loadgen -p 5300 -m udp -P id                 # datagrams/s\n";

static int usage_error(const char *what, const char *val)
{
	fprintf(stderr, "loadgen: %s '%s'; see loadgen -h\n", what, val);
	return -EINVAL;
}

static int parse_uint(const char *s, unsigned long max, unsigned int *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v > max || s[0] == '-')
		return -EINVAL;
	*out = v;
	return 0;
}

static int parse_seconds(const char *s, uint64_t *ns)
{
	char *end;
	double v;

	v = strtod(s, &end);
	if (end == s || *end || !(v >= 0 && v <= 3600))
		return -EINVAL;
	*ns = v * 1e9;
	return 0;
}

static int parse_target(const char *addr, unsigned int port, struct lg_config *cfg)
{
	struct sockaddr_in *in = (struct sockaddr_in *)&cfg->target;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&cfg->target;

	if (inet_pton(AF_INET, addr, &in->sin_addr) == 1) {
		/* this tool loads servers on this machine only */
		if ((ntohl(in->sin_addr.s_addr) >> 24) != 127)
			return -EINVAL;
		in->sin_family = AF_INET;
		in->sin_port = htons(port);
		cfg->target_len = sizeof(*in);
		return 0;
	}
	if (inet_pton(AF_INET6, addr, &in6->sin6_addr) == 1 &&
	    IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr)) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(port);
		cfg->target_len = sizeof(*in6);
		return 0;
	}
	return -EINVAL;
}

struct args {
	struct lg_config cfg;
	const char *cdf_path;
	bool help;
};

static int parse_args(int argc, char **argv, struct args *a)
{
	const char *addr = "127.0.0.1", *mode = "conn", *proto = NULL;
	unsigned int port = 0, timeout_ms = 2000;
	struct lg_config *cfg = &a->cfg;
	char *colon;
	int opt;

	memset(a, 0, sizeof(*a));
	cfg->nr_sources = LG_MAX_SOURCES;
	cfg->nr_slots = 64;
	cfg->nr_threads = 1;
	cfg->duration_ns = 3000000000ull;
	cfg->warmup_ns = 500000000ull;
	while ((opt = getopt(argc, argv, "a:p:m:P:c:t:s:r:d:W:b:T:o:h")) != -1) {
		switch (opt) {
		case 'a':
			addr = optarg;
			break;
		case 'p':
			if (parse_uint(optarg, 65535, &port) || !port)
				return usage_error("bad port", optarg);
			break;
		case 'm':
			mode = optarg;
			break;
		case 'P':
			proto = optarg;
			break;
		case 'c':
			if (parse_uint(optarg, MAX_SLOTS, &cfg->nr_slots) || !cfg->nr_slots)
				return usage_error("bad number of slots", optarg);
			break;
		case 't':
			if (parse_uint(optarg, MAX_THREADS, &cfg->nr_threads) || !cfg->nr_threads)
				return usage_error("bad number of threads", optarg);
			break;
		case 's':
			if (parse_uint(optarg, LG_MAX_SOURCES, &cfg->nr_sources))
				return usage_error("bad number of source addresses", optarg);
			break;
		case 'r':
			cfg->rate = strtod(optarg, &colon);
			if (colon == optarg || *colon || !(cfg->rate >= 0 && cfg->rate <= 1e7))
				return usage_error("bad rate", optarg);
			break;
		case 'd':
			if (parse_seconds(optarg, &cfg->duration_ns) || !cfg->duration_ns)
				return usage_error("bad duration", optarg);
			break;
		case 'W':
			if (parse_seconds(optarg, &cfg->warmup_ns))
				return usage_error("bad warm-up", optarg);
			break;
		case 'b':
			colon = strchr(optarg, ':');
			if (!colon)
				return usage_error("bad burn mix (PCT:US)", optarg);
			*colon = '\0';
			if (parse_uint(optarg, 100, &cfg->burn_pct) ||
			    parse_uint(colon + 1, 1000000, &cfg->burn_us))
				return usage_error("bad burn mix (PCT:US)", optarg);
			break;
		case 'T':
			if (parse_uint(optarg, 600000, &timeout_ms) || !timeout_ms)
				return usage_error("bad timeout", optarg);
			break;
		case 'o':
			a->cdf_path = optarg;
			break;
		case 'h':
			a->help = true;
			return 0;
		default:
			fprintf(stderr, "see loadgen -h\n");
			return -EINVAL;
		}
	}
	if (optind < argc)
		return usage_error("unexpected argument", argv[optind]);
	if (!port)
		return usage_error("missing port", "-p");
	if (parse_target(addr, port, cfg))
		return usage_error("not a loopback address", addr);
	cfg->timeout_ns = timeout_ms * 1000000ull;
	if (!strcmp(mode, "conn"))
		cfg->mode = LG_MODE_CONN;
	else if (!strcmp(mode, "keepalive"))
		cfg->mode = LG_MODE_KEEPALIVE;
	else if (!strcmp(mode, "udp"))
		cfg->mode = LG_MODE_UDP;
	else
		return usage_error("unknown mode", mode);
	if (!proto)
		proto = cfg->mode == LG_MODE_UDP ? "id" : "http";
	if (!strcmp(proto, "http") && cfg->mode != LG_MODE_UDP)
		cfg->proto = LG_PROTO_HTTP;
	else if (!strcmp(proto, "id") && cfg->mode != LG_MODE_KEEPALIVE)
		cfg->proto = LG_PROTO_ID;
	else if (!strcmp(proto, "echo") && cfg->mode == LG_MODE_UDP)
		cfg->proto = LG_PROTO_ECHO;
	else
		return usage_error("protocol does not go with the mode", proto);
	if (cfg->burn_pct && cfg->proto != LG_PROTO_HTTP)
		return usage_error("a burn mix needs http", proto);
	if (cfg->nr_slots < cfg->nr_threads)
		return usage_error("fewer slots than threads", "-c");
	return 0;
}

static void *thread_main(void *arg)
{
	struct lg_thread *t = arg;

	return (void *)(intptr_t)lg_thread_run(t);
}

static void print_latency(const char *prefix, const struct hist *h)
{
	printf("%sp50_us %.1f\n", prefix, hist_quantile(h, 0.5) / 1e3);
	printf("%sp99_us %.1f\n", prefix, hist_quantile(h, 0.99) / 1e3);
	printf("%sp999_us %.1f\n", prefix, hist_quantile(h, 0.999) / 1e3);
	printf("%smax_us %.1f\n", prefix, h->max_ns / 1e3);
	printf("%smean_us %.1f\n", prefix, h->count ? h->sum_ns / 1e3 / h->count : 0.0);
}

static void report(const struct lg_config *cfg, const struct lg_result *r)
{
	uint64_t answered = r->lat.count + r->burn_lat.count;

	printf("requests %" PRIu64 "\n", answered);
	printf("rate %.1f\n", answered / (cfg->duration_ns / 1e9));
	printf("errors %" PRIu64 "\n", r->errors);
	if (r->errors)
		printf("first_error %s\n", strerror(-r->first_error));
	printf("timeouts %" PRIu64 "\n", r->timeouts);
	printf("unsent %" PRIu64 "\n", r->unsent);
	print_latency("", &r->lat);
	if (cfg->burn_pct)
		print_latency("burn_", &r->burn_lat);
	for (unsigned int i = 0; i < r->nr_workers; i++)
		printf("worker %" PRIu64 " %" PRIu64 "\n", r->workers[i].id, r->workers[i].count);
	if (r->unknown_worker)
		printf("worker ? %" PRIu64 "\n", r->unknown_worker);
}

static void merge(struct lg_result *dst, const struct lg_result *src)
{
	hist_merge(&dst->lat, &src->lat);
	hist_merge(&dst->burn_lat, &src->burn_lat);
	if (!dst->errors)
		dst->first_error = src->first_error;
	dst->errors += src->errors;
	dst->timeouts += src->timeouts;
	dst->unsent += src->unsent;
	dst->unknown_worker += src->unknown_worker;
	for (unsigned int i = 0; i < src->nr_workers; i++)
		lg_count_worker(dst, src->workers[i].id, src->workers[i].count);
}

int main(int argc, char **argv)
{
	static struct lg_thread threads[MAX_THREADS];
	static struct lg_result total;
	pthread_t tids[MAX_THREADS];
	unsigned int first_slot = 0;
	int err = 0, ret;
	struct args a;

	if (parse_args(argc, argv, &a))
		return 2;
	if (a.help) {
		printf("%s", usage);
		return 0;
	}
	for (unsigned int i = 0; i < a.cfg.nr_threads; i++) {
		struct lg_thread *t = &threads[i];

		t->cfg = &a.cfg;
		t->index = i;
		t->nr_slots =
			a.cfg.nr_slots / a.cfg.nr_threads + (i < a.cfg.nr_slots % a.cfg.nr_threads);
		t->first_src = first_slot;
		first_slot += t->nr_slots;
		ret = pthread_create(&tids[i], NULL, thread_main, t);
		if (ret) {
			fprintf(stderr, "loadgen: cannot start a thread: %s\n", strerror(ret));
			return 1;
		}
	}
	for (unsigned int i = 0; i < a.cfg.nr_threads; i++) {
		void *res;

		pthread_join(tids[i], &res);
		if ((intptr_t)res && !err)
			err = (intptr_t)res;
		merge(&total, &threads[i].res);
	}
	if (err) {
		fprintf(stderr, "loadgen: %s\n", strerror(-err));
		return 1;
	}
	report(&a.cfg, &total);
	if (a.cdf_path) {
		FILE *f = fopen(a.cdf_path, "w");

		if (!f) {
			fprintf(stderr, "loadgen: cannot write %s: %s\n", a.cdf_path,
				strerror(errno));
			return 1;
		}
		hist_write_cdf(&total.lat, f);
		fclose(f);
	}
	return total.lat.count + total.burn_lat.count ? 0 : 1;
}
