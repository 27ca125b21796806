// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The protocols, as reuselb's workers speak them: the same answer bytes, so that no contender
 * wins by writing less. HTTP is the subset the load generator uses: GET without a body.
 */
#define _GNU_SOURCE /* memmem, strcasestr */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "contender.h"

/* CPU time of this thread, as reuselb's /burn spends it */
static void burn(unsigned long us)
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

size_t proto_id(unsigned int worker, char *out)
{
	return sprintf(out, "worker %u\n", worker);
}

int proto_http(const char *in, size_t len, unsigned int worker, char *out, size_t *out_len,
	       bool *close)
{
	static const char burn_path[] = "GET /burn?us=";
	const char *end = memmem(in, len, "\r\n\r\n", 4);
	char head[CTR_BUF_SIZE + 1];
	size_t head_len;

	if (!end)
		return len < CTR_BUF_SIZE ? 0 : -1;
	head_len = end + 4 - in;
	if (head_len < 16 || memcmp(in, "GET ", 4) != 0)
		return -1;
	memcpy(head, in, head_len);
	head[head_len] = '\0';
	if (!strncmp(head, burn_path, sizeof(burn_path) - 1)) {
		unsigned long us = strtoul(head + sizeof(burn_path) - 1, NULL, 10);

		burn(us < 1000000 ? us : 1000000);
	}
	*close = strcasestr(head, "\r\nConnection: close\r\n") != NULL;
	*out_len = snprintf(out, CTR_MAX_RESPONSE,
			    "HTTP/1.1 200 OK\r\n"
			    "Content-Type: text/plain\r\n"
			    "Content-Length: %d\r\n"
			    "X-Reuselb-Worker: %u\r\n"
			    "Connection: %s\r\n"
			    "\r\n"
			    "worker %u\n",
			    snprintf(NULL, 0, "worker %u\n", worker), worker,
			    *close ? "close" : "keep-alive", worker);
	return head_len;
}
