# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# Helpers of the reuselb attach tests (tests/bpf/attach_*.sh), sourced after common.bash: servers
# that reuselb did not start, and a client that tells which process answered.
#	free_port			a TCP (or UDP) port nothing is bound to, in $port
#	nginx_start, nginx_reload	a private nginx (Debian's nginx-light) in $tmp/nginx
#	nginx_workers			its worker pids, once exactly N serve
#	pyserver_start			a fork-per-worker Python server, one SO_REUSEPORT socket each
#	ask				N requests, the answering pid of each, one a line
#	expect_exact			each of a set of pids answered exactly K times
#	prog_id, wait_prog_gone		the group's steering program, as the kernel holds it
# Every server started here is stopped at exit, by its pid.

NGINX=/usr/sbin/nginx
# Debian's python3 (scripts/setup): a python3 earlier in PATH may be a slow shim
PYTHON=/usr/bin/python3

# free_port [udp]: sets $port to one that no socket of that protocol is bound to now. The
# servers here cannot bind port 0 (each of nginx's reuseport sockets would get another port).
# The port is below the kernel's ephemeral range: there, any client connection of a test
# running beside this one may take it between this look and the server's bind (EADDRINUSE,
# seen under ctest -j2), and sockets of every state count, not only listeners.
free_port() {
	local flag=-t low _
	[ "${1:-}" = udp ] && flag=-u
	read -r low _ </proc/sys/net/ipv4/ip_local_port_range
	[ "$low" -gt 11000 ] || fail_now "free_port: the ephemeral range starts at $low: no port below it to pick from"
	for ((;;)); do
		port=$((10000 + RANDOM % (low - 10000)))
		[ -z "$(ss -Han $flag "sport = :$port")" ] && return 0
	done
}

# nginx_start WORKERS: nginx on 127.0.0.1:$port with reuseport and WORKERS worker processes,
# answering "worker <its pid>" with X-Pid and X-Reuselb-Worker headers (what rlbload checks);
# sets $nginx_pid (the master) and waits until WORKERS workers serve.
nginx_start() {
	local workers=$1 dir="$tmp/nginx"

	mkdir -p "$dir/tmp"
	nginx_conf "$workers"
	"$NGINX" -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log" 2>>"$dir/stderr" &
	nginx_pid=$!
	on_exit "nginx_stop"
	nginx_workers "$workers" >/dev/null
}

nginx_conf() {
	local dir="$tmp/nginx"

	cat >"$dir/nginx.conf" <<EOF
daemon off;
master_process on;
worker_processes $1;
pid $dir/nginx.pid;
error_log $dir/error.log;
events { worker_connections 4096; }
http {
	access_log off;
	client_body_temp_path $dir/tmp;
	proxy_temp_path $dir/tmp;
	fastcgi_temp_path $dir/tmp;
	uwsgi_temp_path $dir/tmp;
	scgi_temp_path $dir/tmp;
	server {
		listen 127.0.0.1:$port reuseport backlog=4096;
		location / {
			add_header X-Pid \$pid always;
			add_header X-Reuselb-Worker \$pid always;
			return 200 "worker \$pid\n";
		}
	}
}
EOF
}

# nginx_reload WORKERS: rewrites worker_processes and reloads (nginx -s reload, the way an
# operator does it); waits until exactly WORKERS new workers serve.
nginx_reload() {
	local before
	before=$(nginx_workers_now | sort | tr '\n' ' ')
	nginx_conf "$1"
	"$NGINX" -p "$tmp/nginx" -c "$tmp/nginx/nginx.conf" -s reload 2>>"$tmp/nginx/stderr" ||
		fail_now "nginx -s reload failed: $(tail -c 300 "$tmp/nginx/stderr")"
	# the old workers finish and leave; the new ones have other pids
	local i
	for ((i = 0; i < 1000; i++)); do
		if [ "$(nginx_workers_now | sort | tr '\n' ' ')" != "$before" ] &&
			[ "$(nginx_workers_now | wc -l)" = "$1" ] && [ "$(nginx_old_workers)" = 0 ]; then
			return 0
		fi
		sleep 0.02
	done
	fail_now "nginx did not come back with $1 workers after a reload"
}

nginx_stop() {
	[ -n "${nginx_pid:-}" ] || return 0
	kill -TERM "$nginx_pid" 2>/dev/null
	{ wait "$nginx_pid"; } 2>/dev/null
	nginx_pid=
}

# The serving workers' pids, one a line (not those shutting down after a reload).
nginx_workers_now() {
	local pid
	for pid in $(pgrep -P "$nginx_pid"); do
		[ "$(tr -d '\0' <"/proc/$pid/cmdline" 2>/dev/null)" = "nginx: worker process" ] &&
			echo "$pid"
	done
}

nginx_old_workers() {
	local pid n=0
	for pid in $(pgrep -P "$nginx_pid"); do
		grep -q "shutting down" "/proc/$pid/cmdline" 2>/dev/null && n=$((n + 1))
	done
	echo "$n"
}

# nginx_workers N: waits until exactly N workers serve (each with its listener in its epoll),
# prints their pids.
nginx_workers() {
	local i
	for ((i = 0; i < 1000; i++)); do
		if [ "$(nginx_workers_now | wc -l)" = "$1" ] && [ "$(nginx_old_workers)" = 0 ] &&
			curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$port/"; then
			nginx_workers_now
			return 0
		fi
		sleep 0.02
	done
	fail_now "nginx did not start $1 workers on port $port: $(tail -c 300 "$tmp/nginx/error.log" 2>/dev/null)"
}

