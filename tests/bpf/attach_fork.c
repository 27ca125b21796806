// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * rlb_group_adopt on a server reuselb did not start, with nothing but the test itself (so it
 * runs in the 6.1 guest too: pidfd_getfd is Linux 5.6+):
 *
 * 1. Fork 3 workers; each opens its own SO_REUSEPORT listener on 127.0.0.1:PORT and answers
 *    every connection with "worker <its index>".
 * 2. rlb_group_adopt finds the 3 sockets, one slot each, and names the worker pid per slot.
 * 3. Round-robin: 30 connections are exactly 10 per worker.
 * 4. rlb_group_release without detach: our copies close, program and pins stay; 30 more are
 *    still exactly 10 per worker.
 * 5. A worker exits: its socket closes and leaves the sockarray by itself; nobody marked its
 *    slot closed (no --follow), so the rotation still gives it turns, and the program passes
 *    each to the next live slot: no connection fails. After 60 connections the rotation is
 *    back at slot 0, so 20 turns are 7/7/6 and slot 1's 7 go to slot 2: exactly 7/0/13.
 * 6. rlb_detach: the pins are gone and the kernel frees the program.
 * 7. Another tool's program on the group (a classic BPF one, attached here through a copy of
 *    a worker's socket): rlb_group_adopt refuses it (-EEXIST) and makes no pins; with replace
 *    it adopts the group, and releasing with detach leaves it with no program at all.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <linux/filter.h>

#include "rlbtest.h"

#define NR_WORKERS 3

static pid_t workers[NR_WORKERS];

/* A worker: its own listener, "worker <index>\n" to every connection, until killed. */
static void serve(int index, uint16_t port, int ready)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port) };
	char line[32];
	int one = 1, fd, c, n;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) ||
	    bind(fd, (struct sockaddr *)&sin, sizeof(sin)) || listen(fd, 128))
		_exit(1);
	if (write(ready, "r", 1) != 1)
		_exit(1);
	n = snprintf(line, sizeof(line), "worker %d\n", index);
	for (;;) {
		c = accept(fd, NULL, NULL);
		if (c < 0)
			continue;
		if (write(c, line, n) != n)
			fprintf(stderr, "worker %d: short write\n", index);
		close(c);
	}
}

/* Connections until n are answered: counts per worker index, -1 if one failed. */
static int ask(uint16_t port, int n, int counts[NR_WORKERS])
{
	memset(counts, 0, NR_WORKERS * sizeof(int));
	for (int i = 0; i < n; i++) {
		int w = rlbt_ask_id(AF_INET, NULL, 0, "127.0.0.1", port);

		if (!CHECK(w >= 0 && w < NR_WORKERS, "connection %d: %d", i, w))
			return -1;
		counts[w]++;
	}
	return 0;
}

/* A classic BPF reuseport program (always socket 0) on the group of worker pid's socket fd. */
static int attach_cbpf(pid_t pid, int fd)
{
	struct sock_filter ret0 = BPF_STMT(BPF_RET | BPF_K, 0);
	struct sock_fprog prog = { .len = 1, .filter = &ret0 };
	int pidfd = syscall(SYS_pidfd_open, pid, 0), copy, err;

	copy = pidfd < 0 ? -1 : syscall(SYS_pidfd_getfd, pidfd, fd, 0);
	err = copy < 0 ? -errno : 0;
	if (!err && setsockopt(copy, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, &prog, sizeof(prog)))
		err = -errno;
	if (copy >= 0)
		close(copy);
	if (pidfd >= 0)
		close(pidfd);
	return err;
}

