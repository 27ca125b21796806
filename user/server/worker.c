// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * A worker thread: one level-triggered epoll loop over its socket, its connections and the
 * server's stop eventfd. A connection waits either to read or to write, never both: a peer that
 * does not read its answers is not read from either, so its queue cannot grow without bound.
 */
#define _GNU_SOURCE /* accept4 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include "server/worker.h"

#define EVENT_BATCH 64
/* connections (datagrams) taken per wake-up, so that the connections get their turn too */
#define ACCEPT_BATCH 64
#define DGRAM_BATCH 64
#define DGRAM_SIZE 65536
/* how long the listener rests when we cannot accept even with the spare descriptor */
#define PAUSE_MS 100

/*
 * epoll data: NULL is the stop eventfd, the worker itself its socket, &w->ctlfd its control
 * eventfd, anything else a conn
 */

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000ull + ts.tv_nsec / 1000000;
}

/* Returns -errno of the call that just failed and names it in the worker's result. */
static int fail(struct worker *w, const char *what)
{
	w->what = what;
	return -errno;
}

static void conn_unlink(struct worker *w, struct conn *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		w->oldest = c->next;
	if (c->next)
		c->next->prev = c->prev;
	else
		w->newest = c->prev;
}

static void conn_link_newest(struct worker *w, struct conn *c)
{
	c->prev = w->newest;
	c->next = NULL;
	if (w->newest)
		w->newest->next = c;
	else
		w->oldest = c;
	w->newest = c;
}

/* Keeps the list in order of last activity, so that the idle sweep looks at its head only. */
static void conn_touch(struct worker *w, struct conn *c)
{
	c->last_active_ms = w->now_ms;
	if (w->newest != c) {
		conn_unlink(w, c);
		conn_link_newest(w, c);
	}
}

static void count_accepted(struct worker *w)
{
	worker_bump(&w->accepted);
	rlb_worker_accepted(w->group, w->id);
}

/* Closes a connection that never got a struct conn. */
static void drop(struct worker *w, int fd)
{
	close(fd);
	rlb_worker_closed(w->group, w->id);
}

static void set_nr_conns(struct worker *w, unsigned int n)
{
	__atomic_store_n(&w->nr_conns, n, __ATOMIC_RELAXED);
}

static void conn_close(struct worker *w, struct conn *c)
{
	conn_unlink(w, c);
	/* closing also takes it out of the epoll set: nobody else holds the file */
	close(c->fd);
	conn_put(w, c);
	set_nr_conns(w, w->nr_conns - 1);
	rlb_worker_closed(w->group, w->id);
	worker_defer_update(w);
}

static int conn_progress(struct worker *w, struct conn *c, bool *moved);
static bool conn_settle(struct worker *w, struct conn *c);
static int conn_read(struct conn *c);

/* Searched for a connection's place in the list, at most: beyond, it may be closed late. */
#define BACKDATE_STEPS 64

/*
 * A new connection, the newest, that was silent for ms already: its idle clock started then.
 * It moves back in the list to keep it in order of last activity (the idle sweep reads its
 * head only), past at most BACKDATE_STEPS connections, so that a flood of silent connections
 * does not cost a walk of the whole list each.
 */
static void conn_backdate(struct worker *w, struct conn *c, uint64_t ms)
{
	struct conn *after = c->prev;

	c->last_active_ms -= ms < c->last_active_ms ? ms : 0;
	for (int i = 0; after && after->last_active_ms > c->last_active_ms; i++) {
		if (i == BACKDATE_STEPS) {
			c->last_active_ms = after->last_active_ms;
			break;
		}
		after = after->prev;
	}
	if (after == c->prev)
		return;
	conn_unlink(w, c);
	c->prev = after;
	c->next = after ? after->next : w->oldest;
	if (after)
		after->next = c;
	else
		w->oldest = c;
	c->next->prev = c;
}

/*
 * A deferring listener (defer.c) hands a connection over with its first request in: it is read
 * at once, and one whose request asked to close is answered and closed without joining the
 * epoll set. Any other new connection joins it through conn_settle().
 */
