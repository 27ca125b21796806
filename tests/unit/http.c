// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The HTTP parser and response writer of "reuselb serve --mode http" (user/server/http.h).
 *
 * 1. A table of requests: the length of the header block (a body and the next pipelined
 *    request are not part of it), or 0 while incomplete, or the error; and for complete ones
 *    keep-alive, HEAD, Content-Length and /burn?us=N.
 * 2. Every proper prefix of a complete request is incomplete (0), and parsing never reads
 *    past len (each prefix sits at the end of its own allocation: run under ASan to see it).
 * 3. A NUL byte in a header value is malformed.
 * 4. The 8 KiB limit: a block of exactly HTTP_MAX_HEADER bytes parses; one byte more, or as
 *    many bytes without the blank line, is -EMSGSIZE; one byte fewer without it is 0.
 * 5. Errors map to 400, 431 and 501.
 * 6. Responses, byte for byte: 200 with keep-alive, 431 with close, HEAD without a body; an
 *    unknown status and a short buffer are refused.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/http.h"
#include "rlbtest.h"

/* want: the header block is the whole input */
#define ALL (-1000)

/* A request and what the parser makes of it. */
static const struct {
	const char *name;
	const char *in;
	int want; /* header block length, ALL, 0 (incomplete) or -errno */
	bool keep_alive, head;
	uint64_t content_length;
	unsigned int burn_us;
} parse_cases[] = {
	{ "1.1 keeps alive", "GET / HTTP/1.1\r\n\r\n", ALL, true, false, 0, 0 },
	{ "1.0 closes", "GET / HTTP/1.0\r\n\r\n", ALL, false, false, 0, 0 },
	{ "1.0 keep-alive", "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", ALL, true, false, 0,
	  0 },
	{ "1.1 close", "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", ALL, false, false,
	  0, 0 },
	{ "close in a list", "GET / HTTP/1.1\r\nconnection: Keep-Alive , CLOSE\r\n\r\n", ALL, false,
	  false, 0, 0 },
	{ "close wins", "GET / HTTP/1.0\r\nConnection: close\r\nConnection: keep-alive\r\n\r\n",
	  ALL, false, false, 0, 0 },
	{ "other token", "GET / HTTP/1.1\r\nConnection: upgrade\r\n\r\n", ALL, true, false, 0, 0 },
	{ "curl",
	  "GET / HTTP/1.1\r\nHost: localhost:8080\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n",
	  ALL, true, false, 0, 0 },
	{ "HEAD", "HEAD /x HTTP/1.1\r\n\r\n", ALL, true, true, 0, 0 },
	{ "body not in the block", "POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello", 38, true,
	  false, 5, 0 },
	{ "first of two pipelined", "GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n", 19, true,
	  false, 0, 0 },
	{ "value blanks trimmed", "GET / HTTP/1.1\r\nContent-Length: \t 12 \t\r\n\r\n", ALL, true,
	  false, 12, 0 },
	{ "largest length", "GET / HTTP/1.1\r\nContent-Length: 18446744073709551615\r\n\r\n", ALL,
	  true, false, UINT64_MAX, 0 },
	{ "empty lines before", "\r\n\r\nGET / HTTP/1.1\r\n\r\n", ALL, true, false, 0, 0 },
	{ "empty header value", "GET / HTTP/1.1\r\nX-Empty:\r\n\r\n", ALL, true, false, 0, 0 },
	{ "burn", "GET /burn?us=1000 HTTP/1.1\r\n\r\n", ALL, true, false, 0, 1000 },
	{ "burn among parameters", "GET /burn?a=1&us=5&b HTTP/1.1\r\n\r\n", ALL, true, false, 0,
	  5 },
	{ "burn at the limit", "GET /burn?us=1000000 HTTP/1.1\r\n\r\n", ALL, true, false, 0,
	  1000000 },
	{ "burn without us", "GET /burn HTTP/1.1\r\n\r\n", ALL, true, false, 0, 0 },
	{ "us elsewhere", "GET /other?us=5 HTTP/1.1\r\n\r\n", ALL, true, false, 0, 0 },
	{ "burnt is not burn", "GET /burnt?us=5 HTTP/1.1\r\n\r\n", ALL, true, false, 0, 0 },

	{ "nothing", "", 0, false, false, 0, 0 },
	{ "request line only", "GET / HTTP/1.1\r\n", 0, false, false, 0, 0 },
	{ "one byte short", "GET / HTTP/1.1\r\nHost: x\r\n\r", 0, false, false, 0, 0 },

	{ "burn over the limit", "GET /burn?us=1000001 HTTP/1.1\r\n\r\n", -EBADMSG, false, false, 0,
	  0 },
	{ "burn not a number", "GET /burn?us=abc HTTP/1.1\r\n\r\n", -EBADMSG, false, false, 0, 0 },
	{ "burn empty", "GET /burn?us= HTTP/1.1\r\n\r\n", -EBADMSG, false, false, 0, 0 },
	{ "burn negative", "GET /burn?us=-1 HTTP/1.1\r\n\r\n", -EBADMSG, false, false, 0, 0 },
	{ "no version", "GET /\r\n\r\n", -EBADMSG, false, false, 0, 0 },
	{ "two blanks", "GET  / HTTP/1.1\r\n\r\n", -EBADMSG, false, false, 0, 0 },
	{ "blank after version", "GET / HTTP/1.1 \r\n\r\n", -EBADMSG, false, false, 0, 0 },
	{ "HTTP/2.0", "GET / HTTP/2.0\r\n\r\n", -EBADMSG, false, false, 0, 0 },
	{ "lower-case version", "GET / http/1.1\r\n\r\n", -EBADMSG, false, false, 0, 0 },
	{ "method not a token", "G@T / HTTP/1.1\r\n\r\n", -EBADMSG, false, false, 0, 0 },
	{ "no method", " / HTTP/1.1\r\n\r\n", -EBADMSG, false, false, 0, 0 },
	{ "control in target", "GET /\x01 HTTP/1.1\r\n\r\n", -EBADMSG, false, false, 0, 0 },
	{ "non-ASCII target", "GET /\xc3\xa9 HTTP/1.1\r\n\r\n", -EBADMSG, false, false, 0, 0 },
	{ "header without colon", "GET / HTTP/1.1\r\nHost\r\n\r\n", -EBADMSG, false, false, 0, 0 },
	{ "blank before colon", "GET / HTTP/1.1\r\nHost : x\r\n\r\n", -EBADMSG, false, false, 0,
	  0 },
	{ "empty name", "GET / HTTP/1.1\r\n: x\r\n\r\n", -EBADMSG, false, false, 0, 0 },
	{ "folded line", "GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n", -EBADMSG, false, false, 0, 0 },
	{ "bare LF", "GET / HTTP/1.1\nHost: x\r\n\r\n", -EBADMSG, false, false, 0, 0 },
	{ "bare CR in a value", "GET / HTTP/1.1\r\nX: a\rb\r\n\r\n", -EBADMSG, false, false, 0, 0 },
	{ "two lengths", "POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n",
	  -EBADMSG, false, false, 0, 0 },
	{ "negative length", "POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", -EBADMSG, false,
	  false, 0, 0 },
	{ "length with junk", "POST / HTTP/1.1\r\nContent-Length: 5x\r\n\r\n", -EBADMSG, false,
	  false, 0, 0 },
	{ "length list", "POST / HTTP/1.1\r\nContent-Length: 5, 5\r\n\r\n", -EBADMSG, false, false,
	  0, 0 },
	{ "empty length", "POST / HTTP/1.1\r\nContent-Length:\r\n\r\n", -EBADMSG, false, false, 0,
	  0 },
	{ "length overflow", "POST / HTTP/1.1\r\nContent-Length: 18446744073709551616\r\n\r\n",
	  -EBADMSG, false, false, 0, 0 },
	{ "chunked", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", -EOPNOTSUPP, false,
	  false, 0, 0 },
};

