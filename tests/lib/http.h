/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* An HTTP client for "serve --mode http", just enough for its one-line answers. */
#ifndef RLBT_HTTP_H
#define RLBT_HTTP_H

#include <stddef.h>

/*
 * Reads one whole answer of "serve --mode http" from fd, the head and the one-line body
 * ("worker N\n"), into buf (NUL-terminated). Returns 0, or -EPIPE for an end of file first,
 * -ETIMEDOUT, -ENOBUFS when it does not fit, or another -errno.
 */
int rlbt_http_read(int fd, char *buf, size_t size);

/* One keep-alive "GET /" on fd and its whole answer: the status, or -errno (as above). */
int rlbt_http_get(int fd);

#endif