static void conn_start(struct worker *w, struct conn *c)
{
	bool moved = false;
	int err = 0;

	if (w->deferring) {
		err = conn_read(c);
		if (!err && (c->in_len || c->peer_eof))
			err = conn_progress(w, c, &moved);
		else if (!err)
			conn_backdate(w, c, worker_defer_waited_ms(w));
	}
	if (err || !conn_settle(w, c))
		conn_close(w, c);
}

static void conn_open(struct worker *w, int fd)
{
	struct conn *c;

	count_accepted(w);
	if (w->mode == SERVER_MODE_ID) {
		id_on_accept(w, fd);
		drop(w, fd);
		return;
	}
	/* over the bound, a quick close tells the client more than a full queue would */
	c = w->nr_conns < w->max_conns ? conn_get(w) : NULL;
	if (!c) {
		drop(w, fd);
		return;
	}
	memset(c, 0, offsetof(struct conn, in));
	c->fd = fd;
	set_nr_conns(w, w->nr_conns + 1);
	c->last_active_ms = w->now_ms;
	conn_link_newest(w, c);
	worker_defer_update(w);
	conn_start(w, c);
}

static int listener_pause(struct worker *w)
{
	struct epoll_event ev = { .events = 0, .data.ptr = w };

	if (epoll_ctl(w->epfd, EPOLL_CTL_MOD, w->lfd, &ev))
		return fail(w, "epoll_ctl");
	w->resume_ms = w->now_ms + PAUSE_MS;
	return 0;
}

static int listener_resume(struct worker *w)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = w };

	w->resume_ms = 0;
	if (w->lfd < 0)
		return 0;
	if (w->spare_fd < 0)
		w->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (epoll_ctl(w->epfd, EPOLL_CTL_MOD, w->lfd, &ev))
		return fail(w, "epoll_ctl");
	return 0;
}

/*
 * Out of descriptors or memory: the connection stays queued and the level-triggered listener
 * would wake us again at once, forever. Give up the spare descriptor to accept the connection
 * and close it, so that its client hears now rather than after a timeout; when that does not
 * help (the threads share one descriptor table), rest the listener for a while.
 */
static int accept_starved(struct worker *w, int err)
{
	int fd;

	if ((err == EMFILE || err == ENFILE) && w->spare_fd >= 0) {
		close(w->spare_fd);
		fd = accept4(w->lfd, NULL, NULL, SOCK_CLOEXEC);
		err = fd < 0 ? errno : 0;
		if (fd >= 0) {
			count_accepted(w);
			drop(w, fd);
		}
		w->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (!err || err == EAGAIN)
			return 0;
	}
	return listener_pause(w);
}

/*
 * The group's sockets are non-blocking: an empty queue is EAGAIN here, not a wait. A worker
 * woken for its listener alone takes one connection: its queue most likely holds just that one,
 * and the accept4 that would find it empty costs as much as the epoll_wait that names the
 * listener again when more wait. A busier wake-up takes a batch.
 */
static int worker_accept(struct worker *w, bool alone)
{
	int max = alone ? 1 : ACCEPT_BATCH;

	for (int i = 0; i < max; i++) {
		int fd = accept4(w->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd >= 0) {
			conn_open(w, fd);
			continue;
		}
		switch (errno) {
		case EAGAIN:
			return 0;
		case EMFILE:
		case ENFILE:
		case ENOBUFS:
		case ENOMEM:
			return accept_starved(w, errno);
		case EBADF:
		case EINVAL:
		case ENOTSOCK:
		case EFAULT:
			return fail(w, "accept4");
		default:
			/* that one failed in the queue (ECONNABORTED, EPROTO...): next */
			break;
		}
	}
	return 0;
}

