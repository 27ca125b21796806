// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Rolling restart. A new instance joins the live group in place: it shares the pinned maps,
 * puts its sockets into the other half of the slots (a generation), attaches its own program
 * (which replaces the old one atomically) and flips config.base to its generation. From that
 * instant new connections go to it. It then asks the old owner to hand over (SIGUSR2): the old
 * one closes its listeners, whose queued requests the migrate program moves to the new
 * generation, finishes what it has, and exits leaving the pins. The new instance takes the
 * pin directory's lock once the old one lets go, and owns the group from then on.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "internal.h"
#include "steer.skel.h"

/* Every map of RLB_MAPS is the pinned one of the same name; the .bss stays our own. */
int rlb_takeover_share_maps(struct rlb_group *g)
{
	struct bpf_map *maps[RLB_MAP__COUNT], *map;
	char path[RLB_PATH_MAX];
	int fd, err;

	rlb_skel_maps(g, maps);
	for (int i = 0; i < RLB_MAP__COUNT; i++) {
		map = maps[i];
		err = rlb_pin_path(path, sizeof(path), g->name, rlb_map_names[i]);
		if (err)
			return err;
		fd = bpf_obj_get(path);
		if (fd < 0)
			return rlb_bpf_error(-errno, path);
		err = bpf_map__reuse_fd(map, fd);
		close(fd);
		if (err)
			return rlb_error(err,
					 "cannot share map %s of group %s: %s (was it made by another "
					 "version of reuselb?)",
					 bpf_map__name(map), g->name, strerror(-err));
	}
	return 0;
}

/*
 * The generation the old owner does not use. One takeover at a time: while a successor that
 * still lives has not taken the pins, the lock holder is on its way out and is no one to take
 * over from.
 */
int rlb_takeover_base(struct rlb_group *g, unsigned int *base)
{
	struct rlb_config cfg;
	__u32 key = 0;

	if (bpf_map_lookup_elem(g->ctl.fd[RLB_MAP_CONFIG], &key, &cfg))
		return rlb_bpf_error(-errno, "cannot read the config map");
	if (cfg.successor && (pid_t)cfg.successor != getpid() &&
	    (kill(cfg.successor, 0) == 0 || errno == EPERM))
		return rlb_error(-EBUSY,
				 "group %s is being taken over by pid %u already: try again once "
				 "it serves alone",
				 g->name, cfg.successor);
	*base = cfg.base == 0 ? RLB_MAX_WORKERS : 0;
	return 0;
}

/* Once the pins are ours, the takeover is over: another may start. */
static void clear_successor(struct rlb_group *g)
{
	struct rlb_config cfg;
	__u32 key = 0;

	if (bpf_map_lookup_elem(g->ctl.fd[RLB_MAP_CONFIG], &key, &cfg) == 0) {
		cfg.successor = 0;
		bpf_map_update_elem(g->ctl.fd[RLB_MAP_CONFIG], &key, &cfg, 0);
	}
}

/*
 * Waits for the old owner to release the pin directory, then pins our program in place of
 * its. Polls rather than blocks, so that closing the group can stop the wait.
 */
static void *wait_for_lock(void *arg)
{
	struct timespec pause = { .tv_nsec = 50 * 1000 * 1000 };
	struct rlb_group *g = arg;
	char dir[RLB_PATH_MAX], prog[RLB_PATH_MAX];
	int fd;

	if (rlb_pin_path(dir, sizeof(dir), g->name, NULL) ||
	    rlb_pin_path(prog, sizeof(prog), g->name, RLB_PIN_PROG))
		return NULL;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	while (flock(fd, LOCK_EX | LOCK_NB)) {
		if (__atomic_load_n(&g->waiter_stop, __ATOMIC_ACQUIRE)) {
			close(fd);
			return NULL;
		}
		nanosleep(&pause, NULL);
	}
	unlink(prog);
	bpf_program__pin(g->skel->progs.rlb_steer, prog);
	clear_successor(g);
	__atomic_store_n(&g->lock_fd, fd, __ATOMIC_RELEASE);
	return NULL;
}

int rlb_takeover_finish(struct rlb_group *g)
{
	int prog_fd = bpf_program__fd(g->skel->progs.rlb_steer), err;
	struct rlb_config cfg;
	__u32 key = 0;

	/* our sockets are in the group now: attaching here replaces the old program for all */
	if (setsockopt(g->fds[0], SOL_SOCKET, SO_ATTACH_REUSEPORT_EBPF, &prog_fd, sizeof(prog_fd)))
		return rlb_bpf_error(-errno, "cannot attach the steering program");
	if (bpf_map_lookup_elem(g->ctl.fd[RLB_MAP_CONFIG], &key, &cfg))
		return rlb_bpf_error(-errno, "cannot read the config map");
	cfg.base = g->base;
	cfg.nr_workers = g->opts.nr_workers;
	cfg.policy = g->opts.policy;
	cfg.flags = rlb_config_flags(g);
	cfg.flow_timeout = rlb_flow_timeout(g);
	cfg.successor = getpid();
	/* the tables must describe our generation before config points at it */
	err = rlb_build_tables_for(&g->ctl, &cfg);
	if (err)
		return err;
	if (bpf_map_update_elem(g->ctl.fd[RLB_MAP_CONFIG], &key, &cfg, 0))
		return rlb_bpf_error(-errno, "cannot write the config map");
	if (g->predecessor > 0 && kill(g->predecessor, SIGUSR2))
		return rlb_error(-errno, "cannot ask pid %d to hand over group %s: %s",
				 g->predecessor, g->name, strerror(errno));
	err = pthread_create(&g->waiter, NULL, wait_for_lock, g);
	if (err)
		return rlb_error(-err, "cannot start a thread: %s", strerror(err));
	g->waiter_running = true;
	return 0;
}

void rlb_takeover_stop(struct rlb_group *g)
{
	if (!g->waiter_running)
		return;
	__atomic_store_n(&g->waiter_stop, 1, __ATOMIC_RELEASE);
	pthread_join(g->waiter, NULL);
	g->waiter_running = false;
}

int rlb_group_handover(struct rlb_group *g)
{
	/* UDP sockets stay for the flows they have; listeners close and their queues migrate */
	struct rlb_worker w = { .state = g->opts.udp ? RLB_WORKER_DRAINING : RLB_WORKER_EMPTY };

	if (!g->skel)
		return rlb_error(-EOPNOTSUPP, "group %s has no steering program to hand over",
				 g->name);
	for (__u32 i = 0; i < g->opts.nr_workers; i++) {
		__u32 slot = g->base + i;

		if (bpf_map_update_elem(g->ctl.fd[RLB_MAP_WORKERS], &slot, &w, 0))
			return rlb_bpf_error(-errno, "cannot write the workers map");
	}
	g->handed_over = true;
	return 0;
}

bool rlb_group_handed_over(const struct rlb_group *g)
{
	return g->handed_over;
}

bool rlb_group_owns_pins(const struct rlb_group *g)
{
	return __atomic_load_n(&g->lock_fd, __ATOMIC_ACQUIRE) >= 0;
}
