// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The metrics text (user/server/metrics_text.c) without a server: what the CLI cannot make a
 * group carry, such as a label value with quotes, backslashes and newlines. Needs no root.
 *
 * 1. metrics_escape: '"' '\' and newline become \" \\ \n, other bytes stay; it returns the
 *    escaped length; a buffer too small holds a whole prefix of escapes, never half of one.
 * 2. A snapshot of 2 workers under a program, group `we"ird\g` and policy "custom:x\"y\n":
 *    each label value appears escaped; each metric's # HELP, then # TYPE, then its samples;
 *    worker 1's draining reads 1, its counters their values.
 * 3. The same under "kernel" (no program): only accepted, active and the policy info.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rlbtest.h"
#include "server/metrics.h"

static void escape(void)
{
	char buf[64];
	size_t n;

	n = metrics_escape(buf, sizeof(buf), "a\"b\\c\nd");
	CHECK(!strcmp(buf, "a\\\"b\\\\c\\nd") && n == 10, "escaped \"%s\" (%zu)", buf, n);
	n = metrics_escape(buf, 4, "ab\"c");
	CHECK(!strcmp(buf, "ab") && n == 5, "in 4 bytes: \"%s\" (%zu), want \"ab\" (5)", buf, n);
	n = metrics_escape(buf, 5, "ab\"c");
	CHECK(!strcmp(buf, "ab\\\"") && n == 5, "in 5 bytes: \"%s\" (%zu)", buf, n);
}

/* name's HELP, TYPE and first sample, in that order; the sample's line into line. */
static void in_order(const char *text, const char *name, const char *sample)
{
	char help[128], type[128];
	const char *h, *t, *s;

	snprintf(help, sizeof(help), "# HELP %s ", name);
	snprintf(type, sizeof(type), "# TYPE %s ", name);
	h = strstr(text, help);
	t = strstr(text, type);
	s = strstr(text, sample);
	CHECK(h && t && s && h < t && t < s, "%s: HELP %p, TYPE %p, sample \"%s\" %p", name,
	      (void *)h, (void *)t, sample, (void *)s);
}

static void render(void)
{
	struct metrics_snapshot snap = {
		.group = "we\"ird\\g",
		.policy = "custom:x\"y\n",
		.steering = true,
		.nr_workers = 2,
		.unsteered = 7,
		.workers = { { .steered = 5, .accepted = 4, .active = 1 },
			     { .steered = 6, .fallback = 2, .migrated = 3, .draining = true } },
	};
	const char *g = "group=\"we\\\"ird\\\\g\"";
	char want[256];
	size_t len;
	char *text = metrics_render(&snap, &len);

	if (!CHECK(text && len == strlen(text), "metrics_render failed"))
		return;
	printf("%s", text);
	snprintf(want, sizeof(want), "reuselb_steered_total{%s,worker=\"0\"} 5\n", g);
	in_order(text, "reuselb_steered_total", want);
	snprintf(want, sizeof(want), "reuselb_fallback_total{%s,worker=\"1\"} 2\n", g);
	in_order(text, "reuselb_fallback_total", want);
	snprintf(want, sizeof(want), "reuselb_migrated_total{%s,worker=\"1\"} 3\n", g);
	in_order(text, "reuselb_migrated_total", want);
	snprintf(want, sizeof(want), "reuselb_accepted_total{%s,worker=\"0\"} 4\n", g);
	in_order(text, "reuselb_accepted_total", want);
	snprintf(want, sizeof(want), "reuselb_active_connections{%s,worker=\"0\"} 1\n", g);
	in_order(text, "reuselb_active_connections", want);
	snprintf(want, sizeof(want), "reuselb_worker_draining{%s,worker=\"1\"} 1\n", g);
	in_order(text, "reuselb_worker_draining", want);
	snprintf(want, sizeof(want), "reuselb_unsteered_total{%s} 7\n", g);
	in_order(text, "reuselb_unsteered_total", want);
	snprintf(want, sizeof(want), "reuselb_policy_info{%s,policy=\"custom:x\\\"y\\n\"} 1\n", g);
	in_order(text, "reuselb_policy_info", want);
	CHECK(text[len - 1] == '\n', "the text does not end with a newline");
	free(text);

	snap.steering = false;
	snap.policy = "kernel";
	text = metrics_render(&snap, &len);
	if (!CHECK(text, "metrics_render failed"))
		return;
	CHECK(strstr(text, "reuselb_accepted_total{") &&
		      strstr(text, "reuselb_active_connections{") &&
		      strstr(text, "policy=\"kernel\"} 1\n"),
	      "kernel: accepted, active or the policy info missing:\n%s", text);
	CHECK(!strstr(text, "steered") && !strstr(text, "fallback") && !strstr(text, "migrated") &&
		      !strstr(text, "draining"),
	      "kernel: figures of a program that is not there:\n%s", text);
	free(text);
}

int main(void)
{
	escape();
	render();
	return rlbt_finish();
}
