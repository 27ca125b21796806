// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "sock.h"
#include "wait.h"

int rlbt_sockaddr(int family, const char *addr, uint16_t port, struct sockaddr_storage *ss,
		  socklen_t *len)
{
	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		if (inet_pton(AF_INET, addr, &sin->sin_addr) != 1)
			return -EINVAL;
		*len = sizeof(*sin);
		return 0;
	}
	if (family == AF_INET6) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		if (inet_pton(AF_INET6, addr, &sin6->sin6_addr) != 1)
			return -EINVAL;
		*len = sizeof(*sin6);
		return 0;
	}
	return -EAFNOSUPPORT;
}

static int set_timeouts(int fd, int timeout_ms)
{
	struct timeval tv = {
		.tv_sec = timeout_ms / 1000,
		.tv_usec = (timeout_ms % 1000) * 1000,
	};

	/* SO_SNDTIMEO bounds connect() too: a full accept queue drops SYNs silently. */
	if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) ||
	    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)))
		return -errno;
	return 0;
}

int rlbt_connect(int family, const char *src_addr, uint16_t src_port, const char *dst_addr,
		 uint16_t port)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, err, one = 1;

	fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	err = set_timeouts(fd, RLBT_TIMEOUT_MS);
	if (err)
		goto fail;
	if (src_port) {
		struct linger lg = { .l_onoff = 1, .l_linger = 0 };

		if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
		    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg))) {
			err = -errno;
			goto fail;
		}
	}
	if (src_addr || src_port) {
		err = rlbt_sockaddr(family,
				    src_addr ? src_addr : (family == AF_INET ? "0.0.0.0" : "::"),
				    src_port, &ss, &len);
		if (err)
			goto fail;
		if (bind(fd, (struct sockaddr *)&ss, len)) {
			err = -errno;
			goto fail;
		}
	}
	err = rlbt_sockaddr(family, dst_addr, port, &ss, &len);
	if (err)
		goto fail;
	if (connect(fd, (struct sockaddr *)&ss, len)) {
		/* A timed-out connect() reports EINPROGRESS; say what happened. */
		err = errno == EINPROGRESS ? -ETIMEDOUT : -errno;
		goto fail;
	}
	return fd;
fail:
	close(fd);
	return err;
}

int rlbt_free_port(int family, const char *addr)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, err;

	fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	err = rlbt_sockaddr(family, addr, 0, &ss, &len);
	if (err)
		goto out;
	if (bind(fd, (struct sockaddr *)&ss, len) ||
	    getsockname(fd, (struct sockaddr *)&ss, &len)) {
		err = -errno;
		goto out;
	}
	err = ntohs(family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port :
					((struct sockaddr_in6 *)&ss)->sin6_port);
out:
	close(fd);
	return err;
}

int rlbt_ask_id(int family, const char *src_addr, uint16_t src_port, const char *dst_addr,
		uint16_t port)
{
	char buf[64], tail;
	size_t len = 0;
	unsigned int id;
	int fd, err;

	fd = rlbt_connect(family, src_addr, src_port, dst_addr, port);
	if (fd < 0)
		return fd;
	/* The server writes one short line and closes: read to EOF, bounded by the buffer. */
	while (len < sizeof(buf) - 1) {
		ssize_t r = read(fd, buf + len, sizeof(buf) - 1 - len);

		if (r < 0) {
			err = errno == EAGAIN ? -ETIMEDOUT : -errno;
			goto out;
		}
		if (r == 0)
			break;
		len += r;
	}
	buf[len] = '\0';
	if (sscanf(buf, "worker %u%c", &id, &tail) != 2 || tail != '\n' ||
	    strchr(buf, '\n') != buf + len - 1) {
		err = -EPROTO;
		goto out;
	}
	err = (int)id;
out:
	close(fd);
	return err;
}
