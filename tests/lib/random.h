/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A random generator for tests that try many inputs: rlbt_seed seeds it from $RLBT_SEED, or
 * from the time and pid, and prints the seed, so that RLBT_SEED=N replays a failed run.
 * rlbt_below(n) is uniform enough in 0..n-1 (0 for n 0). Not thread-safe.
 */
#ifndef RLBT_RANDOM_H
#define RLBT_RANDOM_H

#include <stdint.h>

void rlbt_seed(void);
uint64_t rlbt_rnd(void);
uint32_t rlbt_below(uint32_t n);

#endif
