// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * reuselb stats: per worker of a live group, what the program steered to it and what the
 * worker accepted, as a table or one JSON object; --watch redraws it with rates per second.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "cli/cli.h"
#include "cli/stats_adopted.h"

#define CMD "stats"
#define WATCH_MAX 3600
#define COUNT_MAX 1000000
#define POLICY_NAME_MAX 64

static const char usage[] =
	"Usage: reuselb stats {-p PORT [--udp] | --name GROUP} [--json]\n"
	"                     [--watch SECONDS [--count N]] [-v]\n"
	"\n"
	"Show a live group's workers: what the steering program gave each of them and what\n"
	"each accepted, and the group's policy.\n"
	"\n";

static const char more[] =
	"\n"
	"Columns:\n"
	"  state      live (takes new connections), draining (keeps its connections, gets\n"
	"             no new ones: reuselb drain) or closed (its socket is gone)\n"
	"  weight     0 to 1000, for the weighted policy (reuselb weight)\n"
	"  steered    connections (udp: datagrams) the program gave to the worker\n"
	"  fallbacks  times the policy chose the worker but its socket could not take it\n"
	"  migrated   queued connections moved to it from a closed listener\n"
	"  accepted   connections the worker accepted\n"
	"  active     connections the worker has open now\n"
	"  share      its part of all accepted connections\n"
	"  queue      connections in its listener's accept queue now (udp: bytes waiting),\n"
	"             from the kernel (sock_diag): a worker that stopped accepting shows here\n"
	"  limit      the accept queue's limit, the listen backlog (udp: receive buffer)\n"
	"  drops      connections the listener dropped because its queue was full (udp:\n"
	"             datagrams dropped); with a deferred accept (serve --defer-accept,\n"
	"             nginx's deferred) also each connection's final ACK, which the kernel\n"
	"             discards while it defers; '-' where the kernel shows no such socket\n"
	"  unsteered  (group) connections no worker could take: the kernel's hash decided\n"
	"  flows      (udp group) the flow table's size, and the flows it evicted before\n"
	"             their timeout: more than 0 means the table is too small for the rate\n"
	"             of new flows (serve --flow-table); counted once a second, a lower bound\n"
	"\n"
	"JSON:\n"
	"  {\"group\":\"tcp-8080\",\"policy\":\"round-robin\",\n"
	"   \"workers\":[{\"id\":0,\"state\":\"live\",\"weight\":100,\"steered\":N,\n"
	"                \"accepted\":N,\"active\":N,\"fallback\":N,\"migrated\":N,\n"
	"                \"busy\":N,\"generation\":N,\"queue\":N,\"queue_limit\":N,\"drops\":N},\n"
	"                ...],\n"
	"   \"unsteered\":N}\n"
	"  a udp group also has \"flow_table\":N,\"flows_evicted\":N. queue, queue_limit\n"
	"  and drops are null for a worker whose socket the kernel does not show.\n"
	"  with --watch, each worker also has \"steered_per_s\" and \"accepted_per_s\" (null in\n"
	"  the first object).\n"
	"\n"
	"Exit status:\n"
	"  0 shown (with --watch: stopped by SIGINT, SIGTERM or --count); 1 failure (not root,\n"
	"  a BPF error, the group stopped while watched); 2 usage error, an unknown group\n"
	"  included (its message lists the live groups)\n"
	"\n"
	"EXAMPLES:\n"
	"  reuselb stats -p 8080                  # the table of the TCP group on port 8080\n"
	"  reuselb stats -p 5300 --udp --json     # the UDP group on 5300, as JSON\n"
	"  reuselb stats --name web --watch 1     # live, every second, until Ctrl-C\n";

