// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Names the capabilities that loading the steering program needs and the process lacks, so
 * that an EPERM turns into a message a user can act on. CAP_BPF and CAP_NET_ADMIN load an
 * sk_reuseport program; CAP_PERFMON lets the verifier accept what clang makes of ordinary C
 * (pointer arithmetic on map values, pointers spilled to the stack). CAP_SYS_ADMIN covers all
 * three, and is what kernels before 5.8 want.
 */
#include <linux/capability.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "internal.h"

#ifndef CAP_PERFMON
#define CAP_PERFMON 38
#endif
#ifndef CAP_BPF
#define CAP_BPF 39
#endif

static int has_cap(const struct __user_cap_data_struct d[2], int cap)
{
	return !!(d[cap / 32].effective & (1u << (cap % 32)));
}

const char *rlb_missing_caps(void)
{
	static const struct {
		int cap;
		const char *name;
	} needed[] = { { CAP_BPF, "CAP_BPF" },
		       { CAP_PERFMON, "CAP_PERFMON" },
		       { CAP_NET_ADMIN, "CAP_NET_ADMIN" } };
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2] = {};
	static __thread char missing[128];
	size_t off = 0;

	if (syscall(SYS_capget, &hdr, d) || has_cap(d, CAP_SYS_ADMIN))
		return "";
	for (size_t i = 0; i < sizeof(needed) / sizeof(needed[0]); i++)
		if (!has_cap(d, needed[i].cap))
			off += snprintf(missing + off, sizeof(missing) - off, "%s%s",
					off ? ", " : " (missing ", needed[i].name);
	if (!off)
		return "";
	snprintf(missing + off, sizeof(missing) - off, ")");
	return missing;
}
