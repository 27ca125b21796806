// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * reuselb drain and undrain on a real HTTP server: a draining worker gets no new connections
 * and keeps answering on the one it has.
 *
 * 1. "serve -w 4 --mode http" (round-robin). Keep-alive connections are opened until one is
 *    answered by worker K (X-Reuselb-Worker: K); that one is kept open, the others closed.
 * 2. "reuselb drain -p PORT K": exit 0; stats --json shows K "draining", 1 connection
 *    active on K.
 * 3. 200 new connections (Connection: close): all answered 200, none by K; K's accepted
 *    count in stats does not move, and the others' grows by 200.
 * 4. The kept connection still gets "200 OK" answers from K, three requests in a row.
 * 5. Drain two more workers: exit 0. Draining the last live one: exit 1, one line that says
 *    it is the last live worker, and its state is still "live".
 * 6. Worker ids out of range (4, 64, 4294967295) for drain and undrain: exit 2, one line,
 *    states unchanged. A repeated -p: exit 2.
 * 7. "reuselb undrain" every worker: all live again; within 4 new connections K answers
 *    one (round-robin), and K's accepted count grows.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rlbtest.h"

#define NR_WORKERS 4
#define DRAINED 1
#define NEW_CONNS 200
#define OUT_MAX 16384

/* What a reuselb command printed, and how it ended. */
struct cli_run {
	int status; /* exit status, 128 + signal, or -errno */
	char out[OUT_MAX], err[OUT_MAX];
	size_t out_len, err_len;
};

static void take(int fd, char *buf, size_t *len, bool *open)
{
	ssize_t r = read(fd, buf + *len, OUT_MAX - 1 - *len);

	if (r <= 0) {
		*open = false;
		return;
	}
	*len += r;
	buf[*len] = '\0';
}

