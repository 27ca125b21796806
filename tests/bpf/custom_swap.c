// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Users' policies are swapped into a live group under load, and out again, with no connection
 * lost: each swap is one update of the "custom" program array.
 *
 * A load thread makes connections one after the other (to 127.0.0.1 and 127.0.0.2 in turn)
 * for the whole test; each must be accepted by exactly one worker and served. Around
 * each swap the main thread moves an epoch counter to odd, swaps, and moves it to even; a
 * connection that saw the same even epoch before it connected and after it was accepted was
 * steered by that epoch's policy alone, and is checked against it.
 *
 * 1. Open a group of 4 workers on 0.0.0.0, policy round-robin, and start the load.
 * 2. Three rounds of: load tenant.bpf.o, load fill_first.bpf.o over it, unload, load
 *    dns_qname.bpf.o, unload; after each swap the policy's name is the new one, and 40
 *    connections complete before the next swap. Steady-state checks, per policy:
 *	tenant		127.0.0.1 reaches workers 0-1, 127.0.0.2 workers 2-3
 *	fill_first	worker 0 (capacity 100, and the test publishes no load)
 *	round-robin	each connection the next worker after the one before
 *	dns_qname	(a UDP policy on TCP: it chooses nothing) the kernel's hash serves
 * 3. Ten swaps back to back, tenant in and out, while the load goes on.
 * 4. Stop the load: no connection failed; the stats map counted every connection exactly
 *    once (steered to a slot, or unsteered); every policy program loaded is freed.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>

#include "rlbtest.h"

#define NR_WORKERS 4
#define NR_ROUNDS 3
#define NR_PER_PHASE 40
#define NR_RAPID 10
#define MAX_LOADED (NR_ROUNDS * 3 + NR_RAPID)

enum kind { BUILTIN, TENANT, FILL, DNS };

static const struct phase {
	const char *policy; /* object in examples/policies, NULL to unload */
	const char *name;   /* rlb_ctl_policy_name afterwards */
	enum kind kind;
} phases[] = {
	{ "tenant", "custom:tenant", TENANT }, { "fill_first", "custom:fill_first", FILL },
	{ NULL, "round-robin", BUILTIN },      { "dns_qname", "custom:dns_qname", DNS },
	{ NULL, "round-robin", BUILTIN },
};

#define NR_PHASES (sizeof(phases) / sizeof(phases[0]))

static struct rlb_group *g;
/* Even: the policy of kinds[epoch / 2] steers alone; odd: a swap is under way. */
static atomic_uint epoch;
static enum kind kinds[64];
_Static_assert(NR_ROUNDS *NR_PHASES + 2 * NR_RAPID < 64, "kinds[] holds every swap");
static atomic_bool stop;

/* Written by the load thread, read by main under the lock. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t progress = PTHREAD_COND_INITIALIZER;
static struct {
	long done, failed, wrong, checked[4], kernel_hash;
	char first_wrong[160];
} tally;

/* Whether worker w is what the policy of kind k allows for this connection. */
static bool allowed(enum kind k, const char *dst, int w, int prev)
{
	switch (k) {
	case TENANT:
		return !strcmp(dst, "127.0.0.1") ? w == 0 || w == 1 : w == 2 || w == 3;
	case FILL:
		return w == 0;
	case BUILTIN:
		return prev < 0 || w == (prev + 1) % NR_WORKERS;
	case DNS:
	default:
		return true;
	}
}

static void *run_load(void *arg)
{
	unsigned int prev_epoch = ~0u;
	int prev = -1;

	(void)arg;
	for (long i = 0; !atomic_load(&stop); i++) {
		const char *dst = i % 2 ? "127.0.0.2" : "127.0.0.1";
		unsigned int before = atomic_load(&epoch), after;
		int w = rlbt_steer_reset(g, AF_INET, NULL, 0, dst);
		bool steady, ok;

		after = atomic_load(&epoch);
		steady = before == after && !(before & 1);
		ok = w >= 0 && (!steady || allowed(kinds[before / 2], dst, w,
						   prev_epoch == before ? prev : -1));
		pthread_mutex_lock(&lock);
		tally.done++;
		if (w < 0) {
			tally.failed++;
		} else if (!ok && tally.wrong++ == 0) {
			snprintf(tally.first_wrong, sizeof(tally.first_wrong),
				 "epoch %u (kind %d): %s reached worker %d, the one before %d",
				 before, kinds[before / 2], dst, w, prev);
		}
		if (steady) {
			tally.checked[kinds[before / 2]]++;
			tally.kernel_hash += kinds[before / 2] == DNS;
		}
		pthread_cond_broadcast(&progress);
		pthread_mutex_unlock(&lock);
		prev = steady ? w : -1;
		prev_epoch = steady ? before : ~0u;
	}
	return NULL;
}

