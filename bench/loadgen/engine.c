// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The per-thread loop: when requests start, which slot takes them, timeouts, and what is
 * counted. Open loop (a rate is given): request k is due at start + k / rate whether or not the
 * server keeps up, and its latency runs from that moment, so a stalled server cannot hide its
 * stall by slowing the client down (coordinated omission). Closed loop: each slot starts its next
 * request as soon as the last one is answered.
 */
#define _GNU_SOURCE /* epoll_pwait2 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "loadgen.h"

#define EVENT_BATCH 256
/* how often in-flight requests are checked against their timeout */
#define SWEEP_NS 10000000ull

uint64_t lg_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

void lg_count_worker(struct lg_result *r, int64_t worker, uint64_t n)
{
	unsigned int i;

	if (worker < 0) {
		r->unknown_worker += n;
		return;
	}
	for (i = 0; i < r->nr_workers; i++) {
		if (r->workers[i].id == (uint64_t)worker) {
			r->workers[i].count += n;
			return;
		}
	}
	if (i == LG_MAX_WORKERS) {
		r->unknown_worker += n;
		return;
	}
	r->workers[i].id = worker;
	r->workers[i].count = n;
	r->nr_workers++;
}

static const struct lg_ops *mode_ops(const struct lg_config *cfg)
{
	return cfg->mode == LG_MODE_UDP ? &lg_udp_ops : &lg_tcp_ops;
}

/* xorshift64*: which requests burn; quality is plenty for a 5 % mix */
static uint64_t next_random(struct lg_thread *t)
{
	t->rng ^= t->rng >> 12;
	t->rng ^= t->rng << 25;
	t->rng ^= t->rng >> 27;
	return t->rng * 0x2545f4914f6cdd1dull;
}

static bool measured(const struct lg_thread *t, uint64_t start_ns)
{
	return start_ns >= t->measure_from_ns && start_ns < t->measure_until_ns;
}

static void count_error(struct lg_result *r, int err)
{
	if (!r->errors++)
		r->first_error = err;
}

/* Takes an idle slot and starts a request that was due at start_ns; false if none is idle. */
static bool start_request(struct lg_thread *t, const struct lg_ops *ops, uint64_t start_ns)
{
	struct slot *s;
	int err;

	if (!t->nr_idle)
		return false;
	s = &t->slots[t->idle[--t->nr_idle]];
	s->start_ns = start_ns;
	s->burn = t->cfg->burn_pct && next_random(t) % 100 < t->cfg->burn_pct;
	s->in_len = 0;
	err = ops->start(t, s);
	if (err) {
		if (measured(t, start_ns))
			count_error(&t->res, err);
		ops->finish(t, s, false);
		s->state = SLOT_IDLE;
		t->idle[t->nr_idle++] = s - t->slots;
	}
	return true;
}

static void end_request(struct lg_thread *t, const struct lg_ops *ops, struct slot *s, int ret,
			int64_t worker, uint64_t now)
{
	bool counted = measured(t, s->start_ns);

	if (ret > 0 && counted) {
		hist_record(s->burn ? &t->res.burn_lat : &t->res.lat, now - s->start_ns);
		lg_count_worker(&t->res, worker, 1);
	} else if (ret < 0 && counted) {
		count_error(&t->res, ret);
	}
	ops->finish(t, s, ret > 0);
	s->state = SLOT_IDLE;
	t->idle[t->nr_idle++] = s - t->slots;
}

static void sweep_timeouts(struct lg_thread *t, const struct lg_ops *ops, uint64_t now)
{
	for (unsigned int i = 0; i < t->nr_slots; i++) {
		struct slot *s = &t->slots[i];

		if (s->state == SLOT_IDLE || now - s->start_ns < t->cfg->timeout_ns)
			continue;
		if (measured(t, s->start_ns))
			t->res.timeouts++;
		ops->finish(t, s, false);
		s->state = SLOT_IDLE;
		t->idle[t->nr_idle++] = i;
	}
}

/*
 * Requests still unanswered at the end after half the measured time count as timeouts too,
 * whenever they started: a server that never answers some clients (one that serves a connection
 * at a time, say) must not look good for answering the rest quickly.
 */
