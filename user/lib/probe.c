// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * What the running kernel offers, probed once per process. Every later choice (attach type,
 * load reporting, which policies can run) reads the result instead of failing halfway.
 * REUSELB_PROBE_DISABLE=migrate,mmapable,... pretends a feature is missing, so the degraded
 * paths can be tested on a kernel that has everything.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "internal.h"

static struct rlb_features probed;
static int probe_err;

/* A two-instruction sk_reuseport program ("return SK_PASS") of the given attach type. */
static int probe_prog(enum bpf_attach_type type)
{
	const struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = SK_PASS },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	LIBBPF_OPTS(bpf_prog_load_opts, opts, .expected_attach_type = type);
	int fd = bpf_prog_load(BPF_PROG_TYPE_SK_REUSEPORT, NULL, "GPL", insns, 2, &opts);

	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

static int probe_mmapable(void)
{
	LIBBPF_OPTS(bpf_map_create_opts, opts, .map_flags = BPF_F_MMAPABLE);
	int fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, NULL, 4, 8, 1, &opts);

	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

/* bpf_sk_select_reuseport() given a sockhash instead of a reuseport sockarray (5.8+). */
static int probe_sockhash_select(void)
{
	int map = bpf_map_create(BPF_MAP_TYPE_SOCKHASH, NULL, 4, 8, 1, NULL), fd;
	const struct bpf_insn insns[] = {
		{ .code = BPF_STX | BPF_MEM | BPF_W,
		  .dst_reg = BPF_REG_10,
		  .src_reg = BPF_REG_0,
		  .off = -4 },
		{ .code = BPF_LD | BPF_DW | BPF_IMM,
		  .dst_reg = BPF_REG_2,
		  .src_reg = BPF_PSEUDO_MAP_FD,
		  .imm = map },
		{},
		{ .code = BPF_ALU64 | BPF_MOV | BPF_X, .dst_reg = BPF_REG_3, .src_reg = BPF_REG_10 },
		{ .code = BPF_ALU64 | BPF_ADD | BPF_K, .dst_reg = BPF_REG_3, .imm = -4 },
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_4, .imm = 0 },
		{ .code = BPF_JMP | BPF_CALL, .imm = BPF_FUNC_sk_select_reuseport },
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = SK_PASS },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	struct bpf_insn prog[sizeof(insns) / sizeof(insns[0]) + 1];

	if (map < 0)
		return -errno;
	/* r0 = 0 first, so the key stored from it is initialised */
	prog[0] = (struct bpf_insn){ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0 };
	memcpy(prog + 1, insns, sizeof(insns));
	fd = bpf_prog_load(BPF_PROG_TYPE_SK_REUSEPORT, NULL, "GPL", prog,
			   sizeof(prog) / sizeof(prog[0]), NULL);
	close(map);
	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

static bool disabled(const char *feature)
{
	const char *list = getenv("REUSELB_PROBE_DISABLE");
	size_t n = strlen(feature);

	for (const char *p = list; p && *p; p += strcspn(p, ",") + (p[strcspn(p, ",")] == ',')) {
		if (strncmp(p, feature, n) == 0 && (p[n] == ',' || p[n] == '\0'))
			return true;
	}
	return false;
}

static void probe_once(void)
{
	int err = probe_prog(BPF_SK_REUSEPORT_SELECT);

	if (err == -EPERM || err == -EACCES) {
		probe_err = err;
		return;
	}
	probed.sk_reuseport = !err && !disabled("sk_reuseport");
	probed.migrate = probed.sk_reuseport && !probe_prog(BPF_SK_REUSEPORT_SELECT_OR_MIGRATE) &&
			 !disabled("migrate");
	probed.sockhash_select = probed.sk_reuseport && !probe_sockhash_select() &&
				 !disabled("sockhash_select");
	probed.mmapable = !probe_mmapable() && !disabled("mmapable");
	probed.btf = access("/sys/kernel/btf/vmlinux", R_OK) == 0 && !disabled("btf");
	probed.queue_kfuncs = probed.sk_reuseport && probed.btf && !disabled("queue_kfuncs") &&
			      rlb_probe_queue_kfuncs();
}

int rlb_probe(struct rlb_features *out)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, probe_once);
	*out = probed;
	if (probe_err)
		return rlb_error(probe_err,
				 "cannot probe the kernel's BPF features: %s%s: run as "
				 "root, or grant " RLB_CAPS_NEEDED,
				 strerror(-probe_err), rlb_missing_caps());
	return 0;
}

const char *rlb_features_line(const struct rlb_features *f, char *buf, size_t len)
{
	const struct {
		const char *name;
		bool have;
	} all[] = {
		{ "sk_reuseport", f->sk_reuseport },
		{ "migrate", f->migrate },
		{ "mmapable", f->mmapable },
		{ "btf", f->btf },
		{ "sockhash_select", f->sockhash_select },
		{ "queue_kfuncs", f->queue_kfuncs },
	};
	size_t off = snprintf(buf, len, "kernel features: uses");
	int missing = 0;

	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		if (all[i].have && off < len)
			off += snprintf(buf + off, len - off, " %s", all[i].name);
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		if (!all[i].have && off < len)
			off += snprintf(buf + off, len - off, "%s %s", missing++ ? "" : "; missing",
					all[i].name);
	if (!missing && off < len)
		off += snprintf(buf + off, len - off, "; missing none");
	/* which way the queue policy runs, and how fresh its depths are */
	if (f->queue_kfuncs && off < len)
		snprintf(buf + off, len - off, "; queue reads the accept queues in the program");
	else if (f->mmapable && off < len)
		snprintf(buf + off, len - off,
			 "; queue reads the accept queues from sock_diag every %d ms",
			 RLB_QUEUE_POLL_MS);
	return buf;
}
