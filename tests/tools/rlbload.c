// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * rlbload: a bounded load client for "reuselb serve" on loopback. It opens new connections
 * (UDP: new flows of one datagram) at a fixed rate, each from the next of many source
 * addresses, sends the request of the server's mode, checks the whole answer, and counts every
 * connection that was refused, reset, not answered in time, or answered wrongly. The zero-drop
 * tests run it across restarts and closes; one summary line says how it went.
 *
 * One thread, one epoll loop, non-blocking sockets: the rate is an open-loop schedule, so a
 * server that stalls shows up as timeouts, not as a client that slowed down with it.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include "cli/cli.h"

#define ANSWER_MAX 1024
#define EVENT_BATCH 256
/* failures described one by one on stderr before only the counts go on */
#define MAX_REPORTED 10

static const char usage[] =
	"Usage: rlbload -p PORT [-a ADDR] [--mode http|echo|id] [--udp] [-d SECONDS | -n COUNT]\n"
	"               [-r RATE] [-s SOURCES] [-c CONCURRENCY] [-t TIMEOUT_MS]\n"
	"\n"
	"Opens connections to a \"reuselb serve\" server at RATE per second, each from the next\n"
	"of SOURCES addresses 127.0.0.2, 127.0.0.3, ... (IPv4), sends the request of --mode and\n"
	"checks the whole answer: http \"GET /\" with Connection: close answered 200 with body\n"
	"\"worker N\"; echo a payload sent back whole, then end of file; id the line\n"
	"\"worker N\". With --udp each connection is a new flow of one datagram. Counts every\n"
	"connection refused, reset, unanswered within TIMEOUT_MS, or answered wrongly, and\n"
	"prints one line:\n"
	"  rlbload: N connections in S s, R/s (target T/s), max latency L ms: ok N refused N\n"
	"  reset N timeout N bad N error N\n"
	"SIGINT or SIGTERM stops starting new connections; those under way still count.\n"
	"Exit status: 0 all answered, 1 any failed, 2 usage error.\n"
	"\n"
	"  -p, --port PORT         the server's port (required)\n"
	"  -a, --addr ADDR         the server's numeric address (default 127.0.0.1)\n"
	"  -m, --mode MODE         http (default), echo or id\n"
	"  -u, --udp               datagrams (modes echo and id)\n"
	"  -d, --duration SECONDS  run this long, 1..3600 (default 5)\n"
	"  -n, --count COUNT       or make exactly COUNT connections, 1..100000000\n"
	"  -r, --rate RATE         connections per second, 1..1000000 (default 2000)\n"
	"  -s, --sources K         source addresses, 1..250 (default 100; IPv6: ::1 only)\n"
	"  -c, --concurrency N     at most N under way, 1..60000 (default 5000): a stalled\n"
	"                          server then shows up as latency, not as a lower rate\n"
	"  -t, --timeout MS        a connection's whole exchange, 1..600000 (default 5000)\n"
	"  -h, --help              this text\n";

enum mode { MODE_HTTP, MODE_ECHO, MODE_ID };
enum outcome { OK, REFUSED, RESET, TIMEOUT, BAD, ERROR, NR_OUTCOMES };
static const char *const outcome_names[NR_OUTCOMES] = { "ok",	   "refused", "reset",
							"timeout", "bad",     "error" };

struct conn {
	struct conn *prev, *next; /* under way, oldest first: the head times out first */
	int fd;
	bool connected;
	uint64_t start_ns;
	uint64_t seq;
	size_t req_len, sent, got;
	char req[64];
	char answer[ANSWER_MAX];
	char src[INET6_ADDRSTRLEN];
};

struct load {
	struct sockaddr_storage dst;
	socklen_t dst_len;
	enum mode mode;
	bool udp;
	unsigned int sources;
	uint64_t rate, total, timeout_ns;
	unsigned int concurrency;
	int epfd;
	struct conn *conns, *free_list, *oldest, *newest;
	unsigned int busy;
	uint64_t started, done, counts[NR_OUTCOMES], max_latency_ns;
	unsigned int reported;
};

static volatile sig_atomic_t stopping;

static void on_stop(int sig)
{
	(void)sig;
	stopping = 1;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/* cli_parse_uint, for the uint64_t options: unsigned long is 64 bits where this runs */
static int parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	unsigned long v;
	int err = cli_parse_uint(s, min, max, &v);

	if (!err)
		*out = v;
	return err;
}

static void unlink_conn(struct load *l, struct conn *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		l->oldest = c->next;
	if (c->next)
		c->next->prev = c->prev;
	else
		l->newest = c->prev;
}

