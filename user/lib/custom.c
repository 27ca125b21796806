// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Users' own policies. The steering program tail-calls key 0 of the "custom" program array
 * before anything else, so installing a policy is one map update, live and atomic, and
 * removing it hands steering back to the built-in policy at once. The user's program shares
 * the group's maps: each map named like one of ours is the pinned one (bpf_map__reuse_fd).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "internal.h"

/* The group's map of that name, or -1 when it is not one of them (or is "custom" itself). */
static int shared_map_fd(const struct rlb_ctl *c, const char *name)
{
	for (int i = 0; i < RLB_MAP__COUNT; i++)
		if (i != RLB_MAP_CUSTOM && strcmp(name, rlb_map_names[i]) == 0)
			return c->fd[i];
	return -1;
}

static bool same_definition(const struct bpf_map *map, int fd)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);

	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return false;
	/* the owner sizes the flows tables (serve --flow-table): a policy takes them as they are */
	return info.type == bpf_map__type(map) && info.key_size == bpf_map__key_size(map) &&
	       info.value_size == bpf_map__value_size(map) &&
	       (info.max_entries == bpf_map__max_entries(map) ||
		!strcmp(bpf_map__name(map), "flows") || !strcmp(bpf_map__name(map), "flows_new"));
}

/*
 * The never-drop guarantee, kept for a user's program too. An sk_reuseport program drops the
 * packet when it returns anything but SK_PASS, and a policy's return is the group's answer
 * (the steering program tail-called it). Only the entry function's exits end the program:
 * its subprograms are still separate programs of the object here, linked in at load. A small
 * forward pass over the entry function tracks constants in the registers; each exit where r0
 * is not proven to hold SK_PASS becomes a jump to an appended "r0 = SK_PASS; exit". Exits
 * that already return SK_PASS (every exit of an RLB_POLICY program) stay as they are, so the
 * program loads exactly as built. Enforcing rather than refusing: a pass this small cannot
 * prove every correct program correct, and a refusal of a good policy would be worse than a
 * drop turned into a pass, which the caller is told about (rlb_policy_notice()).
 */
enum reg_kind { REG_ANY, REG_CONST };

struct reg {
	__u8 kind;
	__s64 val;
};

/* The registers before an instruction: r0..r10, and whether any path reaches it yet. */
struct insn_state {
	bool seen;
	struct reg r[MAX_BPF_REG];
};

/* Instructions the pass looks at; a larger entry function has every exit guarded. */
#define GUARD_MAX_INSNS 65536

static bool merge(struct insn_state *into, const struct insn_state *from)
{
	bool changed = !into->seen;

	if (!into->seen) {
		*into = *from;
		return true;
	}
	for (int i = 0; i < MAX_BPF_REG; i++) {
		struct reg *a = &into->r[i];
		const struct reg *b = &from->r[i];

		if (a->kind == REG_CONST && (b->kind != REG_CONST || a->val != b->val)) {
			a->kind = REG_ANY;
			changed = true;
		}
	}
	return changed;
}

/* dst = dst op src for the few operations worth following; false leaves dst unknown. */
static bool fold(__u8 op, bool alu64, __s64 *dst, __s64 src)
{
	__u64 a = *dst, b = src, v;

	switch (op) {
	case BPF_MOV:
		v = b;
		break;
	case BPF_ADD:
		v = a + b;
		break;
	case BPF_SUB:
		v = a - b;
		break;
	case BPF_AND:
		v = a & b;
		break;
	case BPF_OR:
		v = a | b;
		break;
	case BPF_XOR:
		v = a ^ b;
		break;
	default:
		return false;
	}
	*dst = alu64 ? (__s64)v : (__s64)(__u32)v;
	return true;
}

/* The state after insn (registers only; the caller decides where control goes). */
static void step(const struct bpf_insn *insn, struct insn_state *st)
{
	__u8 cls = BPF_CLASS(insn->code), op = BPF_OP(insn->code);
	struct reg *dst = &st->r[insn->dst_reg], *src = &st->r[insn->src_reg];

	switch (cls) {
	case BPF_ALU:
	case BPF_ALU64: {
		bool alu64 = cls == BPF_ALU64, k = BPF_SRC(insn->code) == BPF_K;
		struct reg in = k ? (struct reg){ REG_CONST, insn->imm } : *src;

		/* a mov with an offset is a sign-extending move (cpu v4): not followed */
		if (op == BPF_MOV && !insn->off && in.kind == REG_CONST) {
			dst->kind = REG_CONST;
			dst->val = in.val;
			fold(BPF_MOV, alu64, &dst->val, in.val);
		} else if (op == BPF_MOV && !insn->off && alu64) {
			*dst = in;
		} else if (!(dst->kind == REG_CONST && in.kind == REG_CONST &&
			     fold(op, alu64, &dst->val, in.val))) {
			dst->kind = REG_ANY;
		}
		break;
	}
	case BPF_LDX:
		dst->kind = REG_ANY;
		break;
	case BPF_LD:
		/* ld_imm64 (a map, a constant), or the legacy packet loads that set r0 */
		if (BPF_MODE(insn->code) == BPF_IMM)
			dst->kind = REG_ANY;
		else
			for (int i = BPF_REG_0; i <= BPF_REG_5; i++)
				st->r[i].kind = REG_ANY;
		break;
	case BPF_STX:
		if (BPF_MODE(insn->code) == BPF_ATOMIC && (insn->imm & BPF_FETCH))
			st->r[insn->imm == BPF_CMPXCHG ? BPF_REG_0 : insn->src_reg].kind = REG_ANY;
		break;
	case BPF_JMP:
		if (op == BPF_CALL)
			for (int i = BPF_REG_0; i <= BPF_REG_5; i++)
				st->r[i].kind = REG_ANY;
		break;
	}
}