/* Waits until the load thread completed n more connections; false after 10 s without. */
static bool wait_connections(long n)
{
	struct timespec deadline;
	long target;
	int err = 0;

	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += 10;
	pthread_mutex_lock(&lock);
	target = tally.done + n;
	while (tally.done < target && err != ETIMEDOUT)
		err = pthread_cond_timedwait(&progress, &lock, &deadline);
	pthread_mutex_unlock(&lock);
	return CHECK(err != ETIMEDOUT, "the load stalled: %ld connections in 10 s", n);
}

static uint32_t loaded[MAX_LOADED];
static int nr_loaded;

/* One swap, fenced by the epoch; checks the name the group reports afterwards. */
static bool swap_to(const struct phase *p)
{
	struct rlb_ctl *ctl = rlb_group_ctl(g);
	unsigned int e = atomic_load(&epoch);
	int err;

	kinds[(e + 2) / 2] = p->kind;
	atomic_store(&epoch, e + 1);
	err = p->policy ? rlb_ctl_load_policy(ctl, rlbt_policy_path(p->policy)) :
			  rlb_ctl_unload_policy(ctl);
	atomic_store(&epoch, e + 2);
	if (!CHECK(!err, "%s %s: %s\n%s", p->policy ? "load" : "unload", p->policy ? p->policy : "",
		   rlb_last_error(), rlb_verifier_log()))
		return false;
	if (p->policy && nr_loaded < MAX_LOADED)
		loaded[nr_loaded++] = rlbt_custom_prog_id(g);
	return CHECK(rlbt_policy_is(ctl, p->name), "after the swap to %s",
		     p->policy ? p->policy : "the built-in policy");
}

int main(void)
{
	static const struct phase tenant = { "tenant", "custom:tenant", TENANT },
				  builtin = { NULL, "round-robin", BUILTIN };
	struct rlb_group_stats st;
	pthread_t thread;
	bool running = false;
	uint64_t counted;
	int err;

	rlbt_require_root();
	/* 1. */
	if (!CHECK(!rlbt_group_open("0.0.0.0", RLB_POLICY_ROUND_ROBIN, NR_WORKERS, &g),
		   "cannot open the group"))
		goto out;
	kinds[0] = BUILTIN;
	err = pthread_create(&thread, NULL, run_load, NULL);
	if (!CHECK(!err, "pthread_create: %s", strerror(err)))
		goto out;
	running = true;
	if (!wait_connections(NR_PER_PHASE))
		goto out;

	/* 2. */
	for (int round = 0; round < NR_ROUNDS; round++)
		for (size_t p = 0; p < NR_PHASES; p++)
			if (!swap_to(&phases[p]) || !wait_connections(NR_PER_PHASE))
				goto out;

	/* 3. */
	for (int i = 0; i < NR_RAPID; i++)
		if (!swap_to(&tenant) || !swap_to(&builtin))
			goto out;
	wait_connections(NR_PER_PHASE);

out:
	/* 4. */
	if (running) {
		atomic_store(&stop, true);
		pthread_join(thread, NULL);
	}
	if (g) {
		printf("%ld connections across %u swaps: %ld failed, %ld off their policy; steady "
		       "under built-in %ld, tenant %ld, fill_first %ld, dns_qname %ld\n",
		       tally.done, atomic_load(&epoch) / 2, tally.failed, tally.wrong,
		       tally.checked[BUILTIN], tally.checked[TENANT], tally.checked[FILL],
		       tally.checked[DNS]);
		CHECK(!tally.failed, "%ld of %ld connections failed", tally.failed, tally.done);
		CHECK(!tally.wrong, "%ld connections off their policy, the first: %s", tally.wrong,
		      tally.first_wrong);
		for (int k = BUILTIN; k <= DNS; k++)
			CHECK(tally.checked[k] > 0, "no connection ran under policy kind %d alone",
			      k);
		err = rlb_ctl_read(rlb_group_ctl(g), &st);
		if (CHECK(!err, "rlb_ctl_read: %s", rlb_last_error())) {
			counted = st.unsteered;
			for (int w = 0; w < NR_WORKERS; w++)
				counted += st.workers[w].steered;
			CHECK(counted == (uint64_t)tally.done,
			      "the stats map counted %llu connections, the load made %ld",
			      (unsigned long long)counted, tally.done);
			CHECK(st.unsteered >= (uint64_t)tally.kernel_hash,
			      "%llu unsteered, but %ld connections ran under dns_qname alone",
			      (unsigned long long)st.unsteered, tally.kernel_hash);
		}
		CHECK(!rlbt_custom_prog_id(g), "a policy is still installed: program %u",
		      rlbt_custom_prog_id(g));
		for (int i = 0; i < nr_loaded; i++)
			CHECK(rlbt_wait_prog_gone(loaded[i]) == -ENOENT,
			      "the policy program %u is still loaded", loaded[i]);
	}
	rlb_group_close(g);
	return rlbt_finish();
}
