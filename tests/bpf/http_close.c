// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * How "serve --mode http" ends a connection: at once when nothing of the peer's is left unread
 * (a plain close, as nginx does), lingering only where a close would reset the connection under
 * its answer. The server's open descriptors (/proc/PID/fd) show which: a lingering connection
 * keeps its descriptor until the peer closes, a closed one is gone.
 *
 * "$REUSELB serve -a 127.0.0.1 -p 0 -w 1 --mode http --idle-timeout 60"; base: its
 * descriptors with no connection.
 * 1. close: 20 clients each send one whole "Connection: close" request and keep their socket
 *    open. Each reads a 200 with "Connection: close", then end of file (no reset); the server's
 *    descriptors are back to base within 5 s while all 20 clients still hold theirs.
 * 2. body: "Connection: close" with "Content-Length: 100000" and 1000 bytes of the body. The
 *    answer (200) comes at once; the server still holds the connection (base + 1) while the
 *    body is unfinished; the other 99000 bytes are sent, and the client reads end of file, not
 *    a reset. Once the client closes: base.
 * 3. pipelined: "Connection: close" and a second request in one write: one answer, then end of
 *    file without a reset; the server lingers (base + 1) until the client closes, then base.
 * 4. keep-alive: two requests on one connection, both 200 "keep-alive"; the server holds the
 *    connection (base + 1) until the client closes, then base.
 * 5. SIGTERM: exit status 0.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "rlbtest.h"

#define NR_CLOSE 20
#define BODY_LEN 100000
#define BODY_FIRST 1000

static const char close_req[] = "GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";

struct fd_wait {
	pid_t pid;
	int want;
};

