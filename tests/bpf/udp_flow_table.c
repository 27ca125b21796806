// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The UDP flow table's size is serve's to choose, and flows it evicts before their timeout
 * are counted: a table too small for the rate of new flows shows it, one sized for the load
 * keeps every flow where it is. (Scaled down from 16 quiet flows against 5 000 new flows/s
 * and a 65 536-entry table: 16 quiet flows, one datagram each every QUIET_MS, flow timeout
 * 3 s, against FLOOD_RATE new flows/s.)
 *
 * The test and its servers run on one CPU (see main).
 *
 * 0. --flow-table is a usage error (exit 2) without --udp, or out of 64 .. 4194304.
 *
 * Each phase: "$REUSELB serve -a 127.0.0.1 -p 0 -w 4 --udp --mode id --policy round-robin
 * --flow-timeout 3 --flow-table N --name rlbt-flows-PID-N --metrics 127.0.0.1:0"; a flood of
 * two-datagram flows from source addresses 127.1.0.0 and up (IP_PKTINFO, one socket: the
 * second datagram makes a flow one the table keeps, bpf/race_udp_spoof); the
 * 16 quiet flows from 127.0.0.1 read which worker answers them, a round every QUIET_MS.
 *
 * 1. N = 256 (full in a quarter of a second), 10 rounds: half the quiet flows or more change
 *    worker; "reuselb stats --json" shows "flow_table":256 and, within 5 s, "flows_evicted"
 *    > 0; the metrics show reuselb_flow_table_size 256 and reuselb_flows_evicted_total > 0;
 *    the table line of stats shows the count. A takeover asking for --flow-table 512 is
 *    refused with a line naming the live size, and the group goes on answering.
 * 2. N = 8192 (2.7 x FLOOD_RATE x 3 s; the flood fills it in 8 s, after which flows that
 *    timed out are evicted), 14 rounds: all 16 quiet flows keep their worker in every round,
 *    and "flows_evicted" is 0.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "rlbtest.h"

#define NR_QUIET 16
/*
 * The kernel's LRU keeps a flow that is looked up again on its active list: a quiet flow
 * is evicted from a small table only once two turns of that list passed without its
 * datagram (about a quarter of a second here), so it must be quieter than that, and still
 * well within the flow timeout (3 s) on a machine that stalls the test.
 */
#define QUIET_MS 1000
#define FLOOD_RATE 1000

static uint16_t port;
static int stop;
static long flooded;

/*
 * FLOOD_RATE new flows a second, each from a source address of its own, each two datagrams:
 * a flow seen once is kept apart from those that came back (flows_new), and only these can
 * fill the table the quiet flows are in.
 */
static void *flood(void *arg)
{
	struct sockaddr_in dst = { .sin_family = AF_INET, .sin_port = htons(port) };
	long start = rlbt_now_ms(), sent = 0;
	struct timespec pace = { .tv_nsec = 10 * 1000 * 1000 };
	char sink[64];
	int fd;

	(void)arg;
	inet_pton(AF_INET, "127.0.0.1", &dst.sin_addr);
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return NULL;
	while (!__atomic_load_n(&stop, __ATOMIC_ACQUIRE)) {
		long due = (rlbt_now_ms() - start) * FLOOD_RATE / 1000;

		for (; sent < due; sent++) {
			char cbuf[CMSG_SPACE(sizeof(struct in_pktinfo))] = {};
			struct iovec iov = { .iov_base = "f", .iov_len = 1 };
			struct msghdr msg = { .msg_name = &dst,
					      .msg_namelen = sizeof(dst),
					      .msg_iov = &iov,
					      .msg_iovlen = 1,
					      .msg_control = cbuf,
					      .msg_controllen = sizeof(cbuf) };
			struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
			struct in_pktinfo *pi = (struct in_pktinfo *)CMSG_DATA(cm);

			cm->cmsg_level = IPPROTO_IP;
			cm->cmsg_type = IP_PKTINFO;
			cm->cmsg_len = CMSG_LEN(sizeof(*pi));
			/* 127.1.0.0 and up: never 127.0.0.1, the quiet flows' address */
			pi->ipi_spec_dst.s_addr = htonl(0x7f010000 + (uint32_t)sent);
			if (sendmsg(fd, &msg, 0) == 1 && sendmsg(fd, &msg, 0) == 1)
				__atomic_fetch_add(&flooded, 1, __ATOMIC_RELAXED);
		}
		/* the answers: read and dropped, so that the socket's buffer never fills */
		while (recv(fd, sink, sizeof(sink), MSG_DONTWAIT) > 0)
			;
		nanosleep(&pace, NULL);
	}
	close(fd);
	return NULL;
}

