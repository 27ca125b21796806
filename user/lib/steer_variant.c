// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The steering program comes in two builds of one source: the plain one, and one whose queue
 * policy reads the listeners' accept queues itself (bpf/queue_kfuncs.bpf.h), which a kernel
 * that does not offer bpf_rdonly_cast to sk_reuseport programs (6.1) refuses as a whole. A
 * weak kfunc cannot stand in for the switch: libbpf 1.1 and the 6.1 verifier both refuse a
 * call to one that is missing, even in dead code.
 *
 * Both builds have the same maps, program and variables, so they share one skeleton type:
 * the kfunc build is opened by giving the plain skeleton the other object's bytes.
 */
#include <errno.h>
#include <stdlib.h>
#include <bpf/libbpf.h>
#include "internal.h"
#include "steer.skel.h"
#include "steer_kq.skel.h"
#include "probe_kq.skel.h"

static int quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	(void)level;
	(void)fmt;
	(void)ap;
	return 0;
}

bool rlb_probe_queue_kfuncs(void)
{
	/* a refusal is the answer, not an error to show: libbpf is quiet meanwhile */
	libbpf_print_fn_t old = libbpf_set_print(quiet);
	struct probe_kq_bpf *skel = probe_kq_bpf__open_and_load();

	libbpf_set_print(old);
	probe_kq_bpf__destroy(skel);
	return skel != NULL;
}

struct steer_bpf *rlb_steer_open(bool kernel_depths)
{
	struct steer_bpf *obj;
	int err;

	if (!kernel_depths)
		return steer_bpf__open();
	obj = calloc(1, sizeof(*obj));
	if (!obj) {
		errno = ENOMEM;
		return NULL;
	}
	err = steer_bpf__create_skeleton(obj);
	if (!err) {
		obj->skeleton->data = (void *)steer_kq_bpf__elf_bytes(&obj->skeleton->data_sz);
		err = bpf_object__open_skeleton(obj->skeleton, NULL);
	}
	if (err) {
		steer_bpf__destroy(obj);
		errno = -err;
		return NULL;
	}
	return obj;
}