static void finish(struct load *l, struct conn *c, enum outcome o, const char *why)
{
	uint64_t latency = now_ns() - c->start_ns;

	if (o != OK && l->reported++ < MAX_REPORTED)
		fprintf(stderr, "rlbload: connection %" PRIu64 " from %s: %s: %s\n", c->seq, c->src,
			outcome_names[o], why);
	l->counts[o]++;
	l->done++;
	if (latency > l->max_latency_ns)
		l->max_latency_ns = latency;
	/* closing takes the socket out of the epoll set too */
	if (c->fd >= 0)
		close(c->fd);
	unlink_conn(l, c);
	c->next = l->free_list;
	l->free_list = c;
	l->busy--;
}

static enum outcome of_errno(int err)
{
	switch (err) {
	case ECONNREFUSED:
		return REFUSED;
	case ECONNRESET:
	case EPIPE:
		return RESET;
	case ETIMEDOUT:
		return TIMEOUT;
	default:
		return ERROR;
	}
}

static void fail_errno(struct load *l, struct conn *c, int err)
{
	finish(l, c, of_errno(err), strerror(err));
}

/* "worker N\n" exactly, N a number. */
static bool worker_line(const char *s, size_t len)
{
	size_t i = 7;

	if (len < 9 || memcmp(s, "worker ", 7) || s[len - 1] != '\n')
		return false;
	for (; i < len - 1; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
	}
	return true;
}

/* The whole answer of a finished exchange: NULL if right, else what is wrong. */
static const char *check_answer(const struct load *l, struct conn *c)
{
	const char *body, *cl;
	unsigned long len;

	if (l->mode == MODE_ECHO)
		return c->got == c->req_len && !memcmp(c->answer, c->req, c->req_len) ?
			       NULL :
			       "the echo differs from what was sent";
	if (l->mode == MODE_ID)
		return worker_line(c->answer, c->got) ? NULL : "the answer is not \"worker N\"";
	c->answer[c->got] = '\0';
	if (strncmp(c->answer, "HTTP/1.1 200 ", 13))
		return c->got ? "the status is not 200" : "end of file before any answer";
	body = strstr(c->answer, "\r\n\r\n");
	cl = strcasestr(c->answer, "\r\nContent-Length:");
	if (!body || !cl || cl > body || sscanf(cl + 17, "%lu", &len) != 1)
		return "no whole response head with a Content-Length";
	body += 4;
	if ((size_t)(c->answer + c->got - body) != len)
		return "the body is not Content-Length long";
	if (!strcasestr(c->answer, "\r\nX-Reuselb-Worker:") || !worker_line(body, len))
		return "no worker named in the header and the body";
	return NULL;
}

static void set_events(struct load *l, struct conn *c, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = c };

	if (epoll_ctl(l->epfd, EPOLL_CTL_MOD, c->fd, &ev))
		fail_errno(l, c, errno);
}

/* Sends what is left of the request; echo over TCP then ends our side. */
static void send_request(struct load *l, struct conn *c)
{
	while (c->sent < c->req_len) {
		ssize_t n = send(c->fd, c->req + c->sent, c->req_len - c->sent, MSG_NOSIGNAL);

		if (n < 0 && errno == EAGAIN) {
			set_events(l, c, EPOLLOUT);
			return;
		}
		if (n < 0) {
			fail_errno(l, c, errno);
			return;
		}
		c->sent += n;
	}
	/* the server's answer to a whole echo is the bytes and then its own end of file */
	if (!l->udp && l->mode == MODE_ECHO && shutdown(c->fd, SHUT_WR)) {
		fail_errno(l, c, errno);
		return;
	}
	set_events(l, c, EPOLLIN);
}

static void on_readable(struct load *l, struct conn *c)
{
	for (;;) {
		ssize_t n = recv(c->fd, c->answer + c->got, ANSWER_MAX - 1 - c->got, 0);
		const char *wrong;

		if (n < 0 && errno == EAGAIN)
			return;
		if (n < 0) {
			fail_errno(l, c, errno);
			return;
		}
		c->got += n;
		/* a datagram is the whole answer; a stream's ends with the server's end of file */
		if (l->udp || n == 0) {
			wrong = check_answer(l, c);
			finish(l, c, wrong ? BAD : OK, wrong ? wrong : "");
			return;
		}
		if (c->got == ANSWER_MAX - 1) {
			finish(l, c, BAD, "the answer is longer than any right one");
			return;
		}
	}
}

static void on_event(struct load *l, struct conn *c, uint32_t events)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (!c->connected) {
		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) || err) {
			fail_errno(l, c, err ? err : errno);
			return;
		}
		c->connected = true;
		send_request(l, c);
		return;
	}
	if (events & EPOLLOUT)
		send_request(l, c);
	else
		on_readable(l, c);
}