/*
 * Marks in bad[] the exits of the entry function where r0 may not be SK_PASS. Returns how
 * many, or -1 when the function is too large or malformed to follow (then all are bad).
 */
static int unproven_exits(const struct bpf_insn *insns, size_t n, bool *bad)
{
	struct insn_state *st, cur;
	size_t *work, top = 0;
	bool *queued;
	int nbad = 0;

	if (!n || n > GUARD_MAX_INSNS)
		return -1;
	st = calloc(n, sizeof(*st));
	work = malloc(n * sizeof(*work));
	queued = calloc(n, sizeof(*queued));
	if (!st || !work || !queued) {
		nbad = -1;
		goto out;
	}
	/* at entry r1 is the context and r10 the frame: nothing is a known constant */
	st[0].seen = true;
	work[top++] = 0;
	queued[0] = true;
	/* states only ever lose constants, so this ends; each instruction is queued once */
	while (top && nbad >= 0) {
		size_t i = work[--top], next[2];
		const struct bpf_insn *insn = &insns[i];
		__u8 cls = BPF_CLASS(insn->code), op = BPF_OP(insn->code);
		int nnext = 0;

		queued[i] = false;
		cur = st[i];
		step(insn, &cur);
		if ((cls == BPF_JMP || cls == BPF_JMP32) && op == BPF_EXIT) {
			const struct reg *r0 = &cur.r[BPF_REG_0];

			if (!bad[i] && (r0->kind != REG_CONST || (__u32)r0->val != SK_PASS)) {
				bad[i] = true;
				nbad++;
			}
			continue;
		}
		if ((cls == BPF_JMP || cls == BPF_JMP32) && op == BPF_JA) {
			next[nnext++] = i + 1 + (cls == BPF_JMP ? insn->off : insn->imm);
		} else if ((cls == BPF_JMP || cls == BPF_JMP32) && op != BPF_CALL) {
			next[nnext++] = i + 1;
			next[nnext++] = i + 1 + insn->off;
		} else {
			/* ld_imm64 takes two slots */
			next[nnext++] = i + 1 + (insn->code == (BPF_LD | BPF_IMM | BPF_DW));
		}
		for (int j = 0; j < nnext; j++) {
			if (next[j] >= n) {
				nbad = -1;
				break;
			}
			if (merge(&st[next[j]], &cur) && !queued[next[j]]) {
				queued[next[j]] = true;
				work[top++] = next[j];
			}
		}
	}
out:
	free(st);
	free(work);
	free(queued);
	return nbad;
}

static __thread char notice[256];

const char *rlb_policy_notice(void)
{
	return notice;
}

/*
 * Makes every exit of prog's entry function whose r0 is not proven SK_PASS return SK_PASS
 * (see above). Sets the notice when it changed anything.
 */
