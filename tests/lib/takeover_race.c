// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Helpers of the takeover race tests (takeover_race.h). */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <reuselb/reuselb.h>

#include "takeover_race.h"

int tr_fork_held(struct tr_proc *p, int nr, const char *const *const argv[], int *gate)
{
	const char *bin = getenv("REUSELB");
	int pfd[2];

	if (!bin)
		return -ENOENT;
	if (pipe2(pfd, O_CLOEXEC))
		return -errno;
	for (int i = 0; i < nr; i++) {
		FILE *f = tmpfile();

		p[i].status = -1;
		p[i].out_fd = f ? dup(fileno(f)) : -1;
		if (f)
			fclose(f);
		p[i].pid = fork();
		if (p[i].pid < 0) {
			int err = -errno;

			for (int j = 0; j < i; j++)
				kill(p[j].pid, SIGKILL);
			close(pfd[0]);
			close(pfd[1]);
			return err;
		}
		if (p[i].pid == 0) {
			const char *args[64] = { "reuselb" };
			char c;
			int n = 1;

			/* the gate opens when the parent closes its end: read() returns 0 */
			close(pfd[1]);
			while (read(pfd[0], &c, 1) < 0 && errno == EINTR)
				;
			for (int j = 0; argv[i][j] && n < 63; j++)
				args[n++] = argv[i][j];
			args[n] = NULL;
			if (p[i].out_fd >= 0) {
				dup2(p[i].out_fd, 1);
				dup2(p[i].out_fd, 2);
			}
			execv(bin, (char *const *)args);
			_exit(127);
		}
	}
	close(pfd[0]);
	*gate = pfd[1];
	return 0;
}

void tr_release(int gate)
{
	close(gate);
}

bool tr_reap(struct tr_proc *p, int timeout_ms)
{
	const struct timespec pause = { .tv_nsec = 2 * 1000 * 1000 };
	int status;

	for (int waited = 0; p->status < 0; waited += 2) {
		pid_t r = waitpid(p->pid, &status, WNOHANG);

		if (r == p->pid) {
			p->status = WIFEXITED(status) ? WEXITSTATUS(status) :
							128 + WTERMSIG(status);
			break;
		}
		if (r < 0 || waited >= timeout_ms)
			return false;
		nanosleep(&pause, NULL);
	}
	return true;
}

void tr_stop(struct tr_proc *p, int timeout_ms)
{
	if (p->pid <= 0 || tr_reap(p, 0))
		return;
	kill(p->pid, SIGTERM);
	if (tr_reap(p, timeout_ms))
		return;
	kill(p->pid, SIGKILL);
	tr_reap(p, timeout_ms);
}

static int pinned(const char *name, const char *map)
{
	char path[256];
	int fd;

	snprintf(path, sizeof(path), "%s/%s/%s", RLB_PIN_ROOT, name, map);
	fd = bpf_obj_get(path);
	return fd < 0 ? -errno : fd;
}

int tr_config(const char *name, struct rlb_config *cfg)
{
	int fd = pinned(name, "config"), err = 0;
	__u32 key = 0;

	if (fd < 0)
		return fd;
	if (bpf_map_lookup_elem(fd, &key, cfg))
		err = -errno;
	close(fd);
	return err;
}

long tr_active(const char *name, unsigned int base, unsigned int nr)
{
	int fd = pinned(name, "load");
	struct rlb_load l;
	long sum = 0;

	if (fd < 0)
		return fd;
	for (__u32 slot = base; slot < base + nr; slot++) {
		if (bpf_map_lookup_elem(fd, &slot, &l) == 0)
			sum += (long)l.active;
	}
	close(fd);
	return sum;
}

int tr_listeners(unsigned int port)
{
	char line[512], want[32];
	FILE *f = fopen("/proc/net/tcp", "re");
	int n = 0;

	if (!f)
		return -errno;
	/* local_address of 127.0.0.1:port as the kernel prints it, and state 0A (LISTEN) */
	snprintf(want, sizeof(want), "0100007F:%04X 00000000:0000 0A", port);
	while (fgets(line, sizeof(line), f))
		n += strstr(line, want) != NULL;
	fclose(f);
	return n;
}

/* Whether fd, a copy of a file of another process, is a TCP socket that does not listen. */
static bool tcp_connection(int fd)
{
	int proto = 0, listening = 1;
	socklen_t len = sizeof(proto);

	if (getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &proto, &len) || proto != IPPROTO_TCP)
		return false;
	len = sizeof(listening);
	return !getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) && !listening;
}

/*
 * TCP connections among the open files of pid, or -errno. Each socket is looked at on a copy
 * (pidfd_getfd): fast, so that the process is not stopped for long.
 */
static long held_connections(pid_t pid)
{
	char dir[64], path[64 + 256], link[64];
	int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	struct dirent *de;
	long n = 0;
	DIR *d;

	if (pidfd < 0)
		return -errno;
	snprintf(dir, sizeof(dir), "/proc/%d/fd", pid);
	d = opendir(dir);
	if (!d) {
		close(pidfd);
		return -errno;
	}
	while ((de = readdir(d))) {
		ssize_t len;
		int copy;

		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		len = readlink(path, link, sizeof(link) - 1);
		if (len <= 0 || strncmp(link, "socket:", 7))
			continue;
		copy = (int)syscall(SYS_pidfd_getfd, pidfd, atoi(de->d_name), 0);
		if (copy < 0)
			continue; /* closed since readdir */
		n += tcp_connection(copy);
		close(copy);
	}
	closedir(d);
	close(pidfd);
	return n;
}

long tr_kill_counting(struct tr_proc *p)
{
	siginfo_t si = {};
	long held;

	/*
	 * Stopped, a worker holds every connection it has accepted, even one whose accept4 has
	 * returned and that it has not counted anywhere yet: those are what the kill ends.
	 */
	if (kill(p->pid, SIGSTOP))
		return -errno;
	if (waitid(P_PID, p->pid, &si, WSTOPPED | WEXITED | WNOWAIT))
		return -errno;
	held = si.si_code == CLD_STOPPED ? held_connections(p->pid) : 0;
	if (si.si_code == CLD_STOPPED)
		waitid(P_PID, p->pid, &si,
		       WSTOPPED); /* take the stop report: only the exit is left */
	kill(p->pid, SIGKILL);
	return held;
}
