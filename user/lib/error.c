// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The library never prints: a failure leaves one line here for the caller to show. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <errno.h>
#include <stdlib.h>
#include <bpf/libbpf.h>
#include "internal.h"

static __thread char last_error[512];
static __thread char verifier_log[64 * 1024];

int rlb_error(int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(last_error, sizeof(last_error), fmt, ap);
	va_end(ap);
	return err;
}

const char *rlb_last_error(void)
{
	return last_error[0] ? last_error : "no error";
}

/* The end of the log is kept: that is where the verifier says what it refused. */
void rlb_keep_verifier_log(const char *log)
{
	size_t len = log ? strlen(log) : 0, keep = sizeof(verifier_log) - 5;

	if (len <= keep)
		snprintf(verifier_log, sizeof(verifier_log), "%s", log ? log : "");
	else
		snprintf(verifier_log, sizeof(verifier_log), "...\n%s", log + len - keep);
}

char *rlb_log_buf(struct bpf_program *prog)
{
	/* malloc: the pages the verifier does not write are never touched */
	char *log = malloc(RLB_LOG_SIZE);

	if (!log) {
		rlb_error(-ENOMEM, "out of memory for the verifier's log");
		return NULL;
	}
	log[0] = '\0';
	bpf_program__set_log_buf(prog, log, RLB_LOG_SIZE);
	return log;
}

void rlb_log_done(char *log, bool keep)
{
	if (!log)
		return;
	rlb_keep_verifier_log(keep ? log : NULL);
	free(log);
}

_Static_assert((int)RLB_LOG_WARN == (int)LIBBPF_WARN && (int)RLB_LOG_INFO == (int)LIBBPF_INFO &&
		       (int)RLB_LOG_DEBUG == (int)LIBBPF_DEBUG,
	       "rlb_log_level mirrors libbpf_print_level");

static rlb_log_fn log_fn;

static int forward_libbpf(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	rlb_log_fn fn = __atomic_load_n(&log_fn, __ATOMIC_ACQUIRE);

	return fn ? fn((enum rlb_log_level)level, fmt, ap) : 0;
}

void rlb_set_log(rlb_log_fn fn)
{
	__atomic_store_n(&log_fn, fn, __ATOMIC_RELEASE);
	libbpf_set_print(forward_libbpf);
}

const char *rlb_verifier_log(void)
{
	return verifier_log;
}

int rlb_bpf_error(int err, const char *what)
{
	if (err == -EPERM || err == -EACCES)
		return rlb_error(err, "%s: %s%s: run as root, or grant " RLB_CAPS_NEEDED, what,
				 strerror(-err), rlb_missing_caps());
	return rlb_error(err, "%s: %s", what, strerror(-err));
}