static const struct cli_option options[] = {
	CLI_TARGET_OPTIONS,
	{ "json", CLI_OPT_JSON, NULL, "one JSON object instead of the table" },
	{ "watch", CLI_OPT_WATCH, "SECS",
	  "redraw every SECS seconds (1 to " CLI_STR(
		  WATCH_MAX) "), with rates per second,\n"
			     "until SIGINT or SIGTERM (with --json: one object per line)" },
	{ "count", CLI_OPT_COUNT, "N", "with --watch: stop after N redraws (1 to 1000000)" },
	CLI_VERBOSE_HELP_OPTIONS,
	{},
};

struct stats_args {
	struct cli_common common;
	unsigned int watch;  /* seconds between redraws; 0 shows once */
	unsigned long count; /* redraws with --watch; 0 until a signal */
};

/* One reading of the group. */
struct sample {
	struct rlb_group_stats st;
	char policy[POLICY_NAME_MAX];
	struct timespec at;
};

/* --watch and --count, checked where they stand on the command line. */
static int stats_option(void *args, const struct cli_parser *p, int opt, const char *val)
{
	struct stats_args *a = args;
	unsigned long n = 0;
	int err;

	switch (opt) {
	case CLI_OPT_WATCH:
		err = cli_uint_option(p, opt, val, 1, WATCH_MAX, " seconds", &n);
		a->watch = n;
		return err;
	case CLI_OPT_COUNT:
		err = cli_uint_option(p, opt, val, 1, COUNT_MAX, " redraws", &n);
		a->count = n;
		return err;
	}
	return 1;
}

static int stats_operands(void *args, struct cli_parser *p)
{
	struct stats_args *a = args;

	if (cli_operands_at_most(p, 0))
		return -EINVAL;
	if (a->count && !a->watch)
		return cli_usage_error(CMD, "--count goes with --watch");
	return cli_target_finish(&a->common.target, p);
}

static const struct cli_command command = {
	.name = CMD,
	.usage = usage,
	.options = options,
	.more = more,
	.own = stats_option,
};

static int take_sample(const struct rlb_ctl *ctl, struct sample *s)
{
	int err = rlb_ctl_read(ctl, &s->st);

	if (!err)
		err = rlb_ctl_policy_name(ctl, s->policy, sizeof(s->policy));
	clock_gettime(CLOCK_MONOTONIC, &s->at);
	return err;
}

static double seconds_between(const struct sample *from, const struct sample *to)
{
	return (to->at.tv_sec - from->at.tv_sec) + (to->at.tv_nsec - from->at.tv_nsec) / 1e9;
}

/* Per second from prev to cur; a counter that went back (a restarted group) counts as 0. */
static double rate(uint64_t prev, uint64_t cur, double secs)
{
	return cur > prev && secs > 0 ? (cur - prev) / secs : 0.0;
}

static void print_queue_header(void)
{
	printf("  %6s  %6s  %8s", "queue", "limit", "drops");
}

static void print_queue(const struct rlb_queue *q)
{
	if (q->known)
		printf("  %6u  %6u  %8" PRIu64, q->queue, q->limit, q->drops);
	else
		printf("  %6s  %6s  %8s", "-", "-", "-");
}

static void print_queue_total(const struct rlb_group_stats *st)
{
	uint64_t queue = 0, drops = 0;

	for (unsigned int i = 0; i < st->nr_workers; i++) {
		queue += st->workers[i].queue.queue;
		drops += st->workers[i].queue.drops;
	}
	printf("  %6" PRIu64 "  %6s  %8" PRIu64, queue, "", drops);
}

static void print_queue_json(const struct rlb_queue *q)
{
	if (q->known)
		printf(",\"queue\":%u,\"queue_limit\":%u,\"drops\":%" PRIu64, q->queue, q->limit,
		       q->drops);
	else
		printf(",\"queue\":null,\"queue_limit\":null,\"drops\":null");
}

