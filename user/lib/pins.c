// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Pins under /sys/fs/bpf/reuselb/<group>/, so that the CLI, bpftool and a taking-over
 * instance see the same maps. The owner holds an flock on the group's directory (as xdp-tools
 * does): a directory whose lock nobody holds was left by a process that died, and its pins are
 * stale.
 */
#include <stdbool.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <poll.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>
#include <linux/magic.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "internal.h"

bool rlb_name_valid(const char *name)
{
	size_t n;

	if (!name)
		return false;
	n = strnlen(name, RLB_NAME_MAX + 1);
	if (n == 0 || n > RLB_NAME_MAX || name[0] == '.')
		return false;
	/* ASCII, whatever the locale: the name is a path on bpffs and a word in messages */
	for (size_t i = 0; i < n; i++) {
		char c = name[i];

		if (!(c >= 'a' && c <= 'z') && !(c >= 'A' && c <= 'Z') && !(c >= '0' && c <= '9') &&
		    c != '.' && c != '_' && c != '-')
			return false;
	}
	return true;
}

int rlb_check_name(const char *name)
{
	if (rlb_name_valid(name))
		return 0;
	return rlb_error(-EINVAL,
			 "bad group name '%s': use 1 to %d letters, digits, '.', '_' or '-', "
			 "not starting with '.'",
			 name ? name : "", RLB_NAME_MAX);
}

void rlb_default_name(bool udp, uint16_t port, char *buf, size_t len)
{
	snprintf(buf, len, "%s-%u", udp ? "udp" : "tcp", port);
}

/*
 * tcp-N and udp-N are the names a group on port N gets by default, so they belong to that
 * port and protocol: another group taking one would shadow the group that serves there, and
 * `-p N` would find the wrong one.
 */
int rlb_check_group_name(const char *name, bool udp, uint16_t port)
{
	char mine[16];
	const char *digits = name + 4;
	int err = rlb_check_name(name);

	if (err)
		return err;
	if ((strncmp(name, "tcp-", 4) && strncmp(name, "udp-", 4)) || !*digits ||
	    strspn(digits, "0123456789") != strlen(digits))
		return 0;
	rlb_default_name(udp, port, mine, sizeof(mine));
	if (port && !strcmp(name, mine))
		return 0;
	if (digits[0] == '0' || strlen(digits) > 5 || atoi(digits) > 65535)
		return rlb_error(
			-EINVAL,
			"group name '%s' has the form of a default name (tcp-PORT, "
			"udp-PORT), which only the group on that port takes: choose another "
			"name",
			name);
	if (!port)
		return rlb_error(-EINVAL,
				 "group name '%s' is the default name of %.3s port %s, not of a "
				 "group on a port yet to be chosen: choose another name",
				 name, name, digits);
	return rlb_error(
		-EINVAL,
		"group name '%s' is the default name of %.3s port %s: the %s group on port "
		"%u cannot take it; choose another name",
		name, name, digits, udp ? "udp" : "tcp", port);
}

int rlb_pin_path(char *buf, size_t len, const char *name, const char *file)
{
	int n = snprintf(buf, len, "%s/%s%s%s", RLB_PIN_ROOT, name, file ? "/" : "",
			 file ? file : "");

	return n < 0 || (size_t)n >= len ? rlb_error(-ENAMETOOLONG, "pin path too long") : 0;
}

/* bpffs at /sys/fs/bpf, mounted here if it is not. */
static int ensure_bpffs(void)
{
	struct statfs st;

	if (statfs(RLB_BPFFS, &st) == 0 && st.f_type == BPF_FS_MAGIC)
		return 0;
	if (mount("bpf", RLB_BPFFS, "bpf", 0, "mode=0700"))
		return rlb_error(-errno,
				 "bpffs is not mounted at %s and mounting it failed: %s; "
				 "mount it with: mount -t bpf bpf %s",
				 RLB_BPFFS, strerror(errno), RLB_BPFFS);
	return 0;
}

