// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The --metrics endpoint: one thread, one scrape at a time. A scrape is rare and short, so a
 * plain blocking loop with timeouts serves it; a client that stalls holds the next scrape back
 * by SCRAPE_TIMEOUT_MS at most, and never a worker.
 */
#define _GNU_SOURCE /* accept4 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>
#include "server/metrics.h"

#define SCRAPE_TIMEOUT_MS 2000
/* A request head longer than this is not a scrape. */
#define REQUEST_MAX 4096

struct metrics {
	int fd;
	int stopfd; /* written once by metrics_close(): the thread ends */
	uint16_t port;
	bool running;
	pthread_t thread;
	struct rlb_group *group;
	const struct server *server;
};

static int fill_addr(const char *addr, uint16_t port, struct sockaddr_storage *ss, socklen_t *len)
{
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, addr, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		*len = sizeof(*sin);
		return 0;
	}
	if (inet_pton(AF_INET6, addr, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		*len = sizeof(*sin6);
		return 0;
	}
	return -EINVAL;
}

/* A TCP socket bound to ss; listening when listen_too. Returns the fd or -errno. */
static int bound_socket(const struct sockaddr_storage *ss, socklen_t len, bool reuseport,
			bool listen_too)
{
	int fd, one = 1, err;

	fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* SO_REUSEADDR: a restart must not wait out the TIME_WAIT of the last scrapes */
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one))) ||
	    bind(fd, (const struct sockaddr *)ss, len) || (listen_too && listen(fd, 16))) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

int metrics_open(const char *addr, uint16_t port, bool share, struct metrics **out)
{
	struct sockaddr_storage ss;
	socklen_t len;
	struct metrics *m;
	int probe, err;

	*out = NULL;
	err = fill_addr(addr, port, &ss, &len);
	if (err)
		return err;
	/*
	 * Our socket has SO_REUSEPORT so that a successor can bind beside it, which would also let
	 * an unrelated instance in unnoticed: unless we are that successor, a bind without
	 * SO_REUSEPORT first checks that nobody holds the address.
	 */
	if (!share && port) {
		probe = bound_socket(&ss, len, false, false);
		if (probe < 0)
			return probe;
		close(probe);
	}
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->stopfd = -1;
	m->fd = bound_socket(&ss, len, true, true);
	if (m->fd < 0) {
		err = m->fd;
		free(m);
		return err;
	}
	len = sizeof(ss);
	if (getsockname(m->fd, (struct sockaddr *)&ss, &len) == 0)
		m->port = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
							: ((struct sockaddr_in6 *)&ss)->sin6_port);
	m->stopfd = eventfd(0, EFD_CLOEXEC);
	if (m->stopfd < 0) {
		err = -errno;
		metrics_close(m);
		return err;
	}
	*out = m;
	return 0;
}

uint16_t metrics_port(const struct metrics *m)
{
	return m->port;
}

/* The group's figures: from the program's maps, or under "kernel" from the workers. */
static int snapshot(const struct metrics *m, struct metrics_snapshot *snap, char *policy,
		    size_t policy_len)
{
	struct rlb_ctl *ctl = rlb_group_ctl(m->group);
	struct rlb_group_stats st;
	int err;

	memset(snap, 0, sizeof(*snap));
	snap->group = rlb_group_name(m->group);
	snap->policy = policy;
	if (!ctl) {
		snprintf(policy, policy_len, "%s", rlb_policy_name(RLB_POLICY_KERNEL));
		snap->nr_workers = rlb_group_nr_workers(m->group);
		for (unsigned int i = 0; i < snap->nr_workers; i++)
			server_worker_live(m->server, i, &snap->workers[i].accepted,
					   &snap->workers[i].active);
		return 0;
	}
	err = rlb_ctl_read(ctl, &st);
	if (!err)
		err = rlb_ctl_policy_name(ctl, policy, policy_len);
	if (err)
		return err;
	snap->steering = true;
	snap->nr_workers = st.nr_workers;
	snap->unsteered = st.unsteered;
	for (unsigned int i = 0; i < st.nr_workers; i++) {
		const struct rlb_worker_stats *ws = &st.workers[i];

		snap->workers[i] = (struct metrics_worker){
			.steered = ws->steered,
			.fallback = ws->fallback,
			.migrated = ws->migrated,
			.accepted = ws->accepted,
			.active = ws->active,
			.draining = ws->state == RLB_WORKER_DRAINING,
		};
	}
	return 0;
}

