// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Adopted groups (reuselb attach): sockets other processes opened, steered by the same program,
 * maps and pins as a group of our own (group.c does the loading). This file decides which
 * sockets form the group, refuses what would not be one group, keeps the maps in step with
 * the sockets (sync), and gives the group back to the kernel's hash (detach).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "adopt.h"

#ifndef SO_DETACH_REUSEPORT_BPF
#define SO_DETACH_REUSEPORT_BPF 68
#endif
#ifndef SO_COOKIE
#define SO_COOKIE 57
#endif

/* What the group was adopted from, to look for its sockets again (sync, detach). */
struct rlb_adopt_ctx {
	struct rlb_adopt_opts opts;
	char addr[INET6_ADDRSTRLEN];
	int pids[RLB_SCAN_PIDS];
};

/* The sockets chosen for the group: indexes into the scan, in pid then fd order. */
struct choice {
	int idx[RLB_MAX_WORKERS];
	int nr;
};

static const char *proto(bool udp)
{
	return udp ? "udp" : "tcp";
}

static void addr_text(const struct rlb_found *f, char *buf, size_t len)
{
	if (!inet_ntop(f->family, f->addr, buf, len))
		snprintf(buf, len, "?");
}

static void comm_of(int pid, char comm[16])
{
	rlb_member_comm(pid, comm);
}

static int parse_opt_addr(const char *addr, unsigned int *family, __u8 out[16])
{
	memset(out, 0, 16);
	if (inet_pton(AF_INET, addr, out) == 1)
		*family = AF_INET;
	else if (inet_pton(AF_INET6, addr, out) == 1)
		*family = AF_INET6;
	else
		return rlb_error(-EINVAL, "bad address '%s': give a numeric IPv4 or IPv6 address",
				 addr);
	return 0;
}

/* Nothing to adopt: say what is on the port instead, and what to give. */
static int none_found(const struct rlb_adopt_opts *o, const struct rlb_scan *s)
{
	static struct rlb_scan other;
	char a[INET6_ADDRSTRLEN], where[INET6_ADDRSTRLEN + 32];

	snprintf(where, sizeof(where), "%s%s", o->addr ? o->addr : "", o->addr ? " " : "");
	for (int i = 0; i < s->nr; i++) {
		if (!s->found[i].pid)
			continue;
		addr_text(&s->found[i], a, sizeof(a));
		return rlb_error(
			-ENOENT,
			"no %s socket on %sport %u: pid %d listens on %s port %u; give -a %s",
			proto(o->udp), where, o->port, s->found[i].pid, a, o->port, a);
	}
	if (rlb_scan_port(&other, !o->udp, o->port, o->pids, o->nr_pids) == 0)
		for (int i = 0; i < other.nr; i++)
			if (other.found[i].pid)
				return rlb_error(
					-ENOENT,
					"no %s socket on %sport %u, but pid %d has a %s socket "
					"there: %s",
					proto(o->udp), where, o->port, other.found[i].pid,
					proto(!o->udp), o->udp ? "leave out --udp" : "add --udp");
	if (o->nr_pids)
		return rlb_error(-ENOENT,
				 "no %s socket on %sport %u in the given pids: start the server "
				 "first, or give the pids of its workers",
				 proto(o->udp), where, o->port);
	return rlb_error(-ENOENT,
			 "no process has a %s socket on %sport %u: start the server "
			 "first (with SO_REUSEPORT)",
			 proto(o->udp), where, o->port);
}

/* Why a and b cannot be one reuseport group, or NULL when they can. */
static const char *apart(const struct rlb_found *a, const struct rlb_found *b)
{
	if (a->netns != b->netns)
		return "another network namespace";
	if (a->family != b->family || memcmp(a->addr, b->addr, 16))
		return "another address";
	if (a->uid != b->uid)
		return "another user";
	return NULL;
}

static bool before(const struct rlb_found *a, const struct rlb_found *b)
{
	return a->pid != b->pid ? a->pid < b->pid : a->fd < b->fd;
}

