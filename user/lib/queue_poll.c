// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The queue policy's depths, written by the group's owner: every RLB_QUEUE_POLL_MS it reads
 * each serving listener's accept queue from sock_diag (queues.c) and stores it in the load
 * map's depth field through the mapping, never with a whole-value map update, which would
 * race with the workers' counters in the same entry. The program raises a depth by one for
 * each connection it steers in between (bpf/queue.bpf.h); a reading puts it back to the truth.
 *
 * rlb_group_open starts a thread that does this for its own group while the policy is queue;
 * a process that follows a group it did not open (an adopted one) calls rlb_queue_poll from
 * its own loop.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <bpf/bpf.h>
#include "internal.h"

/* How often the thread looks while the policy is something else. */
#define IDLE_POLL_MS 100

struct rlb_queue_poller {
	struct rlb_ctl *ctl;
	struct rlb_load *load;
	size_t load_len;
};

struct rlb_queue_watch {
	struct rlb_queue_poller *poller;
	pthread_t thread;
	int stopfd;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

int rlb_queue_poller_open(struct rlb_ctl *ctl, struct rlb_queue_poller **out)
{
	struct rlb_queue_poller *p;
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	int fd = ctl->fd[RLB_MAP_LOAD];

	*out = NULL;
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return rlb_bpf_error(-errno, "cannot read the load map");
	if (!(info.map_flags & BPF_F_MMAPABLE))
		return rlb_error(-EOPNOTSUPP,
				 "the load map of group %s is not mmapable: the "
				 "queue policy needs Linux 5.5+",
				 ctl->name);
	p = calloc(1, sizeof(*p));
	if (!p)
		return rlb_error(-ENOMEM, "out of memory");
	p->ctl = ctl;
	p->load_len = (size_t)info.max_entries * sizeof(struct rlb_load);
	p->load = mmap(NULL, p->load_len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p->load == MAP_FAILED) {
		int err = -errno;

		free(p);
		return rlb_error(err, "cannot map the load map of group %s: %s", ctl->name,
				 strerror(-err));
	}
	*out = p;
	return 0;
}

void rlb_queue_poller_close(struct rlb_queue_poller *p)
{
	if (!p)
		return;
	munmap(p->load, p->load_len);
	free(p);
}

int rlb_queue_poll(struct rlb_queue_poller *p)
{
	struct rlb_queue q[RLB_MAX_WORKERS];
	/* room for a newer build's longer config: the lookup writes the map's value size */
	union {
		struct rlb_config cfg;
		__u8 room[1024];
	} u;
	struct rlb_config cfg;
	unsigned int nr;
	__u32 key = 0;
	uint64_t at;
	int err;

	if (bpf_map_lookup_elem(p->ctl->fd[RLB_MAP_CONFIG], &key, &u))
		return rlb_bpf_error(-errno, "cannot read the config map");
	cfg = u.cfg;
	err = rlb_ctl_read_queues(p->ctl, q, &nr);
	if (err)
		return err;
	at = now_ns();
	for (unsigned int i = 0; i < nr && cfg.base + i < RLB_MAX_SLOTS; i++) {
		struct rlb_load *l = &p->load[cfg.base + i];

		/* a closed worker's queue is gone: 0, and the program skips it anyway */
		__atomic_store_n(&l->depth, q[i].known ? q[i].queue : 0, __ATOMIC_RELAXED);
		__atomic_store_n(&l->depth_ns, at, __ATOMIC_RELEASE);
	}
	return 0;
}

static bool stopping(const struct rlb_queue_watch *w, int timeout_ms)
{
	struct pollfd pfd = { .fd = w->stopfd, .events = POLLIN };

	return poll(&pfd, 1, timeout_ms) != 0;
}

static void *watch_main(void *arg)
{
	struct rlb_queue_watch *w = arg;
	int wait_ms = 0;

	while (!stopping(w, wait_ms)) {
		struct rlb_config cfg;
		__u32 key = 0;

		wait_ms = IDLE_POLL_MS;
		if (bpf_map_lookup_elem(w->poller->ctl->fd[RLB_MAP_CONFIG], &key, &cfg) ||
		    cfg.policy != RLB_POLICY_QUEUE)
			continue;
		/* a failed reading keeps the last depths; the next one tries again */
		rlb_queue_poll(w->poller);
		wait_ms = RLB_QUEUE_POLL_MS;
	}
	return NULL;
}

int rlb_queue_watch_start(struct rlb_group *g)
{
	struct rlb_queue_watch *w;
	int err;

	/* the program of the kfunc build reads the queues itself */
	if (!g->skel || !g->features.mmapable || g->features.queue_kfuncs)
		return 0;
	w = calloc(1, sizeof(*w));
	if (!w)
		return rlb_error(-ENOMEM, "out of memory");
	w->stopfd = eventfd(0, EFD_CLOEXEC);
	if (w->stopfd < 0) {
		err = rlb_error(-errno, "cannot make an eventfd: %s", strerror(errno));
		free(w);
		return err;
	}
	err = rlb_queue_poller_open(&g->ctl, &w->poller);
	if (!err) {
		err = -pthread_create(&w->thread, NULL, watch_main, w);
		if (err)
			rlb_error(err, "cannot start the queue poller: %s", strerror(-err));
	}
	if (err) {
		rlb_queue_poller_close(w->poller);
		close(w->stopfd);
		free(w);
		return err;
	}
	g->queues = w;
	return 0;
}

void rlb_queue_watch_stop(struct rlb_group *g)
{
	struct rlb_queue_watch *w = g->queues;
	uint64_t one = 1;

	if (!w)
		return;
	if (write(w->stopfd, &one, sizeof(one)) == sizeof(one))
		pthread_join(w->thread, NULL);
	rlb_queue_poller_close(w->poller);
	close(w->stopfd);
	free(w);
	g->queues = NULL;
}
