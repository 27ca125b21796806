// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * quic-cid steers a QUIC datagram to the worker named in its destination connection ID,
 * hashes what carries no CID of ours, and loses nothing, whatever the datagram holds.
 *
 * Every datagram below comes from its own socket on 127.0.1.N (see SRC_*), sent to a
 * UDP group of 4 workers on 127.0.0.1 (ephemeral port). Each one's worker is predicted by a
 * model of the program written from the specs: the version-independent header (RFC 8999),
 * reuselb/cid.h's layout with the group's seed read from the kernel, hash.h's 4-tuple hash,
 * and the flow table (a datagram of a known 4-tuple goes where its flow went). Datagrams are
 * received on the workers' sockets and matched to what was sent by source address and port.
 *
 * 1. 50 short-header datagrams (first byte 0x40 | random low bits), each with a new CID minted
 *    for worker 3 (rlb_ctl_cid_mint) under a different host id: all reach worker 3.
 * 2. CIDs minted for each worker, 10 datagrams each: each reaches its CID's worker.
 * 3. 50 QUIC v1 Initials (0xc0, version 1, DCID length 8, a random client-chosen DCID): each
 *    reaches the worker hash.h predicts for its 4-tuple, and 2 more from each socket reach the
 *    same worker.
 * 4. A table of cases, each from a socket whose hash names worker h, carrying a CID minted
 *    for worker (h + 1) % 4, so that "steered by CID" and "hashed" never look alike: long
 *    headers that are not client-chosen (v1 Handshake and Retry, v2 Handshake, an unknown
 *    version) go by the CID; client-chosen ones (v1 0-RTT, v2 Initial and 0-RTT), version
 *    negotiation, a DCID length other than 8, truncated headers, a CID with a wrong check
 *    byte, wrong layout version, or a slot outside the group, and an empty datagram are
 *    hashed.
 * 5. Worker 3 draining: short headers with its CIDs still reach it (its connections finish
 *    there), Initials never do (the hash's choice passes to worker 0, counting a fallback on
 *    slot 3). Then worker 3 is live again.
 * 6. Random bytes of every length 0 to 64.
 * 7. A fuzz loop of 10 000 datagrams in batches of 64, from 40 source addresses: random bytes,
 *    and short and long headers built around minted CIDs, then truncated or with a byte
 *    flipped. Every datagram is received (sent == received) and where the model says.
 * 8. The program's counters agree with the model: steered and fallback per slot; nothing
 *    unsteered, so steered adds up to every datagram sent.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <reuselb/cid.h>
#include <reuselb/hash.h>
#include "rlbtest.h"

#define NR_WORKERS 4
#define BATCH 64
#define MAX_LEN 1400
#define NR_FUZZ 10000
/*
 * Source addresses 127.0.1.N. A batch whose datagrams must each reach a given worker has its
 * own: ports are reused once a batch's sockets close, and a reused 4-tuple is a known flow.
 */
#define SRC_CIDS 1
#define SRC_EACH 2 /* 2 .. 5: one per worker */
#define SRC_INITIALS 6
#define SRC_DRAIN_CIDS 7
#define SRC_DRAIN_INITIALS 8
#define SRC_RANDOM 9
#define SRC_FUZZ 11 /* 11 .. 50 */
#define FUZZ_NR_SRC 40
#define SRC_CASES 64 /* 64 .. : one per case */
#define NR_SRC 128
#define RCVBUF (4 << 20)

#define QUIC_V1 0x00000001u
#define QUIC_V2 0x6b3343cfu

/* The program's view of the group, and what it should have counted. */
struct model {
	struct rlb_group *g;
	struct rlb_config cfg;
	uint16_t port;
	bool draining[NR_WORKERS];
	int8_t flow[NR_SRC][65536]; /* worker a 4-tuple's first datagram went to, or -1 */
	uint64_t steered[NR_WORKERS], fallback[NR_WORKERS];
	long sent, received;
	int lost, misplaced, stray;
};

