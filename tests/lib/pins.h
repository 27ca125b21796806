/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Live groups, seen through their pins as the CLI sees them: counters and owner. */
#ifndef RLBT_PINS_H
#define RLBT_PINS_H

#include <stdbool.h>
#include <stdint.h>

/* Sums over the workers of a live group's serving generation, read through its pins. */
struct rlbt_totals {
	uint64_t steered, migrated, accepted, active, busy;
	unsigned int base;
};
int rlbt_group_totals(const char *name, struct rlbt_totals *t);

/* The pid that holds the group's pins (rlb_group_owner): 0 if none, -1 if unknown. */
int rlbt_group_owner(const char *name);

/* Waits until rlbt_group_owner(name) is pid; returns whether it came to that in timeout_ms. */
bool rlbt_wait_owner(const char *name, int pid, int timeout_ms);

#endif
