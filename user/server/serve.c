// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The life of a "reuselb serve" process: the metrics endpoint, the group, the workers, the
 * ready line; then serving until SIGINT or SIGTERM, or until a successor started with
 * --takeover has served (and lived) for --confirm ms (it says it serves with SIGUSR2): then it
 * hands over, lets the workers finish what they have within the grace period, and ends. A
 * successor that dies before that is undone, and this instance serves on.
 */
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>
#include "server/handover.h"
#include "server/metrics.h"
#include "server/notify.h"
#include "server/pid_watch.h"
#include "server/serve.h"

/*
 * How often an instance looks at a takeover under way: whether its predecessor has let go of
 * the pins, whether its successor still lives. With none under way, it looks whether one
 * has begun every IDLE_WATCH_MS: a successor that dies before it says so by SIGUSR2 costs
 * nothing in between, since the kernel's hash gives new connections to our listeners.
 */
#define WATCH_MS 100
#define IDLE_WATCH_MS 1000

/* What serve_run() holds while it runs. */
struct run {
	struct serve_config *cfg;
	struct rlb_group *g;
	struct server *s;
	struct metrics *m;
	int sigfd;
	int predecessor; /* the pid we took over from, 0 if none */
	bool owner_told;
	bool rolled_back; /* a canary rolled back (reuselb rollout rollback): it hands back */
	struct pid_watch successor; /* ours, a canary or a takeover, watched for its death */
	struct notify notify;	    /* what the service manager was told */
};

/* One line: what the kernel offers and, for each thing it lacks, what is given up. */
static void print_features(void)
{
	char line[256], lost[512] = "", policies[128], no_policies[160];
	const char *gone[5];
	struct rlb_features f;
	size_t off = 0;
	int n = 0;

	/* the group is open, so the probe ran and succeeded: this reads its cached result */
	if (rlb_probe(&f))
		return;
	if (!f.migrate)
		gone[n++] = "without migrate, closing a worker resets its queued connections";
	if (!f.mmapable)
		gone[n++] = "without mmapable, no live load figures";
	if (!f.btf)
		gone[n++] = "without btf, nothing reuselb needs";
	if (!f.sockhash_select)
		gone[n++] = "without sockhash_select, nothing reuselb uses yet";
	/* the policy table says which policies need what is missing */
	if (rlb_policies_missing(&f, policies, sizeof(policies))) {
		snprintf(no_policies, sizeof(no_policies), "without those, no policy %s", policies);
		gone[n++] = no_policies;
	}
	for (int i = 0; i < n && off < sizeof(lost); i++)
		off += snprintf(lost + off, sizeof(lost) - off, "%s%s", i ? "; " : " (", gone[i]);
	fprintf(stderr, "reuselb: %s%s%s\n", rlb_features_line(&f, line, sizeof(line)), lost,
		n ? ")" : "");
}

/* "ADDR:PORT" or "[ADDR]:PORT" */
static void host_port(const char *addr, uint16_t port, char *buf, size_t len)
{
	snprintf(buf, len, strchr(addr, ':') ? "[%s]:%u" : "%s:%u", addr, port);
}

static int open_metrics(struct run *r)
{
	const struct serve_config *cfg = r->cfg;
	char where[INET6_ADDRSTRLEN + 8];
	int err;

	err = metrics_open(cfg->metrics_addr, cfg->metrics_port, cfg->group.takeover, &r->m);
	if (!err)
		return 0;
	host_port(cfg->metrics_addr, cfg->metrics_port, where, sizeof(where));
	fprintf(stderr, "reuselb: cannot listen for metrics on %s: %s%s\n", where, strerror(-err),
		err == -EADDRINUSE ? ": another process holds it; stop it or give another "
				     "--metrics address" :
				     "");
	return err;
}

/*
 * A successor's death is noticed at once through a pidfd; where there is none, by the look
 * every WATCH_MS (until then the kernel's hash gives its share of new connections to us).
 */
