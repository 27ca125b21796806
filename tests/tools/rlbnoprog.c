// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * rlbnoprog: whether the reuseport groups of a process's sockets have no steering program, as
 * the kernel holds them. Copies each socket of PID (pidfd_getfd) and asks the kernel to detach
 * a program from its group: ENOENT says there was none. A program found is detached (the
 * check is for tests that expect none, after a refused attach) and reported.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SO_DETACH_REUSEPORT_BPF
#define SO_DETACH_REUSEPORT_BPF 68
#endif

int main(int argc, char **argv)
{
	char dir[64], path[384], link[64];
	int pid, pidfd, copy, found = 0, sockets = 0, unused = 0;
	struct dirent *e;
	DIR *d;

	if (argc != 2 || (pid = atoi(argv[1])) <= 0) {
		fprintf(stderr,
			"Usage: rlbnoprog PID\n"
			"Exit status: 0 no socket of PID has a reuseport program, 1 one had\n"
			"(now detached), 2 usage or system error.\n");
		return 2;
	}
	snprintf(dir, sizeof(dir), "/proc/%d/fd", pid);
	pidfd = syscall(SYS_pidfd_open, pid, 0);
	d = opendir(dir);
	if (pidfd < 0 || !d) {
		fprintf(stderr, "rlbnoprog: cannot look into pid %d: %s\n", pid, strerror(errno));
		return 2;
	}
	while ((e = readdir(d))) {
		ssize_t n;

		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		n = readlink(path, link, sizeof(link) - 1);
		if (n <= 0)
			continue;
		link[n] = 0;
		if (strncmp(link, "socket:", 7))
			continue;
		copy = syscall(SYS_pidfd_getfd, pidfd, atoi(e->d_name), 0);
		if (copy < 0)
			continue;
		sockets++;
		if (setsockopt(copy, SOL_SOCKET, SO_DETACH_REUSEPORT_BPF, &unused,
			       sizeof(unused)) == 0) {
			printf("rlbnoprog: pid %d fd %s: its group had a program\n", pid,
			       e->d_name);
			found = 1;
		}
		close(copy);
	}
	closedir(d);
	close(pidfd);
	if (!sockets) {
		fprintf(stderr, "rlbnoprog: pid %d has no socket\n", pid);
		return 2;
	}
	return found;
}
