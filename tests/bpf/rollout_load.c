// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Rollouts under load: a TCP group and a UDP group, each with a canary beside the owner, while
 * rlbload opens 2500 connections a second (and, but for the kill, 500 new UDP flows a second),
 * and long-lived UDP flows ping on. Three runs: promote, rollback, kill -9 of the canary.
 *
 * 1. A: "serve -a 127.0.0.1 -p TPORT -w 2 --mode id --name ro-t-PID-RUN --grace 20
 *    --confirm 200", and Au the same on UPORT with --udp --mode echo --flow-timeout 1.
 * 2. Four UDP flows (connected sockets from 127.0.0.2 ..) ping Au, one datagram at a time,
 *    each answered within a second or counted lost; they started before every step below.
 * 3. rlbload on TCP (and UDP but for the kill run); B and Bu: the same commands with
 *    --takeover --canary 10. Four more flows start, some of them on the canary.
 * 4. Over the next 2000 connections, the canary's share of what the program steered is
 *    10 +- 2 %; of the next 1000 new UDP flows (where rlbload makes them), those whose entry
 *    in the flows_new map names a slot of the canary are 10 +- 2 %. "set 50": 50 +- 2 % of 2000
 *    more connections and 1000 more flows.
 * 5. promote: A and Au hand over and exit 0 (Au once the flows stop); of 1000 connections
 *    after, 100 % go to B's generation. rollback: the same with B and A swapped. kill: SIGSTOP
 *    B and Bu, note B's accepted and open connections, SIGKILL both; the owners notice by
 *    themselves ("canary died") within UNDONE_MS of the kill (they watch it through a
 *    pidfd), then A takes 100 % of the next 1000.
 * 6. The flows stop: not one datagram of them was lost (in the kill run: of those on A, the
 *    first four; the canary's died with it). rlbload: no connection failed (kill run: at
 *    most those B had accepted and not answered); UDP: every flow answered.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <reuselb/hash.h>

#include "rlbtest.h"

#define WAIT_MS 60000
#define FLOWS 4
#define MEASURE 2000
#define NEW_FLOWS 1000
/*
 * From a canary's kill -9 to its owner's undoing it. The pidfd wakes the owner at the exit
 * (5-12 ms here when idle); that it watches one is checked in its fds (holds_pidfd_of), so
 * the bound only has to catch an owner that does not notice: loose, for a busy machine.
 */
#define UNDONE_MS 5000

enum run { PROMOTE, ROLLBACK, KILL };
static const char *const run_names[] = { "promote", "rollback", "kill -9" };

/* A long-lived UDP flow: one datagram at a time, each echoed within a second. */
struct flow {
	pthread_t thread;
	int fd;
	int stop;
	unsigned long sent, lost;
};

static void *ping(void *arg)
{
	struct flow *f = arg;
	char buf[64], got[64];

	while (!__atomic_load_n(&f->stop, __ATOMIC_ACQUIRE)) {
		struct pollfd pfd = { .fd = f->fd, .events = POLLIN };
		int len = snprintf(buf, sizeof(buf), "ping %lu", f->sent);
		ssize_t n;

		if (send(f->fd, buf, len, 0) != len) {
			f->lost++;
			continue;
		}
		f->sent++;
		if (poll(&pfd, 1, 1000) != 1 || (n = recv(f->fd, got, sizeof(got), 0)) != len ||
		    memcmp(buf, got, len))
			f->lost++;
		usleep(2000);
	}
	return NULL;
}

static int flow_start(struct flow *f, int i, uint16_t port)
{
	struct sockaddr_in src = { .sin_family = AF_INET }, dst = src;

	f->fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	inet_pton(AF_INET, "127.0.0.1", &dst.sin_addr);
	dst.sin_port = htons(port);
	src.sin_addr.s_addr = htonl(0x7f000002 + i);
	if (f->fd < 0 || bind(f->fd, (void *)&src, sizeof(src)) ||
	    connect(f->fd, (void *)&dst, sizeof(dst)))
		return -errno;
	return -pthread_create(&f->thread, NULL, ping, f);
}

