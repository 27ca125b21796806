// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The real binary: "reuselb serve" steers, reports, and leaves nothing behind.
 *
 * 1. Start "$REUSELB serve -a 127.0.0.1 -p 0 -w 4 --policy round-robin --mode id". Its ready
 *    line names an ephemeral port, 4 workers, policy round-robin and a program id.
 * 2. The kernel has that program, of type sk_reuseport.
 * 3. Four connections in a row each read "worker <id>": four different workers, all below 4.
 * 4. SIGTERM: exit status 0, and a line "worker <i>: accepted 1, ..." for each of the four.
 * 5. The program is gone from the kernel (waiting out the RCU grace periods of a closed
 *    reuseport group), and so are the group's pins if it had any.
 * 6. Start "$REUSELB serve -a ::1 -p 0 -w 2 --mode http". An HTTP GET over a raw socket to
 *    ::1 is answered with status 200 and an X-Reuselb-Worker header. SIGTERM: exit status 0.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rlbtest.h"

#define NR_WORKERS 4

/* Where to connect to reach a server bound to addr: loopback for a wildcard address. */
static const char *loopback_of(const char *addr, int *family)
{
	*family = strchr(addr, ':') ? AF_INET6 : AF_INET;
	if (!strcmp(addr, "0.0.0.0"))
		return "127.0.0.1";
	if (!strcmp(addr, "::"))
		return "::1";
	return addr;
}

static void serve_id(void)
{
	static const char *const argv[] = { "serve",	   "-a",     "127.0.0.1", "-p",
					    "0",	   "-w",     "4",	  "--policy",
					    "round-robin", "--mode", "id",	  NULL };
	struct rlbt_server s;
	bool seen[NR_WORKERS] = {};
	char pins[128];
	struct stat st;
	bool pinned;
	const char *dst;
	int family, status, type, err;

	err = rlbt_serve_start(argv, &s);
	if (!CHECK(!err, "serve --mode id did not start: %s", strerror(-err)))
		return;
	CHECK(s.port != 0, "the ready line names port 0");
	CHECK(s.nr_workers == NR_WORKERS, "the ready line names %u workers", s.nr_workers);
	CHECK(!strcmp(s.policy, "round-robin"), "the ready line names policy \"%s\"", s.policy);
	CHECK(s.prog_id != 0, "the ready line names no program");

	type = rlbt_prog_type(s.prog_id);
	CHECK(type == BPF_PROG_TYPE_SK_REUSEPORT, "program %u in the kernel: type %d, want %d",
	      s.prog_id, type, BPF_PROG_TYPE_SK_REUSEPORT);
	CHECK(rlbt_count_progs(BPF_PROG_TYPE_SK_REUSEPORT) >= 1,
	      "the kernel lists no sk_reuseport program while the server runs");
	snprintf(pins, sizeof(pins), "%s/tcp-%u", RLB_PIN_ROOT, s.port);
	pinned = !stat(pins, &st);

	dst = loopback_of(s.addr, &family);
	for (int i = 0; i < NR_WORKERS; i++) {
		int id = rlbt_ask_id(family, NULL, 0, dst, s.port);

		if (!CHECK(id >= 0 && id < NR_WORKERS, "connection %d: %s", i,
			   id < 0 ? strerror(-id) : "worker id out of range"))
			continue;
		CHECK(!seen[id], "connection %d: worker %d again, round-robin over %d", i, id,
		      NR_WORKERS);
		seen[id] = true;
	}

	status = rlbt_serve_stop(&s);
	CHECK(status == 0, "serve --mode id exited with %d after SIGTERM", status);
	for (int w = 0; w < NR_WORKERS; w++) {
		long n = rlbt_serve_accepted(&s, w);

		CHECK(n == 1, "worker %d: %s %ld", w,
		      n < 0 ? "no line \"worker N: accepted M\"" : "accepted", n);
	}
	type = rlbt_wait_prog_gone(s.prog_id);
	CHECK(type == -ENOENT, "program %u is still loaded after the server exited (%d)", s.prog_id,
	      type);
	CHECK(!pinned || stat(pins, &st), "%s is left after the server exited", pins);
	rlbt_serve_free(&s);
}

/* Reads an HTTP response head (to the blank line), bounded by the buffer. */
static int read_head(int fd, char *buf, size_t size)
{
	size_t len = 0;

	while (len < size - 1) {
		ssize_t r = read(fd, buf + len, size - 1 - len);

		if (r < 0)
			return errno == EAGAIN ? -ETIMEDOUT : -errno;
		if (r == 0)
			break;
		len += r;
		buf[len] = '\0';
		if (strstr(buf, "\r\n\r\n"))
			return 0;
	}
	buf[len] = '\0';
	return -EPROTO;
}

static bool has_header(const char *head, const char *name)
{
	for (const char *line = head; line; line = strstr(line, "\r\n")) {
		if (line != head)
			line += 2;
		if (!strncasecmp(line, name, strlen(name)))
			return true;
	}
	return false;
}

static void serve_http(void)
{
	static const char *const argv[] = { "serve", "-a", "::1",    "-p",   "0",
					    "-w",    "2",  "--mode", "http", NULL };
	static const char req[] = "GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
	struct rlbt_server s;
	const char *dst;
	char head[4096];
	int family, fd, err, status;

	err = rlbt_serve_start(argv, &s);
	if (!CHECK(!err, "serve --mode http did not start: %s", strerror(-err)))
		return;
	dst = loopback_of(s.addr, &family);
	fd = rlbt_connect(family, NULL, 0, dst, s.port);
	if (CHECK(fd >= 0, "connect to %s port %u: %s", dst, s.port, strerror(-fd))) {
		CHECK(write(fd, req, sizeof(req) - 1) == (ssize_t)sizeof(req) - 1, "write: %s",
		      strerror(errno));
		err = read_head(fd, head, sizeof(head));
		if (CHECK(!err, "no response head: %s", strerror(-err))) {
			CHECK(!strncmp(head, "HTTP/1.1 200 ", 13), "status line: %.*s",
			      (int)strcspn(head, "\r\n"), head);
			CHECK(has_header(head, "X-Reuselb-Worker:"),
			      "no X-Reuselb-Worker header in:\n%s", head);
		}
		close(fd);
	}
	status = rlbt_serve_stop(&s);
	CHECK(status == 0, "serve --mode http exited with %d after SIGTERM", status);
	rlbt_serve_free(&s);
}

int main(void)
{
	rlbt_require_root();
	serve_id();
	serve_http();
	return rlbt_finish();
}
