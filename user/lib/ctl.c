// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Control of a group's steering through its maps: policy, weights, drain, and the figures
 * behind `reuselb stats`. The same code serves the owner (skeleton fds) and the CLI (pins).
 */
#include <dirent.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/random.h>
#include <reuselb/cid.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "internal.h"

static int cmp_names(const void *a, const void *b)
{
	return strcmp(a, b);
}

int rlb_list_groups(char (*names)[RLB_NAME_MAX + 1], int *pids, int max)
{
	char all[RLB_MAX_GROUPS][RLB_NAME_MAX + 1];
	struct dirent *e;
	int n = 0, pid;
	DIR *d;

	d = opendir(RLB_PIN_ROOT);
	if (!d)
		return 0;
	while ((e = readdir(d)) && n < RLB_MAX_GROUPS) {
		if (e->d_name[0] == '.' || strlen(e->d_name) > RLB_NAME_MAX)
			continue;
		if (rlb_group_live(e->d_name))
			memcpy(all[n++], e->d_name, strlen(e->d_name) + 1);
	}
	closedir(d);
	qsort(all, n, sizeof(all[0]), cmp_names);
	for (int i = 0; i < n && i < max; i++) {
		memcpy(names[i], all[i], sizeof(all[0]));
		if (pids) {
			pid = rlb_group_live(all[i]);
			pids[i] = pid;
		}
	}
	return n;
}

int rlb_group_owner(const char *name)
{
	return rlb_name_valid(name) ? rlb_group_live(name) : 0;
}

const char *const rlb_map_names[RLB_MAP__COUNT] = {
#define RLB_MAP_NAME(id, name) [RLB_MAP_##id] = #name,
	RLB_MAPS(RLB_MAP_NAME)
#undef RLB_MAP_NAME
};

static int no_such_group(const char *name)
{
	char names[8][RLB_NAME_MAX + 1], list[8 * (RLB_NAME_MAX + 2) + 8] = "";
	int n = rlb_list_groups(names, NULL, 8);
	size_t off = 0;

	for (int i = 0; i < n && i < 8; i++)
		off += snprintf(list + off, sizeof(list) - off, "%s%s", i ? ", " : "", names[i]);
	if (n > 8)
		snprintf(list + off, sizeof(list) - off, ", ...");
	if (n == 0)
		return rlb_error(-ENOENT, "no group %s: no reuselb group is serving on this host",
				 name);
	return rlb_error(-ENOENT, "no group %s: live groups are %s", name, list);
}

static int open_pin(const char *name, const char *map, int *fd)
{
	char path[RLB_PATH_MAX];
	int err = rlb_pin_path(path, sizeof(path), name, map);

	if (err)
		return err;
	*fd = bpf_obj_get(path);
	if (*fd < 0)
		return rlb_bpf_error(-errno, path);
	return 0;
}

void rlb_ctl_init(struct rlb_ctl *c, const char *name)
{
	snprintf(c->name, sizeof(c->name), "%s", name ? name : "");
	c->lock_fd = -1;
	pthread_mutex_init(&c->mutex, NULL);
}

void rlb_ctl_fini(struct rlb_ctl *c)
{
	if (c->lock_fd >= 0)
		close(c->lock_fd);
	c->lock_fd = -1;
	pthread_mutex_destroy(&c->mutex);
}

/*
 * The flock is on a directory beside the pins (read access suffices, as for the pins, and
 * bpftool sees no new object), held only for the few map operations of one change.
 */
int rlb_ctl_lock(struct rlb_ctl *c)
{
	char path[RLB_PATH_MAX];
	int err;

	pthread_mutex_lock(&c->mutex);
	if (c->lock_fd < 0) {
		err = rlb_pin_path(path, sizeof(path), c->name, RLB_PIN_CTL_LOCK);
		if (err)
			goto fail;
		c->lock_fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		/* a group without pins is reachable from this process only: the mutex is enough */
		if (c->lock_fd < 0 && errno == ENOENT)
			return 0;
		if (c->lock_fd < 0) {
			err = rlb_error(-errno, "cannot open the control lock %s: %s", path,
					strerror(errno));
			goto fail;
		}
	}
	while (flock(c->lock_fd, LOCK_EX)) {
		if (errno == EINTR)
			continue;
		err = rlb_error(-errno, "cannot take the control lock of group %s: %s", c->name,
				strerror(errno));
		goto fail;
	}
	return 0;
fail:
	pthread_mutex_unlock(&c->mutex);
	return err;
}

