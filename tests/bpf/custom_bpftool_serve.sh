#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# A policy installed and removed with bpftool alone under "reuselb serve" (a real server
# process, not the library in the test): each takes effect with the map update itself, as
# docs/custom-policies.md says, with nothing else written by anyone.
#
# 1. "serve -w 4 --mode id", round-robin: 20 connections spread 5 each.
# 2. bpftool prog load fill_first.bpf.o with the group's pinned maps, and map update of
#    G/custom: at once, 20 connections all reach worker 0, stats says custom:fill_first,
#    and config is byte for byte what it was before the install.
# 3. bpftool map delete of G/custom: at once, 20 connections spread 5 each again, and stats
#    says round-robin.
source "$(dirname "$0")/../lib/common.bash" || exit 1
need_tools jq bpftool

policies="$RLB_BIN_DIR/examples/policies"
[ -f "$policies/fill_first.bpf.o" ] || fail_now "no $policies/fill_first.bpf.o: build examples"

# distribution N: N connections; prints per worker how many each accepted ("a b c d").
distribution() {
	local before after
	before=$(stats_json id)
	"$RLB_BIN_DIR/rlbtally" -p "$port" -n "$1" >"$tmp/tally" 2>&1 ||
		fail "rlbtally -n $1: $(tail -3 "$tmp/tally")"
	after=$(stats_json id)
	jq -rn --argjson a "$before" --argjson b "$after" \
		'[range($b.workers | length) | $b.workers[.].accepted - $a.workers[.].accepted] |
		 map(tostring) | join(" ")'
}

# 1.
serve_start id -a 127.0.0.1 -p 0 -w 4 --mode id || finish
port=${SERVE_PORT[id]}
pins=/sys/fs/bpf/reuselb/tcp-$port
config=$(bpftool -j map lookup pinned "$pins/config" key 0 0 0 0 | jq -c .value)
d=$(distribution 20)
[ "$d" = "5 5 5 5" ] || fail "round-robin before the policy: $d"

# 2.
type=sk_reuseport
[ $(($(bpftool -j map lookup pinned "$pins/config" key 0 0 0 0 | jq .formatted.value.flags) & 1)) = 1 ] &&
	type=sk_reuseport/migrate
args=()
for map in config socks workers load stats weighted maglev cpus flows flows_new; do
	args+=(map name "$map" pinned "$pins/$map")
done
bpftool prog load "$policies/fill_first.bpf.o" "$pins/rlbt_policy" type "$type" "${args[@]}" \
	2>"$tmp/err" || fail_now "bpftool prog load: $(cat "$tmp/err")"
bpftool map update pinned "$pins/custom" key 0 0 0 0 value pinned "$pins/rlbt_policy" \
	2>"$tmp/err" || fail_now "bpftool map update of custom: $(cat "$tmp/err")"
d=$(distribution 20)
[ "$d" = "20 0 0 0" ] || fail "fill_first installed by bpftool: $d, want all on worker 0"
[ "$(stats_json id | jq -r .policy)" = custom:fill_first ] ||
	fail "stats after the bpftool install: $(stats_json id | jq -r .policy)"
[ "$(bpftool -j map lookup pinned "$pins/config" key 0 0 0 0 | jq -c .value)" = "$config" ] ||
	fail "config changed with the install: $config before"

# 3.
bpftool map delete pinned "$pins/custom" key 0 0 0 0 2>"$tmp/err" ||
	fail "bpftool map delete of custom: $(cat "$tmp/err")"
rm -f "$pins/rlbt_policy"
d=$(distribution 20)
[ "$d" = "5 5 5 5" ] || fail "round-robin right after the delete: $d"
[ "$(stats_json id | jq -r .policy)" = round-robin ] ||
	fail "stats after the delete: $(stats_json id | jq -r .policy)"

serve_stop id || fail "serve exited with $?"
finish
