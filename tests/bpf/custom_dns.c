// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * A UDP policy that reads the payload, examples/policies/dns_qname.bpf.c: every query for a
 * name reaches the same worker, whatever port it comes from.
 *
 * 1. Open a UDP group of 4 workers on 127.0.0.1, ephemeral port, policy round-robin, and load
 *    dns_qname.bpf.o; the policy's name is custom:dns_qname.
 * 2. 20 rounds over 8 names; each query is a DNS datagram from a new socket (a new source
 *    port). Every query reaches exactly the worker the policy computes from its name (FNV-1a
 *    of the name as it is on the wire, letters folded to lower case), so each name stays on
 *    one worker, and the 8 names use at least 3 of the 4 workers.
 * 3. The same names in other letter cases reach the same workers.
 * 4. The stats map counts every query as steered, none unsteered.
 * 5. A datagram too short to be a DNS query is served all the same, by the kernel's hash,
 *    and counted as unsteered.
 * 6. Unload: 8 datagrams from 8 new sockets rotate over the workers again (round-robin).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include <reuselb/hash.h>
#include "rlbtest.h"

#define NR_WORKERS 4
#define NR_ROUNDS 20
#define NR_NAMES 8
#define QNAME_MAX 64 /* as in dns_qname.bpf.c */

static const char *const names[NR_NAMES] = {
	"www.example.com", "mail.example.org", "ns1.example.net", "api.example.com",
	"cdn.example.com", "a.b.c.example",    "localhost",	  "xn--bcher-kva.example",
};

/* A DNS query for name, type A, class IN: returns its length. */
static size_t dns_query(const char *name, __u16 id, unsigned char *buf)
{
	size_t len = 12;
	const char *label = name;

	memset(buf, 0, 12);
	buf[0] = id >> 8;
	buf[1] = id & 0xff;
	buf[2] = 0x01; /* recursion desired */
	buf[5] = 1;    /* one question */
	while (*label) {
		const char *dot = strchr(label, '.');
		size_t n = dot ? (size_t)(dot - label) : strlen(label);

		buf[len++] = n;
		memcpy(buf + len, label, n);
		len += n;
		label += n + (dot ? 1 : 0);
	}
	buf[len++] = 0;
	memcpy(buf + len, "\0\1\0\1", 4); /* QTYPE A, QCLASS IN */
	return len + 4;
}

/* The worker dns_qname.bpf.c chooses: FNV-1a over the wire name, case folded. */
static int qname_worker(const unsigned char *query, size_t len)
{
	__u32 h = 2166136261u;

	for (size_t i = 12; i < len && i < 12 + QNAME_MAX && query[i]; i++) {
		unsigned char c = query[i];

		h = (h ^ (c >= 'A' && c <= 'Z' ? c | 0x20 : c)) * 16777619u;
	}
	return rlb_scale(h, NR_WORKERS);
}

/*
 * Client sockets stay open until the test ends: a UDP group remembers flows (RLB_CFG_FLOWS),
 * and a new socket that got the port of a closed one would be that flow again, answered by
 * its worker whatever the policy says of the new query.
 */
static int open_fds[512];
static unsigned int nr_open;

/*
 * Sends buf from a new socket to the group and returns the worker whose socket received it
 * (exactly one must, and with the same bytes), or -1. With keep, the socket's fd goes there.
 */
static int send_datagram(struct rlb_group *g, const void *buf, size_t len, int *keep)
{
	struct sockaddr_in dst = { .sin_family = AF_INET, .sin_port = htons(rlb_group_port(g)) };
	struct pollfd pfd[NR_WORKERS];
	unsigned char got[512];
	int fd, ready, worker = -1;
	ssize_t n;

	inet_pton(AF_INET, "127.0.0.1", &dst.sin_addr);
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 ||
	    sendto(fd, buf, len, 0, (struct sockaddr *)&dst, sizeof(dst)) != (ssize_t)len) {
		fprintf(stderr, "cannot send a datagram: %s\n", strerror(errno));
		goto out;
	}
	for (int i = 0; i < NR_WORKERS; i++)
		pfd[i] = (struct pollfd){ .fd = rlb_group_fd(g, i), .events = POLLIN };
	ready = poll(pfd, NR_WORKERS, RLBT_TIMEOUT_MS);
	if (ready != 1) {
		fprintf(stderr, "%d workers have a datagram, want 1\n", ready);
		goto drain;
	}
	for (int i = 0; i < NR_WORKERS; i++)
		if (pfd[i].revents & POLLIN)
			worker = i;
	n = recv(pfd[worker].fd, got, sizeof(got), 0);
	if (n != (ssize_t)len || memcmp(got, buf, len)) {
		fprintf(stderr, "worker %d received %zd bytes, not the %zu sent\n", worker, n, len);
		worker = -1;
	}
drain:
	/* whatever else is queued would spoil the next round */
	for (int i = 0; i < NR_WORKERS; i++) {
		while (recv(pfd[i].fd, got, sizeof(got), MSG_DONTWAIT) >= 0) {
			fprintf(stderr, "worker %d had another datagram\n", i);
			worker = -1;
		}
	}
out:
	if (keep)
		*keep = fd;
	else if (fd >= 0 && nr_open < sizeof(open_fds) / sizeof(open_fds[0]))
		open_fds[nr_open++] = fd;
	else if (fd >= 0)
		close(fd);
	return worker;
}