/* Slots in pid then fd order, so that a listing reads like ps. */
static void sort_choice(struct choice *c, const struct rlb_scan *s)
{
	for (int i = 1; i < c->nr; i++)
		for (int j = i; j > 0 && before(&s->found[c->idx[j]], &s->found[c->idx[j - 1]]);
		     j--) {
			int t = c->idx[j];

			c->idx[j] = c->idx[j - 1];
			c->idx[j - 1] = t;
		}
}

/* Of the sockets scanned, those of the group o names: one group, or an error saying why not. */
static int choose(const struct rlb_adopt_opts *o, struct rlb_scan *s, struct choice *c)
{
	char a[INET6_ADDRSTRLEN], b[INET6_ADDRSTRLEN], ca[16], cb[16];
	const struct rlb_found *first = NULL;
	unsigned int family = 0;
	__u8 want[16];
	const char *why;
	int err;

	c->nr = 0;
	if (o->addr) {
		err = parse_opt_addr(o->addr, &family, want);
		if (err)
			return err;
	}
	for (int i = 0; i < s->nr; i++) {
		const struct rlb_found *f = &s->found[i];

		if (!f->pid)
			continue; /* no process among those scanned holds it */
		if (o->addr && (f->family != family || memcmp(f->addr, want, 16)))
			continue;
		if (first && (why = apart(first, f))) {
			addr_text(first, a, sizeof(a));
			addr_text(f, b, sizeof(b));
			comm_of(first->pid, ca);
			comm_of(f->pid, cb);
			return rlb_error(
				-EINVAL,
				"the sockets on port %u form two groups: pid %d (%s) on %s "
				"and pid %d (%s) on %s, %s; name one with -a ADDR or --pid",
				o->port, first->pid, ca, a, f->pid, cb, b, why);
		}
		if (c->nr == RLB_MAX_WORKERS)
			return rlb_error(-E2BIG,
					 "more than %d sockets on port %u: reuselb steers "
					 "at most %d workers",
					 RLB_MAX_WORKERS, o->port, RLB_MAX_WORKERS);
		first = first ? first : f;
		c->idx[c->nr++] = i;
	}
	if (!c->nr)
		return none_found(o, s);
	sort_choice(c, s);
	return 0;
}

/* A copy of the socket f from its server, checked to be one steering can take. */
static int copy_checked(const struct rlb_found *f, bool udp)
{
	char a[INET6_ADDRSTRLEN], comm[16];
	int on = 0, fd;
	socklen_t len = sizeof(on);

	fd = rlb_copy_fd(f->pid, f->fd);
	if (fd < 0)
		return fd;
	if (getsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, &len) == 0 && on)
		return fd;
	close(fd);
	addr_text(f, a, sizeof(a));
	comm_of(f->pid, comm);
	return rlb_error(-EINVAL,
			 "pid %d (%s) has %s %s port %u open without SO_REUSEPORT: the kernel "
			 "cannot steer it; restart it with SO_REUSEPORT set (nginx: add "
			 "'reuseport' to the listen directive)",
			 f->pid, comm, proto(udp), a, f->port);
}

static __u64 cookie_of(int fd)
{
	__u64 cookie = 0;
	socklen_t len = sizeof(cookie);

	getsockopt(fd, SOL_SOCKET, SO_COOKIE, &cookie, &len);
	return cookie;
}

static const __u8 any_addr[16];

/*
 * A live reuselb group on the same endpoint (served, or attached before): a second program
 * would take the group from it. Its name, else NULL.
 */
static bool steered_by_reuselb(const struct rlb_found *f, char *name, int *pid)
{
	static char names[RLB_MAX_GROUPS][RLB_NAME_MAX + 1];
	static int pids[RLB_MAX_GROUPS];
	char path[RLB_PATH_MAX];
	struct rlb_config cfg;
	__u32 key = 0;
	int n, fd;

	n = rlb_list_groups(names, pids, RLB_MAX_GROUPS);
	for (int i = 0; i < n && i < RLB_MAX_GROUPS; i++) {
		if (rlb_pin_path(path, sizeof(path), names[i], "config"))
			continue;
		fd = bpf_obj_get(path);
		if (fd < 0)
			continue;
		if (bpf_map_lookup_elem(fd, &key, &cfg))
			cfg.proto = 0;
		close(fd);
		if (cfg.proto != (f->udp ? IPPROTO_UDP : IPPROTO_TCP) || cfg.port != f->port ||
		    cfg.family != f->family ||
		    (memcmp(cfg.addr, f->addr, 16) && memcmp(cfg.addr, any_addr, 16) &&
		     memcmp(f->addr, any_addr, 16)))
			continue;
		memcpy(name, names[i], RLB_NAME_MAX + 1);
		*pid = pids[i];
		return true;
	}
	return false;
}

