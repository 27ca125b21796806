// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * A server of your own, steered by libreuselb: one thread per worker, each with a blocking
 * accept on its own listener, answering "worker <id>". Build against the installed library:
 *
 *   cc threads.c $(pkg-config --cflags --libs reuselb) -lpthread -o threads
 *   ./threads 8080 4 round-robin
 */
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>
#include <reuselb/reuselb.h>

static struct rlb_group *group;

static void *serve(void *arg)
{
	unsigned int id = (unsigned int)(uintptr_t)arg;
	int lfd = rlb_group_fd(group, id), fd, len;
	char line[32];

	/* the library hands out non-blocking sockets; this server blocks in accept */
	fcntl(lfd, F_SETFL, fcntl(lfd, F_GETFL) & ~O_NONBLOCK);
	while ((fd = accept(lfd, NULL, NULL)) >= 0) {
		rlb_worker_accepted(group, id);
		len = snprintf(line, sizeof(line), "worker %u\n", id);
		if (write(fd, line, len) != len)
			perror("write");
		close(fd);
		rlb_worker_closed(group, id);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	struct rlb_group_opts opts = { .addr = "127.0.0.1", .pin = true };
	pthread_t threads[RLB_MAX_WORKERS];
	sigset_t stop;
	int sig;

	if (argc != 4 || rlb_policy_parse(argv[3], &opts.policy)) {
		fprintf(stderr, "usage: %s PORT WORKERS POLICY (one of %s)\n", argv[0],
			rlb_policy_names());
		return 2;
	}
	opts.port = atoi(argv[1]);
	opts.nr_workers = atoi(argv[2]);
	sigemptyset(&stop);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &stop, NULL);
	if (rlb_group_open(&opts, &group)) {
		fprintf(stderr, "threads: %s\n", rlb_last_error());
		return 1;
	}
	printf("serving group %s on port %u\n", rlb_group_name(group), rlb_group_port(group));
	fflush(stdout);
	for (unsigned int i = 0; i < opts.nr_workers; i++)
		pthread_create(&threads[i], NULL, serve, (void *)(uintptr_t)i);
	sigwait(&stop, &sig);
	/* wakes the blocked accepts */
	for (unsigned int i = 0; i < opts.nr_workers; i++)
		shutdown(rlb_group_fd(group, i), SHUT_RDWR);
	for (unsigned int i = 0; i < opts.nr_workers; i++)
		pthread_join(threads[i], NULL);
	rlb_group_close(group);
	return 0;
}
