// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Winding down after a handover: wait for the workers to finish, within the grace period. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>
#include "server/handover.h"

/* What is left to wait, in ms (0: done); *deadline when the grace period is what ends it. */
static uint64_t left_ms(const struct server *s, const struct handover_opts *o, uint64_t start,
			uint64_t end, bool *deadline)
{
	uint64_t now = server_now_ms(), quiet_end;

	*deadline = false;
	if (!o->udp && server_drained(s))
		return 0;
	if (now >= end) {
		*deadline = true;
		return 0;
	}
	if (!o->udp)
		return end - now;
	/* a flow that was quiet since before the handover counts from the handover */
	quiet_end = server_last_datagram_ms(s);
	quiet_end = (quiet_end > start ? quiet_end : start) + o->flow_timeout_s * 1000ull;
	if (now >= quiet_end)
		return 0;
	return (quiet_end < end ? quiet_end : end) - now;
}

/* Takes the pending signals; true if one of them asks us to stop now. */
static bool stop_signal(int sigfd)
{
	struct signalfd_siginfo si;
	bool stop = false;

	/* the signalfd is blocking: read only what poll() said is there, one at a time */
	for (int i = 0; i < 8; i++) {
		struct pollfd pfd = { .fd = sigfd, .events = POLLIN };

		if (poll(&pfd, 1, 0) <= 0 || read(sigfd, &si, sizeof(si)) != sizeof(si))
			break;
		/* a second SIGUSR2 (another successor?) changes nothing: we are leaving already */
		stop |= si.ssi_signo == SIGINT || si.ssi_signo == SIGTERM;
	}
	return stop;
}

int server_wind_down(struct server *s, const struct handover_opts *o, struct handover_result *r)
{
	uint64_t start = server_now_ms(), end = start + o->grace_s * 1000ull, left;
	int err = 0;

	*r = (struct handover_result){ 0 };
	server_handover(s);
	/* bounded: every turn either finds the end or sleeps towards a deadline that exists */
	while ((left = left_ms(s, o, start, end, &r->deadline))) {
		struct pollfd pfd[] = {
			{ .fd = o->sigfd, .events = POLLIN },
			{ .fd = server_failure_fd(s), .events = POLLIN },
			{ .fd = server_idle_fd(s), .events = POLLIN },
		};
		uint64_t count;

		if (poll(pfd, 3, left < 60000 ? (int)left : 60000) < 0) {
			if (errno == EINTR)
				continue;
			err = -errno;
			break;
		}
		if (pfd[0].revents && stop_signal(o->sigfd)) {
			r->interrupted = true;
			break;
		}
		if (pfd[1].revents)
			break;
		/* the idle eventfd only wakes us: server_drained() says whether all are done */
		if (pfd[2].revents && read(server_idle_fd(s), &count, sizeof(count)) < 0)
			count = 0;
	}
	server_stop(s);
	for (unsigned int i = 0; i < server_nr_workers(s); i++) {
		struct server_worker_stats st;

		server_worker_stats(s, i, &st);
		r->cut += st.cut;
	}
	return err;
}
