// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The --metrics endpoint: one thread, one poll loop over the listener and up to
 * METRICS_CONNS connections. A scrape is answered as soon as its request head is in, whatever
 * the other connections do: each has SCRAPE_TIMEOUT_MS for its request and answer together
 * (not per read, so a peer that trickles bytes is cut), and a new connection beyond the limit
 * closes the oldest one still waiting for its request, so idle connections cannot keep a
 * scrape out either. Never a worker's time.
 */
#define _GNU_SOURCE /* accept4, asprintf */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include "server/metrics.h"

/* A connection's whole life, request in and answer out. */
#define SCRAPE_TIMEOUT_MS 2000
/* A request head longer than this is not a scrape. */
#define REQUEST_MAX 4096
/* Connections open at once; Prometheus needs one per scrape. */
#define METRICS_CONNS 64
/* Connections the kernel queues before we take them: a burst of idle ones, then a scrape. */
#define METRICS_BACKLOG 1024

/* A connection of the endpoint; fd -1 is a free slot. */
struct conn {
	int fd;
	uint64_t seq;	      /* order of arrival: the lowest is the oldest */
	uint64_t deadline_ms; /* CLOCK_MONOTONIC: closed then, answered or not */
	size_t len;	      /* of the request head so far */
	char *out;	      /* the answer, once the head is in */
	size_t out_len, out_off;
	char req[REQUEST_MAX];
};

struct metrics {
	int fd;
	int stopfd; /* written once by metrics_close(): the thread ends */
	uint16_t port;
	bool running;
	pthread_t thread;
	struct rlb_group *group;
	const struct server *server;
	uint64_t seq;
	struct conn conns[METRICS_CONNS];
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
	    bind(fd, (const struct sockaddr *)ss, len) ||
	    (listen_too && listen(fd, METRICS_BACKLOG))) {
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
	for (int i = 0; i < METRICS_CONNS; i++)
		m->conns[i].fd = -1;
	m->fd = bound_socket(&ss, len, true, true);
	if (m->fd < 0) {
		err = m->fd;
		free(m);
		return err;
	}
	len = sizeof(ss);
	if (getsockname(m->fd, (struct sockaddr *)&ss, &len) == 0)
		m->port = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port :
							  ((struct sockaddr_in6 *)&ss)->sin6_port);
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
/* Under "kernel" there are no maps: the queues come from the group's own sockets. */
static void snapshot_queues(const struct metrics *m, struct metrics_snapshot *snap)
{
	struct rlb_queue q[RLB_MAX_WORKERS];

	if (rlb_group_read_queues(m->group, q))
		return;
	for (unsigned int i = 0; i < snap->nr_workers; i++)
		snap->workers[i].queue = q[i];
}

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
		snapshot_queues(m, snap);
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
	snap->flow_table = st.flow_table;
	snap->flows_evicted = st.flows_evicted;
	err = metrics_generations(ctl, snap);
	if (err)
		return err;
	for (unsigned int i = 0; i < st.nr_workers; i++) {
		const struct rlb_worker_stats *ws = &st.workers[i];

		snap->workers[i] = (struct metrics_worker){
			.steered = ws->steered,
			.fallback = ws->fallback,
			.migrated = ws->migrated,
			.accepted = ws->accepted,
			.active = ws->active,
			.draining = ws->state == RLB_WORKER_DRAINING,
			.queue = ws->queue,
		};
	}
	return 0;
}

/* A whole answer: status line, headers and (unless head) the body. NULL when out of memory. */
static char *answer(const char *status, const char *type, const char *body, size_t len, bool head,
		    size_t *out_len)
{
	char *buf = NULL;
	int n;

	n = asprintf(&buf,
		     "HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%s"
		     "Connection: close\r\n\r\n%.*s",
		     status, type, len, strncmp(status, "405", 3) ? "" : "Allow: GET, HEAD\r\n",
		     head ? 0 : (int)len, body);
	if (n < 0)
		return NULL;
	*out_len = n;
	return buf;
}

/* The answer to a request head (req, NUL-terminated; NULL when none came whole). */
static char *scrape(const struct metrics *m, const char *req, size_t *out_len)
{
	static const char text[] = "text/plain; charset=utf-8";
	char method[16], target[256], policy[64];
	struct metrics_snapshot snap;
	char *body, *out;
	size_t len;
	bool head;

	if (!req || sscanf(req, "%15s %255s", method, target) != 2 ||
	    strncmp(req + strlen(method) + strlen(target) + 2, "HTTP/1.", 7))
		return answer("400 Bad Request", text, "bad request\n", 12, false, out_len);
	head = !strcmp(method, "HEAD");
	if (!head && strcmp(method, "GET"))
		return answer("405 Method Not Allowed", text, "use GET\n", 8, false, out_len);
	target[strcspn(target, "?")] = '\0';
	if (strcmp(target, "/metrics"))
		return answer("404 Not Found", text, "not found: try /metrics\n", 24, head,
			      out_len);
	if (snapshot(m, &snap, policy, sizeof(policy)))
		return answer("500 Internal Server Error", text, rlb_last_error(),
			      strlen(rlb_last_error()), head, out_len);
	body = metrics_render(&snap, &len);
	if (!body)
		return answer("500 Internal Server Error", text, "out of memory\n", 14, head,
			      out_len);
	out = answer("200 OK", "text/plain; version=0.0.4; charset=utf-8", body, len, head,
		     out_len);
	free(body);
	return out;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000ull + ts.tv_nsec / 1000000;
}

