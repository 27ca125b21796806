// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * proginfo: the sizes of a loaded BPF program, for bench/run's steering table and the size
 * guard (tests/bpf/prog_size.sh). bpftool 7.1 shows xlated and jited bytes but not
 * verified_insns, the instructions the verifier processed at load: the number its log at
 * level 1 ends with ("processed N insns"), kept by the kernel (5.16 on) in bpf_prog_info.
 * Raw system calls, so that it builds with bench/ alone, without libbpf.
 */
#include <errno.h>
#include <linux/bpf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static const char usage[] =
	"Usage: proginfo ID\n"
	"\n"
	"Print \"xlated BYTES jited BYTES verified_insns N\" for the loaded BPF program of that id\n"
	"(verified_insns 0: the kernel does not report it). Needs CAP_SYS_ADMIN.\n"
	"Exit status: 0 printed, 1 no such program or no permission, 2 usage error.\n";

static long sys_bpf(int cmd, union bpf_attr *attr)
{
	return syscall(__NR_bpf, cmd, attr, sizeof(*attr));
}

int main(int argc, char **argv)
{
	struct bpf_prog_info info;
	union bpf_attr attr;
	unsigned long id;
	char *end;
	int fd;

	if (argc != 2 || !strcmp(argv[1], "-h")) {
		fputs(usage, argc == 2 ? stdout : stderr);
		return argc == 2 ? 0 : 2;
	}
	errno = 0;
	id = strtoul(argv[1], &end, 10);
	if (errno || *end || end == argv[1] || id == 0 || id > 0xffffffffUL) {
		fprintf(stderr, "proginfo: '%s' is not a program id; see proginfo -h\n", argv[1]);
		return 2;
	}
	memset(&attr, 0, sizeof(attr));
	attr.prog_id = id;
	fd = sys_bpf(BPF_PROG_GET_FD_BY_ID, &attr);
	if (fd < 0) {
		fprintf(stderr,
			"proginfo: cannot open program %lu: %s (is it loaded, are you root?)\n", id,
			strerror(errno));
		return 1;
	}
	memset(&info, 0, sizeof(info));
	memset(&attr, 0, sizeof(attr));
	attr.info.bpf_fd = fd;
	attr.info.info_len = sizeof(info);
	attr.info.info = (unsigned long)&info;
	if (sys_bpf(BPF_OBJ_GET_INFO_BY_FD, &attr)) {
		fprintf(stderr, "proginfo: cannot read program %lu's info: %s\n", id,
			strerror(errno));
		close(fd);
		return 1;
	}
	close(fd);
	printf("xlated %u jited %u verified_insns %u\n", info.xlated_prog_len, info.jited_prog_len,
	       info.verified_insns);
	return 0;
}
