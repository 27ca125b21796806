// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The protocols, as reuselb's workers speak them: HTTP through reuselb's own parser and
 * response writer (user/server/http_parse.c), so that no contender wins by writing less.
 */
#include <stdio.h>

#include "contender.h"
#include "server/http.h"

size_t proto_id(unsigned int worker, char *out)
{
	return sprintf(out, "worker %u\n", worker);
}

int proto_http(const char *in, size_t len, unsigned int worker, char *out, size_t *out_len,
	       bool *close)
{
	struct http_request req;
	int n = http_parse_request(in, len, &req), m;

	if (n <= 0)
		return n == 0 ? 0 : -1;
	http_burn(req.burn_us);
	m = http_format_response(out, CTR_MAX_RESPONSE, 200, worker, req.keep_alive, req.head);
	if (m < 0)
		return -1;
	*close = !req.keep_alive;
	*out_len = m;
	return n;
}