static int guard_exits(struct bpf_program *prog, const char *path)
{
	const struct bpf_insn *insns = bpf_program__insns(prog);
	size_t n = bpf_program__insn_cnt(prog), first = 0;
	struct bpf_insn *out;
	bool *bad;
	int nbad, err;

	bad = calloc(n ? n : 1, sizeof(*bad));
	if (!bad)
		return rlb_error(-ENOMEM, "out of memory");
	nbad = unproven_exits(insns, n, bad);
	if (nbad < 0) {
		/* not followed: guard every exit */
		nbad = 0;
		for (size_t i = 0; i < n; i++) {
			__u8 cls = BPF_CLASS(insns[i].code);

			bad[i] = (cls == BPF_JMP || cls == BPF_JMP32) &&
				 BPF_OP(insns[i].code) == BPF_EXIT;
			nbad += bad[i];
			/* the second half of an ld_imm64 is data, not an instruction */
			i += insns[i].code == (BPF_LD | BPF_IMM | BPF_DW);
		}
	}
	if (!nbad) {
		free(bad);
		return 0;
	}
	out = calloc(n + 2, sizeof(*out));
	if (!out) {
		free(bad);
		return rlb_error(-ENOMEM, "out of memory");
	}
	memcpy(out, insns, n * sizeof(*out));
	/* the tail: r0 = SK_PASS; exit */
	out[n] = (struct bpf_insn){ .code = BPF_ALU64 | BPF_MOV | BPF_K,
				    .dst_reg = BPF_REG_0,
				    .imm = SK_PASS };
	out[n + 1] = (struct bpf_insn){ .code = BPF_JMP | BPF_EXIT };
	err = 0;
	for (size_t i = 0; i < n && !err; i++) {
		long off = (long)n - (long)i - 1;

		if (!bad[i])
			continue;
		if (!first)
			first = i + 1;
		if (off > INT16_MAX)
			err = rlb_error(
				-E2BIG,
				"%s: program %s is too large for reuselb to make its returns "
				"SK_PASS (a jump of %ld instructions): split it into functions",
				path, bpf_program__name(prog), off);
		out[i] = (struct bpf_insn){ .code = BPF_JMP | BPF_JA, .off = off };
	}
	if (!err) {
		err = bpf_program__set_insns(prog, out, n + 2);
		if (err)
			err = rlb_error(err, "%s: cannot guard the returns of program %s: %s", path,
					bpf_program__name(prog), strerror(-err));
	}
	if (!err)
		snprintf(notice, sizeof(notice),
			 "%s: program %s may return something other than SK_PASS, which would "
			 "drop (%d exit%s, the first at instruction %zu): reuselb makes %s return "
			 "SK_PASS, as steering never drops",
			 path, bpf_program__name(prog), nbad, nbad > 1 ? "s" : "", first - 1,
			 nbad > 1 ? "them" : "it");
	free(out);
	free(bad);
	return err;
}

/*
 * A tail call would end the policy with another program's return, which no guard covers: a
 * loaded policy that uses any program array (its own, or one named by a raw fd) is refused.
 */
static int check_no_tail_calls(int prog_fd, const char *path, const char *name)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info), ids[64];
	int err = 0;

	info.nr_map_ids = sizeof(ids) / sizeof(ids[0]);
	info.map_ids = (__u64)(unsigned long)ids;
	if (bpf_obj_get_info_by_fd(prog_fd, &info, &len))
		return rlb_bpf_error(-errno, "cannot read the loaded policy's maps");
	for (__u32 i = 0; i < info.nr_map_ids && i < sizeof(ids) / sizeof(ids[0]) && !err; i++) {
		struct bpf_map_info map = {};
		__u32 map_len = sizeof(map);
		int fd = bpf_map_get_fd_by_id(ids[i]);

		if (fd < 0)
			return rlb_bpf_error(-errno, "cannot read the loaded policy's maps");
		if (bpf_obj_get_info_by_fd(fd, &map, &map_len))
			err = rlb_bpf_error(-errno, "cannot read the loaded policy's maps");
		else if (map.type == BPF_MAP_TYPE_PROG_ARRAY)
			err = rlb_error(-EINVAL,
					"%s: program %s uses a program array (map '%s'): a tail "
					"call would return what another program returns, which may "
					"drop; a policy must steer with rlb_select() alone",
					path, name, map.name);
		close(fd);
	}
	return err;
}

/* The one sk_reuseport program of the object; every other program is left unloaded. */
static int pick_program(struct bpf_object *obj, const char *path, struct bpf_program **out)
{
	struct bpf_program *prog;
	int n = 0;

	bpf_object__for_each_program(prog, obj) {
		if (bpf_program__type(prog) == BPF_PROG_TYPE_SK_REUSEPORT) {
			*out = prog;
			n++;
		} else {
			bpf_program__set_autoload(prog, false);
		}
	}
	if (n != 1)
		return rlb_error(
			-EINVAL,
			"%s has %d sk_reuseport programs: a policy needs exactly one, "
			"in SEC(\"sk_reuseport\") (use RLB_POLICY from reuselb/policy.bpf.h)",
			path, n);
	return 0;
}

