// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Names the capabilities that loading the steering program needs and the process lacks, so
 * that an EPERM turns into a message a user can act on. CAP_BPF and CAP_NET_ADMIN since 5.8;
 * CAP_SYS_ADMIN covers both.
 */
#include <linux/capability.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "internal.h"

#ifndef CAP_BPF
#define CAP_BPF 39
#endif

static int has_cap(const struct __user_cap_data_struct d[2], int cap)
{
	return !!(d[cap / 32].effective & (1u << (cap % 32)));
}

const char *rlb_missing_caps(void)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2] = {};
	int bpf, net;

	if (syscall(SYS_capget, &hdr, d))
		return "";
	if (has_cap(d, CAP_SYS_ADMIN))
		return "";
	bpf = has_cap(d, CAP_BPF);
	net = has_cap(d, CAP_NET_ADMIN);
	if (!bpf && !net)
		return " (missing CAP_BPF and CAP_NET_ADMIN, or CAP_SYS_ADMIN on kernels before 5.8)";
	if (!bpf)
		return " (missing CAP_BPF, or CAP_SYS_ADMIN on kernels before 5.8)";
	if (!net)
		return " (missing CAP_NET_ADMIN)";
	return "";
}
