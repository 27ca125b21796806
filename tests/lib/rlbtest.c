// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/membarrier.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "rlbtest.h"

int rlbt_failures;
int rlbt_cases;

/* Upper bounds for loops that walk kernel objects or wait for them. */
#define RLBT_MAX_IDS 65536
#define RLBT_MAX_GRACE_PERIODS 200

void rlbt_fail(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	rlbt_failures++;
	fprintf(stderr, "%s:%d: ", file, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int rlbt_finish(void)
{
	if (rlbt_failures) {
		printf("FAIL: %d check%s failed", rlbt_failures, rlbt_failures == 1 ? "" : "s");
		if (rlbt_cases)
			printf(" in %d cases", rlbt_cases);
		printf("\n");
		return 1;
	}
	if (rlbt_cases)
		printf("PASS: %d cases\n", rlbt_cases);
	else
		printf("PASS\n");
	return 0;
}

static bool on_ci(void)
{
	const char *ci = getenv("CI");

	return ci && !strcmp(ci, "true");
}

void rlbt_require_root(void)
{
	if (geteuid() == 0)
		return;
	if (on_ci()) {
		printf("FAIL: needs root, and CI=true does not allow a skip\n");
		exit(1);
	}
	printf("SKIP: needs root\n");
	exit(77);
}

/* ---- sockets ---- */

static int fill_addr(int family, const char *addr, uint16_t port, struct sockaddr_storage *ss,
		     socklen_t *len)
{
	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		if (inet_pton(AF_INET, addr, &sin->sin_addr) != 1)
			return -EINVAL;
		*len = sizeof(*sin);
		return 0;
	}
	if (family == AF_INET6) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		if (inet_pton(AF_INET6, addr, &sin6->sin6_addr) != 1)
			return -EINVAL;
		*len = sizeof(*sin6);
		return 0;
	}
	return -EAFNOSUPPORT;
}

static int set_timeouts(int fd, int timeout_ms)
{
	struct timeval tv = {
		.tv_sec = timeout_ms / 1000,
		.tv_usec = (timeout_ms % 1000) * 1000,
	};

	/* SO_SNDTIMEO bounds connect() too: a full accept queue drops SYNs silently. */
	if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) ||
	    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)))
		return -errno;
	return 0;
}

int rlbt_connect(int family, const char *src_addr, uint16_t src_port, const char *dst_addr,
		 uint16_t port)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, err, one = 1;

	fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	err = set_timeouts(fd, RLBT_TIMEOUT_MS);
	if (err)
		goto fail;
	if (src_port) {
		struct linger lg = { .l_onoff = 1, .l_linger = 0 };

		if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
		    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg))) {
			err = -errno;
			goto fail;
		}
	}
	if (src_addr || src_port) {
		err =
		    fill_addr(family, src_addr ? src_addr : (family == AF_INET ? "0.0.0.0" : "::"),
			      src_port, &ss, &len);
		if (err)
			goto fail;
		if (bind(fd, (struct sockaddr *)&ss, len)) {
			err = -errno;
			goto fail;
		}
	}
	err = fill_addr(family, dst_addr, port, &ss, &len);
	if (err)
		goto fail;
	if (connect(fd, (struct sockaddr *)&ss, len)) {
		/* A timed-out connect() reports EINPROGRESS; say what happened. */
		err = errno == EINPROGRESS ? -ETIMEDOUT : -errno;
		goto fail;
	}
	return fd;
fail:
	close(fd);
	return err;
}

int rlbt_free_port(int family, const char *addr)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, err;

	fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	err = fill_addr(family, addr, 0, &ss, &len);
	if (err)
		goto out;
	if (bind(fd, (struct sockaddr *)&ss, len) ||
	    getsockname(fd, (struct sockaddr *)&ss, &len)) {
		err = -errno;
		goto out;
	}
	err = ntohs(family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
				      : ((struct sockaddr_in6 *)&ss)->sin6_port);
out:
	close(fd);
	return err;
}

