// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Actors released at the same instant (race.h). The release is an end of file: every child
 * blocks in read() on the same pipe, and the parent closing the only write end left wakes
 * them all in one go, rather than one by one as a write of n bytes would.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "race.h"

struct actor {
	pid_t pid;
	int pidfd;
	int out[2], err[2]; /* capture pipes, -1 when not captured */
	char *buf[2];
	size_t len[2], cap[2];
};

struct race {
	unsigned int n;
	struct actor a[RLBT_RACE_MAX];
	bool capture;
	struct rlbt_race_opts opts;
	/* what a child runs once released */
	int (*fn)(unsigned int i, void *arg);
	void *arg;
	char *const *const *argvs;
};

static long now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000L + ts.tv_nsec / 1000;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* A child: ready, wait for the release, spread, then run. Never returns. */
static void child(struct race *r, unsigned int i, int ready_w, int go_r)
{
	struct actor *me = &r->a[i];
	char c = 'r';
	ssize_t got;

	/* the other actors' capture pipes are theirs: holding them would delay their EOF */
	for (unsigned int j = 0; j < r->n; j++) {
		if (j == i)
			continue;
		close_fd(&r->a[j].out[0]);
		close_fd(&r->a[j].err[0]);
		close_fd(&r->a[j].out[1]);
		close_fd(&r->a[j].err[1]);
	}
	if (r->capture) {
		close(me->out[0]);
		close(me->err[0]);
		if (dup2(me->out[1], STDOUT_FILENO) < 0 || dup2(me->err[1], STDERR_FILENO) < 0)
			_exit(127);
		close(me->out[1]);
		close(me->err[1]);
	}
	if (r->opts.realtime) {
		struct sched_param sp = { .sched_priority = sched_get_priority_min(SCHED_FIFO) };

		/* best effort: without CAP_SYS_NICE the child stays an ordinary one */
		sched_setscheduler(0, SCHED_FIFO, &sp);
	}
	if (write(ready_w, &c, 1) != 1)
		_exit(127);
	close(ready_w);
	do
		got = read(go_r, &c, 1);
	while (got < 0 && errno == EINTR);
	close(go_r);
	if (r->opts.spread_us) {
		long until;

		srandom(getpid() ^ (unsigned int)now_us());
		until = now_us() + random() % r->opts.spread_us;
		while (now_us() < until)
			;
	}
	if (r->fn) {
		int status = r->fn(i, r->arg);

		fflush(NULL);
		_exit(status & 0xff);
	}
	execvp(r->argvs[i][0], r->argvs[i]);
	fprintf(stderr, "rlbrace: cannot run %s: %s\n", r->argvs[i][0], strerror(errno));
	_exit(127);
}

static int append(struct actor *a, int which, int fd)
{
	char chunk[4096];
	ssize_t got = read(fd, chunk, sizeof(chunk));

	if (got <= 0)
		return got < 0 && errno == EINTR ? 1 : 0;
	if (a->len[which] + got + 1 > a->cap[which]) {
		size_t cap = (a->len[which] + got + 1) * 2;
		char *buf = realloc(a->buf[which], cap);

		if (!buf)
			return 0;
		a->buf[which] = buf;
		a->cap[which] = cap;
	}
	memcpy(a->buf[which] + a->len[which], chunk, got);
	a->len[which] += got;
	a->buf[which][a->len[which]] = '\0';
	return 1;
}

/* Collects output and exits until every actor is done or the deadline passes. */
static int collect(struct race *r, int timeout_ms, struct rlbt_race_result *res)
{
	long deadline = now_us() + (long)timeout_ms * 1000;
	struct pollfd pfd[3 * RLBT_RACE_MAX];
	int *fds[3 * RLBT_RACE_MAX], err = 0;

	for (;;) {
		unsigned int nfds = 0;
		long left = (deadline - now_us()) / 1000;
		int ready;

		for (unsigned int i = 0; i < r->n; i++) {
			int *each[3] = { &r->a[i].out[0], &r->a[i].err[0], &r->a[i].pidfd };

			for (int k = 0; k < 3; k++) {
				if (*each[k] < 0)
					continue;
				pfd[nfds] = (struct pollfd){ .fd = *each[k], .events = POLLIN };
				fds[nfds++] = each[k];
			}
		}
		if (!nfds)
			break;
		if (left <= 0) {
			err = -ETIMEDOUT;
			break;
		}
		ready = poll(pfd, nfds, left);
		if (ready < 0 && errno != EINTR) {
			err = -errno;
			break;
		}
		for (unsigned int k = 0; ready > 0 && k < nfds; k++) {
			if (!pfd[k].revents)
				continue;
			for (unsigned int i = 0; i < r->n; i++) {
				struct actor *a = &r->a[i];
				int status;

				if (fds[k] == &a->pidfd) {
					if (waitpid(a->pid, &status, 0) == a->pid)
						res[i].status = WIFEXITED(status) ?
									WEXITSTATUS(status) :
									128 + WTERMSIG(status);
					a->pid = 0;
					close_fd(&a->pidfd);
				} else if (fds[k] == &a->out[0] || fds[k] == &a->err[0]) {
					int which = fds[k] == &a->err[0];

					if (!append(a, which, *fds[k]))
						close_fd(fds[k]);
				}
			}
		}
	}
	return err;
}

