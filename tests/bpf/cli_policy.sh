#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# reuselb policy on a live group, under load.
#
# 1. "serve -w 4 --mode id" (round-robin). rlbtally makes rounds of 4000 connections (from
#    50 addresses) in the background while the policy is switched again and again (random,
#    hash, source-ip, least-conn, maglev, weighted, round-robin, and a policy of our own
#    loaded and unloaded), each switch exit 0, until at least 10 switches have landed while
#    a round ran. Not one connection fails (rlbtally exits 0, "0 failed"); stats then counts
#    every one of them, steered or unsteered, and accepted.
# 2. The new policy shows in stats and in the distribution of the next 100 connections:
#    source-ip: all on one worker (one client address); weighted 400/0/0/100: none on
#    workers 1 and 2, more on 0 than on 3; round-robin: 25 on each.
# 3. A policy of our own: load fill_first.bpf.o: stats says custom:fill_first and all 100
#    connections go to worker 0 (it has room for 100 open at once); unload: round-robin
#    again, 25 each.
# 4. Refusals leave the group as it was (stats --json unchanged): an unknown policy, a
#    missing object (exit 2, one line); the verifier's rejection (exit 2, the error line,
#    then the verifier's log); objects that are not policies (exit 2, one line).
source "$(dirname "$0")/../lib/common.bash" || exit 1
need_tools jq

policies="$RLB_BIN_DIR/examples/policies"

# distribution NAME N: makes N connections and prints, per worker, how many each accepted
# ("a b c d"), from stats before and after.
distribution() {
	local before after
	before=$(stats_json "$1")
	"$RLB_BIN_DIR/rlbtally" -p "${SERVE_PORT[$1]}" -n "$2" >"$tmp/tally" 2>&1 ||
		fail "rlbtally -n $2: $(tail -3 "$tmp/tally")"
	after=$(stats_json "$1")
	jq -rn --argjson a "$before" --argjson b "$after" \
		'[range($b.workers | length) | $b.workers[.].accepted - $a.workers[.].accepted] |
		 map(tostring) | join(" ")'
}

policy_now() {
	stats_json "$1" | jq -r .policy
}

serve_start id -a 127.0.0.1 -p 0 -w 4 --mode id || finish
port=${SERVE_PORT[id]}
[ -f "$policies/fill_first.bpf.o" ] || fail "no $policies/fill_first.bpf.o: build examples"

# 1. Switches under load. The load comes in rounds of 4000 connections, as many as it takes
#    for 10 switches to land while one runs: how many switches fit in one round depends on
#    how busy the machine is, not on what is tested.
switches=0 during=0 rounds=0
cycle=(random hash source-ip least-conn maglev weighted "load $policies/fill_first.bpf.o"
       unload round-robin)