struct dgram {
	int sock; /* index into the batch's sockets */
	int len;
	int want; /* the model's worker */
	int got;  /* the worker that received it, -1 while none */
};

struct batch {
	int fds[BATCH], src[BATCH];
	uint16_t sport[BATCH];
	int nr_socks;
	struct dgram d[BATCH];
	int n;
};

static struct model m;
static uint64_t rng_state;

static uint32_t rnd(void)
{
	/* xorshift64*: reproducible from the seed the test prints */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (rng_state * 0x2545f4914f6cdd1dull) >> 32;
}

static void rnd_bytes(uint8_t *p, int n)
{
	for (int i = 0; i < n; i++)
		p[i] = rnd();
}

/* ---- the model ---- */

static unsigned int hashed(int src, uint16_t sport)
{
	struct rlb_flow f = {};
	char addr[INET_ADDRSTRLEN];

	snprintf(addr, sizeof(addr), "127.0.1.%d", src);
	inet_pton(AF_INET, addr, &f.saddr[0]);
	inet_pton(AF_INET, "127.0.0.1", &f.daddr[0]);
	f.sport = htons(sport);
	f.dport = htons(m.port);
	return rlb_scale(rlb_hash_flow(&f, m.cfg.seed), NR_WORKERS);
}

/* RFC 8999: the DCID when the datagram offers one of the server's choosing, else false. */
static bool model_dcid(const uint8_t *p, int len, uint8_t cid[RLB_CID_LEN])
{
	uint32_t version;
	int type;

	if (len < 1)
		return false;
	if (!(p[0] & 0x80)) {
		/* short header: the DCID has the length the server chose, ours */
		if (len < 1 + RLB_CID_LEN)
			return false;
		memcpy(cid, p + 1, RLB_CID_LEN);
		return true;
	}
	if (len < 6)
		return false;
	version = (uint32_t)p[1] << 24 | p[2] << 16 | p[3] << 8 | p[4];
	type = (p[0] >> 4) & 3;
	/* Initial and 0-RTT carry the client's choice: types 0, 1 in v1 (RFC 9000), 1, 2 in v2 */
	if (version == 0 || (version == QUIC_V1 && type <= 1) ||
	    (version == QUIC_V2 && (type == 1 || type == 2)) || p[5] != RLB_CID_LEN ||
	    len < 6 + RLB_CID_LEN)
		return false;
	memcpy(cid, p + 6, RLB_CID_LEN);
	return true;
}

/* Where the program sends this datagram; counts it as the program does. */
static int model_worker(int src, uint16_t sport, const uint8_t *p, int len)
{
	int8_t *known = &m.flow[src][sport];
	uint8_t cid[RLB_CID_LEN];
	unsigned int want;

	if (*known >= 0) {
		m.steered[*known]++;
		return *known;
	}
	want = hashed(src, sport);
	if (model_dcid(p, len, cid)) {
		__u32 slot = rlb_cid_slot(cid, m.cfg.seed);

		/* a draining worker still takes its own connections, and the flow is not kept */
		if (slot < NR_WORKERS && m.draining[slot]) {
			m.steered[slot]++;
			return slot;
		}
		if (slot < NR_WORKERS)
			want = slot;
	}
	if (m.draining[want]) {
		m.fallback[want]++;
		for (int i = 1; i < NR_WORKERS && m.draining[want]; i++)
			want = (want + 1) % NR_WORKERS;
	}
	m.steered[want]++;
	*known = want;
	return want;
}

/* ---- sending and receiving ---- */

