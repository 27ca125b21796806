#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# reuselb attach on a server that is not nginx: a Python (standard library) parent forks 3
# workers, each opening its own SO_REUSEPORT socket, nothing inherited, no epoll (a blocking
# accept or recvfrom loop).
# 1. TCP: attach finds the 3 workers (not the parent), round-robin gives exactly k each.
# 2. --pid names two of the workers: only their sockets are adopted, 2 slots.
# 3. UDP (--udp): 3 workers with bound datagram sockets; each datagram from a new socket is
#    a new flow, and round-robin gives exactly k flows each; detach.
source "$(dirname "$0")/../lib/common.bash" || exit 1
source "$(dirname "$0")/../lib/adopt.bash" || exit 1
need_tools bpftool jq "$PYTHON"

k=20

# 1
free_port
pyserver_start 3
echo "python server $py_pid, workers $py_workers, port $port"
on_exit "\"$REUSELB\" detach --name tcp-$port >/dev/null 2>&1"
expect "attach tcp" 0 "" "$REUSELB" attach -p "$port"
listed=$(sed -n 's/^slot [0-2] pid \([0-9]*\) comm python3 fd [0-9]* cookie [1-9][0-9]*$/\1/p' "$tmp/out" |
	sort -n | tr '\n' ' ')
[ "$listed" = "$py_workers" ] || fail "attach listed '$listed', want '$py_workers': $(cat "$tmp/out")"
expect_exact "tcp round-robin" "$k" "$py_workers" "$(ask $((3 * k)))"
expect "detach tcp" 0 "" "$REUSELB" detach -p "$port"

# 2
set -- $py_workers
expect "attach --pid" 0 "" "$REUSELB" attach -p "$port" --pid "$1" --pid "$3"
[ "$(grep -c '^slot' "$tmp/out")" = 2 ] && grep -q "^slot 0 pid $1 " "$tmp/out" &&
	grep -q "^slot 1 pid $3 " "$tmp/out" || fail "attach --pid $1 --pid $3: $(cat "$tmp/out")"
expect_exact "round-robin over the two given" "$k" "$1 $3" "$(ask $((2 * k)))"
expect "detach --pid group" 0 "" "$REUSELB" detach -p "$port"

# 3
free_port udp
pyserver_start 3 udp
on_exit "\"$REUSELB\" detach --name udp-$port >/dev/null 2>&1"
expect "attach udp" 0 "" "$REUSELB" attach -p "$port" --udp
grep -q "^group udp-$port attached: udp port $port" "$tmp/out" || fail "attach --udp: $(cat "$tmp/out")"
expect_exact "udp round-robin" "$k" "$py_workers" "$(ask $((3 * k)) 127.0.0.1 udp)"
json=$("$REUSELB" stats -p "$port" --udp --json)
[ "$(echo "$json" | jq '[.workers[] | select(.comm == "python3" and .accepted == null)] | length')" = 3 ] ||
	fail "stats --udp: $json"
expect "detach udp" 0 "" "$REUSELB" detach -p "$port" --udp
[ -e "/sys/fs/bpf/reuselb/udp-$port" ] && fail "detach --udp left pins"
finish
