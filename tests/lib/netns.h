/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The network as the kernel sees it: a namespace of the test's own, and the TCP sockets of a
 * port as /proc/net/tcp lists them (request sockets included, which no fd shows).
 */
#ifndef RLBT_NETNS_H
#define RLBT_NETNS_H

#include <stdint.h>

/*
 * Moves the calling process into a new network namespace and brings its loopback up: no
 * traffic, sysctl or XDP program of the host's, and all of it gone with the process. Returns 0
 * or -errno.
 */
int rlbt_private_netns(void);

/*
 * The TCP sockets of family whose local port is port and whose state (TCP_LISTEN,
 * TCP_SYN_RECV, ...) is in the mask states (bit 1 << state), from /proc/net/tcp or tcp6 of the
 * caller's namespace (sock_diag would need the inet_diag module, which a guest without modules
 * lacks). A request socket (TCP_NEW_SYN_RECV: a handshake waiting for its final ACK) is listed
 * as TCP_SYN_RECV. Returns the count or -errno.
 */
int rlbt_tcp_sockets(int family, uint16_t port, uint32_t states);

#endif
