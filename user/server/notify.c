// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * sd_notify(3) without libsystemd: the protocol is one datagram, not worth a dependency. Each
 * message opens its own socket: an instance sends a handful in its life.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include "server/notify.h"

/* The address $NOTIFY_SOCKET names: 0 and its length, -ENOENT without one, -EINVAL if bad. */
static int notify_addr(struct sockaddr_un *sa, socklen_t *len)
{
	const char *path = getenv("NOTIFY_SOCKET");
	size_t n;

	if (!path || !path[0])
		return -ENOENT;
	n = strlen(path);
	if ((path[0] != '/' && path[0] != '@') || n >= sizeof(sa->sun_path))
		return -EINVAL;
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	memcpy(sa->sun_path, path, n);
	/* an abstract name is exactly its n bytes, the first a NUL; a path carries its NUL */
	if (path[0] == '@')
		sa->sun_path[0] = '\0';
	*len = offsetof(struct sockaddr_un, sun_path) + n + (path[0] == '/');
	return 0;
}

int notify_send(const char *fmt, ...)
{
	struct sockaddr_un sa;
	char msg[512];
	socklen_t len;
	va_list ap;
	int fd, err, n;

	err = notify_addr(&sa, &len);
	if (err)
		return err == -ENOENT ? 0 : err;
	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(msg))
		return -EMSGSIZE;
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	err = 0;
	if (sendto(fd, msg, n, MSG_NOSIGNAL, (struct sockaddr *)&sa, len) < 0)
		err = -errno;
	close(fd);
	return err;
}

/* A manager that cannot be told is said once, then left alone: serving matters more. */
static void told(struct notify *n, int err)
{
	if (!err || n->warned)
		return;
	n->warned = true;
	fprintf(stderr,
		"reuselb: cannot notify the service manager at $NOTIFY_SOCKET (%s): %s; "
		"serving on\n",
		getenv("NOTIFY_SOCKET"), strerror(-err));
}

/* "serving tcp ADDR port PORT, N workers, policy NAME", as the ready line says it */
static const char *serving(const struct notify *n, char *buf, size_t len)
{
	snprintf(buf, len, "serving %s %s port %u, %u workers, policy %s",
		 n->cfg->group.udp ? "udp" : "tcp", n->cfg->group.addr, rlb_group_port(n->g),
		 rlb_group_nr_workers(n->g), rlb_policy_name(rlb_group_policy(n->g)));
	return buf;
}

void notify_started(struct notify *n, const struct serve_config *cfg, struct rlb_group *g,
		    int predecessor)
{
	char status[256];

	*n = (struct notify){ .cfg = cfg, .g = g, .predecessor = predecessor };
	if (predecessor > 0) {
		told(n, notify_send("STATUS=taking group %s over from pid %d", rlb_group_name(g),
				    predecessor));
		return;
	}
	n->main = true;
	/* --takeover with no one to take over from: perhaps started by a reload, not as main */
	if (cfg->group.takeover)
		told(n, notify_send("MAINPID=%d\nREADY=1\nSTATUS=%s", (int)getpid(),
				    serving(n, status, sizeof(status))));
	else
		told(n, notify_send("READY=1\nSTATUS=%s", serving(n, status, sizeof(status))));
}

void notify_check(struct notify *n)
{
	char status[256];

	if (n->main || !rlb_group_released(n->g))
		return;
	n->main = true;
	told(n, notify_send("MAINPID=%d\nREADY=1\nSTATUS=%s", (int)getpid(),
			    serving(n, status, sizeof(status))));
}

void notify_handover(struct notify *n, int successor)
{
	/*
	 * The successor says it too, but at its next look, which may come after this instance
	 * has finished and exited: the manager would take that exit for the service's end.
	 */
	n->main = false;
	told(n, notify_send("MAINPID=%d\nSTATUS=handed group %s over to pid %d, finishing",
			    successor, rlb_group_name(n->g), successor));
}

void notify_undone(struct notify *n, int successor)
{
	char status[256];

	told(n, notify_send("STATUS=%s; pid %d died taking it over",
			    serving(n, status, sizeof(status)), successor));
}

void notify_stopping(struct notify *n)
{
	if (n->main)
		told(n, notify_send("STOPPING=1\nSTATUS=stopping"));
}
