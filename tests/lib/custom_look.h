/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* A policy written into the "custom" slot by hand (bpftool, plain libbpf) and the owner's look. */
#ifndef RLBT_CUSTOM_LOOK_H
#define RLBT_CUSTOM_LOOK_H

#include <stdbool.h>

struct rlb_group;

/*
 * Looks at g as its live owner does (rlb_group_check_takeover), until config.flags has
 * RLB_CFG_CUSTOM (set) or lacks it (!set), up to RLBT_TIMEOUT_MS; returns whether it did.
 */
bool rlbt_wait_custom_bit(struct rlb_group *g, bool set);

#endif