static int worker_datagrams(struct worker *w)
{
	for (int i = 0; i < DGRAM_BATCH; i++) {
		struct sockaddr_storage peer;
		socklen_t peer_len = sizeof(peer);
		ssize_t n;
		size_t len;

		n = recvfrom(w->lfd, w->dgram, DGRAM_SIZE, 0, (struct sockaddr *)&peer, &peer_len);
		if (n < 0) {
			if (errno == EAGAIN)
				return 0;
			if (errno == EINTR)
				continue;
			return fail(w, "recvfrom");
		}
		worker_bump(&w->requests);
		__atomic_store_n(&w->last_rx_ms, w->now_ms, __ATOMIC_RELAXED);
		len = w->mode == SERVER_MODE_ID ? id_line(w, w->dgram, DGRAM_SIZE) : (size_t)n;
		/* datagrams get lost anyway: an answer the socket cannot take now is dropped */
		sendto(w->lfd, w->dgram, len, 0, (struct sockaddr *)&peer, peer_len);
	}
	return 0;
}

static int conn_flush(struct conn *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN ? 0 : -errno;
		}
		c->out_off += n;
	}
	c->out_off = c->out_len = 0;
	return 0;
}

static int conn_read(struct conn *c)
{
	char *buf = c->lingering ? c->in : c->in + c->in_len;
	size_t room = c->lingering ? CONN_IN_SIZE : CONN_IN_SIZE - c->in_len;
	ssize_t n;

	n = recv(c->fd, buf, room, 0);
	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -errno;
	if (n == 0)
		c->peer_eof = true;
	else if (!c->lingering)
		c->in_len += n;
	/* TCP hands over all it holds up to room: a shorter read emptied the queue */
	c->drained = (size_t)n < room;
	return 0;
}

/*
 * Lets the mode answer what it can and sends the answers, until it needs more input or the
 * peer stops taking output. The handler always starts with in[] at offset 0 and out[] empty.
 */
static int conn_progress(struct worker *w, struct conn *c, bool *moved)
{
	uint32_t consumed;
	int err;

	do {
		if (w->mode == SERVER_MODE_HTTP)
			http_on_input(w, c);
		else
			echo_on_input(w, c);
		consumed = c->in_off;
		*moved |= consumed > 0;
		memmove(c->in, c->in + c->in_off, c->in_len - c->in_off);
		c->in_len -= c->in_off;
		c->in_off = 0;
		err = conn_flush(c);
		if (err)
			return err;
	} while (consumed && c->in_len && !c->out_len);
	return 0;
}

/* Chooses what the connection waits for next; false when it is finished. */
static bool conn_settle(struct worker *w, struct conn *c)
{
	uint32_t want = EPOLLIN;

	if (c->out_len) {
		want = EPOLLOUT;
	} else if (c->peer_eof) {
		return false;
	} else if (c->closing && !c->lingering) {
		/*
		 * close() with unread input sends a reset, which can destroy the answer on its way.
		 * When the peer asked to close, after a request it sent whole, and nothing is left
		 * unread, it sends no more (RFC 9112 9.6): a plain close sends a FIN behind the
		 * answer, as nginx does. Otherwise (an error, a body still coming, keep-alive that
		 * we end: handover, shed, its next request may be on its way) end our side only and
		 * read until the peer closes (or the idle timeout).
		 */
		if (c->peer_closes && c->drained && !c->in_len && !c->body_left)
			return false;
		shutdown(c->fd, SHUT_WR);
		c->lingering = true;
		c->in_len = 0;
	}
	if (want != c->events) {
		struct epoll_event ev = { .events = want, .data.ptr = c };
		int op = c->events ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;

		if (epoll_ctl(w->epfd, op, c->fd, &ev))
			return false;
		c->events = want;
	}
	return true;
}

/*
 * Only progress restarts a connection's idle clock: input the mode consumed (a whole request,
 * echoed bytes, a body skipped) or output the peer took. Bytes of a request that never ends
 * (slowloris) do not, so --idle-timeout closes such a connection too.
 */
static void conn_on_event(struct worker *w, struct conn *c)
{
	bool moved = false;
	int err;

	/* errors and hang-ups show up as the failure of the next send or recv */
	if (c->events & EPOLLOUT) {
		moved = true;
		err = conn_flush(c);
		if (!err && !c->out_len)
			err = conn_progress(w, c, &moved);
	} else {
		err = conn_read(c);
		if (!err && !c->lingering)
			err = conn_progress(w, c, &moved);
	}
	if (err || !conn_settle(w, c)) {
		conn_close(w, c);
		return;
	}
	if (moved)
		conn_touch(w, c);
}

