#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# Rollouts: a canary beside the owner, an exact split, set, rollback, kill -9, promote.
#
# 1. A: "serve -a 127.0.0.1 -p 0 -w 2 --mode id --name ro-PID" (round-robin).
# 2. B: the same with --takeover --canary 10. "rollout --json" is exactly one object with
#    generation 0 (A's pid, share 90, serving) and 1 (B's pid, share 10, canary).
# 3. 1000 new connections (rlbload -n): exactly 100 go to B's generation and 900 to A's, and
#    within each the round-robin gives each of its 2 workers half.
# 4. "rollout set 50": 400 new connections split 200 / 200.
#    A policy of the user's own that sends generation 1 to its worker 0 and generation 0 to
#    worker 1 (rlb_generation()): of 200 connections, those two slots get exactly 100 each.
# 5. "rollout rollback": B says it handed the group back to A and exits 0 by itself; rollout
#    shows A alone at 100 % and "last rollout: rolled back (canary pid B)"; 200 connections all
#    go to A, none fails.
# 6. C: --canary 20, then kill -9 C: A notices by itself (stderr), rollout shows A alone and
#    "canary died (canary pid C)", and 200 connections all go to A.
# 7. D: --canary 10 --confirm 200; "rollout promote": A hands over and exits 0 by itself,
#    rollout shows D serving at 100 %, stats --json gives its workers generation 1, list names
#    D, and D takes 200 connections.
# 8. Usage and state errors: set 101 (2), set/promote/rollback without a canary (1, one line),
#    --canary without --takeover (2).
# 9. E: --canary 30 beside D; SIGTERM to D, the owner: D leaves the group to E whole (exit 0),
#    E says the group is its own, rollout shows E alone at 100 %, and E takes 200
#    connections. SIGTERM to E: exit 0, the
#    pins are gone.
source "$(dirname "$0")/../lib/common.bash" || exit 1
need_tools jq bpftool

name=ro-$$
pins=/sys/fs/bpf/reuselb/$name

rollout() {
	"$REUSELB" rollout --name "$name" "$@"
}

# gen N FIELD: a field of generation N in "rollout --json".
gen() {
	rollout --json | jq -r ".generations[] | select(.generation == $1) | .$2"
}

# steered_slot SLOT: the program's count of connections given to that slot (all CPUs).
steered_slot() {
	bpftool -j map lookup pinned "$pins/stats" key "$1" 0 0 0 |
		jq "[.formatted.values[].value.steered] | add"
}

# load N: N new connections, all answered.
load() {
	"$RLB_BIN_DIR/rlbload" -p "$port" -m id -n "$1" -r 2000 -t 20000 >"$tmp/load" 2>&1 ||
		fail "rlbload -n $1: $(cat "$tmp/load")"
}

# wait_exit PID: waits (bounded) until the process has gone.
wait_exit() {
	local i

	for ((i = 0; i < 300; i++)); do
		kill -0 "$1" 2>/dev/null || return 0
		sleep 0.1
	done
	return 1
}

# wait_alone PID: waits (bounded) until rollout shows only that pid's generation.
wait_alone() {
	local i

	for ((i = 0; i < 300; i++)); do
		[ "$(rollout --json | jq -c '[.generations[].pid]')" = "[$1]" ] && return 0
		sleep 0.1
	done
	fail "rollout still shows $(rollout --json), want only pid $1"
	return 1
}

# 1.
serve_start a -a 127.0.0.1 -p 0 -w 2 --mode id --name "$name" || finish
port=${SERVE_PORT[a]}
a=${SERVE_PID[a]}

# 2.
serve_start b -a 127.0.0.1 -p "$port" -w 2 --mode id --name "$name" --takeover --canary 10 \
	--grace 5 || finish
b=${SERVE_PID[b]}
want="{\"group\":\"$name\",\"generations\":[{\"generation\":0,\"pid\":$a,\"share\":90,\"steered\":0,\"active\":0,\"state\":\"serving\"},{\"generation\":1,\"pid\":$b,\"share\":10,\"steered\":0,\"active\":0,\"state\":\"canary\"}]}"
[ "$(rollout --json)" = "$want" ] || fail "rollout --json: $(rollout --json), want $want"

# 3.
load 1000
[ "$(gen 0 steered)" = 900 ] && [ "$(gen 1 steered)" = 100 ] ||
	fail "10 %: generations got $(gen 0 steered) / $(gen 1 steered) of 1000, want 900 / 100"
for slot in 0 1; do
	[ "$(steered_slot $slot)" = 450 ] || fail "A's worker $slot got $(steered_slot $slot), want 450"
done
for slot in 64 65; do
	[ "$(steered_slot $slot)" = 50 ] || fail "B's worker $((slot - 64)) got $(steered_slot $slot), want 50"
done

# 4.
expect "set 50" 0 "" "$REUSELB" rollout --name "$name" set 50
grep -q "the canary gets 50 %" "$tmp/out" || fail "set 50 said: $(cat "$tmp/out")"
[ "$(gen 1 share)" = 50 ] && [ "$(gen 0 share)" = 50 ] || fail "after set 50: $(rollout --json)"
load 400
[ "$(gen 0 steered)" = 1100 ] && [ "$(gen 1 steered)" = 300 ] ||
	fail "50 %: generations got $(gen 0 steered) / $(gen 1 steered), want 1100 / 300"

# 4b. A policy of the user's own sees the generation (examples/policies/by_generation.bpf.c):
# at 50 %, 200 connections give B's worker 0 and A's worker 1 exactly 100 each, the others 0.
expect "policy load" 0 "" "$REUSELB" policy --name "$name" load \
	"$RLB_BIN_DIR/examples/policies/by_generation.bpf.o"