/* Runs $REUSELB with args (NULL-terminated, without argv[0]) and collects its output. */
static void run_cli(struct cli_run *r, const char *const args[])
{
	const char *bin = getenv("REUSELB");
	const char *argv[32];
	int out[2], err[2], argc = 0, status;
	bool out_open = true, err_open = true;
	pid_t pid;

	memset(r, 0, sizeof(*r));
	argv[argc++] = bin;
	for (int i = 0; args[i] && argc < 31; i++)
		argv[argc++] = args[i];
	argv[argc] = NULL;
	if (pipe2(out, O_CLOEXEC) || pipe2(err, O_CLOEXEC)) {
		r->status = -errno;
		return;
	}
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid == 0) {
		dup2(out[1], STDOUT_FILENO);
		dup2(err[1], STDERR_FILENO);
		execv(bin, (char *const *)argv);
		_exit(127);
	}
	close(out[1]);
	close(err[1]);
	while (pid > 0 && (out_open || err_open)) {
		struct pollfd fds[] = {
			{ .fd = out_open ? out[0] : -1, .events = POLLIN },
			{ .fd = err_open ? err[0] : -1, .events = POLLIN },
		};

		if (poll(fds, 2, RLBT_TIMEOUT_MS) <= 0) {
			kill(pid, SIGKILL);
			break;
		}
		if (fds[0].revents)
			take(out[0], r->out, &r->out_len, &out_open);
		if (fds[1].revents)
			take(err[0], r->err, &r->err_len, &err_open);
	}
	close(out[0]);
	close(err[0]);
	if (pid < 0 || waitpid(pid, &status, 0) < 0)
		r->status = -errno;
	else
		r->status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static int count_lines(const char *s)
{
	int n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

/* From "reuselb stats --json": worker id's field ("accepted") as a number, or -1. */
static long json_number(const char *json, unsigned int id, const char *field)
{
	char key[64];
	const char *w, *f;

	snprintf(key, sizeof(key), "{\"id\":%u,", id);
	w = strstr(json, key);
	if (!w)
		return -1;
	snprintf(key, sizeof(key), "\"%s\":", field);
	f = strstr(w, key);
	/* the field must be in this worker's object, before the next one starts */
	if (!f || (strchr(w + 1, '{') && strchr(w + 1, '{') < f))
		return -1;
	return strtol(f + strlen(key), NULL, 10);
}

/* The worker's state in "reuselb stats --json", into buf; false if not found. */
static bool json_state(const char *json, unsigned int id, char *buf, size_t len)
{
	char key[64];
	const char *w, *s;

	snprintf(key, sizeof(key), "{\"id\":%u,\"state\":\"", id);
	w = strstr(json, key);
	if (!w)
		return false;
	s = w + strlen(key);
	snprintf(buf, len, "%.*s", (int)strcspn(s, "\""), s);
	return true;
}

static bool stats(uint16_t port, struct cli_run *r)
{
	char p[8];
	const char *const args[] = { "stats", "-p", p, "--json", NULL };

	snprintf(p, sizeof(p), "%u", port);
	run_cli(r, args);
	return CHECK(r->status == 0, "stats --json: exit %d: %s", r->status, r->err);
}

/*
 * Sends one GET on fd and reads the answer (head and Content-Length body). Returns the worker
 * of X-Reuselb-Worker, -EPROTO when the answer is not "200 OK" with that header, or -errno.
 */
static int get(int fd, bool keep_alive)
{
	char req[128], buf[4096];
	const char *hdr, *cl, *end;
	size_t len = 0;
	int n;

	n = snprintf(req, sizeof(req), "GET / HTTP/1.1\r\nHost: x\r\nConnection: %s\r\n\r\n",
		     keep_alive ? "keep-alive" : "close");
	if (write(fd, req, n) != n)
		return -errno;
	for (;;) {
		ssize_t r = read(fd, buf + len, sizeof(buf) - 1 - len);

		if (r < 0)
			return errno == EAGAIN ? -ETIMEDOUT : -errno;
		if (r == 0)
			return -EPROTO;
		len += r;
		buf[len] = '\0';
		end = strstr(buf, "\r\n\r\n");
		cl = strstr(buf, "Content-Length: ");
		if (end && cl && len >= (size_t)(end + 4 - buf) + strtoul(cl + 16, NULL, 10))
			break;
		if (len == sizeof(buf) - 1)
			return -EPROTO;
	}
	hdr = strstr(buf, "X-Reuselb-Worker: ");
	if (strncmp(buf, "HTTP/1.1 200 OK\r\n", 17) || !hdr)
		return -EPROTO;
	return atoi(hdr + 18);
}

static int cli_worker(const char *cmd, uint16_t port, const char *worker, struct cli_run *r)
{
	char p[8];
	const char *const args[] = { cmd, "-p", p, worker, NULL };

	snprintf(p, sizeof(p), "%u", port);
	run_cli(r, args);
	return r->status;
}

/* What the steps share: the server, the kept connection, the counts before the drain. */
struct drain {
	struct rlbt_server s;
	struct cli_run r, before;
	int kept;
	long accepted_k, accepted_others;
};

/* 1. A keep-alive connection to worker DRAINED. */
static bool keep_one(void *ctx)
{
	struct drain *d = ctx;
	int fds[2 * NR_WORKERS], nr_fds = 0, id;

	for (int i = 0; i < 2 * NR_WORKERS && d->kept < 0; i++) {
		int fd = rlbt_connect(AF_INET, NULL, 0, "127.0.0.1", d->s.port);

		if (!CHECK(fd >= 0, "connect: %s", strerror(-fd)))
			break;
		id = get(fd, true);
		CHECK(id >= 0 && id < NR_WORKERS, "keep-alive GET: %d", id);
		if (id == DRAINED)
			d->kept = fd;
		else
			fds[nr_fds++] = fd;
	}
	for (int i = 0; i < nr_fds; i++)
		close(fds[i]);
	return CHECK(d->kept >= 0, "no connection reached worker %d in %d tries", DRAINED,
		     2 * NR_WORKERS);
}

/* 2. Drain it. */
static bool drain_it(void *ctx)
{
	struct drain *d = ctx;
	char state[32], num[16];
	int status;
	long n;

	snprintf(num, sizeof(num), "%d", DRAINED);
	status = cli_worker("drain", d->s.port, num, &d->r);
	CHECK(status == 0 && d->r.err_len == 0, "drain %d: exit %d: %s", DRAINED, status, d->r.err);
	CHECK(strstr(d->r.out, "draining") != NULL, "drain printed: %s", d->r.out);
	if (!stats(d->s.port, &d->before))
		return false;
	CHECK(json_state(d->before.out, DRAINED, state, sizeof(state)) &&
		      !strcmp(state, "draining"),
	      "stats shows worker %d as \"%s\": %s", DRAINED, state, d->before.out);
	n = json_number(d->before.out, DRAINED, "active");
	CHECK(n == 1, "worker %d has %ld connections active, want 1 (the kept one)", DRAINED, n);
	d->accepted_k = json_number(d->before.out, DRAINED, "accepted");
	for (unsigned int w = 0; w < NR_WORKERS; w++)
		if (w != DRAINED)
			d->accepted_others += json_number(d->before.out, w, "accepted");
	return true;
}

/* 3. New connections avoid it. */
static bool new_avoid_it(void *ctx)
{
	struct drain *d = ctx;
	int answered_by_k = 0, failed = 0, id;
	long n;

	for (int i = 0; i < NEW_CONNS; i++) {
		int fd = rlbt_connect(AF_INET, NULL, 0, "127.0.0.1", d->s.port);

		id = fd >= 0 ? get(fd, false) : fd;
		if (fd >= 0)
			close(fd);
		failed += id < 0;
		answered_by_k += id == DRAINED;
	}
	CHECK(failed == 0, "%d of %d new connections failed", failed, NEW_CONNS);
	CHECK(answered_by_k == 0, "%d of %d new connections answered by the draining worker %d",
	      answered_by_k, NEW_CONNS, DRAINED);
	if (stats(d->s.port, &d->r)) {
		long others = 0;

		n = json_number(d->r.out, DRAINED, "accepted");
		CHECK(n == d->accepted_k, "the draining worker's accepted went from %ld to %ld",
		      d->accepted_k, n);
		for (unsigned int w = 0; w < NR_WORKERS; w++)
			if (w != DRAINED)
				others += json_number(d->r.out, w, "accepted");
		CHECK(others == d->accepted_others + NEW_CONNS,
		      "the other workers accepted %ld, want %ld", others - d->accepted_others,
		      (long)NEW_CONNS);
	}
	return true;
}

/* 4. The kept connection is still served, by the same worker. */
static bool kept_served(void *ctx)
{
	struct drain *d = ctx;

	for (int i = 0; i < 3; i++) {
		int id = get(d->kept, true);

		CHECK(id == DRAINED, "request %d on the kept connection: %d, want worker %d", i, id,
		      DRAINED);
	}
	return true;
}

/* 5. Not the last live worker. */
static bool not_the_last(void *ctx)
{
	struct drain *d = ctx;
	char state[32], num[16];
	int status;

	for (unsigned int w = 0; w < NR_WORKERS - 1; w++) {
		if (w == DRAINED)
			continue;
		snprintf(num, sizeof(num), "%u", w);
		status = cli_worker("drain", d->s.port, num, &d->r);
		CHECK(status == 0, "drain %u: exit %d: %s", w, status, d->r.err);
	}
	snprintf(num, sizeof(num), "%d", NR_WORKERS - 1);
	status = cli_worker("drain", d->s.port, num, &d->r);
	CHECK(status == 1 && count_lines(d->r.err) == 1 && strstr(d->r.err, "last live worker") &&
		      !strncmp(d->r.err, "reuselb drain: ", 15),
	      "drain of the last live worker: exit %d, stderr: %s", status, d->r.err);
	if (stats(d->s.port, &d->r))
		CHECK(json_state(d->r.out, NR_WORKERS - 1, state, sizeof(state)) &&
			      !strcmp(state, "live"),
		      "the last live worker is \"%s\" after the refused drain", state);
	return true;
}

/* 6. Out of range, and a repeated option: nothing changes. */
static bool refused(void *ctx)
{
	static const char *const bad[] = { "4", "64", "4294967295" };
	struct drain *d = ctx;
	char num[16];
	const char *const twice[] = { "drain", "-p", num, "-p", num, "0", NULL };
	int status;

	if (!stats(d->s.port, &d->before))
		return true;
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		for (int undrain = 0; undrain < 2; undrain++) {
			const char *cmd = undrain ? "undrain" : "drain";

			status = cli_worker(cmd, d->s.port, bad[i], &d->r);
			CHECK(status == 2 && count_lines(d->r.err) == 1 &&
				      strstr(d->r.err, "out of range") && d->r.out_len == 0,
			      "%s %s: exit %d, stderr: %s", cmd, bad[i], status, d->r.err);
		}
	}
	snprintf(num, sizeof(num), "%u", d->s.port);
	run_cli(&d->r, twice);
	CHECK(d->r.status == 2 && count_lines(d->r.err) == 1 && strstr(d->r.err, "more than once"),
	      "drain -p twice: exit %d, stderr: %s", d->r.status, d->r.err);
	if (stats(d->s.port, &d->r))
		CHECK(!strcmp(d->r.out, d->before.out), "refused commands changed stats:\n%s%s",
		      d->before.out, d->r.out);
	return true;
}

