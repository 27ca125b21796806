/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Checks that count failures and go on, tables of named cases, the verdict, and a root gate
 * that knows CI.
 */
#ifndef RLBT_CHECK_H
#define RLBT_CHECK_H

#include <stdbool.h>
#include <stddef.h>

extern int rlbt_failures;

void rlbt_fail(const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * CHECK(cond, fmt, ...): cond is what must hold. When it does not, prints file:line, the
 * condition and the message (and the name of the case under way, if a table runs one), and
 * counts a failure; the test goes on, so one run shows every broken expectation. Evaluates to
 * cond, so a test can still stop where going on is pointless:
 *	if (!CHECK(fd >= 0, "connect: %s", strerror(-fd)))
 *		goto cleanup;
 */
#define CHECK(cond, fmt, ...)                                                          \
	({                                                                             \
		bool ___ok = !!(cond);                                                 \
		if (!___ok)                                                            \
			rlbt_fail(__FILE__, __LINE__, "CHECK(%s) failed: " fmt, #cond, \
				  ##__VA_ARGS__);                                      \
		___ok;                                                                 \
	})

/*
 * Prints PASS or FAIL and the number of failed checks, and the number of cases when a table
 * counted them; main returns what this returns.
 */
int rlbt_finish(void);

#ifndef ARRAY_SIZE
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#endif

/* Rows of case tables run so far, each counted once whatever checks it makes. */
extern int rlbt_cases;

/*
 * The loop of a table-driven test: i runs over the rows of table, and each is counted as a
 * case, also when the body goes on to the next with continue.
 */
#define rlbt_for_each_case(i, table) for (size_t i = 0; i < ARRAY_SIZE(table); i++, rlbt_cases++)

/* For a case that keeps its state elsewhere: run(void *ctx rlbt_unused). */
#define rlbt_unused __attribute__((unused))

/*
 * A named case of a test's main, as the kernel's select_reuseport.c has them: a step of the
 * scenario, run in the order of its table. ctx is the test's own state, shared by the steps.
 * run returns false when the cases after it cannot run (what they need did not happen).
 */
struct rlbt_case {
	const char *name;
	bool (*run)(void *ctx);
};

/*
 * Runs the cases of a table in order, each between rlbt_case_begin and rlbt_case_end; stops
 * after a case that returns false and names the cases left out (each a failure). Returns the
 * number of cases that failed.
 */
int rlbt_run_cases(const struct rlbt_case *cases, size_t nr, void *ctx);

/*
 * For a test that loops over its own table: rlbt_case_begin prints the case's name and makes
 * every failed CHECK until rlbt_case_end name it too; rlbt_case_end counts the case (in
 * rlbt_cases), prints FAIL and the number of its failed checks if any, and returns whether it
 * passed.
 */
void rlbt_case_begin(const char *name);
bool rlbt_case_end(void);

/*
 * Exits unless the test runs as root: 77 (skipped) normally, 1 under CI=true, where a skip
 * would hide a test that never ran.
 */
void rlbt_require_root(void);

/*
 * Runs fn in a child whose feature probe sees REUSELB_PROBE_DISABLE=disable (NULL: unset): the
 * library probes once per process, so each degraded kernel needs a process of its own. The
 * child's checks end with rlbt_finish, prefixed with name; the parent checks that it exited 0.
 */
void rlbt_in_child(const char *name, const char *disable, void (*fn)(void));

#endif
