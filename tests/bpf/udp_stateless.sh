#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# serve --udp-flows off: stateless UDP, every datagram steered by the policy (issue 13).
#
# 1. "serve --udp -w 2 --policy round-robin --mode id" (flows remembered, the default): 20
#    datagrams from one socket are all answered by the worker that had the first.
# 2. The same with --udp-flows off: the 20 answers follow the rotation, worker 0 and 1 in
#    turn (starting with either), 10 each.
# 3. --udp-flows without --udp, and a value other than on or off: usage errors (exit 2, one
#    line naming the option).
source "$(dirname "$0")/../lib/common.bash" || exit 1
need_tools /usr/bin/python3

# answers PORT N: sends N datagrams from one socket, one at a time, and prints the worker id
# of each answer on one line (bash reads a socket a byte at a time: a datagram needs recv)
answers() {
	/usr/bin/python3 - "$1" "$2" <<-'PY'
		import socket, sys
		port, n = int(sys.argv[1]), int(sys.argv[2])
		s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
		s.settimeout(5)
		s.connect(("127.0.0.1", port))
		out = []
		for i in range(n):
		    s.send(b"q%d" % i)
		    try:
		        out.append(s.recv(512).decode().split()[-1])
		    except OSError as e:
		        out.append("no-answer(%s)" % e)
		print(" ".join(out))
	PY
}

# 1. Flows remembered.
serve_start on -a 127.0.0.1 -p 0 -w 2 --udp --policy round-robin --mode id || finish
got=$(answers "${SERVE_PORT[on]}" 20)
echo "flows on: $got"
[[ $got =~ ^[01]( [01]){19}$ ]] && [ "$(tr ' ' '\n' <<<"$got" | sort -u | wc -l)" = 1 ] ||
	fail "flows on: 20 datagrams of one flow went to: $got"
serve_stop on

# 2. Stateless.
serve_start off -a 127.0.0.1 -p 0 -w 2 --udp --udp-flows off --policy round-robin --mode id ||
	finish
got=$(answers "${SERVE_PORT[off]}" 20)
echo "flows off: $got"
[[ $got =~ ^(0 1 |1 0 ){9}(0 1|1 0)$ ]] || fail "flows off: not the rotation: $got"
serve_stop off

# 3. Usage errors.
expect "--udp-flows without --udp" 2 "--udp-flows applies to udp only" \
	"$REUSELB" serve -a 127.0.0.1 -p 0 --udp-flows off
expect "--udp-flows maybe" 2 "bad --udp-flows 'maybe'" \
	"$REUSELB" serve -a 127.0.0.1 -p 0 --udp --mode id --udp-flows maybe
finish
