// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Finding the sockets of a port in other processes, for reuselb attach: the listeners (bound
 * UDP sockets) at the port from /proc/net/{tcp,tcp6,udp,udp6}, their holders from
 * /proc/PID/fd, and among several holders of one socket (nginx workers inherit every listener
 * from the master) the one that serves it: the process whose epoll instance watches it
 * (/proc/PID/fdinfo of an epoll fd lists "tfd: N ... ino:X"). Each socket is then copied out
 * of its server with pidfd_getfd and checked on the copy.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "adopt.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd 438
#endif

#define TCP_LISTEN_STATE 0x0a
#define UDP_UNCONNECTED_STATE 0x07

/* One line of /proc/net/{tcp,udp}{,6} at the port. */
static int parse_line(const char *line, bool v6, struct rlb_found *f, unsigned int *state)
{
	char local[33];
	unsigned int port, uid;
	unsigned long ino;
	__u32 words[4];

	if (sscanf(line,
		   " %*u: %32[0-9A-Fa-f]:%x %*[0-9A-Fa-f]:%*x %x %*x:%*x %*x:%*x %*x %u %*d %lu",
		   local, &port, state, &uid, &ino) != 5)
		return -1;
	memset(f, 0, sizeof(*f));
	/* each group of 8 hex digits is a __u32 as the kernel holds it (network byte order) */
	for (int i = 0; i < (v6 ? 4 : 1); i++) {
		char word[9];

		memcpy(word, local + 8 * i, 8);
		word[8] = 0;
		words[i] = strtoul(word, NULL, 16);
	}
	memcpy(f->addr, words, v6 ? 16 : 4);
	f->family = v6 ? AF_INET6 : AF_INET;
	f->port = port;
	f->uid = uid;
	f->ino = ino;
	f->pid = 0;
	f->fd = -1;
	return 0;
}

static int add_found(struct rlb_scan *s, const struct rlb_found *f)
{
	if (s->nr == RLB_SCAN_MAX)
		return rlb_error(-E2BIG, "more than %d sockets on port %u", RLB_SCAN_MAX, f->port);
	s->found[s->nr++] = *f;
	return 0;
}

/* The sockets at port in one network namespace's tables (proc is "/proc/net" or /proc/PID/net). */
static int read_tables(struct rlb_scan *s, const char *proc, unsigned long netns, bool udp,
		       uint16_t port)
{
	static const char *const tables[2][2] = { { "tcp", "tcp6" }, { "udp", "udp6" } };
	char path[128], line[512];
	struct rlb_found f;
	unsigned int state;
	int err = 0;
	FILE *fp;

	for (int v6 = 0; v6 < 2 && !err; v6++) {
		snprintf(path, sizeof(path), "%s/%s", proc, tables[udp][v6]);
		fp = fopen(path, "re");
		if (!fp)
			continue; /* no IPv6 on this host */
		while (fgets(line, sizeof(line), fp) && !err) {
			if (parse_line(line, v6, &f, &state) || f.port != port)
				continue;
			if (state != (udp ? UDP_UNCONNECTED_STATE : TCP_LISTEN_STATE))
				continue;
			f.netns = netns;
			f.udp = udp;
			err = add_found(s, &f);
		}
		fclose(fp);
	}
	return err;
}

static unsigned long netns_of(const char *pid)
{
	char path[64];
	struct stat st;

	snprintf(path, sizeof(path), "/proc/%s/ns/net", pid);
	return stat(path, &st) ? 0 : st.st_ino;
}

static struct rlb_found *by_ino(struct rlb_scan *s, unsigned long ino)
{
	for (int i = 0; i < s->nr; i++)
		if (s->found[i].ino == ino)
			return &s->found[i];
	return NULL;
}

static int ppid_of(int pid)
{
	char path[64], buf[512], *p;
	int fd, ppid = 0;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	/* "pid (comm) state ppid": comm may hold anything, so read after its last ')' */
	p = strrchr(buf, ')');
	if (p && sscanf(p + 1, " %*c %d", &ppid) != 1)
		ppid = 0;
	return ppid;
}

/* The inodes an epoll fd of pid watches ("tfd: N events: E data: D pos:P ino:X sdev:S"). */
static void read_epoll(struct rlb_scan *s, int pid, const char *fd)
{
	char path[384], line[256];
	unsigned long ino;
	struct rlb_found *f;
	FILE *fp;

	snprintf(path, sizeof(path), "/proc/%d/fdinfo/%s", pid, fd);
	fp = fopen(path, "re");
	if (!fp)
		return;
	while (fgets(line, sizeof(line), fp)) {
		char *p = strstr(line, " ino:");

		if (strncmp(line, "tfd:", 4) || !p || sscanf(p, " ino:%lx", &ino) != 1)
			continue;
		f = by_ino(s, ino);
		if (f && f->nr_watchers < RLB_HOLDERS_MAX)
			f->watchers[f->nr_watchers++] = pid;
	}
	fclose(fp);
}

/*
 * Records pid as a holder of every socket of the scan it has open. 0, or -errno when the
 * process cannot be read (gone, or not ours to look into).
 */
