// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Starting and stopping the worker threads of "reuselb serve". */
#define _GNU_SOURCE /* pthread_attr_setaffinity_np */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>
#include "server/worker.h"

struct server {
	/* in every worker's epoll set: written once and never read, so that all of them see it */
	int stopfd;
	int failfd; /* written by a worker that failed, polled by the caller */
	int idlefd; /* written by a worker that has closed its socket and its last connection */
	unsigned int nr_workers;
	unsigned int nr_ready;	 /* workers[0 .. nr_ready) have been through worker_init() */
	unsigned int nr_started; /* and workers[0 .. nr_started) have a thread */
	struct worker workers[];
};

static int nth_cpu(const cpu_set_t *set, unsigned int n)
{
	for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) {
		if (CPU_ISSET(cpu, set) && n-- == 0)
			return cpu;
	}
	return -1;
}

/*
 * The cpu policy steers a connection to the worker of the CPU that took its packet. With
 * allowed, worker i runs on the i-th CPU of our affinity mask, and the group learns it; workers
 * beyond the number of CPUs share CPUs round the mask but own none.
 */
static int start_worker(struct worker *w, const cpu_set_t *allowed)
{
	unsigned int nr_cpus;
	pthread_attr_t attr;
	cpu_set_t one;
	int cpu, err;

	if (!allowed)
		return -pthread_create(&w->thread, NULL, worker_main, w);
	nr_cpus = CPU_COUNT(allowed);
	cpu = nth_cpu(allowed, w->id % nr_cpus);
	CPU_ZERO(&one);
	CPU_SET(cpu, &one);
	err = -pthread_attr_init(&attr);
	if (err)
		return err;
	err = -pthread_attr_setaffinity_np(&attr, sizeof(one), &one);
	if (!err && w->id < nr_cpus && cpu < RLB_MAX_CPUS)
		err = rlb_group_set_cpu(w->group, w->id, cpu);
	if (!err)
		err = -pthread_create(&w->thread, &attr, worker_main, w);
	pthread_attr_destroy(&attr);
	return err;
}

int server_start(const struct server_opts *opts, struct server **out)
{
	unsigned int n = rlb_group_nr_workers(opts->group);
	cpu_set_t allowed;
	struct server *s;
	int err;

	s = calloc(1, sizeof(*s) + n * sizeof(s->workers[0]));
	if (!s)
		return -ENOMEM;
	s->nr_workers = n;
	s->failfd = -1;
	s->idlefd = -1;
	s->stopfd = eventfd(0, EFD_CLOEXEC);
	if (s->stopfd < 0)
		goto fail_errno;
	s->failfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (s->failfd < 0)
		goto fail_errno;
	s->idlefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (s->idlefd < 0)
		goto fail_errno;
	for (unsigned int i = 0; i < n; i++) {
		err = worker_init(&s->workers[i], opts, i, s->stopfd, s->failfd, s->idlefd);
		/* counted even when it failed: worker_init() leaves what worker_fini() undoes */
		s->nr_ready++;
		if (err)
			goto fail;
	}
	if (opts->pin_threads && sched_getaffinity(0, sizeof(allowed), &allowed))
		goto fail_errno;
	for (; s->nr_started < n; s->nr_started++) {
		err = start_worker(&s->workers[s->nr_started], opts->pin_threads ? &allowed : NULL);
		if (err)
			goto fail;
	}
	*out = s;
	return 0;

fail_errno:
	err = -errno;
fail:
	server_stop(s);
	server_free(s);
	return err;
}

unsigned int server_nr_workers(const struct server *s)
{
	return s->nr_workers;
}

int server_failure_fd(const struct server *s)
{
	return s->failfd;
}

int server_close_worker(struct server *s, unsigned int worker)
{
	if (worker >= s->nr_started)
		return -EINVAL;
	worker_request(&s->workers[worker], WORKER_CTL_CLOSE);
	return 0;
}

void server_handover(struct server *s)
{
	for (unsigned int i = 0; i < s->nr_started; i++)
		worker_request(&s->workers[i], WORKER_CTL_HANDOVER);
}

int server_idle_fd(const struct server *s)
{
	return s->idlefd;
}

bool server_worker_done(const struct server *s, unsigned int worker)
{
	const struct worker *w = &s->workers[worker];

	return __atomic_load_n(&w->closed, __ATOMIC_RELAXED) &&
	       !__atomic_load_n(&w->nr_conns, __ATOMIC_RELAXED);
}

bool server_drained(const struct server *s)
{
	for (unsigned int i = 0; i < s->nr_workers; i++) {
		if (!server_worker_done(s, i))
			return false;
	}
	return true;
}

uint64_t server_last_datagram_ms(const struct server *s)
{
	uint64_t last = 0;

	for (unsigned int i = 0; i < s->nr_workers; i++) {
		uint64_t t = __atomic_load_n(&s->workers[i].last_rx_ms, __ATOMIC_RELAXED);

		if (t > last)
			last = t;
	}
	return last;
}

uint64_t server_now_ms(void)
{
	struct timespec ts;

	/* the workers' clock (worker.c) */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000ull + ts.tv_nsec / 1000000;
}

void server_worker_live(const struct server *s, unsigned int worker, uint64_t *accepted,
			uint64_t *active)
{
	const struct worker *w = &s->workers[worker];

	*accepted = __atomic_load_n(&w->accepted, __ATOMIC_RELAXED);
	*active = __atomic_load_n(&w->nr_conns, __ATOMIC_RELAXED);
}

void server_stop(struct server *s)
{
	uint64_t one = 1;
	ssize_t n;

	/* a blocking eventfd write of 8 bytes fails only on a counter that is never this high */
	n = write(s->stopfd, &one, sizeof(one));
	(void)n;
	for (unsigned int i = 0; i < s->nr_started; i++)
		pthread_join(s->workers[i].thread, NULL);
	s->nr_started = 0;
}

void server_worker_stats(const struct server *s, unsigned int worker,
			 struct server_worker_stats *out)
{
	const struct worker *w = &s->workers[worker];

	out->accepted = w->accepted;
	out->requests = w->requests;
	out->cut = w->cut;
	out->err = w->err;
	out->what = w->what;
}

void server_free(struct server *s)
{
	if (!s)
		return;
	for (unsigned int i = 0; i < s->nr_ready; i++)
		worker_fini(&s->workers[i]);
	if (s->failfd >= 0)
		close(s->failfd);
	if (s->idlefd >= 0)
		close(s->idlefd);
	if (s->stopfd >= 0)
		close(s->stopfd);
	free(s);
}
