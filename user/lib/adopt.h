/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* reuselb attach inside the library: sockets found in other processes (discover.c, adopt.c). */
#ifndef REUSELB_ADOPT_H
#define REUSELB_ADOPT_H

#include "internal.h"

#define RLB_SCAN_MAX 256   /* sockets on one port */
#define RLB_SCAN_PIDS 64   /* --pid given at most */
#define RLB_HOLDERS_MAX 64 /* processes holding one socket that are told apart */

/* A socket bound to the port, from /proc/net, and the processes that hold it. */
struct rlb_found {
	unsigned long ino;   /* the socket's inode */
	unsigned long netns; /* inode of its network namespace */
	bool udp;
	unsigned int family, port, uid;
	__u8 addr[16];
	int holders[RLB_HOLDERS_MAX], holder_fds[RLB_HOLDERS_MAX], nr_holders;
	int watchers[RLB_HOLDERS_MAX], nr_watchers; /* holders whose epoll watches it */
	int pid, fd; /* the one that serves it, 0 and -1 when no process holds it */
};

struct rlb_scan {
	struct rlb_found found[RLB_SCAN_MAX];
	int nr;
};

/*
 * Every socket at port (TCP listeners, or bound UDP sockets) in our network namespace and in
 * those of pids, with the processes among pids (every process when nr is 0) that hold them.
 * 0, or -ESRCH / -EPERM for a pid that is not there or not ours to read.
 */
int rlb_scan_port(struct rlb_scan *s, bool udp, uint16_t port, const int *pids, unsigned int nr);
/*
 * Whether the reuseport group of the socket with inode ino (a TCP listener or UDP socket on
 * port) has a steering program, and its id (0 for classic BPF): 0, or -errno when the kernel
 * cannot tell (no BPF iterators or BTF). group_prog.c.
 */
int rlb_group_prog_of(bool udp, uint16_t port, unsigned long ino, bool *has, uint32_t *id);
/* A copy of fd of pid (pidfd_getfd), or -errno with the error set. */
int rlb_copy_fd(int pid, int fd);

#endif
