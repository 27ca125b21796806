// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * rlbtally: how a "reuselb serve --mode id" server spreads connections over its workers, seen
 * from the client side. For the demo and for humans; the tests assert the same with rlbtest.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rlbtest.h"
#include "cli/cli.h"

/* Worker ids the table can show; the server's are below RLB_MAX_SLOTS. */
#define TALLY_MAX_ID 4096
/* Failures reported one by one before only the count goes on. */
#define TALLY_MAX_REPORTED 5
#define TALLY_BAR 40

static const char usage[] =
	"Usage: rlbtally -p PORT [-a ADDR] [-n COUNT] [--sources K]\n"
	"\n"
	"Makes COUNT connections, one after the other, to a \"reuselb serve --mode id\" server,\n"
	"reads the \"worker <id>\" line each one gets, and prints how they spread over the\n"
	"workers. Exits 1 if any connection failed, 2 on a wrong command line.\n"
	"\n"
	"  -p, --port PORT    the server's port (required)\n"
	"  -a, --addr ADDR    the server's numeric address (default 127.0.0.1; ::1 for IPv6)\n"
	"  -n, --count COUNT  connections to make, 1..1000000 (default 200)\n"
	"  -s, --sources K    connect from K source addresses 127.0.0.2 .. 127.0.0.(K+1) in\n"
	"                     turn, 1..254 (IPv4 only; default 1: the kernel's choice), to see\n"
	"                     the source-ip policy keep each client on one worker\n"
	"  -h, --help         this text\n"
	"\n"
	"Examples:\n"
	"  reuselb serve -p 8080 -w 4 --policy round-robin --mode id &\n"
	"  rlbtally -p 8080 -n 400\n"
	"  rlbtally -p 8080 -n 400 --sources 16\n";

static void print_table(const unsigned long *counts, unsigned long total)
{
	unsigned long max = 0;

	for (int id = 0; id < TALLY_MAX_ID; id++)
		if (counts[id] > max)
			max = counts[id];
	printf("%6s  %11s  %6s\n", "worker", "connections", "share");
	for (int id = 0; id < TALLY_MAX_ID; id++) {
		int bar;

		if (!counts[id])
			continue;
		bar = (int)((counts[id] * TALLY_BAR + max / 2) / max);
		printf("%6d  %11lu  %5.1f%%  ", id, counts[id],
		       total ? 100.0 * counts[id] / total : 0.0);
		for (int i = 0; i < bar; i++)
			putchar('#');
		putchar('\n');
	}
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "port", required_argument, NULL, 'p' },
		{ "addr", required_argument, NULL, 'a' },
		{ "count", required_argument, NULL, 'n' },
		{ "sources", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	static unsigned long counts[TALLY_MAX_ID];
	unsigned long port = 0, count = 200, sources = 1, answered = 0, failed = 0, v;
	const char *addr = "127.0.0.1";
	unsigned char probe[16];
	int family, opt;

	while ((opt = getopt_long(argc, argv, "p:a:n:s:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'p':
			if (cli_parse_uint(optarg, 1, 65535, &port)) {
				fprintf(stderr, "rlbtally: -p %s: a port is 1..65535\n", optarg);
				return 2;
			}
			break;
		case 'a':
			addr = optarg;
			break;
		case 'n':
			if (cli_parse_uint(optarg, 1, 1000000, &v)) {
				fprintf(stderr, "rlbtally: -n %s: a count is 1..1000000\n", optarg);
				return 2;
			}
			count = v;
			break;
		case 's':
			if (cli_parse_uint(optarg, 1, 254, &v)) {
				fprintf(stderr, "rlbtally: --sources %s: 1..254 addresses\n",
					optarg);
				return 2;
			}
			sources = v;
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			fputs(usage, stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "rlbtally: unexpected argument \"%s\"; see --help\n", argv[optind]);
		return 2;
	}
	if (!port) {
		fprintf(stderr, "rlbtally: -p PORT is required; see --help\n");
		return 2;
	}
	if (inet_pton(AF_INET, addr, probe) == 1) {
		family = AF_INET;
	} else if (inet_pton(AF_INET6, addr, probe) == 1) {
		family = AF_INET6;
	} else {
		fprintf(stderr, "rlbtally: -a %s: not a numeric IPv4 or IPv6 address\n", addr);
		return 2;
	}
	if (sources > 1 && family != AF_INET) {
		fprintf(stderr,
			"rlbtally: --sources needs an IPv4 server address (-a 127.0.0.1)\n");
		return 2;
	}

	for (unsigned long i = 0; i < count; i++) {
		char src[INET_ADDRSTRLEN];
		int id;

		snprintf(src, sizeof(src), "127.0.0.%lu", 2 + i % sources);
		id = rlbt_ask_id(family, sources > 1 ? src : NULL, 0, addr, (uint16_t)port);
		if (id >= TALLY_MAX_ID)
			id = -ERANGE;
		if (id < 0) {
			if (failed++ < TALLY_MAX_REPORTED)
				fprintf(stderr, "rlbtally: connection %lu%s%s: %s\n", i + 1,
					sources > 1 ? " from " : "", sources > 1 ? src : "",
					id == -EPROTO ? "answer is not \"worker <id>\"" :
							strerror(-id));
			continue;
		}
		counts[id]++;
		answered++;
	}

	print_table(counts, answered);
	printf("%lu connections, %lu answered, %lu failed\n", count, answered, failed);
	return failed ? 1 : 0;
}
