// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Slow clients and long headers against the real binary: --idle-timeout cuts off a connection
 * that holds a worker without finishing a request (slowloris), and a header block over 8 KiB is
 * refused with 431.
 *
 * 1. "$REUSELB serve -a 127.0.0.1 -p 0 -w 1 --mode http --idle-timeout 2". Three connections
 *    at once, watched for 6 s at most:
 *    | silent   | sends nothing                                      | closed 1.5 to 3.5 s   |
 *    |          |                                                    | after its connect     |
 *    | trickle  | "GET / HTTP/1.1\r\nX-Slow: aaa..." one byte a       | closed within 3.5 s   |
 *    |          | second, never the blank line that ends the headers | of its connect        |
 *    | answered | one keep-alive request, answered 200, then nothing  | closed 1.5 to 3.5 s   |
 *    |          |                                                    | after the answer      |
 *    "Closed" means closed by the server: the client reads end of file or a reset (or, for the
 *    unfinished requests, a 408 response first), having shut down nothing itself.
 * 2. A header block of 9000 bytes: "431" with "Connection: close", then the server closes
 *    (end of file without our shutdown) within a second. A header block of exactly 8192 bytes
 *    (the bound): 200, and a second request on the same connection: 200 again.
 * 3. SIGTERM: exit status 0.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "rlbtest.h"

#define IDLE_S 2
#define WATCH_MS 6000
#define EARLIEST_MS 1500
#define LATEST_MS 3500
/* The server's bound on a header block (user/server/http.h). */
#define MAX_HEADER 8192

static const char slow[] = "GET / HTTP/1.1\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

struct watched {
	const char *name;
	int fd;
	long since_ms;	/* its last complete exchange (connect or answer) */
	long closed_ms; /* 0 while open */
	bool reset;
	char got[512]; /* what it read, if anything */
	size_t got_len;
	size_t sent; /* trickle: bytes of slow[] sent */
};

/* Reads a response up to the end of file or 'size' bytes; returns its length or -errno. */
static ssize_t read_until_eof(int fd, char *buf, size_t size, bool *eof)
{
	size_t len = 0;

	*eof = false;
	while (len < size - 1) {
		ssize_t r = read(fd, buf + len, size - 1 - len);

		if (r < 0)
			return errno == EAGAIN ? -ETIMEDOUT : -errno;
		if (r == 0) {
			*eof = true;
			break;
		}
		len += r;
	}
	buf[len] = '\0';
	return len;
}