/* Entries of /proc/PID/fd, or -errno. */
static int count_fds(pid_t pid)
{
	char path[64];
	struct dirent *e;
	int n = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	d = opendir(path);
	if (!d)
		return -errno;
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

static bool fds_are(void *arg)
{
	const struct fd_wait *w = arg;

	return count_fds(w->pid) == w->want;
}

/* Waits up to RLBT_TIMEOUT_MS for the server to hold want descriptors; false if it does not. */
static bool wait_fds(pid_t pid, int want)
{
	struct fd_wait w = { pid, want };

	return rlbt_wait_for(fds_are, &w, RLBT_TIMEOUT_MS);
}

static int connect_server(const struct rlbt_server *s)
{
	return rlbt_connect(AF_INET, NULL, 0, "127.0.0.1", s->port);
}

static bool send_all(int fd, const char *p, size_t len)
{
	while (len) {
		ssize_t n = write(fd, p, len);

		if (n <= 0)
			return false;
		p += n;
		len -= n;
	}
	return true;
}

/* After an answer: 0 at end of file, -ECONNRESET for a reset, -EPROTO for more bytes. */
static int read_end(int fd)
{
	char c;
	ssize_t n = read(fd, &c, 1);

	if (n == 0)
		return 0;
	return n > 0 ? -EPROTO : -errno;
}

/* Reads one answer into buf; checks its status and Connection header. */
static bool read_answer(int fd, const char *conn, char *buf, size_t size)
{
	char want[64];
	int err = rlbt_http_read(fd, buf, size);

	if (!CHECK(!err, "no whole answer: %s", strerror(-err)))
		return false;
	snprintf(want, sizeof(want), "Connection: %s\r\n", conn);
	return CHECK(!strncmp(buf, "HTTP/1.1 200 ", 13), "answer: %.40s", buf) &&
	       CHECK(strstr(buf, want), "no \"%s\" in the answer: %s", conn, buf);
}

static void close_at_once(const struct rlbt_server *s, int base)
{
	int fds[NR_CLOSE], i, end;
	char buf[1024];

	rlbt_case_begin("close");
	for (i = 0; i < NR_CLOSE; i++)
		fds[i] = -1;
	for (i = 0; i < NR_CLOSE; i++) {
		fds[i] = connect_server(s);
		if (!CHECK(fds[i] >= 0, "connect: %s", strerror(-fds[i])))
			goto out;
		if (!CHECK(send_all(fds[i], close_req, sizeof(close_req) - 1), "send: %m"))
			goto out;
		if (!read_answer(fds[i], "close", buf, sizeof(buf)))
			goto out;
		end = read_end(fds[i]);
		CHECK(end == 0, "client %d: after the answer %s, not end of file", i,
		      strerror(-end));
	}
	/* every client still holds its socket: the server has not waited for them */
	CHECK(wait_fds(s->pid, base), "the server holds %d descriptors, %d with no connection",
	      count_fds(s->pid), base);
out:
	for (i = 0; i < NR_CLOSE; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	rlbt_case_end();
}

static void body_unfinished(const struct rlbt_server *s, int base)
{
	static char body[BODY_LEN];
	char head[256], buf[1024];
	int fd, len, end;

	rlbt_case_begin("body");
	memset(body, 'b', sizeof(body));
	len = snprintf(head, sizeof(head),
		       "POST / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
		       "Content-Length: %d\r\n\r\n",
		       BODY_LEN);
	fd = connect_server(s);
	if (!CHECK(fd >= 0, "connect: %s", strerror(-fd)))
		goto out;
	if (!CHECK(send_all(fd, head, len) && send_all(fd, body, BODY_FIRST), "send: %m"))
		goto out;
	if (!read_answer(fd, "close", buf, sizeof(buf)))
		goto out;
	CHECK(wait_fds(s->pid, base + 1), "the server holds %d descriptors, not base %d + 1",
	      count_fds(s->pid), base);
	CHECK(send_all(fd, body + BODY_FIRST, BODY_LEN - BODY_FIRST), "send the rest: %m");
	end = read_end(fd);
	CHECK(end == 0, "after the body %s, not end of file", strerror(-end));
out:
	if (fd >= 0)
		close(fd);
	CHECK(wait_fds(s->pid, base), "%d descriptors after the client closed, not %d",
	      count_fds(s->pid), base);
	rlbt_case_end();
}

static void pipelined(const struct rlbt_server *s, int base)
{
	static const char reqs[] = "GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
				   "GET / HTTP/1.1\r\nHost: t\r\n\r\n";
	char buf[1024];
	int fd, end;

	rlbt_case_begin("pipelined");
	fd = connect_server(s);
	if (!CHECK(fd >= 0, "connect: %s", strerror(-fd)))
		goto out;
	if (!CHECK(send_all(fd, reqs, sizeof(reqs) - 1), "send: %m"))
		goto out;
	if (!read_answer(fd, "close", buf, sizeof(buf)))
		goto out;
	end = read_end(fd);
	CHECK(end == 0, "after the answer %s, not end of file", strerror(-end));
	CHECK(wait_fds(s->pid, base + 1), "the server holds %d descriptors, not base %d + 1",
	      count_fds(s->pid), base);
out:
	if (fd >= 0)
		close(fd);
	CHECK(wait_fds(s->pid, base), "%d descriptors after the client closed, not %d",
	      count_fds(s->pid), base);
	rlbt_case_end();
}

static void keep_alive(const struct rlbt_server *s, int base)
{
	static const char req[] = "GET / HTTP/1.1\r\nHost: t\r\n\r\n";
	char buf[1024];
	int fd;

	rlbt_case_begin("keep-alive");
	fd = connect_server(s);
	if (!CHECK(fd >= 0, "connect: %s", strerror(-fd)))
		goto out;
	for (int i = 0; i < 2; i++) {
		if (!CHECK(send_all(fd, req, sizeof(req) - 1), "send: %m") ||
		    !read_answer(fd, "keep-alive", buf, sizeof(buf)))
			goto out;
	}
	CHECK(wait_fds(s->pid, base + 1), "the server holds %d descriptors, not base %d + 1",
	      count_fds(s->pid), base);
out:
	if (fd >= 0)
		close(fd);
	CHECK(wait_fds(s->pid, base), "%d descriptors after the client closed, not %d",
	      count_fds(s->pid), base);
	rlbt_case_end();
}

int main(void)
{
	static const char *const argv[] = { "serve", "-a", "127.0.0.1", "-p",	"0",
					    "-w",    "1",  "--mode",	"http", "--idle-timeout",
					    "60",    NULL };
	struct rlbt_server s;
	int err, status, base;

	rlbt_require_root();
	err = rlbt_serve_start(argv, &s);
	if (!CHECK(!err, "serve --mode http did not start: %s", strerror(-err)))
		return rlbt_finish();
	base = count_fds(s.pid);
	if (CHECK(base > 0, "/proc/%d/fd: %s", (int)s.pid, strerror(-base))) {
		close_at_once(&s, base);
		body_unfinished(&s, base);
		pipelined(&s, base);
		keep_alive(&s, base);
	}
	status = rlbt_serve_stop(&s);
	CHECK(status == 0, "serve exited with %d after SIGTERM", status);
	rlbt_serve_free(&s);
	return rlbt_finish();
}
