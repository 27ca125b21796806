// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Names the privileges that a steering policy needs and the process lacks, so that an EPERM
 * or EACCES turns into a message a user can act on. CAP_BPF and CAP_NET_ADMIN load an
 * sk_reuseport program; CAP_PERFMON lets the verifier accept what clang makes of ordinary C
 * (pointer arithmetic on map values, pointers spilled to the stack). CAP_SYS_ADMIN covers all
 * three, and is what kernels before 5.8 want. The pins go under bpffs, which is root's (mode
 * 0700): another user needs CAP_DAC_OVERRIDE to write there.
 */
#include <errno.h>
#include <fcntl.h>
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

static const struct {
	int cap;
	const char *name;
} needed[] = { { CAP_BPF, "CAP_BPF" },
	       { CAP_PERFMON, "CAP_PERFMON" },
	       { CAP_NET_ADMIN, "CAP_NET_ADMIN" } };

#define NR_NEEDED (sizeof(needed) / sizeof(needed[0]))

static int has_cap(const struct __user_cap_data_struct d[2], int cap)
{
	return !!(d[cap / 32].effective & (1u << (cap % 32)));
}

/* 0, or -errno when the process's capabilities cannot be read (then nothing is named). */
static int read_caps(struct __user_cap_data_struct d[2])
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };

	return syscall(SYS_capget, &hdr, d) ? -errno : 0;
}

/*
 * Whether the process may create the group's directory: in RLB_PIN_ROOT if that exists, else
 * RLB_PIN_ROOT itself in bpffs. AT_EACCESS: the effective ids decide, as for mkdir.
 */
static bool can_write_bpffs(const struct __user_cap_data_struct d[2])
{
	if (has_cap(d, CAP_DAC_OVERRIDE) ||
	    !faccessat(AT_FDCWD, RLB_PIN_ROOT, W_OK | X_OK, AT_EACCESS))
		return true;
	return errno == ENOENT && !faccessat(AT_FDCWD, RLB_BPFFS, W_OK | X_OK, AT_EACCESS);
}

const char *rlb_missing_caps(void)
{
	struct __user_cap_data_struct d[2] = {};
	static __thread char missing[128];
	size_t off = 0;

	if (read_caps(d) || has_cap(d, CAP_SYS_ADMIN))
		return "";
	for (size_t i = 0; i < NR_NEEDED; i++)
		if (!has_cap(d, needed[i].cap))
			off += snprintf(missing + off, sizeof(missing) - off, "%s%s",
					off ? ", " : " (missing ", needed[i].name);
	if (!off)
		return "";
	snprintf(missing + off, sizeof(missing) - off, ")");
	return missing;
}

int rlb_group_priv_error(int err, const char *what, bool pins)
{
	const char *names[NR_NEEDED + 1];
	struct __user_cap_data_struct d[2] = {};
	char list[256];
	size_t off = 0, n = 0;

	if (err != -EPERM && err != -EACCES)
		return rlb_error(err, "%s: %s", what, strerror(-err));
	if (read_caps(d))
		return rlb_bpf_error(err, what);
	for (size_t i = 0; i < NR_NEEDED && !has_cap(d, CAP_SYS_ADMIN); i++)
		if (!has_cap(d, needed[i].cap))
			names[n++] = needed[i].name;
	if (pins && !can_write_bpffs(d))
		names[n++] = "write access to bpffs at " RLB_BPFFS " (CAP_DAC_OVERRIDE)";
	/* it has all it needs, so something else refused (an LSM, a sysctl): say only what */
	if (!n)
		return rlb_error(err, "%s: %s", what, strerror(-err));
	list[0] = '\0';
	for (size_t i = 0; i < n && off < sizeof(list); i++) {
		const char *sep = i == n - 1 ? " and " : ", ";

		off += snprintf(list + off, sizeof(list) - off, "%s%s", i ? sep : "", names[i]);
	}
	/* "as well" when it holds some of what is needed: the rest is not all of it */
	return rlb_error(err,
			 "%s: %s: run as root, or grant %s%s, or use --policy kernel, which needs "
			 "none",
			 what, strerror(-err), list, n < NR_NEEDED + pins ? " as well" : "");
}
