// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

int rlbt_failures;
int rlbt_cases;
const char *rlbt_case_name;

void rlbt_fail(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	rlbt_failures++;
	fprintf(stderr, "%s:%d: ", file, line);
	if (rlbt_case_name)
		fprintf(stderr, "[%s] ", rlbt_case_name);
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

int rlbt_run_cases(const struct rlbt_case *cases, size_t nr, void *ctx)
{
	int failed = 0;

	for (size_t i = 0; i < nr; i++, rlbt_cases++) {
		int before = rlbt_failures;

		rlbt_case_name = cases[i].name;
		printf("case %zu: %s\n", i + 1, cases[i].name);
		fflush(stdout);
		cases[i].run(ctx);
		if (rlbt_failures != before) {
			printf("case %zu: %s: FAIL (%d checks)\n", i + 1, cases[i].name,
			       rlbt_failures - before);
			failed++;
		}
		fflush(stdout);
		rlbt_case_name = NULL;
	}
	return failed;
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
