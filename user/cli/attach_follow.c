// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * reuselb attach --follow. The server changes its sockets on its own (a reload with another
 * worker count, a crashed worker replaced, a restart with new sockets): each turn looks for
 * them again and makes the maps follow. A turn every 250 ms keeps the re-sync within the 1 s
 * the issue promises, and costs a walk of /proc/PID/fd per turn.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "cli/cli.h"
#include "cli/attach_follow.h"

#define FOLLOW_TURN_MS 250

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

int attach_follow(struct rlb_group *g, bool detach_on_exit)
{
	struct timespec turn = { .tv_nsec = FOLLOW_TURN_MS * 1000000L };
	struct sigaction sa = { .sa_handler = on_signal };
	char msg[512];
	int ret = CLI_EXIT_OK, err, last_err = 0;

	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	fprintf(stderr, "reuselb attach: following group %s (SIGTERM stops; the program %s)\n",
		rlb_group_name(g), detach_on_exit ? "is then detached" : "then stays");
	while (!stop) {
		err = rlb_group_adopt_sync(g, msg, sizeof(msg));
		if (err > 0)
			fprintf(stderr, "reuselb attach: group %s re-synced: %s\n",
				rlb_group_name(g), msg);
		else if (err < 0 && err != last_err)
			/* said once per kind of failure; the next turn tries again */
			fprintf(stderr, "reuselb attach: group %s: cannot re-sync: %s\n",
				rlb_group_name(g), rlb_last_error());
		last_err = err < 0 ? err : 0;
		/*
		 * An owner's periodic work goes here, once per turn: e.g. the accept-queue
		 * poller of issue 12 (sock_diag) that writes each member's queue into "load".
		 */
		nanosleep(&turn, NULL);
	}
	fprintf(stderr, "reuselb attach: stopping; group %s %s\n", rlb_group_name(g),
		detach_on_exit ? "detached, back to the kernel's hash" : "stays attached");
	rlb_group_release(g, detach_on_exit);
	return ret;
}
