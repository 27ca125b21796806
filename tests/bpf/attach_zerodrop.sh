#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# Zero drop: every change reuselb attach makes to a running nginx, made while rlbload opens
# 2 000 connections/s against it (each answered "worker <pid>" is checked whole), loses no
# connection:
# 1. attach (round-robin), then a policy switch (maglev), then detach.
# 2. attach --follow --detach-on-exit; nginx -s reload from 2 to 4 workers, and the re-sync
#    that adds their sockets; SIGTERM, which detaches.
# After each step the test waits for the program to have steered more connections (or, after
# a detach, for the program to be gone), so every step happens under the load. rlbload then
# reports 0 refused, reset, timed out or wrong.
source "$(dirname "$0")/../lib/common.bash" || exit 1
source "$(dirname "$0")/../lib/adopt.bash" || exit 1
need_tools bpftool jq curl "$NGINX" "$PYTHON"

free_port
nginx_start 2
group=tcp-$port
on_exit '"$REUSELB" detach --name "$group" >/dev/null 2>&1'

"$RLB_BIN_DIR/rlbload" -p "$port" -r 2000 -d 90 -s 50 -t 5000 >"$tmp/load.out" 2>"$tmp/load.err" &
load=$!
on_exit "kill -KILL $load 2>/dev/null"

steered() {
	"$REUSELB" stats -p "$port" --json 2>/dev/null | jq '[.workers[].steered] | add // 0'
}

# more_steered N: waits (bounded) until the program has steered N more connections.
more_steered() {
	local from i now
	from=$(steered)
	for ((i = 0; i < 1500; i++)); do
		now=$(steered)
		[ -n "$now" ] && [ "$now" -ge $((from + $1)) ] && return 0
		kill -0 "$load" 2>/dev/null || fail_now "rlbload ended early: $(cat "$tmp/load.out" "$tmp/load.err")"
		sleep 0.02
	done
	fail_now "the program steered fewer than $1 more connections (at $(steered))"
}

# 1
echo "[$SECONDS s] step 1"
expect "attach" 0 "" "$REUSELB" attach -p "$port" --policy round-robin
more_steered 2000
expect "policy maglev" 0 "" "$REUSELB" policy -p "$port" maglev
more_steered 2000
id=$(prog_id "$group")
expect "detach" 0 "" "$REUSELB" detach -p "$port"
wait_prog_gone "$id" || fail "program $id still loaded after detach"

# 2
echo "[$SECONDS s] step 2"
"$REUSELB" attach -p "$port" --follow --detach-on-exit >"$tmp/follow.out" 2>"$tmp/follow.err" &
follow=$!
on_exit "kill -KILL $follow 2>/dev/null"
for ((i = 0; i < 500; i++)); do
	grep -q "following group" "$tmp/follow.err" && break
	sleep 0.02
done
more_steered 2000
nginx_reload 4
for ((i = 0; i < 500; i++)); do
	grep -q "re-synced: added slot 2" "$tmp/follow.err" && break
	sleep 0.02
done
grep -q "re-synced: added slot 2" "$tmp/follow.err" || fail "no re-sync: $(cat "$tmp/follow.err")"
more_steered 2000
[ "$("$REUSELB" stats -p "$port" --json | jq '[.workers[] | select(.steered > 0)] | length')" = 4 ] ||
	fail "not all 4 workers steered to: $("$REUSELB" stats -p "$port" --json)"
id=$(prog_id "$group")
kill -TERM "$follow"
wait "$follow" || fail "attach --follow exited $? on SIGTERM"
wait_prog_gone "$id" || fail "program $id still loaded after --detach-on-exit"
echo "[$SECONDS s] load ends"

kill -INT "$load"
wait "$load"
status=$?
cat "$tmp/load.out"
[ "$status" = 0 ] || fail "rlbload: failed connections: $(cat "$tmp/load.out" "$tmp/load.err" | head -c 600)"
grep -Eq " ok [0-9]+ refused 0 reset 0 timeout 0 bad 0 error 0" "$tmp/load.out" ||
	fail "rlbload: $(cat "$tmp/load.out")"
rate=$(sed -n 's/.* \([0-9.]*\)\/s (target.*/\1/p' "$tmp/load.out")
echo "rate $rate/s"
finish
