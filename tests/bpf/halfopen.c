// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Half-open connections of a listener that closes migrate to a live worker: the requests that
 * wait for the final ACK of their handshake (request sockets, TCP_NEW_SYN_RECV) when worker 1
 * closes complete on another worker once the ACK gets through. This is the kernel selftest
 * migrate_reuseport's TCP_NEW_SYN_RECV case, on our program and our group.
 *
 * Each case runs in a child (the library probes the kernel once per process) in a network
 * namespace of its own: its loopback carries the XDP fixture and nothing of the host's, and
 * there net.ipv4.tcp_migrate_req is 0, so only a migrate program moves requests.
 *
 * 1. Open a group of 4 workers on the case's loopback address, ephemeral port, round-robin.
 * 2. Attach the fixture tests/bpf/progs/drop_ack.bpf.c by XDP (generic mode) to lo: it drops
 *    every segment but the SYN from 40 chosen client ports to the group's port.
 * 3. 40 clients connect from those ports (connect returns: the client saw the SYN-ACK and
 *    sent its ACK) and each writes a one-line request. Wait until /proc/net/tcp lists 40 request
 *    sockets on the group's port and the fixture has dropped a segment of every client; no
 *    listener has a connection to accept. Round-robin gave 10 requests to each worker.
 * 4. Close worker 1 (rlb_group_close_worker) while its 10 requests are half-open; with a
 *    migrate program, 40 requests are still there.
 * 5. Let the segments through: the clients retransmit their request (the server its SYN-ACK,
 *    which the client acknowledges again) and the handshakes complete.
 * 6. Accept on the 3 live workers until every client has its answer or its reset (bounded by
 *    30 s): a worker reads the client's request, checks that it names the client's port, and
 *    answers "ok".
 * 7. Detach the fixture (also on every failure path, and with the namespace at exit).
 * A. IPv4, migrate program: all 40 answered, none reset; the stats say steered 10 to each
 *    slot, migrated 10 in all and none to worker 1; each live worker accepted its steered
 *    plus its migrated.
 * B. IPv6: the same.
 * C. IPv4, select-only program (REUSELB_PROBE_DISABLE=migrate): the 10 requests of worker 1
 *    are dropped with it, and their clients read a reset; the other 30 answered; 0 migrated.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>

#include "drop_ack.skel.h"
#include "rlbtest.h"

#define NR_WORKERS 4
#define NR_CLIENTS 40
#define CLOSED 1
/* Below the ephemeral range, in a namespace of our own: free, and never the group's port. */
#define FIRST_PORT 20000
#define REQUEST_LEN 13 /* "client %5u\n", without its NUL */
#define SETTLE_MS 30000

struct halfopen_case {
	const char *name;
	int family;
	const char *addr;
	const char *disable; /* REUSELB_PROBE_DISABLE for the child */
	bool migrate;	     /* the program migrates: every client answered */
};

static const struct halfopen_case cases[] = {
	{ "IPv4, migrate program", AF_INET, "127.0.0.1", NULL, true },
	{ "IPv6, migrate program", AF_INET6, "::1", NULL, true },
	{ "IPv4, select-only program", AF_INET, "127.0.0.1", "migrate", false },
};

/* The case the child runs (rlbt_in_child takes a function without arguments). */
static const struct halfopen_case *tc;

struct run {
	struct rlb_group *g;
	struct drop_ack_bpf *skel;
	int link_fd;
	uint16_t port;
	int clients[NR_CLIENTS];
	int children[NR_CLIENTS]; /* accepted, waiting for their request; -1 when done */
	int nr_children;
	int accepted[NR_WORKERS];
	int answered, reset, other, bad_request;
};

/* Connections a listener holds for accept (TCP_INFO of a listener: tcpi_unacked). */
static int queued(int lfd)
{
	struct tcp_info ti = {};
	socklen_t len = sizeof(ti);

	if (lfd < 0)
		return 0;
	if (getsockopt(lfd, IPPROTO_TCP, TCP_INFO, &ti, &len))
		return -errno;
	return ti.tcpi_unacked;
}

static int requests(const struct run *r)
{
	return rlbt_tcp_sockets(tc->family, r->port, 1U << TCP_SYN_RECV);
}

struct held {
	const struct run *r;
	int want;
};