/*
 * Another tool's program on the group (a live reuselb group was refused before): replaced only
 * when asked. A kernel that cannot tell (no BPF iterators) is not asked.
 */
static int check_foreign(const struct rlb_adopt_opts *o, const struct rlb_found *f)
{
	char comm[16], what[48];
	uint32_t id;
	bool has;

	if (o->replace || rlb_group_prog_of(o->udp, o->port, f->ino, &has, &id) || !has)
		return 0;
	comm_of(f->pid, comm);
	if (id)
		snprintf(what, sizeof(what), "BPF program id %u", id);
	else
		snprintf(what, sizeof(what), "a classic BPF program");
	return rlb_error(-EEXIST,
			 "the sockets of pid %d (%s) on %s port %u are steered by %s already: "
			 "attach would replace it; give --replace to do so",
			 f->pid, comm, proto(o->udp), o->port, what);
}

static int check_opts(const struct rlb_adopt_opts *o)
{
	if (!o->port)
		return rlb_error(-EINVAL, "bad port 0: give the port the server listens on");
	if (o->nr_pids > RLB_SCAN_PIDS)
		return rlb_error(-EINVAL, "too many pids: give at most %d", RLB_SCAN_PIDS);
	if (o->policy == RLB_POLICY_KERNEL || !rlb_policy_info(o->policy))
		return rlb_error(-EINVAL,
				 "bad policy for attach: choose one of %s but kernel "
				 "(detach gives the group back to the kernel's hash)",
				 rlb_policy_names());
	if (o->name && rlb_check_group_name(o->name, o->udp, o->port))
		return -EINVAL;
	for (unsigned int i = 0; i < o->nr_pids; i++)
		if (o->pids[i] <= 0)
			return rlb_error(-EINVAL, "bad pid %d", o->pids[i]);
	return 0;
}

static struct rlb_adopt_ctx *save_opts(const struct rlb_adopt_opts *o)
{
	struct rlb_adopt_ctx *x = calloc(1, sizeof(*x));

	if (!x)
		return NULL;
	x->opts = *o;
	x->opts.name = NULL;
	if (o->addr) {
		snprintf(x->addr, sizeof(x->addr), "%s", o->addr);
		x->opts.addr = x->addr;
	}
	if (o->nr_pids) /* o->pids is NULL without --pid */
		memcpy(x->pids, o->pids, o->nr_pids * sizeof(int));
	x->opts.pids = x->pids;
	return x;
}

static void set_member(struct rlb_group *g, unsigned int slot, const struct rlb_found *f)
{
	g->members[slot] = (struct rlb_member){
		.pid = f->pid,
		.fd = f->fd,
		.flags = RLB_MEMBER_ADOPTED,
	};
	comm_of(f->pid, g->members[slot].comm);
	g->inos[slot] = f->ino;
}

static void close_copies(struct rlb_group *g)
{
	for (unsigned int i = 0; i < RLB_MAX_WORKERS; i++) {
		if (g->fds[i] >= 0)
			close(g->fds[i]);
		g->fds[i] = -1;
	}
}

