/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What the reuselb subcommands share: their entry points, the exit codes, and the parsers for
 * option values. The parsers return 0 or -EINVAL and never print: the caller names the option
 * in its message.
 */
#ifndef RLB_CLI_H
#define RLB_CLI_H

#include <arpa/inet.h>
#include <stdbool.h>
#include <stdint.h>

#include "server/server.h"


enum cli_exit {
	CLI_EXIT_OK = 0,
	CLI_EXIT_FAILURE = 1, /* the command was valid but failed at run time */
	CLI_EXIT_USAGE = 2,   /* the command line is wrong: nothing was done */
};

/* One per subcommand; argv[0] is the subcommand's name. They return an enum cli_exit. */
int cmd_serve(int argc, char **argv);

struct cli_addr {
	int family;		     /* AF_INET or AF_INET6 */
	char text[INET6_ADDRSTRLEN]; /* canonical form, as inet_ntop() writes it */
};

/* A port, 1..65535; 0 too when allow_zero (an ephemeral port). */
int cli_parse_port(const char *s, bool allow_zero, uint16_t *out);
/* A decimal number in min..max: digits only, no sign, no blanks, no trailing characters. */
int cli_parse_uint(const char *s, unsigned long min, unsigned long max, unsigned long *out);
/* A numeric IPv4 or IPv6 address; names are not resolved. */
int cli_parse_addr(const char *s, struct cli_addr *out);
/* "http", "echo" or "id". */
int cli_parse_mode(const char *s, enum server_mode *out);

#endif
