// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The library never prints: a failure leaves one line here for the caller to show. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <errno.h>
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

const char *rlb_verifier_log(void)
{
	return verifier_log;
}

int rlb_bpf_error(int err, const char *what)
{
	if (err == -EPERM || err == -EACCES)
		return rlb_error(err, "%s: %s%s: run as root, or grant " RLB_CAPS_NEEDED,
				 what, strerror(-err), rlb_missing_caps());
	return rlb_error(err, "%s: %s", what, strerror(-err));
}