int rlb_group_adopt(const struct rlb_adopt_opts *o, struct rlb_group **out)
{
	static struct rlb_scan scan;
	struct sockaddr_storage ss;
	socklen_t sslen = sizeof(ss);
	char other[RLB_NAME_MAX + 1];
	struct rlb_group *g = NULL;
	struct choice c;
	int err, pid;

	*out = NULL;
	rlb_keep_verifier_log(NULL);
	err = check_opts(o);
	if (!err)
		err = rlb_scan_port(&scan, o->udp, o->port, o->pids, o->nr_pids);
	if (!err)
		err = choose(o, &scan, &c);
	if (err)
		return err;
	if (steered_by_reuselb(&scan.found[c.idx[0]], other, &pid)) {
		if (pid > 0)
			return rlb_error(
				-EEXIST,
				"%s port %u is already steered by reuselb group %s (pid "
				"%d): change its policy with: reuselb policy --name %s NAME",
				proto(o->udp), o->port, other, pid, other);
		return rlb_error(-EEXIST,
				 "%s port %u is already attached as reuselb group %s: change its "
				 "policy with: reuselb policy --name %s NAME, or detach it first",
				 proto(o->udp), o->port, other, other);
	}
	err = check_foreign(o, &scan.found[c.idx[0]]);
	if (err)
		return err;
	g = calloc(1, sizeof(*g));
	if (!g)
		return rlb_error(-ENOMEM, "out of memory");
	g->lock_fd = -1;
	g->hold_fd = -1; /* no takeover of an adopted group: nothing to hold */
	pthread_mutex_init(&g->hold_lock, NULL);
	g->adopted = true;
	for (unsigned int i = 0; i < RLB_MAX_WORKERS; i++)
		g->fds[i] = -1;
	rlb_ctl_init(&g->ctl, NULL);
	g->opts.addr = NULL;
	g->opts.port = o->port;
	g->opts.udp = o->udp;
	g->opts.nr_workers = c.nr;
	g->opts.policy = o->policy;
	g->opts.pin = true;
	g->port = o->port;
	if (o->name)
		snprintf(g->name, sizeof(g->name), "%s", o->name);
	else
		rlb_default_name(o->udp, o->port, g->name, sizeof(g->name));
	memcpy(g->ctl.name, g->name, sizeof(g->ctl.name));
	g->adopt_ctx = save_opts(o);
	err = g->adopt_ctx ? 0 : rlb_error(-ENOMEM, "out of memory");
	for (int i = 0; i < c.nr && !err; i++) {
		const struct rlb_found *f = &scan.found[c.idx[i]];

		g->fds[i] = copy_checked(f, o->udp);
		if (g->fds[i] < 0) {
			err = g->fds[i];
			g->fds[i] = -1;
		}
		set_member(g, i, f);
	}
	if (!err && getsockname(g->fds[0], (struct sockaddr *)&ss, &sslen))
		err = rlb_error(-errno, "cannot read the socket's address: %s", strerror(errno));
	/* stale pins of the name (their sockets all closed) go here */
	if (!err)
		err = rlb_pins_lock(g);
	/*
	 * Asked to replace another tool's program: take it out first, so that the kernel frees
	 * it and its socket map, which holds the sockets as long as it lives (EBUSY for ours).
	 */
	if (!err && o->replace &&
	    setsockopt(g->fds[0], SOL_SOCKET, SO_DETACH_REUSEPORT_BPF, &(int){ 0 }, sizeof(int)) &&
	    errno != ENOENT)
		err = rlb_bpf_error(-errno, "cannot detach the program to replace");
	if (!err)
		err = rlb_group_steer_adopted(g, (struct sockaddr *)&ss, sslen);
	if (err) {
		rlb_group_release(g, false);
		return err;
	}
	/*
	 * The maps hold the sockets now: our copies would keep a listener the server closed
	 * open (and steered to), so they go. The cookies stay in socks.
	 */
	close_copies(g);
	*out = g;
	return 0;
}

int rlb_group_member(const struct rlb_group *g, unsigned int worker, struct rlb_member_info *out)
{
	__u32 slot = worker;
	__u64 cookie = 0;

	memset(out, 0, sizeof(*out));
	if (worker >= g->opts.nr_workers)
		return rlb_error(-ERANGE, "no worker %u", worker);
	out->pid = g->members[worker].pid;
	out->fd = g->members[worker].fd;
	memcpy(out->comm, g->members[worker].comm, sizeof(out->comm));
	if (g->skel && bpf_map_lookup_elem(g->ctl.fd[RLB_MAP_SOCKS], &slot, &cookie) == 0)
		out->cookie = cookie;
	else if (g->fds[worker] >= 0)
		out->cookie = cookie_of(g->fds[worker]);
	return 0;
}

