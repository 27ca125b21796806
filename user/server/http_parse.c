// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The subset of HTTP/1.x (RFC 9112) that "reuselb serve --mode http" speaks: see http.h. */
#define _GNU_SOURCE /* memmem */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include "server/http.h"

/* A piece of the caller's buffer: nothing here is NUL-terminated. */
struct span {
	const char *p;
	size_t len;
};

static bool span_is(struct span s, const char *lit)
{
	return s.len == strlen(lit) && memcmp(s.p, lit, s.len) == 0;
}

static bool span_is_nocase(struct span s, const char *lit)
{
	return s.len == strlen(lit) && strncasecmp(s.p, lit, s.len) == 0;
}

/* Moves the text before the first sep into head and what follows it into s; false if no sep. */
static bool span_cut(struct span *s, char sep, struct span *head)
{
	const char *q = memchr(s->p, sep, s->len);

	if (!q)
		return false;
	head->p = s->p;
	head->len = q - s->p;
	s->len -= head->len + 1;
	s->p = q + 1;
	return true;
}

/* Like span_cut(), but the last piece has no separator after it. */
static struct span span_next(struct span *s, char sep)
{
	struct span head;

	if (!span_cut(s, sep, &head)) {
		head = *s;
		s->p += s->len;
		s->len = 0;
	}
	return head;
}

static struct span span_trim(struct span s)
{
	while (s.len && (s.p[0] == ' ' || s.p[0] == '\t')) {
		s.p++;
		s.len--;
	}
	while (s.len && (s.p[s.len - 1] == ' ' || s.p[s.len - 1] == '\t'))
		s.len--;
	return s;
}

static bool is_token(struct span s)
{
	if (!s.len)
		return false;
	for (size_t i = 0; i < s.len; i++) {
		char c = s.p[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      (c && strchr("!#$%&'*+-.^_`|~", c))))
			return false;
	}
	return true;
}

