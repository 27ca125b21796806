// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * A reuseport group: the sockets, the steering program and its maps. The only file that
 * includes the skeleton.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "internal.h"
#include "steer.skel.h"

#ifndef SO_DETACH_REUSEPORT_BPF
#define SO_DETACH_REUSEPORT_BPF 68
#endif

struct sockname {
	struct sockaddr_storage ss;
	socklen_t len;
};

static int parse_addr(const char *addr, uint16_t port, struct sockname *sn)
{
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&sn->ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)&sn->ss;

	memset(sn, 0, sizeof(*sn));
	if (inet_pton(AF_INET, addr, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		sn->len = sizeof(*sin);
		return 0;
	}
	if (inet_pton(AF_INET6, addr, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		sn->len = sizeof(*sin6);
		return 0;
	}
	return rlb_error(-EINVAL, "bad address '%s': give a numeric IPv4 or IPv6 address", addr);
}

static void set_port(struct sockname *sn, uint16_t port)
{
	if (sn->ss.ss_family == AF_INET)
		((struct sockaddr_in *)&sn->ss)->sin_port = htons(port);
	else
		((struct sockaddr_in6 *)&sn->ss)->sin6_port = htons(port);
}

static uint16_t get_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len))
		return 0;
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
}

/*
 * Every map of the program is one of RLB_MAPS, so that pinning, the CLI, a takeover and users'
 * policies all see it: a map added to the program and not to the list stops here.
 */
static int check_map_names(struct steer_bpf *skel)
{
	struct bpf_map *map;
	int i;

	bpf_object__for_each_map(map, skel->obj) {
		/* .bss, .rodata and the like are the program's own */
		if (strchr(bpf_map__name(map), '.'))
			continue;
		for (i = 0; i < RLB_MAP__COUNT; i++)
			if (!strcmp(bpf_map__name(map), rlb_map_names[i]))
				break;
		if (i == RLB_MAP__COUNT)
			return rlb_error(-EINVAL,
					 "map %s of the steering program is not in RLB_MAPS "
					 "(reuselb/abi.h): add it there",
					 bpf_map__name(map));
	}
	return 0;
}

static int load_program(struct rlb_group *g)
{
	struct steer_bpf *skel;
	bool short_of_caps;
	char *log;
	int err;

	skel = rlb_steer_open(g->features.queue_kfuncs);
	if (!skel)
		return rlb_bpf_error(-errno, "cannot open the steering program");
	g->skel = skel;
	log = rlb_log_buf(skel->progs.rlb_steer);
	if (!log)
		return -ENOMEM;
	/* migrate-capable: a closing listener's queue is steered to a live worker, not reset */
	bpf_program__set_expected_attach_type(
		skel->progs.rlb_steer,
		g->features.migrate ? BPF_SK_REUSEPORT_SELECT_OR_MIGRATE : BPF_SK_REUSEPORT_SELECT);
	if (!g->features.mmapable)
		bpf_map__set_map_flags(skel->maps.load, 0);
	err = check_map_names(skel);
	if (!err)
		err = rlb_flows_size(g);
	if (!err && g->predecessor)
		err = rlb_takeover_share_maps(g);
	if (err)
		goto out;
	err = steer_bpf__load(skel);
	/* short of capabilities, the verifier's complaints are only the symptom */
	short_of_caps = (err == -EPERM || err == -EACCES) && rlb_missing_caps()[0];
	rlb_log_done(log, err && !short_of_caps);
	log = NULL;
	if (short_of_caps)
		err = rlb_group_priv_error(err, "cannot load the steering program", g->opts.pin);
	else if (err)
		err = rlb_error(err, "the kernel rejected the steering program: %s%s",
				strerror(-err),
				rlb_verifier_log()[0] ? " (verifier log follows)" : "");
out:
	rlb_log_done(log, false);
	return err;
}