int main(void)
{
	struct rlb_adopt_opts o = { .policy = RLB_POLICY_ROUND_ROBIN };
	int ready[2], counts[NR_WORKERS], port, err;
	char c, pins[RLB_NAME_MAX + 64];
	struct rlb_member_info m, of0 = {};
	struct rlb_group *g = NULL;
	bool stale = true;
	uint32_t prog;

	rlbt_require_root();
	port = rlbt_free_port(AF_INET, "127.0.0.1");
	if (!CHECK(port > 0 && !pipe(ready), "no port or pipe"))
		return rlbt_finish();
	/* 1 */
	for (int i = 0; i < NR_WORKERS; i++) {
		workers[i] = fork();
		if (workers[i] == 0)
			serve(i, port, ready[1]);
	}
	for (int i = 0; i < NR_WORKERS; i++)
		if (!CHECK(read(ready[0], &c, 1) == 1, "worker %d did not start", i))
			goto out;

	/* 2 */
	o.port = port;
	err = rlb_group_adopt(&o, &g);
	if (!CHECK(!err, "rlb_group_adopt: %s", rlb_last_error()))
		goto out;
	CHECK(rlb_group_nr_workers(g) == NR_WORKERS, "%u slots", rlb_group_nr_workers(g));
	for (unsigned int s = 0; s < rlb_group_nr_workers(g); s++) {
		bool known = false;

		CHECK(!rlb_group_member(g, s, &m) && m.cookie, "slot %u: no member", s);
		for (int i = 0; i < NR_WORKERS; i++)
			known |= m.pid == workers[i];
		if (m.pid == workers[0])
			of0 = m;
		CHECK(known, "slot %u: pid %d is none of the workers", s, m.pid);
	}
	prog = rlb_group_prog_id(g);
	snprintf(pins, sizeof(pins), "%s/%s", RLB_PIN_ROOT, rlb_group_name(g));

	/* 3 */
	if (!ask(port, 30, counts))
		CHECK(counts[0] == 10 && counts[1] == 10 && counts[2] == 10,
		      "round-robin gave %d/%d/%d", counts[0], counts[1], counts[2]);

	/* 4 */
	rlb_group_release(g, false);
	g = NULL;
	CHECK(access(pins, F_OK) == 0, "pins gone after release");
	if (!ask(port, 30, counts))
		CHECK(counts[0] == 10 && counts[1] == 10 && counts[2] == 10,
		      "after release: %d/%d/%d", counts[0], counts[1], counts[2]);

	/* 5 */
	kill(workers[1], SIGKILL);
	waitpid(workers[1], NULL, 0);
	workers[1] = 0;
	if (!ask(port, 20, counts))
		CHECK(counts[0] == 7 && counts[1] == 0 && counts[2] == 13,
		      "after worker 1 exited: %d/%d/%d", counts[0], counts[1], counts[2]);

	/* 6 */
	err = rlb_detach(strrchr(pins, '/') + 1, NULL, &stale);
	CHECK(!err && !stale, "rlb_detach: %d %s", err, rlb_last_error());
	CHECK(access(pins, F_OK) && errno == ENOENT, "pins left at %s", pins);
	CHECK(rlbt_wait_prog_gone(prog) == -ENOENT, "program %u still loaded", prog);

	/* 7 */
	err = attach_cbpf(of0.pid, of0.fd);
	if (!CHECK(!err, "cannot attach a classic BPF program: %s", strerror(-err)))
		goto out;
	err = rlb_group_adopt(&o, &g);
	CHECK(err == -EEXIST && strstr(rlb_last_error(), "classic BPF program"),
	      "adopting a group with a classic BPF program: %d %s", err, rlb_last_error());
	CHECK(access(pins, F_OK) && errno == ENOENT, "a refused adopt left pins at %s", pins);
	o.replace = true;
	err = rlb_group_adopt(&o, &g);
	if (CHECK(!err, "adopt with replace: %s", rlb_last_error()) && !ask(port, 20, counts))
		CHECK(counts[0] == 10 && counts[1] == 0 && counts[2] == 10,
		      "after replace: %d/%d/%d", counts[0], counts[1], counts[2]);
	rlb_group_release(g, true);
	g = NULL;
	CHECK(access(pins, F_OK) && errno == ENOENT, "pins left after release with detach");
out:
	rlb_group_release(g, true);
	for (int i = 0; i < NR_WORKERS; i++)
		if (workers[i] > 0) {
			kill(workers[i], SIGKILL);
			waitpid(workers[i], NULL, 0);
		}
	return rlbt_finish();
}
