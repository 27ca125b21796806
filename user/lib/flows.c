// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The UDP flows table: its size, and a count of the flows it evicted before their timeout.
 *
 * The table is an LRU hash that the program fills, and an LRU map evicts without a word: a
 * table too small for the rate of new flows quietly moves flows that had not timed out to
 * another worker. Counting it on the per-packet path would cost a helper call per datagram,
 * so the owner looks instead: once a second it reads the whole table (one batch lookup) and
 * compares it with its previous look. A flow that was there and is gone, while its last
 * datagram is younger than the timeout, was evicted; so was one whose entry was made anew
 * (its "born" stamp changed) before the old entry could have timed out, unless the old
 * entry's socket is gone (a closed worker or an old generation: a legitimate move). A flow
 * that came and went between two looks is not seen, so the count is a lower bound; a table
 * turning over faster than once a second is shown by it all the same. (A table of millions
 * is looked at less often: the count costs at most about 5 % of a CPU.)
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <reuselb/hash.h>
#include "internal.h"
#include "steer.skel.h"

#define WATCH_INTERVAL_MS 1000
/* Entries per batch lookup call. */
#define BATCH 4096

/* One look at the table. */
struct look {
	struct rlb_flow *keys;
	struct rlb_flow_slot *vals;
	size_t n;
	__u32 *index; /* open addressing over keys: i + 1, 0 for an empty cell */
	size_t index_size;
	__u64 at_ns;
};

struct rlb_flows_watch {
	struct rlb_group *g;
	pthread_t thread;
	int stopfd;
	bool running;
	size_t cap; /* entries a look has room for */
	struct look looks[2];
};

unsigned int rlb_flow_table(const struct rlb_group *g)
{
	return g->opts.flow_table ? g->opts.flow_table : RLB_MAX_FLOWS;
}

static int map_size(int fd, __u32 *size)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);

	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return -errno;
	*size = info.max_entries;
	return 0;
}

int rlb_flows_size(struct rlb_group *g)
{
	char path[RLB_PATH_MAX];
	__u32 live = 0;
	int fd, err;

	if (!g->opts.udp)
		return 0;
	if (!g->predecessor) {
		err = bpf_map__set_max_entries(g->skel->maps.flows, rlb_flow_table(g));
		/* flows seen once get as large a table: one must come back before it is evicted */
		if (!err)
			err = bpf_map__set_max_entries(g->skel->maps.flows_new, rlb_flow_table(g));
		return err;
	}
	/* the maps are shared: a successor takes the live table as it is */
	if (!g->opts.flow_table)
		return 0;
	err = rlb_pin_path(path, sizeof(path), g->name, "flows");
	if (err)
		return err;
	fd = bpf_obj_get(path);
	if (fd < 0)
		return rlb_bpf_error(-errno, path);
	err = map_size(fd, &live);
	close(fd);
	if (err)
		return rlb_bpf_error(err, "cannot read the flows map");
	if (live != g->opts.flow_table)
		return rlb_error(-EINVAL,
				 "group %s has a flow table of %u entries, not %u: a takeover "
				 "shares the live table; give --flow-table %u or leave it out",
				 g->name, live, g->opts.flow_table, live);
	return 0;
}