/* No CPU has a worker until the server pins one (rlb_group_set_cpu). */
static int init_cpus(struct rlb_group *g)
{
	struct rlb_cpu none = { .worker = RLB_NONE };

	for (__u32 cpu = 0; cpu < RLB_MAX_CPUS; cpu++)
		if (bpf_map_update_elem(g->ctl.fd[RLB_MAP_CPUS], &cpu, &none, 0))
			return rlb_bpf_error(-errno, "cannot write the cpus map");
	return 0;
}

void rlb_skel_maps(const struct rlb_group *g, struct bpf_map *maps[RLB_MAP__COUNT])
{
#define RLB_SKEL_MAP(id, name) maps[RLB_MAP_##id] = g->skel->maps.name;
	RLB_MAPS(RLB_SKEL_MAP)
#undef RLB_SKEL_MAP
}

static void set_ctl_fds(struct rlb_group *g)
{
	struct bpf_map *maps[RLB_MAP__COUNT];

	rlb_skel_maps(g, maps);
	for (int i = 0; i < RLB_MAP__COUNT; i++)
		g->ctl.fd[i] = bpf_map__fd(maps[i]);
}

unsigned int rlb_config_flags(const struct rlb_group *g)
{
	return (g->features.migrate ? RLB_CFG_MIGRATE : 0) |
	       (g->opts.udp && !g->opts.no_flows ? RLB_CFG_FLOWS : 0) |
	       (g->adopted ? RLB_CFG_ADOPTED : 0);
}

unsigned int rlb_flow_timeout(const struct rlb_group *g)
{
	return g->opts.flow_timeout ? g->opts.flow_timeout : RLB_FLOW_TIMEOUT_DEFAULT;
}

/* A new group: config, tables and cpus start from scratch. */
static int init_group(struct rlb_group *g)
{
	struct rlb_config cfg = {
		.policy = g->opts.policy,
		.nr_workers = g->opts.nr_workers,
		.flags = rlb_config_flags(g),
		.flow_timeout = rlb_flow_timeout(g),
	};
	__u32 key = 0;
	int err;

	if (getrandom(&cfg.seed, sizeof(cfg.seed), 0) != sizeof(cfg.seed))
		return rlb_error(-errno, "cannot seed the hash: getrandom: %s", strerror(errno));
	err = bpf_map_update_elem(g->ctl.fd[RLB_MAP_CONFIG], &key, &cfg, 0);
	if (err)
		return rlb_bpf_error(-errno, "cannot write the config map");
	return init_cpus(g);
}

/* Our generation's slots: live workers, and counters that start from zero. */
static int init_slots(struct rlb_group *g)
{
	struct rlb_worker w = { .state = RLB_WORKER_LIVE, .weight = RLB_WEIGHT_DEFAULT };
	int ncpu = libbpf_num_possible_cpus();
	struct rlb_stats *zero;
	struct rlb_load l = {};
	int err = 0;

	if (ncpu < 0)
		return rlb_error(ncpu, "cannot count CPUs: %s", strerror(-ncpu));
	zero = calloc(ncpu, sizeof(*zero));
	if (!zero)
		return rlb_error(-ENOMEM, "out of memory");
	for (__u32 slot = g->base; slot < g->base + g->opts.nr_workers && !err; slot++) {
		if (bpf_map_update_elem(g->ctl.fd[RLB_MAP_WORKERS], &slot, &w, 0) ||
		    bpf_map_update_elem(g->ctl.fd[RLB_MAP_LOAD], &slot, &l, 0) ||
		    bpf_map_update_elem(g->ctl.fd[RLB_MAP_STATS], &slot, zero, 0))
			err = rlb_bpf_error(-errno, "cannot initialise the maps");
	}
	free(zero);
	return err;
}

static const char *proto_name(unsigned int proto)
{
	return proto == IPPROTO_UDP ? "udp" : "tcp";
}

