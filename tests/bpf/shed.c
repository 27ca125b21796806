// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Keep-alive connections moved gently: a drained worker sheds its connections over a window,
 * and rebalance tells the busiest workers to shed their excess.
 *
 * 1. "$REUSELB serve -a 127.0.0.1 -p PORT -w 4 --mode http --name shed-PID" (round-robin).
 * 2. 400 keep-alive clients, each a GET every 100 ms on its own connection; a client whose
 *    answer says Connection: close opens a new connection for its next GET. Each worker then
 *    has exactly 100 open.
 * 3. "reuselb drain --name G --shed --shed-window 4 0": worker 0's active connections fall to
 *    0, not at once (after at least half the window) and within the window and 2 s; the
 *    others end within 10 % of each other; all 400 clients are connected again, and none saw
 *    an error (a refused or reset connection, an answer not 200, a close not announced).
 * 4. "reuselb undrain ... 0", then "reuselb rebalance --name G --shed-window 2": it names
 *    workers 1 to 3 (each above the mean by more than 10 %); within the window and 2 s worker
 *    0 has connections again; still no client error.
 */
#define _GNU_SOURCE /* strcasestr */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rlbtest.h"

#define CLIENTS 400
#define WORKERS 4
#define PERIOD_MS 100
#define WINDOW_S 4
#define WAIT_MS 60000

struct client {
	int fd;
	char buf[1024];
	size_t len;
	bool waiting; /* a GET is out, its answer not read whole yet */
	long next_ms; /* when to send the next GET */
};

struct fleet {
	struct client c[CLIENTS];
	uint16_t port;
	unsigned long errors, reconnects, answers;
};

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

static void send_get(struct fleet *f, struct client *c)
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
static int parsed(struct client *c, bool *close_it)
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

static void on_readable(struct fleet *f, struct client *c, long now)
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
	c->waiting = false;
	c->next_ms = now + PERIOD_MS;
	if (close_it || r < 0) {
		close(c->fd);
		c->fd = -1;
	}
}

/* One turn: read what came, send what is due. */
static void turn(struct fleet *f)
{
	struct pollfd pfd[CLIENTS];
	long now = rlbt_now_ms();

	for (int i = 0; i < CLIENTS; i++) {
		struct client *c = &f->c[i];

		if (!c->waiting && now >= c->next_ms)
			send_get(f, c);
		pfd[i] = (struct pollfd){ .fd = c->waiting ? c->fd : -1, .events = POLLIN };
	}
	if (poll(pfd, CLIENTS, 10) <= 0)
		return;
	now = rlbt_now_ms();
	for (int i = 0; i < CLIENTS; i++)
		if (pfd[i].revents)
			on_readable(f, &f->c[i], now);
}

static int active_of(const char *name, uint64_t active[WORKERS])
{
	struct rlb_group_stats st;
	struct rlb_ctl *ctl;
	int err = rlb_ctl_open(name, &ctl);

	if (err)
		return err;
	err = rlb_ctl_read(ctl, &st);
	for (int i = 0; !err && i < WORKERS; i++)
		active[i] = st.workers[i].active;
	rlb_ctl_close(ctl);
	return err;
}

/* Turns the clients until cond holds of the active counts or timeout_ms passes. */
static bool run_until(struct fleet *f, const char *name, bool (*cond)(const uint64_t *),
		      uint64_t active[WORKERS], int timeout_ms)
{
	long end = rlbt_now_ms() + timeout_ms, look = 0;

	while (rlbt_now_ms() < end) {
		turn(f);
		if (rlbt_now_ms() < look)
			continue;
		look = rlbt_now_ms() + 50;
		if (!active_of(name, active) && cond(active))
			return true;
	}
	return false;
}

static bool all_even(const uint64_t *a)
{
	return a[0] == CLIENTS / WORKERS && a[1] == CLIENTS / WORKERS &&
	       a[2] == CLIENTS / WORKERS && a[3] == CLIENTS / WORKERS;
}

static bool zero_gone(const uint64_t *a)
{
	return a[0] == 0 && a[1] + a[2] + a[3] == CLIENTS;
}

static bool zero_back(const uint64_t *a)
{
	return a[0] > 0;
}