static void flow_stop(struct flow *f)
{
	if (f->fd <= 0)
		return;
	__atomic_store_n(&f->stop, 1, __ATOMIC_RELEASE);
	pthread_join(f->thread, NULL);
	close(f->fd);
	f->fd = 0;
}

/* A group seen through its pins, and the steered count to wait for. */
struct group {
	char name[48];
	struct rlb_ctl *ctl;
	uint64_t until;
};

/*
 * What the program steered so far, read from the pinned stats map: to every slot of both
 * generations and to none (the kernel's hash), and to generation gen's slots in *of_gen. The
 * map, not reuselb rollout, which shows no generation that has left.
 */
static uint64_t steered(struct group *g, unsigned int gen, uint64_t *of_gen)
{
	int ncpu = libbpf_num_possible_cpus(), fd;
	struct rlb_stats st[ncpu > 0 ? ncpu : 1];
	char path[128];
	uint64_t all = 0;

	*of_gen = 0;
	snprintf(path, sizeof(path), "%s/%s/stats", RLB_PIN_ROOT, g->name);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return 0;
	for (__u32 slot = 0; slot <= RLB_STATS_UNSTEERED; slot++) {
		if (bpf_map_lookup_elem(fd, &slot, st))
			continue;
		for (int i = 0; i < ncpu; i++) {
			all += st[i].steered;
			if (slot / RLB_MAX_WORKERS == gen)
				*of_gen += st[i].steered;
		}
	}
	close(fd);
	return all;
}

static bool reached(void *arg)
{
	struct group *g = arg;
	uint64_t of;

	return steered(g, 0, &of) >= g->until;
}

/*
 * The share of generation gen, in percent, of the next n connections (or flows) the program
 * steers; -1 if they did not come. Counts of a generation that left are kept in the stats.
 */
static double share_of_next(struct group *g, unsigned int gen, uint64_t n)
{
	uint64_t all0, of0, all1, of1;

	all0 = steered(g, gen, &of0);
	g->until = all0 + n;
	if (!rlbt_wait_for(reached, g, WAIT_MS))
		return -1;
	all1 = steered(g, gen, &of1);
	return 100.0 * (double)(of1 - of0) / (double)(all1 - all0);
}

/* A stamp as the program writes "born": bpf_ktime_get_coarse_ns() >> RLB_FLOW_BORN_SHIFT. */
static uint32_t born_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint32_t)(((uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec) >>
			  RLB_FLOW_BORN_SHIFT);
}

/*
 * The UDP flows the program placed after the stamp since, by the entries it made for them in
 * the flows_new map (one per new flow, made with its first datagram where it chose the flow's
 * slot; a second datagram copies it into flows and leaves it to age out), and in *of_gen those
 * it placed in generation gen. The long-lived flows and their datagrams are older: only new
 * flows count.
 */
static uint64_t new_flows(struct group *g, uint32_t since, unsigned int gen, uint64_t *of_gen)
{
	struct rlb_flow key, next;
	struct rlb_flow_slot v;
	uint64_t all = 0;
	char path[128];
	void *prev = NULL;
	int fd;

	*of_gen = 0;
	snprintf(path, sizeof(path), "%s/%s/flows_new", RLB_PIN_ROOT, g->name);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return 0;
	while (!bpf_map_get_next_key(fd, prev, &next)) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(fd, &key, &v) || (int32_t)(v.born - since) <= 0)
			continue;
		all++;
		*of_gen += v.slot / RLB_MAX_WORKERS == gen;
	}
	close(fd);
	return all;
}

/* The share of generation gen, in percent, of the next n new UDP flows; -1 if they did not come. */
static double flow_share_of_next(struct group *g, unsigned int gen, uint64_t n)
{
	const struct timespec pause = { .tv_nsec = 100 * 1000 * 1000 };
	long end = rlbt_now_ms() + WAIT_MS;
	uint32_t since = born_now();
	uint64_t all, of;

	/* a walk of the whole map each look: spaced, bounded by the deadline */
	while ((all = new_flows(g, since, gen, &of)) < n && rlbt_now_ms() < end)
		nanosleep(&pause, NULL);
	return all >= n ? 100.0 * (double)of / (double)all : -1;
}