/* 7. Back to live. */
static bool back_to_live(void *ctx)
{
	struct drain *d = ctx;
	int answered_by_k = 0, status, id;
	char state[32], num[16];
	long n;

	for (unsigned int w = 0; w < NR_WORKERS; w++) {
		snprintf(num, sizeof(num), "%u", w);
		status = cli_worker("undrain", d->s.port, num, &d->r);
		CHECK(status == 0 && strstr(d->r.out, "live"), "undrain %u: exit %d: %s", w, status,
		      d->r.err);
	}
	for (int i = 0; i < NR_WORKERS; i++) {
		int fd = rlbt_connect(AF_INET, NULL, 0, "127.0.0.1", d->s.port);

		id = fd >= 0 ? get(fd, false) : fd;
		if (fd >= 0)
			close(fd);
		answered_by_k += id == DRAINED;
	}
	CHECK(answered_by_k == 1, "after undrain, worker %d answered %d of %d connections, want 1",
	      DRAINED, answered_by_k, NR_WORKERS);
	if (stats(d->s.port, &d->r)) {
		for (unsigned int w = 0; w < NR_WORKERS; w++) {
			CHECK(json_state(d->r.out, w, state, sizeof(state)) &&
				      !strcmp(state, "live"),
			      "worker %u is \"%s\" after undrain", w, state);
		}
		n = json_number(d->r.out, DRAINED, "accepted");
		CHECK(n == d->accepted_k + 1, "after undrain, worker %d accepted %ld, want %ld",
		      DRAINED, n, d->accepted_k + 1);
	}
	return true;
}