/* A new socket on 127.0.1.src, connected to the group; its index in the batch, or -1. */
static int new_sock(struct batch *b, int src)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	char addr[INET_ADDRSTRLEN];
	int fd;

	if (b->nr_socks == BATCH)
		return -1;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (!CHECK(fd >= 0, "socket: %s", strerror(errno)))
		return -1;
	snprintf(addr, sizeof(addr), "127.0.1.%d", src);
	inet_pton(AF_INET, addr, &sin.sin_addr);
	if (!CHECK(!bind(fd, (struct sockaddr *)&sin, sizeof(sin)) &&
			   !getsockname(fd, (struct sockaddr *)&sin, &len),
		   "bind %s: %s", addr, strerror(errno))) {
		close(fd);
		return -1;
	}
	b->fds[b->nr_socks] = fd;
	b->src[b->nr_socks] = src;
	b->sport[b->nr_socks] = ntohs(sin.sin_port);
	return b->nr_socks++;
}

/* Sends one datagram on socket s of the batch; its index in the batch, or -1. */
static int send_on(struct batch *b, int s, const uint8_t *p, int len)
{
	struct sockaddr_in dst = { .sin_family = AF_INET, .sin_port = htons(m.port) };
	struct dgram *d = &b->d[b->n];

	if (s < 0 || b->n == BATCH)
		return -1;
	inet_pton(AF_INET, "127.0.0.1", &dst.sin_addr);
	d->sock = s;
	d->len = len;
	d->got = -1;
	d->want = model_worker(b->src[s], b->sport[s], p, len);
	if (!CHECK(sendto(b->fds[s], p, len, 0, (struct sockaddr *)&dst, sizeof(dst)) == len,
		   "sendto: %s", strerror(errno)))
		return -1;
	m.sent++;
	return b->n++;
}

/* The sent datagram this received one is: same source and length, not yet received. */
static struct dgram *match(struct batch *b, const struct sockaddr_in *from, int len)
{
	uint32_t a = ntohl(from->sin_addr.s_addr);

	for (int i = 0; i < b->n; i++) {
		struct dgram *d = &b->d[i];

		if (d->got < 0 && d->len == len && b->sport[d->sock] == ntohs(from->sin_port) &&
		    a == (0x7f000100u | b->src[d->sock]))
			return d;
	}
	return NULL;
}

/*
 * Receives the batch on the workers (bounded by RLBT_TIMEOUT_MS), checks each datagram
 * against the model, closes the batch's sockets. Returns the number of datagrams lost,
 * misplaced or unexpected.
 */
static int collect(struct batch *b, const char *what)
{
	static uint8_t buf[MAX_LEN + 1];
	struct pollfd pfd[NR_WORKERS];
	int received = 0, bad = 0;
	struct timespec t0, t;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int w = 0; w < NR_WORKERS; w++)
		pfd[w] = (struct pollfd){ .fd = rlb_group_fd(m.g, w), .events = POLLIN };
	while (received < b->n) {
		long left;

		clock_gettime(CLOCK_MONOTONIC, &t);
		left = RLBT_TIMEOUT_MS -
		       ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000);
		if (left <= 0 || poll(pfd, NR_WORKERS, left) <= 0)
			break;
		for (int w = 0; w < NR_WORKERS; w++) {
			/* at most a batch per socket: what is left is an error, counted below */
			for (int i = 0; i <= BATCH && (pfd[w].revents & POLLIN); i++) {
				struct sockaddr_in from;
				socklen_t flen = sizeof(from);
				ssize_t r = recvfrom(pfd[w].fd, buf, sizeof(buf), MSG_DONTWAIT,
						     (struct sockaddr *)&from, &flen);
				struct dgram *d;

				if (r < 0)
					break;
				received++;
				d = match(b, &from, r);
				if (!d) {
					m.stray++;
					if (bad++ < 3)
						fprintf(stderr,
							"%s: worker %d received an unsent "
							"datagram of %zd bytes\n",
							what, w, r);
					continue;
				}
				d->got = w;
				if (d->got != d->want) {
					m.misplaced++;
					if (bad++ < 3)
						fprintf(stderr,
							"%s: %d bytes from 127.0.1.%d:%u "
							"reached worker %d, the model says %d\n",
							what, d->len, b->src[d->sock],
							b->sport[d->sock], w, d->want);
				}
			}
		}
	}
	m.received += received;
	for (int i = 0; i < b->n; i++) {
		if (b->d[i].got >= 0)
			continue;
		m.lost++;
		if (bad++ < 3)
			fprintf(stderr, "%s: %d bytes from 127.0.1.%d:%u never arrived\n", what,
				b->d[i].len, b->src[b->d[i].sock], b->sport[b->d[i].sock]);
	}
	for (int s = 0; s < b->nr_socks; s++)
		close(b->fds[s]);
	b->nr_socks = 0;
	return bad;
}

