// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Hostile UDP input to the real binary: datagrams of every size and shape, QUIC-looking garbage
 * among them, are each steered by the program (none dropped) and echoed back exactly.
 *
 * For each policy of round-robin, hash and quic-cid:
 * 1. "$REUSELB serve -a 127.0.0.1 -p 0 -w 2 --udp --mode echo --policy P".
 * 2. Three rounds: from 8 client sockets in turn (8 flows), one datagram of every length 0-1500
 *    and of 2048, 4096, 8192, 16384, 32768, 65507 bytes, in random order, each of a random
 *    kind: random bytes; a QUIC long header (first byte 0x80-0xff, a version among 1, 2,
 *    0 (version negotiation) and random ones, a DCID length byte of any value, then random
 *    bytes); a QUIC short header (first byte 0x40-0x7f, then random bytes). Headers are cut by
 *    short lengths. At most 16 datagrams (one of more than 1500 bytes) wait for their echo at
 *    any time, and the echoes are read as they come, so no socket buffer on loopback fills.
 * 3. Every datagram comes back once, on the socket that sent it, byte for byte, within 2 s;
 *    nothing else comes back.
 * 4. "$REUSELB stats -p PORT --udp --json": the workers' steered plus the group's unsteered add
 *    up to the datagrams sent: the program dropped none.
 * 5. SIGTERM: exit status 0, and the lines "worker N: datagrams M" add up to the datagrams sent.
 * The seed of the generator is printed; RLBT_SEED=N replays a run.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "rlbtest.h"

#define NR_SOCKS 8
#define MAX_SMALL 1500
#define WINDOW 16
#define MAX_DGRAM 65507 /* the most a UDP datagram over IPv4 carries */
#define ECHO_TIMEOUT_MS 2000
#define CLIENT_RCVBUF (4 * 1024 * 1024)
#define NR_ROUNDS 3

static const size_t big_lengths[] = { 2048, 4096, 8192, 16384, 32768, MAX_DGRAM };
#define NR_BIG (sizeof(big_lengths) / sizeof(big_lengths[0]))
#define NR_DGRAMS (MAX_SMALL + 1 + NR_BIG)

struct dgram {
	size_t len;
	int sock;
	const char *kind;
	unsigned char *data;
	long sent_ms; /* 0: not sent yet or answered */
	bool answered;
};

/* Fills d->data with d->len bytes of one kind, cut wherever the length ends. */
static void fill(struct dgram *d)
{
	static const uint32_t versions[] = { 0x00000001, 0x6b3343cf, 0x00000000, 0xff00001d };
	unsigned char head[7];
	size_t n = 0;

	for (size_t i = 0; i < d->len; i++)
		d->data[i] = (unsigned char)rlbt_rnd();
	switch (rlbt_below(3)) {
	case 0:
		d->kind = "random";
		return;
	case 1: {
		uint32_t v = rlbt_below(2) ? versions[rlbt_below(4)] : (uint32_t)rlbt_rnd();

		d->kind = "quic long header";
		head[n++] = 0x80 | rlbt_below(0x80);
		head[n++] = v >> 24;
		head[n++] = v >> 16;
		head[n++] = v >> 8;
		head[n++] = v;
		/* mostly the lengths QUIC allows (0-20, 8 for ours), sometimes any byte */
		head[n++] = rlbt_below(4) ? (rlbt_below(2) ? 8 : rlbt_below(21)) : rlbt_below(256);
		break;
	}
	default:
		d->kind = "quic short header";
		head[n++] = 0x40 | rlbt_below(0x40);
		break;
	}
	memcpy(d->data, head, n < d->len ? n : d->len);
}

static int udp_socket(uint16_t port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	int fd, size = CLIENT_RCVBUF;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	/* as root: past net.core.rmem_max, so that no echo is lost to our own buffer */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) ||
	    connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

/*
 * Reads every echo waiting on the sockets (up to wait_ms for the first) and ticks off the
 * datagram it answers: the oldest waiting one of that socket with that length and content.
 * Returns the number of echoes matched; counts those that match nothing in *stray.
 */