static int serve(const char *name, const char *port, bool udp, const char *canary,
		 struct rlbt_server *s)
{
	const char *argv[24] = { "serve", "-a",	       "127.0.0.1", "-p",     port,
				 "-w",	  "2",	       "--name",    name,     "--grace",
				 "20",	  "--confirm", "200",	    "--mode", udp ? "echo" : "id" };
	int n = 15, err;

	if (udp) {
		argv[n++] = "--udp";
		argv[n++] = "--flow-timeout";
		argv[n++] = "1";
	}
	if (canary) {
		argv[n++] = "--takeover";
		argv[n++] = "--canary";
		argv[n++] = canary;
	}
	err = rlbt_serve_start_err(argv, fileno(tmpfile()), s);
	CHECK(!err, "serve %s%s did not start: %s", name, canary ? " --canary" : "",
	      strerror(-err));
	return err;
}

/* The owner has undone the dead canary's rollout. */
static bool canary_undone(void *arg)
{
	struct group *g = arg;
	struct rlb_rollout_view v;

	return !rlb_ctl_rollout_read(g->ctl, &v) && !v.rollout &&
	       v.event == RLB_ROLLOUT_CANARY_DIED;
}

/* Whether process holder has a pidfd open on pid (a pidfd's fdinfo says "Pid:\t<pid>"). */
static bool holds_pidfd_of(pid_t holder, pid_t pid)
{
	char dir[64], path[384], target[64], line[128];
	struct dirent *e;
	bool found = false;
	DIR *d;

	snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)holder);
	d = opendir(dir);
	if (!d)
		return false;
	while (!found && (e = readdir(d))) {
		ssize_t n;
		FILE *f;

		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		n = readlink(path, target, sizeof(target) - 1);
		if (n < 0)
			continue;
		target[n] = '\0';
		if (strcmp(target, "anon_inode:[pidfd]"))
			continue;
		snprintf(path, sizeof(path), "/proc/%d/fdinfo/%s", (int)holder, e->d_name);
		f = fopen(path, "r");
		while (f && !found && fgets(line, sizeof(line), f))
			found = !strncmp(line, "Pid:", 4) && atoi(line + 4) == pid;
		if (f)
			fclose(f);
	}
	closedir(d);
	return found;
}

static bool within(double share, double want, const char *what, enum run run)
{
	printf("%s: %s: %.2f %% (want %.0f +- 2)\n", run_names[run], what, share, want);
	return CHECK(share >= want - 2 && share <= want + 2, "%s: %s: %.2f %%, want %.0f +- 2",
		     run_names[run], what, share, want);
}