/* The steps of the comment on top, in its order; a failed check names its step. */
static const struct rlbt_case steps[] = {
	{ "a keep-alive connection to the worker to drain", keep_one },
	{ "drain it", drain_it },
	{ "new connections avoid it", new_avoid_it },
	{ "the kept connection is still served by it", kept_served },
	{ "the last live worker cannot be drained", not_the_last },
	{ "out of range and repeated options change nothing", refused },
	{ "undrain: back to live", back_to_live },
};

int main(void)
{
	static const char *const argv[] = { "serve", "-a", "127.0.0.1", "-p",	"0",
					    "-w",    "4",  "--mode",	"http", NULL };
	/* static: two command outputs of 32 KiB each are large for the stack */
	static struct drain d = { .kept = -1 };
	int err, status;

	rlbt_require_root();
	signal(SIGPIPE, SIG_IGN);
	err = rlbt_serve_start(argv, &d.s);
	if (!CHECK(!err, "serve --mode http did not start: %s", strerror(-err)))
		return rlbt_finish();
	rlbt_run_cases(steps, ARRAY_SIZE(steps), &d);
	if (d.kept >= 0)
		close(d.kept);
	status = rlbt_serve_stop(&d.s);
	CHECK(status == 0, "serve exited with %d", status);
	rlbt_serve_free(&d.s);
	return rlbt_finish();
}
