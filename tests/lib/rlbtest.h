/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Helpers for the tests, one header a concern, all included here so that a test includes only
 * this one:
 *	check.h		checks that count failures, named cases, the verdict, root, children
 *	wait.h		time, waiting for a condition, a server's stderr file
 *	sock.h		TCP clients from a chosen source, the "--mode id" answer
 *	http.h		the answers of "serve --mode http"
 *	steer.h		in-process groups: which worker took a connection, round-robin rotations
 *	kernel_view.h	what the kernel holds: loaded programs, a group's maps, sysctls
 *	netns.h		a network namespace of its own, TCP sockets by /proc/net/tcp
 *	proc.h		the real binary serving, and the load client
 *	pins.h		live groups through their pins: counters, owner
 *	policies.h	users' policies (examples/policies)
 *	random.h	a seeded generator a failed run can replay
 * The shell tests have theirs in common.bash, next to this file.
 */
#ifndef RLBTEST_H
#define RLBTEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <linux/bpf.h>
#include <reuselb/reuselb.h>

#include "check.h"
#include "wait.h"
#include "sock.h"
#include "http.h"
#include "steer.h"
#include "kernel_view.h"
#include "netns.h"
#include "proc.h"
#include "pins.h"
#include "policies.h"
#include "random.h"

#endif