/* Accepts and closes whatever is pending on the polled listeners; returns how many. */
static int drain_listeners(struct pollfd *pfd, unsigned int n)
{
	int drained = 0;

	for (int round = 0; round < 64; round++) {
		int ready = poll(pfd, n, 0);

		if (ready <= 0)
			break;
		for (unsigned int i = 0; i < n; i++) {
			int cfd;

			if (!(pfd[i].revents & POLLIN))
				continue;
			cfd = accept4(pfd[i].fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
			if (cfd >= 0) {
				close(cfd);
				drained++;
			}
		}
	}
	return drained;
}

/*
 * One pollfd a worker of the group, for POLLIN; returns how many, or 0 when the group has more
 * than RLB_MAX_WORKERS.
 */
static unsigned int poll_workers(struct rlb_group *g, struct pollfd pfd[RLB_MAX_WORKERS])
{
	unsigned int n = rlb_group_nr_workers(g);

	if (n > RLB_MAX_WORKERS)
		return 0;
	/* A closed worker is -1, which poll() skips. */
	for (unsigned int i = 0; i < n; i++)
		pfd[i] = (struct pollfd){ .fd = rlb_group_fd(g, i), .events = POLLIN };
	return n;
}

int rlbt_accepting_worker(struct rlb_group *g, int timeout_ms)
{
	struct pollfd pfd[RLB_MAX_WORKERS];
	unsigned int n = poll_workers(g, pfd);
	int ready, worker = -1, cfd, extra;

	if (!n)
		return -1;
	ready = poll(pfd, n, timeout_ms);
	if (ready == 0) {
		fprintf(stderr, "no worker received the connection within %d ms\n", timeout_ms);
		return -1;
	}
	if (ready < 0) {
		fprintf(stderr, "poll: %s\n", strerror(errno));
		return -1;
	}
	for (unsigned int i = 0; i < n; i++) {
		if (pfd[i].revents & POLLIN) {
			worker = i;
			break;
		}
	}
	if (worker < 0) {
		fprintf(stderr, "poll: a listener reports an error or hangup, not a connection\n");
		return -1;
	}
	if (ready > 1) {
		fprintf(stderr, "%d workers have a pending connection, expected one\n", ready);
		drain_listeners(pfd, n);
		return -1;
	}
	cfd = accept4(pfd[worker].fd, NULL, NULL, SOCK_CLOEXEC);
	if (cfd < 0) {
		fprintf(stderr, "accept on worker %d: %s\n", worker, strerror(errno));
		return -1;
	}
	close(cfd);
	extra = drain_listeners(pfd, n);
	if (extra) {
		fprintf(stderr, "%d more connection%s pending, expected one\n", extra,
			extra == 1 ? " was" : "s were");
		return -1;
	}
	return worker;
}

int rlbt_steer(struct rlb_group *g, int family, const char *src_addr, uint16_t src_port,
	       const char *dst_addr)
{
	int fd, worker;
	char c;
	ssize_t r;

	fd = rlbt_connect(family, src_addr, src_port, dst_addr, rlb_group_port(g));
	if (fd < 0) {
		fprintf(stderr, "connect %s:%u from %s:%u: %s\n", dst_addr, rlb_group_port(g),
			src_addr ? src_addr : "*", src_port, strerror(-fd));
		return -1;
	}
	worker = rlbt_accepting_worker(g, RLBT_TIMEOUT_MS);
	if (worker >= 0) {
		/* The worker closed its end: a healthy connection reads EOF, a broken one reset. */
		r = read(fd, &c, 1);
		if (r != 0) {
			fprintf(stderr, "worker %d took the connection but the client read %s\n",
				worker, r < 0 ? strerror(errno) : "data");
			worker = -1;
		}
	}
	close(fd);
	return worker;
}

int rlbt_steer_reset(struct rlb_group *g, int family, const char *src_addr, uint16_t src_port,
		     const char *dst_addr)
{
	struct linger reset = { .l_onoff = 1, .l_linger = 0 };
	struct pollfd pfd[RLB_MAX_WORKERS];
	unsigned int n = poll_workers(g, pfd);
	int fd, cfd = -1, worker = -1, ready;
	char c;

	if (!n)
		return -1;
	fd = rlbt_connect(family, src_addr, src_port, dst_addr, rlb_group_port(g));
	if (fd < 0) {
		fprintf(stderr, "connect to %s: %s\n", dst_addr, strerror(-fd));
		return -1;
	}
	ready = poll(pfd, n, RLBT_TIMEOUT_MS);
	for (unsigned int i = 0; i < n && ready == 1; i++)
		if (pfd[i].revents & POLLIN)
			worker = i;
	if (worker < 0) {
		fprintf(stderr, "%d workers have the connection to %s, want 1\n", ready, dst_addr);
		goto out;
	}
	cfd = accept4(pfd[worker].fd, NULL, NULL, SOCK_CLOEXEC);
	if (cfd < 0 || write(cfd, "w", 1) != 1 || read(fd, &c, 1) != 1) {
		fprintf(stderr, "worker %d did not serve the connection: %s\n", worker,
			strerror(errno));
		worker = -1;
		goto out;
	}
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &reset, sizeof(reset));
	close(fd);
	fd = -1;
	pfd[0] = (struct pollfd){ .fd = cfd, .events = POLLIN };
	if (poll(pfd, 1, RLBT_TIMEOUT_MS) != 1 || read(cfd, &c, 1) >= 0 || errno != ECONNRESET) {
		fprintf(stderr, "worker %d never saw the client's reset\n", worker);
		worker = -1;
	}
out:
	if (fd >= 0)
		close(fd);
	if (cfd >= 0)
		close(cfd);
	return worker;
}

