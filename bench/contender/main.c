// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* contender: options, the workers of a model, and the same ready line and totals as reuselb. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "contender.h"

static const char usage[] =
	"Usage: contender -p PORT [-a ADDR] [-w N] [-m MODEL] [-M MODE] [-u]\n"
	"\n"
	"A server of the kind reuselb competes with, for bench/run.\n"
	"\n"
	"  -a ADDR   numeric address to bind (default 127.0.0.1)\n"
	"  -p PORT   port, 0 for any free one (required)\n"
	"  -w N      workers (default 2)\n"
	"  -m MODEL  blocking, exclusive, incoming-cpu or ebpf-min (default blocking)\n"
	"  -M MODE   http, echo or id, as reuselb serve --mode (default http)\n"
	"  -u        udp (modes echo and id)\n"
	"\n"
	"Once serving, one line on stdout:\n"
	"  contender: serving tcp ADDR port PORT, N workers, model MODEL, program id ID|none\n"
	"On SIGINT or SIGTERM, one line per worker: worker ID: accepted N, requests N\n";

static const char *const model_names[] = {
	[CTR_BLOCKING] = "blocking",
	[CTR_EXCLUSIVE] = "exclusive",
	[CTR_INCOMING_CPU] = "incoming-cpu",
	[CTR_EBPF_MIN] = "ebpf-min",
};

static const char *const mode_names[] = {
	[CTR_HTTP] = "http",
	[CTR_ECHO] = "echo",
	[CTR_ID] = "id",
};

static int lookup(const char *const *names, int n, const char *s)
{
	for (int i = 0; i < n; i++) {
		if (!strcmp(names[i], s))
			return i;
	}
	return -1;
}

static int parse_args(int argc, char **argv, struct ctr_opts *o, const char **addr_text)
{
	struct sockaddr_in *in = (struct sockaddr_in *)&o->addr;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&o->addr;
	long port = -1;
	int opt, v;
	char *end;

	memset(o, 0, sizeof(*o));
	o->nr_workers = 2;
	*addr_text = "127.0.0.1";
	while ((opt = getopt(argc, argv, "a:p:w:m:M:uh")) != -1) {
		switch (opt) {
		case 'a':
			*addr_text = optarg;
			break;
		case 'p':
			port = strtol(optarg, &end, 10);
			if (*end || end == optarg || port < 0 || port > 65535)
				return -EINVAL;
			break;
		case 'w':
			v = atoi(optarg);
			if (v < 1 || v > CTR_MAX_WORKERS)
				return -EINVAL;
			o->nr_workers = v;
			break;
		case 'm':
			v = lookup(model_names, 4, optarg);
			if (v < 0)
				return -EINVAL;
			o->model = v;
			break;
		case 'M':
			v = lookup(mode_names, 3, optarg);
			if (v < 0)
				return -EINVAL;
			o->mode = v;
			break;
		case 'u':
			o->udp = true;
			break;
		case 'h':
			printf("%s", usage);
			exit(0);
		default:
			return -EINVAL;
		}
	}
	if (optind < argc || port < 0 || (o->udp && o->mode == CTR_HTTP))
		return -EINVAL;
	if (inet_pton(AF_INET, *addr_text, &in->sin_addr) == 1) {
		in->sin_family = AF_INET;
		in->sin_port = htons(port);
		o->addr_len = sizeof(*in);
	} else if (inet_pton(AF_INET6, *addr_text, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(port);
		o->addr_len = sizeof(*in6);
	} else {
		return -EINVAL;
	}
	return 0;
}

/* Wakes every worker: the eventfd for the epoll models, shutdown() for blocking ones. */
static void stop_workers(struct ctr_worker *w, unsigned int n, int stopfd, const int *fds,
			 unsigned int nr_fds)
{
	uint64_t one = 1;

	if (write(stopfd, &one, sizeof(one)) != sizeof(one))
		perror("contender: eventfd");
	for (unsigned int i = 0; i < nr_fds; i++)
		shutdown(fds[i], SHUT_RDWR);
	for (unsigned int i = 0; i < n; i++) {
		int fd = __atomic_load_n(&w[i].busy_fd, __ATOMIC_ACQUIRE);

		if (fd >= 0)
			shutdown(fd, SHUT_RDWR);
	}
}

int main(int argc, char **argv)
{
	static struct ctr_worker workers[CTR_MAX_WORKERS];
	static volatile bool stop;
	int fds[CTR_MAX_WORKERS], stopfd = -1, port, sig, ret = 1;
	unsigned int nr_fds = 0, started = 0;
	uint32_t prog_id;
	const char *addr_text;
	struct ctr_opts o;
	sigset_t sigs;

	if (parse_args(argc, argv, &o, &addr_text)) {
		fprintf(stderr, "contender: bad arguments; see contender -h\n");
		return 2;
	}
	/* blocked before the threads start, so that only sigwait() below takes them */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	port = ctr_open_sockets(&o, fds, &nr_fds, &prog_id);
	stopfd = eventfd(0, EFD_CLOEXEC);
	if (port < 0 || stopfd < 0) {
		fprintf(stderr, "contender: cannot open the listeners: %s\n",
			strerror(port < 0 ? -port : errno));
		goto cleanup;
	}
	for (; started < o.nr_workers; started++) {
		struct ctr_worker *w = &workers[started];

		w->opts = &o;
		w->id = started;
		w->lfd = fds[started % nr_fds];
		w->stopfd = stopfd;
		w->busy_fd = -1;
		w->stop = &stop;
		errno = pthread_create(&w->thread, NULL,
				       o.model == CTR_BLOCKING ? ctr_blocking_main : ctr_epoll_main,
				       w);
		if (errno) {
			perror("contender: pthread_create");
			break;
		}
	}
	if (started == o.nr_workers) {
		printf("contender: serving %s %s port %d, %u workers, model %s, program id ",
		       o.udp ? "udp" : "tcp", addr_text, port, o.nr_workers, model_names[o.model]);
		if (prog_id)
			printf("%u\n", prog_id);
		else
			printf("none\n");
		fflush(stdout);
		sigwait(&sigs, &sig);
		ret = 0;
	}
	stop = true;
	stop_workers(workers, started, stopfd, fds, nr_fds);
	for (unsigned int i = 0; i < started; i++) {
		void *res;

		pthread_join(workers[i].thread, &res);
		if (res) {
			fprintf(stderr, "contender: worker %u failed: %s\n", i,
				strerror(-(int)(intptr_t)res));
			ret = 1;
		}
		printf("worker %u: accepted %" PRIu64 ", requests %" PRIu64 "\n", i,
		       workers[i].accepted, workers[i].requests);
	}
cleanup:
	for (unsigned int i = 0; i < nr_fds; i++) {
		if (fds[i] >= 0)
			close(fds[i]);
	}
	if (stopfd >= 0)
		close(stopfd);
	return ret;
}