static void print_table(const char *group, const struct sample *cur, const struct sample *prev,
			bool rates)
{
	const struct rlb_group_stats *st = &cur->st;
	uint64_t steered = 0, fallback = 0, migrated = 0, accepted = 0, active = 0;
	uint64_t prev_steered = 0, prev_accepted = 0;
	double secs = prev ? seconds_between(prev, cur) : 0;

	for (unsigned int i = 0; i < st->nr_workers; i++)
		accepted += st->workers[i].accepted;
	for (unsigned int i = 0; prev && i < prev->st.nr_workers; i++) {
		prev_steered += prev->st.workers[i].steered;
		prev_accepted += prev->st.workers[i].accepted;
	}
	printf("group %s, policy %s, %u workers, unsteered %" PRIu64, group, cur->policy,
	       st->nr_workers, st->unsteered);
	if (st->flow_table)
		printf(", flows evicted early %" PRIu64 " (table %u)", st->flows_evicted,
		       st->flow_table);
	printf("\n");
	printf("%6s  %-8s  %6s  %10s  %9s  %8s  %10s  %8s  %6s", "worker", "state", "weight",
	       "steered", "fallbacks", "migrated", "accepted", "active", "share");
	print_queue_header();
	if (rates)
		printf("  %10s  %10s", "steered/s", "accepted/s");
	printf("\n");
	for (unsigned int i = 0; i < st->nr_workers; i++) {
		const struct rlb_worker_stats *w = &st->workers[i];

		printf("%6u  %-8s  %6u  %10" PRIu64 "  %9" PRIu64 "  %8" PRIu64 "  %10" PRIu64
		       "  %8" PRIu64,
		       i, cli_state_name(w->state), w->weight, w->steered, w->fallback, w->migrated,
		       w->accepted, w->active);
		if (accepted)
			printf("  %5.1f%%", 100.0 * w->accepted / accepted);
		else
			printf("  %6s", "-");
		print_queue(&w->queue);
		if (rates && prev)
			printf("  %10.1f  %10.1f",
			       rate(prev->st.workers[i].steered, w->steered, secs),
			       rate(prev->st.workers[i].accepted, w->accepted, secs));
		else if (rates)
			printf("  %10s  %10s", "-", "-");
		printf("\n");
		steered += w->steered;
		fallback += w->fallback;
		migrated += w->migrated;
		active += w->active;
	}
	printf("%6s  %-8s  %6s  %10" PRIu64 "  %9" PRIu64 "  %8" PRIu64 "  %10" PRIu64 "  %8" PRIu64
	       "  %6s",
	       "total", "", "", steered, fallback, migrated, accepted, active,
	       accepted ? "100.0%" : "-");
	print_queue_total(st);
	if (rates && prev)
		printf("  %10.1f  %10.1f", rate(prev_steered, steered, secs),
		       rate(prev_accepted, accepted, secs));
	else if (rates)
		printf("  %10s  %10s", "-", "-");
	printf("\n");
}

static void print_json(const char *group, const struct sample *cur, const struct sample *prev,
		       bool rates)
{
	const struct rlb_group_stats *st = &cur->st;
	double secs = prev ? seconds_between(prev, cur) : 0;

	printf("{\"group\":");
	cli_json_string(stdout, group);
	printf(",\"policy\":");
	cli_json_string(stdout, cur->policy);
	printf(",\"workers\":[");
	for (unsigned int i = 0; i < st->nr_workers; i++) {
		const struct rlb_worker_stats *w = &st->workers[i];

		printf("%s{\"id\":%u,\"state\":\"%s\",\"weight\":%u,\"steered\":%" PRIu64
		       ",\"accepted\":%" PRIu64 ",\"active\":%" PRIu64 ",\"fallback\":%" PRIu64
		       ",\"migrated\":%" PRIu64 ",\"busy\":%" PRIu64,
		       i ? "," : "", i, cli_state_name(w->state), w->weight, w->steered,
		       w->accepted, w->active, w->fallback, w->migrated, w->busy);
		/* the slots' half: 0 or 1, as reuselb rollout names the generations */
		printf(",\"generation\":%u", st->base / RLB_MAX_WORKERS);
		print_queue_json(&w->queue);
		if (rates && prev)
			printf(",\"steered_per_s\":%.1f,\"accepted_per_s\":%.1f",
			       rate(prev->st.workers[i].steered, w->steered, secs),
			       rate(prev->st.workers[i].accepted, w->accepted, secs));
		else if (rates)
			printf(",\"steered_per_s\":null,\"accepted_per_s\":null");
		printf("}");
	}
	printf("],\"unsteered\":%" PRIu64, st->unsteered);
	if (st->flow_table)
		printf(",\"flow_table\":%u,\"flows_evicted\":%" PRIu64, st->flow_table,
		       st->flows_evicted);
	printf("}\n");
}

