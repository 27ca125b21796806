/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Counting the connections the kernel itself resets when a listener closes at the instant a
 * handshake on it completes: inet_csk_complete_hashdance() finds the listener closed, forgets
 * the new child and sends a reset, and nothing migrates it (Linux 6.18; no socket of ours ever
 * saw that connection). A process killed under load can lose one that way, whatever the
 * program does. The count comes from the tcp:tcp_send_reset tracepoint, with a stack trace, in
 * a tracefs instance of the test's own, so that the test can tell that loss from its own.
 */
#ifndef RST_TRACE_H
#define RST_TRACE_H

struct rst_trace {
	char dir[128]; /* the instance, "" when none */
};

/* Starts counting; returns 0 or -errno (no tracefs, or no tcp_send_reset tracepoint). */
int rst_trace_start(struct rst_trace *t);

/*
 * Resets sent from the local port port by a handshake that completed on a closed listener,
 * since rst_trace_start; or -errno.
 */
long rst_trace_forgotten(const struct rst_trace *t, unsigned int port);

/* Stops counting and removes the instance. */
void rst_trace_stop(struct rst_trace *t);

#endif
