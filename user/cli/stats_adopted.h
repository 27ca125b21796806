/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* reuselb stats of an adopted group (reuselb attach): who serves each worker, what is unknown. */
#ifndef RLB_STATS_ADOPTED_H
#define RLB_STATS_ADOPTED_H

#include <stdbool.h>
#include <reuselb/reuselb.h>

/*
 * The table (pid and command per worker, accepted and active as "-") or the JSON object
 * ("pid", "comm", "accepted": null, "active": null) of an adopted group.
 */
void stats_print_adopted(const char *group, const char *policy, const struct rlb_group_stats *st,
			 bool json);

#endif