static int read_echoes(const int *fds, struct dgram *d, int nr, unsigned char *buf, int wait_ms,
		       int *stray)
{
	struct pollfd p[NR_SOCKS];
	int matched = 0;

	for (int i = 0; i < NR_SOCKS; i++)
		p[i] = (struct pollfd){ .fd = fds[i], .events = POLLIN };
	if (poll(p, NR_SOCKS, wait_ms) <= 0)
		return 0;
	for (int i = 0; i < NR_SOCKS; i++) {
		for (int k = 0; k < 1024; k++) {
			ssize_t n = recv(fds[i], buf, MAX_DGRAM + 1, MSG_TRUNC);
			int j;

			if (n < 0)
				break;
			for (j = 0; j < nr; j++) {
				if (d[j].sent_ms && !d[j].answered && d[j].sock == i &&
				    d[j].len == (size_t)n && !memcmp(d[j].data, buf, n))
					break;
			}
			if (j == nr) {
				if (*stray < 5)
					fprintf(stderr,
						"socket %d: an echo of %zd bytes that matches "
						"no datagram sent\n",
						i, n);
				(*stray)++;
				continue;
			}
			d[j].answered = true;
			matched++;
		}
	}
	return matched;
}

/* Sums "steered" of every worker and "unsteered" in "reuselb stats --json" output. */
static int stats_totals(uint16_t port, uint64_t *steered, uint64_t *unsteered)
{
	const char *bin = getenv("REUSELB");
	char cmd[512], out[16384];
	size_t len;
	FILE *f;
	int status;

	*steered = *unsteered = 0;
	snprintf(cmd, sizeof(cmd), "timeout 10 '%s' stats -p %u --udp --json", bin, port);
	f = popen(cmd, "r");
	if (!f)
		return -errno;
	len = fread(out, 1, sizeof(out) - 1, f);
	out[len] = '\0';
	status = pclose(f);
	if (status != 0) {
		fprintf(stderr, "%s: status %d, output: %s\n", cmd, status, out);
		return -EPROTO;
	}
	for (const char *p = strstr(out, "\"steered\":"); p; p = strstr(p + 1, "\"steered\":"))
		*steered += strtoull(p + 10, NULL, 10);
	const char *u = strstr(out, "\"unsteered\":");

	if (!u) {
		fprintf(stderr, "no \"unsteered\" in: %s\n", out);
		return -EPROTO;
	}
	*unsteered = strtoull(u + 12, NULL, 10);
	return 0;
}

static uint64_t datagram_lines(const struct rlbt_server *s, int *lines)
{
	uint64_t total = 0;

	*lines = 0;
	for (const char *p = s->output; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
		unsigned int w;
		uint64_t n;

		if (sscanf(p, "worker %u: datagrams %" SCNu64, &w, &n) == 2) {
			total += n;
			(*lines)++;
		}
	}
	return total;
}

/*
 * One round: every length once, in random order, from the sockets in turn, each echo waited
 * for. Returns the datagrams sent; counts those never echoed in *lost and stray echoes in *stray.
 */
static int round_trip(const char *policy, const int *fds, struct dgram *d, unsigned char *arena,
		      unsigned char *buf, int *lost, int *stray)
{
	int next = 0, waiting = 0, answered = 0, n;

	/* lengths 0 .. MAX_SMALL and the big ones, shuffled */
	for (int i = 0; i < (int)NR_DGRAMS; i++) {
		d[i].len = i <= MAX_SMALL ? (size_t)i : big_lengths[i - MAX_SMALL - 1];
		d[i].sent_ms = 0;
		d[i].answered = false;
	}
	for (int i = NR_DGRAMS - 1; i > 0; i--) {
		int j = rlbt_below(i + 1);
		size_t t = d[i].len;

		d[i].len = d[j].len;
		d[j].len = t;
	}
	for (int i = 0; i < (int)NR_DGRAMS; i++) {
		d[i].data = arena;
		arena += d[i].len;
	}
	while (answered + *lost < (int)NR_DGRAMS) {
		long now = rlbt_now_ms();

		/* a big one waits alone, so that the server's buffer always has room */
		while (next < (int)NR_DGRAMS && waiting < WINDOW &&
		       (d[next].len <= MAX_SMALL || !waiting)) {
			struct dgram *g = &d[next];

			g->sock = next % NR_SOCKS;
			fill(g);
			if (!CHECK(send(fds[g->sock], g->data, g->len, 0) == (ssize_t)g->len,
				   "send %zu bytes: %s", g->len, strerror(errno)))
				return next;
			g->sent_ms = now;
			waiting++;
			next++;
			if (g->len > MAX_SMALL)
				break;
		}
		n = read_echoes(fds, d, next, buf, 50, stray);
		answered += n;
		waiting -= n;
		for (int j = 0; j < next; j++) {
			if (d[j].sent_ms && !d[j].answered &&
			    now - d[j].sent_ms > ECHO_TIMEOUT_MS) {
				if (*lost < 10)
					fprintf(stderr,
						"policy %s: no echo of %s, %zu bytes, first byte "
						"0x%02x, from socket %d\n",
						policy, d[j].kind, d[j].len,
						d[j].len ? d[j].data[0] : 0, d[j].sock);
				d[j].sent_ms = 0;
				(*lost)++;
				waiting--;
			}
		}
	}
	return next;
}

