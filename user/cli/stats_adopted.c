// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * reuselb stats for an adopted group. Its workers are another program's processes, which
 * report nothing to reuselb: what the program counts (steered, fallbacks, migrated) is known,
 * what the workers would report (accepted, active) is unknown, and shown so ("-", null)
 * rather than as 0. The share is of the steered connections.
 */
#include <inttypes.h>
#include <stdio.h>
#include "cli/cli.h"
#include "cli/stats_adopted.h"

static void print_json(const char *group, const char *policy, const struct rlb_group_stats *st)
{
	printf("{\"group\":");
	cli_json_string(stdout, group);
	printf(",\"policy\":");
	cli_json_string(stdout, policy);
	printf(",\"adopted\":true,\"workers\":[");
	for (unsigned int i = 0; i < st->nr_workers; i++) {
		const struct rlb_worker_stats *w = &st->workers[i];

		printf("%s{\"id\":%u,\"state\":\"%s\",\"weight\":%u,\"pid\":%d,\"comm\":",
		       i ? "," : "", i, cli_state_name(w->state), w->weight, w->pid);
		cli_json_string(stdout, w->comm);
		printf(",\"steered\":%" PRIu64
		       ",\"accepted\":null,\"active\":null,\"fallback\":%" PRIu64
		       ",\"migrated\":%" PRIu64 ",\"busy\":null}",
		       w->steered, w->fallback, w->migrated);
	}
	printf("],\"unsteered\":%" PRIu64 "}\n", st->unsteered);
}

void stats_print_adopted(const char *group, const char *policy, const struct rlb_group_stats *st,
			 bool json)
{
	uint64_t steered = 0, fallback = 0, migrated = 0;

	if (json) {
		print_json(group, policy, st);
		return;
	}
	for (unsigned int i = 0; i < st->nr_workers; i++)
		steered += st->workers[i].steered;
	printf("group %s (attached), policy %s, %u workers, unsteered %" PRIu64 "\n", group, policy,
	       st->nr_workers, st->unsteered);
	printf("%6s  %-8s  %8s  %-15s  %6s  %10s  %9s  %8s  %8s  %6s  %6s\n", "worker", "state",
	       "pid", "command", "weight", "steered", "fallbacks", "migrated", "accepted", "active",
	       "share");
	for (unsigned int i = 0; i < st->nr_workers; i++) {
		const struct rlb_worker_stats *w = &st->workers[i];
		char pid[16] = "-";

		if (w->pid)
			snprintf(pid, sizeof(pid), "%d", w->pid);
		printf("%6u  %-8s  %8s  %-15s  %6u  %10" PRIu64 "  %9" PRIu64 "  %8" PRIu64
		       "  %8s  %6s",
		       i, cli_state_name(w->state), pid, w->comm[0] ? w->comm : "-", w->weight,
		       w->steered, w->fallback, w->migrated, "-", "-");
		if (steered)
			printf("  %5.1f%%\n", 100.0 * w->steered / steered);
		else
			printf("  %6s\n", "-");
		fallback += w->fallback;
		migrated += w->migrated;
	}
	printf("%6s  %-8s  %8s  %-15s  %6s  %10" PRIu64 "  %9" PRIu64 "  %8" PRIu64
	       "  %8s  %6s  %6s\n",
	       "total", "", "", "", "", steered, fallback, migrated, "-", "-",
	       steered ? "100.0%" : "-");
	printf("accepted and active are unknown: the server's own processes do not report them\n");
}