static void on_readable(struct watched *w)
{
	char buf[512];
	ssize_t r = read(w->fd, buf, sizeof(buf));

	if (r > 0) {
		size_t n = (size_t)r < sizeof(w->got) - 1 - w->got_len ?
				   (size_t)r :
				   sizeof(w->got) - 1 - w->got_len;

		memcpy(w->got + w->got_len, buf, n);
		w->got_len += n;
		w->got[w->got_len] = '\0';
		return;
	}
	if (r < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	w->closed_ms = rlbt_now_ms();
	w->reset = r < 0;
}

static void slowloris(const struct rlbt_server *s)
{
	static const char req[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
	struct watched w[3] = {
		{ .name = "silent", .fd = -1 },
		{ .name = "trickle", .fd = -1 },
		{ .name = "answered", .fd = -1 },
	};
	long start, next_byte;
	char buf[512];
	int err;

	for (int i = 0; i < 3; i++) {
		w[i].fd = rlbt_connect(AF_INET, NULL, 0, "127.0.0.1", s->port);
		if (!CHECK(w[i].fd >= 0, "%s: connect: %s", w[i].name, strerror(-w[i].fd)))
			goto out;
		w[i].since_ms = rlbt_now_ms();
	}
	err = write(w[2].fd, req, sizeof(req) - 1) == sizeof(req) - 1 ? 0 : -errno;
	if (!err)
		err = rlbt_http_read(w[2].fd, buf, sizeof(buf));
	if (!CHECK(!err && !strncmp(buf, "HTTP/1.1 200 ", 13), "answered: no 200: %s",
		   err ? strerror(-err) : buf))
		goto out;
	w[2].since_ms = rlbt_now_ms();
	for (int i = 0; i < 3; i++)
		fcntl(w[i].fd, F_SETFL, O_NONBLOCK);

	start = rlbt_now_ms();
	next_byte = start;
	while (rlbt_now_ms() - start < WATCH_MS &&
	       (!w[0].closed_ms || !w[1].closed_ms || !w[2].closed_ms)) {
		struct pollfd p[3];
		long now = rlbt_now_ms(), wait;

		/* trickle: one more byte of the request every second, while it is open */
		if (!w[1].closed_ms && now >= next_byte && w[1].sent < sizeof(slow) - 1) {
			if (send(w[1].fd, slow + w[1].sent, 1, MSG_NOSIGNAL) == 1) {
				w[1].sent++;
			} else if (errno == EPIPE || errno == ECONNRESET) {
				w[1].closed_ms = now;
				w[1].reset = errno == ECONNRESET;
			}
			next_byte += 1000;
		}
		for (int i = 0; i < 3; i++)
			p[i] = (struct pollfd){ .fd = w[i].closed_ms ? -1 : w[i].fd,
						.events = POLLIN };
		wait = next_byte - now;
		if (wait < 0 || w[1].closed_ms)
			wait = 100;
		if (poll(p, 3, wait) < 0 && errno != EINTR) {
			CHECK(false, "poll: %s", strerror(errno));
			break;
		}
		for (int i = 0; i < 3; i++) {
			if (p[i].revents)
				on_readable(&w[i]);
		}
	}

	for (int i = 0; i < 3; i++) {
		long after = w[i].closed_ms - w[i].since_ms;

		if (!CHECK(w[i].closed_ms, "%s: still open after %d ms with --idle-timeout %d%s",
			   w[i].name, WATCH_MS, IDLE_S,
			   i == 1 ? " (sending a byte of its request line every second)" : ""))
			continue;
		printf("%s: closed by the server %ld ms after %s (%s, %zu bytes sent)\n", w[i].name,
		       after, i == 2 ? "its answer" : "its connect",
		       w[i].reset ? "reset" : "end of file", w[i].sent);
		CHECK(after <= LATEST_MS, "%s: closed %ld ms after %s, want at most %d", w[i].name,
		      after, i == 2 ? "its answer" : "its connect", LATEST_MS);
		if (i != 1)
			CHECK(after >= EARLIEST_MS, "%s: closed %ld ms after %s, want at least %d",
			      w[i].name, after, i == 2 ? "its answer" : "its connect", EARLIEST_MS);
		/* a 408 may come first for a request that was never finished; nothing else */
		CHECK(!w[i].got_len || (i != 2 && !strncmp(w[i].got, "HTTP/1.1 408 ", 13)),
		      "%s: read before the close: %.80s", w[i].name, w[i].got);
	}
out:
	for (int i = 0; i < 3; i++) {
		if (w[i].fd >= 0)
			close(w[i].fd);
	}
}

/* A request whose header block is exactly size bytes (at least 64). */
static size_t big_request(char *buf, size_t size)
{
	int n = snprintf(buf, size, "GET /big HTTP/1.1\r\nX-Fill: ");
	size_t fill = size - n - 4;

	memset(buf + n, 'f', fill);
	memcpy(buf + n + fill, "\r\n\r\n", 4);
	return size;
}

static void long_headers(const struct rlbt_server *s)
{
	static const char req[] = "GET / HTTP/1.1\r\n\r\n";
	char buf[9000], resp[1024];
	long start;
	size_t len;
	ssize_t n;
	bool eof;
	int fd, err;

	/* over the bound: refused, and the server closes by itself */
	fd = rlbt_connect(AF_INET, NULL, 0, "127.0.0.1", s->port);
	if (!CHECK(fd >= 0, "connect: %s", strerror(-fd)))
		return;
	len = big_request(buf, sizeof(buf));
	start = rlbt_now_ms();
	if (CHECK(write(fd, buf, len) == (ssize_t)len, "write %zu bytes: %s", len,
		  strerror(errno))) {
		n = read_until_eof(fd, resp, sizeof(resp), &eof);
		CHECK(n > 0 && !strncmp(resp, "HTTP/1.1 431 ", 13), "a 9000-byte header block: %s",
		      n < 0 ? strerror(-n) : resp);
		CHECK(n > 0 && strstr(resp, "\r\nConnection: close\r\n"),
		      "the 431 does not say \"Connection: close\": %s", resp);
		CHECK(eof && rlbt_now_ms() - start < 1000,
		      "the server did not close after its 431 (%s, %ld ms)",
		      eof ? "end of file" : "no end of file", rlbt_now_ms() - start);
	}
	close(fd);

	/* at the bound: answered, and the connection goes on */
	fd = rlbt_connect(AF_INET, NULL, 0, "127.0.0.1", s->port);
	if (!CHECK(fd >= 0, "connect: %s", strerror(-fd)))
		return;
	len = big_request(buf, MAX_HEADER);
	if (CHECK(write(fd, buf, len) == (ssize_t)len, "write %zu bytes: %s", len,
		  strerror(errno))) {
		err = rlbt_http_read(fd, resp, sizeof(resp));
		CHECK(!err && !strncmp(resp, "HTTP/1.1 200 ", 13),
		      "a header block of exactly %d bytes: %s", MAX_HEADER,
		      err ? strerror(-err) : resp);
		err = write(fd, req, sizeof(req) - 1) == sizeof(req) - 1 ? 0 : -errno;
		if (!err)
			err = rlbt_http_read(fd, resp, sizeof(resp));
		CHECK(!err && !strncmp(resp, "HTTP/1.1 200 ", 13),
		      "the request after it on the same connection: %s",
		      err ? strerror(-err) : resp);
	}
	close(fd);
}

int main(void)
{
	static const char *const argv[] = { "serve", "-a", "127.0.0.1", "-p",	"0",
					    "-w",    "1",  "--mode",	"http", "--idle-timeout",
					    "2",     NULL };
	struct rlbt_server s;
	int err, status;

	rlbt_require_root();
	err = rlbt_serve_start(argv, &s);
	if (!CHECK(!err, "serve --idle-timeout 2 did not start: %s", strerror(-err)))
		return rlbt_finish();
	slowloris(&s);
	long_headers(&s);
	status = rlbt_serve_stop(&s);
	CHECK(status == 0, "serve exited with %d after SIGTERM", status);
	rlbt_serve_free(&s);
	return rlbt_finish();
}