static __u64 now_ns(void)
{
	struct timespec ts;

	/* the clock of bpf_ktime_get_ns() */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/* Reads the whole table into l; false on an error (the look is then not used). */
static bool take_look(int fd, struct look *l, size_t cap)
{
	struct rlb_flow batch;
	bool first = true;

	l->n = 0;
	l->at_ns = now_ns();
	for (;;) {
		__u32 count = cap - l->n < BATCH ? cap - l->n : BATCH;
		int err;

		/* out of room: a partial look would take the flows not read for evicted ones */
		if (!count)
			return false;
		/* a hash map's batch token is a bucket number: a key's room is plenty */
		err = bpf_map_lookup_batch(fd, first ? NULL : &batch, &batch, l->keys + l->n,
					   l->vals + l->n, &count, NULL);
		first = false;
		l->n += count;
		if (err == -ENOENT)
			break;
		if (err)
			return false;
	}
	l->index_size = 1;
	while (l->index_size < 2 * l->n + 2)
		l->index_size *= 2;
	memset(l->index, 0, l->index_size * sizeof(*l->index));
	for (size_t i = 0; i < l->n; i++) {
		size_t cell = rlb_hash_flow(&l->keys[i], 0) & (l->index_size - 1);

		while (l->index[cell])
			cell = (cell + 1) & (l->index_size - 1);
		l->index[cell] = i + 1;
	}
	return true;
}

static const struct rlb_flow_slot *find(const struct look *l, const struct rlb_flow *key)
{
	size_t cell = rlb_hash_flow(key, 0) & (l->index_size - 1);

	for (; l->index[cell]; cell = (cell + 1) & (l->index_size - 1))
		if (!memcmp(&l->keys[l->index[cell] - 1], key, sizeof(*key)))
			return &l->vals[l->index[cell] - 1];
	return NULL;
}

/* Whether the slot still has a socket that takes flows: else its flows moved for a reason. */
static bool slot_open(const struct rlb_ctl *c, __u32 slot)
{
	struct rlb_worker w;
	__u64 cookie;

	return slot < RLB_MAX_SLOTS &&
	       bpf_map_lookup_elem(c->fd[RLB_MAP_WORKERS], &slot, &w) == 0 &&
	       w.state != RLB_WORKER_EMPTY &&
	       bpf_map_lookup_elem(c->fd[RLB_MAP_SOCKS], &slot, &cookie) == 0;
}

/* The nanoseconds of a born stamp, from a time after it (within 52 days). */
static __u64 born_ns(__u32 born, __u64 after_ns)
{
	__u32 ago = (__u32)(after_ns >> RLB_FLOW_BORN_SHIFT) - born;

	return ((after_ns >> RLB_FLOW_BORN_SHIFT) - ago) << RLB_FLOW_BORN_SHIFT;
}

/* Flows of prev evicted before their timeout, by what cur shows. */
static __u64 evicted_between(const struct rlb_ctl *c, const struct look *prev,
			     const struct look *cur, __u64 timeout_ns)
{
	/* a stamp is cut to about a millisecond: give the timeout that much */
	__u64 slack = 2ull << RLB_FLOW_BORN_SHIFT, n = 0;

	for (size_t i = 0; i < prev->n; i++) {
		const struct rlb_flow_slot *was = &prev->vals[i], *now;
		__u64 until = was->seen_ns + timeout_ns;

		now = find(cur, &prev->keys[i]);
		if (now && now->born == was->born)
			continue;
		/* gone, or made anew, at a time when the old entry had not timed out yet */
		if (!now && cur->at_ns + slack >= until)
			continue;
		if (now && born_ns(now->born, cur->at_ns) + slack >= until)
			continue;
		if (!slot_open(c, was->slot))
			continue;
		n++;
	}
	return n;
}

/* Adds n to the owner's counter in the stats map (only the owner writes that entry). */
static int count_evicted(const struct rlb_ctl *c, __u64 n)
{
	int ncpu = libbpf_num_possible_cpus(), err = 0;
	__u32 key = RLB_STATS_EVICTED;
	struct rlb_stats *percpu;

	if (ncpu < 0)
		return ncpu;
	percpu = calloc(ncpu, sizeof(*percpu));
	if (!percpu)
		return -ENOMEM;
	if (bpf_map_lookup_elem(c->fd[RLB_MAP_STATS], &key, percpu) == 0) {
		percpu[0].steered += n;
		if (bpf_map_update_elem(c->fd[RLB_MAP_STATS], &key, percpu, 0))
			err = -errno;
	} else {
		err = -errno;
	}
	free(percpu);
	return err;
}

static bool stopping(const struct rlb_flows_watch *w, int timeout_ms)
{
	struct pollfd pfd = { .fd = w->stopfd, .events = POLLIN };

	return poll(&pfd, 1, timeout_ms) != 0;
}

static void *watch_main(void *arg)
{
	struct rlb_flows_watch *w = arg;
	struct rlb_group *g = w->g;
	struct look *prev = NULL, *cur = &w->looks[0];
	int wait_ms = WATCH_INTERVAL_MS;
	struct rlb_config cfg;
	__u32 key = 0;
	__u64 start;

	while (!stopping(w, wait_ms)) {
		start = now_ns();
		/* only the owner counts: a successor waiting for the pins, or an owner that has
		 * handed over, would count the same evictions twice */
		if (g->handed_over || (g->predecessor && !rlb_group_owns_pins(g)) ||
		    bpf_map_lookup_elem(g->ctl.fd[RLB_MAP_CONFIG], &key, &cfg) ||
		    !take_look(g->ctl.fd[RLB_MAP_FLOWS], cur, w->cap)) {
			prev = NULL;
			continue;
		}
		if (prev)
			count_evicted(&g->ctl, evicted_between(&g->ctl, prev, cur,
							       cfg.flow_timeout * 1000000000ull));
		prev = cur;
		cur = cur == &w->looks[0] ? &w->looks[1] : &w->looks[0];
		/* a look at a full 65 536-entry table takes about 25 ms: a huge table is looked
		 * at less often, so that counting never costs more than 5 % of a CPU */
		wait_ms = (now_ns() - start) / 1000000 * 20;
		wait_ms = wait_ms > WATCH_INTERVAL_MS ? wait_ms : WATCH_INTERVAL_MS;
	}
	return NULL;
}

int rlb_flows_watch_start(struct rlb_group *g)
{
	struct rlb_flows_watch *w;
	__u32 size = 0;
	int err;

	if (!g->opts.udp || !g->skel)
		return 0;
	err = map_size(g->ctl.fd[RLB_MAP_FLOWS], &size);
	if (err)
		return rlb_bpf_error(err, "cannot read the flows map");
	w = calloc(1, sizeof(*w));
	if (!w)
		return rlb_error(-ENOMEM, "out of memory");
	w->g = g;
	/* flows made and evicted while a look goes on may show twice: room for a batch more */
	w->cap = (size_t)size + BATCH;
	w->stopfd = eventfd(0, EFD_CLOEXEC);
	for (int i = 0; i < 2; i++) {
		struct look *l = &w->looks[i];

		l->keys = malloc(w->cap * sizeof(*l->keys));
		l->vals = malloc(w->cap * sizeof(*l->vals));
		/* the index is at most twice the look, rounded up to a power of two */
		l->index = malloc((4 * w->cap + 4) * sizeof(*l->index));
		if (!l->keys || !l->vals || !l->index)
			err = -ENOMEM;
	}
	if (!err && w->stopfd < 0)
		err = -errno;
	if (!err)
		err = -pthread_create(&w->thread, NULL, watch_main, w);
	w->running = !err;
	g->flows = w;
	if (err) {
		rlb_flows_watch_stop(g);
		return rlb_error(err, "cannot watch the flows table: %s", strerror(-err));
	}
	return 0;
}

void rlb_flows_watch_stop(struct rlb_group *g)
{
	struct rlb_flows_watch *w = g->flows;
	__u64 one = 1;
	ssize_t n;

	if (!w)
		return;
	if (w->running) {
		n = write(w->stopfd, &one, sizeof(one));
		(void)n;
		pthread_join(w->thread, NULL);
	}
	if (w->stopfd >= 0)
		close(w->stopfd);
	for (int i = 0; i < 2; i++) {
		free(w->looks[i].keys);
		free(w->looks[i].vals);
		free(w->looks[i].index);
	}
	free(w);
	g->flows = NULL;
}

int rlb_flows_read(const struct rlb_ctl *c, uint64_t *evicted, unsigned int *table)
{
	int ncpu = libbpf_num_possible_cpus();
	__u32 key = RLB_STATS_EVICTED, size = 0;
	struct rlb_stats *percpu;
	int err;

	*evicted = 0;
	*table = 0;
	err = map_size(c->fd[RLB_MAP_FLOWS], &size);
	if (err)
		return rlb_bpf_error(err, "cannot read the flows map");
	if (ncpu < 0)
		return rlb_error(ncpu, "cannot count CPUs: %s", strerror(-ncpu));
	percpu = calloc(ncpu, sizeof(*percpu));
	if (!percpu)
		return rlb_error(-ENOMEM, "out of memory");
	if (bpf_map_lookup_elem(c->fd[RLB_MAP_STATS], &key, percpu)) {
		err = rlb_bpf_error(-errno, "cannot read the stats map");
		free(percpu);
		return err;
	}
	for (int i = 0; i < ncpu; i++)
		*evicted += percpu[i].steered;
	free(percpu);
	*table = size;
	return 0;
}
