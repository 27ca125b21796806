// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * rlbnotify SOCKET MAINPID_FILE: the notify end of a service manager, for tests that run a
 * unit's commands without systemd. Binds the datagram socket SOCKET (a path) with SO_PASSCRED,
 * says "listening" on stdout, then prints each KEY=VALUE line of each datagram as "PID
 * KEY=VALUE" (PID: the sender, as the kernel vouches for it), and on MAINPID=N writes N to
 * MAINPID_FILE (replaced whole, by rename), as systemd would take the new main process. Runs
 * until a signal ends it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static int set_main(const char *file, const char *pid)
{
	char tmp[4096];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s.tmp", file);
	f = fopen(tmp, "w");
	if (!f)
		return -errno;
	fprintf(f, "%s\n", pid);
	if (fclose(f) || rename(tmp, file))
		return -errno;
	return 0;
}

int main(int argc, char **argv)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, one = 1;

	if (argc != 3 || strlen(argv[1]) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "usage: rlbnotify SOCKET MAINPID_FILE\n");
		return 2;
	}
	strcpy(sa.sun_path, argv[1]);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) ||
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		fprintf(stderr, "rlbnotify: cannot bind %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	printf("listening\n");
	fflush(stdout);
	for (;;) {
		char buf[4096], cbuf[CMSG_SPACE(sizeof(struct ucred))];
		struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) - 1 };
		struct msghdr mh = { .msg_iov = &iov,
				     .msg_iovlen = 1,
				     .msg_control = cbuf,
				     .msg_controllen = sizeof(cbuf) };
		struct cmsghdr *cm;
		char *line, *save;
		pid_t pid = -1;
		ssize_t n;

		n = recvmsg(fd, &mh, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "rlbnotify: recvmsg: %s\n", strerror(errno));
			return 1;
		}
		buf[n] = '\0';
		for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
			if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_CREDENTIALS)
				pid = ((struct ucred *)CMSG_DATA(cm))->pid;
		}
		for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
			printf("%d %s\n", (int)pid, line);
			if (!strncmp(line, "MAINPID=", 8) && set_main(argv[2], line + 8))
				fprintf(stderr, "rlbnotify: cannot write %s: %s\n", argv[2],
					strerror(errno));
		}
		fflush(stdout);
	}
}