/* A fresh copy of any socket of the group, or -errno (-ENOENT when none is left). */
static int any_member_copy(struct rlb_group *g)
{
	static struct rlb_scan scan;
	struct choice c;
	int err, fd;

	err = rlb_scan_port(&scan, g->opts.udp, g->port, g->adopt_ctx->opts.pids,
			    g->adopt_ctx->opts.nr_pids);
	if (!err)
		err = choose(&g->adopt_ctx->opts, &scan, &c);
	if (err)
		return err;
	for (int i = 0; i < c.nr; i++) {
		fd = rlb_copy_fd(scan.found[c.idx[i]].pid, scan.found[c.idx[i]].fd);
		if (fd >= 0)
			return fd;
	}
	return -ENOENT;
}

void rlb_group_release(struct rlb_group *g, bool detach)
{
	int fd;

	if (!g)
		return;
	close_copies(g);
	if (detach && g->adopt_attached) {
		g->adopt_detach = true;
		/* through any one socket of the group: the program is the group's */
		fd = any_member_copy(g);
		if (fd >= 0)
			g->fds[0] = fd;
	}
	free(g->adopt_ctx);
	g->adopt_ctx = NULL;
	rlb_group_close(g);
}

static int write_slot(struct rlb_group *g, __u32 slot, int fd)
{
	struct rlb_worker w = { .state = RLB_WORKER_LIVE, .weight = RLB_WEIGHT_DEFAULT };
	int ncpu = libbpf_num_possible_cpus();
	struct rlb_stats *zero;
	struct rlb_load l = {};
	__u64 val = fd;
	int err = 0;

	zero = calloc(ncpu > 0 ? ncpu : 1, sizeof(*zero));
	if (!zero)
		return rlb_error(-ENOMEM, "out of memory");
	/* counters first, the socket last: the program never sees a half-made slot */
	if (bpf_map_update_elem(g->ctl.fd[RLB_MAP_STATS], &slot, zero, 0) ||
	    bpf_map_update_elem(g->ctl.fd[RLB_MAP_LOAD], &slot, &l, 0) ||
	    bpf_map_update_elem(g->ctl.fd[RLB_MAP_SOCKS], &slot, &val, BPF_ANY) ||
	    bpf_map_update_elem(g->ctl.fd[RLB_MAP_WORKERS], &slot, &w, 0))
		err = rlb_bpf_error(-errno, "cannot add a socket to the group's maps");
	free(zero);
	if (!err)
		err = rlb_member_write(&g->ctl, slot, &g->members[slot]);
	return err;
}

static int clear_slot(struct rlb_group *g, __u32 slot)
{
	struct rlb_worker w = { .state = RLB_WORKER_EMPTY };
	struct rlb_member none = { .fd = -1 };

	/* a closed socket left the sockarray by itself; the slot must leave the rotation too */
	bpf_map_delete_elem(g->ctl.fd[RLB_MAP_SOCKS], &slot);
	memset(&g->members[slot], 0, sizeof(g->members[slot]));
	g->members[slot].fd = -1;
	g->inos[slot] = 0;
	if (bpf_map_update_elem(g->ctl.fd[RLB_MAP_WORKERS], &slot, &w, 0) ||
	    bpf_map_update_elem(g->ctl.fd[RLB_MAP_MEMBERS], &slot, &none, 0))
		return rlb_bpf_error(-errno, "cannot take a closed socket out of the maps");
	return 0;
}

static int set_nr_workers(struct rlb_group *g, unsigned int nr)
{
	struct rlb_config cfg;
	__u32 key = 0;

	if (bpf_map_lookup_elem(g->ctl.fd[RLB_MAP_CONFIG], &key, &cfg))
		return rlb_bpf_error(-errno, "cannot read the config map");
	/* one aligned field: the program sees the old count or the new */
	cfg.nr_workers = nr;
	if (bpf_map_update_elem(g->ctl.fd[RLB_MAP_CONFIG], &key, &cfg, 0))
		return rlb_bpf_error(-errno, "cannot write the config map");
	g->opts.nr_workers = nr;
	return 0;
}

/* Puts our program on the sockets' group (again: a restarted server's new sockets have none). */
static int attach_program(struct rlb_group *g, int fd)
{
	int prog_fd = bpf_prog_get_fd_by_id(g->prog_id), err = 0;

	if (prog_fd < 0)
		return rlb_bpf_error(-errno, "cannot find the steering program");
	if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_EBPF, &prog_fd, sizeof(prog_fd)))
		err = rlb_bpf_error(-errno, "cannot attach the steering program");
	close(prog_fd);
	return err;
}

