#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# The pinned maps through bpftool, side by side with the CLI: the same figures, fields named
# by BTF, and changes made with bpftool seen by the CLI and by the program.
#
# 1. "serve -w 4 --mode id" and 40 connections (rlbtally).
# 2. "bpftool map dump pinned" of every pin names the fields: config (policy as
#    "RLB_POLICY_ROUND_ROBIN", nr_workers 4, ...), workers ("RLB_WORKER_LIVE", weight),
#    load (active, busy, accepted), stats (per CPU: steered, fallback, migrated), cpus
#    (worker); socks, weighted, maglev, custom and flows dump too.
# 3. The figures agree: load.accepted and stats.steered summed by jq over the bpftool dumps
#    equal the CLI's per worker, and add up to 40.
# 4. "bpftool prog show pinned .../steer": an sk_reuseport program, the id of the ready line.
# 5. The policy switched with bpftool (read config, change its first 4 bytes, write it back)
#    to source-ip: config dumps as "RLB_POLICY_SOURCE_IP", the CLI's stats and list say
#    source-ip, the rest of config is unchanged, and 20 connections from one client all
#    reach one worker. Back to round-robin the same way: 20 connections spread 5 each.
# 6. A worker drained by a bpftool update of "workers": the CLI shows it draining, new
#    connections avoid it; "reuselb undrain" brings it back.
source "$(dirname "$0")/../lib/common.bash" || exit 1
need_tools jq bpftool

# distribution N: N connections to the server; prints the workers that took them, sorted,
# one "count worker" pair per line.
distribution() {
	"$RLB_BIN_DIR/rlbtally" -p "$port" -n "$1" >"$tmp/tally" 2>&1 ||
		fail "rlbtally: $(tail -3 "$tmp/tally")"
	awk '$3 ~ /%$/ { print $2, $1 }' "$tmp/tally"
}

# set_policy_bytes HEX: the bpftool sequence of the README, for the policy value HEX (0x03).
set_policy_bytes() {
	local rest
	rest=$(bpftool -j map lookup pinned "$pins/config" key 0 0 0 0 | jq -r '.value[4:] | join(" ")')
	# shellcheck disable=SC2086 # $rest is 28 words, one per byte
	bpftool map update pinned "$pins/config" key 0 0 0 0 value "$1" 0x00 0x00 0x00 $rest
}

# 1. A server with some traffic.
serve_start id -a 127.0.0.1 -p 0 -w 4 --mode id || finish
port=${SERVE_PORT[id]}
pins=/sys/fs/bpf/reuselb/tcp-$port
"$RLB_BIN_DIR/rlbtally" -p "$port" -n 40 >"$tmp/tally" 2>&1 || fail "rlbtally: $(tail -1 "$tmp/tally")"
wait_idle id

# 2. Every pin dumps, with field names.
for map in config socks workers load stats weighted maglev cpus custom flows flows_new; do
	bpftool map dump pinned "$pins/$map" >"$tmp/$map.txt" 2>"$tmp/err" ||
		fail "bpftool map dump pinned $pins/$map: $(cat "$tmp/err")"
done
for field in '"policy": "RLB_POLICY_ROUND_ROBIN"' '"nr_workers": 4' '"base": 0' '"seed": ' \
	'"table": ' '"flags": ' '"flow_timeout": '; do
	grep -qF "$field" "$tmp/config.txt" || fail "config dump lacks $field: $(cat "$tmp/config.txt")"
done
[ "$(grep -cF '"state": "RLB_WORKER_LIVE"' "$tmp/workers.txt")" = 4 ] ||
	fail "workers dump: not 4 RLB_WORKER_LIVE: $(head -20 "$tmp/workers.txt")"
grep -qF '"weight": 100' "$tmp/workers.txt" || fail "workers dump lacks weight"
for field in active busy accepted; do
	grep -qF "\"$field\": " "$tmp/load.txt" || fail "load dump lacks $field"
done
for field in cpu steered fallback migrated; do
	grep -qF "\"$field\": " "$tmp/stats.txt" || fail "stats dump lacks $field"
done
grep -qF '"worker": ' "$tmp/cpus.txt" || fail "cpus dump lacks worker"
# a socket array answers with each socket's cookie; empty slots are "<no entry>"
n=$(bpftool -j map dump pinned "$pins/socks" | jq '[.[] | select(.formatted.value | type == "number")] | length')
[ "$n" = 4 ] || fail "socks: $n sockets, want 4: $(head -c 300 "$tmp/socks.txt")"
[ "$(jq length "$tmp/custom.txt")" = 0 ] || fail "custom dump: $(cat "$tmp/custom.txt")"