/* Digits only: no sign, no blanks, nothing above max. */
static bool parse_decimal(struct span s, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (!s.len)
		return false;
	for (size_t i = 0; i < s.len; i++) {
		unsigned int d = s.p[i] - '0';

		if (s.p[i] < '0' || s.p[i] > '9' || v > (max - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*out = v;
	return true;
}

/* /stall?ms=N: the worker's thread sleeps N ms before answering (bench/run's "stuck"). */
static int parse_stall(struct span query, struct http_request *req)
{
	uint64_t ms;

	while (query.len) {
		struct span param = span_next(&query, '&');

		if (param.len < 3 || memcmp(param.p, "ms=", 3) != 0)
			continue;
		param.p += 3;
		param.len -= 3;
		if (!parse_decimal(param, HTTP_MAX_STALL_MS, &ms))
			return -EBADMSG;
		req->stall_ms = ms;
	}
	return 0;
}

static int parse_target(struct span target, struct http_request *req)
{
	struct span path, query = { target.p + target.len, 0 };
	uint64_t us;

	if (!span_cut(&target, '?', &path))
		path = target;
	else
		query = target;
	if (span_is(path, "/stall"))
		return parse_stall(query, req);
	if (!span_is(path, "/burn"))
		return 0;
	while (query.len) {
		struct span param = span_next(&query, '&');

		if (param.len < 3 || memcmp(param.p, "us=", 3) != 0)
			continue;
		param.p += 3;
		param.len -= 3;
		if (!parse_decimal(param, HTTP_MAX_BURN_US, &us))
			return -EBADMSG;
		req->burn_us = us;
	}
	return 0;
}

static int parse_request_line(struct span line, struct http_request *req, bool *http11)
{
	struct span method, target;

	if (!span_cut(&line, ' ', &method) || !span_cut(&line, ' ', &target) || !is_token(method) ||
	    !target.len)
		return -EBADMSG;
	for (size_t i = 0; i < target.len; i++) {
		if (target.p[i] <= ' ' || target.p[i] >= 0x7f)
			return -EBADMSG;
	}
	if (span_is(line, "HTTP/1.1"))
		*http11 = true;
	else if (!span_is(line, "HTTP/1.0"))
		return -EBADMSG;
	req->head = span_is(method, "HEAD");
	return parse_target(target, req);
}

struct conn_tokens {
	bool close, keep_alive;
};

static void parse_connection(struct span value, struct conn_tokens *ct)
{
	while (value.len) {
		struct span token = span_trim(span_next(&value, ','));

		if (span_is_nocase(token, "close"))
			ct->close = true;
		else if (span_is_nocase(token, "keep-alive"))
			ct->keep_alive = true;
	}
}

static int parse_header(struct span line, struct http_request *req, bool *have_length,
			struct conn_tokens *ct)
{
	struct span name, value;

	/* a blank before the colon, or a folded line, leaves a name that is not a token */
	if (!span_cut(&line, ':', &name) || !is_token(name))
		return -EBADMSG;
	value = span_trim(line);
	for (size_t i = 0; i < value.len; i++) {
		unsigned char c = value.p[i];

		if ((c < ' ' && c != '\t') || c == 0x7f)
			return -EBADMSG;
	}
	if (span_is_nocase(name, "content-length")) {
		/* two lengths could frame the body two ways: refuse rather than pick one */
		if (*have_length || !parse_decimal(value, UINT64_MAX, &req->content_length))
			return -EBADMSG;
		*have_length = true;
	} else if (span_is_nocase(name, "transfer-encoding")) {
		return -EOPNOTSUPP;
	} else if (span_is_nocase(name, "connection")) {
		parse_connection(value, ct);
	}
	return 0;
}

int http_parse_request(const char *buf, size_t len, struct http_request *req)
{
	size_t start = 0, limit = len < HTTP_MAX_HEADER ? len : HTTP_MAX_HEADER;
	struct conn_tokens ct = {};
	bool have_length = false, http11 = false;
	struct span block, line;
	const char *end;
	int err;

	/* RFC 9112 2.2: empty lines before a request line are ignored (some clients add one) */
	while (start + 2 <= limit && buf[start] == '\r' && buf[start + 1] == '\n')
		start += 2;
	end = memmem(buf + start, limit - start, "\r\n\r\n", 4);
	if (!end)
		return len >= HTTP_MAX_HEADER ? -EMSGSIZE : 0;

	memset(req, 0, sizeof(*req));
	/* every line up to the blank one, each with its "\r\n" */
	block.p = buf + start;
	block.len = end + 2 - block.p;
	for (bool first = true; block.len; first = false) {
		if (!span_cut(&block, '\n', &line) || !line.len || line.p[line.len - 1] != '\r')
			return -EBADMSG;
		line.len--;
		if (first)
			err = parse_request_line(line, req, &http11);
		else
			err = parse_header(line, req, &have_length, &ct);
		if (err)
			return err;
	}
	req->keep_alive = !ct.close && (http11 || ct.keep_alive);
	return end + 4 - buf;
}

int http_error_status(int err)
{
	switch (err) {
	case -EMSGSIZE:
		return 431;
	case -EOPNOTSUPP:
		return 501;
	default:
		return 400;
	}
}

static const char *reason(int status)
{
	switch (status) {
	case 200:
		return "OK";
	case 400:
		return "Bad Request";
	case 431:
		return "Request Header Fields Too Large";
	case 501:
		return "Not Implemented";
	default:
		return NULL;
	}
}

int http_format_response(char *buf, size_t size, int status, unsigned int worker, bool keep_alive,
			 bool head)
{
	const char *why = reason(status);
	char body[32];
	int body_len, n;

	if (!why)
		return -EINVAL;
	body_len = snprintf(body, sizeof(body), "worker %u\n", worker);
	n = snprintf(buf, size,
		     "HTTP/1.1 %d %s\r\n"
		     "Content-Type: text/plain\r\n"
		     "Content-Length: %d\r\n"
		     "X-Reuselb-Worker: %u\r\n"
		     "Connection: %s\r\n"
		     "\r\n"
		     "%s",
		     status, why, body_len, worker, keep_alive ? "keep-alive" : "close",
		     head ? "" : body);
	if (n < 0 || (size_t)n >= size)
		return -ENOSPC;
	return n;
}

void http_stall(unsigned int ms)
{
	struct timespec t = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000 };

	while (nanosleep(&t, &t) && errno == EINTR)
		;
}

void http_burn(unsigned int us)
{
	struct timespec start, now;
	int64_t elapsed_ns;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &start);
	do {
		clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
		elapsed_ns = (int64_t)(now.tv_sec - start.tv_sec) * 1000000000 +
			     (now.tv_nsec - start.tv_nsec);
	} while (elapsed_ns < (int64_t)us * 1000);
}