static void watch_successor(struct run *r, int pid)
{
	int err = pid_watch_set(&r->successor, pid);

	/* ESRCH: it is gone already, and the next look undoes it */
	if (err && err != -ESRCH)
		fprintf(stderr,
			"reuselb: cannot watch pid %d, joining group %s, with a pidfd: %s; looking "
			"at it every %d ms instead\n",
			pid, rlb_group_name(r->g), strerror(-err), WATCH_MS);
}

/*
 * Serves until a stop signal, a worker failure, or a successor that has served (and lived)
 * for cfg->confirm_ms; in the last case hands the group over and sets *successor. Meanwhile
 * it looks at the takeover every WATCH_MS (and at once on SIGUSR2, or when the successor
 * exits: watch_successor): a successor that died at any step is undone, and this instance,
 * whose listeners never left the group, serves on.
 */
static int serve_until(struct run *r, int *successor)
{
	const char *name = rlb_group_name(r->g);
	bool watching = false; /* a takeover of ours is under way */
	uint64_t since = 0;
	int watched = 0;

	for (;;) {
		struct pollfd fds[] = {
			{ .fd = r->sigfd, .events = POLLIN },
			{ .fd = server_failure_fd(r->s), .events = POLLIN },
			{ .fd = r->successor.fd, .events = POLLIN }, /* -1: none, poll skips it */
		};
		bool waiting = r->predecessor > 0 && !r->owner_told, usr2 = false;
		struct rlb_takeover_view v;
		struct signalfd_siginfo si;
		int err, timeout = waiting || watching ? WATCH_MS : IDLE_WATCH_MS;

		if (poll(fds, 3, rlb_group_ctl(r->g) ? timeout : -1) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		notify_check(&r->notify);
		if (waiting && rlb_group_owns_pins(r->g)) {
			fprintf(stderr, "reuselb: pid %d has exited: group %s is ours\n",
				r->predecessor, name);
			r->owner_told = true;
			if (rlb_group_pin_error(r->g))
				fprintf(stderr,
					"reuselb: cannot pin the steering program of group %s: %s: "
					"the pin names the old program; serving on\n",
					name, strerror(-rlb_group_pin_error(r->g)));
		}
		if (fds[1].revents)
			return 0;
		/* it has exited: rlb_group_check_takeover() below undoes its step now */
		if (fds[2].revents)
			pid_watch_fired(&r->successor);
		if (fds[0].revents && read(r->sigfd, &si, sizeof(si)) == sizeof(si)) {
			if (si.ssi_signo != SIGUSR2)
				return 0;
			usr2 = true;
		}
		/* a canary that was rolled back hands the group back as an owner hands over */
		if (r->predecessor > 0 && rlb_group_rolled_back(r->g)) {
			r->rolled_back = true;
			*successor = r->predecessor;
			return 0;
		}
		watching = false;
		if (rlb_group_check_takeover(r->g, &v)) {
			fprintf(stderr, "reuselb: cannot check the takeover of group %s: %s\n",
				name, rlb_last_error());
			continue;
		}
		if (v.undone) {
			notify_undone(&r->notify, v.successor);
			fprintf(stderr,
				"reuselb: pid %d, taking group %s over, died (%s): the group is "
				"this instance's again, serving on\n",
				v.successor, name, rlb_handover_name(v.state));
			since = 0;
			watched = 0;
			continue;
		}
		if (usr2 && !v.successor)
			fprintf(stderr,
				"reuselb: ignoring SIGUSR2 from pid %u: no new instance has joined "
				"group %s (reuselb serve --takeover sends it once it has)\n",
				si.ssi_pid, name);
		watching = v.successor != 0;
		watch_successor(r, v.successor);
		if (!v.successor || v.state != RLB_HANDOVER_SERVING) {
			watched = 0;
			continue;
		}
		if (watched != v.successor) {
			watched = v.successor;
			since = server_now_ms();
		}
		if (server_now_ms() - since < r->cfg->confirm_ms)
			continue;
		err = rlb_group_handover(r->g);
		if (err == -ESRCH || err == -EAGAIN)
			continue; /* the next turn undoes a dead one, or waits for it */
		if (err) {
			fprintf(stderr,
				"reuselb: cannot hand group %s over to pid %d: %s; serving on: "
				"stop this instance once it is idle\n",
				name, v.successor, rlb_last_error());
			continue;
		}
		notify_handover(&r->notify, v.successor);
		*successor = v.successor;
		return 0;
	}
}

/* Prints each worker's totals; returns the exit status that their errors call for. */
static int report(const struct server *s, unsigned int nr_workers, bool udp)
{
	int ret = 0;

	for (unsigned int i = 0; i < nr_workers; i++) {
		struct server_worker_stats st;

		server_worker_stats(s, i, &st);
		if (udp)
			printf("worker %u: datagrams %" PRIu64 "\n", i, st.requests);
		else
			printf("worker %u: accepted %" PRIu64 ", requests %" PRIu64 "\n", i,
			       st.accepted, st.requests);
		if (st.err) {
			fprintf(stderr, "reuselb: worker %u stopped early: %s: %s\n", i, st.what,
				strerror(-st.err));
			ret = 1;
		}
	}
	return ret;
}

/* The old instance after the handover: finish within the grace period, then say how it went. */
static int wind_down(struct run *r, int successor)
{
	const struct serve_config *cfg = r->cfg;
	struct handover_opts o = {
		.udp = cfg->group.udp,
		.grace_s = cfg->grace_s,
		.flow_timeout_s = cfg->group.flow_timeout ? cfg->group.flow_timeout :
							    RLB_FLOW_TIMEOUT_DEFAULT,
		.sigfd = r->sigfd,
	};
	struct handover_result res;
	int err, ret;

	/* the successor, given the same --metrics, answers every scrape from now on */
	metrics_close(r->m);
	r->m = NULL;
	if (r->rolled_back && rlb_group_roll_back(r->g))
		fprintf(stderr, "reuselb: %s\n", rlb_last_error());
	err = server_wind_down(r->s, &o, &res);
	printf(r->rolled_back ? "reuselb: rolled back: handed group %s back to pid %d; " :
				"reuselb: handed over group %s to pid %d; ",
	       rlb_group_name(r->g), successor);
	if (!cfg->group.udp)
		printf("%" PRIu64 " connection%s cut at %s\n", res.cut, res.cut == 1 ? "" : "s",
		       res.interrupted ? "a stop signal" : "the grace deadline");
	else if (res.interrupted || res.deadline)
		printf("flows still came at %s\n",
		       res.interrupted ? "a stop signal" : "the grace deadline");
	else
		printf("its flows went quiet\n");
	ret = report(r->s, rlb_group_nr_workers(r->g), cfg->group.udp);
	if (err) {
		fprintf(stderr, "reuselb: cannot wait for the workers to finish: %s\n",
			strerror(-err));
		ret = 1;
	}
	return ret;
}

/* Everything up to the ready line; returns 0 or -errno after printing why. */
static int start(struct run *r)
{
	struct serve_config *cfg = r->cfg;
	char name[RLB_NAME_MAX + 8], where[INET6_ADDRSTRLEN + 8];
	uint32_t prog_id;
	int err;

	if (cfg->group.takeover) {
		if (cfg->group.name)
			snprintf(name, sizeof(name), "%s", cfg->group.name);
		else
			rlb_default_name(cfg->group.udp, cfg->group.port, name, sizeof(name));
		r->predecessor = rlb_group_owner(name);
	}
	err = rlb_group_open(&cfg->group, &r->g);
	if (err) {
		fprintf(stderr, "reuselb: %s\n", rlb_last_error());
		fputs(rlb_verifier_log(), stderr);
		/* a takeover of another endpoint, or policy kernel beside a live group */
		return err == -EINVAL || err == -EEXIST ? -EEXIST : err;
	}
	if (rlb_group_hold_error(r->g))
		fprintf(stderr,
			"reuselb: cannot give pid %d copies of this instance's listeners: %s; taking "
			"over anyway: if this instance dies before it serves alone, a handshake "
			"completing on its listeners at that instant is reset\n",
			r->predecessor, rlb_last_error());
	/*
	 * After the group, so that a takeover that loses its claim binds nothing; one that
	 * cannot listen for metrics closes the group, which undoes its takeover.
	 */
	if (cfg->metrics_addr && open_metrics(r))
		return -EINVAL;
	if (cfg->group.policy != RLB_POLICY_KERNEL)
		print_features();
	if (cfg->group.takeover && r->predecessor > 0)
		fprintf(stderr, "reuselb: took over group %s from pid %d\n", rlb_group_name(r->g),
			r->predecessor);
	else if (cfg->group.takeover)
		fprintf(stderr, "reuselb: no live group %s to take over: serving it anew\n",
			rlb_group_name(r->g));
	cfg->server.group = r->g;
	err = server_start(&cfg->server, &r->s);
	if (err) {
		fprintf(stderr, "reuselb: cannot start the workers: %s\n", strerror(-err));
		return err;
	}
	if (r->m) {
		err = metrics_start(r->m, r->g, r->s);
		if (err) {
			fprintf(stderr, "reuselb: cannot start the metrics thread: %s\n",
				strerror(-err));
			return err;
		}
		host_port(cfg->metrics_addr, metrics_port(r->m), where, sizeof(where));
		printf("reuselb: metrics at http://%s/metrics\n", where);
	}

	printf("reuselb: serving %s %s port %u, %u workers, policy %s, program id ",
	       cfg->group.udp ? "udp" : "tcp", cfg->group.addr, rlb_group_port(r->g),
	       rlb_group_nr_workers(r->g), rlb_policy_name(rlb_group_policy(r->g)));
	prog_id = rlb_group_prog_id(r->g);
	if (prog_id)
		printf("%u\n", prog_id);
	else
		printf("none\n");
	fflush(stdout);
	/* a successor: now that it serves, the old owner may start counting towards letting go */
	err = rlb_group_serving(r->g);
	if (err) {
		fprintf(stderr, "reuselb: %s\n", rlb_last_error());
		return err;
	}
	return 0;
}

int serve_run(struct serve_config *cfg)
{
	struct run r = { .cfg = cfg, .successor = { .fd = -1 } };
	int err, successor = 0, ret = 1;
	sigset_t sigs;

	/*
	 * Before any thread exists, so that all of them inherit the mask and the signals wait in
	 * the signalfd; a SIGTERM during the program load then stops us cleanly, and a successor's
	 * SIGUSR2 waits for us to be ready. A peer that goes away shows up as EPIPE from send(),
	 * not as SIGPIPE.
	 */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGUSR2);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);
	r.sigfd = signalfd(-1, &sigs, SFD_CLOEXEC);
	if (r.sigfd < 0) {
		fprintf(stderr, "reuselb: cannot create a signalfd: %s\n", strerror(errno));
		return 1;
	}

	err = start(&r);
	if (err) {
		ret = err == -EEXIST ? SERVE_REFUSED : 1;
		goto out;
	}
	notify_started(&r.notify, cfg, r.g, r.predecessor);
	err = serve_until(&r, &successor);
	if (!successor)
		notify_stopping(&r.notify);
	if (!err && successor) {
		ret = wind_down(&r, successor);
		goto out;
	}
	server_stop(r.s);
	ret = report(r.s, rlb_group_nr_workers(r.g), cfg->group.udp);
	if (err) {
		fprintf(stderr, "reuselb: cannot wait for signals: %s\n", strerror(-err));
		ret = 1;
	}
out:
	/* the metrics thread reads the server and the group: it goes first */
	metrics_close(r.m);
	pid_watch_close(&r.successor);
	server_free(r.s);
	rlb_group_close(r.g);
	close(r.sigfd);
	return ret;
}
