#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# Control commands at once from the shell (issue 17, item 2, with the race tool rlbrace):
# weights changed together and a policy written over them leave the active weighted table
# as the weights say, seen by traffic alone. Without the control lock, two rebuilds write
# the same inactive half, and a policy change writes back a config whose table index it read
# before a flip.
#
# 1. "serve -w 4 --policy weighted --mode id" on 127.0.0.1, one server for every trial.
# 2. RACE_TRIALS times (default 60), released at the same instant by rlbrace -r:
#    a. "weight -p P 1 0", "weight -p P 2 0", "weight -p P 3 0", "policy -p P weighted": all
#       exit 0; stats shows weights 100/0/0/0; 8 connections all reach worker 0;
#    b. the same back to 100: weights 100/100/100/100; 12 connections reach every worker.
source "$(dirname "$0")/../lib/common.bash" || exit 1
need_tools jq

trials=${RACE_TRIALS:-60}
race=("$RLB_BIN_DIR/rlbrace" -r -s 3000 -o "$tmp")

# weights PORT: "policy w0 w1 w2 w3" from stats --json
weights() {
	"$REUSELB" stats -p "$1" --json | jq -r '.policy + " " + ([.workers[].weight] | join(" "))'
}

# tally PORT N: "id:count ..." of N connections
tally() {
	"$RLB_BIN_DIR/rlbtally" -p "$1" -n "$2" | awk '/^ +[0-9]+ +[0-9]+ / { printf "%s:%s ", $1, $2 }'
}

# race_all TRIAL WEIGHT: weights of workers 1-3 and the policy, released together.
race_all() {
	local t=$1 w=$2 statuses

	statuses=$("${race[@]}" "$REUSELB" weight -p "$port" 1 "$w" ::: \
		"$REUSELB" weight -p "$port" 2 "$w" ::: "$REUSELB" weight -p "$port" 3 "$w" ::: \
		"$REUSELB" policy -p "$port" weighted) || fail "trial $t: rlbrace failed"
	[ "$statuses" = "0 0 0 0" ] ||
		fail "trial $t: exit statuses $statuses: $(cat "$tmp"/*.err)"
}

# 1.
serve_start w -a 127.0.0.1 -p 0 -w 4 --policy weighted --mode id || finish
port=${SERVE_PORT[w]}
start=$SECONDS
for ((t = 1; t <= trials; t++)); do
	# a.
	race_all "$t" 0
	got=$(weights "$port")
	[ "$got" = "weighted 100 0 0 0" ] || fail "trial $t: weights after setting 0: $got"
	got=$(tally "$port" 8)
	[ "$got" = "0:8 " ] || fail "trial $t: weights 100/0/0/0, connections went to $got"
	# b.
	race_all "$t" 100
	got=$(weights "$port")
	[ "$got" = "weighted 100 100 100 100" ] || fail "trial $t: weights after setting 100: $got"
	got=$(tally "$port" 12)
	[[ $got =~ ^0:[0-9]+\ 1:[0-9]+\ 2:[0-9]+\ 3:[0-9]+\ $ ]] ||
		fail "trial $t: weights 100 each, connections went to $got"
	[ "$failures" -lt 10 ] || fail_now "too many failures: stopping at trial $t"
done
echo "$trials trials of 2 x 4 commands at once in $((SECONDS - start)) s"
serve_stop w || fail "serve exited with $?"
finish
