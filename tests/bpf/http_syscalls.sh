#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# The system calls of "serve --mode http --defer-accept" per short connection, as the kernel
# counts them (perf stat on the syscall tracepoints of the worker's thread). Its listener
# defers accept until a connection's request is in (TCP_DEFER_ACCEPT), so a connection whose request says
# "Connection: close" costs epoll_wait, accept4, recvfrom, sendto and close: no epoll_ctl, no
# read that finds nothing, no second accept4 that finds the queue empty (nginx makes 6 to 7).
#
# 1. "$REUSELB serve -a 127.0.0.1 -p 0 -w 1 --mode http --defer-accept": one worker, woken for each
#    connection alone (the harder case: nothing to batch). After one connection (the first
#    allocations), perf stat counts its thread.
# 2. 200 connections, one after the other: each sends one whole close request right after
#    its connect and reads to end of file: 200 answers "HTTP/1.1 200" with "Connection: close".
#    A connection whose request the client sent more than 0.5 s after its connect (a client
#    descheduled on a busy machine: the kernel may hand it over at 1 s with nothing to read)
#    is counted as late.
# 3. Once the worker sleeps in epoll_wait again: exactly 200 accept4, 200 + late recvfrom, 200
#    sendto and 200 close; 200 epoll_wait plus at most one per 2 s that perf watched, plus one
#    (the worker's look at the program's queued count, user/server/queued.c, which reads its
#    listener's TCP_INFO, getsockopt, when that count is not 0: as many at most); at most late
#    epoll_ctl; and no other system call but the shed order's look at its map (bpf, every
#    100 ms at most: at most one per 100 ms of the run, plus one).
# 4. SIGTERM: exit status 0, "worker 0: accepted 201".
source "$(dirname "$0")/../lib/common.bash" || exit 1
need_tools perf python3

N=200

serve_start s -a 127.0.0.1 -p 0 -w 1 --mode http --defer-accept || finish
pid=${SERVE_PID[s]}
# the main thread first, then the worker
tid=$(ls "/proc/$pid/task" | sort -n | sed -n 2p)
[ -n "$tid" ] || fail_now "no worker thread in /proc/$pid/task"

# one connection first: the worker's first struct conn comes from malloc, whose arena for the
# thread (mmap, mprotect, munmap) is made then, once; the later ones reuse it (conn_pool.c)
exec {c}<>"/dev/tcp/127.0.0.1/${SERVE_PORT[s]}" || fail_now "cannot connect to the server"
printf 'GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n' >&$c
IFS= read -r -t 10 -u $c line
exec {c}<&-
[[ $line == "HTTP/1.1 200 "* ]] || fail_now "the first connection read '$line'"

calls=(accept4 recvfrom sendto close epoll_wait epoll_ctl bpf getsockopt)
events=(-e raw_syscalls:sys_enter)
for c in "${calls[@]}"; do
	events+=(-e "syscalls:sys_enter_$c")
done
watch_start=$(date +%s%N)
perf stat -x, "${events[@]}" -t "$tid" -o "$tmp/perf" &
perf_pid=$!
on_exit "kill -INT $perf_pid 2>/dev/null; wait $perf_pid 2>/dev/null"
# perf says nothing when its counters are open: wait for them among its descriptors
attached=0
for ((i = 0; i < 200 && !attached; i++)); do
	for f in "/proc/$perf_pid/fd/"*; do
		[ "$(readlink "$f" 2>/dev/null)" = "anon_inode:[perf_event]" ] && attached=1 && break
	done
	[ $attached = 1 ] || sleep 0.05
done
[ $attached = 1 ] || fail_now "perf stat did not attach to thread $tid"

start=$(date +%s%N)
python3 - "${SERVE_PORT[s]}" "$N" >"$tmp/clients" <<'EOF' || fail "the clients failed"
import socket, sys, time
port, n = int(sys.argv[1]), int(sys.argv[2])
req = b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
ok = late = 0
for i in range(n):
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    t = time.monotonic()
    s.sendall(req)
    if time.monotonic() - t > 0.5:
        late += 1
    data = b""
    while True:
        b = s.recv(4096)
        if not b:
            break
        data += b
    s.close()
    if data.startswith(b"HTTP/1.1 200 ") and b"\r\nConnection: close\r\n" in data:
        ok += 1
    else:
        print("connection %d read %r" % (i, data[:200]), file=sys.stderr)
print(ok, late)
EOF
elapsed_ms=$((($(date +%s%N) - start) / 1000000))
read -r ok late <"$tmp/clients"
[ "${ok:-0}" = $N ] || fail "$N connections, ${ok:-0} read a 200 with Connection: close"
late=${late:-0}
echo "$N connections in $elapsed_ms ms, $late late"

# the worker is back in epoll_wait once it has closed the last one
for ((i = 0; i < 200; i++)); do
	[[ $(cat "/proc/$pid/task/$tid/wchan" 2>/dev/null) == *epoll* ]] && break
	sleep 0.05
done
kill -INT $perf_pid
wait $perf_pid
# the queued count's looks (queued.c: every 2 s) that perf may have seen
looks=$((($(date +%s%N) - watch_start) / 2000000000 + 1))
declare -A n
while IFS=, read -r count _ ev _; do
	[[ $count =~ ^[0-9]+$ ]] || continue
	ev=${ev#*:}
	n[${ev#sys_enter_}]=$count
done <"$tmp/perf"
echo "system calls of the worker: $(for k in "${!n[@]}"; do printf '%s %s, ' "$k" "${n[$k]}"; done)"

for c in accept4 sendto close; do
	[ "${n[$c]:-0}" = $N ] || fail "$c: ${n[$c]:-0} calls for $N connections, want $N"
done
((${n[epoll_wait]:-0} >= N && ${n[epoll_wait]:-0} <= N + looks)) ||
	fail "epoll_wait: ${n[epoll_wait]:-0} calls for $N connections, want $N to $((N + looks))"
[ "${n[getsockopt]:-0}" -le "$looks" ] ||
	fail "getsockopt: ${n[getsockopt]} calls, want at most $looks (one per look at queued)"
[ "${n[recvfrom]:-0}" = $((N + late)) ] ||
	fail "recvfrom: ${n[recvfrom]:-0} calls for $N connections ($late late), want $((N + late))"
[ "${n[epoll_ctl]:-0}" -le "$late" ] ||
	fail "epoll_ctl: ${n[epoll_ctl]:-0} calls for $N connections ($late late), want at most $late"
others=$((${n[raw_syscalls:sys_enter]:-${n[sys_enter]:-0}} - ${n[accept4]:-0} - ${n[recvfrom]:-0} -
	${n[sendto]:-0} - ${n[close]:-0} - ${n[epoll_wait]:-0} - ${n[epoll_ctl]:-0} -
	${n[getsockopt]:-0}))
[ "$others" = "${n[bpf]:-0}" ] || fail "$others other system calls, of which ${n[bpf]:-0} bpf"
[ "${n[bpf]:-0}" -le $((elapsed_ms / 100 + 1)) ] ||
	fail "bpf: ${n[bpf]} calls in $elapsed_ms ms, want at most one per 100 ms"

serve_stop s
status=$?
[ "$status" = 0 ] || fail "exit status $status after SIGTERM"
grep -q "^worker 0: accepted $((N + 1))," "$tmp/serve-s.out" ||
	fail "want 'worker 0: accepted $((N + 1))' in: $(cat "$tmp/serve-s.out")"
finish