static void send_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		buf += n;
		len -= n;
	}
}

static void respond(int fd, const char *status, const char *type, const char *body, size_t len,
		    bool head)
{
	char hdr[256];
	int n;

	n = snprintf(hdr, sizeof(hdr),
		     "HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%s"
		     "Connection: close\r\n\r\n",
		     status, type, len, strncmp(status, "405", 3) ? "" : "Allow: GET, HEAD\r\n");
	send_all(fd, hdr, n);
	if (!head)
		send_all(fd, body, len);
}

/* Reads the request head; returns its length, or 0 when none came whole in time. */
static size_t read_head(int fd, char *buf, size_t size)
{
	size_t len = 0;

	while (len < size - 1) {
		ssize_t n = recv(fd, buf + len, size - 1 - len, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return 0;
		len += n;
		buf[len] = '\0';
		if (strstr(buf, "\r\n\r\n") || strstr(buf, "\n\n"))
			return len;
	}
	return 0;
}

static void serve_scrape(const struct metrics *m, int fd)
{
	static const char text[] = "text/plain; charset=utf-8";
	char req[REQUEST_MAX], method[16], target[256], policy[64];
	struct metrics_snapshot snap;
	size_t len;
	char *body;
	bool head;

	if (!read_head(fd, req, sizeof(req)) || sscanf(req, "%15s %255s", method, target) != 2 ||
	    strncmp(req + strlen(method) + strlen(target) + 2, "HTTP/1.", 7)) {
		respond(fd, "400 Bad Request", text, "bad request\n", 12, false);
		return;
	}
	head = !strcmp(method, "HEAD");
	if (!head && strcmp(method, "GET")) {
		respond(fd, "405 Method Not Allowed", text, "use GET\n", 8, false);
		return;
	}
	target[strcspn(target, "?")] = '\0';
	if (strcmp(target, "/metrics")) {
		respond(fd, "404 Not Found", text, "not found: try /metrics\n", 24, head);
		return;
	}
	if (snapshot(m, &snap, policy, sizeof(policy))) {
		len = strlen(rlb_last_error());
		respond(fd, "500 Internal Server Error", text, rlb_last_error(), len, head);
		return;
	}
	body = metrics_render(&snap, &len);
	if (!body) {
		respond(fd, "500 Internal Server Error", text, "out of memory\n", 14, head);
		return;
	}
	respond(fd, "200 OK", "text/plain; version=0.0.4; charset=utf-8", body, len, head);
	free(body);
}

static void *metrics_main(void *arg)
{
	struct timeval tv = { .tv_sec = SCRAPE_TIMEOUT_MS / 1000,
			      .tv_usec = SCRAPE_TIMEOUT_MS % 1000 * 1000 };
	struct metrics *m = arg;
	char sink[512];

	for (;;) {
		struct pollfd pfd[2] = { { .fd = m->fd, .events = POLLIN },
					 { .fd = m->stopfd, .events = POLLIN } };
		int fd;

		if (poll(pfd, 2, -1) < 0 && errno != EINTR)
			break;
		if (pfd[1].revents)
			break;
		if (!(pfd[0].revents & POLLIN))
			continue;
		fd = accept4(m->fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		serve_scrape(m, fd);
		/* a close with unread input would reset the answer on its way: end ours, discard */
		shutdown(fd, SHUT_WR);
		while (recv(fd, sink, sizeof(sink), MSG_DONTWAIT) > 0)
			;
		close(fd);
	}
	return NULL;
}

int metrics_start(struct metrics *m, struct rlb_group *g, const struct server *s)
{
	int err;

	m->group = g;
	m->server = s;
	err = pthread_create(&m->thread, NULL, metrics_main, m);
	if (err)
		return -err;
	m->running = true;
	return 0;
}

void metrics_close(struct metrics *m)
{
	uint64_t one = 1;
	ssize_t n;

	if (!m)
		return;
	if (m->running) {
		/* a blocking eventfd write of 8 bytes fails only on a counter that is never this
		 * high */
		n = write(m->stopfd, &one, sizeof(one));
		(void)n;
		pthread_join(m->thread, NULL);
	}
	if (m->stopfd >= 0)
		close(m->stopfd);
	if (m->fd >= 0)
		close(m->fd);
	free(m);
}