int main(void)
{
	struct rlb_group_opts opts = {
		.addr = "127.0.0.1",
		.udp = true,
		.nr_workers = NR_WORKERS,
		.policy = RLB_POLICY_ROUND_ROBIN,
	};
	int first[NR_NAMES], wrong = 0, moved = 0, used = 0, start = -1, bad = 0, err;
	struct rlb_group_stats before, after;
	int kept[2 * NR_WORKERS] = { -1, -1, -1, -1, -1, -1, -1, -1 };
	unsigned char q[512], upper[512];
	bool seen[NR_WORKERS] = {};
	struct rlb_group *g = NULL;
	uint64_t steered = 0;
	size_t len;

	rlbt_require_root();
	/* 1. */
	err = rlb_group_open(&opts, &g);
	if (!CHECK(!err, "cannot open the UDP group: %s", rlb_last_error()))
		goto out;
	err = rlb_ctl_load_policy(rlb_group_ctl(g), rlbt_policy_path("dns_qname"));
	if (!CHECK(!err, "rlb_ctl_load_policy(%s): %s: %s\n%s", rlbt_policy_path("dns_qname"),
		   strerror(-err), rlb_last_error(), rlb_verifier_log()))
		goto out;
	CHECK(rlbt_policy_is(rlb_group_ctl(g), "custom:dns_qname"), "not the policy just loaded");
	err = rlb_ctl_read(rlb_group_ctl(g), &before);
	if (!CHECK(!err, "rlb_ctl_read: %s", rlb_last_error()))
		goto out;

	/* 2. */
	for (int round = 0; round < NR_ROUNDS; round++) {
		for (int n = 0; n < NR_NAMES; n++) {
			int w, want;

			len = dns_query(names[n], round * NR_NAMES + n, q);
			want = qname_worker(q, len);
			w = send_datagram(g, q, len, NULL);
			if (!CHECK(w >= 0, "query %d for %s reached no single worker", round,
				   names[n]))
				goto out;
			if (w != want && wrong++ < 5)
				fprintf(stderr,
					"query for %s reached worker %d, the policy says %d\n",
					names[n], w, want);
			if (round == 0) {
				first[n] = w;
				seen[w] = true;
			} else if (w != first[n]) {
				moved++;
			}
		}
	}
	CHECK(!wrong, "%d of %d queries not on the policy's worker", wrong, NR_ROUNDS * NR_NAMES);
	CHECK(!moved, "%d queries left their name's worker", moved);
	for (int w = 0; w < NR_WORKERS; w++)
		used += seen[w];
	CHECK(used >= 3, "%d names used only %d of %d workers", NR_NAMES, used, NR_WORKERS);

	/* 3. */
	for (int n = 0; n < NR_NAMES; n++) {
		char shout[64];
		int w;

		/* every other letter upper case: "WwW.ExAmPlE.CoM" */
		for (size_t i = 0; i <= strlen(names[n]); i++) {
			char c = names[n][i];

			shout[i] = i % 2 == 0 && c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c;
		}
		len = dns_query(shout, 1000 + n, upper);
		w = send_datagram(g, upper, len, NULL);
		CHECK(w == first[n], "%s reached worker %d, %s worker %d", shout, w, names[n],
		      first[n]);
	}

	/* 4. */
	err = rlb_ctl_read(rlb_group_ctl(g), &after);
	if (!CHECK(!err, "rlb_ctl_read: %s", rlb_last_error()))
		goto out;
	for (int w = 0; w < NR_WORKERS; w++)
		steered += after.workers[w].steered - before.workers[w].steered;
	CHECK(steered == NR_ROUNDS * NR_NAMES + NR_NAMES, "%llu queries steered, want %d",
	      (unsigned long long)steered, NR_ROUNDS * NR_NAMES + NR_NAMES);
	CHECK(after.unsteered == before.unsteered, "%llu queries unsteered",
	      (unsigned long long)(after.unsteered - before.unsteered));

	/* 5. */
	before = after;
	CHECK(send_datagram(g, "hello", 5, NULL) >= 0, "a short datagram was not served");
	err = rlb_ctl_read(rlb_group_ctl(g), &after);
	if (!CHECK(!err, "rlb_ctl_read: %s", rlb_last_error()))
		goto out;
	CHECK(after.unsteered - before.unsteered == 1, "unsteered +%llu, want +1",
	      (unsigned long long)(after.unsteered - before.unsteered));

	/* 6. */
	err = rlb_ctl_unload_policy(rlb_group_ctl(g));
	if (!CHECK(!err, "rlb_ctl_unload_policy: %s", rlb_last_error()))
		goto out;
	for (int i = 0; i < 2 * NR_WORKERS; i++) {
		int w;

		/* new flows each: a port used again would be a known flow, back on its worker */
		len = dns_query(names[0], 2000 + i, q);
		w = send_datagram(g, q, len, &kept[i]);
		if (!CHECK(w >= 0, "datagram %d after the unload reached no single worker", i))
			goto out;
		if (i == 0)
			start = w;
		if (w != (start + i) % NR_WORKERS)
			bad++;
	}
	CHECK(!bad, "after the unload, %d of %d datagrams out of the round-robin rotation", bad,
	      2 * NR_WORKERS);
	printf("%d names x %d queries: each on its own worker, %d workers used\n", NR_NAMES,
	       NR_ROUNDS, used);
out:
	for (int i = 0; i < 2 * NR_WORKERS; i++)
		if (kept[i] >= 0)
			close(kept[i]);
	rlb_group_close(g);
	return rlbt_finish();
}