static void run_policy(const char *policy, struct dgram *d, unsigned char *arena,
		       unsigned char *buf)
{
	const char *argv[] = { "serve", "-a",	  "127.0.0.1", "-p",	   "0",	   "-w", "2",
			       "--udp", "--mode", "echo",      "--policy", policy, NULL };
	int fds[NR_SOCKS], nr_fds = 0, sent = 0, lost = 0, stray = 0, err, status, lines;
	uint64_t steered, unsteered, echoed;
	struct rlbt_server s;
	long start = rlbt_now_ms();

	err = rlbt_serve_start(argv, &s);
	if (!CHECK(!err, "serve --udp --policy %s did not start: %s", policy, strerror(-err)))
		return;
	for (; nr_fds < NR_SOCKS; nr_fds++) {
		fds[nr_fds] = udp_socket(s.port);
		if (!CHECK(fds[nr_fds] >= 0, "udp socket: %s", strerror(-fds[nr_fds])))
			goto out;
	}
	for (int r = 0; r < NR_ROUNDS && !lost; r++)
		sent += round_trip(policy, fds, d, arena, buf, &lost, &stray);
	printf("policy %s: %d datagrams sent, %d echoed, %d lost, %d stray, in %ld ms\n", policy,
	       sent, sent - lost, lost, stray, rlbt_now_ms() - start);
	CHECK(sent == NR_ROUNDS * (int)NR_DGRAMS && !lost,
	      "policy %s: %d of %d datagrams sent and echoed, %d lost", policy, sent - lost,
	      NR_ROUNDS * (int)NR_DGRAMS, lost);
	CHECK(!stray, "policy %s: %d echoes that match no datagram sent", policy, stray);

	err = stats_totals(s.port, &steered, &unsteered);
	if (CHECK(!err, "reuselb stats -p %u --udp --json: %s", s.port, strerror(-err)))
		CHECK(steered + unsteered == (uint64_t)sent,
		      "policy %s: steered %" PRIu64 " + unsteered %" PRIu64 " != %d datagrams sent",
		      policy, steered, unsteered, sent);
out:
	status = rlbt_serve_stop(&s);
	CHECK(status == 0, "serve --udp --policy %s exited with %d after SIGTERM", policy, status);
	echoed = datagram_lines(&s, &lines);
	CHECK(lines == 2 && echoed == (uint64_t)sent,
	      "policy %s: %d lines \"worker N: datagrams M\" adding up to %" PRIu64
	      ", want 2 adding up to %d",
	      policy, lines, echoed, sent);
	for (int i = 0; i < nr_fds; i++)
		close(fds[i]);
	rlbt_serve_free(&s);
}

int main(void)
{
	static const char *const policies[] = { "round-robin", "hash", "quic-cid" };
	static struct dgram d[NR_DGRAMS];
	unsigned char *buf, *arena;
	size_t total = 0;

	rlbt_require_root();
	rlbt_seed();
	fflush(stdout);
	/* every datagram's bytes, kept until its echo is checked */
	for (size_t i = 0; i < NR_DGRAMS; i++)
		total += i <= MAX_SMALL ? i : big_lengths[i - MAX_SMALL - 1];
	buf = malloc(MAX_DGRAM + 1);
	arena = malloc(total);
	if (!CHECK(buf && arena, "out of memory"))
		return rlbt_finish();
	for (size_t i = 0; i < ARRAY_SIZE(policies); i++) {
		rlbt_case_begin(policies[i]);
		run_policy(policies[i], d, arena, buf);
		rlbt_case_end();
	}
	free(arena);
	free(buf);
	return rlbt_finish();
}