/*
 * Closes the worker's socket from its own thread, so that no descriptor is closed under a
 * thread that still polls it. A listener's queue then migrates to the live listeners (with a
 * migrate program). Datagrams cannot move: a UDP socket answers what it holds first.
 */
static void close_socket(struct worker *w)
{
	if (w->lfd < 0)
		return;
	if (w->udp)
		worker_datagrams(w);
	if (rlb_group_close_worker(w->group, w->id)) {
		fprintf(stderr,
			"reuselb: worker %u cannot close its socket: %s; it goes on serving it\n",
			w->id, rlb_last_error());
		return;
	}
	w->lfd = -1;
	w->resume_ms = 0;
	__atomic_store_n(&w->closed, 1, __ATOMIC_RELAXED);
}

/*
 * An HTTP connection between two requests: one answered, nothing of the next read, nothing to
 * send. A new connection whose first request is still on its way is not idle: its client
 * expects an answer.
 */
static bool conn_idle(const struct conn *c)
{
	return c->answered && !c->in_len && !c->out_len && !c->body_left && !c->closing;
}

/*
 * HTTP after a handover: keep-alive ends, so that the clients come back through the
 * successor; idle connections now, busy ones with their next answer (http.c).
 */
static void end_keepalive(struct worker *w)
{
	struct conn *c, *next;

	for (c = w->oldest; c; c = next) {
		next = c->next;
		if (!conn_idle(c))
			continue;
		c->closing = true;
		if (!conn_settle(w, c))
			conn_close(w, c);
	}
}

/*
 * What the main thread asked for (WORKER_CTL_*), done before the other events of the batch:
 * a listener that is to close must not accept its queue first, which the successor (or the
 * live workers) would take at once. A handover closes a TCP listener; UDP sockets stay, since
 * old flows still come until the main thread stops the worker. Returns the bits taken.
 */
static int worker_control(struct worker *w)
{
	uint64_t v;
	ssize_t n;
	int bits;

	/* the eventfd only wakes us: the bits say what to do */
	n = read(w->ctlfd, &v, sizeof(v));
	(void)n;
	bits = __atomic_exchange_n(&w->ctl, 0, __ATOMIC_ACQ_REL);
	if (bits & WORKER_CTL_HANDOVER)
		worker_handover_begin(w);
	if ((bits & WORKER_CTL_CLOSE) || ((bits & WORKER_CTL_HANDOVER) && !w->udp))
		close_socket(w);
	return bits;
}

void worker_request(struct worker *w, int bits)
{
	uint64_t one = 1;
	ssize_t n;

	__atomic_fetch_or(&w->ctl, bits, __ATOMIC_ACQ_REL);
	/* a non-blocking eventfd write fails only on counter overflow: the wake-up is pending */
	n = write(w->ctlfd, &one, sizeof(one));
	(void)n;
}

/* Once the socket is closed and the last connection gone, the main thread may stop waiting. */
static void tell_if_idle(struct worker *w)
{
	uint64_t one = 1;
	ssize_t n;

	if (w->idle_told || !w->closed || w->nr_conns)
		return;
	w->idle_told = true;
	n = write(w->idlefd, &one, sizeof(one));
	(void)n;
}

/* Stopping: what is still open is cut, except connections already winding down. */
static void worker_finish(struct worker *w)
{
	for (struct conn *c = w->oldest; c; c = c->next)
		w->cut += !c->lingering;
	while (w->oldest)
		conn_close(w, w->oldest);
	if (w->udp && w->handed_over)
		close_socket(w);
}

static int worker_timeout(const struct worker *w)
{
	uint64_t deadline = UINT64_MAX;

	if (w->idle_timeout_ms && w->oldest)
		deadline = w->oldest->last_active_ms + w->idle_timeout_ms;
	if (w->resume_ms && w->resume_ms < deadline)
		deadline = w->resume_ms;
	if (w->shed_end_ms && w->shed_end_ms < deadline)
		deadline = w->shed_end_ms;
	if (w->queued_look_ms && w->queued_look_ms < deadline)
		deadline = w->queued_look_ms;
	if (deadline == UINT64_MAX)
		return -1;
	if (deadline <= w->now_ms)
		return 0;
	return deadline - w->now_ms < INT_MAX ? (int)(deadline - w->now_ms) : INT_MAX;
}

