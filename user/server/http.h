/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A minimal HTTP/1.x request parser and response writer: pure functions over buffers, no I/O
 * and no state between calls, so that they can be unit-tested and fuzzed alone.
 */
#ifndef RLB_HTTP_H
#define RLB_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Request line, headers and the blank line that ends them. */
#define HTTP_MAX_HEADER 8192
#define HTTP_MAX_BURN_US 1000000
#define HTTP_MAX_STALL_MS 10000
/* No response that http_format_response() writes is longer. */
#define HTTP_MAX_RESPONSE 256

struct http_request {
	uint64_t content_length; /* body bytes after the header block, to be skipped */
	unsigned int burn_us;	 /* /burn?us=N: CPU time to spend before answering */
	unsigned int stall_ms;	 /* /stall?ms=N: time the worker's thread sleeps first */
	bool keep_alive;	 /* the version's default, overridden by a Connection header */
	bool head;		 /* HEAD: the response carries no body */
};

/*
 * Parses the header block at the start of buf. Returns its length (a body, if any, follows
 * it), 0 while the block is incomplete, or the error to answer with (http_error_status()):
 * -EMSGSIZE when the block does not end within HTTP_MAX_HEADER bytes, -EBADMSG when it is
 * malformed, -EOPNOTSUPP for a Transfer-Encoding (this server skips bodies by length only).
 */
int http_parse_request(const char *buf, size_t len, struct http_request *req);

/* The status code that answers a negative result of http_parse_request(). */
int http_error_status(int err);

/*
 * Writes a whole response to buf: status line, Content-Length, X-Reuselb-Worker, Connection,
 * and the body "worker <id>\n" (none for HEAD). Returns its length, -EINVAL for a status it
 * does not know, or -ENOSPC when size is too small.
 */
int http_format_response(char *buf, size_t size, int status, unsigned int worker, bool keep_alive,
			 bool head);

/*
 * What GET /burn?us=N asks for: spends N microseconds of the thread's CPU time (not wall
 * time), so that a request is a fixed amount of work even on a CPU other threads share.
 */
void http_burn(unsigned int us);
/*
 * What GET /stall?ms=N asks for: the worker's thread sleeps N ms (at most HTTP_MAX_STALL_MS),
 * accepting nothing meanwhile: a worker stuck in a long request, for bench/run's "stuck".
 */
void http_stall(unsigned int ms);

#endif
