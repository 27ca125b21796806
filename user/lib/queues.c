// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Each listener's queues, from sock_diag: no BPF needed, so it works under "kernel", for our
 * own groups and for sockets we only adopted. A member of a group is known by its socket
 * cookie: the socks map gives it per slot (a REUSEPORT_SOCKARRAY lookup returns the cookie),
 * sock_diag gives it per socket (idiag_cookie), so no fd of the owner is needed.
 *
 * One dump of the family's listening TCP sockets (UDP: all its UDP sockets) with their memory
 * counters answers a whole group: idiag_rqueue is a listener's accept queue now, idiag_wqueue
 * its backlog, SK_MEMINFO_DROPS the connections it dropped because that queue was full (the
 * kernel's tcp_listendrop). For UDP: bytes waiting, the receive buffer, datagrams dropped.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <bpf/bpf.h>
#include "internal.h"

#define TCP_LISTEN_STATE 10
/* A dump's datagrams: the kernel fills up to about this much per recv. */
#define DUMP_BUF (32 * 1024)

static uint64_t msg_cookie(const struct inet_diag_msg *m)
{
	return (uint64_t)m->id.idiag_cookie[1] << 32 | m->id.idiag_cookie[0];
}

static void fill_one(const struct inet_diag_msg *m, size_t len, struct rlb_queue *q)
{
	const struct rtattr *a = (const struct rtattr *)(m + 1);
	int left = (int)(len - NLMSG_ALIGN(sizeof(*m)));

	q->known = true;
	q->queue = m->idiag_rqueue;
	q->limit = m->idiag_wqueue;
	for (; RTA_OK(a, left); a = RTA_NEXT(a, left)) {
		const __u32 *mem = RTA_DATA(a);

		if (a->rta_type != INET_DIAG_SKMEMINFO ||
		    RTA_PAYLOAD(a) < (int)((SK_MEMINFO_DROPS + 1) * sizeof(__u32)))
			continue;
		q->drops = mem[SK_MEMINFO_DROPS];
		if (m->idiag_state != TCP_LISTEN_STATE)
			q->limit = mem[SK_MEMINFO_RCVBUF];
	}
}

/* Fills out[i] for every message of the dump whose cookie is cookies[i]. */
static void match(const struct nlmsghdr *h, const uint64_t *cookies, unsigned int n,
		  struct rlb_queue *out)
{
	const struct inet_diag_msg *m = NLMSG_DATA(h);
	uint64_t c;

	if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*m)))
		return;
	c = msg_cookie(m);
	for (unsigned int i = 0; i < n; i++)
		if (cookies[i] && cookies[i] == c)
			fill_one(m, h->nlmsg_len - NLMSG_HDRLEN, &out[i]);
}

static int send_dump(int fd, int proto, int family)
{
	struct {
		struct nlmsghdr nlh;
		struct inet_diag_req_v2 req;
	} msg = {
		.nlh = { .nlmsg_len = sizeof(msg),
			 .nlmsg_type = SOCK_DIAG_BY_FAMILY,
			 .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP },
		.req = { .sdiag_family = family,
			 .sdiag_protocol = proto,
			 .idiag_ext = 1 << (INET_DIAG_SKMEMINFO - 1),
			 .idiag_states = proto == IPPROTO_TCP ? 1u << TCP_LISTEN_STATE : ~0u },
	};
	struct sockaddr_nl nl = { .nl_family = AF_NETLINK };

	if (sendto(fd, &msg, sizeof(msg), 0, (struct sockaddr *)&nl, sizeof(nl)) < 0)
		return -errno;
	return 0;
}

/* Reads the dump to its end. */
static int read_dump(int fd, const uint64_t *cookies, unsigned int n, struct rlb_queue *out)
{
	static __thread char buf[DUMP_BUF] __attribute__((aligned(8)));

	for (;;) {
		ssize_t len = recv(fd, buf, sizeof(buf), 0);
		const struct nlmsghdr *h = (const struct nlmsghdr *)buf;

		if (len < 0 && errno == EINTR)
			continue;
		if (len < 0)
			return -errno;
		if (len == 0)
			return -EPROTO;
		for (; NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
			if (h->nlmsg_type == NLMSG_DONE)
				return 0;
			if (h->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *e = NLMSG_DATA(h);

				return e->error ? e->error : -EPROTO;
			}
			if (h->nlmsg_type == SOCK_DIAG_BY_FAMILY)
				match(h, cookies, n, out);
		}
	}
}

