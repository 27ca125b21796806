// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * "reuselb serve" speaks systemd's readiness protocol to a NOTIFY_SOCKET the test opens
 * itself (no systemd needed), with SO_PASSCRED so that each datagram names the pid that sent
 * it, as systemd sees it.
 *
 * 1. path: NOTIFY_SOCKET is a path in a temporary directory. "serve -a 127.0.0.1 -p PORT -w 2
 *    --name notify-PID" sends exactly "READY=1\nSTATUS=serving tcp 127.0.0.1 port PORT, 2
 *    workers, policy round-robin" (its ready line's words); SIGTERM: it sends
 *    "STOPPING=1\nSTATUS=stopping" and exits 0.
 * 2. abstract: NOTIFY_SOCKET is "@reuselb-notify-PID". A is started with --takeover (as a
 *    reload would start it) and finds nothing to take over: "MAINPID=A\nREADY=1\nSTATUS=...".
 *    B, the same command (a systemctl reload's ExecReload), takes over: B first says only
 *    "STATUS=taking group G over from pid A" (no READY, no MAINPID: its death must not look
 *    like the service's); A hands over and sends "MAINPID=B\nSTATUS=handed group G over to
 *    pid B, finishing" before it exits (found in the socket once A has exited), and never
 *    STOPPING=1; B then sends "MAINPID=B\nREADY=1\nSTATUS=serving ...". SIGTERM to B:
 *    STOPPING=1 from B.
 * 3. undone: A with --confirm 600000, B takes over and is SIGKILLed before the handover: A
 *    says "STATUS=serving ...; pid B died taking it over" and never MAINPID=B; B sent nothing
 *    but its STATUS. SIGTERM to A: STOPPING=1 from A.
 * 4. no manager listens: NOTIFY_SOCKET=/nonexistent/reuselb-notify. serve serves anyway and
 *    stops on SIGTERM with exit 0, and says so once on stderr ("cannot notify the service
 *    manager at $NOTIFY_SOCKET (PATH): No such file or directory; serving on"), not once per
 *    message.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rlbtest.h"

#define WAIT_MS 20000
#define MAX_MSGS 64

struct msg {
	pid_t pid;
	char text[512];
};

struct ctx {
	int fd; /* the NOTIFY_SOCKET's receiving end */
	struct msg msgs[MAX_MSGS];
	int nr;
	char name[32];
	char port[16];
};

/* A datagram socket at addr (a path, or "@name"), with SO_PASSCRED: its fd, or -errno. */
static int notify_socket(const char *addr)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	socklen_t len = offsetof(struct sockaddr_un, sun_path) + strlen(addr);
	int fd, one = 1;

	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	memcpy(sa.sun_path, addr, strlen(addr));
	if (addr[0] == '@')
		sa.sun_path[0] = '\0';
	else
		len++;
	if (setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) ||
	    bind(fd, (struct sockaddr *)&sa, len)) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

/* Every datagram waiting in the socket, with its sender's pid, into c->msgs. */
static void drain(struct ctx *c)
{
	for (;;) {
		char cbuf[CMSG_SPACE(sizeof(struct ucred))];
		struct msg *m = &c->msgs[c->nr < MAX_MSGS ? c->nr : MAX_MSGS - 1];
		struct iovec iov = { .iov_base = m->text, .iov_len = sizeof(m->text) - 1 };
		struct msghdr mh = { .msg_iov = &iov,
				     .msg_iovlen = 1,
				     .msg_control = cbuf,
				     .msg_controllen = sizeof(cbuf) };
		struct cmsghdr *cm;
		ssize_t n = recvmsg(c->fd, &mh, 0);

		if (n < 0)
			return;
		m->text[n] = '\0';
		m->pid = -1;
		for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
			if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_CREDENTIALS)
				m->pid = ((struct ucred *)CMSG_DATA(cm))->pid;
		}
		if (c->nr < MAX_MSGS)
			c->nr++;
	}
}

/* The index of the first message from pid that is text (or, with prefix, starts with it). */
static int find(struct ctx *c, pid_t pid, const char *text, bool prefix)
{
	drain(c);
	for (int i = 0; i < c->nr; i++) {
		if (c->msgs[i].pid != pid)
			continue;
		if (prefix ? !strncmp(c->msgs[i].text, text, strlen(text)) :
			     !strcmp(c->msgs[i].text, text))
			return i;
	}
	return -1;
}

static int count(struct ctx *c, pid_t pid)
{
	int n = 0;

	drain(c);
	for (int i = 0; i < c->nr; i++)
		n += c->msgs[i].pid == pid;
	return n;
}

struct wanted {
	struct ctx *c;
	pid_t pid;
	const char *text;
};

static bool arrived(void *arg)
{
	struct wanted *w = arg;

	return find(w->c, w->pid, w->text, false) >= 0;
}