/* ---- datagrams ---- */

static bool mint(unsigned int worker, uint16_t host, uint8_t cid[RLB_CID_LEN])
{
	int err = rlb_ctl_cid_mint(rlb_group_ctl(m.g), worker, host, cid);

	return CHECK(!err, "rlb_ctl_cid_mint(%u): %s: %s", worker, strerror(-err),
		     rlb_last_error());
}

/* Short header: flags 0b01xxxxxx, the DCID, then `extra` bytes of protected payload. */
static int short_header(uint8_t *p, const uint8_t cid[RLB_CID_LEN], int extra)
{
	p[0] = 0x40 | (rnd() & 0x3f);
	memcpy(p + 1, cid, RLB_CID_LEN);
	rnd_bytes(p + 1 + RLB_CID_LEN, extra);
	return 1 + RLB_CID_LEN + extra;
}

/*
 * Long header of `type` (bits 5-4) and version, DCID of dcid_len bytes (cid, then random),
 * an 8-byte SCID, then random bytes up to len.
 */
static int long_header(uint8_t *p, int type, uint32_t version, int dcid_len, const uint8_t *cid,
		       int len)
{
	int off = 0;

	p[off++] = 0xc0 | type << 4 | (rnd() & 0x0f);
	p[off++] = version >> 24;
	p[off++] = version >> 16;
	p[off++] = version >> 8;
	p[off++] = version;
	p[off++] = dcid_len;
	rnd_bytes(p + off, dcid_len);
	if (cid)
		memcpy(p + off, cid, dcid_len < RLB_CID_LEN ? dcid_len : RLB_CID_LEN);
	off += dcid_len;
	p[off++] = 8;
	rnd_bytes(p + off, 8);
	off += 8;
	if (len > off)
		rnd_bytes(p + off, len - off);
	return len > off ? len : off;
}

/* ---- scenarios ---- */

/* 1 and 2: n datagrams carrying CIDs minted for worker; each must reach it. */
static void cids_for(int src, unsigned int worker, int n, const char *what)
{
	static struct batch b;
	uint8_t p[64], cid[RLB_CID_LEN];
	int off = 0;

	for (int i = 0; i < n; i++) {
		if (!mint(worker, (i * 331) & RLB_CID_HOST_MASK, cid))
			return;
		send_on(&b, new_sock(&b, src), p, short_header(p, cid, 20));
	}
	collect(&b, what);
	for (int i = 0; i < b.n; i++)
		off += b.d[i].got != (int)worker;
	CHECK(!off, "%s: %d of %d datagrams with worker %u's CID elsewhere", what, off, b.n,
	      worker);
	b.n = 0;
}

/*
 * Receives a batch of Initials, per_sock from each socket in turn: each must be on its hash's
 * worker (or the next live one), and with the first of its socket.
 */
static void collect_initials(struct batch *b, int per_sock, const char *what, int *off,
			     int *inconsistent)
{
	collect(b, what);
	for (int j = 0; j < b->n; j++) {
		int want = hashed(b->src[b->d[j].sock], b->sport[b->d[j].sock]);

		while (m.draining[want])
			want = (want + 1) % NR_WORKERS;
		*off += b->d[j].got != want;
		*inconsistent += b->d[j].got != b->d[j - j % per_sock].got;
	}
	b->n = 0;
}