static int scan_pid(struct rlb_scan *s, const char *pid_text)
{
	char dir[64], path[384], link[64];
	int pid = atoi(pid_text);
	struct rlb_found *f;
	struct dirent *e;
	unsigned long ino;
	ssize_t n;
	DIR *d;

	snprintf(dir, sizeof(dir), "/proc/%s/fd", pid_text);
	d = opendir(dir);
	if (!d)
		return -errno;
	while ((e = readdir(d))) {
		if (!isdigit((unsigned char)e->d_name[0]))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		n = readlink(path, link, sizeof(link) - 1);
		if (n <= 0)
			continue;
		link[n] = 0;
		if (!strcmp(link, "anon_inode:[eventpoll]")) {
			read_epoll(s, pid, e->d_name);
			continue;
		}
		if (sscanf(link, "socket:[%lu]", &ino) != 1 || !(f = by_ino(s, ino)))
			continue;
		if (f->nr_holders < RLB_HOLDERS_MAX) {
			f->holders[f->nr_holders] = pid;
			f->holder_fds[f->nr_holders++] = atoi(e->d_name);
		}
	}
	closedir(d);
	return 0;
}

/*
 * Among the holders of f, the one that serves it: the only one whose epoll watches it; else
 * (no epoll, as a blocking accept() loop) a holder whose parent does not hold it too, so a
 * pre-forking parent's inherited copy does not count; lowest pid first.
 */
static void pick_server(struct rlb_found *f)
{
	int best = -1;

	for (int i = 0; i < f->nr_holders; i++) {
		bool watched = false, parent_of_holder = false;

		for (int w = 0; w < f->nr_watchers; w++)
			watched |= f->watchers[w] == f->holders[i];
		if (f->nr_watchers && !watched)
			continue;
		if (!f->nr_watchers)
			for (int j = 0; j < f->nr_holders; j++)
				parent_of_holder |= j != i &&
						    ppid_of(f->holders[j]) == f->holders[i];
		if (parent_of_holder)
			continue;
		if (best < 0 || f->holders[i] < f->holders[best])
			best = i;
	}
	if (best < 0 && f->nr_holders)
		best = 0;
	if (best >= 0) {
		f->pid = f->holders[best];
		f->fd = f->holder_fds[best];
	}
}

int rlb_scan_port(struct rlb_scan *s, bool udp, uint16_t port, const int *pids, unsigned int nr)
{
	unsigned long ours = netns_of("self"), read_ns[RLB_SCAN_PIDS + 1];
	unsigned int nr_ns = 1;
	char pid_text[16];
	struct dirent *e;
	int err;
	DIR *d;

	memset(s, 0, sizeof(*s));
	read_ns[0] = ours;
	err = read_tables(s, "/proc/net", ours, udp, port);
	/* a process named by --pid may sit in another network namespace: read its tables too */
	for (unsigned int i = 0; i < nr && !err; i++) {
		unsigned long ns;
		bool seen = false;

		snprintf(pid_text, sizeof(pid_text), "%d", pids[i]);
		ns = netns_of(pid_text);
		for (unsigned int j = 0; j < nr_ns; j++)
			seen |= read_ns[j] == ns;
		if (!ns || seen || nr_ns > RLB_SCAN_PIDS)
			continue;
		read_ns[nr_ns++] = ns;
		snprintf(pid_text, sizeof(pid_text), "/proc/%d/net", pids[i]);
		err = read_tables(s, pid_text, ns, udp, port);
	}
	if (err || !s->nr)
		return err;
	if (nr) {
		for (unsigned int i = 0; i < nr && !err; i++) {
			snprintf(pid_text, sizeof(pid_text), "%d", pids[i]);
			err = scan_pid(s, pid_text);
			if (err == -ENOENT)
				err = rlb_error(-ESRCH,
						"no process %d: give the pid of a running server",
						pids[i]);
			else if (err)
				err = rlb_error(
					-EPERM,
					"cannot read the descriptors of pid %d: %s; run as root "
					"or grant CAP_SYS_PTRACE",
					pids[i], strerror(-err));
		}
	} else {
		d = opendir("/proc");
		if (!d)
			return rlb_error(-errno, "cannot read /proc: %s", strerror(errno));
		while ((e = readdir(d)))
			if (isdigit((unsigned char)e->d_name[0]) && atoi(e->d_name) != getpid())
				scan_pid(s, e->d_name); /* processes come and go, some not ours */
		closedir(d);
	}
	for (int i = 0; i < s->nr; i++)
		pick_server(&s->found[i]);
	return err;
}

int rlb_copy_fd(int pid, int fd)
{
	int pidfd, copy, err;

	pidfd = syscall(SYS_pidfd_open, pid, 0);
	if (pidfd < 0) {
		err = -errno;
		if (err == -ESRCH)
			return rlb_error(err, "process %d is gone", pid);
		return rlb_error(err, "cannot open pid %d: %s (pidfd_open needs Linux 5.3)", pid,
				 strerror(-err));
	}
	copy = syscall(SYS_pidfd_getfd, pidfd, fd, 0);
	err = copy < 0 ? -errno : 0;
	close(pidfd);
	if (err == -EPERM || err == -EACCES)
		return rlb_error(-EPERM,
				 "cannot copy socket fd %d out of pid %d: %s; run as root with "
				 "CAP_SYS_PTRACE (or as the server's user)",
				 fd, pid, strerror(-err));
	if (err == -ENOSYS)
		return rlb_error(err, "this kernel has no pidfd_getfd (Linux 5.6+): cannot adopt "
				      "sockets of another process");
	if (err)
		return rlb_error(err, "cannot copy socket fd %d out of pid %d: %s", fd, pid,
				 strerror(-err));
	return copy;
}
