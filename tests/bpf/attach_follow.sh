#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# reuselb attach --follow keeps the maps in step with a server that changes its sockets:
# 1. nginx with 2 workers, attach --follow: 2 slots, round-robin exact over the 2 pids.
# 2. nginx -s reload to worker_processes 4: nginx opens 2 more reuseport sockets; within the
#    bound, attach says on stderr that it re-synced (slots added), and round-robin gives
#    exactly k to each of the 4 new workers; stats shows their pids.
# 3. reload back to 2: the closed sockets leave their slots (said on stderr), 2 workers, exact.
# 4. SIGTERM: attach exits 0 and the program stays: still exact, pins still there.
# 5. attach --follow --detach-on-exit, SIGTERM: detached, the program freed, no pins.
source "$(dirname "$0")/../lib/common.bash" || exit 1
source "$(dirname "$0")/../lib/adopt.bash" || exit 1
need_tools bpftool jq curl "$NGINX" "$PYTHON"

k=20
free_port
nginx_start 2
group=tcp-$port
on_exit '"$REUSELB" detach --name "$group" >/dev/null 2>&1'

# follow_start ARGS...: attach --follow in the background, $follow its pid, once it follows.
follow_start() {
	"$REUSELB" attach -p "$port" --follow "$@" >"$tmp/follow.out" 2>"$tmp/follow.err" &
	follow=$!
	on_exit "kill -KILL $follow 2>/dev/null"
	wait_said "following group $group" || fail_now "attach --follow: $(cat "$tmp/follow.err")"
}

# wait_said PATTERN: the follow process's stderr has a line matching PATTERN, within 10 s.
wait_said() {
	local i
	for ((i = 0; i < 500; i++)); do
		grep -Eq -- "$1" "$tmp/follow.err" && return 0
		sleep 0.02
	done
	return 1
}

# follow_stop: SIGTERM, and its exit status.
follow_stop() {
	kill -TERM "$follow"
	wait "$follow"
}

# 1
echo "[$SECONDS s] step 1"
follow_start --policy round-robin
workers=$(nginx_workers 2 | sort -n | tr '\n' ' ')
[ "$(grep -c '^slot [01] pid' "$tmp/follow.out")" = 2 ] || fail "attach: $(cat "$tmp/follow.out")"
expect_exact "2 workers" "$k" "$workers" "$(ask $((2 * k)))"

# 2
echo "[$SECONDS s] step 2"
nginx_reload 4
workers=$(nginx_workers 4 | sort -n | tr '\n' ' ')
wait_said "re-synced: added slot 2: pid [0-9]+ \(nginx\), slot 3: pid [0-9]+ \(nginx\)" ||
	fail "no re-sync with 2 slots added: $(cat "$tmp/follow.err")"
# the two kept slots change hands to new workers: the pids follow on the next turn
for ((i = 0; i < 500; i++)); do
	pids=$("$REUSELB" stats -p "$port" --json | jq -r '[.workers[].pid] | sort | map(tostring) | join(" ")')
	[ "$pids " = "$workers" ] && break
	sleep 0.02
done
[ "$pids " = "$workers" ] || fail "stats pids '$pids', want '$workers'"
expect_exact "4 workers after the reload" "$k" "$workers" "$(ask $((4 * k)))"

# 3
echo "[$SECONDS s] step 3"
nginx_reload 2
workers=$(nginx_workers 2 | sort -n | tr '\n' ' ')
wait_said "re-synced: removed 2 closed sockets" ||
	fail "no re-sync with 2 sockets removed: $(cat "$tmp/follow.err")"
[ "$("$REUSELB" stats -p "$port" --json | jq '.workers | length')" = 2 ] ||
	fail "stats: $("$REUSELB" stats -p "$port" --json)"
expect_exact "2 workers after the second reload" "$k" "$workers" "$(ask $((2 * k)))"

# 4
echo "[$SECONDS s] step 4"
follow_stop || fail "attach --follow exited $? on SIGTERM"
grep -q "stays attached" "$tmp/follow.err" || fail "SIGTERM: $(tail -1 "$tmp/follow.err")"
[ -d "/sys/fs/bpf/reuselb/$group" ] || fail "pins gone after SIGTERM"
expect_exact "after SIGTERM" "$k" "$workers" "$(ask $((2 * k)))"
expect "detach" 0 "" "$REUSELB" detach -p "$port"

# 5
echo "[$SECONDS s] step 5"
follow_start --policy round-robin --detach-on-exit
id=$(prog_id "$group")
[ -n "$id" ] || fail "no program pinned for $group"
follow_stop || fail "attach --follow --detach-on-exit exited $? on SIGTERM"
[ -e "/sys/fs/bpf/reuselb/$group" ] && fail "pins left after --detach-on-exit"
wait_prog_gone "$id" || fail "program $id still loaded after --detach-on-exit"
finish
