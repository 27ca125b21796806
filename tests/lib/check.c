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

/* The case under way (rlbt_case_begin), and the failures counted before it began. */
static const char *case_name;
static int case_failures;

void rlbt_fail(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	rlbt_failures++;
	fprintf(stderr, "%s:%d: ", file, line);
	if (case_name)
		fprintf(stderr, "[%s] ", case_name);
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

void rlbt_case_begin(const char *name)
{
	case_name = name;
	case_failures = rlbt_failures;
	printf("case %d: %s\n", rlbt_cases + 1, name);
	fflush(stdout);
}

bool rlbt_case_end(void)
{
	int failed = rlbt_failures - case_failures;

	if (failed)
		printf("case %d: %s: FAIL (%d check%s)\n", rlbt_cases + 1, case_name, failed,
		       failed == 1 ? "" : "s");
	fflush(stdout);
	case_name = NULL;
	rlbt_cases++;
	return !failed;
}

int rlbt_run_cases(const struct rlbt_case *cases, size_t nr, void *ctx)
{
	int failed = 0;

	for (size_t i = 0; i < nr; i++) {
		bool go_on;

		rlbt_case_begin(cases[i].name);
		go_on = cases[i].run(ctx);
		failed += !rlbt_case_end();
		if (go_on)
			continue;
		for (size_t j = i + 1; j < nr; j++)
			rlbt_fail(__FILE__, __LINE__,
				  "case \"%s\" not run: case \"%s\" stopped the test",
				  cases[j].name, cases[i].name);
		return failed + (int)(nr - i - 1);
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

		/* the child's verdict is its own: the parent counts its failures once, by its
		 * status */
		rlbt_failures = 0;
		rlbt_cases = 0;
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
