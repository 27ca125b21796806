// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The Prometheus text exposition format (0.0.4) of a metrics snapshot: pure, so that a test can
 * hold it to the format without a server.
 */
#define _GNU_SOURCE /* open_memstream */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include "server/metrics.h"

size_t metrics_escape(char *buf, size_t size, const char *value)
{
	size_t n = 0, out = 0;
	bool fits = size > 0;

	for (const char *p = value; *p; p++) {
		char esc = *p == '\\' ? '\\' : *p == '"' ? '"' : *p == '\n' ? 'n' : 0;
		size_t need = esc ? 2 : 1;

		/* all or nothing from here: a cut escape would end the value with a lone '\' */
		fits = fits && out + need < size;
		if (fits && esc) {
			buf[out] = '\\';
			buf[out + 1] = esc;
		} else if (fits) {
			buf[out] = *p;
		}
		out += fits ? need : 0;
		n += need;
	}
	if (size)
		buf[out] = '\0';
	return n;
}

/* Per-worker metrics, in the order they are written. */
enum field {
	STEERED,
	FALLBACK,
	MIGRATED,
	ACCEPTED,
	ACTIVE,
	DRAINING,
	QUEUE,
	QUEUE_LIMIT,
	DROPS,
	NR_FIELDS
};

static const struct family {
	const char *name, *type, *help;
	bool steering; /* needs the program: not shown under "kernel" */
} families[NR_FIELDS] = {
	[STEERED] = { "reuselb_steered_total", "counter",
		      "Connections (UDP: datagrams) the steering program gave to the worker.",
		      true },
	[FALLBACK] = { "reuselb_fallback_total", "counter",
		       "Turns of the worker that went to the next live worker, because it was "
		       "closed or draining.",
		       true },
	[MIGRATED] = { "reuselb_migrated_total", "counter",
		       "Queued connections moved to the worker from a listener that closed.",
		       true },
	[ACCEPTED] = { "reuselb_accepted_total", "counter", "TCP connections the worker accepted.",
		       false },
	[ACTIVE] = { "reuselb_active_connections", "gauge",
		     "TCP connections the worker has open now.", false },
	[DRAINING] = { "reuselb_worker_draining", "gauge",
		       "1 while the worker is draining (it gets no new connections), else 0.",
		       true },
	[QUEUE] = { "reuselb_listen_queue", "gauge",
		    "Connections in the worker's accept queue now (UDP: bytes waiting).", false },
	[QUEUE_LIMIT] = { "reuselb_listen_queue_limit", "gauge",
			  "The limit of the worker's accept queue, its listen backlog (UDP: the "
			  "receive buffer).",
			  false },
	[DROPS] = { "reuselb_listen_drops_total", "counter",
		    "Connections the worker's listener dropped because its accept queue was full "
		    "(UDP: datagrams dropped; with a deferred accept, also each connection's final "
		    "ACK, which the kernel discards while it defers).",
		    false },
};

/* The queue's figures exist only for a socket the kernel showed. */
static bool known(const struct metrics_worker *w, enum field f)
{
	return (f != QUEUE && f != QUEUE_LIMIT && f != DROPS) || w->queue.known;
}

static uint64_t field(const struct metrics_worker *w, enum field f)
{
	switch (f) {
	case STEERED:
		return w->steered;
	case FALLBACK:
		return w->fallback;
	case MIGRATED:
		return w->migrated;
	case ACCEPTED:
		return w->accepted;
	case ACTIVE:
		return w->active;
	case QUEUE:
		return w->queue.queue;
	case QUEUE_LIMIT:
		return w->queue.limit;
	case DROPS:
		return w->queue.drops;
	default:
		return w->draining;
	}
}

static void header(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

char *metrics_render(const struct metrics_snapshot *snap, size_t *len)
{
	/* a group name is short and plain (the library checks it); a policy name may not be */
	char group[2 * RLB_NAME_MAX + 1], policy[256];
	char *buf = NULL;
	FILE *f;

	f = open_memstream(&buf, len);
	if (!f)
		return NULL;
	metrics_escape(group, sizeof(group), snap->group);
	metrics_escape(policy, sizeof(policy), snap->policy);
	for (int i = 0; i < NR_FIELDS; i++) {
		const struct family *fam = &families[i];

		if (fam->steering && !snap->steering)
			continue;
		header(f, fam->name, fam->type, fam->help);
		for (unsigned int w = 0; w < snap->nr_workers; w++)
			if (known(&snap->workers[w], i))
				fprintf(f, "%s{group=\"%s\",worker=\"%u\"} %" PRIu64 "\n",
					fam->name, group, w, field(&snap->workers[w], i));
	}
	if (snap->steering) {
		header(f, "reuselb_unsteered_total", "counter",
		       "Connections no worker could take, placed by the kernel's hash.");
		fprintf(f, "reuselb_unsteered_total{group=\"%s\"} %" PRIu64 "\n", group,
			snap->unsteered);
	}
	if (snap->steering && snap->flow_table) {
		header(f, "reuselb_flow_table_size", "gauge",
		       "UDP flows the group's flow table holds at most.");
		fprintf(f, "reuselb_flow_table_size{group=\"%s\"} %u\n", group, snap->flow_table);
		header(f, "reuselb_flows_evicted_total", "counter",
		       "UDP flows evicted from a full flow table before their timeout (counted "
		       "once a second: a lower bound); more than 0 means the table is too small.");
		fprintf(f, "reuselb_flows_evicted_total{group=\"%s\"} %" PRIu64 "\n", group,
			snap->flows_evicted);
	}
	if (snap->steering)
		metrics_render_generations(f, snap, group);
	header(f, "reuselb_policy_info", "gauge", "The steering policy of the group.");
	fprintf(f, "reuselb_policy_info{group=\"%s\",policy=\"%s\"} 1\n", group, policy);
	if (fclose(f)) {
		free(buf);
		return NULL;
	}
	return buf;
}