/* The pid holding an flock on path, read from /proc/locks, or 0. */
static int lock_owner(const char *path)
{
	unsigned int maj, min;
	unsigned long ino;
	char line[256];
	struct stat st;
	FILE *f;
	int pid;

	if (stat(path, &st))
		return 0;
	f = fopen("/proc/locks", "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%*d: FLOCK %*s %*s %d %x:%x:%lu", &pid, &maj, &min, &ino) == 4 &&
		    ino == st.st_ino && maj == (unsigned int)major(st.st_dev) &&
		    min == (unsigned int)minor(st.st_dev)) {
			fclose(f);
			return pid;
		}
	}
	fclose(f);
	return 0;
}

/*
 * Whether a socket of the group is open: pins whose sockets all closed were left by a process
 * that died. Between an owner's exit and its successor taking the lock, the successor's
 * sockets are what says the group lives.
 */
static bool has_sockets(const char *name)
{
	char path[RLB_PATH_MAX];
	bool found = false;
	__u64 cookie;
	int fd;

	if (rlb_pin_path(path, sizeof(path), name, rlb_map_names[RLB_MAP_SOCKS]))
		return false;
	fd = bpf_obj_get(path);
	if (fd < 0)
		return false;
	for (__u32 slot = 0; slot < RLB_MAX_SLOTS && !found; slot++)
		found = bpf_map_lookup_elem(fd, &slot, &cookie) == 0;
	close(fd);
	return found;
}

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

bool rlb_pid_alive(int pid)
{
	struct pollfd pfd = { .events = POLLIN };
	bool alive;

	if (pid <= 0)
		return false;
	/*
	 * A pidfd turns readable once the process has exited, before its parent reaps it: a
	 * zombie, whose sockets are closed already, is dead for us (kill(pid, 0) calls it alive).
	 */
	pfd.fd = syscall(SYS_pidfd_open, pid, 0);
	if (pfd.fd < 0) {
		if (errno == ESRCH)
			return false;
		/* no pidfd here (Linux < 5.3) or no fd left: fall back to what kill() tells */
		return kill(pid, 0) == 0 || errno == EPERM;
	}
	alive = poll(&pfd, 1, 0) == 0;
	close(pfd.fd);
	return alive;
}

int rlb_group_live(const char *name)
{
	char dir[RLB_PATH_MAX];
	int fd, pid = 0;

	if (rlb_pin_path(dir, sizeof(dir), name, NULL))
		return 0;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	/* a shared probe fails only while the owner holds its exclusive lock */
	if (flock(fd, LOCK_SH | LOCK_NB) && errno == EWOULDBLOCK) {
		pid = lock_owner(dir);
		if (pid <= 0)
			pid = -1;
	} else if (has_sockets(name)) {
		pid = -1;
	}
	close(fd);
	return pid;
}

static void remove_entries(const char *dir)
{
	char path[RLB_PATH_MAX];
	struct dirent *e;
	DIR *d = opendir(dir);

	if (!d)
		return;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		if (snprintf(path, sizeof(path), "%s/%s", dir, e->d_name) < (int)sizeof(path))
			unlink(path);
	}
	closedir(d);
}

/*
 * Creates and locks the group's directory. A CLI probing with a shared lock can hold it for an
 * instant, hence a few retries before calling the group taken.
 */
