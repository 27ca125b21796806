// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Out of file descriptors (EMFILE) against the real binary: the server turns away what it
 * cannot hold, neither dies nor spins, and serves again once descriptors are free.
 *
 * 1. "prlimit --nofile=64:64 $REUSELB serve -a 127.0.0.1 -p 0 -w 1 --mode http" (util-linux's
 *    prlimit execs the server, so the pid is the server's); /proc/PID/limits says 64.
 * 2. 100 connections at once, held open by the client. The group's pins soon say all 100
 *    accepted: those the server could hold stay open, the rest are accepted and closed at
 *    once (the client reads end of file or a reset), so that no client waits in the queue.
 * 3. With every connection still held, 2 s of the server's CPU time (utime + stime from
 *    /proc/PID/stat) is under 0.2 s: it does not spin on a listener it cannot accept from.
 * 4. Each connection the server holds answers a request with 200; the held and the turned away
 *    add up to 100, and there are some of each (some turned away: the limit was reached).
 * 5. The client closes all of them; once the worker has let them go ("active" 0), a new
 *    connection is served (200). The server is alive throughout; SIGTERM: exit status 0 and
 *    "worker 0: accepted 101".
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "rlbtest.h"

#define NOFILE 64
#define NR_CONNS 100
#define IDLE_MS 2000
#define MAX_CPU_S 0.2

/* utime + stime of a process in clock ticks, or -errno. */
static long cpu_ticks(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long utime, stime;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -EIO;
	buf[n] = '\0';
	/* after "pid (comm) ": state is field 3, utime and stime are fields 14 and 15 */
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime,
			 &stime) != 2)
		return -EPROTO;
	return utime + stime;
}

static int count_fds(pid_t pid)
{
	char path[64];
	struct dirent *e;
	int n = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	d = opendir(path);
	if (!d)
		return -errno;
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

static long nofile_limit(pid_t pid)
{
	char path[64], line[256];
	long soft = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/limits", pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "Max open files", 14))
			sscanf(line + 14, "%ld", &soft);
	}
	fclose(f);
	return soft;
}

struct group_ref {
	const char *name;
	uint64_t accepted, active;
	bool by_active;
};

static bool group_is(void *arg)
{
	struct group_ref *g = arg;
	struct rlbt_totals t;

	if (rlbt_group_totals(g->name, &t))
		return false;
	return g->by_active ? t.active == g->active : t.accepted == g->accepted;
}

/* Starts the server under "prlimit --nofile=64:64": prlimit is what rlbt_serve_start execs. */
static int start_limited(struct rlbt_server *s)
{
	char nofile[32], *bin = getenv("REUSELB");
	const char *argv[] = { nofile, bin,  "serve", "-a",	"127.0.0.1", "-p",
			       "0",    "-w", "1",     "--mode", "http",	     NULL };
	int err;

	if (!bin)
		return -ENOENT;
	bin = strdup(bin);
	argv[1] = bin;
	snprintf(nofile, sizeof(nofile), "--nofile=%d:%d", NOFILE, NOFILE);
	setenv("REUSELB", "/usr/bin/prlimit", 1);
	err = rlbt_serve_start(argv, s);
	setenv("REUSELB", bin, 1);
	free(bin);
	return err;
}

