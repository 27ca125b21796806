// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Rolling restart. A new instance joins the live group in place: it shares the pinned maps,
 * puts its sockets into the other half of the slots (a generation), attaches its own program
 * (which replaces the old one atomically) and flips config.base to its generation. From that
 * instant new connections go to it. The old owner keeps its listeners in the group until the
 * new one has served for a while, then closes them (their queued requests migrate to the new
 * generation), finishes what it has, and exits leaving the pins. The new instance takes the
 * pin directory's lock once the old one lets go, and owns the group from then on.
 *
 * The steps are recorded in config (successor, handover, owner, prev_*) and each is taken
 * under the control lock, with the other side's pid checked for life: two successors cannot
 * both claim the group, a claim whose successor died is cleared by whoever sees it next, and
 * the owner takes its generation back when the successor dies before it let go.
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
#include "rollout.h"
#include "steer.skel.h"

static const char *const state_names[] = {
	[RLB_HANDOVER_NONE] = "none",
	[RLB_HANDOVER_PROPOSED] = "proposed",
	[RLB_HANDOVER_JOINED] = "joined",
	[RLB_HANDOVER_SERVING] = "serving",
	[RLB_HANDOVER_RELEASED] = "released",
	[RLB_HANDOVER_CANARY] = "canary",
	[RLB_HANDOVER_ROLLBACK] = "rolling back",
};

const char *rlb_handover_name(unsigned int state)
{
	return state < sizeof(state_names) / sizeof(state_names[0]) ? state_names[state] : "?";
}

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
		/* members and flows_new came later: from an older owner, the successor keeps a
		 * map of its own */
		if (fd < 0 && errno == ENOENT && (i == RLB_MAP_MEMBERS || i == RLB_MAP_FLOWS_NEW))
			continue;
		if (fd < 0 && errno == ENOENT)
			return rlb_error(
				-EAGAIN,
				"group %s is still starting: pid %d has not pinned its maps "
				"yet (%s); try again once it serves",
				g->name, g->predecessor, path);
		if (fd < 0)
			return rlb_bpf_error(-errno, path);
		err = bpf_map__reuse_fd(map, fd);
		close(fd);
		if (err)
			return rlb_error(
				err,
				"cannot share map %s of group %s: %s (was it made by another "
				"version of reuselb?)",
				bpf_map__name(map), g->name, strerror(-err));
	}
	return 0;
}

/* Every slot of a generation out of the rotation; its sockets are gone or going. */
static void empty_generation(struct rlb_ctl *c, unsigned int base)
{
	struct rlb_worker w = { .state = RLB_WORKER_EMPTY };

	for (__u32 slot = base; slot < base + RLB_MAX_WORKERS; slot++)
		bpf_map_update_elem(c->fd[RLB_MAP_WORKERS], &slot, &w, 0);
}

/*
 * The takeover named in cfg ends without its successor: config goes back to the owner's
 * generation as it was at the claim (unless the owner had let go already: then there is
 * nothing to go back to), and the successor's slots leave the rotation. Hold the control lock;
 * cfg is what config holds, and is updated.
 */
static int undo_takeover(struct rlb_ctl *c, struct rlb_config *cfg)
{
	unsigned int theirs = cfg->prev_base == 0 ? RLB_MAX_WORKERS : 0;
	int err;

	if (cfg->handover >= RLB_HANDOVER_JOINED && cfg->handover <= RLB_HANDOVER_SERVING &&
	    cfg->base != cfg->prev_base) {
		cfg->base = cfg->prev_base;
		cfg->nr_workers = cfg->prev_nr_workers;
		cfg->policy = cfg->prev_policy;
		/* the tables must describe the owner's generation before config points at it */
		err = rlb_build_tables_for(c, cfg);
		if (err)
			return err;
	}
	rlb_rollout_end(cfg);
	cfg->successor = 0;
	cfg->handover = RLB_HANDOVER_NONE;
	cfg->owner = 0;
	err = rlb_write_config(c, cfg);
	if (!err && cfg->base != theirs)
		empty_generation(c, theirs);
	return err;
}

