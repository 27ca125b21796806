// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * libFuzzer harness for the HTTP request parser: any bytes, in one piece or cut anywhere,
 * must give a header length within the input, 0 (incomplete) or a known error, and a
 * response that fits its buffer.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "server/http.h"

static void check(const char *buf, size_t len)
{
	struct http_request req;
	char out[HTTP_MAX_RESPONSE];
	int n = http_parse_request(buf, len, &req), status;

	if (n > 0 && (size_t)n > len)
		abort();
	if (n < 0 && n != -EMSGSIZE && n != -EBADMSG && n != -EOPNOTSUPP)
		abort();
	status = n < 0 ? http_error_status(n) : 200;
	if (n != 0 && (req.burn_us > HTTP_MAX_BURN_US ||
		       http_format_response(out, sizeof(out), status, 63, n > 0 && req.keep_alive,
					    n > 0 && req.head) <= 0))
		abort();
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	/* a copy of exactly size bytes, so that ASan sees any read past the end */
	char *buf = malloc(size ? size : 1);

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	check(buf, size);
	if (size > 1)
		check(buf, size / 2);
	free(buf);
	return 0;
}
