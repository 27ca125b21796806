#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# The system calls of "serve --mode http" per short connection, as the kernel counts them (perf
# stat on the syscall tracepoints of the worker's thread), by default and with --defer-accept.
# One worker, woken for each connection alone (the harder case: nothing to batch):
# - by default, a connection whose request says "Connection: close" costs epoll_wait (the
#   listener), accept4, epoll_ctl, epoll_wait (the request), recvfrom, sendto and close: 7, as
#   nginx without "deferred". Without the kernel's deferral the request is still on its way
#   when the connection is accepted (from a client like wrk three times in four), so a read at
#   once would mostly cost a read that finds nothing on top of these.
# - with --defer-accept, the listener defers accept until the request is in (TCP_DEFER_ACCEPT):
#   epoll_wait, accept4, recvfrom, sendto and close: 5, no epoll_ctl, no read that finds
#   nothing, no second accept4 that finds the queue empty (nginx "deferred" makes 5 too).
#
# For each: "$REUSELB serve -a 127.0.0.1 -p 0 -w 1 --mode http [--defer-accept]".
# 1. After one connection (the first allocations), perf stat counts the worker's thread.
# 2. 200 connections, one after the other: each sends one whole close request right after
#    its connect and reads to end of file: 200 answers "HTTP/1.1 200" with "Connection: close".
#    With --defer-accept, a connection whose request the client sent more than 0.5 s after its
#    connect (a client descheduled on a busy machine: the kernel may hand it over at 1 s with
#    nothing to read) is counted as late.
# 3. Once the worker sleeps in epoll_wait again: exactly 200 accept4, sendto and close. By
#    default exactly 200 recvfrom and 200 epoll_ctl, and 400 epoll_wait; with --defer-accept
#    200 + late recvfrom, at most late epoll_ctl and 200 epoll_wait. epoll_wait may add one per
#    2 s that perf watched, plus one (the worker's look at the program's queued count,
#    user/server/queued.c, which reads its listener's TCP_INFO, getsockopt, when that count is
#    not 0: as many at most); no other system call but the shed order's look at its map (bpf,
#    every 100 ms at most: at most one per 100 ms of the run, plus one).
# 4. SIGTERM: exit status 0, "worker 0: accepted 201".
source "$(dirname "$0")/../lib/common.bash" || exit 1
need_tools perf python3

N=200
declare -A n