static void run_one(enum run run)
{
	struct rlbt_server a = { .pid = -1, .out_fd = -1 }, au = a, b = a, bu = a;
	struct rlbt_load tl = { .pid = -1 }, ul = { .pid = -1 };
	struct rlbt_load_result tr = {}, ur = {};
	struct group t = {}, u = {};
	struct flow flows[2 * FLOWS] = {};
	char tport[16], uport[16];
	const char *tload[] = { "-p", tport,  "-m", "id",    "-d", "600",
				"-r", "2500", "-t", "60000", NULL };
	const char *uload[] = { "-p",  uport, "-m",  "echo", "-u",   "-d",
				"600", "-r",  "500", "-t",   "5000", NULL };
	struct rlb_rollout_view v;
	unsigned int gen_a, gen_b, ugen_b, nr_flows = run == KILL ? FLOWS : 2 * FLOWS;
	uint64_t b_active = 0, failed;
	unsigned long sent = 0, lost = 0;
	int status;

	snprintf(tport, sizeof(tport), "%d", rlbt_free_port(AF_INET, "127.0.0.1"));
	snprintf(uport, sizeof(uport), "%s", tport);
	snprintf(t.name, sizeof(t.name), "ro-t-%d-%d", getpid(), run);
	snprintf(u.name, sizeof(u.name), "ro-u-%d-%d", getpid(), run);

	/* 1. */
	if (serve(t.name, tport, false, NULL, &a) || serve(u.name, uport, true, NULL, &au))
		goto out;
	if (!CHECK(!rlb_ctl_open(t.name, &t.ctl) && !rlb_ctl_open(u.name, &u.ctl),
		   "cannot open the groups: %s", rlb_last_error()))
		goto out;
	/* 2. */
	for (unsigned int i = 0; i < FLOWS; i++)
		if (!CHECK(!flow_start(&flows[i], i, au.port), "cannot start flow %u", i))
			goto out;
	/* 3. */
	if (!CHECK(!rlbt_load_start(tload, &tl), "cannot start rlbload"))
		goto out;
	if (run != KILL && !CHECK(!rlbt_load_start(uload, &ul), "cannot start rlbload --udp"))
		goto out;
	if (serve(t.name, tport, false, "10", &b) || serve(u.name, uport, true, "10", &bu))
		goto out;
	for (unsigned int i = FLOWS; i < nr_flows; i++)
		if (!CHECK(!flow_start(&flows[i], i, au.port), "cannot start flow %u", i))
			goto out;
	if (!CHECK(!rlb_ctl_rollout_read(t.ctl, &v) && v.nr == 2, "no canary in %s", t.name))
		goto out;
	gen_a = v.gens[0].pid == a.pid ? v.gens[0].generation : v.gens[1].generation;
	gen_b = !gen_a;
	if (!CHECK(!rlb_ctl_rollout_read(u.ctl, &v) && v.nr == 2, "no canary in %s", u.name))
		goto out;
	ugen_b = v.gens[0].pid == bu.pid ? v.gens[0].generation : v.gens[1].generation;

	/* 4. */
	/* UDP: the stats count the long flows' datagrams too; the flows map tells new flows */
	within(share_of_next(&t, gen_b, MEASURE), 10, "tcp canary at 10", run);
	if (run != KILL)
		within(flow_share_of_next(&u, ugen_b, NEW_FLOWS), 10, "udp canary at 10", run);
	CHECK(!rlb_ctl_rollout_set(t.ctl, 50) && !rlb_ctl_rollout_set(u.ctl, 50), "set 50: %s",
	      rlb_last_error());
	within(share_of_next(&t, gen_b, MEASURE), 50, "tcp canary at 50", run);
	if (run != KILL)
		within(flow_share_of_next(&u, ugen_b, NEW_FLOWS), 50, "udp canary at 50", run);

	/* 5. */
	if (run == PROMOTE) {
		CHECK(!rlb_ctl_rollout_promote(t.ctl) && !rlb_ctl_rollout_promote(u.ctl),
		      "promote: %s", rlb_last_error());
		within(share_of_next(&t, gen_b, MEASURE / 2), 100, "tcp after promote", run);
	} else if (run == ROLLBACK) {
		CHECK(!rlb_ctl_rollout_rollback(t.ctl) && !rlb_ctl_rollout_rollback(u.ctl),
		      "rollback: %s", rlb_last_error());
		within(share_of_next(&t, gen_a, MEASURE / 2), 100, "tcp after rollback", run);
	} else {
		struct rlbt_totals tb;
		long killed, undone_t, undone_u;

		/* the owners watch their canaries through a pidfd, not only by a periodic look */
		CHECK(holds_pidfd_of(a.pid, b.pid) && holds_pidfd_of(au.pid, bu.pid),
		      "the owners hold no pidfd of their canaries (%d, %d)", (int)b.pid,
		      (int)bu.pid);
		kill(b.pid, SIGSTOP);
		kill(bu.pid, SIGSTOP);
		if (!rlb_ctl_rollout_read(t.ctl, &v))
			for (unsigned int i = 0; i < v.nr; i++)
				b_active += v.gens[i].pid == b.pid ? v.gens[i].active : 0;
		killed = rlbt_now_ms();
		kill(b.pid, SIGKILL);
		kill(bu.pid, SIGKILL);
		/*
		 * A watches its canary's pidfd, readable once B has exited (a zombie too: the
		 * test reaps it after); its sockets are closed by then, and until A undoes the
		 * rollout the kernel's hash gives B's share to A's listeners
		 */
		undone_t = rlbt_wait_for(canary_undone, &t, WAIT_MS) ? rlbt_now_ms() - killed : -1;
		undone_u = rlbt_wait_for(canary_undone, &u, WAIT_MS) ? rlbt_now_ms() - killed : -1;
		printf("kill -9: the owners undid the dead canaries' rollout %ld ms (tcp) and %ld "
		       "ms (udp) after the kill\n",
		       undone_t, undone_u);
		CHECK(undone_t >= 0 && undone_u >= 0,
		      "the owners did not undo the dead canaries' rollout");
		CHECK(undone_t <= UNDONE_MS && undone_u <= UNDONE_MS,
		      "the owners undid the rollout %ld and %ld ms after the kill, want %d at most",
		      undone_t, undone_u, UNDONE_MS);
		CHECK(rlbt_serve_wait(&b, WAIT_MS) == 128 + SIGKILL, "B did not die by SIGKILL");
		CHECK(rlbt_serve_wait(&bu, WAIT_MS) == 128 + SIGKILL, "Bu did not die by SIGKILL");
		within(share_of_next(&t, gen_a, MEASURE / 2), 100, "tcp after kill -9", run);
		rlbt_group_totals(t.name, &tb);
		printf("kill -9: B had %llu accepted and open; %llu migrated to A\n",
		       (unsigned long long)b_active, (unsigned long long)tb.migrated);
	}

	/* 6. */
	for (unsigned int i = 0; i < nr_flows; i++) {
		flow_stop(&flows[i]);
		sent += flows[i].sent;
		lost += flows[i].lost;
	}
	printf("%s: %u udp flows sent %lu datagrams, %lu lost\n", run_names[run], nr_flows, sent,
	       lost);
	CHECK(lost == 0, "%s: %lu of %lu datagrams of the long flows lost", run_names[run], lost,
	      sent);
	status = rlbt_load_finish(&tl, true, WAIT_MS, &tr);
	failed = tr.total - tr.ok;
	printf("%s: tcp: %s at %.0f/s\n", run_names[run], rlbt_load_summary(&tr), tr.rate);
	CHECK(tr.total && !tr.refused && !tr.timeout && !tr.error && failed <= b_active,
	      "%s: tcp: %s; want none failed (kill: at most B's %llu open), status %d",
	      run_names[run], rlbt_load_summary(&tr), (unsigned long long)b_active, status);
	CHECK(tr.rate >= 2000, "%s: tcp load ran at %.0f/s, want 2000 or more", run_names[run],
	      tr.rate);
	if (run != KILL) {
		status = rlbt_load_finish(&ul, true, WAIT_MS, &ur);
		printf("%s: udp: %s\n", run_names[run], rlbt_load_summary(&ur));
		CHECK(status == 0 && ur.total && ur.ok == ur.total, "%s: udp: %s", run_names[run],
		      rlbt_load_summary(&ur));
	}
	/* the losers exit by themselves, within their grace period */
	if (run == PROMOTE) {
		CHECK(rlbt_serve_wait(&a, WAIT_MS) == 0, "A did not exit 0 after the promotion");
		CHECK(rlbt_serve_wait(&au, WAIT_MS) == 0, "Au did not exit 0 after the promotion");
	} else if (run == ROLLBACK) {
		CHECK(rlbt_serve_wait(&b, WAIT_MS) == 0, "B did not exit 0 after the rollback");
		CHECK(rlbt_serve_wait(&bu, WAIT_MS) == 0, "Bu did not exit 0 after the rollback");
	}
out:
	for (unsigned int i = 0; i < 2 * FLOWS; i++)
		flow_stop(&flows[i]);
	if (tl.pid > 0)
		rlbt_load_finish(&tl, true, WAIT_MS, &tr);
	if (ul.pid > 0)
		rlbt_load_finish(&ul, true, WAIT_MS, &ur);
	rlb_ctl_close(t.ctl);
	rlb_ctl_close(u.ctl);
	/* whichever still runs: the winner, or all of them after a failure */
	if (b.pid > 0)
		rlbt_serve_stop(&b);
	if (bu.pid > 0)
		rlbt_serve_stop(&bu);
	if (a.pid > 0)
		rlbt_serve_stop(&a);
	if (au.pid > 0)
		rlbt_serve_stop(&au);
	rlbt_serve_free(&a);
	rlbt_serve_free(&au);
	rlbt_serve_free(&b);
	rlbt_serve_free(&bu);
}

int main(void)
{
	rlbt_require_root();
	run_one(PROMOTE);
	run_one(ROLLBACK);
	run_one(KILL);
	return rlbt_finish();
}
