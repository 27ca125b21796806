#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# reuselb attach steers a real, unmodified nginx (Debian's nginx-light, started here with its
# own config, prefix, pid and log in $tmp: 4 workers, listen 127.0.0.1:PORT reuseport):
# 1. attach prints one line per worker: 4 slots, each an nginx worker's pid, fd and cookie.
# 2. round-robin: 4k connections give exactly k to each worker pid.
# 3. stats --json: pid and comm per worker, accepted and active null; list shows it adopted.
# 4. source-ip: 16 source addresses, 3 connections each: every source keeps its worker.
# 5. a custom policy (examples/policies/fill_first) loads into the adopted group: nobody
#    reports load, so every connection goes to worker 0's pid.
# 6. nginx -s reload (same 4 workers, new pids): round-robin goes on, exactly k per new pid.
# 7. attach --follow killed with SIGKILL changes nothing: steering and pins stay.
# 8. detach: the program is gone (the kernel freed it), the pins are gone, and the kernel's
#    hash answers again from all 4 workers.
source "$(dirname "$0")/../lib/common.bash" || exit 1
source "$(dirname "$0")/../lib/adopt.bash" || exit 1
need_tools bpftool jq curl "$NGINX" "$PYTHON"

k=25
free_port
nginx_start 4
group=tcp-$port
on_exit '"$REUSELB" detach --name "$group" >/dev/null 2>&1'
workers=$(nginx_workers 4 | sort -n | tr '\n' ' ')
echo "nginx master $nginx_pid, workers $workers, port $port"

# 1
echo "[$SECONDS s] step 1"
expect "attach" 0 "" "$REUSELB" attach -p "$port" --policy round-robin
cat "$tmp/out"
slot0=$(sed -n 's/^slot 0 pid \([0-9]*\) .*/\1/p' "$tmp/out")
head -1 "$tmp/out" | grep -q "^group $group attached: tcp port $port, policy round-robin, 4 workers$" ||
	fail "attach: unexpected first line: $(head -1 "$tmp/out")"
listed=$(sed -n 's/^slot [0-3] pid \([0-9]*\) comm nginx fd [0-9]* cookie [1-9][0-9]*$/\1/p' "$tmp/out" |
	sort -n | tr '\n' ' ')
[ "$listed" = "$workers" ] || fail "attach listed pids '$listed', want the workers '$workers'"

# 2
echo "[$SECONDS s] step 2"
expect_exact "round-robin" "$k" "$workers" "$(ask $((4 * k)))"

# 3
echo "[$SECONDS s] step 3"
json=$("$REUSELB" stats -p "$port" --json)
[ "$(echo "$json" | jq -r '[.workers[].pid] | sort | map(tostring) | join(" ")') " = "$workers" ] ||
	fail "stats pids: $json"
[ "$(echo "$json" | jq '[.workers[] | select(.comm == "nginx" and .accepted == null and .active == null)] | length')" = 4 ] ||
	fail "stats: comm nginx, accepted and active null for each worker: $json"
[ "$(echo "$json" | jq '.adopted')" = true ] || fail "stats: not marked adopted: $json"
[ "$(echo "$json" | jq '[.workers[].steered] | add')" = $((4 * k)) ] || fail "stats steered: $json"
"$REUSELB" stats -p "$port" | grep -q "^     0  live  .* nginx .* -       -" ||
	fail "stats table: $("$REUSELB" stats -p "$port")"
list=$("$REUSELB" list --json)
[ "$(echo "$list" | jq -r ".groups[] | select(.name == \"$group\") | .adopted")" = true ] ||
	fail "list: $group not adopted: $list"
[ "$(echo "$list" | jq -r ".groups[] | select(.name == \"$group\") | .pids | sort | map(tostring) | join(\" \")") " = "$workers" ] ||
	fail "list: pids: $list"

# 4
echo "[$SECONDS s] step 4"
expect "policy source-ip" 0 "" "$REUSELB" policy -p "$port" source-ip
declare -A seen
for i in $(seq 2 17); do
	answers=$(ask 3 "127.0.0.$i" | sort -u)
	[ "$(echo "$answers" | wc -l)" = 1 ] && [ "$answers" != none ] ||
		fail "source-ip: 127.0.0.$i went to $(echo $answers)"
	seen[$answers]=1
done
[ "${#seen[@]}" -ge 2 ] || fail "source-ip: 16 sources all on one worker (${!seen[*]})"

# 5
echo "[$SECONDS s] step 5"
expect "policy round-robin" 0 "" "$REUSELB" policy -p "$port" round-robin
expect "policy load fill_first" 0 "" "$REUSELB" policy -p "$port" load \
	"$RLB_BIN_DIR/examples/policies/fill_first.bpf.o"
expect_exact "custom fill_first" 20 "$slot0" "$(ask 20)"
expect "policy unload" 0 "" "$REUSELB" policy -p "$port" unload

# 6
echo "[$SECONDS s] step 6"
nginx_reload 4
workers=$(nginx_workers 4 | sort -n | tr '\n' ' ')
echo "after the reload: workers $workers"
expect_exact "round-robin after nginx -s reload" "$k" "$workers" "$(ask $((4 * k)))"

echo "[$SECONDS s] step 7"
# 7: a second attach refuses (the group is ours already); --follow is then started on a new
# name after a detach, and killed
expect "attach again" 1 "already attached as reuselb group $group.*reuselb policy" \
	"$REUSELB" attach -p "$port"
id=$(prog_id "$group")
[ -n "$id" ] || fail "no pinned program for $group"
expect "detach before follow" 0 "" "$REUSELB" detach -p "$port"
wait_prog_gone "$id" || fail "detach: program $id still loaded"
"$REUSELB" attach -p "$port" --follow >"$tmp/follow.out" 2>"$tmp/follow.err" &
follow=$!
for ((i = 0; i < 500; i++)); do
	grep -q "following group" "$tmp/follow.err" && break
	sleep 0.02
done
grep -q "following group $group" "$tmp/follow.err" || fail "attach --follow: $(cat "$tmp/follow.err")"
[ "$("$REUSELB" list --json | jq ".groups[] | select(.name == \"$group\") | .pid")" = "$follow" ] ||
	fail "list: the follow process $follow does not hold $group: $("$REUSELB" list --json)"
kill -KILL "$follow"
{ wait "$follow"; } 2>/dev/null
expect_exact "round-robin after attach was killed" "$k" "$workers" "$(ask $((4 * k)))"
[ -d "/sys/fs/bpf/reuselb/$group" ] || fail "pins gone after the attach process was killed"

# 8
echo "[$SECONDS s] step 8"
id=$(prog_id "$group")
[ -n "$id" ] || fail "no pinned program for $group"
expect "detach" 0 "" "$REUSELB" detach -p "$port"
grep -q "^group $group detached" "$tmp/out" || fail "detach said: $(cat "$tmp/out")"
[ -e "/sys/fs/bpf/reuselb/$group" ] && fail "detach left pins: $(ls "/sys/fs/bpf/reuselb/$group")"
wait_prog_gone "$id" || fail "detach: program $id still loaded"
# the kernel's hash of 64 connections from one source reaches more than one worker
answers=$(ask 64 | sort -u)
[ "$(echo "$answers" | grep -vc none)" -ge 2 ] || fail "after detach, one worker took all: $answers"
expect "detach again" 2 "no group $group" "$REUSELB" detach -p "$port"
finish