static int sync_locked(struct rlb_group *g, struct rlb_scan *scan, const struct choice *c,
		       char *msg, size_t len)
{
	int added = 0, removed = 0, moved = 0, err = 0, fd, attach_fd = -1;
	unsigned int nr = 0;
	bool present[RLB_MAX_WORKERS] = {};
	size_t off = 0;

	for (int i = 0; i < c->nr; i++) {
		const struct rlb_found *f = &scan->found[c->idx[i]];
		int slot = -1;

		for (unsigned int s = 0; s < RLB_MAX_WORKERS && slot < 0; s++)
			if (g->inos[s] == f->ino)
				slot = s;
		if (slot >= 0) {
			present[slot] = true;
			/* a server that handed its socket to another process: follow the pid */
			if (g->members[slot].pid != (__u32)f->pid) {
				set_member(g, slot, f);
				err = rlb_member_write(&g->ctl, slot, &g->members[slot]);
				moved++;
			}
			continue;
		}
		for (unsigned int s = 0; s < RLB_MAX_WORKERS && slot < 0; s++)
			if (!g->inos[s])
				slot = s;
		if (slot < 0)
			return rlb_error(-E2BIG, "no free slot for another socket (at most %d)",
					 RLB_MAX_WORKERS);
		fd = copy_checked(f, g->opts.udp);
		if (fd < 0)
			return fd;
		set_member(g, slot, f);
		present[slot] = true;
		err = write_slot(g, slot, fd);
		if (attach_fd < 0)
			attach_fd = fd;
		else
			close(fd);
		if (err)
			break;
		added++;
		off += snprintf(msg + off, off < len ? len - off : 0, "%sslot %d: pid %d (%s)",
				added == 1 ? "added " : ", ", slot, f->pid, g->members[slot].comm);
	}
	for (unsigned int s = 0; s < RLB_MAX_WORKERS && !err; s++) {
		if (g->inos[s] && !present[s]) {
			err = clear_slot(g, s);
			removed++;
		}
		if (g->inos[s])
			nr = s + 1;
	}
	if (!err && (added || removed)) {
		/* more slots first would show the program empty ones: count after filling */
		err = set_nr_workers(g, nr ? nr : 1);
		if (!err)
			err = rlb_ctl_rebuild_tables(&g->ctl);
	}
	/*
	 * New sockets of a server restarted from scratch are a new kernel group without our
	 * program; attaching again where it is ours already changes nothing.
	 */
	if (!err && attach_fd >= 0)
		err = attach_program(g, attach_fd);
	if (attach_fd >= 0)
		close(attach_fd);
	if (!err && removed)
		off += snprintf(msg + off, off < len ? len - off : 0,
				"%sremoved %d closed socket%s", added ? "; " : "", removed,
				removed == 1 ? "" : "s");
	/* a reload hands the same sockets to new workers: said, though the maps keep them */
	if (!err && moved)
		snprintf(msg + off, off < len ? len - off : 0,
			 "%s%d socket%s now served by "
			 "another pid",
			 added || removed ? "; " : "", moved, moved == 1 ? "" : "s");
	return err ? err : (added || removed || moved);
}

int rlb_group_adopt_sync(struct rlb_group *g, char *msg, size_t len)
{
	static struct rlb_scan scan;
	struct choice c = { .nr = 0 };
	int err;

	msg[0] = 0;
	err = rlb_scan_port(&scan, g->opts.udp, g->port, g->adopt_ctx->opts.pids,
			    g->adopt_ctx->opts.nr_pids);
	if (!err) {
		err = choose(&g->adopt_ctx->opts, &scan, &c);
		/* every socket closed: the slots empty, and we wait for new ones */
		if (err == -ENOENT)
			err = 0;
	}
	if (err)
		return err;
	err = rlb_ctl_lock(&g->ctl);
	if (err)
		return err;
	err = sync_locked(g, &scan, &c, msg, len);
	rlb_ctl_unlock(&g->ctl);
	return err;
}