void *worker_main(void *arg)
{
	struct epoll_event events[EVENT_BATCH];
	struct worker *w = arg;
	bool stop = false;
	int err = 0, bits;

	w->now_ms = now_ms();
	worker_queued_start(w);
	while (!stop && !err) {
		int n = epoll_wait(w->epfd, events, EVENT_BATCH, worker_timeout(w));

		if (n < 0 && errno != EINTR) {
			err = fail(w, "epoll_wait");
			break;
		}
		w->now_ms = now_ms();
		bits = 0;
		for (int i = 0; i < n; i++) {
			if (events[i].data.ptr == &w->ctlfd)
				bits = worker_control(w);
		}
		for (int i = 0; i < n && !stop && !err; i++) {
			void *p = events[i].data.ptr;

			if (!p)
				stop = true;
			else if (p == w && w->lfd >= 0)
				err = w->udp ? worker_datagrams(w) : worker_accept(w, n == 1);
			else if (p != w && p != &w->ctlfd)
				conn_on_event(w, p);
		}
		/* after the batch: this closes connections that events of the batch name */
		if (worker_keepalive_ends(w, bits))
			end_keepalive(w);
		while (w->idle_timeout_ms && w->oldest &&
		       w->now_ms - w->oldest->last_active_ms >= w->idle_timeout_ms)
			conn_close(w, w->oldest);
		if (!err && w->resume_ms && w->now_ms >= w->resume_ms)
			err = listener_resume(w);
		worker_queued_check(w);
		tell_if_idle(w);
	}
	if (err) {
		uint64_t one = 1;
		ssize_t n;

		w->err = err;
		/* an eventfd write fails only on counter overflow: nothing to do about it here */
		n = write(w->failfd, &one, sizeof(one));
		(void)n;
	}
	worker_finish(w);
	return NULL;
}

int worker_init(struct worker *w, const struct server_opts *opts, unsigned int id, int stopfd,
		int failfd, int idlefd)
{
	struct epoll_event stop = { .events = EPOLLIN, .data.ptr = NULL };
	struct epoll_event sock = { .events = EPOLLIN, .data.ptr = w };
	struct epoll_event ctl = { .events = EPOLLIN, .data.ptr = &w->ctlfd };
	const int one = 1;

	memset(w, 0, sizeof(*w));
	w->group = opts->group;
	w->id = id;
	w->mode = opts->mode;
	w->udp = opts->udp;
	w->max_conns = opts->max_conns;
	w->idle_timeout_ms = opts->idle_timeout_s * 1000ull;
	w->shed_window_ms = opts->shed_window_ms;
	w->defer_accept = opts->defer_accept;
	w->failfd = failfd;
	w->idlefd = idlefd;
	w->epfd = -1;
	w->spare_fd = -1;
	w->ctlfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (w->ctlfd < 0)
		return -errno;
	w->lfd = rlb_group_fd(opts->group, id);
	if (w->lfd < 0)
		return -EBADF;
	if (w->udp) {
		w->dgram = malloc(DGRAM_SIZE);
		if (!w->dgram)
			return -ENOMEM;
	} else {
		w->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (w->spare_fd < 0)
			return -errno;
		/*
		 * Each batch of answers is one send: Nagle would only hold the next one back.
		 * Accepted sockets inherit the listener's TCP_NODELAY: set once here, not per
		 * connection.
		 */
		if (setsockopt(w->lfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)))
			return -errno;
	}
	worker_defer_update(w);
	w->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (w->epfd < 0)
		return -errno;
	if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, stopfd, &stop) ||
	    epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->ctlfd, &ctl) ||
	    epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->lfd, &sock))
		return -errno;
	return 0;
}

void worker_fini(struct worker *w)
{
	if (w->epfd >= 0)
		close(w->epfd);
	if (w->ctlfd >= 0)
		close(w->ctlfd);
	if (w->spare_fd >= 0)
		close(w->spare_fd);
	conn_pool_free(w);
	free(w->dgram);
}