/* Parses in as the only bytes of an allocation, so that a read past len is caught. */
static int parse_alone(const char *in, size_t len, struct http_request *req)
{
	char *copy = malloc(len ? len : 1);
	int ret;

	if (!copy) {
		perror("malloc");
		exit(2);
	}
	memcpy(copy, in, len);
	ret = http_parse_request(copy, len, req);
	free(copy);
	return ret;
}

static void test_parse(void)
{
	rlbt_for_each_case(i, parse_cases) {
		const char *name = parse_cases[i].name, *in = parse_cases[i].in;
		size_t len = strlen(in);
		int want = parse_cases[i].want == ALL ? (int)len : parse_cases[i].want;
		struct http_request req;
		int got;

		got = parse_alone(in, len, &req);
		if (!CHECK(got == want, "parse \"%s\": %d, want %d", name, got, want) || got <= 0)
			continue;
		CHECK(req.keep_alive == parse_cases[i].keep_alive, "parse \"%s\": keep_alive %d",
		      name, req.keep_alive);
		CHECK(req.head == parse_cases[i].head, "parse \"%s\": head %d", name, req.head);
		CHECK(req.content_length == parse_cases[i].content_length,
		      "parse \"%s\": content_length %llu, want %llu", name,
		      (unsigned long long)req.content_length,
		      (unsigned long long)parse_cases[i].content_length);
		CHECK(req.burn_us == parse_cases[i].burn_us, "parse \"%s\": burn_us %u, want %u",
		      name, req.burn_us, parse_cases[i].burn_us);

		/* a request arrives in pieces: no prefix of the block is taken for the whole */
		for (int n = 0; n < got; n++) {
			int part = parse_alone(in, n, &req);

			if (!CHECK(part == 0 || (part < 0 && part == want),
				   "parse \"%s\": prefix of %d bytes gives %d, want 0", name, n,
				   part))
				break;
		}
	}
}

/* A NUL inside a value: strlen() would end the request early, so it gets a case of its own. */
static void test_nul(void)
{
	static const char in[] = "GET / HTTP/1.1\r\nX: a\0b\r\n\r\n";
	struct http_request req;
	int got = parse_alone(in, sizeof(in) - 1, &req);

	CHECK(got == -EBADMSG, "parse \"NUL in a value\": %d, want %d", got, -EBADMSG);
	rlbt_cases++;
}