int rlbt_rotation(struct rlb_group *g, rlbt_steer_fn *steer, const char *src_addr, int nr,
		  int *counts)
{
	unsigned int n = rlb_group_nr_workers(g);
	int start = -1, off = 0;

	for (int i = 0; i < nr; i++) {
		int w = steer(g, AF_INET, src_addr, 0, "127.0.0.1");

		if (w < 0) {
			fprintf(stderr, "connection %d reached no single worker\n", i);
			return -1;
		}
		if (i == 0)
			start = w;
		if (counts)
			counts[w]++;
		if (w != (int)((start + i) % n) && off++ == 0)
			fprintf(stderr, "connection %d reached worker %d, the rotation says %d\n",
				i, w, (start + i) % n);
	}
	return off;
}

int rlbt_ask_id(int family, const char *src_addr, uint16_t src_port, const char *dst_addr,
		uint16_t port)
{
	char buf[64], tail;
	size_t len = 0;
	unsigned int id;
	int fd, err;

	fd = rlbt_connect(family, src_addr, src_port, dst_addr, port);
	if (fd < 0)
		return fd;
	/* The server writes one short line and closes: read to EOF, bounded by the buffer. */
	while (len < sizeof(buf) - 1) {
		ssize_t r = read(fd, buf + len, sizeof(buf) - 1 - len);

		if (r < 0) {
			err = errno == EAGAIN ? -ETIMEDOUT : -errno;
			goto out;
		}
		if (r == 0)
			break;
		len += r;
	}
	buf[len] = '\0';
	if (sscanf(buf, "worker %u%c", &id, &tail) != 2 || tail != '\n' ||
	    strchr(buf, '\n') != buf + len - 1) {
		err = -EPROTO;
		goto out;
	}
	err = (int)id;
out:
	close(fd);
	return err;
}

/* ---- in-process groups ---- */

int rlbt_group_open(const char *addr, enum rlb_policy policy, unsigned int nr_workers,
		    struct rlb_group **out)
{
	struct rlb_group_opts opts = {
		.addr = addr,
		.port = 0,
		.nr_workers = nr_workers,
		.policy = policy,
	};
	int err;

	err = rlb_group_open(&opts, out);
	if (err)
		fprintf(stderr, "rlb_group_open(%s, %s, %u workers): %s: %s\n", addr,
			rlb_policy_name(policy), nr_workers, strerror(-err), rlb_last_error());
	return err;
}

/* ---- the kernel's view ---- */

int rlbt_prog_type(uint32_t id)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);
	int fd, err;

	fd = bpf_prog_get_fd_by_id(id);
	if (fd < 0)
		return fd;
	err = bpf_obj_get_info_by_fd(fd, &info, &len);
	close(fd);
	return err ? err : (int)info.type;
}

int rlbt_count_progs(enum bpf_prog_type type)
{
	return rlbt_list_progs(type, NULL, 0);
}

int rlbt_list_progs(enum bpf_prog_type type, uint32_t *ids, int max)
{
	__u32 id = 0;
	int count = 0;

	for (int i = 0; i < RLBT_MAX_IDS; i++) {
		int err = bpf_prog_get_next_id(id, &id);

		if (err == -ENOENT)
			return count;
		if (err)
			return err;
		err = rlbt_prog_type(id);
		/* Freed between the two calls: it is not loaded any more. */
		if (err == -ENOENT)
			continue;
		if (err < 0)
			return err;
		if (err != (int)type)
			continue;
		if (ids && count < max)
			ids[count] = id;
		count++;
	}
	return -E2BIG;
}

