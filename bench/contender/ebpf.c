// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The ebpf-min model: the smallest eBPF steering program that does what reuselb's does, to
 * measure what any sk_reuseport program costs on this machine. It picks socket md->hash % n
 * from a REUSEPORT_SOCKARRAY with bpf_sk_select_reuseport() and passes: raw instructions and
 * the bpf() syscall, so that nothing but the UAPI headers stands between it and the kernel.
 */
#include <errno.h>
#include <linux/bpf.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "contender.h"

static int sys_bpf(enum bpf_cmd cmd, union bpf_attr *attr)
{
	int ret = syscall(__NR_bpf, cmd, attr, sizeof(*attr));

	return ret < 0 ? -errno : ret;
}

static int load_prog(int map_fd, unsigned int nr)
{
	struct bpf_insn insns[] = {
		/* r6 = ctx; key = md->hash % nr at fp - 4 */
		{ BPF_ALU64 | BPF_MOV | BPF_X, BPF_REG_6, BPF_REG_1, 0, 0 },
		{ BPF_LDX | BPF_MEM | BPF_W, BPF_REG_0, BPF_REG_1,
		  offsetof(struct sk_reuseport_md, hash), 0 },
		{ BPF_ALU | BPF_MOD | BPF_K, BPF_REG_0, 0, 0, nr },
		{ BPF_STX | BPF_MEM | BPF_W, BPF_REG_10, BPF_REG_0, -4, 0 },
		/* bpf_sk_select_reuseport(ctx, &socks, &key, 0) */
		{ BPF_LD | BPF_DW | BPF_IMM, BPF_REG_2, BPF_PSEUDO_MAP_FD, 0, map_fd },
		{ 0, 0, 0, 0, 0 },
		{ BPF_ALU64 | BPF_MOV | BPF_X, BPF_REG_3, BPF_REG_10, 0, 0 },
		{ BPF_ALU64 | BPF_ADD | BPF_K, BPF_REG_3, 0, 0, -4 },
		{ BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_4, 0, 0, 0 },
		{ BPF_ALU64 | BPF_MOV | BPF_X, BPF_REG_1, BPF_REG_6, 0, 0 },
		{ BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_sk_select_reuseport },
		/* SK_PASS whatever the helper said: unselected, the kernel's hash picks */
		{ BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, SK_PASS },
		{ BPF_JMP | BPF_EXIT, 0, 0, 0, 0 },
	};
	static char log[65536];
	union bpf_attr attr;
	int fd;

	memset(&attr, 0, sizeof(attr));
	attr.prog_type = BPF_PROG_TYPE_SK_REUSEPORT;
	attr.insns = (uintptr_t)insns;
	attr.insn_cnt = sizeof(insns) / sizeof(insns[0]);
	attr.license = (uintptr_t) "Dual BSD/GPL";
	attr.log_buf = (uintptr_t)log;
	attr.log_size = sizeof(log);
	attr.log_level = 1;
	fd = sys_bpf(BPF_PROG_LOAD, &attr);
	if (fd < 0)
		fprintf(stderr, "contender: the verifier says:\n%s", log);
	return fd;
}

int ctr_attach_ebpf(const int *fds, unsigned int nr, uint32_t *prog_id)
{
	struct bpf_prog_info info;
	union bpf_attr attr;
	int map_fd, prog_fd, err;

	memset(&attr, 0, sizeof(attr));
	attr.map_type = BPF_MAP_TYPE_REUSEPORT_SOCKARRAY;
	attr.key_size = sizeof(uint32_t);
	attr.value_size = sizeof(uint64_t);
	attr.max_entries = nr;
	map_fd = sys_bpf(BPF_MAP_CREATE, &attr);
	if (map_fd < 0)
		return map_fd;
	for (uint32_t i = 0; i < nr; i++) {
		uint64_t fd = fds[i];

		memset(&attr, 0, sizeof(attr));
		attr.map_fd = map_fd;
		attr.key = (uintptr_t)&i;
		attr.value = (uintptr_t)&fd;
		err = sys_bpf(BPF_MAP_UPDATE_ELEM, &attr);
		if (err)
			goto out;
	}
	prog_fd = err = load_prog(map_fd, nr);
	if (err < 0)
		goto out;
	err = 0;
	if (setsockopt(fds[0], SOL_SOCKET, SO_ATTACH_REUSEPORT_EBPF, &prog_fd, sizeof(prog_fd)))
		err = -errno;
	memset(&info, 0, sizeof(info));
	memset(&attr, 0, sizeof(attr));
	attr.info.bpf_fd = prog_fd;
	attr.info.info_len = sizeof(info);
	attr.info.info = (uintptr_t)&info;
	if (!err)
		err = sys_bpf(BPF_OBJ_GET_INFO_BY_FD, &attr);
	*prog_id = info.id;
	/* the group holds the program, and the program the map */
	close(prog_fd);
out:
	close(map_fd);
	return err;
}
