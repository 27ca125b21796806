// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Hostile TCP input to the real binary: whatever a client sends, the server answers what is a
 * request, refuses what is not with the status that says why, and goes on serving.
 *
 * The cases are drawn from a seeded generator (the seed is printed; RLBT_SEED=N replays a run).
 * Each one says what the server must answer, from a model of the protocol written here (not the
 * server's parser): status codes in order, and whether the server closes by itself.
 *
 * 1. "$REUSELB serve -a 127.0.0.1 -p 0 -w 2 --mode http". 2000 connections, one after the
 *    other, each of one of these kinds, sent in one write or (one in three) cut at up to 6
 *    random points (a pause of 200 us between pieces, so that the server reads them apart):
 *    | kind      | what is sent                                    | answer                  |
 *    | valid     | 1-3 pipelined requests: GET/HEAD/POST/..., 1.0  | 200 each, up to the one |
 *    |           | and 1.1, random headers, bodies by length,      | that ends keep-alive;   |
 *    |           | Connection close/keep-alive                     | none after it           |
 *    | truncated | a valid request cut before its blank line       | nothing                 |
 *    | longbody  | Content-Length up to 2^64-1, part of the body   | 200                     |
 *    | random    | random bytes, 0 to 16 KiB (8191/8192/8193 often)| 400 if a blank line     |
 *    |           |                                                 | ends them within 8 KiB, |
 *    |           |                                                 | 431 if 8 KiB come       |
 *    |           |                                                 | without one, else none  |
 *    | garbage   | binary garbage, then a blank line               | 400                     |
 *    | oversize  | a header block of 8193 to 16 KiB                | 431                     |
 *    | exact     | a header block of exactly 8192 bytes            | 200                     |
 *    | table     | fixed malformed and edge requests (see table[]) | as listed               |
 *    | empty     | nothing                                         | nothing                 |
 *    Most connections then shut down their sending side and read to the end: they must read
 *    exactly the answers listed, each a whole response (400, 431 and 501 with "Connection:
 *    close"), then a clean end of file, never a reset. Where the server must close by itself
 *    (after an error, or a request without keep-alive), most clients do not shut down first,
 *    and still read the end of file. About one in ten closes at once without reading, or
 *    resets (SO_LINGER 0), instead. A valid connection that sends more after the request that
 *    ends keep-alive, in a later piece, may meet a reset (the server closes as soon as
 *    nothing is left unread); its answers count as possible only.
 * 2. Then a valid request still gets 200; SIGTERM: exit status 0 and one line "worker N:
 *    accepted A, requests R" for each worker; the accepted add up to every connection made, the
 *    requests to the answers read (plus at most those of the connections that did not read).
 * 3. "$REUSELB serve -a 127.0.0.1 -p 0 -w 2 --mode echo". 500 connections with random payloads
 *    of 0 to 16 KiB (and 10 of 64 to 256 KiB), cut into pieces the same way, read while they are
 *    sent: each reads back exactly what it sent, then a clean end of file after it shuts down.
 *    A valid request then comes back as is; SIGTERM: exit status 0, accepted add up.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "rlbtest.h"

#define NR_WORKERS 2
#define NR_HTTP_CONNS 2000
#define NR_ECHO_CONNS 500
#define NR_ECHO_BIG 10
/* The server's bound on a header block (user/server/http.h): more is answered with 431. */
#define MAX_HEADER 8192
#define MAX_RANDOM (16 * 1024)
#define MAX_DATA (320 * 1024)
#define MAX_IN (512 * 1024)
#define MAX_CUTS 6
#define MAX_ANSWERS 8
#define PIECE_PAUSE_NS (200 * 1000)

/* How a connection ends once everything is sent. */
enum ending {
	END_SHUT,  /* shut down our sending side, read to the server's end of file */
	END_WAIT,  /* read to the end of file that the server sends by itself */
	END_CLOSE, /* close at once without reading */
	END_RESET, /* close at once with SO_LINGER 0: a reset */
};

struct tcase {
	const char *kind;
	char *data;
	size_t len;
	size_t cuts[MAX_CUTS]; /* piece boundaries, increasing, inside (0, len) */
	int nr_cuts;
	enum ending end;
	int want[MAX_ANSWERS]; /* status codes, in order */
	bool head[MAX_ANSWERS];
	int nr_want;
	bool server_closes; /* the last answer ends the connection (error or no keep-alive) */
	size_t close_end;   /* valid: where the request that ends keep-alive ends, 0 if none */
};

static void append(struct tcase *c, const void *p, size_t n)
{
	if (c->len >= MAX_DATA)
		return;
	if (n > MAX_DATA - c->len)
		n = MAX_DATA - c->len;
	memcpy(c->data + c->len, p, n);
	c->len += n;
}

static void appendf(struct tcase *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void appendf(struct tcase *c, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n > 0)
		append(c, buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
}

static void expect(struct tcase *c, int status, bool head)
{
	if (c->nr_want < MAX_ANSWERS) {
		c->want[c->nr_want] = status;
		c->head[c->nr_want] = head;
		c->nr_want++;
	}
}

static void random_chars(char *out, size_t n, const char *set)
{
	size_t m = strlen(set);

	for (size_t i = 0; i < n; i++)
		out[i] = set[rlbt_below(m)];
}

static const char token_chars[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
				  "!#$%&'*+-.^_`|~";
static const char path_chars[] = "abcdefghijklmnopqrstuvwxyz0123456789/._-~%=&";

/*
 * One valid request, appended to c (with a body only if body_ok). Returns whether it keeps the
 * connection open (HTTP/1.1 unless "Connection: close", HTTP/1.0 only with "Connection:
 * keep-alive").
 */
static bool valid_request(struct tcase *c, bool *head, bool body_ok)
{
	static const char *const methods[] = { "GET",	 "HEAD",    "POST", "PUT",
					       "DELETE", "OPTIONS", "PATCH" };
	const char *method = methods[rlbt_below(body_ok ? 7 : 2)];
	bool http11 = rlbt_below(5) != 0, ka_token = false, close_token = false;
	char chunk[256];
	size_t body = 0, n;

	*head = !strcmp(method, "HEAD");
	n = 1 + rlbt_below(60);
	random_chars(chunk, n, path_chars);
	/* "/p..." never names /burn, which would spend CPU time */
	appendf(c, "%s /p%.*s HTTP/1.%d\r\n", method, (int)n, chunk, http11);
	if (rlbt_below(2))
		appendf(c, "Host: 127.0.0.1\r\n");
	for (int i = rlbt_below(6); i > 0; i--) {
		size_t nl = 1 + rlbt_below(20), nv = rlbt_below(80);
		char value[128];

		random_chars(chunk, nl, token_chars);
		/* any visible character or a blank, inside the value */
		for (size_t j = 0; j < nv; j++)
			value[j] = (char)(0x20 + rlbt_below(0x5f));
		/* "X-" keeps the name clear of the headers the server reads */
		appendf(c, "X-%.*s:%s%.*s\r\n", (int)nl, chunk, rlbt_below(2) ? " " : "", (int)nv,
			value);
	}
	switch (rlbt_below(4)) {
	case 0:
		appendf(c, "Connection: close\r\n");
		close_token = true;
		break;
	case 1:
		appendf(c, "Connection: keep-alive\r\n");
		ka_token = true;
		break;
	case 2:
		appendf(c, "connection: Upgrade, KEEP-ALIVE\r\n");
		ka_token = true;
		break;
	default:
		break;
	}
	if (body_ok && (!strcmp(method, "POST") || !strcmp(method, "PUT") || rlbt_below(8) == 0)) {
		body = rlbt_below(3) ? rlbt_below(2000) : 0;
		appendf(c, "Content-Length: %zu\r\n", body);
	}
	appendf(c, "\r\n");
	for (size_t i = 0; i < body; i++) {
		char b = (char)rlbt_rnd();

		append(c, &b, 1);
	}
	return !close_token && (http11 || ka_token);
}

/* Valid requests; the server answers each up to the first that does not keep the connection. */
static void gen_valid(struct tcase *c)
{
	int n = 1 + rlbt_below(3);
	bool open = true;

	c->kind = "valid";
	for (int i = 0; i < n; i++) {
		bool head, keep = valid_request(c, &head, true);

		if (open)
			expect(c, 200, head);
		if (open && !keep) {
			c->server_closes = true;
			c->close_end = c->len;
		}
		open = open && keep;
	}
}

static void gen_truncated(struct tcase *c)
{
	bool head;

	c->kind = "truncated";
	/* no body: wherever it is cut, the header block is not whole */
	valid_request(c, &head, false);
	c->len = rlbt_below(c->len);
}

static void gen_longbody(struct tcase *c)
{
	/* 2^64 - 1, 2^63, 10^12, 2^32, 2^16, 1 */
	static const char *const lengths[] = { "18446744073709551615",
					       "9223372036854775808",
					       "1000000000000",
					       "4294967296",
					       "65536",
					       "1" };
	const char *len = lengths[rlbt_below(6)];
	uint64_t n = strtoull(len, NULL, 10);
	size_t part = rlbt_below(n < 4000 ? n : 4000);

	c->kind = "longbody";
	appendf(c, "POST /upload HTTP/1.1\r\nContent-Length: %s\r\n\r\n", len);
	for (size_t i = 0; i < part; i++) {
		char b = (char)rlbt_rnd();

		append(c, &b, 1);
	}
	expect(c, 200, false);
}

/*
 * The model of what the server answers to bytes that are not a request: its header block ends
 * at the first blank line within MAX_HEADER bytes, after empty lines that RFC 9112 lets it
 * skip. With a blank line, random bytes are a malformed request (400); without one, MAX_HEADER
 * bytes are too many (431); fewer wait for more, and the end of file ends them with no answer.
 */
static void model_random(struct tcase *c)
{
	size_t limit = c->len < MAX_HEADER ? c->len : MAX_HEADER, start = 0;

	while (start + 2 <= limit && c->data[start] == '\r' && c->data[start + 1] == '\n')
		start += 2;
	if (memmem(c->data + start, limit - start, "\r\n\r\n", 4)) {
		expect(c, 400, false);
		c->server_closes = true;
	} else if (c->len >= MAX_HEADER) {
		expect(c, 431, false);
		c->server_closes = true;
	}
}

static void gen_random(struct tcase *c)
{
	static const size_t edges[] = {
		0, 1, MAX_HEADER - 1, MAX_HEADER, MAX_HEADER + 1, MAX_RANDOM
	};
	size_t len;

	c->kind = "random";
	switch (rlbt_below(4)) {
	case 0:
		len = edges[rlbt_below(6)];
		break;
	case 1:
		len = rlbt_below(512);
		break;
	default:
		len = rlbt_below(MAX_RANDOM + 1);
		break;
	}
	for (size_t i = 0; i < len; i++) {
		char b = (char)rlbt_rnd();

		append(c, &b, 1);
	}
	model_random(c);
}

/* Garbage whose first line cannot be a request line, and a blank line within the bound. */
static void gen_garbage(struct tcase *c)
{
	size_t len = rlbt_below(MAX_HEADER - 4);
	char b;

	c->kind = "garbage";
	/* not a token character, not the CR of an empty line: a control byte or one above 0x7f */
	b = rlbt_below(2) ? (char)(0x80 + rlbt_below(0x80)) : (char)rlbt_below(0x0d);
	append(c, &b, 1);
	for (size_t i = 1; i < len; i++) {
		/* no CR: the only blank line is the one at the end */
		do
			b = (char)rlbt_rnd();
		while (b == '\r');
		append(c, &b, 1);
	}
	append(c, "\r\n\r\n", 4);
	expect(c, 400, false);
	c->server_closes = true;
}

/* A header block of exactly size bytes (at least 1300): a request line and filler headers. */
static void header_block(struct tcase *c, size_t size)
{
	size_t start = c->len, left;

	appendf(c, "GET /big HTTP/1.1\r\n");
	/* filler headers of 10 to 1000 bytes, then one that makes the size exact */
	while (size - (c->len - start) > 1200) {
		size_t n = 10 + rlbt_below(990);

		appendf(c, "X-F%zu: ", n);
		for (size_t i = 0; i < n; i++)
			append(c, "v", 1);
		appendf(c, "\r\n");
	}
	/* "X-Last: " + value + "\r\n" + "\r\n" */
	left = size - (c->len - start) - 12;
	appendf(c, "X-Last: ");
	for (; left; left--)
		append(c, "v", 1);
	appendf(c, "\r\n\r\n");
}

static void gen_oversize(struct tcase *c)
{
	size_t size = MAX_HEADER + 1 + (rlbt_below(2) ? 0 : rlbt_below(MAX_RANDOM - MAX_HEADER));

	c->kind = "oversize";
	header_block(c, size);
	expect(c, 431, false);
	c->server_closes = true;
}

static void gen_exact(struct tcase *c)
{
	bool head, keep;

	c->kind = "exact";
	header_block(c, MAX_HEADER);
	expect(c, 200, false);
	/* a request after it is read and answered too */
	if (rlbt_below(2)) {
		keep = valid_request(c, &head, true);
		expect(c, 200, head);
		c->server_closes = !keep;
	}
}

/* A string literal and its length, NULs included. */
#define LIT(s) s, sizeof(s) - 1

/* Fixed requests at the edges of the protocol, each with what the server answers. */
static const struct {
	const char *name;
	const char *data;
	size_t len;
	int want[3]; /* status codes in order, then 0 */
	bool closes; /* the server closes after the last answer */
} table[] = {
	{ "space before colon", LIT("GET / HTTP/1.1\r\nHost : x\r\n\r\n"), { 400 }, true },
	{ "HTTP/2.0", LIT("GET / HTTP/2.0\r\n\r\n"), { 400 }, true },
	{ "a blank after the version", LIT("GET / HTTP/1.1 \r\n\r\n"), { 400 }, true },
	{ "no target", LIT("GET  HTTP/1.1\r\n\r\n"), { 400 }, true },
	{ "control byte in target", LIT("GET /\x01 HTTP/1.1\r\n\r\n"), { 400 }, true },
	{ "DEL in target", LIT("GET /\x7f HTTP/1.1\r\n\r\n"), { 400 }, true },
	{ "NUL in method", LIT("G\0T / HTTP/1.1\r\n\r\n"), { 400 }, true },
	{ "two lengths",
	  LIT("POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx"),
	  { 400 },
	  true },
	{ "negative length", LIT("POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n"), { 400 }, true },
	{ "length 2^64",
	  LIT("POST / HTTP/1.1\r\nContent-Length: 18446744073709551616\r\n\r\n"),
	  { 400 },
	  true },
	{ "length 2^64-1",
	  LIT("POST / HTTP/1.1\r\nContent-Length: 18446744073709551615\r\n\r\n"),
	  { 200 },
	  false },
	{ "length with a sign",
	  LIT("POST / HTTP/1.1\r\nContent-Length: +5\r\n\r\nhello"),
	  { 400 },
	  true },
	{ "chunked",
	  LIT("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
	  { 501 },
	  true },
	{ "DEL in a value",
	  LIT("GET / HTTP/1.1\r\nX-A: a\x7f"
	      "b\r\n\r\n"),
	  { 400 },
	  true },
	{ "folded line", LIT("GET / HTTP/1.1\r\nX-A: a\r\n folded\r\n\r\n"), { 400 }, true },
	{ "bare LF in a header", LIT("GET / HTTP/1.1\r\nX-A: a\nX-B: b\r\n\r\n"), { 400 }, true },
	{ "empty lines first", LIT("\r\n\r\nGET / HTTP/1.1\r\n\r\n"), { 200 }, false },
	{ "burn, not a number", LIT("GET /burn?us=abc HTTP/1.1\r\n\r\n"), { 400 }, true },
	{ "burn, too long", LIT("GET /burn?us=1000001 HTTP/1.1\r\n\r\n"), { 400 }, true },
	{ "request, then garbage",
	  LIT("GET / HTTP/1.1\r\n\r\n\x80garbage\r\n\r\n"),
	  { 200, 400 },
	  true },
	{ "HTTP/1.0 closes", LIT("GET / HTTP/1.0\r\n\r\nGET / HTTP/1.0\r\n\r\n"), { 200 }, true },
	{ "body, then a request",
	  LIT("POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhelloGET / HTTP/1.1\r\n\r\n"),
	  { 200, 200 },
	  false },
	{ "a body that looks like a request",
	  LIT("POST / HTTP/1.1\r\nContent-Length: 18\r\n\r\nGET / HTTP/1.1\r\n\r\n"),
	  { 200 },
	  false },
	{ "NULs", LIT("\0\0\0\0\0\0\0\0\r\n\r\n"), { 400 }, true },
	{ "LF only: never a whole block", LIT("GET / HTTP/1.1\n\n"), { 0 }, false },
	{ "close, then more",
	  LIT("GET / HTTP/1.1\r\nConnection: close\r\n\r\nGET / HTTP/1.1\r\n\r\n"),
	  { 200 },
	  true },
};

static void gen_table(struct tcase *c)
{
	unsigned int i = rlbt_below(sizeof(table) / sizeof(table[0]));

	c->kind = table[i].name;
	append(c, table[i].data, table[i].len);
	for (int j = 0; j < 3 && table[i].want[j]; j++)
		expect(c, table[i].want[j], false);
	c->server_closes = table[i].closes;
	/* a last 200 that closes: its request (bodiless here) ends at the nr_want-th blank line */
	if (c->server_closes && c->want[c->nr_want - 1] == 200) {
		const char *p = c->data;

		for (int j = 0; j < c->nr_want && p; j++) {
			p = memmem(p, c->data + c->len - p, "\r\n\r\n", 4);
			if (p)
				p += 4;
		}
		c->close_end = p ? (size_t)(p - c->data) : 0;
	}
}

static void gen_empty(struct tcase *c)
{
	c->kind = "empty";
}

static void cut(struct tcase *c)
{
	int n = rlbt_below(3) ? 0 : 1 + rlbt_below(MAX_CUTS);

	c->nr_cuts = 0;
	if (c->len < 2)
		return;
	for (int i = 0; i < n; i++)
		c->cuts[c->nr_cuts++] = 1 + rlbt_below(c->len - 1);
	/* sorted, no duplicates */
	for (int i = 1; i < c->nr_cuts; i++) {
		for (int j = i; j > 0 && c->cuts[j - 1] > c->cuts[j]; j--) {
			size_t t = c->cuts[j];

			c->cuts[j] = c->cuts[j - 1];
			c->cuts[j - 1] = t;
		}
	}
	n = 0;
	for (int i = 0; i < c->nr_cuts; i++) {
		if (!n || c->cuts[n - 1] != c->cuts[i])
			c->cuts[n++] = c->cuts[i];
	}
	c->nr_cuts = n;
}

/* The kinds of the table on top, each with its share of the connections in percent. */
static const struct {
	const char *kind;
	unsigned int percent;
	void (*gen)(struct tcase *c);
} kinds[] = {
	{ "valid", 25, gen_valid },	 { "truncated", 12, gen_truncated },
	{ "longbody", 8, gen_longbody }, { "random", 20, gen_random },
	{ "garbage", 8, gen_garbage },	 { "oversize", 8, gen_oversize },
	{ "exact", 4, gen_exact },	 { "table", 12, gen_table },
	{ "empty", 3, gen_empty },
};

static void gen_http(struct tcase *c)
{
	unsigned int r = rlbt_below(100);
	size_t k = 0;

	c->len = 0;
	c->nr_want = 0;
	c->server_closes = false;
	c->close_end = 0;
	/* the shares add up to 100 (checked in main): r falls in one of them */
	while (k < ARRAY_SIZE(kinds) - 1 && r >= kinds[k].percent)
		r -= kinds[k++].percent;
	kinds[k].gen(c);
	cut(c);
	r = rlbt_below(20);
	if (r == 0)
		c->end = END_CLOSE;
	else if (r == 1)
		c->end = END_RESET;
	else if (c->server_closes && r < 12)
		c->end = END_WAIT;
	else
		c->end = END_SHUT;
}

/*
 * The client goes on sending after the request that ends keep-alive, in a later piece: RFC 9112
 * 9.6 says it must not. The server closes at once when nothing is left unread, as nginx does,
 * and bytes that arrive after that are met with a reset: such a connection may end in one.
 */
static bool sends_after_close(const struct tcase *c)
{
	if (!c->close_end || c->close_end >= c->len)
		return false;
	for (int i = 0; i < c->nr_cuts; i++) {
		if (c->cuts[i] >= c->close_end)
			return true;
	}
	return false;
}

struct reply {
	char *buf;
	size_t len;
	bool eof, reset, timeout;
	int send_err;
};

/* What the steps share: the connection being made and what it read. */
struct hostile {
	struct tcase c;
	struct reply r;
};

/*
 * Sends c->data piece by piece (pausing between pieces) while reading what comes back, then
 * ends the connection as c->end says; for END_SHUT and END_WAIT reads to the end of file,
 * within RLBT_TIMEOUT_MS. Returns 0, or -errno when the client itself failed.
 */
static int exchange(int fd, const struct tcase *c, struct reply *r)
{
	long deadline = rlbt_now_ms() + RLBT_TIMEOUT_MS;
	struct timespec pause = { 0, PIECE_PAUSE_NS };
	size_t sent = 0;
	int piece = 0;
	bool shut = false;

	r->len = 0;
	r->eof = r->reset = r->timeout = false;
	r->send_err = 0;
	if (fcntl(fd, F_SETFL, O_NONBLOCK))
		return -errno;
	for (;;) {
		size_t piece_end = piece < c->nr_cuts ? c->cuts[piece] : c->len;
		struct pollfd p = { .fd = fd, .events = 0 };
		long left = deadline - rlbt_now_ms();

		if (sent == c->len && !shut) {
			shut = true;
			if (c->end == END_CLOSE || c->end == END_RESET) {
				struct linger lg = { .l_onoff = 1, .l_linger = 0 };

				if (c->end == END_RESET)
					setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
				return 0;
			}
			if (c->end == END_SHUT && shutdown(fd, SHUT_WR))
				return -errno;
		}
		if (shut && (r->eof || r->reset))
			return 0;
		if (left <= 0) {
			r->timeout = true;
			return 0;
		}
		if (!r->eof && !r->reset)
			p.events |= POLLIN;
		if (sent < c->len && !r->send_err)
			p.events |= POLLOUT;
		if (!p.events)
			return 0;
		if (poll(&p, 1, left) < 0)
			return -errno;
		if (p.revents & (POLLIN | POLLERR | POLLHUP)) {
			ssize_t n = read(fd, r->buf + r->len, MAX_IN - r->len);

			if (n > 0)
				r->len += n;
			else if (n == 0)
				r->eof = true;
			else if (errno == ECONNRESET)
				r->reset = true;
			else if (errno != EAGAIN && errno != EINTR)
				return -errno;
			if (r->len == MAX_IN)
				return -ENOBUFS;
		}
		if ((p.revents & POLLOUT) && !r->send_err && sent < c->len) {
			ssize_t n = send(fd, c->data + sent, piece_end - sent, MSG_NOSIGNAL);

			if (n < 0 && errno != EAGAIN && errno != EINTR) {
				/* the server went away while we were sending: the checks tell */
				r->send_err = errno;
				sent = c->len;
			} else if (n > 0) {
				sent += n;
				if (sent == piece_end && sent < c->len) {
					piece++;
					nanosleep(&pause, NULL);
				}
			}
		}
	}
}

/* The value of a header in a response head (up to "\r\n\r\n"), or NULL. */
static const char *header_value(const char *head, size_t head_len, const char *name)
{
	size_t nl = strlen(name);

	for (const char *p = head; p && p < head + head_len;) {
		const char *eol = memmem(p, head + head_len - p, "\r\n", 2);

		if (!eol)
			return NULL;
		p = eol + 2;
		if ((size_t)(head + head_len - p) > nl + 1 && !strncasecmp(p, name, nl) &&
		    p[nl] == ':')
			return p + nl + 1;
	}
	return NULL;
}

static void show(const char *what, const char *p, size_t len)
{
	fprintf(stderr, "  %s (%zu bytes): \"", what, len);
	for (size_t i = 0; i < len && i < 160; i++) {
		unsigned char ch = p[i];

		if (ch >= 0x20 && ch < 0x7f && ch != '\\')
			fputc(ch, stderr);
		else
			fprintf(stderr, "\\x%02x", ch);
	}
	fprintf(stderr, "%s\"\n", len > 160 ? "..." : "");
}

/*
 * Checks that the bytes read are exactly the responses c expects, each one whole. Returns the
 * number of responses found, or -1 after printing what is wrong.
 */
static int check_responses(int i, const struct tcase *c, const struct reply *r)
{
	size_t off = 0;
	int n = 0;

	while (off < r->len) {
		const char *p = r->buf + off, *end, *v;
		size_t left = r->len - off, head_len, body;
		int status;
		char tail;

		end = memmem(p, left, "\r\n\r\n", 4);
		if (!end || sscanf(p, "HTTP/1.1 %3d%c", &status, &tail) != 2 || tail != ' ') {
			rlbt_fail(__FILE__, __LINE__, "conn %d (%s): response %d is not whole", i,
				  c->kind, n);
			show("read", r->buf, r->len);
			return -1;
		}
		head_len = end + 4 - p;
		v = header_value(p, head_len, "Content-Length");
		body = v ? strtoul(v, NULL, 10) : 0;
		if (n < c->nr_want && c->head[n])
			body = 0;
		if (!CHECK(n < c->nr_want && status == c->want[n],
			   "conn %d (%s): response %d is %d, want %d", i, c->kind, n, status,
			   n < c->nr_want ? c->want[n] : -1)) {
			show("sent", c->data, c->len);
			show("read", r->buf, r->len);
			return -1;
		}
		v = header_value(p, head_len, "Connection");
		if (status != 200)
			CHECK(v && !strncmp(v, " close\r", 7),
			      "conn %d (%s): a %d without \"Connection: close\"", i, c->kind,
			      status);
		v = header_value(p, head_len, "X-Reuselb-Worker");
		CHECK(v && strtoul(v, NULL, 10) < NR_WORKERS, "conn %d (%s): no worker header", i,
		      c->kind);
		if (!CHECK(head_len + body <= left, "conn %d (%s): response %d cut short", i,
			   c->kind, n))
			return -1;
		off += head_len + body;
		n++;
	}
	if (!CHECK(n == c->nr_want, "conn %d (%s): %d responses, want %d", i, c->kind, n,
		   c->nr_want)) {
		show("sent", c->data, c->len);
		show("read", r->buf, r->len);
		return -1;
	}
	return n;
}

/* The per-worker lines of the server's output: sums of accepted and requests. */
static int worker_totals(const struct rlbt_server *s, uint64_t *accepted, uint64_t *requests)
{
	int lines = 0;

	*accepted = *requests = 0;
	for (const char *p = s->output; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
		unsigned int w;
		uint64_t a, q;

		if (sscanf(p, "worker %u: accepted %" SCNu64 ", requests %" SCNu64, &w, &a, &q) ==
		    3) {
			*accepted += a;
			*requests += q;
			lines++;
		}
	}
	return lines;
}

static int connect_to(const struct rlbt_server *s)
{
	return rlbt_connect(AF_INET, NULL, 0, "127.0.0.1", s->port);
}

/* One plain request after the storm: the server still answers. */
static void check_alive(const struct rlbt_server *s, struct tcase *c, struct reply *r)
{
	int fd = connect_to(s), err;

	if (!CHECK(fd >= 0, "the final connection: %s", strerror(-fd)))
		return;
	c->len = c->nr_want = c->nr_cuts = 0;
	c->kind = "final";
	c->end = END_SHUT;
	appendf(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
	expect(c, 200, false);
	err = exchange(fd, c, r);
	close(fd);
	if (CHECK(!err, "the final request: %s", strerror(-err)))
		check_responses(-1, c, r);
}

static bool hostile_http(void *ctx)
{
	struct tcase *c = &((struct hostile *)ctx)->c;
	struct reply *r = &((struct hostile *)ctx)->r;
	static const char *const argv[] = { "serve",	   "-a",     "127.0.0.1", "-p",
					    "0",	   "-w",     "2",	  "--policy",
					    "round-robin", "--mode", "http",	  NULL };
	uint64_t accepted, requests, definite = 0, maybe = 0;
	int failed = 0, status, err, made = 0;
	struct rlbt_server s;
	long start = rlbt_now_ms();

	err = rlbt_serve_start(argv, &s);
	if (!CHECK(!err, "serve --mode http did not start: %s", strerror(-err)))
		return true;
	for (int i = 0; i < NR_HTTP_CONNS && failed < 10; i++) {
		int fd, n;

		gen_http(c);
		fd = connect_to(&s);
		if (!CHECK(fd >= 0, "conn %d: connect: %s", i, strerror(-fd))) {
			failed++;
			continue;
		}
		made++;
		err = exchange(fd, c, r);
		close(fd);
		if (sends_after_close(c) && (err || r->reset || r->send_err)) {
			maybe += c->nr_want;
			continue;
		}
		if (!CHECK(!err, "conn %d (%s): %s", i, c->kind, strerror(-err))) {
			failed++;
			continue;
		}
		if (c->end == END_CLOSE || c->end == END_RESET) {
			maybe += c->nr_want;
			continue;
		}
		n = check_responses(i, c, r);
		if (n >= 0)
			definite += n;
		if (!CHECK(r->eof && !r->reset && !r->timeout, "conn %d (%s, %s): the server %s", i,
			   c->kind,
			   c->end == END_WAIT ? "waiting for its close" : "after our shutdown",
			   r->reset ? "reset the connection" : "did not close it in time") ||
		    n < 0) {
			show("sent", c->data, c->len);
			failed++;
		}
	}
	CHECK(failed == 0, "%d connections failed (stopped after 10)", failed);
	printf("http: %d connections in %ld ms, %" PRIu64 " answers read, %" PRIu64
	       " possible on connections that did not read\n",
	       made, rlbt_now_ms() - start, definite, maybe);

	check_alive(&s, c, r);
	made++;
	definite++;
	status = rlbt_serve_stop(&s);
	CHECK(status == 0, "serve --mode http exited with %d after SIGTERM", status);
	if (CHECK(worker_totals(&s, &accepted, &requests) == NR_WORKERS,
		  "not one line per worker in:\n%s", s.output)) {
		CHECK(accepted == (uint64_t)made, "the workers accepted %" PRIu64 ", %d connected",
		      accepted, made);
		CHECK(requests >= definite && requests <= definite + maybe,
		      "the workers answered %" PRIu64 ", the clients read %" PRIu64
		      " (and up to %" PRIu64 " more were possible)",
		      requests, definite, maybe);
	}
	rlbt_serve_free(&s);
	return true;
}

static bool hostile_echo(void *ctx)
{
	struct tcase *c = &((struct hostile *)ctx)->c;
	struct reply *r = &((struct hostile *)ctx)->r;
	static const char *const argv[] = { "serve",	   "-a",     "127.0.0.1", "-p",
					    "0",	   "-w",     "2",	  "--policy",
					    "round-robin", "--mode", "echo",	  NULL };
	int failed = 0, status, err, made = 0;
	uint64_t accepted, requests;
	struct rlbt_server s;
	long start = rlbt_now_ms();

	err = rlbt_serve_start(argv, &s);
	if (!CHECK(!err, "serve --mode echo did not start: %s", strerror(-err)))
		return true;
	for (int i = 0; i < NR_ECHO_CONNS + 1 && failed < 10; i++) {
		size_t len = i < NR_ECHO_BIG ? 64 * 1024 + rlbt_below(192 * 1024) :
					       rlbt_below(MAX_RANDOM + 1);
		int fd;

		c->kind = i < NR_ECHO_BIG ? "echo big" : "echo";
		c->len = 0;
		c->end = END_SHUT;
		if (i == NR_ECHO_CONNS) {
			/* the last one: a request, which echo mode does not parse */
			c->kind = "echo request";
			appendf(c, "GET / HTTP/1.1\r\n\r\n");
		}
		for (size_t j = 0; c->len < len && i < NR_ECHO_CONNS; j++) {
			char b = (char)rlbt_rnd();

			append(c, &b, 1);
		}
		cut(c);
		fd = connect_to(&s);
		if (!CHECK(fd >= 0, "echo %d: connect: %s", i, strerror(-fd))) {
			failed++;
			continue;
		}
		made++;
		err = exchange(fd, c, r);
		close(fd);
		if (!CHECK(!err, "echo %d: %s", i, strerror(-err)) ||
		    !CHECK(r->eof && !r->reset && !r->timeout && r->len == c->len &&
				   !memcmp(r->buf, c->data, c->len),
			   "echo %d (%s, %d pieces): sent %zu bytes, read %zu%s%s%s", i, c->kind,
			   c->nr_cuts + 1, c->len, r->len, r->eof ? "" : ", no end of file",
			   r->reset ? ", reset" : "",
			   r->len == c->len && memcmp(r->buf, c->data, c->len) ? ", different" :
										 "")) {
			failed++;
			show("sent", c->data, c->len);
			show("read", r->buf, r->len);
		}
	}
	printf("echo: %d connections in %ld ms\n", made, rlbt_now_ms() - start);
	status = rlbt_serve_stop(&s);
	CHECK(status == 0, "serve --mode echo exited with %d after SIGTERM", status);
	if (CHECK(worker_totals(&s, &accepted, &requests) == NR_WORKERS,
		  "not one line per worker in:\n%s", s.output))
		CHECK(accepted == (uint64_t)made, "the workers accepted %" PRIu64 ", %d connected",
		      accepted, made);
	rlbt_serve_free(&s);
	return true;
}

/* The steps of the comment on top: each serves its own mode and stops the server. */
static const struct rlbt_case steps[] = {
	{ "hostile HTTP, then a valid request and SIGTERM", hostile_http },
	{ "hostile echo, then SIGTERM", hostile_echo },
};

int main(void)
{
	struct hostile h = {};
	unsigned int shares = 0;

	rlbt_require_root();
	for (size_t k = 0; k < ARRAY_SIZE(kinds); k++)
		shares += kinds[k].percent;
	if (!CHECK(shares == 100, "the kinds' shares add up to %u%%", shares))
		return rlbt_finish();
	rlbt_seed();
	fflush(stdout);
	h.c.data = malloc(MAX_DATA);
	h.r.buf = malloc(MAX_IN);
	if (CHECK(h.c.data && h.r.buf, "out of memory"))
		rlbt_run_cases(steps, ARRAY_SIZE(steps), &h);
	free(h.c.data);
	free(h.r.buf);
	return rlbt_finish();
}