/*
 * A program still attached when its reuseport group's last socket closes (a process that
 * exits, a group closed without SO_DETACH_REUSEPORT_BPF) is put from the group's RCU callback,
 * so it leaves the kernel's id table a grace period or two later. MEMBARRIER_CMD_GLOBAL waits
 * for one grace period: waiting on the event itself, not on a guess of how long it takes.
 */
static int grace_period(void)
{
	if (syscall(SYS_membarrier, MEMBARRIER_CMD_GLOBAL, 0, 0))
		return -errno;
	return 0;
}

int rlbt_wait_count_progs(enum bpf_prog_type type, int want)
{
	int count = rlbt_count_progs(type);

	for (int i = 0; i < RLBT_MAX_GRACE_PERIODS && count >= 0 && count != want; i++) {
		int err = grace_period();

		if (err)
			return err;
		count = rlbt_count_progs(type);
	}
	return count;
}

int rlbt_wait_prog_gone(uint32_t id)
{
	int type = rlbt_prog_type(id);

	for (int i = 0; i < RLBT_MAX_GRACE_PERIODS && type >= 0; i++) {
		int err = grace_period();

		if (err)
			return err;
		type = rlbt_prog_type(id);
	}
	return type;
}

int rlbt_group_config(const struct rlb_group *g, struct rlb_config *cfg)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info), key = 0;
	int fd = rlbt_group_map_fd(g, "config"), err;

	if (fd < 0)
		return fd;
	err = bpf_obj_get_info_by_fd(fd, &info, &len);
	if (!err && info.value_size != sizeof(*cfg))
		err = -EMSGSIZE;
	if (!err)
		err = bpf_map_lookup_elem(fd, &key, cfg);
	close(fd);
	return err;
}

/* ---- the real binary ---- */

long rlbt_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000;
}

/* Appends what can be read now; returns bytes read, 0 at EOF, or -errno. */
static ssize_t read_output(struct rlbt_server *s)
{
	char buf[4096];
	ssize_t r;
	char *p;

	r = read(s->out_fd, buf, sizeof(buf));
	if (r < 0)
		return errno == EAGAIN ? -EAGAIN : -errno;
	if (r == 0)
		return 0;
	p = realloc(s->output, s->output_len + r + 1);
	if (!p)
		return -ENOMEM;
	memcpy(p + s->output_len, buf, r);
	s->output = p;
	s->output_len += r;
	s->output[s->output_len] = '\0';
	/* Show the server's output in the test's log, where a failure is read. */
	fwrite(buf, 1, r, stdout);
	fflush(stdout);
	return r;
}

static bool parse_ready(struct rlbt_server *s, const char *line)
{
	char proto[8], id[16];
	const char *p;

	if (sscanf(line, "reuselb: serving %7s %63s port %hu, %u worker", proto, s->addr, &s->port,
		   &s->nr_workers) != 4)
		return false;
	p = strstr(line, ", policy ");
	if (!p || sscanf(p, ", policy %31[^,\n]", s->policy) != 1)
		return false;
	p = strstr(line, ", program id ");
	if (!p || sscanf(p, ", program id %15s", id) != 1)
		return false;
	if (!strcmp(id, "none")) {
		s->prog_id = 0;
		return true;
	}
	return sscanf(id, "%u", &s->prog_id) == 1;
}

/* Looks for the ready line among the complete lines read so far. */
static bool find_ready(struct rlbt_server *s)
{
	const char *line = s->output;

	while (line && *line) {
		const char *nl = strchr(line, '\n');

		if (!nl)
			return false;
		if (parse_ready(s, line))
			return true;
		line = nl + 1;
	}
	return false;
}

static int kill_and_reap(struct rlbt_server *s)
{
	int status;

	kill(s->pid, SIGKILL);
	waitpid(s->pid, &status, 0);
	s->pid = -1;
	return -ETIMEDOUT;
}

/*
 * Forks and execs bin with argv (without argv[0], NULL-terminated), its stdout into a pipe and
 * its stderr to err_fd (-1: the test's own). Sets *pid and *out_fd, the pipe's read end.
 */
