// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The metric of a rollout: each generation's share of new connections and flows. */
#include <stdio.h>
#include "server/metrics.h"

int metrics_generations(const struct rlb_ctl *ctl, struct metrics_snapshot *snap)
{
	struct rlb_rollout_view v;
	int err = rlb_ctl_rollout_read(ctl, &v);

	if (err)
		return err;
	snap->nr_generations = v.nr;
	for (unsigned int i = 0; i < v.nr && i < 2; i++) {
		snap->generations[i].generation = v.gens[i].generation;
		snap->generations[i].share = v.gens[i].share;
	}
	return 0;
}

void metrics_render_generations(FILE *f, const struct metrics_snapshot *snap, const char *group)
{
	if (!snap->nr_generations)
		return;
	fprintf(f, "# HELP reuselb_generation_share Percent of new connections and flows the "
		   "steering program gives to the generation (a rollout: reuselb rollout).\n"
		   "# TYPE reuselb_generation_share gauge\n");
	for (unsigned int i = 0; i < snap->nr_generations && i < 2; i++)
		fprintf(f, "reuselb_generation_share{group=\"%s\",generation=\"%u\"} %u\n", group,
			snap->generations[i].generation, snap->generations[i].share);
}
