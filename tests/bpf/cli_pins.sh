#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# Pins across a server's life, seen by the CLI and bpftool.
#
# 1. "serve -w 2 --mode id": /sys/fs/bpf/reuselb/tcp-PORT holds every map and the program;
#    list shows the group with the server's pid.
# 2. kill -9: the pins stay behind (nobody removed them) but nobody holds the lock: list
#    does not show the group, and stats on it is an unknown group (exit 2).
# 3. "serve" on the same port starts anyway (it takes the stale pins over), with a new
#    program; list shows the new pid; stats reads fresh counters (0); connections work.
# 4. Step 2 and 3 again, three times, now after connections: the server closed them first,
#    so the port has connections in TIME-WAIT when the next serve binds it. That serve must
#    start too (the common case: a server that crashed while serving). Whether the kernel
#    lets a socket that already has a reuseport group (the program is attached before bind)
#    share the port with TIME-WAIT sockets depends on the port's bind bucket: hence three
#    rounds.
# 5. SIGTERM: exit 0, the group's pin directory is gone, and list does not show it. A serve
#    on the same port right after (TIME-WAIT again) starts, and its SIGTERM leaves nothing.
source "$(dirname "$0")/../lib/common.bash" || exit 1
need_tools jq bpftool

# killed NAME: kill -9 of server NAME, and its pins left stale.
killed() {
	local status

	serve_stop "$1" KILL
	status=$?
	[ "$status" = 137 ] || fail "kill -9: exit $status, want 137"
	[ -e "$dir/config" ] || fail "kill -9 removed the pins: nothing to test the recovery with"
	"$REUSELB" list | grep -q "^tcp-$port " &&
		fail "list shows the killed group: $("$REUSELB" list)"
	expect "stats on stale pins" 2 "no group tcp-$port" "$REUSELB" stats -p "$port"
}

# restarted NAME OLD: server NAME on the port of the killed server OLD, with fresh pins.
restarted() {
	local prog

	serve_start "$1" -a 127.0.0.1 -p "$port" -w 2 --mode id || return 1
	prog=${SERVE_LINE[$1]##*program id }
	[ "$prog" != "${progs[$2]}" ] || fail "server $1 reports the program of server $2"
	progs[$1]=$prog
	"$REUSELB" list | grep -Eq "^tcp-$port +${SERVE_PID[$1]} " ||
		fail "list after the restart: $("$REUSELB" list)"
	jq -e '[.workers[] | .steered + .accepted] | add == 0' <(stats_json "$1") >/dev/null ||
		fail "stats after the restart are not fresh: $(stats_json "$1")"
	bpftool -j prog show pinned "$dir/steer" | jq -e --argjson id "$prog" '.id == $id' \
		>/dev/null || fail "the pinned program is not server $1's ($prog)"
	"$RLB_BIN_DIR/rlbtally" -p "$port" -n 4 >"$tmp/tally" || fail "rlbtally: $(cat "$tmp/tally")"
	jq -e '[.workers[].accepted] | add == 4' <(stats_json "$1") >/dev/null ||
		fail "stats after 4 connections: $(stats_json "$1")"
}

declare -A progs

# 1. Pinned.
serve_start first -a 127.0.0.1 -p 0 -w 2 --mode id || finish
port=${SERVE_PORT[first]}
dir=/sys/fs/bpf/reuselb/tcp-$port
progs[first]=${SERVE_LINE[first]##*program id }
for pin in config socks workers load stats weighted maglev cpus custom flows flows_new steer; do
	[ -e "$dir/$pin" ] || fail "no pin $dir/$pin"
done
"$REUSELB" list | grep -Eq "^tcp-$port +${SERVE_PID[first]} " || fail "list: $("$REUSELB" list)"

# 2. and 3. Killed before any connection, then restarted.
killed first
restarted second first || finish

# 4. Killed after connections (TIME-WAIT on the port), then restarted.
prev=second
for next in third fourth fifth; do
	killed "$prev"
	if ! restarted "$next" "$prev"; then
		ss -tan "sport = :$port" | head -5
		fail "serve could not bind a port with connections in TIME-WAIT: the listeners" \
			"need SO_REUSEADDR (a socket in a reuseport group conflicts with TIME-WAIT ones)"
		finish
	fi
	prev=$next
done

# 5. A clean stop removes the pins; the next serve starts all the same.
serve_stop "$prev" || fail "SIGTERM: exit $?, want 0"
[ -e "$dir" ] && fail "$dir is left after SIGTERM: $(ls "$dir")"
"$REUSELB" list | grep -q "^tcp-$port " && fail "list shows the stopped group"
if serve_start last -a 127.0.0.1 -p "$port" -w 2 --mode id; then
	serve_stop last || fail "SIGTERM: exit $?, want 0"
	[ -e "$dir" ] && fail "$dir is left after SIGTERM: $(ls "$dir")"
else
	fail "serve after a clean stop with connections in TIME-WAIT did not start (SO_REUSEADDR)"
fi

finish