/* $REUSELB with args; its exit status, its stdout in out. */
static int cli(char *out, size_t len, const char *args)
{
	char cmd[512];
	FILE *p;
	size_t n;

	snprintf(cmd, sizeof(cmd), "'%s' %s", getenv("REUSELB"), args);
	p = popen(cmd, "r");
	if (!p)
		return -1;
	n = fread(out, 1, len - 1, p);
	out[n] = '\0';
	return WEXITSTATUS(pclose(p));
}

int main(void)
{
	const char *argv[] = { "serve", "-a",	  "127.0.0.1", "-p",	 "0",  "-w",
			       "4",	"--mode", "http",      "--name", NULL, NULL };
	struct rlbt_server s = { .pid = -1, .out_fd = -1 };
	static struct fleet f;
	uint64_t active[WORKERS], lo, hi;
	char name[32], args[128], out[1024];
	long start, took;
	int status;

	rlbt_require_root();
	snprintf(name, sizeof(name), "shed-%d", getpid());
	argv[10] = name;
	/* 1. */
	if (!CHECK(!rlbt_serve_start(argv, &s), "serve did not start"))
		return rlbt_finish();
	f.port = s.port;
	/* 2. */
	for (int i = 0; i < CLIENTS; i++)
		f.c[i].fd = -1;
	CHECK(run_until(&f, name, all_even, active, WAIT_MS),
	      "the workers do not have 100 each: %llu %llu %llu %llu",
	      (unsigned long long)active[0], (unsigned long long)active[1],
	      (unsigned long long)active[2], (unsigned long long)active[3]);
	f.reconnects = 0;

	/* 3. */
	snprintf(args, sizeof(args), "drain --name %s --shed --shed-window %d 0", name, WINDOW_S);
	status = cli(out, sizeof(out), args);
	CHECK(status == 0 && strstr(out, "closes them gently over 4 s"), "drain --shed: %d: %s",
	      status, out);
	start = rlbt_now_ms();
	CHECK(run_until(&f, name, zero_gone, active, WAIT_MS), "worker 0 still has %llu",
	      (unsigned long long)active[0]);
	took = rlbt_now_ms() - start;
	printf("worker 0 shed its %d connections in %ld ms (window %d s), %lu reconnects: now "
	       "%llu %llu %llu %llu\n",
	       CLIENTS / WORKERS, took, WINDOW_S, f.reconnects, (unsigned long long)active[0],
	       (unsigned long long)active[1], (unsigned long long)active[2],
	       (unsigned long long)active[3]);
	CHECK(took >= WINDOW_S * 1000 / 2 && took <= WINDOW_S * 1000 + 2000,
	      "shed in %ld ms, want between half the window and the window and 2 s", took);
	lo = hi = active[1];
	for (int i = 2; i < WORKERS; i++) {
		lo = active[i] < lo ? active[i] : lo;
		hi = active[i] > hi ? active[i] : hi;
	}
	CHECK(hi * 100 <= lo * 110, "the others are not within 10 %%: %llu %llu %llu",
	      (unsigned long long)active[1], (unsigned long long)active[2],
	      (unsigned long long)active[3]);
	CHECK(f.errors == 0, "%lu client errors after the drain", f.errors);

	/* 4. */
	snprintf(args, sizeof(args), "undrain --name %s 0", name);
	CHECK(cli(out, sizeof(out), args) == 0, "undrain: %s", out);
	snprintf(args, sizeof(args), "rebalance --name %s --shed-window 2", name);
	status = cli(out, sizeof(out), args);
	printf("%s", out);
	CHECK(status == 0 && strstr(out, "worker 1 closes") && strstr(out, "worker 2 closes") &&
		      strstr(out, "worker 3 closes") && !strstr(out, "worker 0 closes"),
	      "rebalance: %d: %s", status, out);
	CHECK(run_until(&f, name, zero_back, active, 2000 + 2000), "worker 0 got nothing back");
	CHECK(f.errors == 0, "%lu client errors after the rebalance", f.errors);
	printf("%lu answers in all, %lu client errors\n", f.answers, f.errors);

	for (int i = 0; i < CLIENTS; i++)
		if (f.c[i].fd >= 0)
			close(f.c[i].fd);
	status = rlbt_serve_stop(&s);
	CHECK(status == 0, "serve exited %d", status);
	rlbt_serve_free(&s);
	return rlbt_finish();
}