/* "tcp 127.0.0.1 port 8080" */
static void endpoint_text(unsigned int proto, unsigned int family, const __u8 *addr,
			  unsigned int port, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN] = "?";

	inet_ntop(family == AF_INET6 ? AF_INET6 : AF_INET, addr, a, sizeof(a));
	snprintf(buf, len, "%s %s port %u", proto_name(proto), a, port);
}

static void sockname_addr(const struct sockname *sn, __u8 addr[16])
{
	memset(addr, 0, 16);
	if (sn->ss.ss_family == AF_INET)
		memcpy(addr, &((const struct sockaddr_in *)&sn->ss)->sin_addr, 4);
	else
		memcpy(addr, &((const struct sockaddr_in6 *)&sn->ss)->sin6_addr, 16);
}

/*
 * A successor must bind where the live group is bound: elsewhere its sockets would form
 * another group, and the live one would be steered to a generation with no socket. Port 0
 * takes the live group's port. Checked before anything is bound or claimed.
 */
static int check_endpoint(struct rlb_group *g, struct sockname *sn)
{
	unsigned int proto = g->opts.udp ? IPPROTO_UDP : IPPROTO_TCP;
	char live[INET6_ADDRSTRLEN + 32], ours[INET6_ADDRSTRLEN + 32];
	const char *what = NULL;
	struct rlb_config cfg;
	__u8 addr[16];
	__u32 key = 0;

	if (bpf_map_lookup_elem(g->ctl.fd[RLB_MAP_CONFIG], &key, &cfg))
		return rlb_bpf_error(-errno, "cannot read the config map");
	/* a group started by a reuselb that did not record its endpoint: nothing to compare */
	if (!cfg.proto)
		return 0;
	if (!g->port) {
		g->port = cfg.port;
		set_port(sn, g->port);
	}
	sockname_addr(sn, addr);
	if (cfg.proto != proto)
		what = "the protocol";
	else if (cfg.family != sn->ss.ss_family)
		what = "the address family";
	else if (memcmp(cfg.addr, addr, sizeof(addr)))
		what = "the address";
	else if (cfg.port != g->port)
		what = "the port";
	if (!what)
		return 0;
	endpoint_text(cfg.proto, cfg.family, cfg.addr, cfg.port, live, sizeof(live));
	endpoint_text(proto, sn->ss.ss_family, addr, g->port, ours, sizeof(ours));
	return rlb_error(-EINVAL,
			 "cannot take over group %s: it serves %s, this instance would serve %s "
			 "(%s differs); give the live group's protocol, address and port, or "
			 "another --name; pid %d keeps serving",
			 g->name, live, ours, what, g->predecessor);
}

/*
 * A new group that binds beside a live reuselb group with SO_REUSEPORT joins its kernel group
 * (or, on an overlapping address, shadows it): its sockets sit unsteered beside the live
 * group's, getting nothing (that group's program picks its own slots) or taking connections
 * from it. Refused, naming the group that serves the port; a takeover goes through
 * check_endpoint instead.
 */
static int check_port_unserved(struct rlb_group *g, const struct sockname *sn)
{
	static char names[RLB_MAX_GROUPS][RLB_NAME_MAX + 1];
	static const __u8 any[16];
	unsigned int proto = g->opts.udp ? IPPROTO_UDP : IPPROTO_TCP;
	int pids[RLB_MAX_GROUPS], n, fd;
	char path[RLB_PATH_MAX];
	struct rlb_config cfg;
	__u8 addr[16];
	__u32 key = 0;

	if (!g->port)
		return 0;
	sockname_addr(sn, addr);
	n = rlb_list_groups(names, pids, RLB_MAX_GROUPS);
	for (int i = 0; i < n && i < RLB_MAX_GROUPS; i++) {
		if (pids[i] == 0 || rlb_pin_path(path, sizeof(path), names[i], "config"))
			continue;
		fd = bpf_obj_get(path);
		if (fd < 0)
			continue;
		if (bpf_map_lookup_elem(fd, &key, &cfg))
			cfg.proto = 0;
		close(fd);
		if (cfg.proto != proto || cfg.port != g->port || cfg.family != sn->ss.ss_family ||
		    (memcmp(cfg.addr, addr, 16) && memcmp(cfg.addr, any, 16) &&
		     memcmp(addr, any, 16)))
			continue;
		if (g->opts.policy == RLB_POLICY_KERNEL)
			return rlb_error(
				-EEXIST,
				"%s port %u is served by reuselb group %s (pid %d): a policy "
				"kernel server there would sit unsteered beside its sockets; "
				"stop that group, choose another port, or switch it to the "
				"kernel's hash with: reuselb policy --name %s kernel",
				proto_name(proto), g->port, names[i], pids[i], names[i]);
		return rlb_error(
			-EEXIST,
			"%s port %u is served by reuselb group %s (pid %d): a second group "
			"there would sit unsteered beside its sockets; stop that group, choose "
			"another port, or replace it with: --takeover --name %s",
			proto_name(proto), g->port, names[i], pids[i], names[i]);
	}
	return 0;
}