/* 3 and 5: Initials; each reaches the hash's worker, or the next live one. */
static void initials(int src, int n, int per_sock, const char *what)
{
	static struct batch b;
	uint8_t p[MAX_LEN];
	int off = 0, inconsistent = 0;

	for (int i = 0; i < n; i++) {
		int s = new_sock(&b, src);

		for (int k = 0; k < per_sock && s >= 0; k++)
			send_on(&b, s, p, long_header(p, 0, QUIC_V1, 8, NULL, 1200));
		if (b.n + per_sock > BATCH || i == n - 1)
			collect_initials(&b, per_sock, what, &off, &inconsistent);
	}
	CHECK(!off, "%s: %d Initials not on their hash's worker", what, off);
	CHECK(!inconsistent, "%s: %d Initials not with their 4-tuple's first", what, inconsistent);
}

enum route { BY_CID, BY_HASH };

/* 4: one case from a fresh socket. build() fills the datagram around a CID for `target`. */
static void one_case(int src, const char *name, enum route route,
		     int (*build)(uint8_t *p, unsigned int target))
{
	static struct batch b;
	uint8_t p[MAX_LEN];
	unsigned int h, target;
	int s = new_sock(&b, src), len, want;

	if (s < 0)
		return;
	h = hashed(src, b.sport[s]);
	target = (h + 1) % NR_WORKERS;
	len = build(p, target);
	if (len < 0) {
		collect(&b, name);
		return;
	}
	send_on(&b, s, p, len);
	collect(&b, name);
	want = route == BY_CID ? (int)target : (int)h;
	CHECK(b.n == 1 && b.d[0].got == want, "%s: reached worker %d, want %d (%s)", name,
	      b.d[0].got, want, route == BY_CID ? "its CID's" : "the hash's");
	b.n = 0;
}

static int lh(uint8_t *p, unsigned int target, int type, uint32_t version, int dcid_len)
{
	uint8_t cid[RLB_CID_LEN];

	return mint(target, 7, cid) ? long_header(p, type, version, dcid_len, cid, 64) : -1;
}

static int v1_handshake(uint8_t *p, unsigned int t)
{
	return lh(p, t, 2, QUIC_V1, 8);
}
static int v1_retry(uint8_t *p, unsigned int t)
{
	return lh(p, t, 3, QUIC_V1, 8);
}
static int v1_initial(uint8_t *p, unsigned int t)
{
	return lh(p, t, 0, QUIC_V1, 8);
}
static int v1_0rtt(uint8_t *p, unsigned int t)
{
	return lh(p, t, 1, QUIC_V1, 8);
}
static int v2_initial(uint8_t *p, unsigned int t)
{
	return lh(p, t, 1, QUIC_V2, 8);
}
static int v2_0rtt(uint8_t *p, unsigned int t)
{
	return lh(p, t, 2, QUIC_V2, 8);
}
static int v2_handshake(uint8_t *p, unsigned int t)
{
	return lh(p, t, 3, QUIC_V2, 8);
}
static int v2_retry(uint8_t *p, unsigned int t)
{
	return lh(p, t, 0, QUIC_V2, 8);
}
static int unknown_version(uint8_t *p, unsigned int t)
{
	return lh(p, t, 0, 0x1a2a3a4a, 8);
}
static int version_negotiation(uint8_t *p, unsigned int t)
{
	return lh(p, t, 0, 0, 8);
}
static int dcid_len_20(uint8_t *p, unsigned int t)
{
	return lh(p, t, 2, QUIC_V1, 20);
}
static int dcid_len_0(uint8_t *p, unsigned int t)
{
	return lh(p, t, 2, QUIC_V1, 0);
}

/* A v1 Handshake header cut after 13 bytes: the DCID misses its last byte. */
static int long_cut(uint8_t *p, unsigned int t)
{
	return lh(p, t, 2, QUIC_V1, 8) < 0 ? -1 : 13;
}

