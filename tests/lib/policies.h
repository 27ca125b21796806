/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Users' policies: the objects examples/policies builds, and the name a group reports. */
#ifndef RLBT_POLICIES_H
#define RLBT_POLICIES_H

#include <stdbool.h>
#include <reuselb/reuselb.h>

/*
 * $RLB_BIN_DIR/examples/policies/NAME.bpf.o, the object the build made of NAME.bpf.c. The path
 * is static: valid until the next call.
 */
const char *rlbt_policy_path(const char *name);

/*
 * Whether rlb_ctl_policy_name says want ("round-robin", "custom:tenant", ...); when not, prints
 * what it says instead.
 */
bool rlbt_policy_is(struct rlb_ctl *ctl, const char *want);

#endif
