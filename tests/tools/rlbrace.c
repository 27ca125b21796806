// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * rlbrace: runs commands released at the same instant (tests/lib/race.h), for shell tests of
 * control commands that meet: all are forked and wait on one pipe before any of them starts.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "race.h"

static const char usage[] =
	"Usage: rlbrace [-o DIR] [-r] [-s USEC] [-t SECONDS] CMD [ARG...] [::: CMD [ARG...]]...\n"
	"\n"
	"Forks one child per command (commands are separated by ':::'); each child blocks on\n"
	"one pipe until all are forked and waiting, then all are let go together (the parent\n"
	"closes the pipe) and exec their command. Prints one line: the exit statuses in the\n"
	"order of the commands (128 + N for signal N, -1 for a command killed at the timeout).\n"
	"Without -o, each command's output follows, every line prefixed \"N> \" (stdout) or\n"
	"\"N! \" (stderr), N counting from 0.\n"
	"\n"
	"  -o DIR       write command N's stdout to DIR/N.out and stderr to DIR/N.err instead\n"
	"  -r           realtime children (SCHED_FIFO, as root): on a busy machine ordinary\n"
	"               ones woken together still start milliseconds apart\n"
	"  -s USEC      each child waits a random 0..USEC microseconds after the release\n"
	"  -t SECONDS   kill what still runs after SECONDS (default 30)\n"
	"  -h           this text\n"
	"\n"
	"Exits 0 when every command ran to its end (whatever its status), 1 when the race could\n"
	"not be run or a command had to be killed, 2 on a wrong command line.\n"
	"\n"
	"Example:\n"
	"  rlbrace reuselb drain -p 8080 0 ::: reuselb drain -p 8080 1   # prints e.g. \"0 1\"\n";

static void print_prefixed(const char *text, unsigned int i, char mark)
{
	while (*text) {
		const char *nl = strchr(text, '\n');
		int len = nl ? (int)(nl - text) : (int)strlen(text);

		printf("%u%c %.*s\n", i, mark, len, text);
		text += len + (nl ? 1 : 0);
	}
}

static int save(const char *dir, unsigned int i, const char *ext, const char *text)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%u.%s", dir, i, ext);
	f = fopen(path, "we");
	if (!f || fputs(text, f) < 0 || fclose(f)) {
		fprintf(stderr, "rlbrace: cannot write %s: %s\n", path, strerror(errno));
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct rlbt_race_result res[RLBT_RACE_MAX];
	char *const *argvs[RLBT_RACE_MAX];
	struct rlbt_race_opts opts = {};
	unsigned long spread = 0, seconds = 30;
	const char *dir = NULL;
	unsigned int n = 0;
	int opt, err, ret = 0;
	char *end;

	while ((opt = getopt(argc, argv, "+o:rs:t:h")) != -1) {
		switch (opt) {
		case 'o':
			dir = optarg;
			break;
		case 'r':
			opts.realtime = true;
			break;
		case 's':
			spread = strtoul(optarg, &end, 10);
			if (*end || !*optarg || spread > 10000000) {
				fprintf(stderr, "rlbrace: bad -s '%s': give microseconds\n",
					optarg);
				return 2;
			}
			break;
		case 't':
			seconds = strtoul(optarg, &end, 10);
			if (*end || !*optarg || !seconds || seconds > 86400) {
				fprintf(stderr, "rlbrace: bad -t '%s': give 1 to 86400 seconds\n",
					optarg);
				return 2;
			}
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			fputs(usage, stderr);
			return 2;
		}
	}
	/* split argv at each ":::" in place: every command is a NULL-terminated run of it */
	for (int i = optind; i < argc; n++) {
		if (n == RLBT_RACE_MAX) {
			fprintf(stderr, "rlbrace: more than %d commands\n", RLBT_RACE_MAX);
			return 2;
		}
		if (!strcmp(argv[i], ":::")) {
			fprintf(stderr, "rlbrace: an empty command before ':::'\n");
			return 2;
		}
		argvs[n] = &argv[i];
		while (i < argc && strcmp(argv[i], ":::"))
			i++;
		if (i < argc) {
			argv[i++] = NULL;
			if (i == argc) {
				fprintf(stderr, "rlbrace: an empty command after ':::'\n");
				return 2;
			}
		}
	}
	if (!n) {
		fputs(usage, stderr);
		return 2;
	}
	opts.spread_us = spread;
	opts.timeout_ms = seconds * 1000;
	err = rlbt_race_exec((char *const *const *)argvs, n, &opts, res);
	if (err && err != -ETIMEDOUT) {
		fprintf(stderr, "rlbrace: cannot run the race: %s\n", strerror(-err));
		return 1;
	}
	for (unsigned int i = 0; i < n; i++)
		printf("%s%d", i ? " " : "", res[i].status);
	printf("\n");
	for (unsigned int i = 0; i < n; i++) {
		if (dir) {
			if (save(dir, i, "out", res[i].out) || save(dir, i, "err", res[i].err))
				ret = 1;
		} else {
			print_prefixed(res[i].out, i, '>');
			print_prefixed(res[i].err, i, '!');
		}
	}
	if (err) {
		fprintf(stderr, "rlbrace: a command still ran after %lu s: killed\n", seconds);
		ret = 1;
	}
	rlbt_race_free(res, n);
	return ret;
}
