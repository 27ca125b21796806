// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Policy names as users type them, to and from enum rlb_policy. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include "internal.h"

static const char *const names[RLB_POLICY__COUNT] = {
	[RLB_POLICY_KERNEL] = "kernel",
	[RLB_POLICY_HASH] = "hash",
	[RLB_POLICY_SOURCE_IP] = "source-ip",
	[RLB_POLICY_ROUND_ROBIN] = "round-robin",
	[RLB_POLICY_RANDOM] = "random",
	[RLB_POLICY_LEAST_CONN] = "least-conn",
	[RLB_POLICY_WEIGHTED] = "weighted",
	[RLB_POLICY_MAGLEV] = "maglev",
	[RLB_POLICY_CPU] = "cpu",
	[RLB_POLICY_QUIC_CID] = "quic-cid",
};

int rlb_policy_parse(const char *name, enum rlb_policy *out)
{
	for (int p = 0; p < RLB_POLICY__COUNT; p++) {
		if (name && strcmp(name, names[p]) == 0) {
			*out = p;
			return 0;
		}
	}
	return rlb_error(-EINVAL, "unknown policy '%s': choose one of %s", name ? name : "",
			 rlb_policy_names());
}

const char *rlb_policy_name(enum rlb_policy policy)
{
	if ((unsigned int)policy >= RLB_POLICY__COUNT)
		return "unknown";
	return names[policy];
}

static char all_names[256];

static void join_names(void)
{
	size_t off = 0;

	for (int p = 0; p < RLB_POLICY__COUNT; p++)
		off += snprintf(all_names + off, sizeof(all_names) - off, "%s%s", p ? ", " : "",
				names[p]);
}

const char *rlb_policy_names(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, join_names);
	return all_names;
}