static void test_limit(void)
{
	static const char start[] = "GET / HTTP/1.1\r\nX: ";
	size_t pad = HTTP_MAX_HEADER - (sizeof(start) - 1) - 4;
	char *buf = malloc(HTTP_MAX_HEADER + 2);
	struct http_request req;
	int got;

	if (!buf) {
		perror("malloc");
		exit(2);
	}
	/* exactly HTTP_MAX_HEADER bytes, the blank line included */
	memcpy(buf, start, sizeof(start) - 1);
	memset(buf + sizeof(start) - 1, 'a', pad);
	memcpy(buf + HTTP_MAX_HEADER - 4, "\r\n\r\n", 4);
	got = parse_alone(buf, HTTP_MAX_HEADER, &req);
	CHECK(got == HTTP_MAX_HEADER, "a block of HTTP_MAX_HEADER bytes: %d", got);
	rlbt_cases++;

	/* one more byte of value pushes the blank line past the limit */
	memset(buf + sizeof(start) - 1, 'a', pad + 1);
	memcpy(buf + HTTP_MAX_HEADER - 3, "\r\n\r\n", 4);
	got = parse_alone(buf, HTTP_MAX_HEADER + 1, &req);
	CHECK(got == -EMSGSIZE, "a block of HTTP_MAX_HEADER + 1 bytes: %d, want %d", got,
	      -EMSGSIZE);
	rlbt_cases++;

	memset(buf + sizeof(start) - 1, 'a', HTTP_MAX_HEADER + 2 - (sizeof(start) - 1));
	got = parse_alone(buf, HTTP_MAX_HEADER, &req);
	CHECK(got == -EMSGSIZE, "HTTP_MAX_HEADER bytes without a blank line: %d, want %d", got,
	      -EMSGSIZE);
	got = parse_alone(buf, HTTP_MAX_HEADER - 1, &req);
	CHECK(got == 0, "HTTP_MAX_HEADER - 1 bytes without a blank line: %d, want 0", got);
	rlbt_cases += 2;
	free(buf);
}

static void test_status(void)
{
	static const struct {
		int err, want;
	} map[] = {
		{ -EBADMSG, 400 },
		{ -EMSGSIZE, 431 },
		{ -EOPNOTSUPP, 501 },
	};

	rlbt_for_each_case(i, map)
		CHECK(http_error_status(map[i].err) == map[i].want, "http_error_status(%d): %d",
		      map[i].err, http_error_status(map[i].err));
}

static const struct {
	int status;
	unsigned int worker;
	bool keep_alive, head;
	const char *want;
} format_cases[] = {
	{ 200, 2, true, false,
	  "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 9\r\n"
	  "X-Reuselb-Worker: 2\r\nConnection: keep-alive\r\n\r\nworker 2\n" },
	{ 200, 63, false, true,
	  "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 10\r\n"
	  "X-Reuselb-Worker: 63\r\nConnection: close\r\n\r\n" },
	{ 431, 0, false, false,
	  "HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Type: text/plain\r\n"
	  "Content-Length: 9\r\nX-Reuselb-Worker: 0\r\nConnection: close\r\n\r\nworker 0\n" },
	{ 400, 1, false, false,
	  "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nContent-Length: 9\r\n"
	  "X-Reuselb-Worker: 1\r\nConnection: close\r\n\r\nworker 1\n" },
	{ 501, 1, false, false,
	  "HTTP/1.1 501 Not Implemented\r\nContent-Type: text/plain\r\nContent-Length: 9\r\n"
	  "X-Reuselb-Worker: 1\r\nConnection: close\r\n\r\nworker 1\n" },
};

static void test_format(void)
{
	char buf[HTTP_MAX_RESPONSE];
	int got;

	rlbt_for_each_case(i, format_cases) {
		const char *want = format_cases[i].want;

		got = http_format_response(buf, sizeof(buf), format_cases[i].status,
					   format_cases[i].worker, format_cases[i].keep_alive,
					   format_cases[i].head);
		if (CHECK(got == (int)strlen(want), "format %d: length %d, want %zu",
			  format_cases[i].status, got, strlen(want)))
			CHECK(!memcmp(buf, want, got), "format %d:\n%.*s\nwant:\n%s",
			      format_cases[i].status, got, buf, want);
	}

	/* the longest response there is fits in HTTP_MAX_RESPONSE */
	got = http_format_response(buf, sizeof(buf), 431, UINT32_MAX, true, false);
	CHECK(got > 0 && got < HTTP_MAX_RESPONSE, "longest response: %d", got);
	got = http_format_response(buf, sizeof(buf), 302, 0, true, false);
	CHECK(got == -EINVAL, "status 302: %d, want %d", got, -EINVAL);
	got = http_format_response(buf, 20, 200, 0, true, false);
	CHECK(got == -ENOSPC, "20-byte buffer: %d, want %d", got, -ENOSPC);
	rlbt_cases += 3;
}

int main(void)
{
	test_parse();
	test_nul();
	test_limit();
	test_status();
	test_format();
	return rlbt_finish();
}
