// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The lookup tables built in userspace, without BPF:
 * 1. weighted: each worker's share of the table is its weight's share, exactly where the
 *    table size allows it; weight 0 gets nothing; all zero gives RLB_NONE everywhere;
 * 2. weighted: a worker's entries are spread, never in one long run;
 * 3. maglev: every entry names a live worker, shares are even within a few percent;
 * 4. maglev: taking one of 8 workers out moves at most its share plus 2 % of the entries,
 *    and entries of the other workers stay where they were;
 * 5. maglev: no live worker gives RLB_NONE everywhere.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "rlbtest.h"
#include "../../user/lib/internal.h"

static void count(const __u32 *table, unsigned int size, unsigned int *per, unsigned int nr)
{
	memset(per, 0, nr * sizeof(*per));
	for (unsigned int e = 0; e < size; e++)
		if (table[e] < nr)
			per[table[e]]++;
}

static void test_weighted(void)
{
	const __u32 weights[4] = { 1, 1, 2, 0 }, canary[2] = { 1, 99 }, none[3] = { 0, 0, 0 };
	static __u32 table[RLB_WEIGHT_TABLE];
	unsigned int per[4], run = 0, longest = 0;

	rlb_build_weighted(weights, 4, table, RLB_WEIGHT_TABLE);
	count(table, RLB_WEIGHT_TABLE, per, 4);
	CHECK(per[0] == 1024 && per[1] == 1024 && per[2] == 2048 && per[3] == 0,
	      "1:1:2:0 gave %u/%u/%u/%u", per[0], per[1], per[2], per[3]);
	for (unsigned int e = 1; e < RLB_WEIGHT_TABLE; e++) {
		run = table[e] == table[e - 1] ? run + 1 : 0;
		longest = run > longest ? run : longest;
	}
	CHECK(longest < 2, "a run of %u equal entries: the table is not interleaved", longest + 1);

	rlb_build_weighted(canary, 2, table, RLB_WEIGHT_TABLE);
	count(table, RLB_WEIGHT_TABLE, per, 2);
	CHECK(per[0] >= 40 && per[0] <= 42, "a 1 %% canary got %u of %d entries", per[0],
	      RLB_WEIGHT_TABLE);

	rlb_build_weighted(none, 3, table, RLB_WEIGHT_TABLE);
	for (unsigned int e = 0; e < RLB_WEIGHT_TABLE; e++)
		if (!CHECK(table[e] == RLB_NONE, "all weights 0, entry %u = %u", e, table[e]))
			break;
}

static void test_maglev(void)
{
	static __u32 before[RLB_MAGLEV_SIZE], after[RLB_MAGLEV_SIZE];
	bool live[8] = { true, true, true, true, true, true, true, true };
	unsigned int per[8], moved = 0, strays = 0;

	rlb_build_maglev(live, 8, before, RLB_MAGLEV_SIZE);
	count(before, RLB_MAGLEV_SIZE, per, 8);
	for (unsigned int i = 0; i < 8; i++)
		CHECK(per[i] > RLB_MAGLEV_SIZE / 8 * 95 / 100 &&
			      per[i] < RLB_MAGLEV_SIZE / 8 * 105 / 100,
		      "worker %u has %u of %d entries", i, per[i], RLB_MAGLEV_SIZE);

	live[5] = false;
	rlb_build_maglev(live, 8, after, RLB_MAGLEV_SIZE);
	for (unsigned int e = 0; e < RLB_MAGLEV_SIZE; e++) {
		if (!CHECK(after[e] < 8 && after[e] != 5, "entry %u names worker %u", e, after[e]))
			return;
		moved += before[e] != after[e];
		strays += before[e] != 5 && before[e] != after[e];
	}
	CHECK(moved * 100 <= RLB_MAGLEV_SIZE * (100 / 8 + 2), "%u of %d entries moved", moved,
	      RLB_MAGLEV_SIZE);
	CHECK(strays * 100 <= RLB_MAGLEV_SIZE * 2, "%u entries of live workers moved", strays);
	printf("maglev: removing 1 of 8 workers moved %.2f %% of entries (%.2f %% not its own)\n",
	       100.0 * moved / RLB_MAGLEV_SIZE, 100.0 * strays / RLB_MAGLEV_SIZE);

	memset(live, 0, sizeof(live));
	rlb_build_maglev(live, 8, after, RLB_MAGLEV_SIZE);
	CHECK(after[0] == RLB_NONE && after[RLB_MAGLEV_SIZE - 1] == RLB_NONE,
	      "no live worker still fills the table");
}

int main(void)
{
	test_weighted();
	test_maglev();
	return rlbt_finish();
}
