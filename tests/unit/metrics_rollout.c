// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * reuselb_generation_share in the metrics text, without a server. Needs no root.
 *
 * 1. A snapshot with two generations (0 at 90 %, 1 at 10 %): # HELP, # TYPE, then one sample
 *    a generation, with the group's label escaped.
 * 2. A snapshot with none (under "kernel", or one that could not be read): no such family.
 */
#include <stdlib.h>
#include <string.h>

#include "rlbtest.h"
#include "server/metrics.h"

int main(void)
{
	struct metrics_snapshot snap = {
		.group = "g\"1",
		.policy = "round-robin",
		.steering = true,
		.nr_workers = 1,
		.nr_generations = 2,
		.generations = { { .generation = 0, .share = 90 },
				 { .generation = 1, .share = 10 } },
	};
	const char *s0 = "reuselb_generation_share{group=\"g\\\"1\",generation=\"0\"} 90\n";
	const char *s1 = "reuselb_generation_share{group=\"g\\\"1\",generation=\"1\"} 10\n";
	const char *help, *type;
	size_t len;
	char *text;

	/* 1. */
	text = metrics_render(&snap, &len);
	if (!CHECK(text, "metrics_render failed"))
		return rlbt_finish();
	help = strstr(text, "# HELP reuselb_generation_share ");
	type = strstr(text, "# TYPE reuselb_generation_share gauge\n");
	CHECK(help && type && help < type && strstr(text, s0) > type &&
		      strstr(text, s1) > strstr(text, s0),
	      "generation shares out of place or missing:\n%s", text);
	free(text);

	/* 2. */
	snap.nr_generations = 0;
	text = metrics_render(&snap, &len);
	CHECK(text && !strstr(text, "reuselb_generation_share"),
	      "a snapshot without generations shows the family:\n%s", text ? text : "(null)");
	free(text);
	return rlbt_finish();
}
