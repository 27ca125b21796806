#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# reuselb stats against a real server and real connections.
#
# 1. "serve -w 4 --mode id" (round-robin) on an ephemeral port: stats --json before any
#    traffic has the keys of the fixed interface, 4 live workers, every counter 0.
# 2. rlbtally makes 200 connections, all answered. Then: steered and accepted each add up
#    to 200 over the workers, 50 each (round-robin), fallback, migrated and unsteered are 0,
#    and once the workers closed them, active is 0 everywhere.
# 3. The table: a header naming the columns, one row per worker with state "live", and a
#    total row of 200 steered and 200 accepted, each worker 25.0%.
# 4. --watch 1 --count 2: two redraws, each starting with the ANSI clear, with the rate
#    columns; the second frame has a number where the first had "-". --json --watch: one
#    object per line, the first with null rates.
# 5. --watch stops on SIGINT with exit 0 (timeout -s INT), and with exit 1 and one line when
#    the group stops serving under it.
# 6. A UDP group (serve --udp --mode echo): stats -p PORT --udp names udp-PORT, and -p PORT
#    without --udp is an unknown group (exit 2) whose message lists udp-PORT.
source "$(dirname "$0")/../lib/common.bash" || exit 1
need_tools jq

# 1. Before any traffic.
serve_start id -a 127.0.0.1 -p 0 -w 4 --mode id || finish
port=${SERVE_PORT[id]}
expect "stats --json" 0 "" "$REUSELB" stats -p "$port" --json
json=$(cat "$tmp/out")
jq -e --arg g "tcp-$port" '
	.group == $g and .policy == "round-robin" and .unsteered == 0 and
	(.workers | length) == 4 and
	all(.workers[]; (keys - ["id","state","weight","steered","accepted","active","fallback",
				 "migrated","busy","generation","queue","queue_limit","drops"]) == [] and
			.state == "live" and .weight == 100 and .generation == 0 and
			.steered == 0 and .accepted == 0 and .active == 0 and
			.queue == 0 and .queue_limit > 0 and .drops == 0) and
	([.workers[].id] == [0,1,2,3])' <<<"$json" >/dev/null ||
	fail "stats --json before traffic: $json"
# every key of the fixed interface, spelt exactly
for key in id state weight steered accepted active fallback migrated queue queue_limit drops; do
	jq -e --arg k "$key" 'all(.workers[]; has($k))' <<<"$json" >/dev/null ||
		fail "stats --json: a worker without \"$key\": $json"
done

# 2. 200 connections.
"$RLB_BIN_DIR/rlbtally" -p "$port" -n 200 >"$tmp/tally" 2>&1 ||
	fail "rlbtally: $(tail -3 "$tmp/tally")"
grep -q "200 connections, 200 answered, 0 failed" "$tmp/tally" ||
	fail "rlbtally: $(tail -1 "$tmp/tally")"
wait_idle id
json=$(stats_json id)
jq -e '([.workers[].steered] | add) == 200 and ([.workers[].accepted] | add) == 200 and
	all(.workers[]; .steered == 50 and .accepted == 50 and .fallback == 0 and
			.migrated == 0 and .active == 0) and .unsteered == 0' <<<"$json" >/dev/null ||
	fail "after 200 connections: $json"

# 3. The table.
expect "stats table" 0 "" "$REUSELB" stats -p "$port"
table=$(cat "$tmp/out")
head -1 <<<"$table" | grep -q "^group tcp-$port, policy round-robin, 4 workers, unsteered 0$" ||
	fail "table: first line: $(head -1 <<<"$table")"
sed -n 2p <<<"$table" | grep -Eq \
	'^ *worker +state +weight +steered +fallbacks +migrated +accepted +active +share +queue +limit +drops$' ||
	fail "table: header: $(sed -n 2p <<<"$table")"