static int init_maps(struct rlb_group *g, struct sockname *sn)
{
	struct bpf_prog_info info = {};
	__u32 info_len = sizeof(info);
	int err;

	set_ctl_fds(g);
	if (g->predecessor) {
		/* what differs is refused before anything is claimed; a claim before any bind */
		err = check_endpoint(g, sn);
		if (!err)
			err = rlb_takeover_claim(g);
	} else {
		err = init_group(g);
	}
	if (!err)
		err = init_slots(g);
	/* the tables describe the live workers: build them once the slots are live */
	if (!err && !g->predecessor)
		err = rlb_ctl_rebuild_tables(&g->ctl);
	if (err)
		return err;

	if (g->features.mmapable) {
		g->load_len = bpf_map__max_entries(g->skel->maps.load) * sizeof(struct rlb_load);
		g->load = mmap(NULL, g->load_len, PROT_READ | PROT_WRITE, MAP_SHARED,
			       g->ctl.fd[RLB_MAP_LOAD], 0);
		if (g->load == MAP_FAILED) {
			g->load = NULL;
			return rlb_error(-errno, "cannot map the load map: %s", strerror(errno));
		}
	}
	if (bpf_obj_get_info_by_fd(bpf_program__fd(g->skel->progs.rlb_steer), &info, &info_len))
		return rlb_error(-errno, "cannot read the program id: %s", strerror(errno));
	g->prog_id = info.id;
	return 0;
}

/* One worker's socket: SO_REUSEPORT, the program attached on the first, bound, listening. */
static int open_socket(struct rlb_group *g, unsigned int i, struct sockname *sn)
{
	int type = (g->opts.udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_NONBLOCK | SOCK_CLOEXEC;
	const char *addr = g->opts.addr ? g->opts.addr : "0.0.0.0";
	int one = 1, fd, err;
	__u32 slot = g->base + i;
	__u64 val;

	fd = socket(sn->ss.ss_family, type, 0);
	if (fd < 0)
		return rlb_error(-errno, "cannot create a socket: %s", strerror(errno));
	g->fds[i] = fd;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)))
		return rlb_error(-errno, "cannot set SO_REUSEPORT: %s", strerror(errno));
	/*
	 * A socket with a program attached is in a reuseport group before it binds, and then the
	 * kernel counts an earlier server's TIME-WAIT connections as a conflict: restarting on
	 * the same port must not depend on them having expired.
	 */
	if (!g->opts.udp && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)))
		return rlb_error(-errno, "cannot set SO_REUSEADDR: %s", strerror(errno));
	/*
	 * Attached before the group exists, the program steers from the very first connection.
	 * A taking-over instance attaches once its sockets are in the live group instead: a
	 * program on a lone socket would be dropped when the socket joins.
	 */
	if (i == 0 && g->skel && !g->predecessor) {
		int prog_fd = bpf_program__fd(g->skel->progs.rlb_steer);

		if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_EBPF, &prog_fd, sizeof(prog_fd)))
			return rlb_bpf_error(-errno, "cannot attach the steering program");
	}
	if (bind(fd, (struct sockaddr *)&sn->ss, sn->len)) {
		err = -errno;
		if (err == -EADDRINUSE)
			return rlb_error(
				err,
				"cannot bind %s port %u: %s: a server without SO_REUSEPORT, "
				"another user's, or another reuselb group holds it; stop it, "
				"choose another port, or replace a running reuselb with "
				"--takeover",
				addr, g->port, strerror(-err));
		return rlb_error(err, "cannot bind %s port %u: %s", addr, g->port, strerror(-err));
	}
	if (i == 0) {
		g->port = get_port(fd);
		set_port(sn, g->port);
	}
	if (!g->opts.udp && listen(fd, g->opts.backlog > 0 ? g->opts.backlog : SOMAXCONN))
		return rlb_error(-errno, "cannot listen on port %u: %s", g->port, strerror(errno));
	if (!g->skel)
		return 0;
	val = fd;
	if (bpf_map_update_elem(g->ctl.fd[RLB_MAP_SOCKS], &slot, &val, BPF_ANY))
		return rlb_bpf_error(-errno, "cannot put the socket into the socks map");
	return rlb_member_write(&g->ctl, slot, &(struct rlb_member){ .pid = getpid(), .fd = fd });
}