static void source_of(const struct load *l, uint64_t seq, struct sockaddr_storage *ss,
		      socklen_t *len, char *text)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;

	memset(ss, 0, sizeof(*ss));
	if (l->dst.ss_family == AF_INET6) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_addr = in6addr_loopback;
		*len = sizeof(*sin6);
		strcpy(text, "::1");
		return;
	}
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = htonl(0x7f000002 + seq % l->sources);
	*len = sizeof(*sin);
	inet_ntop(AF_INET, &sin->sin_addr, text, INET6_ADDRSTRLEN);
}

/* What the mode asks; the echo's bytes differ per connection, so a mix-up shows. */
static void build_request(const struct load *l, struct conn *c)
{
	int n = 0;

	if (l->mode == MODE_HTTP)
		n = snprintf(c->req, sizeof(c->req),
			     "GET / HTTP/1.1\r\nHost: rlbload\r\nConnection: close\r\n\r\n");
	else if (l->mode == MODE_ECHO)
		n = snprintf(c->req, sizeof(c->req), "rlbload %" PRIu64 " %u\n", c->seq,
			     (unsigned int)rand());
	else if (l->udp)
		/* the id mode answers a connection unasked; a datagram has to ask */
		n = snprintf(c->req, sizeof(c->req), "rlbload %" PRIu64 "\n", c->seq);
	c->req_len = n;
}

static void start_one(struct load *l)
{
	struct conn *c = l->free_list;
	struct epoll_event ev = { .events = EPOLLOUT, .data.ptr = c };
	int type = (l->udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_NONBLOCK | SOCK_CLOEXEC, one = 1;
	struct sockaddr_storage src;
	socklen_t src_len;

	l->free_list = c->next;
	memset(c, 0, offsetof(struct conn, answer));
	c->seq = l->started++;
	c->start_ns = now_ns();
	c->prev = l->newest;
	if (l->newest)
		l->newest->next = c;
	else
		l->oldest = c;
	l->newest = c;
	l->busy++;
	build_request(l, c);
	source_of(l, c->seq, &src, &src_len, c->src);
	c->fd = socket(l->dst.ss_family, type, 0);
	if (c->fd < 0) {
		fail_errno(l, c, errno);
		return;
	}
	/* the port is chosen at connect(), per 4-tuple: many sources, many more flows */
	if (!l->udp)
		setsockopt(c->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
	if (bind(c->fd, (struct sockaddr *)&src, src_len) ||
	    (connect(c->fd, (struct sockaddr *)&l->dst, l->dst_len) && errno != EINPROGRESS)) {
		fail_errno(l, c, errno);
		return;
	}
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, c->fd, &ev)) {
		fail_errno(l, c, errno);
		return;
	}
	if (l->udp) {
		c->connected = true;
		send_request(l, c);
	}
}

static void expire(struct load *l, uint64_t now)
{
	while (l->oldest && now - l->oldest->start_ns >= l->timeout_ns)
		finish(l, l->oldest, TIMEOUT,
		       l->oldest->connected ? "no whole answer in time" : "no connection in time");
}

static void run(struct load *l)
{
	struct epoll_event events[EVENT_BATCH];
	uint64_t t0 = now_ns(), now = t0, end = 0;

	while (l->busy || (!stopping && l->started < l->total)) {
		int timeout_ms = 10, n;

		/* the schedule: connection i starts at t0 + i / rate, late if the cap holds it */
		while (!stopping && l->started < l->total && l->free_list &&
		       (l->started * 1000000000ull) / l->rate <= now - t0)
			start_one(l);
		n = epoll_wait(l->epfd, events, EVENT_BATCH, timeout_ms);
		for (int i = 0; i < n; i++)
			on_event(l, events[i].data.ptr, events[i].events);
		now = now_ns();
		expire(l, now);
	}
	end = now_ns();
	printf("rlbload: %" PRIu64 " connections in %.2f s, %.0f/s (target %" PRIu64
	       "/s), max latency %.1f ms:",
	       l->done, (end - t0) / 1e9, l->done / ((end - t0) / 1e9), l->rate,
	       l->max_latency_ns / 1e6);
	for (int o = 0; o < NR_OUTCOMES; o++)
		printf(" %s %" PRIu64, outcome_names[o], l->counts[o]);
	printf("\n");
}