[ "$(grep -Ec '^ +[0-3] +live +100 +50 +0 +0 +50 +0 +25\.0% +0 +[0-9]+ +0$' <<<"$table")" = 4 ] ||
	fail "table: worker rows:"$'\n'"$table"
grep -Eq '^ +total +200 +0 +0 +200 +0 +100\.0% +0 +0$' <<<"$table" ||
	fail "table: total row:"$'\n'"$table"

# 4. --watch with a bounded number of redraws.
expect "stats --watch" 0 "" "$REUSELB" stats -p "$port" --watch 1 --count 2
frames=$(grep -o $'\e\\[H\e\\[2J' "$tmp/out" | wc -l)
[ "$frames" = 2 ] || fail "--watch --count 2: $frames ANSI clears, want 2"
grep -q "steered/s" "$tmp/out" || fail "--watch: no rate columns: $(head -5 "$tmp/out")"
[ "$(grep -Ec '^ +0 +live .* +- +- *$' "$tmp/out")" = 1 ] ||
	fail "--watch: the first frame should have no rates yet:"$'\n'"$(cat "$tmp/out")"
[ "$(grep -Ec '^ +0 +live .* +[0-9]+\.[0-9] +[0-9]+\.[0-9] *$' "$tmp/out")" = 1 ] ||
	fail "--watch: the second frame should have rates:"$'\n'"$(cat "$tmp/out")"
expect "stats --json --watch" 0 "" "$REUSELB" stats -p "$port" --json --watch 1 --count 2
[ "$(wc -l <"$tmp/out")" = 2 ] || fail "--json --watch --count 2: $(wc -l <"$tmp/out") lines"
jq -se 'length == 2 and (.[0].workers[0].steered_per_s == null) and
	(.[1].workers[0].steered_per_s | type) == "number"' "$tmp/out" >/dev/null ||
	fail "--json --watch: $(cat "$tmp/out")"

# 5. Stopped by a signal, and by the group going away.
timeout --preserve-status -s INT 1.5 "$REUSELB" stats -p "$port" --watch 1 >"$tmp/out" 2>"$tmp/err"
status=$?
[ "$status" = 0 ] || fail "--watch stopped by SIGINT: exit $status, stderr $(cat "$tmp/err")"
[ -s "$tmp/err" ] && fail "--watch stopped by SIGINT: stderr $(cat "$tmp/err")"
"$REUSELB" stats -p "$port" --watch 1 >"$tmp/watch.out" 2>"$tmp/watch.err" &
watch_pid=$!
# its first frame says it is watching: then the group goes away under it
for ((i = 0; i < 100; i++)); do
	grep -q "total" "$tmp/watch.out" && break
	sleep 0.02
done
serve_stop id || fail "serve exited with $?"
timeout 10 tail --pid="$watch_pid" -f /dev/null
wait "$watch_pid"
status=$?
[ "$status" = 1 ] || fail "--watch of a group that stopped: exit $status"
[ "$(wc -l <"$tmp/watch.err")" = 1 ] && grep -q "stopped serving" "$tmp/watch.err" ||
	fail "--watch of a group that stopped: stderr $(cat "$tmp/watch.err")"

# 6. UDP.
serve_start udp -a 127.0.0.1 -p 0 -w 2 --udp --mode echo || finish
uport=${SERVE_PORT[udp]}
expect "stats --udp" 0 "" "$REUSELB" stats -p "$uport" --udp --json
jq -e --arg g "udp-$uport" '.group == $g and (.workers | length) == 2' "$tmp/out" >/dev/null ||
	fail "stats --udp: $(cat "$tmp/out")"
# the TCP group of that port may exist by chance (another test's): only check when it does not
if ! [ -e "/sys/fs/bpf/reuselb/tcp-$uport" ]; then
	expect "stats without --udp" 2 "no group tcp-$uport: live groups are .*udp-$uport" \
		"$REUSELB" stats -p "$uport"
fi
serve_stop udp || fail "serve --udp exited with $?"

finish