/* A v1 Handshake header with all 14 bytes up to the DCID's end, nothing after. */
static int long_exact(uint8_t *p, unsigned int t)
{
	return lh(p, t, 2, QUIC_V1, 8) < 0 ? -1 : 14;
}

static int sh(uint8_t *p, unsigned int t, int len)
{
	uint8_t cid[RLB_CID_LEN];

	if (!mint(t, 0, cid))
		return -1;
	short_header(p, cid, 0);
	return len;
}

static int short_cut(uint8_t *p, unsigned int t)
{
	return sh(p, t, RLB_CID_LEN);
}
static int short_exact(uint8_t *p, unsigned int t)
{
	return sh(p, t, 1 + RLB_CID_LEN);
}
static int empty(uint8_t *p, unsigned int t)
{
	return sh(p, t, 0);
}
static int one_byte(uint8_t *p, unsigned int t)
{
	return sh(p, t, 1);
}

static int bad_check(uint8_t *p, unsigned int t)
{
	uint8_t cid[RLB_CID_LEN];

	if (!mint(t, 0, cid))
		return -1;
	cid[3] ^= 1;
	return short_header(p, cid, 20);
}

static int bad_layout(uint8_t *p, unsigned int t)
{
	uint8_t cid[RLB_CID_LEN];

	if (!mint(t, 0, cid))
		return -1;
	/* the check byte covers slot and nonce only: it stays right, the layout bits do not */
	cid[0] = 0x80 | (cid[0] & 0x3f);
	return short_header(p, cid, 20);
}

/* A well-formed CID of ours for a slot the group does not have. */
static int slot_out(uint8_t *p, unsigned int t, __u8 slot)
{
	uint8_t cid[RLB_CID_LEN] = { RLB_CID_VERSION, 0, slot };

	(void)t;
	rnd_bytes(cid + 4, 4);
	cid[3] = rlb_cid_check(cid, m.cfg.seed);
	return short_header(p, cid, 20);
}

static int slot_10(uint8_t *p, unsigned int t)
{
	return slot_out(p, t, 10);
}
static int slot_200(uint8_t *p, unsigned int t)
{
	return slot_out(p, t, 200);
}

static void cases(void)
{
	static const struct {
		const char *name;
		enum route route;
		int (*build)(uint8_t *p, unsigned int target);
	} table[] = {
		{ "v1 Handshake", BY_CID, v1_handshake },
		{ "v1 Retry", BY_CID, v1_retry },
		{ "v1 Initial with our CID", BY_HASH, v1_initial },
		{ "v1 0-RTT", BY_HASH, v1_0rtt },
		{ "v2 Initial", BY_HASH, v2_initial },
		{ "v2 0-RTT", BY_HASH, v2_0rtt },
		{ "v2 Handshake", BY_CID, v2_handshake },
		{ "v2 Retry", BY_CID, v2_retry },
		{ "unknown version", BY_CID, unknown_version },
		{ "version negotiation", BY_HASH, version_negotiation },
		{ "DCID length 20", BY_HASH, dcid_len_20 },
		{ "DCID length 0", BY_HASH, dcid_len_0 },
		{ "long header cut in the DCID", BY_HASH, long_cut },
		{ "long header ending with the DCID", BY_CID, long_exact },
		{ "short header cut in the DCID", BY_HASH, short_cut },
		{ "short header ending with the DCID", BY_CID, short_exact },
		{ "empty datagram", BY_HASH, empty },
		{ "one byte", BY_HASH, one_byte },
		{ "CID with a wrong check byte", BY_HASH, bad_check },
		{ "CID with layout bits 10", BY_HASH, bad_layout },
		{ "CID for slot 10", BY_HASH, slot_10 },
		{ "CID for slot 200", BY_HASH, slot_200 },
	};

	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		one_case(SRC_CASES + i, table[i].name, table[i].route, table[i].build);
}