static int spawn(const char *bin, const char *const argv[], int err_fd, pid_t *pid, int *out_fd)
{
	const char *args[64];
	int pipefd[2], argc = 0, err;

	args[argc++] = bin;
	for (int i = 0; argv[i] && argc < 63; i++)
		args[argc++] = argv[i];
	args[argc] = NULL;
	if (pipe2(pipefd, O_CLOEXEC))
		return -errno;
	fflush(stdout);
	fflush(stderr);
	*pid = fork();
	if (*pid < 0) {
		err = -errno;
		close(pipefd[0]);
		close(pipefd[1]);
		return err;
	}
	if (*pid == 0) {
		/* A test that dies must not leave a server holding a port and a program. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (dup2(pipefd[1], STDOUT_FILENO) < 0 ||
		    (err_fd >= 0 && dup2(err_fd, STDERR_FILENO) < 0))
			_exit(127);
		execv(bin, (char *const *)args);
		fprintf(stderr, "exec %s: %s\n", bin, strerror(errno));
		_exit(127);
	}
	close(pipefd[1]);
	*out_fd = pipefd[0];
	return 0;
}

int rlbt_serve_start_err(const char *const argv[], int err_fd, struct rlbt_server *s)
{
	const char *bin = getenv("REUSELB");
	long deadline;
	int err;

	memset(s, 0, sizeof(*s));
	s->pid = -1;
	s->out_fd = -1;
	if (!bin || !*bin) {
		fprintf(stderr, "REUSELB is not set: run the test through ctest\n");
		return -ENOENT;
	}
	err = spawn(bin, argv, err_fd, &s->pid, &s->out_fd);
	if (err)
		return err;
	fcntl(s->out_fd, F_SETFL, O_NONBLOCK);

	deadline = rlbt_now_ms() + RLBT_TIMEOUT_MS;
	while (!find_ready(s)) {
		struct pollfd pfd = { .fd = s->out_fd, .events = POLLIN };
		long left = deadline - rlbt_now_ms();
		ssize_t r;

		if (left <= 0 || poll(&pfd, 1, left) <= 0) {
			fprintf(stderr, "%s printed no ready line within %d ms\n", bin,
				RLBT_TIMEOUT_MS);
			err = -ETIMEDOUT;
			goto fail;
		}
		r = read_output(s);
		if (r == 0) {
			fprintf(stderr, "%s closed its stdout before the ready line\n", bin);
			err = -EPIPE;
			goto fail;
		}
		if (r < 0 && r != -EAGAIN) {
			err = r;
			goto fail;
		}
	}
	return 0;
fail:
	kill_and_reap(s);
	close(s->out_fd);
	s->out_fd = -1;
	return err;
}

int rlbt_serve_start(const char *const argv[], struct rlbt_server *s)
{
	return rlbt_serve_start_err(argv, -1, s);
}

/*
 * With term, SIGTERM first; then waits up to timeout_ms for the exit while collecting the rest of
 * stdout (until its end of file); kills the server at the deadline. Returns the exit status,
 * 128 + signal, or -ETIMEDOUT.
 */
static int serve_end(struct rlbt_server *s, bool term, int timeout_ms)
{
	long deadline = rlbt_now_ms() + timeout_ms;
	bool out_open = s->out_fd >= 0;
	int pidfd, status, ret = -ETIMEDOUT;

	if (s->pid <= 0)
		return -ESRCH;
	pidfd = syscall(SYS_pidfd_open, s->pid, 0);
	if (pidfd < 0)
		return -errno;
	if (term && kill(s->pid, SIGTERM)) {
		ret = -errno;
		goto out;
	}
	while (s->pid > 0 || out_open) {
		struct pollfd pfd[2] = {
			{ .fd = s->pid > 0 ? pidfd : -1, .events = POLLIN },
			{ .fd = out_open ? s->out_fd : -1, .events = POLLIN },
		};
		long left = deadline - rlbt_now_ms();

		if (left <= 0 || poll(pfd, 2, left) <= 0)
			break;
		if (pfd[1].revents) {
			ssize_t r = read_output(s);

			if (r == 0 || (r < 0 && r != -EAGAIN))
				out_open = false;
		}
		if (pfd[0].revents && waitpid(s->pid, &status, WNOHANG) == s->pid) {
			s->pid = -1;
			if (WIFEXITED(status))
				ret = WEXITSTATUS(status);
			else if (WIFSIGNALED(status))
				ret = 128 + WTERMSIG(status);
		}
	}
	if (s->pid > 0) {
		fprintf(stderr, "server %d did not exit within %d ms%s: killed\n", s->pid,
			timeout_ms, term ? " of SIGTERM" : "");
		ret = kill_and_reap(s);
	}
out:
	close(pidfd);
	return ret;
}

int rlbt_serve_stop(struct rlbt_server *s)
{
	return serve_end(s, true, RLBT_TIMEOUT_MS);
}

int rlbt_serve_wait(struct rlbt_server *s, int timeout_ms)
{
	return serve_end(s, false, timeout_ms);
}

long rlbt_serve_accepted(const struct rlbt_server *s, unsigned int worker)
{
	const char *line = s->output;

	while (line && *line) {
		unsigned int id;
		long n;

		if (sscanf(line, "worker %u: accepted %ld", &id, &n) == 2 && id == worker)
			return n;
		line = strchr(line, '\n');
		if (line)
			line++;
	}
	return -ENOENT;
}

void rlbt_serve_free(struct rlbt_server *s)
{
	if (s->pid > 0)
		kill_and_reap(s);
	if (s->out_fd >= 0)
		close(s->out_fd);
	s->out_fd = -1;
	free(s->output);
	s->output = NULL;
	s->output_len = 0;
}

/* ---- maps by name, UDP groups ---- */

int rlbt_group_map_fd(const struct rlb_group *g, const char *name)
{
	__u32 map_ids[64], nr_maps;
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);
	uint32_t prog_id = rlb_group_prog_id(g);
	int prog_fd, err;

	if (!prog_id)
		return -ENOENT;
	prog_fd = bpf_prog_get_fd_by_id(prog_id);
	if (prog_fd < 0)
		return prog_fd;
	info.nr_map_ids = sizeof(map_ids) / sizeof(map_ids[0]);
	info.map_ids = (__u64)(unsigned long)map_ids;
	err = bpf_obj_get_info_by_fd(prog_fd, &info, &len);
	close(prog_fd);
	if (err)
		return err;
	nr_maps = info.nr_map_ids < 64 ? info.nr_map_ids : 64;
	for (__u32 i = 0; i < nr_maps; i++) {
		struct bpf_map_info minfo = {};
		__u32 mlen = sizeof(minfo);
		int map_fd = bpf_map_get_fd_by_id(map_ids[i]);

		if (map_fd < 0)
			return map_fd;
		err = bpf_obj_get_info_by_fd(map_fd, &minfo, &mlen);
		if (!err && !strcmp(minfo.name, name))
			return map_fd;
		close(map_fd);
		if (err)
			return err;
	}
	return -ENOENT;
}

/* Reads every datagram waiting on the polled sockets; returns how many. */
static int drain_datagrams(struct pollfd *pfd, unsigned int n)
{
	char buf[2048];
	int drained = 0;

	for (int round = 0; round < 1024; round++) {
		int got = 0;

		for (unsigned int i = 0; i < n; i++) {
			if (pfd[i].fd >= 0 && recv(pfd[i].fd, buf, sizeof(buf), MSG_DONTWAIT) >= 0)
				got++;
		}
		if (!got)
			break;
		drained += got;
	}
	return drained;
}

int rlbt_udp_worker(struct rlb_group *g, int timeout_ms)
{
	struct pollfd pfd[RLB_MAX_WORKERS];
	unsigned int n = poll_workers(g, pfd);
	int ready, worker = -1, extra;
	char buf[2048];

	if (!n)
		return -1;
	ready = poll(pfd, n, timeout_ms);
	if (ready == 0) {
		fprintf(stderr, "no worker received the datagram within %d ms\n", timeout_ms);
		return -1;
	}
	if (ready < 0) {
		fprintf(stderr, "poll: %s\n", strerror(errno));
		return -1;
	}
	for (unsigned int i = 0; i < n && worker < 0; i++)
		if (pfd[i].revents & POLLIN)
			worker = i;
	if (worker < 0 || recv(pfd[worker].fd, buf, sizeof(buf), MSG_DONTWAIT) < 0) {
		fprintf(stderr, "no datagram to read on any worker\n");
		return -1;
	}
	extra = drain_datagrams(pfd, n);
	if (ready > 1 || extra) {
		fprintf(stderr, "%d more datagram%s waiting, expected one\n", extra,
			extra == 1 ? " was" : "s were");
		return -1;
	}
	return worker;
}

/* ---- the load client ---- */

int rlbt_load_start(const char *const argv[], struct rlbt_load *l)
{
	const char *dir = getenv("RLB_BIN_DIR");
	char bin[4096];

	l->pid = -1;
	l->out_fd = -1;
	if (!dir || !*dir) {
		fprintf(stderr, "RLB_BIN_DIR is not set: run the test through ctest\n");
		return -ENOENT;
	}
	snprintf(bin, sizeof(bin), "%s/rlbload", dir);
	return spawn(bin, argv, -1, &l->pid, &l->out_fd);
}

int rlbt_load_finish(struct rlbt_load *l, bool stop, int timeout_ms, struct rlbt_load_result *r)
{
	long deadline = rlbt_now_ms() + timeout_ms;
	char out[4096];
	size_t len = 0;
	const char *p;
	int status, ret = -ETIMEDOUT;

	memset(r, 0, sizeof(*r));
	if (l->pid <= 0)
		return -ESRCH;
	if (stop)
		kill(l->pid, SIGINT);
	/* its one line, then end of file when it exits */
	fcntl(l->out_fd, F_SETFL, O_NONBLOCK);
	while (len < sizeof(out) - 1) {
		struct pollfd pfd = { .fd = l->out_fd, .events = POLLIN };
		long left = deadline - rlbt_now_ms();
		ssize_t n;

		if (left <= 0 || poll(&pfd, 1, left) <= 0)
			break;
		n = read(l->out_fd, out + len, sizeof(out) - 1 - len);
		if (n < 0 && errno == EAGAIN)
			continue;
		if (n <= 0)
			break;
		len += n;
	}
	out[len] = '\0';
	if (rlbt_now_ms() >= deadline) {
		fprintf(stderr, "rlbload %d did not finish within %d ms: killed\n", l->pid,
			timeout_ms);
		kill(l->pid, SIGKILL);
	}
	if (waitpid(l->pid, &status, 0) == l->pid && WIFEXITED(status) && rlbt_now_ms() < deadline)
		ret = WEXITSTATUS(status);
	l->pid = -1;
	close(l->out_fd);
	l->out_fd = -1;
	fputs(out, stdout);
	p = strstr(out, "rlbload: ");
	if (!p || sscanf(p, "rlbload: %" SCNu64 " connections in %lf s, %lf/s", &r->total,
			 &r->seconds, &r->rate) != 3)
		return ret < 0 ? ret : -EPROTO;
	p = strstr(p, ": ok ");
	if (!p || sscanf(p,
			 ": ok %" SCNu64 " refused %" SCNu64 " reset %" SCNu64 " timeout %" SCNu64
			 " bad %" SCNu64 " error %" SCNu64,
			 &r->ok, &r->refused, &r->reset, &r->timeout, &r->bad, &r->error) != 6)
		return ret < 0 ? ret : -EPROTO;
	return ret;
}

const char *rlbt_load_summary(const struct rlbt_load_result *r)
{
	static char buf[256];

	snprintf(buf, sizeof(buf),
		 "%" PRIu64 " in all: %" PRIu64 " ok, %" PRIu64 " refused, %" PRIu64
		 " reset, %" PRIu64 " timeout, %" PRIu64 " bad, %" PRIu64 " error",
		 r->total, r->ok, r->refused, r->reset, r->timeout, r->bad, r->error);
	return buf;
}

/* ---- live groups, seen through their pins ---- */

int rlbt_group_totals(const char *name, struct rlbt_totals *t)
{
	struct rlb_group_stats st;
	struct rlb_ctl *ctl;
	int err;

	memset(t, 0, sizeof(*t));
	err = rlb_ctl_open(name, &ctl);
	if (err)
		return err;
	err = rlb_ctl_read(ctl, &st);
	rlb_ctl_close(ctl);
	if (err)
		return err;
	t->base = st.base;
	for (unsigned int i = 0; i < st.nr_workers; i++) {
		t->steered += st.workers[i].steered;
		t->migrated += st.workers[i].migrated;
		t->accepted += st.workers[i].accepted;
		t->active += st.workers[i].active;
		t->busy += st.workers[i].busy;
	}
	return 0;
}

int rlbt_group_owner(const char *name)
{
	static char names[256][RLB_NAME_MAX + 1];
	int pids[256], n = rlb_list_groups(names, pids, 256);

	for (int i = 0; i < n && i < 256; i++) {
		if (!strcmp(names[i], name))
			return pids[i];
	}
	return 0;
}

bool rlbt_wait_for(bool (*cond)(void *arg), void *arg, int timeout_ms)
{
	const struct timespec pause = { .tv_nsec = 5 * 1000 * 1000 };
	long deadline = rlbt_now_ms() + timeout_ms;

	/* polls the condition itself: the pause only spaces the looks, bounded by the deadline */
	while (!cond(arg)) {
		if (rlbt_now_ms() >= deadline)
			return false;
		nanosleep(&pause, NULL);
	}
	return true;
}

struct owner {
	const char *name;
	int pid;
};

static bool owned(void *arg)
{
	const struct owner *o = arg;

	return rlbt_group_owner(o->name) == o->pid;
}

bool rlbt_wait_owner(const char *name, int pid, int timeout_ms)
{
	struct owner o = { .name = name, .pid = pid };

	return rlbt_wait_for(owned, &o, timeout_ms);
}

/* ---- stderr files, HTTP answers ---- */

const char *rlbt_file_text(int fd)
{
	static char buf[16384];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);

	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

struct said {
	int fd;
	const char *line;
};

static bool has_said(void *arg)
{
	const struct said *s = arg;

	return strstr(rlbt_file_text(s->fd), s->line);
}

bool rlbt_wait_said(int fd, const char *line, int timeout_ms)
{
	struct said s = { .fd = fd, .line = line };

	return rlbt_wait_for(has_said, &s, timeout_ms);
}

int rlbt_http_read(int fd, char *buf, size_t size)
{
	size_t len = 0;

	while (len < size - 1) {
		ssize_t r = read(fd, buf + len, size - 1 - len);
		const char *end;

		if (r <= 0)
			return r == 0 ? -EPIPE : errno == EAGAIN ? -ETIMEDOUT : -errno;
		len += r;
		buf[len] = '\0';
		end = strstr(buf, "\r\n\r\n");
		/* the body is one line: "worker N\n" */
		if (end && strchr(end + 4, '\n'))
			return 0;
	}
	return -ENOBUFS;
}

int rlbt_http_get(int fd)
{
	static const char req[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
	char buf[1024];
	int status, err;

	if (write(fd, req, sizeof(req) - 1) != sizeof(req) - 1)
		return -errno;
	err = rlbt_http_read(fd, buf, sizeof(buf));
	if (err)
		return err;
	return sscanf(buf, "HTTP/1.1 %d ", &status) == 1 ? status : -EPROTO;
}

/* ---- users' policies ---- */

const char *rlbt_policy_path(const char *name)
{
	static char path[512];
	const char *dir = getenv("RLB_BIN_DIR");

	snprintf(path, sizeof(path), "%s/examples/policies/%s.bpf.o", dir ? dir : ".", name);
	return path;
}

uint32_t rlbt_custom_prog_id(const struct rlb_group *g)
{
	int fd = rlbt_group_map_fd(g, "custom");
	__u32 key = 0, id = 0;

	if (fd < 0)
		return 0;
	if (bpf_map_lookup_elem(fd, &key, &id))
		id = 0;
	close(fd);
	return id;
}

bool rlbt_policy_is(struct rlb_ctl *ctl, const char *want)
{
	char name[64] = "";
	int err = rlb_ctl_policy_name(ctl, name, sizeof(name));

	if (!err && !strcmp(name, want))
		return true;
	fprintf(stderr, "policy name '%s' (%s), want '%s'\n", name, err ? rlb_last_error() : "ok",
		want);
	return false;
}

/* ---- processes, sysctls, random numbers ---- */

void rlbt_in_child(const char *name, const char *disable, void (*fn)(void))
{
	int status = 0;
	pid_t pid;

	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (!CHECK(pid >= 0, "fork: %s", strerror(errno)))
		return;
	if (pid == 0) {
		int rc;

		if (disable)
			setenv("REUSELB_PROBE_DISABLE", disable, 1);
		else
			unsetenv("REUSELB_PROBE_DISABLE");
		fn();
		printf("%s: ", name);
		rc = rlbt_finish();
		fflush(stdout);
		fflush(stderr);
		_exit(rc);
	}
	CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0,
	      "%s: the child failed (status %#x)", name, status);
}

int rlbt_read_sysctl(const char *path)
{
	FILE *f = fopen(path, "r");
	int v = -1;

	if (f) {
		if (fscanf(f, "%d", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v;
}

static uint64_t rng;

void rlbt_seed(void)
{
	const char *seed = getenv("RLBT_SEED");

	rng = seed && *seed ? strtoull(seed, NULL, 0) : (uint64_t)time(NULL) ^ (uint64_t)getpid();
	/* xorshift stays at 0 forever */
	if (!rng)
		rng = 1;
	printf("seed %" PRIu64 " (RLBT_SEED=%" PRIu64 " replays this run)\n", rng, rng);
}

/* xorshift64*: reproducible from the printed seed. */
uint64_t rlbt_rnd(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 0x2545F4914F6CDD1DULL;
}

uint32_t rlbt_below(uint32_t n)
{
	return n ? (uint32_t)(rlbt_rnd() % n) : 0;
}