# count NAME ARGS...: steps 1 and 2 with serve ARGS; sets n[CALL], late, looks, elapsed_ms, and
# what (how the failures name the case).
count() {
	local name=$1 pid tid c line perf_pid attached i watch_start start ok count ev
	shift
	what="serve ${*:-by default}"

	serve_start "$name" -a 127.0.0.1 -p 0 -w 1 --mode http "$@" || finish
	pid=${SERVE_PID[$name]}
	# the main thread first, then the worker
	tid=$(ls "/proc/$pid/task" | sort -n | sed -n 2p)
	[ -n "$tid" ] || fail_now "$what: no worker thread in /proc/$pid/task"

	# one connection first: the worker's first struct conn comes from malloc, whose arena for
	# the thread (mmap, mprotect, munmap) is made then, once; the later ones reuse it
	# (conn_pool.c)
	exec {c}<>"/dev/tcp/127.0.0.1/${SERVE_PORT[$name]}" || fail_now "$what: cannot connect"
	printf 'GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n' >&$c
	IFS= read -r -t 10 -u $c line
	exec {c}<&-
	[[ $line == "HTTP/1.1 200 "* ]] || fail_now "$what: the first connection read '$line'"

	local calls=(accept4 recvfrom sendto close epoll_wait epoll_ctl bpf getsockopt)
	local events=(-e raw_syscalls:sys_enter)
	for c in "${calls[@]}"; do
		events+=(-e "syscalls:sys_enter_$c")
	done
	watch_start=$(date +%s%N)
	perf stat -x, "${events[@]}" -t "$tid" -o "$tmp/perf-$name" &
	perf_pid=$!
	on_exit "kill -INT $perf_pid 2>/dev/null; wait $perf_pid 2>/dev/null"
	# perf says nothing when its counters are open: wait for them among its descriptors
	attached=0
	for ((i = 0; i < 200 && !attached; i++)); do
		for f in "/proc/$perf_pid/fd/"*; do
			[[ $(readlink "$f" 2>/dev/null) == "anon_inode:[perf_event]" ]] || continue
			attached=1
			break
		done
		[ $attached = 1 ] || sleep 0.05
	done
	[ $attached = 1 ] || fail_now "perf stat did not attach to thread $tid"

	start=$(date +%s%N)
	python3 - "${SERVE_PORT[$name]}" "$N" >"$tmp/clients-$name" <<-'EOF' ||
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
		fail "$what: the clients failed"
	elapsed_ms=$((($(date +%s%N) - start) / 1000000))
	read -r ok late <"$tmp/clients-$name"
	[ "${ok:-0}" = $N ] || fail "$what: of $N connections ${ok:-0} read a 200 and close"
	late=${late:-0}
	echo "$what: $N connections in $elapsed_ms ms, $late late"

	# the worker is back in epoll_wait once it has closed the last one
	for ((i = 0; i < 200; i++)); do
		[[ $(cat "/proc/$pid/task/$tid/wchan" 2>/dev/null) == *epoll* ]] && break
		sleep 0.05
	done
	kill -INT $perf_pid
	wait $perf_pid
	# the queued count's looks (queued.c: every 2 s) that perf may have seen
	looks=$((($(date +%s%N) - watch_start) / 2000000000 + 1))
	n=()
	while IFS=, read -r count _ ev _; do
		[[ $count =~ ^[0-9]+$ ]] || continue
		ev=${ev#*:}
		n[${ev#sys_enter_}]=$count
	done <"$tmp/perf-$name"
	echo "system calls of the worker: $(for k in "${!n[@]}"; do echo -n "$k ${n[$k]}, "; done)"
}

# calls NAME LOW HIGH: whether the count of system call NAME is within LOW..HIGH; a failure if
# not, per connection as well.
calls() {
	local got=${n[$1]:-0}

	((got >= $2 && got <= $3)) && return 0
	fail "$what: $1: $got calls for $N connections ($late late), want $2 to $3"
}

# common NAME: step 3's checks both cases share, then step 4.
common() {
	local name=$1 c others status

	for c in accept4 sendto close; do
		calls $c $N $N
	done
	calls getsockopt 0 "$looks"
	others=$((${n[raw_syscalls:sys_enter]:-${n[sys_enter]:-0}} - ${n[accept4]:-0} -
		${n[recvfrom]:-0} - ${n[sendto]:-0} - ${n[close]:-0} - ${n[epoll_wait]:-0} -
		${n[epoll_ctl]:-0} - ${n[getsockopt]:-0}))
	[ "$others" = "${n[bpf]:-0}" ] || fail "$what: $others other system calls, ${n[bpf]:-0} bpf"
	calls bpf 0 $((elapsed_ms / 100 + 1))

	serve_stop "$name"
	status=$?
	[ "$status" = 0 ] || fail "$what: exit status $status after SIGTERM"
	grep -q "^worker 0: accepted $((N + 1))," "$tmp/serve-$name.out" ||
		fail "$what: want 'worker 0: accepted $((N + 1))' in: $(cat "$tmp/serve-$name.out")"
}

# by default: 7 per connection
count plain
calls recvfrom $N $N
calls epoll_ctl $N $N
calls epoll_wait $((2 * N)) $((2 * N + looks))
common plain

# --defer-accept: 5 per connection
count deferred --defer-accept
calls recvfrom $((N + late)) $((N + late))
calls epoll_ctl 0 "$late"
calls epoll_wait $N $((N + looks))
common deferred
finish