/* 6: random bytes of each length 0 .. 64. */
static void random_lengths(void)
{
	static struct batch b;
	uint8_t p[64];

	for (int len = 0; len <= 64; len++) {
		rnd_bytes(p, len);
		send_on(&b, new_sock(&b, SRC_RANDOM), p, len);
		if (b.n == BATCH || len == 64) {
			collect(&b, "random bytes");
			b.n = 0;
		}
	}
}

/* 7: one fuzz datagram into p; returns its length. */
static int fuzz_one(uint8_t *p)
{
	static const uint32_t versions[] = { QUIC_V1, QUIC_V2, 0, 0xff00001d };
	uint8_t cid[RLB_CID_LEN];
	int len;

	switch (rnd() % 4) {
	case 0:
		len = rnd() % 65;
		rnd_bytes(p, len);
		return len;
	case 1:
		if (!mint(rnd() % NR_WORKERS, rnd() & RLB_CID_HOST_MASK, cid))
			return 0;
		len = short_header(p, cid, rnd() % 24);
		break;
	case 2:
		if (!mint(rnd() % NR_WORKERS, rnd() & RLB_CID_HOST_MASK, cid))
			return 0;
		len = long_header(p, rnd() % 4, versions[rnd() % 4], rnd() % 3 ? 8 : rnd() % 21,
				  cid, rnd() % 64);
		break;
	default:
		len = rnd() % (MAX_LEN + 1);
		rnd_bytes(p, len);
		return len;
	}
	/* then maybe truncated, or one byte flipped */
	switch (rnd() % 3) {
	case 0:
		return rnd() % (len + 1);
	case 1:
		p[rnd() % len] ^= 1 << (rnd() % 8);
		return len;
	default:
		return len;
	}
}

