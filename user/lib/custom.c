// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Users' own policies. The steering program tail-calls key 0 of the "custom" program array
 * before anything else, so installing a policy is one map update, live and atomic, and
 * removing it hands steering back to the built-in policy at once. The user's program shares
 * the group's maps: each map named like one of ours is the pinned one (bpf_map__reuse_fd).
 */
#include <errno.h>
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
	return info.type == bpf_map__type(map) && info.key_size == bpf_map__key_size(map) &&
	       info.value_size == bpf_map__value_size(map) &&
	       info.max_entries == bpf_map__max_entries(map);
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
		return rlb_error(-EINVAL,
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
			return rlb_error(-EINVAL,
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
	/* a tail call needs the caller's attach type, which the owner noted in the config */
	bpf_program__set_expected_attach_type(prog, cfg.flags & RLB_CFG_MIGRATE
							    ? BPF_SK_REUSEPORT_SELECT_OR_MIGRATE
							    : BPF_SK_REUSEPORT_SELECT);
	log = rlb_log_buf(prog);
	if (!log) {
		err = -ENOMEM;
		goto out;
	}
	err = bpf_object__load(obj);
	/* the program is loaded or refused: the log has served */
	rlb_log_done(log, err);
	if (err) {
		/* the verifier answers EACCES (or EINVAL) with a log; EPERM is a privilege matter */
		if (err == -EPERM)
			err = rlb_bpf_error(err, "cannot load the policy");
		else if (rlb_verifier_log()[0])
			err = rlb_error(err, "the kernel rejected %s: the verifier refused it: %s "
					"(verifier log follows)", path, strerror(-err));
		else
			err = rlb_error(err, "the kernel rejected %s: %s", path, strerror(-err));
		goto out;
	}
	fd = bpf_program__fd(prog);
	if (bpf_map_update_elem(c->fd[RLB_MAP_CUSTOM], &key, &fd, 0))
		err = rlb_bpf_error(-errno, "cannot install the policy into the custom map");
out:
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
