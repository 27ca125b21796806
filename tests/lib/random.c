// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "random.h"

static uint64_t rng;

void rlbt_seed(void)
{
	const char *seed = getenv("RLBT_SEED");

	rng = seed && *seed ? strtoull(seed, NULL, 0) : (uint64_t)time(NULL) ^ (uint64_t)getpid();
	/* xorshift stays at 0 forever */
	if (!rng)
		rng = 1;
	printf("seed %" PRIu64 " (RLBT_SEED=%" PRIu64 " replays this run)\n", rng, rng);
}

/* xorshift64*: reproducible from the printed seed. */
uint64_t rlbt_rnd(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 0x2545F4914F6CDD1DULL;
}

uint32_t rlbt_below(uint32_t n)
{
	return n ? (uint32_t)(rlbt_rnd() % n) : 0;
}
