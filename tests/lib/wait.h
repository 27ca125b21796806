/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Time, and waiting for a condition (never for a time window). */
#ifndef RLBT_WAIT_H
#define RLBT_WAIT_H

#include <stdbool.h>

/* How long a helper waits for the kernel or for the server before it gives up. */
#define RLBT_TIMEOUT_MS 5000

/*
 * How long a server may take to get ready: it loads and verifies the program, which took over
 * 5 s in the 6.1 guest (emulated CPUs) on a busy host. tests/lib/common.bash's serve_start
 * waits as long.
 */
#define RLBT_START_TIMEOUT_MS 30000

/* CLOCK_MONOTONIC in milliseconds. */
long rlbt_now_ms(void);

/* Polls cond(arg) until it holds or timeout_ms pass; returns whether it held. */
bool rlbt_wait_for(bool (*cond)(void *arg), void *arg, int timeout_ms);

/*
 * All that the file of fd holds (read from offset 0, up to 16 KiB), NUL-terminated: a server's
 * stderr kept in a tmpfile(). The text is static: valid until the next call.
 */
const char *rlbt_file_text(int fd);

/* Waits until the file of fd holds line (rlbt_file_text); returns whether it did in time. */
bool rlbt_wait_said(int fd, const char *line, int timeout_ms);

#endif