int main(void)
{
	int fds[NR_CONNS], held = 0, turned_away = 0, status, err, fd, nr_fds;
	struct group_ref ref = {};
	struct rlbt_server s;
	long before, after, hz = sysconf(_SC_CLK_TCK);
	char name[32];

	rlbt_require_root();
	for (int i = 0; i < NR_CONNS; i++)
		fds[i] = -1;
	if (access("/usr/bin/prlimit", X_OK)) {
		CHECK(false, "/usr/bin/prlimit (util-linux) is not installed");
		return rlbt_finish();
	}
	err = start_limited(&s);
	if (!CHECK(!err, "prlimit --nofile=%d:%d reuselb serve did not start: %s", NOFILE, NOFILE,
		   strerror(-err)))
		return rlbt_finish();
	snprintf(name, sizeof(name), "tcp-%u", s.port);
	ref.name = name;
	CHECK(nofile_limit(s.pid) == NOFILE, "the server's open files limit is %ld, want %d",
	      nofile_limit(s.pid), NOFILE);
	printf("server %d: %d descriptors open at the start\n", s.pid, count_fds(s.pid));

	/* 2. more connections than descriptors */
	for (int i = 0; i < NR_CONNS; i++) {
		fds[i] = rlbt_connect(AF_INET, NULL, 0, "127.0.0.1", s.port);
		if (!CHECK(fds[i] >= 0, "connection %d: %s", i, strerror(-fds[i])))
			goto out;
	}
	ref.accepted = NR_CONNS;
	CHECK(rlbt_wait_for(group_is, &ref, RLBT_TIMEOUT_MS),
	      "the server has not accepted all %d connections", NR_CONNS);
	nr_fds = count_fds(s.pid);
	printf("server: %d descriptors open with the connections it holds\n", nr_fds);

	/* 3. idle with the excess held: no spinning */
	before = cpu_ticks(s.pid);
	usleep(IDLE_MS * 1000);
	after = cpu_ticks(s.pid);
	if (CHECK(before >= 0 && after >= 0, "cannot read /proc/%d/stat", s.pid)) {
		double cpu = (double)(after - before) / hz;

		printf("server CPU time over %d ms with %d connections held: %.2f s\n", IDLE_MS,
		       NR_CONNS, cpu);
		CHECK(cpu < MAX_CPU_S, "the server spent %.2f s of CPU in %d ms of idling (spins)",
		      cpu, IDLE_MS);
	}
	CHECK(kill(s.pid, 0) == 0, "the server has died");

	/* 4. which were held, which turned away */
	for (int i = 0; i < NR_CONNS; i++) {
		struct pollfd p = { .fd = fds[i], .events = POLLIN };
		char c;

		if (poll(&p, 1, 0) == 1) {
			ssize_t r = read(fds[i], &c, 1);

			if (CHECK(r == 0 || (r < 0 && errno == ECONNRESET),
				  "connection %d read %s before its request", i,
				  r > 0 ? "data" : strerror(errno)))
				turned_away++;
			continue;
		}
		status = rlbt_http_get(fds[i]);
		if (CHECK(status == 200, "connection %d, held by the server: %d (%s)", i, status,
			  status < 0 ? strerror(-status) : "status"))
			held++;
	}
	printf("%d connections held and served, %d turned away\n", held, turned_away);
	/* some turned away: the limit was reached, so this tested EMFILE */
	CHECK(held + turned_away == NR_CONNS && held > 0 && turned_away > 0,
	      "%d held and %d turned away of %d connections", held, turned_away, NR_CONNS);

	/* 5. the descriptors come back */
	for (int i = 0; i < NR_CONNS; i++) {
		close(fds[i]);
		fds[i] = -1;
	}
	ref.by_active = true;
	ref.active = 0;
	CHECK(rlbt_wait_for(group_is, &ref, RLBT_TIMEOUT_MS),
	      "the worker has not let its connections go");
	fd = rlbt_connect(AF_INET, NULL, 0, "127.0.0.1", s.port);
	if (CHECK(fd >= 0, "a new connection: %s", strerror(-fd))) {
		status = rlbt_http_get(fd);
		CHECK(status == 200, "a new connection after the others closed: %d (%s)", status,
		      status < 0 ? strerror(-status) : "status");
		close(fd);
	}
out:
	for (int i = 0; i < NR_CONNS; i++) {
		if (fds[i] >= 0)
			close(fds[i]);
	}
	status = rlbt_serve_stop(&s);
	CHECK(status == 0, "serve exited with %d after SIGTERM", status);
	CHECK(rlbt_serve_accepted(&s, 0) == NR_CONNS + 1, "worker 0: accepted %ld, want %d",
	      rlbt_serve_accepted(&s, 0), NR_CONNS + 1);
	rlbt_serve_free(&s);
	return rlbt_finish();
}