static void set_name(struct rlb_group *g, const char *name)
{
	if (name)
		snprintf(g->name, sizeof(g->name), "%s", name);
	else
		rlb_default_name(g->opts.udp, g->port, g->name, sizeof(g->name));
	memcpy(g->ctl.name, g->name, sizeof(g->ctl.name));
}

/* Records the bound endpoint in config, for successors and the CLI. */
static int record_endpoint(struct rlb_group *g, const struct sockname *sn)
{
	struct rlb_config cfg;
	__u32 key = 0;

	if (bpf_map_lookup_elem(g->ctl.fd[RLB_MAP_CONFIG], &key, &cfg))
		return rlb_bpf_error(-errno, "cannot read the config map");
	cfg.proto = g->opts.udp ? IPPROTO_UDP : IPPROTO_TCP;
	cfg.family = sn->ss.ss_family;
	cfg.port = g->port;
	memset(cfg.addr, 0, sizeof(cfg.addr));
	if (sn->ss.ss_family == AF_INET)
		memcpy(cfg.addr, &((const struct sockaddr_in *)&sn->ss)->sin_addr, 4);
	else
		memcpy(cfg.addr, &((const struct sockaddr_in6 *)&sn->ss)->sin6_addr, 16);
	if (bpf_map_update_elem(g->ctl.fd[RLB_MAP_CONFIG], &key, &cfg, 0))
		return rlb_bpf_error(-errno, "cannot write the config map");
	return 0;
}

/* Pins maps and program; with an ephemeral port the name is only known now. */
static int pin_group(struct rlb_group *g, const char *name)
{
	struct bpf_map *maps[RLB_MAP__COUNT];
	int err;

	rlb_skel_maps(g, maps);
	if (g->lock_fd < 0) {
		set_name(g, name);
		err = rlb_pins_lock(g);
		if (err)
			return err;
	}
	return rlb_pins_pin(g, maps, RLB_MAP__COUNT, g->skel->progs.rlb_steer);
}

static int check_features(struct rlb_group *g)
{
	int err = rlb_probe(&g->features);

	if (err == -EPERM || err == -EACCES)
		return rlb_group_priv_error(err, "cannot probe the kernel's BPF features",
					    g->opts.pin);
	if (err)
		return err;
	if (!g->features.sk_reuseport)
		return rlb_error(-EOPNOTSUPP,
				 "this kernel cannot run sk_reuseport programs (Linux 4.19+ with "
				 "CONFIG_BPF_SYSCALL): only policy kernel works here");
	return rlb_policy_check(g->opts.policy, &g->features, NULL);
}

