/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Questions asked of the kernel rather than of our own state: which programs are loaded, what
 * a group's maps hold, what a sysctl says.
 */
#ifndef RLBT_KERNEL_VIEW_H
#define RLBT_KERNEL_VIEW_H

#include <stdint.h>
#include <linux/bpf.h>
#include <reuselb/reuselb.h>

/* Programs of this type loaded in the kernel now, or -errno. */
int rlbt_count_progs(enum bpf_prog_type type);

/*
 * The same, with their ids: fills at most max of them into ids (which may be NULL) and
 * returns how many there are, or -errno. Comparing sets of ids keeps a test true while
 * unrelated programs (another test's, still being freed) go away.
 */
int rlbt_list_progs(enum bpf_prog_type type, uint32_t *ids, int max);

/* The type of the loaded program with this id, -ENOENT if there is none, or -errno. */
int rlbt_prog_type(uint32_t id);

/*
 * A program is freed an RCU grace period after its last user is gone. These wait for that,
 * grace period by grace period (membarrier), up to a bound, and return what they saw last.
 */
int rlbt_wait_count_progs(enum bpf_prog_type type, int want);
int rlbt_wait_prog_gone(uint32_t id);

/*
 * A map of an in-process group, found by name ("maglev", "cpus", ...) among the maps of its
 * attached program, as the kernel holds it. Returns a new fd (the caller closes it) or -errno.
 */
int rlbt_group_map_fd(const struct rlb_group *g, const char *name);

/*
 * The group's config map as the kernel holds it (found from the attached program's map ids),
 * so that a test can use the random seed to predict where a hashed flow lands.
 */
int rlbt_group_config(const struct rlb_group *g, struct rlb_config *cfg);

/* The id of the program in the group's "custom" slot (read from the kernel), 0 when empty. */
uint32_t rlbt_custom_prog_id(const struct rlb_group *g);

/* The integer in a /proc/sys file, or -1. */
int rlbt_read_sysctl(const char *path);

#endif