static int run(struct race *r, const struct rlbt_race_opts *opts, struct rlbt_race_result *res)
{
	int ready[2] = { -1, -1 }, go[2] = { -1, -1 }, err = 0, timeout_ms;
	unsigned int forked = 0, nready = 0;

	if (r->n == 0 || r->n > RLBT_RACE_MAX)
		return -EINVAL;
	if (opts)
		r->opts = *opts;
	timeout_ms = r->opts.timeout_ms > 0 ? r->opts.timeout_ms : 10000;
	for (unsigned int i = 0; i < r->n; i++) {
		struct actor *a = &r->a[i];

		a->pid = 0;
		a->pidfd = a->out[0] = a->out[1] = a->err[0] = a->err[1] = -1;
		res[i] = (struct rlbt_race_result){ .status = -1 };
	}
	if (pipe2(ready, O_CLOEXEC) || pipe2(go, O_CLOEXEC)) {
		err = -errno;
		goto out;
	}
	for (unsigned int i = 0; i < r->n && r->capture; i++) {
		if (pipe2(r->a[i].out, O_CLOEXEC) || pipe2(r->a[i].err, O_CLOEXEC)) {
			err = -errno;
			goto out;
		}
	}
	fflush(NULL);
	for (; forked < r->n; forked++) {
		struct actor *a = &r->a[forked];
		pid_t pid = fork();

		if (pid < 0) {
			err = -errno;
			break;
		}
		if (pid == 0) {
			close(ready[0]);
			close(go[1]);
			child(r, forked, ready[1], go[0]);
		}
		a->pid = pid;
		a->pidfd = syscall(SYS_pidfd_open, pid, 0);
		if (a->pidfd < 0) {
			err = -errno;
			forked++;
			break;
		}
		close_fd(&a->out[1]);
		close_fd(&a->err[1]);
	}
	close_fd(&ready[1]);
	close_fd(&go[0]);
	/* every child ready, blocked on go: only then the release */
	while (!err && nready < r->n) {
		struct pollfd pfd = { .fd = ready[0], .events = POLLIN };
		char buf[RLBT_RACE_MAX];
		ssize_t got;

		if (poll(&pfd, 1, timeout_ms) <= 0) {
			err = -ETIMEDOUT;
			break;
		}
		got = read(ready[0], buf, sizeof(buf));
		if (got <= 0) {
			err = got ? -errno : -EPIPE;
			break;
		}
		nready += got;
	}
	if (err) {
		/* nothing was released: the children go before they run anything */
		for (unsigned int i = 0; i < forked; i++)
			if (r->a[i].pid > 0)
				kill(r->a[i].pid, SIGKILL);
	}
	close_fd(&go[1]);
	if (forked) {
		int cerr = collect(r, err ? 5000 : timeout_ms, res);

		err = err ? err : cerr;
	}
out:
	for (unsigned int i = 0; i < r->n; i++) {
		struct actor *a = &r->a[i];

		if (a->pid > 0) {
			kill(a->pid, SIGKILL);
			waitpid(a->pid, NULL, 0);
			res[i].status = -1;
		}
		close_fd(&a->pidfd);
		close_fd(&a->out[0]);
		close_fd(&a->out[1]);
		close_fd(&a->err[0]);
		close_fd(&a->err[1]);
		if (r->capture) {
			res[i].out = a->buf[0] ? a->buf[0] : strdup("");
			res[i].err = a->buf[1] ? a->buf[1] : strdup("");
		}
	}
	close_fd(&ready[0]);
	close_fd(&ready[1]);
	close_fd(&go[0]);
	close_fd(&go[1]);
	return err;
}

int rlbt_race_exec(char *const *const argvs[], unsigned int n, const struct rlbt_race_opts *opts,
		   struct rlbt_race_result *res)
{
	struct race *r = calloc(1, sizeof(*r));
	int err;

	if (!r)
		return -ENOMEM;
	r->n = n;
	r->capture = true;
	r->argvs = argvs;
	err = run(r, opts, res);
	free(r);
	return err;
}

int rlbt_race_fn(int (*fn)(unsigned int i, void *arg), void *arg, unsigned int n,
		 const struct rlbt_race_opts *opts, struct rlbt_race_result *res)
{
	struct race *r = calloc(1, sizeof(*r));
	int err;

	if (!r)
		return -ENOMEM;
	r->n = n;
	r->fn = fn;
	r->arg = arg;
	err = run(r, opts, res);
	free(r);
	return err;
}

void rlbt_race_free(struct rlbt_race_result *res, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++) {
		free(res[i].out);
		free(res[i].err);
		res[i].out = res[i].err = NULL;
	}
}