static void conn_close(struct conn *c)
{
	char sink[512];

	if (c->out && c->out_off == c->out_len) {
		/* a close with unread input would reset the answer on its way: end ours, discard */
		shutdown(c->fd, SHUT_WR);
		while (recv(c->fd, sink, sizeof(sink), MSG_DONTWAIT) > 0)
			;
	}
	close(c->fd);
	free(c->out);
	c->fd = -1;
	c->out = NULL;
}

/* Sends what the socket takes of the answer; closes the connection once it is all out. */
static void conn_send(struct conn *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) {
			c->out_off = 0; /* broken: no orderly end */
			conn_close(c);
			return;
		}
		c->out_off += n;
	}
	conn_close(c);
}

/* Reads what has come; once the head is whole (or cannot be), the answer goes out. */
static void conn_recv(const struct metrics *m, struct conn *c)
{
	bool whole = false, ended = false;

	while (!whole && !ended && c->len < REQUEST_MAX - 1) {
		ssize_t n = recv(c->fd, c->req + c->len, REQUEST_MAX - 1 - c->len, MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n < 0) {
			conn_close(c);
			return;
		}
		ended = n == 0;
		c->len += n;
		c->req[c->len] = '\0';
		whole = strstr(c->req, "\r\n\r\n") || strstr(c->req, "\n\n");
	}
	/* a head that ended early or grew too long is answered 400 */
	c->out = scrape(m, whole ? c->req : NULL, &c->out_len);
	if (!c->out) {
		conn_close(c);
		return;
	}
	conn_send(c);
}

/*
 * A slot for a new connection: a free one, else the oldest that is still waiting for its
 * request (an answer on its way is finished), else the oldest.
 */
static struct conn *conn_slot(struct metrics *m)
{
	struct conn *idle = NULL, *any = NULL;

	for (int i = 0; i < METRICS_CONNS; i++) {
		struct conn *c = &m->conns[i];

		if (c->fd < 0)
			return c;
		if (!c->out && (!idle || c->seq < idle->seq))
			idle = c;
		if (!any || c->seq < any->seq)
			any = c;
	}
	any = idle ? idle : any;
	any->out_off = 0;
	conn_close(any);
	return any;
}

/*
 * Takes every connection waiting (up to a backlog's worth), and reads each at once: a scrape
 * whose request is already in is answered before a newer connection could take its slot.
 */
static void accept_all(struct metrics *m, uint64_t now)
{
	for (int i = 0; i < METRICS_BACKLOG; i++) {
		int fd = accept4(m->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		struct conn *c;

		if (fd < 0)
			return;
		c = conn_slot(m);
		c->fd = fd;
		c->seq = m->seq++;
		c->deadline_ms = now + SCRAPE_TIMEOUT_MS;
		c->len = 0;
		c->out_len = c->out_off = 0;
		conn_recv(m, c);
	}
}

static void *metrics_main(void *arg)
{
	struct pollfd pfd[2 + METRICS_CONNS];
	struct conn *polled[METRICS_CONNS];
	struct metrics *m = arg;

	for (;;) {
		uint64_t now = now_ms(), next = UINT64_MAX;
		int n = 2, timeout;

		pfd[0] = (struct pollfd){ .fd = m->fd, .events = POLLIN };
		pfd[1] = (struct pollfd){ .fd = m->stopfd, .events = POLLIN };
		for (int i = 0; i < METRICS_CONNS; i++) {
			struct conn *c = &m->conns[i];

			if (c->fd < 0)
				continue;
			polled[n - 2] = c;
			pfd[n++] =
				(struct pollfd){ .fd = c->fd, .events = c->out ? POLLOUT : POLLIN };
			if (c->deadline_ms < next)
				next = c->deadline_ms;
		}
		timeout = next == UINT64_MAX ? -1 : next <= now ? 0 : (int)(next - now);
		if (poll(pfd, n, timeout) < 0 && errno != EINTR)
			break;
		if (pfd[1].revents)
			break;
		now = now_ms();
		for (int i = 2; i < n; i++) {
			struct conn *c = polled[i - 2];

			if (c->fd >= 0 && pfd[i].revents && c->out)
				conn_send(c);
			else if (c->fd >= 0 && pfd[i].revents)
				conn_recv(m, c);
			/* the whole exchange has its deadline, not each read: a slow peer is cut */
			if (c->fd >= 0 && now >= c->deadline_ms) {
				c->out_off = 0;
				conn_close(c);
			}
		}
		if (pfd[0].revents & POLLIN)
			accept_all(m, now);
	}
	for (int i = 0; i < METRICS_CONNS; i++)
		if (m->conns[i].fd >= 0)
			conn_close(&m->conns[i]);
	return NULL;
}

int metrics_start(struct metrics *m, struct rlb_group *g, const struct server *s)
{
	int err;

	m->group = g;
	m->server = s;
	/* the loop takes connections until none is left: it must not block on the last */
	if (fcntl(m->fd, F_SETFL, fcntl(m->fd, F_GETFL) | O_NONBLOCK))
		return -errno;
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
