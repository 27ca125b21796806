// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The listeners of each model. A reuseport group is bound in worker order, so that the group's
 * socket index i is worker i: the cBPF program of incoming-cpu returns an index.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "contender.h"

/*
 * A = the CPU that runs this packet's softirq, modulo the number of listeners; return A. On the
 * first socket, before bind: the group it creates keeps the program.
 */
static int attach_incoming_cpu(int fd, unsigned int nr_workers)
{
	struct sock_filter code[] = {
		{ BPF_LD | BPF_W | BPF_ABS, 0, 0, SKF_AD_OFF + SKF_AD_CPU },
		{ BPF_ALU | BPF_MOD | BPF_K, 0, 0, nr_workers },
		{ BPF_RET | BPF_A, 0, 0, 0 },
	};
	struct sock_fprog prog = { .len = sizeof(code) / sizeof(code[0]), .filter = code };

	if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, &prog, sizeof(prog)))
		return -errno;
	return 0;
}

static int port_of(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len))
		return -errno;
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
}

static int open_one(const struct ctr_opts *o, const struct sockaddr_storage *addr, bool reuseport,
		    bool first, int *out)
{
	int type = (o->udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC;
	const int one = 1;
	int fd;

	/* the epoll models never wait in a call; blocking waits in accept() and recvfrom() */
	if (o->model != CTR_BLOCKING)
		type |= SOCK_NONBLOCK;
	*out = fd = socket(addr->ss_family, type, 0);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one))) ||
	    (o->model == CTR_INCOMING_CPU && first && attach_incoming_cpu(fd, o->nr_workers)) ||
	    bind(fd, (const struct sockaddr *)addr, o->addr_len) ||
	    (!o->udp && listen(fd, SOMAXCONN)))
		return -errno;
	return 0;
}

int ctr_open_sockets(const struct ctr_opts *o, int *fds, unsigned int *nr_fds, uint32_t *prog_id)
{
	struct sockaddr_storage addr = o->addr;
	bool reuseport = o->model != CTR_EXCLUSIVE;
	int port = 0, err;

	*nr_fds = 0;
	*prog_id = 0;
	for (unsigned int i = 0; i < (reuseport ? o->nr_workers : 1); i++) {
		err = open_one(o, &addr, reuseport, i == 0, &fds[i]);
		(*nr_fds)++;
		if (err)
			return err;
		/* the rest of the group binds the port that the first one got */
		if (!i) {
			port = port_of(fds[0]);
			if (port < 0)
				return port;
			if (addr.ss_family == AF_INET)
				((struct sockaddr_in *)&addr)->sin_port = htons(port);
			else
				((struct sockaddr_in6 *)&addr)->sin6_port = htons(port);
		}
	}
	/* a sockarray takes sockets that are in the group already: bound, and listening (tcp) */
	if (o->model == CTR_EBPF_MIN) {
		err = ctr_attach_ebpf(fds, *nr_fds, prog_id);
		if (err)
			return err;
	}
	return port;
}