int rlb_queues_read(int proto, int family, const uint64_t *cookies, unsigned int n,
		    struct rlb_queue *out)
{
	int fd, err;

	memset(out, 0, n * sizeof(*out));
	if ((proto != IPPROTO_TCP && proto != IPPROTO_UDP) ||
	    (family != AF_INET && family != AF_INET6))
		return rlb_error(-EINVAL, "cannot read queues of protocol %d, family %d", proto,
				 family);
	fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (fd < 0)
		return rlb_error(-errno, "cannot open a sock_diag socket: %s", strerror(errno));
	err = send_dump(fd, proto, family);
	if (!err)
		err = read_dump(fd, cookies, n, out);
	close(fd);
	if (err)
		return rlb_error(err, "cannot read the listeners' queues from sock_diag: %s",
				 strerror(-err));
	return 0;
}

int rlb_ctl_read_queues(const struct rlb_ctl *c, struct rlb_queue out[RLB_MAX_WORKERS],
			unsigned int *nr)
{
	uint64_t cookies[RLB_MAX_WORKERS] = { 0 };
	/* room for a newer build's longer config: the lookup writes the map's value size */
	union {
		struct rlb_config cfg;
		__u8 room[1024];
	} u;
	struct rlb_config cfg;
	__u32 key = 0;

	*nr = 0;
	if (bpf_map_lookup_elem(c->fd[RLB_MAP_CONFIG], &key, &u))
		return rlb_bpf_error(-errno, "cannot read the config map");
	cfg = u.cfg;
	*nr = cfg.nr_workers < RLB_MAX_WORKERS ? cfg.nr_workers : RLB_MAX_WORKERS;
	for (__u32 i = 0; i < *nr; i++) {
		__u32 slot = cfg.base + i;
		__u64 cookie;

		/* an empty slot (ENOENT) is a closed worker: it keeps cookie 0, never matched */
		if (bpf_map_lookup_elem(c->fd[RLB_MAP_SOCKS], &slot, &cookie) == 0)
			cookies[i] = cookie;
	}
	return rlb_queues_read(cfg.proto, cfg.family, cookies, *nr, out);
}

int rlb_group_read_queues(const struct rlb_group *g, struct rlb_queue out[RLB_MAX_WORKERS])
{
	uint64_t cookies[RLB_MAX_WORKERS] = { 0 };
	int family = 0;

	for (unsigned int i = 0; i < g->opts.nr_workers; i++) {
		socklen_t clen = sizeof(cookies[i]);

		if (g->fds[i] < 0)
			continue;
		if (getsockopt(g->fds[i], SOL_SOCKET, SO_COOKIE, &cookies[i], &clen))
			cookies[i] = 0;
		if (!family) {
			struct sockaddr_storage ss;
			socklen_t len = sizeof(ss);

			if (getsockname(g->fds[i], (struct sockaddr *)&ss, &len) == 0)
				family = ss.ss_family;
		}
	}
	return rlb_queues_read(g->opts.udp ? IPPROTO_UDP : IPPROTO_TCP, family ? family : AF_INET,
			       cookies, g->opts.nr_workers, out);
}

/* Fills the queue fields of st; a failure leaves them unknown (the rest of st stands). */
void rlb_ctl_fill_queues(const struct rlb_ctl *c, struct rlb_group_stats *st)
{
	struct rlb_queue q[RLB_MAX_WORKERS];
	unsigned int nr;

	if (rlb_ctl_read_queues(c, q, &nr))
		return;
	for (unsigned int i = 0; i < nr && i < st->nr_workers; i++)
		st->workers[i].queue = q[i];
}