static void show(struct ctx *c)
{
	for (int i = 0; i < c->nr; i++)
		printf("  from pid %d: \"%s\"\n", c->msgs[i].pid, c->msgs[i].text);
}

/* Waits for text from pid: its index, or -1 after a failed check. */
static int expect(struct ctx *c, pid_t pid, const char *text, const char *who)
{
	struct wanted w = { c, pid, text };

	if (rlbt_wait_for(arrived, &w, WAIT_MS))
		return find(c, pid, text, false);
	CHECK(false, "no \"%s\" from %s (pid %d) in %d ms; received:", text, who, pid, WAIT_MS);
	show(c);
	return -1;
}

static void serving_text(const struct rlbt_server *s, const char *extra, char *buf, size_t len)
{
	snprintf(buf, len, "STATUS=serving tcp 127.0.0.1 port %u, 2 workers, policy round-robin%s",
		 s->port, extra);
}

static int start(struct ctx *c, bool takeover, const char *confirm, struct rlbt_server *s,
		 int err_fd)
{
	const char *argv[] = { "serve", "-a",	   "127.0.0.1", "-p",	      c->port,
			       "-w",	"2",	   "--name",	c->name,      "--confirm",
			       confirm, "--grace", "30",	"--takeover", NULL };
	int err;

	if (!takeover)
		argv[13] = NULL;
	err = rlbt_serve_start_err(argv, err_fd, s);
	CHECK(!err, "serve did not start: %s", strerror(-err));
	return err;
}

static bool path_case(void *arg)
{
	struct ctx *c = arg;
	struct rlbt_server a = { .pid = -1, .out_fd = -1 };
	char dir[] = "/tmp/rlb-notify-XXXXXX", path[64], want[256];
	int status, pa;

	if (!CHECK(mkdtemp(dir), "mkdtemp: %s", strerror(errno)))
		return false;
	snprintf(path, sizeof(path), "%s/notify", dir);
	c->fd = notify_socket(path);
	if (!CHECK(c->fd >= 0, "cannot bind %s: %s", path, strerror(-c->fd)))
		goto out;
	setenv("NOTIFY_SOCKET", path, 1);
	c->nr = 0;
	if (start(c, false, "3000", &a, -1))
		goto out;
	pa = a.pid; /* the helpers forget it once it has exited */
	serving_text(&a, "", want + 8, sizeof(want) - 8);
	memcpy(want, "READY=1\n", 8);
	expect(c, pa, want, "the server");
	status = rlbt_serve_stop(&a);
	CHECK(status == 0, "serve exited with %d after SIGTERM", status);
	CHECK(find(c, pa, "STOPPING=1\nSTATUS=stopping", false) >= 0,
	      "no STOPPING=1 before the exit");
	CHECK(find(c, pa, "MAINPID=", true) < 0, "a MAINPID= without --takeover");
	CHECK(c->nr == 2, "%d messages, want 2 (READY, STOPPING)", c->nr);
	show(c);
out:
	rlbt_serve_free(&a);
	if (c->fd >= 0)
		close(c->fd);
	unlink(path);
	rmdir(dir);
	return true;
}

static int open_abstract(struct ctx *c, const char *tag)
{
	char addr[64];

	snprintf(addr, sizeof(addr), "@reuselb-notify-%d-%s", getpid(), tag);
	c->fd = notify_socket(addr);
	c->nr = 0;
	setenv("NOTIFY_SOCKET", addr, 1);
	return CHECK(c->fd >= 0, "cannot bind %s: %s", addr, strerror(-c->fd)) ? 0 : -1;
}

static bool handover_case(void *arg)
{
	struct ctx *c = arg;
	struct rlbt_server a = { .pid = -1, .out_fd = -1 }, b = a;
	int err_b = fileno(tmpfile()), handed, status, pa = -1, pb = -1;
	char want[384], serving[256];

	if (open_abstract(c, "handover"))
		return true;
	if (start(c, true, "0", &a, -1))
		goto out;
	pa = a.pid;
	serving_text(&a, "", serving, sizeof(serving));
	snprintf(want, sizeof(want), "MAINPID=%d\nREADY=1\n%s", pa, serving);
	if (expect(c, pa, want, "A") < 0)
		goto out;
	if (start(c, true, "0", &b, err_b))
		goto out;
	pb = b.pid;
	snprintf(want, sizeof(want), "STATUS=taking group %s over from pid %d", c->name, pa);
	expect(c, pb, want, "B");
	status = rlbt_serve_wait(&a, WAIT_MS);
	CHECK(status == 0, "A exited with %d after the handover", status);
	/* A is gone: what it sent is all in the socket */
	snprintf(want, sizeof(want), "MAINPID=%d\nSTATUS=handed group %s over to pid %d, finishing",
		 pb, c->name, pb);
	handed = find(c, pa, want, false);
	CHECK(handed >= 0, "A exited without \"%s\"", want);
	CHECK(find(c, pa, "STOPPING=1", true) < 0, "A said STOPPING=1 after handing over");
	snprintf(want, sizeof(want), "MAINPID=%d\nREADY=1\n%s", pb, serving);
	expect(c, pb, want, "B");
	CHECK(count(c, pb) == 2, "B sent %d messages, want 2 (its STATUS, then MAINPID)",
	      count(c, pb));
	status = rlbt_serve_stop(&b);
	CHECK(status == 0, "B exited with %d after SIGTERM", status);
	CHECK(find(c, pb, "STOPPING=1\nSTATUS=stopping", false) >= 0, "no STOPPING=1 from B");
	printf("handover A %d -> B %d, the datagrams:\n", pa, pb);
	show(c);
out:
	rlbt_serve_free(&a);
	rlbt_serve_free(&b);
	close(c->fd);
	return true;
}