void rlb_ctl_unlock(struct rlb_ctl *c)
{
	if (c->lock_fd >= 0)
		flock(c->lock_fd, LOCK_UN);
	pthread_mutex_unlock(&c->mutex);
}

/*
 * A group pinned by a reuselb of another ABI (a config of another size) is refused: a lookup
 * copies the map's value size into our smaller struct.
 */
static int check_abi(const struct rlb_ctl *c)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);

	if (bpf_obj_get_info_by_fd(c->fd[RLB_MAP_CONFIG], &info, &len))
		return rlb_bpf_error(-errno, "cannot read the config map");
	if (info.value_size != sizeof(struct rlb_config))
		return rlb_error(-EPROTO,
				 "group %s was made by another version of reuselb (config of %u "
				 "bytes, not %zu): use that version's reuselb",
				 c->name, info.value_size, sizeof(struct rlb_config));
	return 0;
}

int rlb_ctl_open(const char *name, struct rlb_ctl **out)
{
	struct rlb_ctl *c;
	int err;

	*out = NULL;
	err = rlb_check_name(name);
	if (err)
		return err;
	if (!rlb_group_live(name)) {
		char dir[RLB_PATH_MAX];

		/* a group we may not look into is not a group that does not exist */
		if (!rlb_pin_path(dir, sizeof(dir), name, NULL) &&
		    ((access(RLB_PIN_ROOT, X_OK) && errno == EACCES) ||
		     (access(dir, R_OK | X_OK) && errno == EACCES)))
			return rlb_bpf_error(-EACCES, "cannot read the pins of " RLB_PIN_ROOT);
		return no_such_group(name);
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return rlb_error(-ENOMEM, "out of memory");
	rlb_ctl_init(c, name);
	c->owned = true;
	for (int i = 0; i < RLB_MAP__COUNT; i++)
		c->fd[i] = -1;
	for (int i = 0; i < RLB_MAP__COUNT && !err; i++) {
		err = open_pin(name, rlb_map_names[i], &c->fd[i]);
		/* members and flows_new came later: a group pinned by an older reuselb has none
		 * (pids unknown; the CLI does not read flows_new) */
		if (err == -ENOENT && (i == RLB_MAP_MEMBERS || i == RLB_MAP_FLOWS_NEW))
			err = 0;
	}
	if (!err)
		err = check_abi(c);
	if (err) {
		rlb_ctl_close(c);
		return err;
	}
	*out = c;
	return 0;
}

void rlb_ctl_close(struct rlb_ctl *c)
{
	if (!c || !c->owned)
		return;
	for (int i = 0; i < RLB_MAP__COUNT; i++)
		if (c->fd[i] >= 0)
			close(c->fd[i]);
	rlb_ctl_fini(c);
	free(c);
}

const char *rlb_ctl_name(const struct rlb_ctl *c)
{
	return c->name;
}

int rlb_read_config(const struct rlb_ctl *c, struct rlb_config *cfg)
{
	__u32 key = 0;

	if (bpf_map_lookup_elem(c->fd[RLB_MAP_CONFIG], &key, cfg))
		return rlb_bpf_error(-errno, "cannot read the config map");
	return 0;
}

int rlb_write_config(struct rlb_ctl *c, const struct rlb_config *cfg)
{
	__u32 key = 0;

	if (bpf_map_update_elem(c->fd[RLB_MAP_CONFIG], &key, cfg, 0))
		return rlb_bpf_error(-errno, "cannot write the config map");
	return 0;
}

static int read_worker(const struct rlb_ctl *c, __u32 slot, struct rlb_worker *w)
{
	if (bpf_map_lookup_elem(c->fd[RLB_MAP_WORKERS], &slot, w))
		return rlb_bpf_error(-errno, "cannot read the workers map");
	return 0;
}

static int write_worker(struct rlb_ctl *c, __u32 slot, const struct rlb_worker *w)
{
	if (bpf_map_update_elem(c->fd[RLB_MAP_WORKERS], &slot, w, 0))
		return rlb_bpf_error(-errno, "cannot write the workers map");
	return 0;
}

/* Sums the per-CPU counters of one slot. */
static int read_stats(const struct rlb_ctl *c, __u32 slot, struct rlb_stats *sum)
{
	int ncpu = libbpf_num_possible_cpus();
	struct rlb_stats *percpu;

	if (ncpu < 0)
		return rlb_error(ncpu, "cannot count CPUs: %s", strerror(-ncpu));
	percpu = calloc(ncpu, sizeof(*percpu));
	if (!percpu)
		return rlb_error(-ENOMEM, "out of memory");
	if (bpf_map_lookup_elem(c->fd[RLB_MAP_STATS], &slot, percpu)) {
		free(percpu);
		return rlb_bpf_error(-errno, "cannot read the stats map");
	}
	memset(sum, 0, sizeof(*sum));
	for (int i = 0; i < ncpu; i++) {
		sum->steered += percpu[i].steered;
		sum->fallback += percpu[i].fallback;
		sum->migrated += percpu[i].migrated;
	}
	free(percpu);
	return 0;
}

/* Who serves the slot; left unknown for pins made before the members map. */
static void read_member(const struct rlb_ctl *c, __u32 slot, struct rlb_worker_stats *ws)
{
	struct rlb_member m;

	if (c->fd[RLB_MAP_MEMBERS] < 0 || bpf_map_lookup_elem(c->fd[RLB_MAP_MEMBERS], &slot, &m))
		return;
	ws->pid = m.pid;
	memcpy(ws->comm, m.comm, sizeof(ws->comm));
	ws->comm[sizeof(ws->comm) - 1] = 0;
}

int rlb_ctl_read(const struct rlb_ctl *c, struct rlb_group_stats *out)
{
	struct rlb_config cfg;
	struct rlb_stats st;
	struct rlb_worker w;
	struct rlb_load l;
	int err;

	memset(out, 0, sizeof(*out));
	err = rlb_read_config(c, &cfg);
	if (err)
		return err;
	out->policy = cfg.policy;
	out->nr_workers = cfg.nr_workers < RLB_MAX_WORKERS ? cfg.nr_workers : RLB_MAX_WORKERS;
	out->base = cfg.base;
	for (__u32 i = 0; i < out->nr_workers; i++) {
		struct rlb_worker_stats *ws = &out->workers[i];
		__u32 slot = cfg.base + i;

		err = read_worker(c, slot, &w);
		if (!err)
			err = read_stats(c, slot, &st);
		if (!err && bpf_map_lookup_elem(c->fd[RLB_MAP_LOAD], &slot, &l))
			err = rlb_bpf_error(-errno, "cannot read the load map");
		if (err)
			return err;
		ws->state = w.state;
		ws->weight = w.weight;
		ws->steered = st.steered;
		ws->fallback = st.fallback;
		ws->migrated = st.migrated;
		ws->accepted = l.accepted;
		ws->active = l.active;
		ws->busy = l.busy;
		read_member(c, slot, ws);
	}
	out->adopted = cfg.flags & RLB_CFG_ADOPTED;
	err = read_stats(c, RLB_STATS_UNSTEERED, &st);
	out->unsteered = st.steered;
	if (!err && (cfg.flags & RLB_CFG_FLOWS))
		err = rlb_flows_read(c, &out->flows_evicted, &out->flow_table);
	if (!err)
		rlb_ctl_fill_queues(c, out);
	return err;
}

static int set_policy(struct rlb_ctl *c, enum rlb_policy policy)
{
	struct bpf_map_info info = {};
	struct rlb_features f = {};
	__u32 len = sizeof(info);
	struct rlb_config cfg;
	__u32 key = 0;
	int err;

	/* what the owner's probe found at load time: its load map says whether it is mmapable */
	if (bpf_obj_get_info_by_fd(c->fd[RLB_MAP_LOAD], &info, &len))
		return rlb_bpf_error(-errno, "cannot read the load map");
	f.sk_reuseport = true;
	f.mmapable = info.map_flags & BPF_F_MMAPABLE;
	err = rlb_policy_check(policy, &f, c->name);
	if (err)
		return err;
	err = rlb_read_config(c, &cfg);
	if (err)
		return err;
	/* one aligned field changes: the program sees the old policy or the new, nothing between */
	cfg.policy = policy;
	if (bpf_map_update_elem(c->fd[RLB_MAP_CONFIG], &key, &cfg, 0))
		return rlb_bpf_error(-errno, "cannot write the config map");
	return 0;
}

/* The slot of a worker id, checked against the serving generation. */
static int worker_slot(const struct rlb_ctl *c, unsigned int worker, __u32 *slot,
		       struct rlb_config *cfg)
{
	int err = rlb_read_config(c, cfg);

	if (err)
		return err;
	if (worker >= cfg->nr_workers)
		return rlb_error(-ERANGE, "worker %u out of range: group %s has workers 0 to %u",
				 worker, c->name, cfg->nr_workers - 1);
	*slot = cfg->base + worker;
	return 0;
}

int rlb_ctl_set_policy(struct rlb_ctl *c, enum rlb_policy policy)
{
	int err = rlb_ctl_lock(c);

	if (err)
		return err;
	err = set_policy(c, policy);
	rlb_ctl_unlock(c);
	return err;
}

static int set_weight(struct rlb_ctl *c, unsigned int worker, unsigned int weight)
{
	struct rlb_config cfg;
	struct rlb_worker w;
	__u32 slot = 0;
	int err;

	if (weight > RLB_WEIGHT_MAX)
		return rlb_error(-ERANGE, "weight %u out of range: give 0 to %d", weight,
				 RLB_WEIGHT_MAX);
	err = worker_slot(c, worker, &slot, &cfg);
	if (!err)
		err = read_worker(c, slot, &w);
	if (err)
		return err;
	w.weight = weight;
	err = write_worker(c, slot, &w);
	return err ? err : rlb_ctl_rebuild_tables(c);
}

int rlb_ctl_set_weight(struct rlb_ctl *c, unsigned int worker, unsigned int weight)
{
	int err = rlb_ctl_lock(c);

	if (err)
		return err;
	err = set_weight(c, worker, weight);
	rlb_ctl_unlock(c);
	return err;
}

static int set_draining(struct rlb_ctl *c, unsigned int worker, bool draining)
{
	struct rlb_config cfg;
	struct rlb_worker w, other;
	unsigned int live = 0;
	__u32 slot = 0;
	int err;

	err = worker_slot(c, worker, &slot, &cfg);
	if (!err)
		err = read_worker(c, slot, &w);
	if (err)
		return err;
	if (w.state == RLB_WORKER_EMPTY)
		return rlb_error(-ENOENT, "worker %u of group %s has closed", worker, c->name);
	if (draining && w.state == RLB_WORKER_LIVE) {
		for (__u32 i = 0; i < cfg.nr_workers; i++) {
			err = read_worker(c, cfg.base + i, &other);
			if (err)
				return err;
			live += other.state == RLB_WORKER_LIVE;
		}
		if (live <= 1)
			return rlb_error(-EBUSY,
					 "worker %u is the last live worker of group %s: refusing "
					 "to drain it (undrain another first)",
					 worker, c->name);
	}
	w.state = draining ? RLB_WORKER_DRAINING : RLB_WORKER_LIVE;
	err = write_worker(c, slot, &w);
	return err ? err : rlb_ctl_rebuild_tables(c);
}

int rlb_ctl_set_draining(struct rlb_ctl *c, unsigned int worker, bool draining)
{
	int err = rlb_ctl_lock(c);

	if (err)
		return err;
	err = set_draining(c, worker, draining);
	rlb_ctl_unlock(c);
	return err;
}

int rlb_ctl_cid_mint(const struct rlb_ctl *c, unsigned int worker, uint16_t host,
		     uint8_t cid[RLB_CID_LEN])
{
	struct rlb_config cfg;
	__u32 slot = 0;
	int err;

	err = worker_slot(c, worker, &slot, &cfg);
	if (err)
		return err;
	if (getrandom(cid + 4, 4, 0) != 4)
		return rlb_error(-errno, "cannot mint a CID: getrandom: %s", strerror(errno));
	cid[0] = RLB_CID_VERSION | ((host >> 8) & 0x3f);
	cid[1] = host & 0xff;
	cid[2] = slot;
	cid[3] = rlb_cid_check(cid, cfg.seed);
	return 0;
}