int rlb_pins_lock(struct rlb_group *g)
{
	struct timespec pause = { .tv_nsec = 20 * 1000 * 1000 };
	char dir[RLB_PATH_MAX], path[RLB_PATH_MAX], what[RLB_PATH_MAX + 16];
	bool created;
	int err, fd, pid;

	err = ensure_bpffs();
	if (!err)
		err = rlb_pin_path(dir, sizeof(dir), g->name, NULL);
	if (err)
		return err;
	if (mkdir(RLB_PIN_ROOT, 0700) && errno != EEXIST)
		return rlb_group_priv_error(-errno, "cannot create " RLB_PIN_ROOT, true);
	created = mkdir(dir, 0700) == 0;
	if (!created && errno != EEXIST) {
		err = -errno;
		snprintf(what, sizeof(what), "cannot create %s", dir);
		return rlb_group_priv_error(err, what, true);
	}
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		err = rlb_error(-errno, "cannot open %s: %s", dir, strerror(errno));
		goto undo;
	}
	for (int i = 0; flock(fd, LOCK_EX | LOCK_NB); i++) {
		if (errno != EWOULDBLOCK || i == 25) {
			err = -errno;
			close(fd);
			if (err != -EWOULDBLOCK) {
				err = rlb_error(err, "cannot lock %s: %s", dir, strerror(-err));
				goto undo;
			}
			pid = lock_owner(dir);
			return rlb_error(-EBUSY,
					 "group %s is already served by pid %d: stop it first, or "
					 "give this one another name with --name",
					 g->name, pid);
		}
		nanosleep(&pause, NULL);
	}
	/* an owner that just exited may have handed over to a process not holding the lock yet */
	if (has_sockets(g->name)) {
		close(fd);
		return rlb_error(-EBUSY,
				 "group %s is being taken over by another process: try again in a "
				 "moment, or give this one another name with --name",
				 g->name);
	}
	/* nobody held the lock and no socket is open: the pins were left by a process that died */
	remove_entries(dir);
	if (rlb_pin_path(path, sizeof(path), g->name, RLB_PIN_CTL_LOCK) == 0 && mkdir(path, 0700) &&
	    errno != EEXIST) {
		err = rlb_error(-errno, "cannot create %s: %s", path, strerror(errno));
		close(fd);
		goto undo;
	}
	g->lock_fd = fd;
	return 0;
undo:
	if (created)
		rmdir(dir);
	return err;
}

int rlb_pins_pin(struct rlb_group *g, struct bpf_map *const *maps, int nr_maps,
		 struct bpf_program *prog)
{
	char path[RLB_PATH_MAX];
	int err;

	for (int i = 0; i < nr_maps; i++) {
		err = rlb_pin_path(path, sizeof(path), g->name, bpf_map__name(maps[i]));
		if (!err && bpf_map__pin(maps[i], path))
			err = rlb_error(-errno, "cannot pin map at %s: %s", path, strerror(errno));
		if (err)
			return err;
	}
	err = rlb_pin_path(path, sizeof(path), g->name, RLB_PIN_PROG);
	if (!err && bpf_program__pin(prog, path))
		err = rlb_error(-errno, "cannot pin program at %s: %s", path, strerror(errno));
	return err;
}

void rlb_pins_remove(struct rlb_group *g)
{
	char dir[RLB_PATH_MAX], lock[RLB_PATH_MAX];

	if (g->lock_fd < 0)
		return;
	if (!rlb_pin_path(dir, sizeof(dir), g->name, NULL) &&
	    !rlb_pin_path(lock, sizeof(lock), g->name, RLB_PIN_CTL_LOCK)) {
		remove_entries(dir);
		rmdir(lock);
		rmdir(dir);
		/* the root goes too once no group is left, so a clean host looks untouched */
		rmdir(RLB_PIN_ROOT);
	}
	close(g->lock_fd);
	g->lock_fd = -1;
}

int rlb_pins_clear(const char *name)
{
	char dir[RLB_PATH_MAX], lock[RLB_PATH_MAX];
	int fd, pid;

	if (rlb_pin_path(dir, sizeof(dir), name, NULL) ||
	    rlb_pin_path(lock, sizeof(lock), name, RLB_PIN_CTL_LOCK))
		return -ENAMETOOLONG;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ?
			       0 :
			       rlb_error(-errno, "cannot open %s: %s", dir, strerror(errno));
	if (flock(fd, LOCK_EX | LOCK_NB)) {
		pid = lock_owner(dir);
		close(fd);
		return rlb_error(-EBUSY,
				 "group %s is held by pid %d (reuselb attach --follow or serve): "
				 "stop that process first",
				 name, pid);
	}
	remove_entries(dir);
	rmdir(lock);
	rmdir(dir);
	rmdir(RLB_PIN_ROOT);
	close(fd);
	return 0;
}

int rlb_list_stale(char (*names)[RLB_NAME_MAX + 1], int max)
{
	struct dirent *e;
	int n = 0;
	DIR *d;

	d = opendir(RLB_PIN_ROOT);
	if (!d)
		return 0;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.' || !rlb_name_valid(e->d_name) || rlb_group_live(e->d_name))
			continue;
		if (n < max)
			memcpy(names[n], e->d_name, strlen(e->d_name) + 1);
		n++;
	}
	closedir(d);
	return n;
}