while [ "$during" -lt 10 ] && [ "$rounds" -lt 20 ]; do
	"$RLB_BIN_DIR/rlbtally" -p "$port" -n 4000 --sources 50 >"$tmp/load" 2>&1 &
	load_pid=$!
	rounds=$((rounds + 1))
	while kill -0 "$load_pid" 2>/dev/null; do
		c=${cycle[switches % ${#cycle[@]}]}
		# shellcheck disable=SC2086 # "load FILE" is two words
		"$REUSELB" policy -p "$port" $c >"$tmp/out" 2>"$tmp/err" ||
			fail "policy $c under load: $(cat "$tmp/err")"
		switches=$((switches + 1))
		during=$((during + 1))
	done
	wait "$load_pid"
	status=$?
	[ "$status" = 0 ] || fail "connections failed during the switches: $(tail -5 "$tmp/load")"
	grep -q "4000 connections, 4000 answered, 0 failed" "$tmp/load" ||
		fail "load round $rounds: $(tail -1 "$tmp/load")"
done
# a few after the load ended too: each switch must work either way
for ((i = 0; i < 3; i++)); do
	c=${cycle[switches % ${#cycle[@]}]}
	# shellcheck disable=SC2086
	"$REUSELB" policy -p "$port" $c >"$tmp/out" 2>"$tmp/err" ||
		fail "policy $c after the load: $(cat "$tmp/err")"
	switches=$((switches + 1))
done
total=$((rounds * 4000))
echo "$switches switches, $during of them under load, in $rounds rounds of 4000 connections"
[ "$during" -ge 10 ] || fail "only $during switches while the load ran, in $rounds rounds"
"$REUSELB" policy -p "$port" unload >/dev/null
wait_idle id
json=$(stats_json id)
jq -e --argjson n "$total" '([.workers[].accepted] | add) == $n and
	([.workers[].steered] | add) + .unsteered == $n' <<<"$json" >/dev/null ||
	fail "stats after the load do not add up to $total: $json"

# 2. The distribution follows the policy.
expect "policy source-ip" 0 "" "$REUSELB" policy -p "$port" source-ip
grep -q "policy source-ip (was " "$tmp/out" || fail "policy source-ip printed: $(cat "$tmp/out")"
[ "$(policy_now id)" = source-ip ] || fail "stats after source-ip: $(policy_now id)"
d=$(distribution id 100)
[[ "$d" =~ ^(0 )*100( 0)*$ ]] || fail "source-ip, one client: $d, want all on one worker"

for w in 0:400 1:0 2:0 3:100; do
	expect "weight ${w/:/ }" 0 "" "$REUSELB" weight -p "$port" "${w%:*}" "${w#*:}"
done
expect "policy weighted" 0 "" "$REUSELB" policy -p "$port" weighted
[ "$(policy_now id)" = weighted ] || fail "stats after weighted: $(policy_now id)"
read -r w0 w1 w2 w3 <<<"$(distribution id 100)"
[ "$w1" = 0 ] && [ "$w2" = 0 ] && [ "$w0" -gt "$w3" ] && [ "$w3" -gt 0 ] &&
	[ $((w0 + w3)) = 100 ] || fail "weighted 400/0/0/100: $w0 $w1 $w2 $w3"
for w in 0 1 2 3; do
	"$REUSELB" weight -p "$port" "$w" 100 >/dev/null || fail "weight $w 100"
done

expect "policy round-robin" 0 "" "$REUSELB" policy -p "$port" round-robin
d=$(distribution id 100)
[ "$d" = "25 25 25 25" ] || fail "round-robin: $d"

# 3. A policy of our own.
expect "policy load" 0 "" "$REUSELB" policy -p "$port" load "$policies/fill_first.bpf.o"
grep -q "custom:fill_first" "$tmp/out" || fail "policy load printed: $(cat "$tmp/out")"
[ "$(policy_now id)" = custom:fill_first ] || fail "stats after load: $(policy_now id)"
"$REUSELB" stats -p "$port" | head -1 | grep -q "policy custom:fill_first," ||
	fail "the table does not show custom:fill_first"
d=$(distribution id 100)
[ "$d" = "100 0 0 0" ] || fail "fill_first: $d, want all on worker 0"
expect "policy unload" 0 "" "$REUSELB" policy -p "$port" unload
grep -q "removed custom:fill_first; policy round-robin steers again" "$tmp/out" ||
	fail "policy unload printed: $(cat "$tmp/out")"
[ "$(policy_now id)" = round-robin ] || fail "stats after unload: $(policy_now id)"
d=$(distribution id 100)
[ "$d" = "25 25 25 25" ] || fail "round-robin after unload: $d"

# 4. Refusals change nothing.
before=$(stats_json id)
expect "unknown policy" 2 "^reuselb policy: unknown policy 'nope': choose one of .*round-robin" \
	"$REUSELB" policy -p "$port" nope
expect "missing object" 2 "^reuselb policy: cannot load '$tmp/none.bpf.o': No such file" \
	"$REUSELB" policy -p "$port" load "$tmp/none.bpf.o"
expect "no maps" 2 "^reuselb policy: .*bad_nomaps.bpf.o does not use the group's maps" \
	"$REUSELB" policy -p "$port" load "$policies/bad_nomaps.bpf.o"
expect "no program" 2 "^reuselb policy: .*bad_type.bpf.o has 0 sk_reuseport programs" \
	"$REUSELB" policy -p "$port" load "$policies/bad_type.bpf.o"

timeout 10 "$REUSELB" policy -p "$port" load "$policies/bad_verifier.bpf.o" \
	>"$tmp/out" 2>"$tmp/err"
status=$?
[ "$status" = 2 ] || fail "verifier rejection: exit $status, want 2 (a bad object is bad input)"
head -1 "$tmp/err" | grep -q "^reuselb policy: the kernel rejected .*bad_verifier.bpf.o: .*(verifier log follows)$" ||
	fail "verifier rejection: first line: $(head -1 "$tmp/err")"
[ "$(wc -l <"$tmp/err")" -gt 2 ] && grep -q "invalid access to packet" "$tmp/err" ||
	fail "verifier rejection: no verifier log after the line: $(head -c 600 "$tmp/err")"
[ -s "$tmp/out" ] && fail "verifier rejection printed on stdout: $(cat "$tmp/out")"

after=$(stats_json id)
[ "$before" = "$after" ] || fail "a refused command changed the group:"$'\n'"$before"$'\n'"$after"

serve_stop id || fail "serve exited with $?"
finish