static int parse_dst(const char *addr, uint64_t port, struct load *l)
{
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&l->dst;
	struct sockaddr_in *sin = (struct sockaddr_in *)&l->dst;

	if (inet_pton(AF_INET, addr, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		l->dst_len = sizeof(*sin);
		return 0;
	}
	if (inet_pton(AF_INET6, addr, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		l->dst_len = sizeof(*sin6);
		return 0;
	}
	return -EINVAL;
}

static int usage_error(const char *what, const char *val)
{
	fprintf(stderr, "rlbload: %s '%s'; see 'rlbload --help'\n", what, val);
	return 2;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "port", required_argument, NULL, 'p' },
		{ "addr", required_argument, NULL, 'a' },
		{ "mode", required_argument, NULL, 'm' },
		{ "udp", no_argument, NULL, 'u' },
		{ "duration", required_argument, NULL, 'd' },
		{ "count", required_argument, NULL, 'n' },
		{ "rate", required_argument, NULL, 'r' },
		{ "sources", required_argument, NULL, 's' },
		{ "concurrency", required_argument, NULL, 'c' },
		{ "timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	struct load l = { .mode = MODE_HTTP, .sources = 100, .rate = 2000, .concurrency = 5000 };
	uint64_t port = 0, duration = 5, count = 0, v, timeout_ms = 5000;
	const char *addr = "127.0.0.1";
	struct sigaction sa = { .sa_handler = on_stop };
	struct rlimit rl;
	int opt;

	while ((opt = getopt_long(argc, argv, "p:a:m:ud:n:r:s:c:t:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'p':
			if (parse_u64(optarg, 1, 65535, &port))
				return usage_error("bad port", optarg);
			break;
		case 'a':
			addr = optarg;
			break;
		case 'm':
			if (!strcmp(optarg, "http"))
				l.mode = MODE_HTTP;
			else if (!strcmp(optarg, "echo"))
				l.mode = MODE_ECHO;
			else if (!strcmp(optarg, "id"))
				l.mode = MODE_ID;
			else
				return usage_error("unknown mode (http, echo, id)", optarg);
			break;
		case 'u':
			l.udp = true;
			break;
		case 'd':
			if (parse_u64(optarg, 1, 3600, &duration))
				return usage_error("bad duration (1..3600 s)", optarg);
			break;
		case 'n':
			if (parse_u64(optarg, 1, 100000000, &count))
				return usage_error("bad count (1..100000000)", optarg);
			break;
		case 'r':
			if (parse_u64(optarg, 1, 1000000, &l.rate))
				return usage_error("bad rate (1..1000000 per second)", optarg);
			break;
		case 's':
			if (parse_u64(optarg, 1, 250, &v))
				return usage_error("bad number of sources (1..250)", optarg);
			l.sources = v;
			break;
		case 'c':
			if (parse_u64(optarg, 1, 60000, &v))
				return usage_error("bad concurrency (1..60000)", optarg);
			l.concurrency = v;
			break;
		case 't':
			if (parse_u64(optarg, 1, 600000, &timeout_ms))
				return usage_error("bad timeout (1..600000 ms)", optarg);
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			fputs(usage, stderr);
			return 2;
		}
	}
	if (optind < argc)
		return usage_error("unexpected argument", argv[optind]);
	if (!port) {
		fprintf(stderr, "rlbload: -p PORT is required; see 'rlbload --help'\n");
		return 2;
	}
	if (parse_dst(addr, port, &l))
		return usage_error("not a numeric IPv4 or IPv6 address", addr);
	if (l.udp && l.mode == MODE_HTTP) {
		fprintf(stderr, "rlbload: --udp needs --mode echo or id; see 'rlbload --help'\n");
		return 2;
	}
	l.total = count ? count : l.rate * duration;
	l.timeout_ns = timeout_ms * 1000000ull;

	/* every connection under way holds a descriptor */
	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur < l.concurrency + 64ull) {
		rl.rlim_cur = rl.rlim_max < l.concurrency + 64ull ? rl.rlim_max :
								    l.concurrency + 64;
		setrlimit(RLIMIT_NOFILE, &rl);
		if (rl.rlim_cur < l.concurrency + 64ull)
			l.concurrency = rl.rlim_cur > 128 ? rl.rlim_cur - 64 : 64;
	}
	l.conns = calloc(l.concurrency, sizeof(*l.conns));
	l.epfd = epoll_create1(EPOLL_CLOEXEC);
	if (!l.conns || l.epfd < 0) {
		fprintf(stderr, "rlbload: cannot set up: %s\n", strerror(errno));
		return 1;
	}
	for (unsigned int i = 0; i < l.concurrency; i++) {
		l.conns[i].next = l.free_list;
		l.free_list = &l.conns[i];
	}
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	srand(getpid());

	run(&l);
	close(l.epfd);
	free(l.conns);
	return l.counts[OK] == l.done ? 0 : 1;
}