static int check_opts(const struct rlb_group_opts *o)
{
	if (o->name && rlb_check_group_name(o->name, o->udp, o->port))
		return -EINVAL;
	if (o->nr_workers < 1 || o->nr_workers > RLB_MAX_WORKERS)
		return rlb_error(-EINVAL, "bad number of workers %u: give 1 to %d", o->nr_workers,
				 RLB_MAX_WORKERS);
	if (o->flow_table &&
	    (o->flow_table < RLB_FLOW_TABLE_MIN || o->flow_table > RLB_FLOW_TABLE_MAX))
		return rlb_error(-EINVAL, "bad flow table size %u: give %d to %u", o->flow_table,
				 RLB_FLOW_TABLE_MIN, RLB_FLOW_TABLE_MAX);
	if (!rlb_policy_info(o->policy))
		return rlb_error(-EINVAL, "bad policy %d: choose one of %s", o->policy,
				 rlb_policy_names());
	return 0;
}

int rlb_group_open(const struct rlb_group_opts *opts, struct rlb_group **out)
{
	struct rlb_group *g;
	struct sockname sn;
	int err;

	*out = NULL;
	err = check_opts(opts);
	if (err)
		return err;
	err = parse_addr(opts->addr ? opts->addr : "0.0.0.0", opts->port, &sn);
	if (err)
		return err;
	g = calloc(1, sizeof(*g));
	if (!g)
		return rlb_error(-ENOMEM, "out of memory");
	g->opts = *opts;
	g->opts.name = NULL; /* the caller's string need not outlive the call: g->name holds it */
	g->port = opts->port;
	g->lock_fd = -1;
	g->hold_fd = -1;
	pthread_mutex_init(&g->hold_lock, NULL);
	rlb_ctl_init(&g->ctl, NULL);
	for (unsigned int i = 0; i < RLB_MAX_WORKERS; i++)
		g->fds[i] = -1;
	rlb_keep_verifier_log(NULL);

	/* the "kernel" policy has no maps: nothing to pin or control */
	g->opts.pin = opts->pin && opts->policy != RLB_POLICY_KERNEL;
	if (opts->takeover && !(g->opts.pin && (opts->name || opts->port))) {
		err = rlb_error(-EINVAL, "a takeover needs a steering policy (not kernel), pins, "
					 "and a group name or a fixed port");
		goto fail;
	}
	if (g->opts.pin && (opts->name || opts->port)) {
		set_name(g, opts->name);
		g->predecessor = opts->takeover ? rlb_group_live(g->name) : 0;
		if (g->predecessor < 0) {
			err = rlb_error(-EBUSY,
					"group %s is live but no process holds its lock "
					"(a takeover finishing?): try again in a moment",
					g->name);
			goto fail;
		}
		if (!g->predecessor)
			err = rlb_pins_lock(g);
		/* every instance may be an owner one day: its successors find it there */
		if (!err && !opts->udp)
			err = rlb_hold_open(g);
		if (err)
			goto fail;
	}
	err = g->predecessor ? 0 : check_port_unserved(g, &sn);
	if (err)
		goto fail;
	if (opts->policy != RLB_POLICY_KERNEL) {
		err = check_features(g);
		if (!err)
			err = load_program(g);
		if (!err)
			err = init_maps(g, &sn);
		if (err)
			goto fail;
	}
	for (unsigned int i = 0; i < opts->nr_workers; i++) {
		err = open_socket(g, i, &sn);
		if (err)
			goto fail;
	}
	if (g->skel && !g->predecessor)
		err = record_endpoint(g, &sn);
	if (err)
		goto fail;
	/* before our listeners can be chosen: if we die, the owner closes them gently */
	if (g->predecessor && !opts->udp)
		g->hold_err = rlb_hold_give(g);
	if (g->predecessor)
		err = rlb_takeover_finish(g);
	else if (g->opts.pin)
		err = pin_group(g, opts->name);
	if (!err)
		err = rlb_flows_watch_start(g);
	if (!err)
		err = rlb_queue_watch_start(g);
	if (err)
		goto fail;
	set_name(g, opts->name);
	*out = g;
	return 0;
fail:
	rlb_group_close(g);
	return err;
}