for slot in 0 1 64 65; do
	was[$slot]=$(steered_slot $slot)
done
load 200
for slot in 0 1 64 65; do
	got=$(($(steered_slot $slot) - was[slot]))
	case $slot in 1 | 64) want=100 ;; *) want=0 ;; esac
	[ "$got" = "$want" ] || fail "by_generation: slot $slot got $got of 200, want $want"
done
expect "policy unload" 0 "" "$REUSELB" policy --name "$name" unload

# 5.
expect "rollback" 0 "" "$REUSELB" rollout --name "$name" rollback
wait_exit "$b" || fail "B did not exit after the rollback"
serve_stop b
status=$?
[ "$status" = 0 ] || fail "B exited $status after the rollback, want 0"
grep -q "^reuselb: rolled back: handed group $name back to pid $a;" "$tmp/serve-b.out" ||
	fail "B said: $(cat "$tmp/serve-b.out")"
wait_alone "$a"
rollout >"$tmp/show"
grep -q "^last rollout: rolled back (canary pid $b)$" "$tmp/show" || fail "rollout: $(cat "$tmp/show")"
[ "$(gen 0 share)" = 100 ] && [ "$(gen 0 state)" = serving ] || fail "after rollback: $(rollout --json)"
before=$(gen 0 steered)
load 200
[ "$(gen 0 steered)" = $((before + 200)) ] || fail "after rollback A got $(($(gen 0 steered) - before)) of 200"

# 6.
serve_start c -a 127.0.0.1 -p "$port" -w 2 --mode id --name "$name" --takeover --canary 20 ||
	finish
c=${SERVE_PID[c]}
[ "$(gen 1 pid)" = "$c" ] && [ "$(gen 1 share)" = 20 ] || fail "canary C: $(rollout --json)"
serve_stop c KILL
wait_alone "$a"
rollout >"$tmp/show"
grep -q "^last rollout: canary died (canary pid $c)$" "$tmp/show" || fail "rollout: $(cat "$tmp/show")"
grep -q "pid $c, taking group $name over, died (canary)" "$tmp/serve-a.err" ||
	fail "A did not say that C died: $(cat "$tmp/serve-a.err")"
before=$(gen 0 steered)
load 200
[ "$(gen 0 steered)" = $((before + 200)) ] || fail "after kill -9 A got $(($(gen 0 steered) - before)) of 200"

# 8. (no canary now)
expect "set 101" 2 "bad share '101'" "$REUSELB" rollout --name "$name" set 101
for what in "set 30" promote rollback; do
	# shellcheck disable=SC2086
	expect "$what without a canary" 1 "group $name has no canary" \
		"$REUSELB" rollout --name "$name" $what
done
expect "--canary without --takeover" 2 "--canary joins a live group: add --takeover" \
	"$REUSELB" serve -p 0 --canary 10

# 7.
serve_start d -a 127.0.0.1 -p "$port" -w 2 --mode id --name "$name" --takeover --canary 10 \
	--confirm 200 || finish
d=${SERVE_PID[d]}
expect "promote" 0 "" "$REUSELB" rollout --name "$name" promote
wait_exit "$a" || fail "A did not exit after the promotion"
serve_stop a
status=$?
[ "$status" = 0 ] || fail "A exited $status after the promotion, want 0"
grep -q "^reuselb: handed over group $name to pid $d;" "$tmp/serve-a.out" ||
	fail "A said: $(cat "$tmp/serve-a.out")"
wait_alone "$d"
[ "$(gen 1 share)" = 100 ] && [ "$(gen 1 state)" = serving ] || fail "after promote: $(rollout --json)"
rollout | grep -q "^last rollout: promoted (canary pid $d)$" || fail "rollout: $(rollout)"
"$REUSELB" stats --name "$name" --json | jq -e '[.workers[].generation] == [1,1]' >/dev/null ||
	fail "stats --json after promote: $("$REUSELB" stats --name "$name" --json)"
[ "$("$REUSELB" list | awk -v g="$name" '$1 == g { print $2 }')" = "$d" ] ||
	fail "list does not name D: $("$REUSELB" list)"
before=$(gen 1 steered)
load 200
[ "$(gen 1 steered)" = $((before + 200)) ] || fail "after promote D got $(($(gen 1 steered) - before)) of 200"

# 9.
serve_start e -a 127.0.0.1 -p "$port" -w 2 --mode id --name "$name" --takeover --canary 30 ||
	finish
e=${SERVE_PID[e]}
serve_stop d
status=$?
[ "$status" = 0 ] || fail "D exited $status, want 0"
wait_alone "$e"
for ((i = 0; i < 100; i++)); do
	grep -q "^reuselb: pid $d has exited: group $name is ours$" "$tmp/serve-e.err" && break
	sleep 0.1
done
grep -q "^reuselb: pid $d has exited: group $name is ours$" "$tmp/serve-e.err" ||
	fail "E did not take the pins: $(cat "$tmp/serve-e.err")"
[ "$(gen 0 share)" = 100 ] && [ "$(gen 0 state)" = serving ] || fail "after D left: $(rollout --json)"
before=$(gen 0 steered)
load 200
[ "$(gen 0 steered)" = $((before + 200)) ] || fail "after D left E got $(($(gen 0 steered) - before)) of 200"
serve_stop e
status=$?
[ "$status" = 0 ] || fail "E exited $status, want 0"
[ ! -e "$pins" ] || fail "pins left behind: $(ls "$pins")"
finish
