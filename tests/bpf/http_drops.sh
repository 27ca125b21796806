#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# What a deferred accept does to the listener's drops, as stats reports them.
#
# 1. "serve -a 127.0.0.1 -p 0 -w 2 --mode http" (the default: no deferral): 100 requests
#    (rlbload, each its own connection), all answered: the workers accepted 100, and stats
#    --json shows drops 0 on every worker.
# 2. The same with --defer-accept: 100 answered, 100 accepted, and the drops add up to exactly
#    100: the kernel discards each connection's bare final ACK while it defers, and counts it
#    in the listener's sk_drops, as serve --help and stats --help say.
source "$(dirname "$0")/../lib/common.bash" || exit 1
need_tools jq

N=100

# run NAME ARGS...: serve ARGS, N requests, then stats --json of the group in $tmp/NAME.json.
run() {
	local name=$1 port
	shift

	serve_start "$name" -a 127.0.0.1 -p 0 -w 2 --mode http "$@" || finish
	port=${SERVE_PORT[$name]}
	"$RLB_BIN_DIR/rlbload" -p "$port" -m http -n "$N" -r 1000 -t 10000 >"$tmp/load" 2>&1 ||
		fail "serve $*: rlbload -n $N: $(tail -2 "$tmp/load")"
	wait_idle "$name"
	stats_json "$name" >"$tmp/$name.json"
	serve_stop "$name" || fail "serve $* exited with $?"
}

# 1.
run plain
jq -e --argjson n "$N" '([.workers[].accepted] | add) == $n and all(.workers[]; .drops == 0)' \
	"$tmp/plain.json" >/dev/null || fail "without --defer-accept: $(cat "$tmp/plain.json")"

# 2.
run deferred --defer-accept
jq -e --argjson n "$N" '([.workers[].accepted] | add) == $n and ([.workers[].drops] | add) == $n' \
	"$tmp/deferred.json" >/dev/null || fail "with --defer-accept: $(cat "$tmp/deferred.json")"
finish
