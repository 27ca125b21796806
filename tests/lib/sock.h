/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* TCP clients from a chosen source address and port, and the "--mode id" answer. */
#ifndef RLBT_SOCK_H
#define RLBT_SOCK_H

#include <stdint.h>
#include <sys/socket.h>

/* addr:port of family (AF_INET or AF_INET6) into ss and len. Returns 0 or -errno. */
int rlbt_sockaddr(int family, const char *addr, uint16_t port, struct sockaddr_storage *ss,
		  socklen_t *len);

/*
 * A blocking TCP connection from src_addr:src_port (NULL and 0: the kernel chooses) to
 * dst_addr:port. A fixed source port gets SO_REUSEADDR and SO_LINGER {1, 0}, so that closing
 * it sends a reset and the same 4-tuple can connect again at once instead of waiting out
 * TIME_WAIT. Send and receive time out after RLBT_TIMEOUT_MS. Returns the fd or -errno.
 */
int rlbt_connect(int family, const char *src_addr, uint16_t src_port, const char *dst_addr,
		 uint16_t port);

/* A free port on addr (bound once with port 0, then released), for fixed-source clients. */
int rlbt_free_port(int family, const char *addr);

/*
 * Connects to a "--mode id" server and reads its one line "worker <id>\n". Returns the id,
 * -EPROTO for any other answer, or -errno.
 */
int rlbt_ask_id(int family, const char *src_addr, uint16_t src_port, const char *dst_addr,
		uint16_t port);

#endif
