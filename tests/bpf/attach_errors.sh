#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# Every bad input of reuselb attach and detach, one case a row: one line on stderr saying what
# to do, exit 1 or 2, and nothing changed: no pins for the port, and the servers' sockets
# without any steering program (rlbnoprog asks the kernel). Servers set up first:
#   py1   2 Python workers, SO_REUSEPORT, 127.0.0.1:$p1 (root)
#   hold  a plain listener without SO_REUSEPORT (rlbhold) on $held
#   two   a Python worker on 127.0.0.1:$p2 and one on 127.0.0.2:$p2: two groups
#   ns    a Python worker on 127.0.0.1:$p3 here and one in another network namespace
#   udp   2 Python workers with UDP sockets on $p4
#   serve reuselb serve on $p5
#   cbpf  2 Python workers on $p6 whose group has a classic BPF program of their own
# The "already attached" row attaches py1 first, and detaches it after.
source "$(dirname "$0")/../lib/common.bash" || exit 1
source "$(dirname "$0")/../lib/adopt.bash" || exit 1
need_tools bpftool unshare setpriv ip "$PYTHON"

free_port; p1=$port; pyserver_start 2; py1=$py_workers
hold_start || fail_now "rlbhold: no port"
free_port; p2=$port; pyserver_start 1 tcp 127.0.0.1; two_a=$py_workers
pyserver_start 1 tcp 127.0.0.2; two_b=$py_workers
free_port; p3=$port; pyserver_start 1; ns_a=$py_workers
py_wrap=(unshare -n -- sh -c 'ip link set lo up && exec "$0" "$@"')
pyserver_start 1; ns_b=$py_workers
py_wrap=()
free_port udp; p4=$port; pyserver_start 2 udp; udp=$py_workers
serve_start s -p 0 -w 2 --mode id || fail_now "serve did not start"
p5=${SERVE_PORT[s]}
free_port; p6=$port; RLB_CBPF=1 pyserver_start 2; cbpf=$py_workers
free_port; pnone=$port
nobody_copy
servers="$py1 $two_a $two_b $ns_a $ns_b $udp"

cases=(
	# name | want exit | stderr pattern | command line after "reuselb"
	"no socket|1|no process has a tcp socket on port $pnone: start the server|attach -p $pnone"
	"no SO_REUSEPORT|2|pid [0-9]+ \(rlbhold\) has tcp 127.0.0.1 port $held open without SO_REUSEPORT.*nginx: add 'reuseport'|attach -p $held"
	"two addresses|2|form two groups: pid [0-9]+ \(python3\) on 127.0.0.[12] and pid [0-9]+ \(python3\) on 127.0.0.[12], another address; name one with -a|attach -p $p2"
	"two netns|2|form two groups: .*another network namespace|attach -p $p3 --pid ${ns_a% } --pid ${ns_b% }"
	"address with no socket|1|no tcp socket on 127.0.0.3 port $p2: pid [0-9]+ listens on 127.0.0.[12] port $p2; give -a 127.0.0.[12]|attach -p $p2 -a 127.0.0.3"
	"no such pid|2|no process 4194303: give the pid of a running server|attach -p $p1 --pid 4194303"
	"udp without --udp|1|no tcp socket on port $p4, but pid [0-9]+ has a udp socket there: add --udp|attach -p $p4"
	"tcp with --udp|1|no udp socket on port $p1, but pid [0-9]+ has a tcp socket there: leave out --udp|attach -p $p1 --udp"
	"served by reuselb|1|tcp port $p5 is already steered by reuselb group tcp-$p5 \(pid [0-9]+\): change its policy with: reuselb policy --name tcp-$p5|attach -p $p5"
	"already attached|1|already attached as reuselb group tcp-$p1: change its policy with: reuselb policy --name tcp-$p1 NAME, or detach it first|attach -p $p1"
	"another tool's classic BPF|1|pid [0-9]+ \(python3\) on tcp port $p6 are steered by a classic BPF program already: attach would replace it; give --replace|attach -p $p6"
	"another tool's eBPF program|1|pid [0-9]+ \(python3\) on tcp port $p1 are steered by BPF program id [0-9]+ already.*--replace|attach -p $p1"
	"policy kernel|2|policy kernel steers nothing.*reuselb detach|attach -p $p1 --policy kernel"
	"unknown policy|2|unknown policy 'nope'|attach -p $p1 --policy nope"
	"missing port|2|missing -p PORT|attach"
	"bad port|2|bad port '0'|attach -p 0"
	"bad pid|2|bad --pid|attach -p $p1 --pid x"
	"bad name|2|bad group name|attach -p $p1 --name .x"
	"default name of another port|2|default name of tcp port 1|attach -p $p1 --name tcp-1"
	"detach-on-exit alone|2|--detach-on-exit goes with --follow|attach -p $p1 --detach-on-exit"
	"detach no group|2|no group tcp-$pnone|detach -p $pnone"
	"detach a served group|2|served by reuselb serve \(pid [0-9]+\), not attached: stop that server|detach -p $p5"
	"detach -a without -p|2|-a goes with -p|detach --name x -a 127.0.0.1"
)

for row in "${cases[@]}"; do
	IFS='|' read -r name want pattern args <<<"$row"
	echo "--- $name"
	# a reuselb program whose pins were removed by hand is another tool's program now
	if [ "$name" = "another tool's eBPF program" ]; then
		expect "$name: first attach" 0 "" "$REUSELB" attach -p "$p1"
		rm -rf "/sys/fs/bpf/reuselb/tcp-$p1"
		expect "$name" "$want" "$pattern" "$REUSELB" $args
		[ -e "/sys/fs/bpf/reuselb/tcp-$p1" ] && fail "$name: pins made"
		expect "$name: --replace" 0 "" "$REUSELB" attach -p "$p1" --replace
		expect "$name: detach" 0 "" "$REUSELB" detach -p "$p1"
		continue
	fi
	if [ "$name" = "already attached" ]; then
		expect "$name: first attach" 0 "" "$REUSELB" attach -p "$p1"
		expect "$name" "$want" "$pattern" "$REUSELB" $args
		expect "$name: detach" 0 "" "$REUSELB" detach -p "$p1"
		continue
	fi
	expect "$name" "$want" "$pattern" "$REUSELB" $args
	for p in $p1 $p2 $p3 $p4 $held $pnone; do
		for g in tcp-$p udp-$p; do
			[ -e "/sys/fs/bpf/reuselb/$g" ] && fail "$name: pins left at $g"
		done
	done
done

# not ours to trace: as user nobody, the descriptors of a root process are out of reach
expect "pid not ours" 1 "pid ${py1%% *}.*CAP_SYS_PTRACE" \
	setpriv --reuid 65534 --regid 65534 --clear-groups "$tmp/bin/reuselb" attach -p "$p1" \
	--pid "${py1%% *}"

# the servers are as they were: no program on any of their groups, and the classic BPF
# program still on its own (rlbnoprog finds it, and takes it out)
for pid in $servers; do
	"$RLB_BIN_DIR/rlbnoprog" "$pid" || fail "pid $pid: a program was left on its group"
done
"$RLB_BIN_DIR/rlbnoprog" "${cbpf%% *}"
[ $? = 1 ] || fail "the classic BPF program of pid ${cbpf%% *} is gone"
# and with it gone, --replace is not needed: attach and detach
expect "attach after the classic program went" 0 "" "$REUSELB" attach -p "$p6"
expect "detach it" 0 "" "$REUSELB" detach -p "$p6"
hold_stop
serve_stop s
finish
