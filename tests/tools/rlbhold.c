// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * rlbhold: holds a TCP port with a plain listener (no SO_REUSEPORT, no SO_REUSEADDR), so that
 * a test can check what "reuselb serve" says about a port it cannot join. Prints the port and
 * holds it until its standard input closes: the script decides when, with no timing guess.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static const char usage[] =
	"Usage: rlbhold [ADDR]\n"
	"\n"
	"Listens on ADDR (numeric, default 127.0.0.1) at an ephemeral port without SO_REUSEPORT,\n"
	"prints the port on a line of its own, and holds it until standard input reaches EOF.\n"
	"\n"
	"Example (bash):\n"
	"  coproc HOLD { rlbhold; }; read -r port <&\"${HOLD[0]}\"\n"
	"  reuselb serve -p \"$port\"        # fails: the port is taken\n"
	"  exec {HOLD[1]}>&-; wait \"$HOLD_PID\"\n";

int main(int argc, char **argv)
{
	const char *addr = argc > 1 ? argv[1] : "127.0.0.1";
	struct sockaddr_storage ss = {};
	socklen_t len;
	char c;
	int fd;

	if (argc > 2 || (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")))) {
		fputs(usage, argc > 2 ? stderr : stdout);
		return argc > 2 ? 2 : 0;
	}
	if (inet_pton(AF_INET, addr, &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
		ss.ss_family = AF_INET;
		len = sizeof(struct sockaddr_in);
	} else if (inet_pton(AF_INET6, addr, &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1) {
		ss.ss_family = AF_INET6;
		len = sizeof(struct sockaddr_in6);
	} else {
		fprintf(stderr, "rlbhold: %s: not a numeric IPv4 or IPv6 address\n", addr);
		return 2;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&ss, len) || listen(fd, 1) ||
	    getsockname(fd, (struct sockaddr *)&ss, &len)) {
		fprintf(stderr, "rlbhold: cannot listen on %s: %s\n", addr, strerror(errno));
		return 1;
	}
	printf("%u\n", ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port :
						       ((struct sockaddr_in6 *)&ss)->sin6_port));
	fflush(stdout);
	while (read(STDIN_FILENO, &c, 1) > 0)
		;
	close(fd);
	return 0;
}
