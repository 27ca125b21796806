// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * A test fixture of rollouts (tests/bpf/rollout.sh): a policy that tells the generations
 * apart with rlb_generation(). Within generation 1 every connection goes to worker 0, within
 * generation 0 to worker 1, so the counters of four slots show both the split (which
 * generation) and that the policy saw it (which worker).
 */
#include <reuselb/policy.bpf.h>

RLB_POLICY(by_generation)
{
	return rlb_generation() == 1 ? 0 : 1;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
