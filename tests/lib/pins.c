// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <string.h>

#include <reuselb/reuselb.h>

#include "pins.h"
#include "wait.h"

int rlbt_group_totals(const char *name, struct rlbt_totals *t)
{
	struct rlb_group_stats st;
	struct rlb_ctl *ctl;
	int err;

	memset(t, 0, sizeof(*t));
	err = rlb_ctl_open(name, &ctl);
	if (err)
		return err;
	err = rlb_ctl_read(ctl, &st);
	rlb_ctl_close(ctl);
	if (err)
		return err;
	t->base = st.base;
	for (unsigned int i = 0; i < st.nr_workers; i++) {
		t->steered += st.workers[i].steered;
		t->migrated += st.workers[i].migrated;
		t->accepted += st.workers[i].accepted;
		t->active += st.workers[i].active;
		t->busy += st.workers[i].busy;
	}
	return 0;
}

int rlbt_group_owner(const char *name)
{
	return rlb_group_owner(name);
}

struct owner {
	const char *name;
	int pid;
};

static bool owned(void *arg)
{
	const struct owner *o = arg;

	return rlbt_group_owner(o->name) == o->pid;
}

bool rlbt_wait_owner(const char *name, int pid, int timeout_ms)
{
	struct owner o = { .name = name, .pid = pid };

	return rlbt_wait_for(owned, &o, timeout_ms);
}