/* -EINVAL unless the group's sockets are bound to addr. */
static int check_addr(const char *name, const struct rlb_config *cfg, const char *addr)
{
	char bound[INET6_ADDRSTRLEN] = "?";
	unsigned int family = 0;
	__u8 want[16];
	int err = parse_opt_addr(addr, &family, want);

	if (err)
		return err;
	if (family == cfg->family && !memcmp(want, cfg->addr, 16))
		return 0;
	inet_ntop(cfg->family, cfg->addr, bound, sizeof(bound));
	return rlb_error(-EINVAL, "group %s is bound to %s, not %s: give -a %s or --name", name,
			 bound, addr, bound);
}

/* A copy of any socket at the endpoint config records, or -1 when none is left. */
static int endpoint_copy(const struct rlb_config *cfg)
{
	static struct rlb_scan scan;
	struct rlb_adopt_opts o = {
		.port = cfg->port,
		.udp = cfg->proto == IPPROTO_UDP,
	};
	char addr[INET6_ADDRSTRLEN];
	struct choice c;
	int fd;

	if (!inet_ntop(cfg->family, cfg->addr, addr, sizeof(addr)))
		return -1;
	o.addr = addr;
	if (rlb_scan_port(&scan, o.udp, o.port, NULL, 0) || choose(&o, &scan, &c))
		return -1;
	for (int i = 0; i < c.nr; i++) {
		fd = rlb_copy_fd(scan.found[c.idx[i]].pid, scan.found[c.idx[i]].fd);
		if (fd >= 0)
			return fd;
	}
	return -1;
}

int rlb_detach(const char *name, const char *addr, bool *stale)
{
	struct rlb_group_stats st;
	struct rlb_ctl *ctl;
	struct rlb_config cfg;
	int err, fd = -1, unused = 0;
	__u32 key = 0;
	__u64 cookie;

	*stale = false;
	err = rlb_check_name(name);
	if (err)
		return err;
	if (!rlb_group_live(name)) {
		char dir[RLB_PATH_MAX];

		if (rlb_pin_path(dir, sizeof(dir), name, NULL) || access(dir, F_OK))
			return rlb_ctl_open(name, &ctl); /* the usual "no group" answer */
		*stale = true;
		return rlb_pins_clear(name);
	}
	err = rlb_ctl_open(name, &ctl);
	if (err)
		return err;
	err = rlb_ctl_read(ctl, &st);
	if (!err && bpf_map_lookup_elem(ctl->fd[RLB_MAP_CONFIG], &key, &cfg))
		err = rlb_bpf_error(-errno, "cannot read the config map");
	if (!err && addr && check_addr(name, &cfg, addr))
		err = -EINVAL;
	else if (!err && !(cfg.flags & RLB_CFG_ADOPTED))
		err = rlb_error(-EINVAL,
				"group %s is served by reuselb serve (pid %d), not attached: stop "
				"that server instead",
				name, rlb_group_live(name));
	/* a copy of any member, found by the cookie the sockarray holds for its slot */
	for (__u32 slot = 0; slot < RLB_MAX_SLOTS && !err && fd < 0; slot++) {
		struct rlb_member m;

		if (bpf_map_lookup_elem(ctl->fd[RLB_MAP_SOCKS], &slot, &cookie) ||
		    bpf_map_lookup_elem(ctl->fd[RLB_MAP_MEMBERS], &slot, &m) || m.fd < 0)
			continue;
		fd = rlb_copy_fd(m.pid, m.fd);
		if (fd >= 0 && cookie_of(fd) != cookie) {
			close(fd);
			fd = -1;
		}
	}
	rlb_ctl_close(ctl);
	if (err)
		return err;
	if (fd < 0)
		fd = endpoint_copy(&cfg);
	/* refused while attach --follow holds the group, before anything changes */
	if (rlb_group_live(name) > 0) {
		if (fd >= 0)
			close(fd);
		return rlb_pins_clear(name);
	}
	if (fd >= 0) {
		if (setsockopt(fd, SOL_SOCKET, SO_DETACH_REUSEPORT_BPF, &unused, sizeof(unused)) &&
		    errno != ENOENT) {
			err = rlb_bpf_error(-errno, "cannot detach the steering program");
			close(fd);
			return err;
		}
		close(fd);
	}
	return rlb_pins_clear(name);
}