int rlb_takeover_claim(struct rlb_group *g)
{
	char dir[RLB_PATH_MAX];
	struct rlb_config cfg;
	int err, owner;

	/*
	 * The successor must re-pin the program once it owns the group: on a read-only bpffs
	 * it could not, and would claim a group whose pins name another program.
	 */
	err = rlb_pin_path(dir, sizeof(dir), g->name, NULL);
	if (err)
		return err;
	if (access(dir, W_OK) && errno == EROFS)
		return rlb_error(
			-EROFS,
			"cannot take over group %s: %s is on a read-only bpffs (%s), and a "
			"successor must re-pin the program there; pid %d keeps serving: "
			"remount it read-write (mount -o remount,rw %s) and try again",
			g->name, dir, strerror(EROFS), g->predecessor, RLB_BPFFS);
	err = rlb_ctl_lock(&g->ctl);
	if (err)
		return err;
	err = rlb_read_config(&g->ctl, &cfg);
	/*
	 * A successor that is alive comes first: while it takes the pins over from the owner
	 * that released them, the group has no locked owner to name.
	 */
	if (!err && cfg.successor && (pid_t)cfg.successor != getpid()) {
		if (rlb_pid_alive(cfg.successor))
			err = rlb_error(
				-EBUSY,
				"group %s is being taken over by pid %u already (%s): this "
				"instance stops before binding anything; try again once that "
				"one serves alone (reuselb list names it)",
				g->name, cfg.successor, rlb_handover_name(cfg.handover));
		else
			err = undo_takeover(&g->ctl, &cfg);
	}
	/*
	 * The owner this instance found at its start may have handed over since, to a
	 * successor that started with us: taking over from that one would chain a second
	 * takeover onto the first.
	 */
	owner = rlb_group_live(g->name);
	if (!err && owner != g->predecessor)
		err = rlb_error(-EBUSY,
				"group %s changed hands while this instance started (pid %d serves "
				"it now, not pid %d): this instance stops before binding anything; "
				"try again",
				g->name, owner, g->predecessor);
	if (!err) {
		cfg.successor = getpid();
		cfg.handover = RLB_HANDOVER_PROPOSED;
		cfg.owner = g->predecessor;
		cfg.prev_base = cfg.base;
		cfg.prev_nr_workers = cfg.nr_workers;
		cfg.prev_policy = cfg.policy;
		err = rlb_write_config(&g->ctl, &cfg);
	}
	if (!err) {
		g->base = cfg.base == 0 ? RLB_MAX_WORKERS : 0;
		g->claimed = true;
	}
	rlb_ctl_unlock(&g->ctl);
	return err;
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
	struct rlb_config cfg;
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
	if (unlink(prog) && errno != ENOENT)
		g->pin_err = -errno;
	else if (bpf_program__pin(g->skel->progs.rlb_steer, prog))
		g->pin_err = -errno;
	/* the pins are ours: the takeover is over, another may start */
	if (!rlb_ctl_lock(&g->ctl)) {
		if (!rlb_read_config(&g->ctl, &cfg) && (pid_t)cfg.successor == getpid()) {
			cfg.successor = 0;
			cfg.handover = RLB_HANDOVER_NONE;
			cfg.owner = 0;
			rlb_write_config(&g->ctl, &cfg);
		}
		rlb_ctl_unlock(&g->ctl);
	}
	g->claimed = false;
	__atomic_store_n(&g->lock_fd, fd, __ATOMIC_RELEASE);
	return NULL;
}

static int attach(struct rlb_group *g)
{
	int prog_fd = bpf_program__fd(g->skel->progs.rlb_steer);

	for (unsigned int i = 0; i < g->opts.nr_workers; i++) {
		if (g->fds[i] < 0)
			continue;
		if (setsockopt(g->fds[i], SOL_SOCKET, SO_ATTACH_REUSEPORT_EBPF, &prog_fd,
			       sizeof(prog_fd)))
			return rlb_bpf_error(-errno, "cannot attach the steering program");
		return 0;
	}
	return rlb_error(-EBADF, "group %s has no socket left to attach its program to", g->name);
}