/* A quiet flow: a UDP socket from 127.0.0.1, connected to the group. Returns it or -1. */
static int quiet_flow(void)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
	if (fd < 0)
		return -1;
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin))) {
		close(fd);
		return -1;
	}
	sin.sin_port = htons(port);
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin))) {
		close(fd);
		return -1;
	}
	return fd;
}

/* One datagram of a quiet flow and the worker that answers it, or -1. */
static int ask(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	char buf[64];
	ssize_t n;
	int w;

	if (send(fd, "q", 1, 0) != 1 || poll(&pfd, 1, RLBT_TIMEOUT_MS) != 1)
		return -1;
	n = recv(fd, buf, sizeof(buf) - 1, 0);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	return sscanf(buf, "worker %d", &w) == 1 ? w : -1;
}

/* The number after "key": in text, or -1. */
static long json_number(const char *text, const char *key)
{
	char pat[64];
	const char *at;

	snprintf(pat, sizeof(pat), "\"%s\":", key);
	at = text ? strstr(text, pat) : NULL;
	return at ? atol(at + strlen(pat)) : -1;
}

/* The output of "$REUSELB ARGS", up to 8 KiB: static, valid until the next call. */
static const char *run(const char *args)
{
	static char out[8192];
	char cmd[512];
	size_t len;
	FILE *p;

	snprintf(cmd, sizeof(cmd), "%s %s 2>&1", getenv("REUSELB"), args);
	p = popen(cmd, "r");
	if (!p)
		return "";
	len = fread(out, 1, sizeof(out) - 1, p);
	out[len] = '\0';
	pclose(p);
	return out;
}

