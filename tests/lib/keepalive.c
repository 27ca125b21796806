// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Keep-alive HTTP clients (keepalive.h). */
#define _GNU_SOURCE /* strcasestr */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "keepalive.h"
#include "wait.h"

static int dial(uint16_t port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	if (fd < 0 || connect(fd, (void *)&sa, sizeof(sa))) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	fcntl(fd, F_SETFL, O_NONBLOCK);
	return fd;
}

static void send_get(struct rlbt_ka_fleet *f, struct rlbt_ka_client *c)
{
	static const char get[] = "GET / HTTP/1.1\r\nHost: t\r\n\r\n";

	if (c->fd < 0) {
		c->fd = dial(f->port);
		f->reconnects++;
	}
	if (c->fd < 0 || write(c->fd, get, sizeof(get) - 1) != sizeof(get) - 1) {
		f->errors++;
		return;
	}
	c->waiting = true;
	c->len = 0;
}

/* A whole answer in c->buf: 1, 0 if more is to come, -1 if it is wrong. */
static int parsed(struct rlbt_ka_client *c, bool *close_it)
{
	char *end, *cl;

	c->buf[c->len] = '\0';
	end = strstr(c->buf, "\r\n\r\n");
	if (!end)
		return 0;
	cl = strcasestr(c->buf, "Content-Length: ");
	if (!cl || strncmp(c->buf, "HTTP/1.1 200", 12))
		return -1;
	if ((size_t)(end + 4 - c->buf) + strtoul(cl + 16, NULL, 10) > c->len)
		return 0;
	*close_it = strcasestr(c->buf, "Connection: close") != NULL;
	return 1;
}

static void on_readable(struct rlbt_ka_fleet *f, struct rlbt_ka_client *c, long now)
{
	bool close_it = false;
	ssize_t n = read(c->fd, c->buf + c->len, sizeof(c->buf) - 1 - c->len);
	int r;

	if (n <= 0) {
		if (n < 0 && errno == EAGAIN)
			return;
		/* a close the server did not announce, or a reset */
		f->errors++;
		close(c->fd);
		c->fd = -1;
		c->waiting = false;
		return;
	}
	c->len += n;
	r = parsed(c, &close_it);
	if (r == 0)
		return;
	if (r < 0)
		f->errors++;
	f->answers++;
	c->answers_since_close++;
	c->waiting = false;
	c->next_ms = now + f->period_ms;
	if (close_it || r < 0) {
		close(c->fd);
		c->fd = -1;
	}
	if (close_it) {
		f->closes++;
		c->answers_since_close = 0;
		if (!c->first_close_ms)
			c->first_close_ms = now;
	}
}

int rlbt_ka_init(struct rlbt_ka_fleet *f, unsigned int n, uint16_t port, int period_ms)
{
	*f = (struct rlbt_ka_fleet){ .n = n, .port = port, .period_ms = period_ms };
	f->c = calloc(n, sizeof(*f->c));
	if (!f->c)
		return -ENOMEM;
	for (unsigned int i = 0; i < n; i++)
		f->c[i].fd = -1;
	return 0;
}

void rlbt_ka_turn(struct rlbt_ka_fleet *f)
{
	struct pollfd pfd[f->n];
	long now = rlbt_now_ms();

	for (unsigned int i = 0; i < f->n; i++) {
		struct rlbt_ka_client *c = &f->c[i];

		if (!c->waiting && now >= c->next_ms)
			send_get(f, c);
		pfd[i] = (struct pollfd){ .fd = c->waiting ? c->fd : -1, .events = POLLIN };
	}
	if (poll(pfd, f->n, 10) <= 0)
		return;
	now = rlbt_now_ms();
	for (unsigned int i = 0; i < f->n; i++)
		if (pfd[i].revents)
			on_readable(f, &f->c[i], now);
}

void rlbt_ka_free(struct rlbt_ka_fleet *f)
{
	for (unsigned int i = 0; f->c && i < f->n; i++)
		if (f->c[i].fd >= 0)
			close(f->c[i].fd);
	free(f->c);
	f->c = NULL;
}
