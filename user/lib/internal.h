/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* libreuselb's private declarations: the group and the error buffer. */
#ifndef REUSELB_INTERNAL_H
#define REUSELB_INTERNAL_H

#include <stddef.h>
#include <reuselb/reuselb.h>

struct steer_bpf;

struct rlb_group {
	struct rlb_group_opts opts;
	struct steer_bpf *skel; /* NULL under the "kernel" policy */
	struct rlb_load *load;	/* the mmapped "load" map, NULL under "kernel" */
	size_t load_len;
	uint16_t port;
	uint32_t prog_id;
	int fds[RLB_MAX_WORKERS];
};

/* Sets the thread's last error, one line (printf-style, no trailing newline). Returns err. */
int rlb_error(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Keeps the verifier log of a failed load for rlb_verifier_log(). */
void rlb_keep_verifier_log(const char *log);

/* " (missing CAP_BPF, CAP_NET_ADMIN)" or "" when the process has what BPF needs. */
const char *rlb_missing_caps(void);

#endif
