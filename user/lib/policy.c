// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The built-in policies: one row each, from which the names users type, the help text, the
 * kernel features a group checks before it takes a policy, and what the server must do for it
 * (pin its threads) all come. A new policy is an enum value in reuselb/abi.h, a row here and a
 * case in choose() (bpf/steer.bpf.c); tests/unit/policy.c fails while a row is missing.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include "internal.h"

static const struct rlb_policy_info policies[] = {
	[RLB_POLICY_KERNEL] = { "kernel", "no BPF program: the kernel's hash of the 4-tuple picks",
				0 },
	[RLB_POLICY_HASH] = { "hash", "a seeded hash of the 4-tuple", RLB_NEEDS_BPF },
	[RLB_POLICY_SOURCE_IP] = { "source-ip",
				   "a seeded hash of the source address: one client, one worker",
				   RLB_NEEDS_BPF },
	[RLB_POLICY_ROUND_ROBIN] = { "round-robin", "each worker in turn", RLB_NEEDS_BPF },
	[RLB_POLICY_RANDOM] = { "random", "a random worker", RLB_NEEDS_BPF },
	[RLB_POLICY_LEAST_CONN] = { "least-conn",
				    "the least loaded worker (as the workers report), in turn "
				    "among equals",
				    RLB_NEEDS_BPF | RLB_NEEDS_MMAPABLE },
	[RLB_POLICY_WEIGHTED] = { "weighted", "in turn, in proportion to the workers' weights",
				  RLB_NEEDS_BPF },
	[RLB_POLICY_MAGLEV] = { "maglev", "Maglev consistent hash of source address and port",
				RLB_NEEDS_BPF },
	[RLB_POLICY_CPU] = { "cpu",
			     "the worker on the CPU that took the packet (one CPU per worker)",
			     RLB_NEEDS_BPF | RLB_NEEDS_PINNED_THREADS },
	[RLB_POLICY_QUIC_CID] = { "quic-cid", "the worker named in the QUIC connection ID",
				  RLB_NEEDS_BPF | RLB_NEEDS_UDP },
	[RLB_POLICY_QUEUE] = { "queue",
			       "the shortest accept queue, then the least reported load, then in turn",
			       RLB_NEEDS_BPF | RLB_NEEDS_MMAPABLE },
};
/* a value added to enum rlb_policy without a row fails here; a row left empty, in the test */
_Static_assert(sizeof(policies) / sizeof(policies[0]) == RLB_POLICY__COUNT,
	       "every enum rlb_policy value needs a row in policies[]");

const struct rlb_policy_info *rlb_policy_info(enum rlb_policy policy)
{
	if ((unsigned int)policy >= RLB_POLICY__COUNT || !policies[policy].name)
		return NULL;
	return &policies[policy];
}

int rlb_policy_parse(const char *name, enum rlb_policy *out)
{
	for (int p = 0; p < RLB_POLICY__COUNT; p++) {
		if (name && policies[p].name && strcmp(name, policies[p].name) == 0) {
			*out = p;
			return 0;
		}
	}
	return rlb_error(-EINVAL, "unknown policy '%s': choose one of %s", name ? name : "",
			 rlb_policy_names());
}

const char *rlb_policy_name(enum rlb_policy policy)
{
	const struct rlb_policy_info *info = rlb_policy_info(policy);

	return info ? info->name : "unknown";
}

/* What the kernel lacks for the policy, as a message, or NULL when it has all it needs. */
static const char *missing_feature(const struct rlb_policy_info *info, const struct rlb_features *f)
{
	if ((info->needs & RLB_NEEDS_BPF) && !f->sk_reuseport)
		return "sk_reuseport programs (Linux 4.19+ with CONFIG_BPF_SYSCALL)";
	if ((info->needs & RLB_NEEDS_MMAPABLE) && !f->mmapable)
		return "mmapable BPF arrays (Linux 5.5+)";
	return NULL;
}

int rlb_policy_check(enum rlb_policy policy, const struct rlb_features *f, const char *group)
{
	const struct rlb_policy_info *info = rlb_policy_info(policy);
	const char *missing;

	if (!info)
		return rlb_error(-EINVAL, "bad policy %d: choose one of %s", policy,
				 rlb_policy_names());
	missing = missing_feature(info, f);
	if (!missing)
		return 0;
	if (group)
		return rlb_error(-EOPNOTSUPP,
				 "policy %s needs %s, which group %s does not have: choose "
				 "another policy",
				 info->name, missing, group);
	return rlb_error(-EOPNOTSUPP,
			 "policy %s needs %s, which this kernel lacks: choose another policy",
			 info->name, missing);
}

int rlb_policies_missing(const struct rlb_features *f, char *buf, size_t len)
{
	size_t off = 0;
	int n = 0;

	if (len)
		buf[0] = '\0';
	for (int p = 0; p < RLB_POLICY__COUNT; p++) {
		if (!policies[p].name || !missing_feature(&policies[p], f))
			continue;
		if (off < len)
			off += snprintf(buf + off, len - off, "%s%s", n ? ", " : "",
					policies[p].name);
		n++;
	}
	return n;
}

static char all_names[256];

static void join_names(void)
{
	size_t off = 0;

	for (int p = 0; p < RLB_POLICY__COUNT; p++)
		if (policies[p].name && off < sizeof(all_names))
			off += snprintf(all_names + off, sizeof(all_names) - off, "%s%s",
					off ? ", " : "", policies[p].name);
}

const char *rlb_policy_names(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, join_names);
	return all_names;
}