/* The metrics text of the server, up to 16 KiB: static. */
static const char *scrape(uint16_t mport)
{
	static const char req[] = "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n";
	static char buf[16384];
	size_t len = 0;
	ssize_t n;
	int fd = rlbt_connect(AF_INET, NULL, 0, "127.0.0.1", mport);

	buf[0] = '\0';
	if (fd < 0)
		return buf;
	if (send(fd, req, strlen(req), MSG_NOSIGNAL) == (ssize_t)strlen(req))
		while (len < sizeof(buf) - 1 &&
		       (n = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0)
			len += n;
	buf[len] = '\0';
	close(fd);
	return buf;
}

static long metric(const char *text, const char *name)
{
	const char *at = strstr(text, name);

	at = at ? strchr(at, ' ') : NULL;
	return at ? atol(at + 1) : -1;
}

static char group[64];

static bool evictions_counted(void *arg)
{
	char args[128];

	(void)arg;
	snprintf(args, sizeof(args), "stats --name %s --json", group);
	return json_number(run(args), "flows_evicted") > 0;
}

/* Runs one phase; returns how many quiet flows changed worker (-1 on a failure). */
static int phase(unsigned int table, int rounds, long *evicted)
{
	char table_s[16], args[256];
	const char *argv[] = { "serve",
			       "-a",
			       "127.0.0.1",
			       "-p",
			       "0",
			       "-w",
			       "4",
			       "--udp",
			       "--mode",
			       "id",
			       "--policy",
			       "round-robin",
			       "--flow-timeout",
			       "3",
			       "--flow-table",
			       table_s,
			       "--name",
			       group,
			       "--metrics",
			       "127.0.0.1:0",
			       NULL };
	struct rlbt_server s = {};
	int fds[NR_QUIET], first[NR_QUIET], moved = 0, lost = 0;
	bool changed[NR_QUIET] = {};
	struct timespec pace = { .tv_sec = QUIET_MS / 1000, .tv_nsec = QUIET_MS % 1000 * 1000000 };
	uint16_t mport = 0;
	const char *text, *at;
	pthread_t thread;
	bool flooding = false;

	snprintf(table_s, sizeof(table_s), "%u", table);
	snprintf(group, sizeof(group), "rlbt-flows-%d-%u", getpid(), table);
	for (int i = 0; i < NR_QUIET; i++)
		fds[i] = -1;
	if (!CHECK(!rlbt_serve_start(argv, &s), "table %u: cannot start the server", table))
		return -1;
	port = s.port;
	at = strstr(s.output, "metrics at http://127.0.0.1:");
	if (at)
		mport = atoi(at + strlen("metrics at http://127.0.0.1:"));
	for (int i = 0; i < NR_QUIET; i++) {
		fds[i] = quiet_flow();
		first[i] = fds[i] >= 0 ? ask(fds[i]) : -1;
		if (!CHECK(first[i] >= 0, "table %u: quiet flow %d got no answer", table, i))
			goto out;
	}
	__atomic_store_n(&stop, 0, __ATOMIC_RELEASE);
	flooding = !pthread_create(&thread, NULL, flood, NULL);
	CHECK(flooding, "cannot start the flood");
	for (int r = 0; r < rounds; r++) {
		nanosleep(&pace, NULL);
		for (int i = 0; i < NR_QUIET; i++) {
			int w = ask(fds[i]);

			lost += w < 0;
			if (w >= 0 && w != first[i] && !changed[i]) {
				changed[i] = true;
				moved++;
			}
		}
	}
	CHECK(lost == 0, "table %u: %d datagrams of quiet flows got no answer", table, lost);
	if (table < 1024) {
		/* the owner counts once a second: wait for its look after the moves */
		CHECK(rlbt_wait_for(evictions_counted, NULL, 5000), "table %u: no eviction counted",
		      table);
		snprintf(args, sizeof(args), "stats --name %s", group);
		text = run(args);
		printf("%s", text);
		CHECK(strstr(text, "flows evicted early ") && strstr(text, "(table 256)"),
		      "the stats table does not show the flows");
		text = scrape(mport);
		CHECK(metric(text, "reuselb_flow_table_size{") == table &&
			      metric(text, "reuselb_flows_evicted_total{") > 0,
		      "metrics: table %ld, evicted %ld", metric(text, "reuselb_flow_table_size{"),
		      metric(text, "reuselb_flows_evicted_total{"));
	}
	__atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
	if (flooding)
		pthread_join(thread, NULL);
	snprintf(args, sizeof(args), "stats --name %s --json", group);
	text = run(args);
	*evicted = json_number(text, "flows_evicted");
	CHECK(json_number(text, "flow_table") == table, "table %u: stats say %s", table, text);
	printf("table %u: %ld new flows flooded; %d of %d quiet flows changed worker; %ld flows "
	       "counted as evicted before their timeout\n",
	       table, flooded, moved, NR_QUIET, *evicted);
	if (table < 1024) {
		/* a successor must take the live table: another size is refused before it binds */
		int err_fd = fileno(tmpfile());
		const char *targv[] = { "serve",      "-a",	      "127.0.0.1", "-p",
					table_s,      "-w",	      "1",	   "--udp",
					"--mode",     "id",	      "--name",	   group,
					"--takeover", "--flow-table", "512",	   NULL };
		struct rlbt_server t;
		char port_s[16];

		snprintf(port_s, sizeof(port_s), "%u", port);
		targv[4] = port_s;
		CHECK(rlbt_serve_start_err(targv, err_fd, &t) < 0,
		      "a takeover with --flow-table 512 started");
		rlbt_serve_free(&t);
		text = rlbt_file_text(err_fd);
		printf("takeover with another size: %s", text);
		CHECK(strstr(text, "flow table of 256 entries, not 512"),
		      "the refusal does not name the sizes: %s", text);
		CHECK(ask(fds[0]) >= 0, "the group stopped answering after the refused takeover");
		close(err_fd);
	}
out:
	for (int i = 0; i < NR_QUIET; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	CHECK(rlbt_serve_stop(&s) == 0, "table %u: the server did not stop cleanly", table);
	rlbt_serve_free(&s);
	flooded = 0;
	return moved;
}

int main(void)
{
	static const char *const usage_errors[] = {
		"-p 0 --flow-table 1024",		/* tcp */
		"-p 0 --udp --mode id --flow-table 63", /* below RLB_FLOW_TABLE_MIN */
		"-p 0 --udp --mode id --flow-table 4194305",
	};
	long evicted = -1;
	cpu_set_t one_cpu;
	int moved;

	rlbt_require_root();
	/*
	 * One CPU for the test and the servers it starts: the LRU keeps lists per CPU, and which
	 * of them a quiet flow's entry sits on decides whether a flood evicts it; on one CPU (one
	 * NIC queue, as it were) that no longer depends on where the scheduler put each thread.
	 */
	CPU_ZERO(&one_cpu);
	CPU_SET(sched_getcpu() >= 0 ? sched_getcpu() : 0, &one_cpu);
	CHECK(!sched_setaffinity(0, sizeof(one_cpu), &one_cpu), "sched_setaffinity: %s",
	      strerror(errno));
	/* 0. */
	for (size_t i = 0; i < ARRAY_SIZE(usage_errors); i++) {
		char cmd[256];
		int status;

		snprintf(cmd, sizeof(cmd), "%s serve %s >/dev/null 2>&1", getenv("REUSELB"),
			 usage_errors[i]);
		status = system(cmd);
		CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 2,
		      "'serve %s': status %d, want 2", usage_errors[i], status);
	}
	/* 1. */
	moved = phase(256, 10, &evicted);
	CHECK(moved >= NR_QUIET / 2, "table 256: %d of %d quiet flows changed worker, want half",
	      moved, NR_QUIET);
	CHECK(evicted > 0, "table 256: evictions counted %ld, want > 0", evicted);
	/* 2. */
	evicted = -1;
	moved = phase(8192, 14, &evicted);
	CHECK(moved == 0, "table 8192: %d quiet flows changed worker, want 0", moved);
	CHECK(evicted == 0, "table 8192: evictions counted %ld, want 0", evicted);
	return rlbt_finish();
}