# 3. The same figures as the CLI.
cli=$(stats_json id)
for ((w = 0; w < 4; w++)); do
	accepted=$(bpftool -j map lookup pinned "$pins/load" key $w 0 0 0 | jq '.formatted.value.accepted')
	steered=$(bpftool -j map lookup pinned "$pins/stats" key $w 0 0 0 |
		jq '[.formatted.values[].value.steered] | add')
	[ "$accepted" = "$(jq ".workers[$w].accepted" <<<"$cli")" ] ||
		fail "worker $w: bpftool says accepted $accepted, the CLI: $cli"
	[ "$steered" = "$(jq ".workers[$w].steered" <<<"$cli")" ] ||
		fail "worker $w: bpftool says steered $steered, the CLI: $cli"
done
total=$(jq '[.[] | select(.key < 4) | .value.accepted] | add' "$tmp/load.txt")
[ "$total" = 40 ] || fail "bpftool: accepted adds up to $total, want 40"
total=$(jq '[.[] | select(.key < 4) | .values[].value.steered] | add' "$tmp/stats.txt")
[ "$total" = 40 ] || fail "bpftool: steered adds up to $total, want 40"

# 4. The program.
prog_id=${SERVE_LINE[id]##*program id }
bpftool -j prog show pinned "$pins/steer" >"$tmp/prog.json" || fail "bpftool prog show pinned"
jq -e --argjson id "$prog_id" '.type == "sk_reuseport" and .name == "rlb_steer" and .id == $id' \
	"$tmp/prog.json" >/dev/null || fail "prog show: $(cat "$tmp/prog.json"), want id $prog_id"

# 5. The policy switched by bpftool.
before=$(bpftool -j map lookup pinned "$pins/config" key 0 0 0 0 | jq -c '.value[4:]')
set_policy_bytes 0x02 || fail "bpftool map update of config"
grep -qF '"policy": "RLB_POLICY_SOURCE_IP"' <(bpftool map dump pinned "$pins/config") ||
	fail "config after the bpftool update: $(bpftool map dump pinned "$pins/config")"
[ "$(bpftool -j map lookup pinned "$pins/config" key 0 0 0 0 | jq -c '.value[4:]')" = "$before" ] ||
	fail "the bpftool update changed more than the policy"
[ "$(stats_json id | jq -r .policy)" = source-ip ] ||
	fail "the CLI does not see the bpftool switch: $(stats_json id)"
"$REUSELB" list --json | jq -e --arg g "tcp-$port" \
	'.groups[] | select(.name == $g) | .policy == "source-ip"' >/dev/null ||
	fail "list does not see the bpftool switch: $("$REUSELB" list)"
d=$(distribution 20)
[ "$(wc -l <<<"$d")" = 1 ] && [[ $d == "20 "* ]] || fail "source-ip after bpftool: $d"
set_policy_bytes 0x03 || fail "bpftool map update of config"
[ "$(stats_json id | jq -r .policy)" = round-robin ] || fail "back to round-robin: $(stats_json id)"
d=$(distribution 20)
[ "$(awk '$1 == 5' <<<"$d" | wc -l)" = 4 ] || fail "round-robin after bpftool: $d"

# 6. A worker drained by bpftool: struct rlb_worker { state = 2 (draining), weight = 100 }.
bpftool map update pinned "$pins/workers" key 2 0 0 0 value 2 0 0 0 100 0 0 0 ||
	fail "bpftool map update of workers"
[ "$(stats_json id | jq -r '.workers[2].state')" = draining ] ||
	fail "the CLI does not see the drain: $(stats_json id)"
d=$(distribution 20)
awk '$2 == 2' <<<"$d" | grep -q . && fail "a worker drained by bpftool still got connections: $d"
expect "undrain" 0 "" "$REUSELB" undrain -p "$port" 2
[ "$(stats_json id | jq -r '.workers[2].state')" = live ] || fail "undrain: $(stats_json id)"
grep -qF '"state": "RLB_WORKER_LIVE"' <(bpftool map lookup pinned "$pins/workers" key 2 0 0 0) ||
	fail "bpftool does not see the undrain"

serve_stop id || fail "serve exited with $?"
finish
