#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# The program counts each connection it steers as queued on its worker until the worker
# accepts it, and least-conn reads that count. "serve --mode http --defer-accept" defers
# accept (TCP_DEFER_ACCEPT): a client that connects and resets before sending anything is dropped by
# the kernel while it waits for data, never accepted. The worker squares the count with its
# listener (user/server/queued.c), so such clients leave nothing behind.
#
# 1. "$REUSELB serve -a 127.0.0.1 -p 0 -w 2 --mode http --policy least-conn --defer-accept";
#    worker 0 drained so that all of step 2 goes to worker 1 (an even split would leave even
#    counts, and even shares, behind).
# 2. 60 clients connect and reset (SO_LINGER 0) without sending, and 40 connect and close (FIN)
#    without sending. Right after, the load map's queued of worker 1 (bpftool) is printed: it
#    is 60 when nothing has squared it yet.
# 3. Worker 0 undrained. Within 20 s (the worker looks every 2 s): queued is 0 on both workers,
#    worker 1 has accepted exactly the 40 FIN clients (the kernel hands a FIN over; a reset
#    request is gone), and nobody is active.
# 4. 200 requests, one after the other, each "Connection: close", all answered 200: each worker
#    takes at least 80 (idle workers tie, and least-conn's ties go round: 100 each; with the
#    60 left counted on worker 1, worker 0 would take every one).
# 5. SIGTERM: exit status 0; queued still 0 on both.
source "$(dirname "$0")/../lib/common.bash" || exit 1
need_tools python3 bpftool jq

RESETS=60
FINS=40
N=200

serve_start s -a 127.0.0.1 -p 0 -w 2 --mode http --policy least-conn --defer-accept ||
	finish
port=${SERVE_PORT[s]}
pins=/sys/fs/bpf/reuselb/tcp-$port

# load FIELD WORKER: the load map's FIELD of the worker, through the kernel
load() {
	bpftool -j map lookup pinned "$pins/load" key "$2" 0 0 0 | jq ".formatted.value.$1"
}

# 1.
"$REUSELB" drain -p "$port" 0 >/dev/null || fail_now "cannot drain worker 0"

# 2.
python3 - "$port" "$RESETS" "$FINS" <<'PY' || fail_now "the clients failed"
import socket, struct, sys
port, resets, fins = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
for i in range(resets + fins):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    if i < resets:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()
PY
echo "right after the clients: worker 1 queued $(load queued 1), accepted $(load accepted 1)"

# 3.
"$REUSELB" undrain -p "$port" 0 >/dev/null || fail_now "cannot undrain worker 0"
settled=0
start=$(date +%s%N)
# bounded by the clock: a bpftool lookup takes tens of ms on a busy machine
while (($(date +%s%N) - start < 20000000000)); do
	q0=$(load queued 0) q1=$(load queued 1) a1=$(load accepted 1)
	[ "$q0" = 0 ] && [ "$q1" = 0 ] && [ "$a1" = "$FINS" ] && settled=1 && break
	sleep 0.05
done
echo "queued settled after $((($(date +%s%N) - start) / 1000000)) ms"
# fail, not fail_now: the server is stopped below with SIGTERM, and takes its pins with it
[ $settled = 1 ] ||
	fail "after 20 s: queued $q0 and $q1, worker 1 accepted $a1 (want 0, 0, $FINS)"
wait_idle s

# 4.
before0=$(load accepted 0) before1=$(load accepted 1)
python3 - "$port" "$N" <<'PY' >"$tmp/ok" || fail "the requests failed"
import socket, sys
port, n = int(sys.argv[1]), int(sys.argv[2])
req = b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
ok = 0
for i in range(n):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(req)
    data = b""
    while True:
        b = s.recv(4096)
        if not b:
            break
        data += b
    s.close()
    ok += data.startswith(b"HTTP/1.1 200 ")
print(ok)
PY
[ "$(cat "$tmp/ok")" = "$N" ] || fail "$(cat "$tmp/ok") of $N requests answered 200"
wait_idle s
got0=$(($(load accepted 0) - before0)) got1=$(($(load accepted 1) - before1))
echo "shares of $N: worker 0 took $got0, worker 1 $got1"
[ $((got0 + got1)) = "$N" ] || fail "the workers accepted $((got0 + got1)) of $N"
((got0 >= 80 && got1 >= 80)) || fail "uneven shares: $got0 and $got1 of $N (each at least 80)"

# 5.
q0=$(load queued 0) q1=$(load queued 1)
[ "$q0" = 0 ] && [ "$q1" = 0 ] || fail "queued $q0 and $q1 after the requests, want 0 and 0"
serve_stop s || fail "serve exited with status $?"
finish
