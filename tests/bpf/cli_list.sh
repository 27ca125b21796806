#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# reuselb list, and the unknown-group error of every group command. Other groups may live
# on the host (other tests, other users): the checks look at ours only.
#
# 1. Two servers: TCP "-w 2 --policy hash" and UDP "-w 3 --mode echo". list shows both, with
#    the owner's pid, the workers and the policy; --json says the same.
# 2. A drained worker shows in list (live 1, draining 1).
# 3. list -p PORT (and --udp) shows that group only; exit 0. Also while a third server, killed
#    with -9, has left stale pins: list names them, list -p PORT does not.
# 4. The TCP server stopped (SIGTERM): list no longer shows it, still shows the UDP one.
#    "list -p PORT" and every group command on the stopped group: exit 2, one line "no
#    group tcp-PORT: live groups are ..." naming the UDP group.
# 5. With serve --name (where serve has it): list shows the name, and stats --name works.
# 6. The UDP server stopped too: list shows neither.
source "$(dirname "$0")/../lib/common.bash" || exit 1
need_tools jq

# row GROUP: the line of list's table for GROUP.
row() {
	"$REUSELB" list | awk -v g="$1" '$1 == g'
}

# 1. Two groups.
serve_start tcp -a 127.0.0.1 -p 0 -w 2 --policy hash --mode id || finish
serve_start udp -a 127.0.0.1 -p 0 -w 3 --udp --mode echo || finish
tport=${SERVE_PORT[tcp]} uport=${SERVE_PORT[udp]}
expect "list" 0 "" "$REUSELB" list
head -1 "$tmp/out" | grep -Eq '^group +pid +workers +live +draining +policy$' ||
	fail "list header: $(head -1 "$tmp/out")"
[[ "$(row "tcp-$tport")" =~ ^tcp-$tport\ +${SERVE_PID[tcp]}\ +2\ +2\ +0\ +hash$ ]] ||
	fail "list: tcp row: '$(row "tcp-$tport")'"
[[ "$(row "udp-$uport")" =~ ^udp-$uport\ +${SERVE_PID[udp]}\ +3\ +3\ +0\ +round-robin$ ]] ||
	fail "list: udp row: '$(row "udp-$uport")'"
expect "list --json" 0 "" "$REUSELB" list --json
jq -e --arg t "tcp-$tport" --arg u "udp-$uport" --argjson tp "${SERVE_PID[tcp]}" \
	--argjson up "${SERVE_PID[udp]}" '
	(.groups[] | select(.name == $t)) == {"name":$t,"pid":$tp,"workers":2,"live":2,
					       "draining":0,"policy":"hash"} and
	(.groups[] | select(.name == $u)) == {"name":$u,"pid":$up,"workers":3,"live":3,
					       "draining":0,"policy":"round-robin"} and
	([.groups[].name] | . == sort)' "$tmp/out" >/dev/null ||
	fail "list --json: $(cat "$tmp/out")"

# 2. A drained worker.
expect "drain" 0 "" "$REUSELB" drain -p "$tport" 1
[[ "$(row "tcp-$tport")" =~ \ 2\ +1\ +1\ +hash$ ]] || fail "list after drain: '$(row "tcp-$tport")'"

# 3. One group, even beside another group's stale pins (a server killed with -9), which only
# the whole list names.
serve_start dead -a 127.0.0.1 -p 0 -w 1 --mode id || finish
dport=${SERVE_PORT[dead]}
serve_stop dead KILL
expect "list" 0 "" "$REUSELB" list
grep -qx "stale pins: tcp-$dport (no socket left; 'reuselb detach --name tcp-$dport' removes them)" \
	"$tmp/out" || fail "list with stale pins: $(cat "$tmp/out")"
expect "list -p" 0 "" "$REUSELB" list -p "$tport"
[ "$(grep -c . "$tmp/out")" = 2 ] && grep -q "^tcp-$tport " "$tmp/out" ||
	fail "list -p $tport: $(cat "$tmp/out")"
expect "list -p --json" 0 "" "$REUSELB" list -p "$tport" --json
jq -e --arg t "tcp-$tport" '(.groups | length == 1 and .[0].name == $t) and .stale == []' \
	"$tmp/out" >/dev/null || fail "list -p $tport --json: $(cat "$tmp/out")"
expect "detach stale" 0 "" "$REUSELB" detach --name "tcp-$dport"
expect "list -p --udp" 0 "" "$REUSELB" list -p "$uport" --udp --json
jq -e --arg u "udp-$uport" '.groups | length == 1 and .[0].name == $u' "$tmp/out" >/dev/null ||
	fail "list -p $uport --udp --json: $(cat "$tmp/out")"

# 4. A stopped group is gone from the list, and an unknown group to every command.
serve_stop tcp || fail "serve (tcp) exited with $?"
expect "list" 0 "" "$REUSELB" list
grep -q "^tcp-$tport " "$tmp/out" && fail "list shows the stopped group: $(cat "$tmp/out")"
grep -q "^udp-$uport " "$tmp/out" || fail "list lost the live group: $(cat "$tmp/out")"
unknown="^reuselb [a-z]+: no group tcp-$tport: live groups are (.*, )?udp-$uport(,.*)?; see 'reuselb list'$"
expect "list -p stopped" 2 "$unknown" "$REUSELB" list -p "$tport"
expect "stats stopped" 2 "$unknown" "$REUSELB" stats -p "$tport"
expect "stats --json stopped" 2 "$unknown" "$REUSELB" stats -p "$tport" --json
expect "stats --watch stopped" 2 "$unknown" "$REUSELB" stats -p "$tport" --watch 1
expect "policy stopped" 2 "$unknown" "$REUSELB" policy -p "$tport" hash
expect "policy unload stopped" 2 "$unknown" "$REUSELB" policy -p "$tport" unload
expect "weight stopped" 2 "$unknown" "$REUSELB" weight -p "$tport" 0 10
expect "drain stopped" 2 "$unknown" "$REUSELB" drain -p "$tport" 0
expect "undrain stopped" 2 "$unknown" "$REUSELB" undrain -p "$tport" 0
expect "stats --name" 2 "no group no-such-group: live groups are .*udp-$uport" \
	"$REUSELB" stats --name no-such-group
# the UDP group is not the TCP group of the same port
expect "stats tcp of a udp port" 2 "no group tcp-$uport: " "$REUSELB" stats -p "$uport"

# 5. A named group, where serve takes --name.
if "$REUSELB" serve --help | grep -q -- "--name"; then
	name=cli-list-$$
	if serve_start named -a 127.0.0.1 -p 0 -w 2 --mode id --name "$name"; then
		[[ "$(row "$name")" =~ ^$name\ +${SERVE_PID[named]}\ +2\ +2\ +0\ +round-robin$ ]] ||
			fail "list: named row: '$(row "$name")'"
		expect "stats --name" 0 "" "$REUSELB" stats --name "$name" --json
		jq -e --arg n "$name" '.group == $n' "$tmp/out" >/dev/null ||
			fail "stats --name: $(cat "$tmp/out")"
		serve_stop named || fail "serve --name exited with $?"
	fi
else
	echo "serve has no --name yet: named groups not tested"
fi

# 6. None of ours left.
serve_stop udp || fail "serve (udp) exited with $?"
expect "list" 0 "" "$REUSELB" list --json
jq -e --arg t "tcp-$tport" --arg u "udp-$uport" \
	'[.groups[].name] | index($t) == null and index($u) == null' "$tmp/out" >/dev/null ||
	fail "list after both stopped: $(cat "$tmp/out")"

finish
