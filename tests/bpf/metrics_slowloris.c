// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * A scrape of --metrics is answered in time whatever other clients do: slow ones that trickle
 * a request, and a thousand idle ones.
 *
 * 1. "$REUSELB serve -a 127.0.0.1 -p 0 -w 2 --mode id --metrics 127.0.0.1:0": the metrics
 *    port from its stdout.
 * 2. Slowloris: 3 slow clients send "GET /metrics HTTP/1.1\r\n..." one byte every 1.5 s,
 *    reconnecting when cut. Once each was cut: 10 scrapes, 200 ms apart, each gets "HTTP/1.1
 *    200 OK" and a body with reuselb_policy_info within SCRAPE_BOUND_MS of its connect; and
 *    every slow connection was cut by its whole-request deadline (2 s): it lived at most
 *    SLOW_BOUND_MS and sent 2 bytes (3 on a slow machine). (The old endpoint served one connection
 * at a time with a 2 s timeout per read: a slow client held every scrape back for as long as it
 * kept sending.)
 * 3. And 1 000 idle connections, each reopened once the server closes it (the pool is
 *    refilled every 250 ms); the server must have closed some before the scrapes start. 20
 *    scrapes as in 2, each within SCRAPE_BOUND_MS.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include "rlbtest.h"

#define NR_IDLE 1000
#define NR_SLOW 3
#define NR_SCRAPES 20
#define SLOW_BYTE_MS 1500
/* generous for a busy 2-CPU machine, yet below the 2 s one slow client used to cost */
#define SCRAPE_BOUND_MS 1000
#define SLOW_BOUND_MS 3500

static const char request[] = "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
static uint16_t metrics_port;
static int stop;

/* What the clients saw, written by their threads, read once they are joined. */
static long idle_reopened, slow_cut, slow_longest_ms, slow_bytes;

static int connect_nonblocking(void)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(metrics_port) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sin, sizeof(sin)) && errno != EINPROGRESS) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Keeps NR_IDLE connections open that never send: what the server closes is reopened. */
static void *idle_pool(void *arg)
{
	static struct pollfd pfd[NR_IDLE];
	struct timespec pace = { .tv_nsec = 250 * 1000 * 1000 };

	(void)arg;
	for (int i = 0; i < NR_IDLE; i++)
		pfd[i] = (struct pollfd){ .fd = connect_nonblocking(), .events = POLLIN };
	while (!__atomic_load_n(&stop, __ATOMIC_ACQUIRE)) {
		if (poll(pfd, NR_IDLE, 0) < 0)
			break;
		for (int i = 0; i < NR_IDLE; i++) {
			if (pfd[i].fd >= 0 && !pfd[i].revents)
				continue;
			if (pfd[i].fd >= 0)
				close(pfd[i].fd);
			pfd[i].fd = connect_nonblocking();
			__atomic_fetch_add(&idle_reopened, 1, __ATOMIC_RELAXED);
		}
		nanosleep(&pace, NULL);
	}
	for (int i = 0; i < NR_IDLE; i++)
		if (pfd[i].fd >= 0)
			close(pfd[i].fd);
	return NULL;
}

/* A byte of the request every SLOW_BYTE_MS, until the server cuts the connection; again. */
static void *slow_client(void *arg)
{
	(void)arg;
	while (!__atomic_load_n(&stop, __ATOMIC_ACQUIRE)) {
		int fd = rlbt_connect(AF_INET, NULL, 0, "127.0.0.1", metrics_port);
		long start = rlbt_now_ms(), lived;
		size_t sent = 0;
		bool cut = false;

		if (fd < 0)
			continue;
		while (!cut && sent < strlen(request) &&
		       !__atomic_load_n(&stop, __ATOMIC_ACQUIRE)) {
			struct pollfd pfd = { .fd = fd, .events = POLLIN };
			char c;

			if (send(fd, request + sent, 1, MSG_NOSIGNAL) != 1) {
				cut = true;
				break;
			}
			sent++;
			__atomic_fetch_add(&slow_bytes, 1, __ATOMIC_RELAXED);
			/* an end of file (or a reset) here is the server cutting us */
			if (poll(&pfd, 1, SLOW_BYTE_MS) == 1 && recv(fd, &c, 1, MSG_DONTWAIT) <= 0)
				cut = true;
		}
		lived = rlbt_now_ms() - start;
		if (cut) {
			__atomic_fetch_add(&slow_cut, 1, __ATOMIC_RELAXED);
			if (lived > __atomic_load_n(&slow_longest_ms, __ATOMIC_RELAXED))
				__atomic_store_n(&slow_longest_ms, lived, __ATOMIC_RELAXED);
		} else if (sent == strlen(request)) {
			/* the whole request trickled in before any cut: no deadline held */
			__atomic_store_n(&slow_longest_ms, 1000000L, __ATOMIC_RELAXED);
		}
		close(fd);
	}
	return NULL;
}

