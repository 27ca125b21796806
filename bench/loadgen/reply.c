// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * What the servers answer: an HTTP/1.1 response whose X-Reuselb-Worker header names the worker
 * (reuselb, the bench contenders, and nginx with its pid there), or a "worker <id>" line.
 */
#define _GNU_SOURCE /* memmem, strncasecmp */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "loadgen.h"

/* A decimal number at p, before end; -1 if there is none. */
static int64_t parse_number(const char *p, const char *end)
{
	int64_t v = 0;
	const char *start;

	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	start = p;
	while (p < end && *p >= '0' && *p <= '9' && v < INT64_MAX / 10)
		v = v * 10 + (*p++ - '0');
	return p > start ? v : -1;
}

/* The value of header name (with its colon) in the block [buf, end), as a number; -1 if absent. */
static int64_t header_number(const char *buf, const char *end, const char *name)
{
	size_t name_len = strlen(name);

	for (const char *line = buf; line < end;) {
		const char *eol = memchr(line, '\n', end - line);

		if (!eol)
			break;
		if ((size_t)(eol - line) > name_len && strncasecmp(line, name, name_len) == 0)
			return parse_number(line + name_len, eol);
		line = eol + 1;
	}
	return -1;
}

int reply_parse_http(const char *buf, size_t len, int64_t *worker)
{
	const char *head_end = memmem(buf, len, "\r\n\r\n", 4);
	int64_t body;

	if (!head_end)
		return len < LG_REPLY_SIZE ? 0 : -EBADMSG;
	head_end += 4;
	if (len < 12 || memcmp(buf, "HTTP/1.", 7) != 0 || memcmp(buf + 8, " 200", 4) != 0)
		return -EBADMSG;
	body = header_number(buf, head_end, "Content-Length:");
	if (body < 0)
		return -EBADMSG;
	if ((size_t)(head_end - buf) + body > len)
		return (size_t)(head_end - buf) + body <= LG_REPLY_SIZE ? 0 : -EBADMSG;
	*worker = header_number(buf, head_end, "X-Reuselb-Worker:");
	return 1;
}

int reply_parse_id(const char *buf, size_t len, int64_t *worker)
{
	const char *eol = memchr(buf, '\n', len);

	if (!eol)
		return len < LG_REPLY_SIZE ? 0 : -EBADMSG;
	if (eol - buf < 8 || memcmp(buf, "worker ", 7) != 0)
		return -EBADMSG;
	*worker = parse_number(buf + 7, eol);
	return *worker < 0 ? -EBADMSG : 1;
}
