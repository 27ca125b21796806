// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Whether a reuseport group has a steering program already, and which: read by a BPF
 * iterator (bpf/group_prog.bpf.c) over the TCP or UDP sockets, since no socket option tells.
 * reuselb attach refuses to replace another tool's program without --replace.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "adopt.h"
#include "group_prog.skel.h"

/* As bpf/group_prog.bpf.c writes it. */
struct rlb_group_prog {
	__u64 ino;
	__u32 has_prog;
	__u32 prog_id;
};

int rlb_group_prog_of(bool udp, uint16_t port, unsigned long ino, bool *has, uint32_t *id)
{
	struct bpf_program *prog;
	struct group_prog_bpf *skel;
	struct rlb_group_prog rec;
	struct bpf_link *link = NULL;
	int err, fd = -1;
	size_t got = 0;
	ssize_t n;

	*has = false;
	*id = 0;
	skel = group_prog_bpf__open();
	if (!skel)
		return -errno;
	skel->rodata->port = port;
	prog = udp ? skel->progs.rlb_group_prog_udp : skel->progs.rlb_group_prog_tcp;
	bpf_program__set_autoload(
		udp ? skel->progs.rlb_group_prog_tcp : skel->progs.rlb_group_prog_udp, false);
	err = group_prog_bpf__load(skel);
	if (err)
		goto out;
	link = bpf_program__attach_iter(prog, NULL);
	if (!link) {
		err = -errno;
		goto out;
	}
	fd = bpf_iter_create(bpf_link__fd(link));
	if (fd < 0) {
		err = -errno;
		goto out;
	}
	/* records are whole in each read: the iterator writes one per socket */
	while ((n = read(fd, (char *)&rec + got, sizeof(rec) - got)) > 0) {
		got += n;
		if (got < sizeof(rec))
			continue;
		got = 0;
		if (rec.ino == ino) {
			*has = rec.has_prog;
			*id = rec.prog_id;
		}
	}
	if (n < 0)
		err = -errno;
out:
	if (fd >= 0)
		close(fd);
	bpf_link__destroy(link);
	group_prog_bpf__destroy(skel);
	return err;
}
