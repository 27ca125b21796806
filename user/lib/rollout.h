/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* What the takeover's steps (takeover.c) ask of a rollout (rollout.c). */
#ifndef REUSELB_ROLLOUT_H
#define REUSELB_ROLLOUT_H

#include "internal.h"

/* A canary joins: cfg keeps the owner's generation and splits with ours (state CANARY). */
void rlb_rollout_join(const struct rlb_group *g, struct rlb_config *cfg);
/* A canary's takeover is undone: the split ends, and config says why (the canary lives?). */
void rlb_rollout_end(struct rlb_config *cfg);
/*
 * The owner closes while a canary lives: the canary takes every new connection, as if
 * promoted, before the owner's listeners close (their queues migrate to it). Hold the lock.
 */
int rlb_rollout_owner_leaves(struct rlb_ctl *c, struct rlb_config *cfg);

#endif