static bool undone_case(void *arg)
{
	struct ctx *c = arg;
	struct rlbt_server a = { .pid = -1, .out_fd = -1 }, b = a;
	int err_a = fileno(tmpfile()), err_b = fileno(tmpfile()), status, pa, pb;
	char want[384], extra[64];

	if (open_abstract(c, "undone"))
		return true;
	if (start(c, false, "600000", &a, err_a) || start(c, true, "600000", &b, err_b))
		goto out;
	pa = a.pid;
	pb = b.pid;
	snprintf(want, sizeof(want), "STATUS=taking group %s over from pid %d", c->name, pa);
	expect(c, pb, want, "B");
	kill(pb, SIGKILL);
	status = rlbt_serve_wait(&b, WAIT_MS);
	CHECK(status == 128 + SIGKILL, "B: %d, want killed", status);
	snprintf(extra, sizeof(extra), "; pid %d died taking it over", pb);
	serving_text(&a, extra, want, sizeof(want));
	expect(c, pa, want, "A");
	snprintf(want, sizeof(want), "MAINPID=%d", pb);
	CHECK(find(c, pa, want, true) < 0, "A named B the main pid, though B died first");
	CHECK(count(c, pb) == 1,
	      "B sent %d messages, want only its STATUS: it never got the "
	      "group",
	      count(c, pb));
	status = rlbt_serve_stop(&a);
	CHECK(status == 0, "A exited with %d after SIGTERM", status);
	CHECK(find(c, pa, "STOPPING=1\nSTATUS=stopping", false) >= 0, "no STOPPING=1 from A");
	show(c);
out:
	if (rlbt_failures) {
		printf("stderr of A:\n%s", rlbt_file_text(err_a));
		printf("stderr of B:\n%s", rlbt_file_text(err_b));
	}
	rlbt_serve_free(&a);
	rlbt_serve_free(&b);
	close(c->fd);
	return true;
}

static bool unreachable_case(void *arg)
{
	struct ctx *c = arg;
	struct rlbt_server a = { .pid = -1, .out_fd = -1 };
	int err_a = fileno(tmpfile()), status, lines = 0;
	const char *text, *p;

	setenv("NOTIFY_SOCKET", "/nonexistent/reuselb-notify", 1);
	if (start(c, false, "3000", &a, err_a))
		goto out;
	status = rlbt_serve_stop(&a);
	CHECK(status == 0, "serve exited with %d after SIGTERM", status);
	text = rlbt_file_text(err_a);
	for (p = text; (p = strstr(p, "reuselb: cannot notify the service manager")); p++)
		lines++;
	CHECK(lines == 1, "%d \"cannot notify\" lines, want 1 (READY and STOPPING both failed): %s",
	      lines, text);
	CHECK(strstr(text, "at $NOTIFY_SOCKET (/nonexistent/reuselb-notify): No such file or "
			   "directory; serving on\n"),
	      "stderr: %s", text);
out:
	rlbt_serve_free(&a);
	return true;
}

int main(void)
{
	static const struct rlbt_case cases[] = {
		{ "path", path_case },
		{ "abstract, handover", handover_case },
		{ "takeover undone", undone_case },
		{ "no manager listens", unreachable_case },
	};
	struct ctx c = { .fd = -1 };
	int port;

	rlbt_require_root();
	port = rlbt_free_port(AF_INET, "127.0.0.1");
	if (!CHECK(port > 0, "no free port: %s", strerror(-port)))
		return rlbt_finish();
	snprintf(c.port, sizeof(c.port), "%d", port);
	snprintf(c.name, sizeof(c.name), "notify-%d", getpid());
	rlbt_run_cases(cases, ARRAY_SIZE(cases), &c);
	return rlbt_finish();
}
