// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policies.h"

const char *rlbt_policy_path(const char *name)
{
	static char path[512];
	const char *dir = getenv("RLB_BIN_DIR");

	snprintf(path, sizeof(path), "%s/examples/policies/%s.bpf.o", dir ? dir : ".", name);
	return path;
}

bool rlbt_policy_is(struct rlb_ctl *ctl, const char *want)
{
	char name[64] = "";
	int err = rlb_ctl_policy_name(ctl, name, sizeof(name));

	if (!err && !strcmp(name, want))
		return true;
	fprintf(stderr, "policy name '%s' (%s), want '%s'\n", name, err ? rlb_last_error() : "ok",
		want);
	return false;
}