/* The requests are all there, and a segment of every client has been dropped. */
static bool all_held(void *arg)
{
	const struct held *h = arg;
	int fd = bpf_map__fd(h->r->skel->maps.held);

	if (requests(h->r) != h->want)
		return false;
	for (uint16_t p = FIRST_PORT; p < FIRST_PORT + NR_CLIENTS; p++) {
		__u32 drops = 0;

		if (bpf_map_lookup_elem(fd, &p, &drops) || !drops)
			return false;
	}
	return true;
}

/* The fixture, loaded and attached to lo in generic mode, holding the clients' ports. */
static int hold(struct run *r)
{
	LIBBPF_OPTS(bpf_link_create_opts, opts, .flags = XDP_FLAGS_SKB_MODE);
	int ifindex = if_nametoindex("lo"), err;
	__u32 zero = 0;

	r->skel = drop_ack_bpf__open_and_load();
	if (!CHECK(r->skel, "cannot load the XDP fixture: %s", strerror(errno)))
		return -1;
	r->skel->bss->server_port = r->port;
	r->skel->bss->holding = 1;
	for (uint16_t p = FIRST_PORT; p < FIRST_PORT + NR_CLIENTS; p++) {
		err = bpf_map__update_elem(r->skel->maps.held, &p, sizeof(p), &zero, sizeof(zero),
					   BPF_NOEXIST);
		if (!CHECK(!err, "cannot hold port %u: %s", p, strerror(-err)))
			return -1;
	}
	r->link_fd =
		bpf_link_create(bpf_program__fd(r->skel->progs.drop_ack), ifindex, BPF_XDP, &opts);
	if (!CHECK(r->link_fd >= 0, "cannot attach XDP to lo (ifindex %d) in generic mode: %s",
		   ifindex, strerror(-r->link_fd)))
		return -1;
	return 0;
}

/* 3. The clients, their requests written; returns how many connected. */
static int connect_clients(struct run *r)
{
	char req[REQUEST_LEN + 1];
	int made;

	for (made = 0; made < NR_CLIENTS; made++) {
		int fd = rlbt_connect(tc->family, tc->addr, FIRST_PORT + made, tc->addr, r->port);

		if (!CHECK(fd >= 0, "client %d: connect: %s", made, strerror(-fd)))
			break;
		r->clients[made] = fd;
		snprintf(req, sizeof(req), "client %5u\n", FIRST_PORT + made);
		if (!CHECK(write(fd, req, REQUEST_LEN) == REQUEST_LEN, "client %d: write: %s", made,
			   strerror(errno)))
			break;
	}
	return made;
}

/* The peer port of an accepted connection, or -1. */
static int peer_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getpeername(fd, (struct sockaddr *)&ss, &len))
		return -1;
	return ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port :
					       ((struct sockaddr_in6 *)&ss)->sin6_port);
}

/* A child's request is in: check it names the peer, answer, close. */
static void serve_child(struct run *r, int i)
{
	char req[REQUEST_LEN + 1] = "", want[REQUEST_LEN + 1];
	int fd = r->children[i];
	ssize_t n = read(fd, req, REQUEST_LEN);

	if (n < 0 && errno == EAGAIN)
		return;
	snprintf(want, sizeof(want), "client %5d\n", peer_port(fd));
	if (n != REQUEST_LEN || memcmp(req, want, REQUEST_LEN)) {
		r->bad_request++;
		fprintf(stderr, "a worker read %zd bytes \"%.*s\" from port %d\n", n,
			n > 0 ? (int)n : 0, req, peer_port(fd));
	} else if (write(fd, "ok\n", 3) != 3) {
		r->bad_request++;
	}
	close(fd);
	r->children[i] = -1;
}

/* A client has something to read: its answer, a reset, or anything else. */
static void read_answer(struct run *r, int i)
{
	char buf[8] = "";
	ssize_t n = recv(r->clients[i], buf, sizeof(buf) - 1, MSG_DONTWAIT);

	if (n < 0 && errno == EAGAIN)
		return;
	if (n == 3 && !strcmp(buf, "ok\n"))
		r->answered++;
	else if (n < 0 && errno == ECONNRESET)
		r->reset++;
	else
		r->other++;
	close(r->clients[i]);
	r->clients[i] = -1;
}

