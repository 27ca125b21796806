// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#define _GNU_SOURCE
#include <errno.h>
#include <linux/membarrier.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "kernel_view.h"

/* Upper bounds for loops that walk kernel objects or wait for them. */
#define RLBT_MAX_IDS 65536
#define RLBT_MAX_GRACE_PERIODS 200

int rlbt_prog_type(uint32_t id)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);
	int fd, err;

	fd = bpf_prog_get_fd_by_id(id);
	if (fd < 0)
		return fd;
	err = bpf_obj_get_info_by_fd(fd, &info, &len);
	close(fd);
	return err ? err : (int)info.type;
}

int rlbt_count_progs(enum bpf_prog_type type)
{
	return rlbt_list_progs(type, NULL, 0);
}

int rlbt_list_progs(enum bpf_prog_type type, uint32_t *ids, int max)
{
	__u32 id = 0;
	int count = 0;

	for (int i = 0; i < RLBT_MAX_IDS; i++) {
		int err = bpf_prog_get_next_id(id, &id);

		if (err == -ENOENT)
			return count;
		if (err)
			return err;
		err = rlbt_prog_type(id);
		/* Freed between the two calls: it is not loaded any more. */
		if (err == -ENOENT)
			continue;
		if (err < 0)
			return err;
		if (err != (int)type)
			continue;
		if (ids && count < max)
			ids[count] = id;
		count++;
	}
	return -E2BIG;
}

/*
 * A program still attached when its reuseport group's last socket closes (a process that
 * exits, a group closed without SO_DETACH_REUSEPORT_BPF) is put from the group's RCU callback,
 * so it leaves the kernel's id table a grace period or two later. MEMBARRIER_CMD_GLOBAL waits
 * for one grace period: waiting on the event itself, not on a guess of how long it takes.
 */
static int grace_period(void)
{
	if (syscall(SYS_membarrier, MEMBARRIER_CMD_GLOBAL, 0, 0))
		return -errno;
	return 0;
}

int rlbt_wait_count_progs(enum bpf_prog_type type, int want)
{
	int count = rlbt_count_progs(type);

	for (int i = 0; i < RLBT_MAX_GRACE_PERIODS && count >= 0 && count != want; i++) {
		int err = grace_period();

		if (err)
			return err;
		count = rlbt_count_progs(type);
	}
	return count;
}

int rlbt_wait_prog_gone(uint32_t id)
{
	int type = rlbt_prog_type(id);

	for (int i = 0; i < RLBT_MAX_GRACE_PERIODS && type >= 0; i++) {
		int err = grace_period();

		if (err)
			return err;
		type = rlbt_prog_type(id);
	}
	return type;
}

int rlbt_group_config(const struct rlb_group *g, struct rlb_config *cfg)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info), key = 0;
	int fd = rlbt_group_map_fd(g, "config"), err;

	if (fd < 0)
		return fd;
	err = bpf_obj_get_info_by_fd(fd, &info, &len);
	if (!err && info.value_size != sizeof(*cfg))
		err = -EMSGSIZE;
	if (!err)
		err = bpf_map_lookup_elem(fd, &key, cfg);
	close(fd);
	return err;
}

int rlbt_group_map_fd(const struct rlb_group *g, const char *name)
{
	__u32 map_ids[64], nr_maps;
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);
	uint32_t prog_id = rlb_group_prog_id(g);
	int prog_fd, err;

	if (!prog_id)
		return -ENOENT;
	prog_fd = bpf_prog_get_fd_by_id(prog_id);
	if (prog_fd < 0)
		return prog_fd;
	info.nr_map_ids = sizeof(map_ids) / sizeof(map_ids[0]);
	info.map_ids = (__u64)(unsigned long)map_ids;
	err = bpf_obj_get_info_by_fd(prog_fd, &info, &len);
	close(prog_fd);
	if (err)
		return err;
	nr_maps = info.nr_map_ids < 64 ? info.nr_map_ids : 64;
	for (__u32 i = 0; i < nr_maps; i++) {
		struct bpf_map_info minfo = {};
		__u32 mlen = sizeof(minfo);
		int map_fd = bpf_map_get_fd_by_id(map_ids[i]);

		if (map_fd < 0)
			return map_fd;
		err = bpf_obj_get_info_by_fd(map_fd, &minfo, &mlen);
		if (!err && !strcmp(minfo.name, name))
			return map_fd;
		close(map_fd);
		if (err)
			return err;
	}
	return -ENOENT;
}

uint32_t rlbt_custom_prog_id(const struct rlb_group *g)
{
	int fd = rlbt_group_map_fd(g, "custom");
	__u32 key = 0, id = 0;

	if (fd < 0)
		return 0;
	if (bpf_map_lookup_elem(fd, &key, &id))
		id = 0;
	close(fd);
	return id;
}

int rlbt_read_sysctl(const char *path)
{
	FILE *f = fopen(path, "r");
	int v = -1;

	if (f) {
		if (fscanf(f, "%d", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v;
}