static void count_stuck(struct lg_thread *t, uint64_t end)
{
	uint64_t stuck_ns = t->cfg->duration_ns / 2;

	if (t->cfg->timeout_ns < stuck_ns)
		stuck_ns = t->cfg->timeout_ns;
	for (unsigned int i = 0; i < t->nr_slots; i++) {
		const struct slot *s = &t->slots[i];

		if (s->state != SLOT_IDLE && end - s->start_ns >= stuck_ns)
			t->res.timeouts++;
	}
}

static int loop(struct lg_thread *t, const struct lg_ops *ops, uint64_t begin, uint64_t end)
{
	const struct lg_config *cfg = t->cfg;
	struct epoll_event events[EVENT_BATCH];
	double interval_ns = cfg->rate ? 1e9 * cfg->nr_threads / cfg->rate : 0;
	/* open loop: requests [0, issued) have started, [issued, due) wait for a slot */
	uint64_t issued = 0, due = 0, now = begin, next_sweep = begin + SWEEP_NS;
	/* the threads' schedules are staggered so that their requests interleave */
	double phase = interval_ns * t->index / cfg->nr_threads;

	while (now < end) {
		struct timespec timeout;
		uint64_t wait_ns = end - now;
		int n;

		if (interval_ns) {
			while (begin + phase + due * interval_ns <= now)
				due++;
			while (issued < due &&
			       start_request(t, ops, begin + phase + issued * interval_ns))
				issued++;
			wait_ns = begin + phase + due * interval_ns - now;
		} else {
			/* once per idle slot: a start that fails frees its slot at once */
			for (unsigned int k = t->nr_idle; k && start_request(t, ops, now); k--)
				;
		}
		if (now + wait_ns > next_sweep)
			wait_ns = next_sweep > now ? next_sweep - now : 0;
		timeout.tv_sec = wait_ns / 1000000000;
		timeout.tv_nsec = wait_ns % 1000000000;
		n = epoll_pwait2(t->epfd, events, EVENT_BATCH, &timeout, NULL);
		if (n < 0 && errno != EINTR)
			return -errno;
		now = lg_now_ns();
		for (int i = 0; i < n; i++) {
			struct slot *s = events[i].data.ptr;
			int64_t worker = -1;
			int ret;

			/* keep-alive: the server closed an idle connection; udp: a late answer */
			if (s->state == SLOT_IDLE) {
				ops->finish(t, s, false);
				continue;
			}
			ret = ops->on_event(t, s, &worker);
			if (ret)
				end_request(t, ops, s, ret, worker, now);
		}
		if (now >= next_sweep) {
			sweep_timeouts(t, ops, now);
			next_sweep = now + SWEEP_NS;
		}
	}
	/* due within the measured time, never started: the server did not keep up */
	for (uint64_t k = issued; k < due; k++) {
		if (measured(t, begin + phase + k * interval_ns))
			t->res.unsent++;
	}
	count_stuck(t, end);
	return 0;
}

int lg_thread_run(struct lg_thread *t)
{
	const struct lg_ops *ops = mode_ops(t->cfg);
	uint64_t begin;
	int err = 0;

	t->epfd = epoll_create1(EPOLL_CLOEXEC);
	t->slots = calloc(t->nr_slots, sizeof(*t->slots));
	t->idle = calloc(t->nr_slots, sizeof(*t->idle));
	if (t->epfd < 0 || !t->slots || !t->idle) {
		err = -ENOMEM;
		goto cleanup;
	}
	t->rng = 0x9e3779b97f4a7c15ull * (t->index + 1);
	for (unsigned int i = 0; i < t->nr_slots; i++) {
		t->slots[i].fd = -1;
		t->slots[i].src = t->cfg->nr_sources ? (t->first_src + i) % t->cfg->nr_sources : 0;
		t->idle[t->nr_slots - 1 - i] = i;
	}
	t->nr_idle = t->nr_slots;
	begin = lg_now_ns();
	t->measure_from_ns = begin + t->cfg->warmup_ns;
	t->measure_until_ns = t->measure_from_ns + t->cfg->duration_ns;
	err = loop(t, ops, begin, t->measure_until_ns);
	for (unsigned int i = 0; i < t->nr_slots; i++) {
		if (t->slots[i].fd >= 0)
			close(t->slots[i].fd);
	}
cleanup:
	free(t->slots);
	free(t->idle);
	if (t->epfd >= 0)
		close(t->epfd);
	return err;
}