/*
 * 5 and 6: every client's outcome, event by event, until each client has one or SETTLE_MS
 * pass; returns how many clients are left without one. The pollfds are the listeners, then
 * the accepted connections, then the clients (a closed one is -1, which poll skips).
 */
static int settle(struct run *r, int made)
{
	enum { CHILDREN = NR_WORKERS, CLIENTS = NR_WORKERS + NR_CLIENTS };
	long deadline = rlbt_now_ms() + SETTLE_MS;
	int left = made;

	while (left > 0) {
		struct pollfd pfd[NR_WORKERS + 2 * NR_CLIENTS];
		long wait = deadline - rlbt_now_ms();

		if (wait <= 0)
			break;
		for (int w = 0; w < NR_WORKERS; w++)
			pfd[w] = (struct pollfd){ .fd = rlb_group_fd(r->g, w), .events = POLLIN };
		for (int i = 0; i < NR_CLIENTS; i++) {
			pfd[CHILDREN + i] =
				(struct pollfd){ .fd = r->children[i], .events = POLLIN };
			pfd[CLIENTS + i] = (struct pollfd){ .fd = r->clients[i], .events = POLLIN };
		}
		if (poll(pfd, ARRAY_SIZE(pfd), wait) < 0) {
			CHECK(false, "poll: %s", strerror(errno));
			break;
		}
		for (int w = 0; w < NR_WORKERS; w++) {
			int fd;

			if (!pfd[w].revents)
				continue;
			fd = accept4(pfd[w].fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
			if (fd < 0)
				continue;
			if (!CHECK(r->nr_children < NR_CLIENTS, "more connections than clients")) {
				close(fd);
				continue;
			}
			r->accepted[w]++;
			r->children[r->nr_children++] = fd;
		}
		for (int i = 0; i < NR_CLIENTS; i++) {
			if (pfd[CHILDREN + i].revents)
				serve_child(r, i);
			if (pfd[CLIENTS + i].revents) {
				read_answer(r, i);
				left -= r->clients[i] < 0;
			}
		}
	}
	return left;
}

static void run_case(void)
{
	struct run r = { .link_fd = -1 };
	struct rlb_group_stats st;
	struct held h = { .r = &r, .want = NR_CLIENTS };
	uint64_t migrated = 0;
	int err, made = 0, left, live = 0;
	struct rlb_features f;

	memset(r.clients, -1, sizeof(r.clients));
	memset(r.children, -1, sizeof(r.children));
	err = rlbt_private_netns();
	if (!CHECK(!err, "cannot make a network namespace: %s", strerror(-err)))
		return;
	if (!CHECK(rlbt_read_sysctl("/proc/sys/net/ipv4/tcp_migrate_req") == 0,
		   "tcp_migrate_req is not 0 in a new namespace"))
		return;
	if (!CHECK(!rlb_probe(&f), "rlb_probe: %s", rlb_last_error()))
		return;
	if (tc->migrate && !f.migrate) {
		printf("%s: this kernel has no migrate (before 5.14): nothing to test\n", tc->name);
		return;
	}
	CHECK(f.migrate == tc->migrate, "the probe says migrate %d, the case wants %d", f.migrate,
	      tc->migrate);

	/* 1, 2 */
	if (!CHECK(!rlbt_group_open(tc->addr, RLB_POLICY_ROUND_ROBIN, NR_WORKERS, &r.g),
		   "cannot open the group"))
		goto out;
	r.port = rlb_group_port(r.g);
	if (hold(&r))
		goto out;

	/* 3 */
	made = connect_clients(&r);
	if (made < NR_CLIENTS)
		goto out;
	if (!CHECK(rlbt_wait_for(all_held, &h, RLBT_TIMEOUT_MS),
		   "%d request sockets on port %u, want %d, or a client's segments not dropped",
		   requests(&r), r.port, NR_CLIENTS))
		goto out;
	for (int w = 0; w < NR_WORKERS; w++)
		CHECK(queued(rlb_group_fd(r.g, w)) == 0,
		      "worker %d has %d connections to accept before any ACK got through", w,
		      queued(rlb_group_fd(r.g, w)));
	err = rlb_ctl_read(rlb_group_ctl(r.g), &st);
	if (!CHECK(!err, "rlb_ctl_read: %s", rlb_last_error()))
		goto out;
	for (int w = 0; w < NR_WORKERS; w++)
		CHECK(st.workers[w].steered == NR_CLIENTS / NR_WORKERS,
		      "slot %d: %llu requests steered, want %d", w,
		      (unsigned long long)st.workers[w].steered, NR_CLIENTS / NR_WORKERS);

	/* 4 */
	err = rlb_group_close_worker(r.g, CLOSED);
	if (!CHECK(!err, "rlb_group_close_worker: %s", rlb_last_error()))
		goto out;
	if (tc->migrate)
		CHECK(requests(&r) == NR_CLIENTS, "%d request sockets after the close, want %d",
		      requests(&r), NR_CLIENTS);

	/* 5, 6 */
	r.skel->bss->holding = 0;
	left = settle(&r, made);
	CHECK(!left, "%d clients had no answer and no reset within %d ms", left, SETTLE_MS);
	CHECK(!r.other && !r.bad_request,
	      "%d clients read neither answer nor reset, %d requests were wrong or unanswered",
	      r.other, r.bad_request);
	for (int i = 0; i < r.nr_children; i++)
		CHECK(r.children[i] < 0, "accepted connection %d never sent its request", i);
	CHECK(r.accepted[CLOSED] == 0, "the closed worker accepted %d", r.accepted[CLOSED]);

	err = rlb_ctl_read(rlb_group_ctl(r.g), &st);
	if (!CHECK(!err, "rlb_ctl_read: %s", rlb_last_error()))
		goto out;
	for (int w = 0; w < NR_WORKERS; w++)
		migrated += st.workers[w].migrated;
	for (int w = 0; w < NR_WORKERS; w++) {
		if (w == CLOSED)
			continue;
		live += r.accepted[w];
		CHECK(r.accepted[w] == (int)(st.workers[w].steered + st.workers[w].migrated),
		      "worker %d accepted %d, its slot counts steered %llu + migrated %llu", w,
		      r.accepted[w], (unsigned long long)st.workers[w].steered,
		      (unsigned long long)st.workers[w].migrated);
	}
	if (tc->migrate) {
		CHECK(r.answered == NR_CLIENTS && !r.reset && live == NR_CLIENTS,
		      "%d answered, %d reset, %d accepted; want %d, 0, %d", r.answered, r.reset,
		      live, NR_CLIENTS, NR_CLIENTS);
		CHECK(migrated == NR_CLIENTS / NR_WORKERS && !st.workers[CLOSED].migrated,
		      "%llu migrated (%llu to the closed worker), want %d",
		      (unsigned long long)migrated, (unsigned long long)st.workers[CLOSED].migrated,
		      NR_CLIENTS / NR_WORKERS);
	} else {
		CHECK(r.reset == NR_CLIENTS / NR_WORKERS &&
			      r.answered == NR_CLIENTS - NR_CLIENTS / NR_WORKERS && !migrated,
		      "%d reset, %d answered, %llu migrated; want %d, %d, 0", r.reset, r.answered,
		      (unsigned long long)migrated, NR_CLIENTS / NR_WORKERS,
		      NR_CLIENTS - NR_CLIENTS / NR_WORKERS);
	}
	printf("%s: %d half-open when worker %d closed: %d answered, %d reset; accepted "
	       "%d/%d/%d/%d, %llu migrated\n",
	       tc->name, made, CLOSED, r.answered, r.reset, r.accepted[0], r.accepted[1],
	       r.accepted[2], r.accepted[3], (unsigned long long)migrated);
out:
	/* 7: the link first, so that nothing is held while the rest closes */
	if (r.link_fd >= 0)
		close(r.link_fd);
	drop_ack_bpf__destroy(r.skel);
	for (int i = 0; i < NR_CLIENTS; i++) {
		if (r.clients[i] >= 0)
			close(r.clients[i]);
		if (r.children[i] >= 0)
			close(r.children[i]);
	}
	rlb_group_close(r.g);
}

int main(void)
{
	rlbt_require_root();
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		tc = &cases[i];
		rlbt_case_begin(tc->name);
		rlbt_in_child(tc->name, tc->disable, run_case);
		rlbt_case_end();
	}
	return rlbt_finish();
}