# pyserver_start WORKERS [udp] [ADDR]: a parent that forks WORKERS children, each opening its
# own SO_REUSEPORT socket on ADDR:$port (TCP listener, or UDP) and answering every connection
# (datagram) with "worker <its pid>\n". Sets $py_pid and $py_workers (children's pids) once all
# are bound. With RLB_CBPF=1 in the environment, each attaches a classic BPF reuseport program
# (SO_ATTACH_REUSEPORT_CBPF), as another tool would. With py_wrap set (an array: a command that runs its arguments, such as a new
# network namespace), the server runs under it.
py_wrap=()
pyserver_start() {
	local n=$1 proto=${2:-tcp} addr=${3:-127.0.0.1} i
	${py_wrap[@]+"${py_wrap[@]}"} "$PYTHON" - "$n" "$proto" "$addr" "$port" >"$tmp/py.$port.out" 2>"$tmp/py.$port.err" <<'EOF' &
import os, socket, sys, signal
n, proto, addr, port = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
kids = []
for _ in range(n):
    pid = os.fork()
    if pid == 0:
        udp = proto == "udp"
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM if udp else socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        s.bind((addr, port))
        if not udp:
            s.listen(128)
        if os.environ.get("RLB_CBPF"):
            # another tool's steering: a classic BPF program (ret #0) on the group
            import ctypes, struct
            filt = ctypes.create_string_buffer(struct.pack("HBBI", 0x06, 0, 0, 0))
            s.setsockopt(socket.SOL_SOCKET, 51, struct.pack("HxxxxxxQ", 1, ctypes.addressof(filt)))
        os.write(1, b"%d\n" % os.getpid())  # one write: the workers share the file
        me = ("worker %d\n" % os.getpid()).encode()
        while True:
            if udp:
                _, peer = s.recvfrom(2048)
                s.sendto(me, peer)
            else:
                c, _ = s.accept()
                c.recv(4096)
                c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % len(me) + me)
                c.close()
    kids.append(pid)
def stop(*_):
    for k in kids:
        os.kill(k, signal.SIGTERM)
    sys.exit(0)
signal.signal(signal.SIGTERM, stop)
for k in kids:
    os.waitpid(k, 0)
EOF
	py_pid=$!
	on_exit "kill -TERM $py_pid 2>/dev/null; wait $py_pid 2>/dev/null"
	for ((i = 0; i < 500; i++)); do
		[ "$(wc -l <"$tmp/py.$port.out")" = "$n" ] && break
		sleep 0.02
	done
	py_workers=$(sort -n "$tmp/py.$port.out" | tr '\n' ' ')
	[ "$(wc -l <"$tmp/py.$port.out")" = "$n" ] ||
		fail_now "python server: $n workers did not bind port $port: $(head -c 300 "$tmp/py.$port.err")"
}

# ask N [SOURCE] [udp]: N requests (connections, or datagrams each from a new socket) to
# 127.0.0.1:$port from SOURCE (default 127.0.0.1); prints the pid that answered each, or
# "none" for one not answered. The UDP sockets stay open until the end: a closed one's port
# may be given again, and a datagram from it would be a known flow that keeps its worker.
ask() {
	local n=$1 src=${2:-127.0.0.1} proto=${3:-tcp}
	"$PYTHON" - "$n" "$src" "$port" "$proto" <<'EOF'
import socket, sys
n, src, port, proto = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]
held = []
for _ in range(n):
    try:
        if proto == "udp":
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.settimeout(5)
            s.bind((src, 0))
            held.append(s)
            s.sendto(b"hi", ("127.0.0.1", port))
            data = s.recv(2048)
        else:
            s = socket.create_connection(("127.0.0.1", port), timeout=5, source_address=(src, 0))
            s.sendall(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            data = b""
            while True:
                d = s.recv(4096)
                if not d:
                    break
                data += d
            s.close()
        line = data.split(b"worker ")[-1].split(b"\n")[0].decode()
        print(line if line.isdigit() else "none")
    except OSError:
        print("none")
EOF
}

# expect_exact NAME K "PID..." ANSWERS: each of the pids answered exactly K times and no
# other process answered (ANSWERS: what ask printed).
expect_exact() {
	local name=$1 k=$2 pids=$3 answers=$4 pid got total
	total=$(echo "$answers" | grep -c .)
	for pid in $pids; do
		got=$(echo "$answers" | grep -cx "$pid")
		[ "$got" = "$k" ] || fail "$name: pid $pid answered $got times, want $k" \
			"(answers: $(echo "$answers" | sort | uniq -c | tr '\n' ' '))"
	done
	[ "$total" = $((k * $(echo $pids | wc -w))) ] ||
		fail "$name: $total answers, want $((k * $(echo $pids | wc -w)))"
}

# prog_id GROUP: the id of the group's pinned steering program.
prog_id() {
	bpftool prog show pinned "/sys/fs/bpf/reuselb/$1/steer" 2>/dev/null | sed -n 's/^\([0-9]*\): .*/\1/p'
}

# wait_prog_gone ID: the kernel freed the program (no group holds it any more), bounded.
wait_prog_gone() {
	local i
	for ((i = 0; i < 500; i++)); do
		bpftool prog show id "$1" >/dev/null 2>&1 || return 0
		sleep 0.02
	done
	return 1
}