void rlb_group_close(struct rlb_group *g)
{
	bool detached = false;
	int unused = 0;

	if (!g)
		return;
	rlb_flows_watch_stop(g);
	rlb_queue_watch_stop(g);
	rlb_takeover_stop(g);
	rlb_takeover_leave(g);
	rlb_hold_close(g);
	/*
	 * After a handover, program and pins are the successor's: only our sockets go. A
	 * successor that never owned the pins leaves the program to the owner's group as well.
	 */
	if (g->handed_over || (g->predecessor && !rlb_group_owns_pins(g)))
		detached = true;
	/* adopted sockets: their group keeps program and pins unless we take ours out */
	if (g->adopted && (!g->adopt_attached || !g->adopt_detach)) {
		detached = true;
		if (g->adopt_attached && g->lock_fd >= 0) {
			close(g->lock_fd);
			g->lock_fd = -1;
		}
	}
	for (unsigned int i = 0; i < RLB_MAX_WORKERS; i++) {
		if (g->fds[i] < 0)
			continue;
		/* detach once, explicitly, so no program outlives the group even briefly */
		if (g->skel && !detached)
			/* the value is ignored, but the kernel wants an int's worth of it */
			detached = !setsockopt(g->fds[i], SOL_SOCKET, SO_DETACH_REUSEPORT_BPF,
					       &unused, sizeof(unused));
		close(g->fds[i]);
	}
	/* the pins wait for the successor; one that died after we let go will never take them */
	if (g->handed_over && g->lock_fd >= 0 && rlb_takeover_successor_alive(g)) {
		close(g->lock_fd);
		g->lock_fd = -1;
	}
	rlb_pins_remove(g);
	if (g->load)
		munmap(g->load, g->load_len);
	steer_bpf__destroy(g->skel);
	rlb_ctl_fini(&g->ctl);
	pthread_mutex_destroy(&g->hold_lock);
	free(g);
}

/*
 * An adopted socket into socks. EINVAL: not listening (TCP), not bound, or no SO_REUSEPORT.
 * EBUSY: the socket is in another sockarray, a replaced program's, until the kernel frees that
 * map once the program is gone (deferred work): waited for, bounded.
 */
static int put_adopted(struct rlb_group *g, __u32 slot)
{
	struct timespec pause = { .tv_nsec = 10 * 1000 * 1000 };
	__u64 val = g->fds[slot];

	for (int tries = 0; tries < 300; tries++) {
		if (!bpf_map_update_elem(g->ctl.fd[RLB_MAP_SOCKS], &slot, &val, BPF_ANY))
			return 0;
		if (errno != EBUSY)
			return rlb_bpf_error(-errno,
					     "cannot put an adopted socket into the socks map");
		nanosleep(&pause, NULL);
	}
	return rlb_error(-EBUSY,
			 "the socket of pid %u is in another program's socket map, still held "
			 "(pinned?): stop that tool, or remove its pins",
			 g->members[slot].pid);
}

int rlb_group_steer_adopted(struct rlb_group *g, const struct sockaddr *sa, unsigned int len)
{
	struct sockname sn = { .len = len };
	int prog_fd, err;

	memcpy(&sn.ss, sa, len);
	err = check_features(g);
	if (!err)
		err = load_program(g);
	if (!err)
		err = init_maps(g, &sn);
	for (__u32 i = 0; i < g->opts.nr_workers && !err; i++) {
		err = put_adopted(g, i);
		if (!err)
			err = rlb_member_write(&g->ctl, i, &g->members[i]);
	}
	if (!err)
		err = record_endpoint(g, &sn);
	if (!err)
		err = pin_group(g, g->name);
	if (err)
		return err;
	/* last: until here the server runs exactly as it did, whatever failed */
	prog_fd = bpf_program__fd(g->skel->progs.rlb_steer);
	if (setsockopt(g->fds[0], SOL_SOCKET, SO_ATTACH_REUSEPORT_EBPF, &prog_fd, sizeof(prog_fd)))
		return rlb_bpf_error(-errno, "cannot attach the steering program");
	g->adopt_attached = true;
	/* where the program cannot read the accept queues, this process writes them while open */
	return rlb_queue_watch_start(g);
}

