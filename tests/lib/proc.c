// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "proc.h"
#include "wait.h"

/* ---- the real binary ---- */

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

	deadline = rlbt_now_ms() + RLBT_START_TIMEOUT_MS;
	while (!find_ready(s)) {
		struct pollfd pfd = { .fd = s->out_fd, .events = POLLIN };
		long left = deadline - rlbt_now_ms();
		ssize_t r;

		if (left <= 0 || poll(&pfd, 1, left) <= 0) {
			fprintf(stderr, "%s printed no ready line within %d ms\n", bin,
				RLBT_START_TIMEOUT_MS);
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