static void show(const struct stats_args *a, const struct sample *cur, const struct sample *prev)
{
	/* another process's sockets: accepted and active are unknown (stats_adopted.c) */
	if (cur->st.adopted)
		stats_print_adopted(a->common.target.group, cur->policy, &cur->st, a->common.json);
	else if (a->common.json)
		print_json(a->common.target.group, cur, prev, a->watch);
	else
		print_table(a->common.target.group, cur, prev, a->watch);
	fflush(stdout);
}

/* One reading: opens the pins, reads, closes. Returns the exit status. */
static int read_group(struct stats_args *a, struct sample *s, bool watching)
{
	struct rlb_ctl *ctl;
	int err, ret;

	if (watching) {
		err = rlb_ctl_open(a->common.target.group, &ctl);
		if (err == -ENOENT) {
			fprintf(stderr,
				"reuselb " CMD ": group %s stopped serving; start it again, "
				"or see 'reuselb list'\n",
				a->common.target.group);
			return CLI_EXIT_FAILURE;
		}
		if (err)
			return cli_lib_error(CMD, err);
	} else {
		ret = cli_target_open(&a->common.target, CMD, &ctl);
		if (ret)
			return ret;
	}
	err = take_sample(ctl, s);
	rlb_ctl_close(ctl);
	return err ? cli_lib_error(CMD, err) : CLI_EXIT_OK;
}

/*
 * Redraws until a signal or --count. The group's pins are opened anew each time, so that a
 * group that stopped is noticed (open maps would keep its last figures forever).
 */
static int watch(struct stats_args *a)
{
	static struct sample samples[2];
	struct timespec wait = { .tv_sec = a->watch };
	struct sample *cur = &samples[0], *prev = NULL;
	unsigned long drawn = 0;
	char when[16];
	sigset_t sigs;
	time_t now;
	int ret;

	/* blocked, so that they wait for sigtimedwait: a stop between redraws is a clean exit */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigprocmask(SIG_BLOCK, &sigs, NULL);
	for (;;) {
		ret = read_group(a, cur, drawn > 0);
		if (ret)
			return ret;
		if (!a->common.json) {
			now = time(NULL);
			strftime(when, sizeof(when), "%H:%M:%S", localtime(&now));
			/* home, then clear the screen */
			printf("\033[H\033[2J");
			printf("reuselb stats, every %u s, %s (Ctrl-C stops)\n\n", a->watch, when);
		}
		show(a, cur, prev);
		drawn++;
		if (a->count && drawn >= a->count)
			return CLI_EXIT_OK;
		if (sigtimedwait(&sigs, NULL, &wait) >= 0)
			return CLI_EXIT_OK;
		if (errno != EAGAIN && errno != EINTR) {
			fprintf(stderr, "reuselb " CMD ": cannot wait for signals: %s\n",
				strerror(errno));
			return CLI_EXIT_FAILURE;
		}
		prev = cur;
		cur = cur == &samples[0] ? &samples[1] : &samples[0];
	}
}

int cmd_stats(int argc, char **argv)
{
	static struct sample s;
	struct stats_args a;
	int ret;

	memset(&a, 0, sizeof(a));
	ret = cli_begin(&command, argc, argv, &a.common, &a, stats_operands);
	if (ret >= 0)
		return ret;
	if (a.watch)
		return watch(&a);
	ret = read_group(&a, &s, false);
	if (!ret)
		show(&a, &s, NULL);
	return ret;
}
