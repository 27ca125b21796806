// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Helpers of the takeover race tests (takeover_race.h). */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

#define MAX_HELD 4096

/* How many of the socket inodes inos[0..nr) /proc/net/FILE lists in a state other than LISTEN. */
static long connected(const char *file, const unsigned long *inos, size_t nr)
{
	char line[512], path[64];
	unsigned long ino;
	unsigned int state;
	long n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/net/%s", file);
	f = fopen(path, "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		/* sl local rem st tx:rx tr:when retrnsmt uid timeout inode */
		if (sscanf(line, "%*s %*s %*s %x %*s %*s %*s %*u %*u %lu", &state, &ino) != 2 ||
		    state == 0x0a)
			continue;
		for (size_t i = 0; i < nr; i++)
			n += inos[i] == ino;
	}
	fclose(f);
	return n;
}

/* TCP connections (any socket not in LISTEN) among the open files of pid, or -errno. */
static long held_connections(pid_t pid)
{
	static unsigned long inos[MAX_HELD];
	char dir[64], path[64 + 256], link[64];
	struct dirent *de;
	size_t nr = 0;
	DIR *d;

	snprintf(dir, sizeof(dir), "/proc/%d/fd", pid);
	d = opendir(dir);
	if (!d)
		return -errno;
	while ((de = readdir(d)) && nr < MAX_HELD) {
		ssize_t len;

		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		len = readlink(path, link, sizeof(link) - 1);
		if (len <= 0)
			continue;
		link[len] = '\0';
		nr += sscanf(link, "socket:[%lu]", &inos[nr]) == 1;
	}
	closedir(d);
	return connected("tcp", inos, nr) + connected("tcp6", inos, nr);
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