static int share_maps(const struct rlb_ctl *c, struct bpf_object *obj, const char *path)
{
	struct bpf_map *map;
	bool has_socks = false;
	int fd;

	bpf_object__for_each_map(map, obj) {
		fd = shared_map_fd(c, bpf_map__name(map));
		if (fd < 0)
			continue;
		has_socks |= fd == c->fd[RLB_MAP_SOCKS];
		/* reuse_fd takes the pinned map as it is: a policy built against another ABI would
		 * read the wrong layout without a word, so compare the definitions first */
		if (!same_definition(map, fd))
			return rlb_error(
				-EINVAL,
				"%s: map '%s' does not match the group's (type, key, value "
				"or size): build the policy against this reuselb's "
				"reuselb/policy.bpf.h",
				path, bpf_map__name(map));
		if (bpf_map__reuse_fd(map, fd))
			return rlb_error(-errno,
					 "%s: map '%s' does not match the group's (%s): build the "
					 "policy against this version of reuselb/policy.bpf.h",
					 path, bpf_map__name(map), strerror(errno));
	}
	if (!has_socks)
		return rlb_error(-EINVAL,
				 "%s does not use the group's maps (no map 'socks'): include "
				 "<reuselb/policy.bpf.h> and select with rlb_select()",
				 path);
	return 0;
}

int rlb_ctl_load_policy(struct rlb_ctl *c, const char *path)
{
	char *log;
	struct bpf_program *prog = NULL;
	struct bpf_object *obj;
	struct rlb_config cfg;
	__u32 key = 0;
	int err, fd;

	rlb_keep_verifier_log(NULL);
	notice[0] = '\0';
	if (bpf_map_lookup_elem(c->fd[RLB_MAP_CONFIG], &key, &cfg))
		return rlb_bpf_error(-errno, "cannot read the config map");
	obj = bpf_object__open_file(path, NULL);
	if (!obj) {
		char why[128];

		err = -errno;
		libbpf_strerror(err, why, sizeof(why));
		return rlb_error(err, "cannot open %s: %s%s", path, why,
				 err == -ENOENT ? "" : " (is it a BPF object file?)");
	}
	err = pick_program(obj, path, &prog);
	if (!err)
		err = share_maps(c, obj, path);
	if (err)
		goto out;
	err = guard_exits(prog, path);
	if (err)
		goto out;
	/* a tail call needs the caller's attach type, which the owner noted in the config */
	bpf_program__set_expected_attach_type(prog, cfg.flags & RLB_CFG_MIGRATE ?
							    BPF_SK_REUSEPORT_SELECT_OR_MIGRATE :
							    BPF_SK_REUSEPORT_SELECT);
	log = rlb_log_buf(prog);
	if (!log) {
		err = -ENOMEM;
		goto out;
	}
	err = bpf_object__load(obj);
	/* the program is loaded or refused: the log has served */
	rlb_log_done(log, err);
	if (err) {
		/* the verifier answers EACCES (or EINVAL) with a log; EPERM means privileges */
		if (err == -EPERM)
			err = rlb_bpf_error(err, "cannot load the policy");
		else if (rlb_verifier_log()[0])
			err = rlb_error(err,
					"the kernel rejected %s: the verifier refused it: %s "
					"(verifier log follows)",
					path, strerror(-err));
		else
			err = rlb_error(err, "the kernel rejected %s: %s", path, strerror(-err));
		goto out;
	}
	fd = bpf_program__fd(prog);
	err = check_no_tail_calls(fd, path, bpf_program__name(prog));
	if (err)
		goto out;
	if (bpf_map_update_elem(c->fd[RLB_MAP_CUSTOM], &key, &fd, 0))
		err = rlb_bpf_error(-errno, "cannot install the policy into the custom map");
out:
	if (err)
		notice[0] = '\0';
	/* once installed, the program array holds the program: the object can go */
	bpf_object__close(obj);
	return err;
}

int rlb_ctl_unload_policy(struct rlb_ctl *c)
{
	__u32 key = 0;

	if (bpf_map_delete_elem(c->fd[RLB_MAP_CUSTOM], &key) && errno != ENOENT)
		return rlb_bpf_error(-errno, "cannot remove the policy from the custom map");
	return 0;
}

int rlb_ctl_policy_name(const struct rlb_ctl *c, char *buf, size_t len)
{
	struct bpf_prog_info info = {};
	__u32 key = 0, id, info_len = sizeof(info);
	const char *builtin;
	struct rlb_config cfg;
	int fd;

	/* from userspace, a program array answers with the installed program's id */
	if (bpf_map_lookup_elem(c->fd[RLB_MAP_CUSTOM], &key, &id) == 0) {
		fd = bpf_prog_get_fd_by_id(id);
		if (fd >= 0 && bpf_obj_get_info_by_fd(fd, &info, &info_len) == 0) {
			snprintf(buf, len, "custom:%s", info.name);
			close(fd);
			return 0;
		}
		if (fd >= 0)
			close(fd);
	}
	if (bpf_map_lookup_elem(c->fd[RLB_MAP_CONFIG], &key, &cfg))
		return rlb_bpf_error(-errno, "cannot read the config map");
	builtin = rlb_policy_name(cfg.policy);
	snprintf(buf, len, "%s", builtin);
	return 0;
}
