/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What the program reads of the kernel's sockets for the queue policy, through
 * bpf_rdonly_cast: a read-only view of a kernel object, where this program type may call it
 * (6.18 may, Debian 12's 6.1 may not). Only the fields read are declared; CO-RE finds them in
 * the running kernel's BTF, so no vmlinux.h is needed.
 */
#ifndef RLB_QUEUE_KFUNCS_BPF_H
#define RLB_QUEUE_KFUNCS_BPF_H

#include <linux/types.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

extern void *bpf_rdonly_cast(const void *obj, __u32 btf_id) __ksym;

struct sock___rlb {
	__u32 sk_ack_backlog; /* connections in the listener's accept queue */
} __attribute__((preserve_access_index));

/* The kernel's REUSEPORT_SOCKARRAY: its sockets, indexed by the key (our slot). */
struct reuseport_array___rlb {
	struct sock___rlb *ptrs[1];
} __attribute__((preserve_access_index));

#endif