int rlb_takeover_finish(struct rlb_group *g)
{
	struct rlb_config cfg;
	int err;

	err = rlb_ctl_lock(&g->ctl);
	if (err)
		return err;
	err = rlb_read_config(&g->ctl, &cfg);
	if (!err && (pid_t)cfg.successor != getpid())
		err = rlb_error(-ECANCELED,
				"the takeover of group %s was called off while this instance "
				"bound its sockets (pid %d stopped, or took the group back): "
				"nothing was changed; start it again",
				g->name, g->predecessor);
	/* our sockets are in the group now: attaching here replaces the old program for all */
	if (!err)
		err = attach(g);
	if (!err && g->opts.canary) {
		rlb_rollout_join(g, &cfg);
	} else if (!err) {
		cfg.base = g->base;
		cfg.nr_workers = g->opts.nr_workers;
		cfg.policy = g->opts.policy;
		cfg.flags = rlb_config_flags(g);
		cfg.flow_timeout = rlb_flow_timeout(g);
		cfg.handover = RLB_HANDOVER_JOINED;
		/* the tables must describe our generation before config points at it */
		err = rlb_build_tables_for(&g->ctl, &cfg);
	}
	if (!err)
		err = rlb_write_config(&g->ctl, &cfg);
	rlb_ctl_unlock(&g->ctl);
	if (err)
		return err;
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

int rlb_group_serving(struct rlb_group *g)
{
	struct rlb_config cfg;
	int err;

	if (!g->skel || !g->predecessor || rlb_group_owns_pins(g))
		return 0;
	err = rlb_ctl_lock(&g->ctl);
	if (err)
		return err;
	err = rlb_read_config(&g->ctl, &cfg);
	if (!err && (pid_t)cfg.successor == getpid() && cfg.handover == RLB_HANDOVER_JOINED) {
		cfg.handover = RLB_HANDOVER_SERVING;
		err = rlb_write_config(&g->ctl, &cfg);
	}
	rlb_ctl_unlock(&g->ctl);
	if (err)
		return err;
	/* a predecessor that is gone already has nothing to do: its lock comes to us */
	if (kill(g->predecessor, SIGUSR2) && errno != ESRCH)
		return rlb_error(-errno, "cannot ask pid %d to hand over group %s: %s",
				 g->predecessor, g->name, strerror(errno));
	return 0;
}

int rlb_group_check_takeover(struct rlb_group *g, struct rlb_takeover_view *v)
{
	struct rlb_config cfg;
	int err;

	*v = (struct rlb_takeover_view){ 0 };
	if (!g->skel || g->handed_over || !rlb_group_owns_pins(g))
		return 0;
	err = rlb_read_config(&g->ctl, &cfg);
	if (err)
		return err;
	if (!cfg.successor || (pid_t)cfg.successor == getpid()) {
		/* no successor (someone else undid a dead one): no copy is worth keeping */
		rlb_hold_sweep(g, 0);
		return 0;
	}
	v->successor = cfg.successor;
	v->state = cfg.handover;
	/* a canary rolled back: it leaves, and the program that runs should be ours again */
	if (cfg.handover == RLB_HANDOVER_ROLLBACK && g->reattached != v->successor) {
		g->reattached = v->successor;
		err = attach(g);
		if (err)
			return err;
	}
	if (rlb_pid_alive(cfg.successor)) {
		/* a canary rolled back closes its listeners: our copies must not keep them */
		rlb_hold_sweep(g, cfg.handover == RLB_HANDOVER_ROLLBACK ? 0 : v->successor);
		return 0;
	}
	err = rlb_ctl_lock(&g->ctl);
	if (err)
		return err;
	err = rlb_read_config(&g->ctl, &cfg);
	/* under the lock: a successor that took another step, or someone undid it already */
	if (!err && (int)cfg.successor == v->successor && !rlb_pid_alive(cfg.successor)) {
		v->state = cfg.handover;
		err = undo_takeover(&g->ctl, &cfg);
		/* the pin names our program: the one that runs should be it again */
		if (!err && cfg.base == g->base)
			err = attach(g);
		v->undone = !err;
	}
	rlb_ctl_unlock(&g->ctl);
	/* config points at us again: the dead one's listeners close, their queues come to us */
	rlb_hold_sweep(g, 0);
	return err;
}

int rlb_group_handover(struct rlb_group *g)
{
	/* UDP sockets stay for the flows they have; listeners close and their queues migrate */
	struct rlb_worker w = { .state = g->opts.udp ? RLB_WORKER_DRAINING : RLB_WORKER_EMPTY };
	struct rlb_config cfg;
	int err;

	if (!g->skel)
		return rlb_error(-EOPNOTSUPP, "group %s has no steering program to hand over",
				 g->name);
	err = rlb_ctl_lock(&g->ctl);
	if (err)
		return err;
	err = rlb_read_config(&g->ctl, &cfg);
	if (!err && (!cfg.successor || (pid_t)cfg.successor == getpid()))
		err = rlb_error(-EAGAIN, "no successor is taking group %s over", g->name);
	else if (!err && !rlb_pid_alive(cfg.successor))
		err = rlb_error(-ESRCH, "pid %u, which was taking group %s over, is gone",
				cfg.successor, g->name);
	else if (!err && (cfg.handover != RLB_HANDOVER_SERVING || cfg.base == g->base))
		err = rlb_error(-EAGAIN, "pid %u does not serve group %s yet (%s)", cfg.successor,
				g->name, rlb_handover_name(cfg.handover));
	if (!err) {
		cfg.handover = RLB_HANDOVER_RELEASED;
		err = rlb_write_config(&g->ctl, &cfg);
	}
	for (__u32 i = 0; i < g->opts.nr_workers && !err; i++) {
		__u32 slot = g->base + i;

		if (bpf_map_update_elem(g->ctl.fd[RLB_MAP_WORKERS], &slot, &w, 0))
			err = rlb_bpf_error(-errno, "cannot write the workers map");
	}
	if (!err)
		g->handed_over = true;
	rlb_ctl_unlock(&g->ctl);
	/* the successor serves alone from now on: it holds its listeners itself */
	if (!err)
		rlb_hold_sweep(g, 0);
	return err;
}

/*
 * Closing the group in the middle of a takeover. The owner leaves program and pins to a live
 * successor that has joined (as if it had handed over: its listeners' queues migrate to it),
 * and calls off one that has only claimed (it stops before it joins). A successor that does
 * not own the pins yet undoes its own takeover, unless the owner let go already.
 */
void rlb_takeover_leave(struct rlb_group *g)
{
	struct rlb_config cfg;
	pid_t self = getpid();

	if (!g->skel || g->handed_over || (!g->claimed && !rlb_group_owns_pins(g)))
		return;
	if (rlb_ctl_lock(&g->ctl))
		return;
	if (rlb_read_config(&g->ctl, &cfg) || !cfg.successor)
		goto out;
	if (g->claimed && (pid_t)cfg.successor == self) {
		if (cfg.handover != RLB_HANDOVER_RELEASED)
			undo_takeover(&g->ctl, &cfg);
	} else if ((pid_t)cfg.successor != self && rlb_group_owns_pins(g) &&
		   rlb_pid_alive(cfg.successor)) {
		if (cfg.handover >= RLB_HANDOVER_JOINED) {
			rlb_rollout_owner_leaves(&g->ctl, &cfg);
			cfg.handover = RLB_HANDOVER_RELEASED;
			rlb_write_config(&g->ctl, &cfg);
			g->handed_over = true;
		} else {
			cfg.successor = 0;
			cfg.handover = RLB_HANDOVER_NONE;
			cfg.owner = 0;
			rlb_write_config(&g->ctl, &cfg);
		}
	}
out:
	rlb_ctl_unlock(&g->ctl);
}

bool rlb_group_handed_over(const struct rlb_group *g)
{
	return g->handed_over;
}

bool rlb_takeover_successor_alive(struct rlb_group *g)
{
	struct rlb_config cfg;

	/* it clears config.successor only once it has our lock, which we hold until we close */
	return !rlb_read_config(&g->ctl, &cfg) && cfg.successor &&
	       (pid_t)cfg.successor != getpid() && rlb_pid_alive(cfg.successor);
}

int rlb_group_pin_error(const struct rlb_group *g)
{
	return rlb_group_owns_pins(g) ? g->pin_err : 0;
}

bool rlb_group_owns_pins(const struct rlb_group *g)
{
	return __atomic_load_n(&g->lock_fd, __ATOMIC_ACQUIRE) >= 0;
}

bool rlb_group_released(struct rlb_group *g)
{
	struct rlb_config cfg;

	if (!g->skel || rlb_group_owns_pins(g))
		return true;
	/* the successor's pid stays in config until it takes the pins */
	return !rlb_read_config(&g->ctl, &cfg) && (pid_t)cfg.successor == getpid() &&
	       cfg.handover == RLB_HANDOVER_RELEASED;
}
