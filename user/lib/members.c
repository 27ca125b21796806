// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The "members" map: which process serves each slot (pid, fd, command name), for stats, list
 * and bpftool. A served group records itself; reuselb attach records the processes it adopted.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include "internal.h"

void rlb_member_comm(int pid, char comm[16])
{
	char path[64];
	ssize_t n = -1;
	int fd;

	memset(comm, 0, 16);
	snprintf(path, sizeof(path), "/proc/%d/comm", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = read(fd, comm, 15);
		close(fd);
	}
	if (n <= 0)
		snprintf(comm, 16, "?");
	comm[strcspn(comm, "\n")] = 0;
}

int rlb_member_write(struct rlb_ctl *c, __u32 slot, const struct rlb_member *m)
{
	struct rlb_member v = *m;

	if (!v.comm[0])
		rlb_member_comm(v.pid, v.comm);
	if (bpf_map_update_elem(c->fd[RLB_MAP_MEMBERS], &slot, &v, 0))
		return rlb_bpf_error(-errno, "cannot write the members map");
	return 0;
}