int rlb_group_fd(const struct rlb_group *g, unsigned int worker)
{
	return worker < g->opts.nr_workers ? g->fds[worker] : -1;
}

int rlb_group_close_worker(struct rlb_group *g, unsigned int worker)
{
	struct rlb_worker w = { .state = RLB_WORKER_EMPTY };
	__u32 slot = g->base + worker;
	bool steering = g->skel && !g->handed_over;
	int err;

	if (worker >= g->opts.nr_workers || g->fds[worker] < 0)
		return rlb_error(-EINVAL, "no open worker %u", worker);
	if (steering) {
		err = rlb_ctl_lock(&g->ctl);
		if (err)
			return err;
		/* out of the rotation first: the program never picks a slot that is going away */
		if (bpf_map_update_elem(g->ctl.fd[RLB_MAP_WORKERS], &slot, &w, 0))
			err = rlb_bpf_error(-errno, "cannot write the workers map");
		if (!err)
			err = rlb_ctl_rebuild_tables(&g->ctl);
		rlb_ctl_unlock(&g->ctl);
		if (err)
			return err;
	}
	/* a successor sending its set reads fds: not while one of them is closing */
	pthread_mutex_lock(&g->hold_lock);
	close(g->fds[worker]);
	g->fds[worker] = -1;
	pthread_mutex_unlock(&g->hold_lock);
	/* the owner's copy would keep that listener open: it gets our new set instead */
	if (g->claimed && !g->opts.udp)
		g->hold_err = rlb_hold_give(g);
	return 0;
}

unsigned int rlb_group_nr_workers(const struct rlb_group *g)
{
	return g->opts.nr_workers;
}

uint16_t rlb_group_port(const struct rlb_group *g)
{
	return g->port;
}

enum rlb_policy rlb_group_policy(const struct rlb_group *g)
{
	struct rlb_config cfg;
	__u32 key = 0;

	/* the CLI or bpftool may have switched it since */
	if (g->skel && bpf_map_lookup_elem(g->ctl.fd[RLB_MAP_CONFIG], &key, &cfg) == 0)
		return cfg.policy;
	return g->opts.policy;
}

uint32_t rlb_group_prog_id(const struct rlb_group *g)
{
	return g->prog_id;
}

int rlb_group_set_policy(struct rlb_group *g, enum rlb_policy policy)
{
	int err;

	if (!g->skel)
		return rlb_error(-EOPNOTSUPP,
				 "the group was opened with policy kernel and has no steering "
				 "program: reopen it with another policy");
	err = rlb_ctl_set_policy(&g->ctl, policy);
	if (!err)
		g->opts.policy = policy;
	return err;
}

struct rlb_ctl *rlb_group_ctl(struct rlb_group *g)
{
	return g->skel ? &g->ctl : NULL;
}

const char *rlb_group_name(const struct rlb_group *g)
{
	return g->name;
}

int rlb_group_set_cpu(struct rlb_group *g, unsigned int worker, unsigned int cpu)
{
	/* the worker's offset in its generation, which is what the program compares */
	struct rlb_cpu c = { .worker = worker };

	if (worker >= g->opts.nr_workers || cpu >= RLB_MAX_CPUS)
		return rlb_error(-ERANGE, "cannot give CPU %u to worker %u: out of range", cpu,
				 worker);
	if (g->skel && bpf_map_update_elem(g->ctl.fd[RLB_MAP_CPUS], &cpu, &c, 0))
		return rlb_bpf_error(-errno, "cannot write the cpus map");
	return 0;
}
