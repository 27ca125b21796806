/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* reuselb attach --follow: the loop that keeps an adopted group's maps in step. */
#ifndef RLB_ATTACH_FOLLOW_H
#define RLB_ATTACH_FOLLOW_H

#include <stdbool.h>
#include <reuselb/reuselb.h>

/*
 * Re-syncs g with its sockets several times a second until SIGTERM or SIGINT, saying on stderr
 * what changed; then releases g (detaching when detach_on_exit). Returns the exit status.
 */
int attach_follow(struct rlb_group *g, bool detach_on_exit);

#endif