static void fuzz(void)
{
	static struct batch b;
	static uint8_t p[MAX_LEN + 64];
	struct timespec t0, t1;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < NR_FUZZ; i++) {
		int len = fuzz_one(p);

		send_on(&b, new_sock(&b, SRC_FUZZ + i % FUZZ_NR_SRC), p, len);
		if (b.n == BATCH || i == NR_FUZZ - 1) {
			collect(&b, "fuzz");
			b.n = 0;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("fuzz: %d datagrams in %.2f s\n", NR_FUZZ,
	       t1.tv_sec - t0.tv_sec + (t1.tv_nsec - t0.tv_nsec) / 1e9);
}

static bool set_draining(unsigned int w, bool on)
{
	int err = rlb_ctl_set_draining(rlb_group_ctl(m.g), w, on);

	m.draining[w] = on;
	return CHECK(!err, "rlb_ctl_set_draining(%u, %d): %s: %s", w, on, strerror(-err),
		     rlb_last_error());
}

/* 1 */
static bool cids_worker3(void *ctx rlbt_unused)
{
	cids_for(SRC_CIDS, 3, 50, "CIDs for worker 3");
	return true;
}

/* 2 */
static bool cids_each(void *ctx rlbt_unused)
{
	for (unsigned int w = 0; w < NR_WORKERS; w++)
		cids_for(SRC_EACH + w, w, 10, "CIDs for each worker");
	return true;
}

/* 3 */
static bool initials_hashed(void *ctx rlbt_unused)
{
	initials(SRC_INITIALS, 50, 3, "Initials");
	return true;
}

/* 4 */
static bool table_of_cases(void *ctx rlbt_unused)
{
	cases();
	return true;
}

/* 5 */
static bool draining(void *ctx rlbt_unused)
{
	if (!set_draining(3, true))
		return true;
	cids_for(SRC_DRAIN_CIDS, 3, 20, "CIDs for draining worker 3");
	initials(SRC_DRAIN_INITIALS, 40, 1, "Initials with worker 3 draining");
	CHECK(m.fallback[3] > 0, "no Initial hashed to draining worker 3");
	set_draining(3, false);
	return true;
}

/* 6 */
static bool random_bytes(void *ctx rlbt_unused)
{
	random_lengths();
	return true;
}

/* 7 */
static bool fuzz_loop(void *ctx rlbt_unused)
{
	fuzz();
	CHECK(m.sent == m.received && !m.lost && !m.stray,
	      "sent %ld datagrams, received %ld: %d lost, %d unexpected", m.sent, m.received,
	      m.lost, m.stray);
	CHECK(!m.misplaced, "%d of %ld datagrams not where the model says", m.misplaced, m.sent);
	return true;
}

/* 8 */
static bool counters(void *ctx rlbt_unused)
{
	struct rlb_group_stats st;
	uint64_t total = 0;
	int err;

	err = rlb_ctl_read(rlb_group_ctl(m.g), &st);
	if (!CHECK(!err, "rlb_ctl_read: %s: %s", strerror(-err), rlb_last_error()))
		return false;
	for (int w = 0; w < NR_WORKERS; w++) {
		total += st.workers[w].steered;
		CHECK(st.workers[w].steered == m.steered[w] &&
			      st.workers[w].fallback == m.fallback[w],
		      "stats of slot %d: steered %llu, fallback %llu; the model says %llu, %llu", w,
		      (unsigned long long)st.workers[w].steered,
		      (unsigned long long)st.workers[w].fallback, (unsigned long long)m.steered[w],
		      (unsigned long long)m.fallback[w]);
	}
	CHECK(!st.unsteered && total == (uint64_t)m.sent,
	      "the program steered %llu and left %llu unsteered of %ld datagrams",
	      (unsigned long long)total, (unsigned long long)st.unsteered, m.sent);
	printf("%ld datagrams sent, %ld received, %d misplaced; steered %llu/%llu/%llu/%llu, "
	       "unsteered %llu\n",
	       m.sent, m.received, m.misplaced, (unsigned long long)st.workers[0].steered,
	       (unsigned long long)st.workers[1].steered, (unsigned long long)st.workers[2].steered,
	       (unsigned long long)st.workers[3].steered, (unsigned long long)st.unsteered);
	return true;
}

/* The steps of the comment on top, in its order; a failed check names its step. */
static const struct rlbt_case steps[] = {
	{ "short headers with CIDs for worker 3", cids_worker3 },
	{ "CIDs for each worker", cids_each },
	{ "v1 Initials, hashed", initials_hashed },
	{ "the table of header cases", table_of_cases },
	{ "worker 3 draining", draining },
	{ "random bytes of every length 0 to 64", random_bytes },
	{ "fuzz loop, every datagram where the model says", fuzz_loop },
	{ "the program's counters agree with the model", counters },
};

int main(void)
{
	struct rlb_group_opts opts = {
		.addr = "127.0.0.1",
		.udp = true,
		.nr_workers = NR_WORKERS,
		.policy = RLB_POLICY_QUIC_CID,
	};
	uint64_t seed;
	int err, size = RCVBUF;

	rlbt_require_root();
	if (getrandom(&seed, sizeof(seed), 0) != sizeof(seed) || !seed)
		seed = time(NULL) | 1;
	rng_state = seed;
	printf("random seed %#llx\n", (unsigned long long)seed);
	memset(m.flow, -1, sizeof(m.flow));
	err = rlb_group_open(&opts, &m.g);
	if (!CHECK(!err, "rlb_group_open(udp, quic-cid): %s: %s", strerror(-err), rlb_last_error()))
		goto out;
	m.port = rlb_group_port(m.g);
	err = rlbt_group_config(m.g, &m.cfg);
	if (!CHECK(!err, "cannot read the config map: %s", strerror(-err)))
		goto out;
	for (int w = 0; w < NR_WORKERS; w++)
		CHECK(!setsockopt(rlb_group_fd(m.g, w), SOL_SOCKET, SO_RCVBUFFORCE, &size,
				  sizeof(size)),
		      "SO_RCVBUFFORCE: %s", strerror(errno));
	rlbt_run_cases(steps, ARRAY_SIZE(steps), NULL);
out:
	rlb_group_close(m.g);
	return rlbt_finish();
}