/* One scrape; returns its time in ms, or -1 after printing what went wrong. */
static long scrape(int i)
{
	static char buf[64 * 1024];
	long start = rlbt_now_ms(), took;
	size_t len = 0;
	ssize_t n;
	int fd;

	fd = rlbt_connect(AF_INET, NULL, 0, "127.0.0.1", metrics_port);
	if (fd < 0) {
		fprintf(stderr, "scrape %d: connect: %s\n", i, strerror(-fd));
		return -1;
	}
	if (send(fd, request, strlen(request), MSG_NOSIGNAL) != (ssize_t)strlen(request)) {
		fprintf(stderr, "scrape %d: send: %s\n", i, strerror(errno));
		close(fd);
		return -1;
	}
	while (len < sizeof(buf) - 1 && (n = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0)
		len += n;
	buf[len] = '\0';
	took = rlbt_now_ms() - start;
	close(fd);
	if (strncmp(buf, "HTTP/1.1 200 OK\r\n", 17) || !strstr(buf, "reuselb_policy_info{")) {
		fprintf(stderr, "scrape %d: after %ld ms, no metrics: '%.80s'\n", i, took, buf);
		return -1;
	}
	return took;
}

static bool slow_all_cut(void *arg)
{
	(void)arg;
	return __atomic_load_n(&slow_cut, __ATOMIC_RELAXED) >= NR_SLOW;
}

static bool idle_closed(void *arg)
{
	(void)arg;
	return __atomic_load_n(&idle_reopened, __ATOMIC_RELAXED) > 0;
}

/* nr scrapes 200 ms apart; returns how many failed or took longer than SCRAPE_BOUND_MS. */
static int scrapes(int nr, const char *under)
{
	struct timespec pace = { .tv_nsec = 200 * 1000 * 1000 };
	long took, longest = 0, total = 0;
	int failed = 0;

	for (int i = 0; i < nr; i++) {
		took = scrape(i);
		if (took < 0 || took > SCRAPE_BOUND_MS)
			failed++;
		if (took > SCRAPE_BOUND_MS)
			fprintf(stderr, "scrape %d took %ld ms\n", i, took);
		if (took > longest)
			longest = took;
		total += took > 0 ? took : 0;
		nanosleep(&pace, NULL);
	}
	printf("%d scrapes under %s: %d failed or slower than %d ms; longest %ld ms, mean %ld "
	       "ms\n",
	       nr, under, failed, SCRAPE_BOUND_MS, longest, total / nr);
	return failed;
}

int main(void)
{
	char name[64], *at;
	const char *argv[] = { "serve",	 "-a", "127.0.0.1", "-p", "0",	       "-w",	      "2",
			       "--mode", "id", "--name",    name, "--metrics", "127.0.0.1:0", NULL };
	struct rlimit nofile;
	struct rlbt_server s = {};
	pthread_t threads[NR_SLOW + 1];
	int failed, started = 0;

	rlbt_require_root();
	/* the pool, the slow clients and the scrapes need more than the usual 1024 fds */
	if (!getrlimit(RLIMIT_NOFILE, &nofile) && nofile.rlim_cur < NR_IDLE + 256) {
		nofile.rlim_cur = nofile.rlim_max < NR_IDLE + 256 ? nofile.rlim_max : NR_IDLE + 256;
		setrlimit(RLIMIT_NOFILE, &nofile);
	}
	/* 1. */
	snprintf(name, sizeof(name), "rlbt-mslow-%d", getpid());
	if (!CHECK(!rlbt_serve_start(argv, &s), "cannot start the server"))
		return rlbt_finish();
	at = strstr(s.output, "metrics at http://127.0.0.1:");
	if (!CHECK(at, "no metrics line in: %s", s.output))
		goto out;
	metrics_port = atoi(at + strlen("metrics at http://127.0.0.1:"));

	/* 2. */
	for (int i = 0; i < NR_SLOW; i++)
		if (CHECK(!pthread_create(&threads[started], NULL, slow_client, NULL), "no thread"))
			started++;
	CHECK(rlbt_wait_for(slow_all_cut, NULL, 10000), "the slow clients were not cut");
	failed = scrapes(10, "slow clients");
	printf("slow clients alone: sent %ld bytes, cut %ld times, the longest lived %ld ms\n",
	       slow_bytes, slow_cut, slow_longest_ms);
	CHECK(slow_longest_ms <= SLOW_BOUND_MS && slow_bytes <= 3 * (slow_cut + NR_SLOW),
	      "slow clients: the longest lived %ld ms (bound %d); %ld bytes in %ld connections",
	      slow_longest_ms, SLOW_BOUND_MS, slow_bytes, slow_cut);

	/* 3. */
	if (CHECK(!pthread_create(&threads[started], NULL, idle_pool, NULL), "no thread"))
		started++;
	CHECK(rlbt_wait_for(idle_closed, NULL, 10000), "the server closed no idle connection");
	failed += scrapes(NR_SCRAPES, "1000 idle and slow clients");
	printf("idle connections reopened %ld times\n", idle_reopened);
	CHECK(failed == 0, "%d scrapes failed or took over %d ms", failed, SCRAPE_BOUND_MS);
	__atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
	for (int i = 0; i < started; i++)
		pthread_join(threads[i], NULL);
out:
	CHECK(rlbt_serve_stop(&s) == 0, "the server did not stop cleanly");
	rlbt_serve_free(&s);
	return rlbt_finish();
}
