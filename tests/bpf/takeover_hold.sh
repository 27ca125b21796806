#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# The owner holds copies of its successor's listeners while it may still need them, and lets
# go of them at each way out: the successor killed, rolled back, promoted.
#
# 1. A: "serve -a 127.0.0.1 -p 0 -w 2 --mode id --name hold-PID".
# 2. B: the same with --takeover --canary 10. A's open files soon include B's 2 listeners: 4
#    listeners of the port in A, 2 in B, 4 in all; B says nothing about failing to give them.
# 3. kill -9 B: A takes the group back and closes its copies: 2 listeners in A, 2 in all;
#    200 new connections are all answered.
# 4. C: --canary 10 again (A holds 4); "rollout rollback": C exits 0, and A and the port are
#    back to 2 listeners.
# 4b. E: --canary 10 (A holds 4); SIGTERM to E, which leaves by itself and closes its
#    listeners: E exits 0, A lets go of its copies (2 and 2), and 200 connections are answered.
# 5. D: --canary 10 (A holds 4); "rollout promote": A hands over and exits 0; D's 2 listeners
#    are the port's only ones, and 200 new connections are answered.
# 6. SIGTERM to D: exit 0, no listener left on the port.
source "$(dirname "$0")/../lib/common.bash" || exit 1

name=hold-$$

# listeners_of [PID]: the port's listening sockets among PID's open files (all if no PID).
listeners_of() {
	local inos n=0 link

	# the kernel's own socket dump, filtered there: only the port's listeners
	inos=" $(ss -Hltne "sport = :$port" | grep -o 'ino:[0-9]*' | cut -d: -f2 | tr '\n' ' ')"
	if [ -z "${1:-}" ]; then
		set -- $inos
		echo $#
		return
	fi
	for link in /proc/"$1"/fd/*; do
		link=$(readlink "$link" 2>/dev/null) || continue
		[[ $link =~ ^socket:\[([0-9]+)\]$ ]] && [[ $inos == *" ${BASH_REMATCH[1]} "* ]] &&
			n=$((n + 1))
	done
	echo $n
}

# wait_listeners PID N TOTAL: waits (up to 20 s) until PID holds N of the port's listeners
# and the port has TOTAL.
wait_listeners() {
	local end=$((SECONDS + 20))

	while [ $SECONDS -lt $end ]; do
		[ "$(listeners_of "$1")" = "$2" ] && [ "$(listeners_of)" = "$3" ] && return 0
		sleep 0.05
	done
	fail "pid $1 holds $(listeners_of "$1") of the port's $(listeners_of) listeners, want $2 of $3"
	return 1
}

# load N: N new connections, all answered.
load() {
	"$RLB_BIN_DIR/rlbload" -p "$port" -m id -n "$1" -r 1000 -t 20000 >"$tmp/load" 2>&1 ||
		fail "rlbload -n $1: $(cat "$tmp/load")"
}

# canary NAME: starts a canary at 10 % and waits until A holds its listeners too.
canary() {
	serve_start "$1" -a 127.0.0.1 -p "$port" -w 2 --mode id --name "$name" --takeover \
		--canary 10 --grace 5 || finish
	wait_listeners "$a" 4 4
	[ "$(listeners_of "${SERVE_PID[$1]}")" = 2 ] ||
		fail "$1 holds $(listeners_of "${SERVE_PID[$1]}") listeners, want 2"
	! grep -q "cannot give" "$tmp/serve-$1.err" || fail "$1 said: $(cat "$tmp/serve-$1.err")"
}

# 1.
serve_start a -a 127.0.0.1 -p 0 -w 2 --mode id --name "$name" || finish
port=${SERVE_PORT[a]}
a=${SERVE_PID[a]}
[ "$(listeners_of "$a")" = 2 ] || fail "A holds $(listeners_of "$a") listeners, want 2"

# 2.
canary b

# 3.
kill -KILL "${SERVE_PID[b]}"
serve_stop b
wait_listeners "$a" 2 2
load 200

# 4.
canary c
expect "rollback" 0 "" "$REUSELB" rollout --name "$name" rollback
serve_stop c 0
status=$?
[ "$status" = 0 ] || fail "C exited $status after the rollback, want 0"
wait_listeners "$a" 2 2

# 4b.
canary e
serve_stop e
status=$?
[ "$status" = 0 ] || fail "E exited $status after SIGTERM, want 0"
wait_listeners "$a" 2 2
load 200

# 5.
canary d
d=${SERVE_PID[d]}
expect "promote" 0 "" "$REUSELB" rollout --name "$name" promote
serve_stop a 0
status=$?
[ "$status" = 0 ] || fail "A exited $status after the promote, want 0"
wait_listeners "$d" 2 2
load 200

# 6.
serve_stop d
status=$?
[ "$status" = 0 ] || fail "D exited $status after SIGTERM, want 0"
[ "$(listeners_of)" = 0 ] || fail "$(listeners_of) listeners left on port $port"
finish
