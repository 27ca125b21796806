// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "rlbtest.h"
#include "custom_look.h"

struct look {
	struct rlb_group *g;
	bool set;
};

static bool bit_is(void *arg)
{
	const struct look *l = arg;
	struct rlb_takeover_view v;
	struct rlb_config cfg;

	if (rlb_group_check_takeover(l->g, &v) || rlbt_group_config(l->g, &cfg))
		return false;
	return !!(cfg.flags & RLB_CFG_CUSTOM) == l->set;
}

bool rlbt_wait_custom_bit(struct rlb_group *g, bool set)
{
	struct look l = { .g = g, .set = set };

	return rlbt_wait_for(bit_is, &l, RLBT_TIMEOUT_MS);
}
