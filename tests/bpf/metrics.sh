#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# serve --metrics, read with curl: the Prometheus text format, strictly, and the right figures.
#
# 1. "$REUSELB serve -a 127.0.0.1 -p 0 -w 3 --mode id --name rlbt-metrics-PID --metrics
#    127.0.0.1:0" prints "reuselb: metrics at http://127.0.0.1:PORT/metrics" before its ready
#    line.
# 2. rlbload makes 30 connections, each answered "worker N".
# 3. GET /metrics: 200, Content-Type "text/plain; version=0.0.4; charset=utf-8"; the body passes
#    the format check below (and "promtool check metrics" where promtool is installed: Debian's
#    prometheus package has it); round-robin gave each worker steered 10 and accepted 10, with
#    fallback, migrated, active and draining 0; unsteered 0; and
#    reuselb_policy_info{group="rlbt-metrics-PID",policy="round-robin"} 1.
# 4. Worker 1 set draining with bpftool in the pinned workers map: its draining gauge reads 1.
# 5. GET /other: 404; POST /metrics: 405; HEAD /metrics: 200 with no body.
# 6. IPv6: "-a ::1 --metrics [::1]:0" answers at http://[::1]:PORT/metrics.
# 7. The kernel policy needs no BPF, so it runs unprivileged (setpriv to nobody, no
#    capabilities); its metrics hold only accepted and active (the workers' own counts) and
#    reuselb_policy_info{...,policy="kernel"} 1, in the same strict format; and each
#    worker's reuselb_listen_queue 0, reuselb_listen_queue_limit > 0 and
#    reuselb_listen_drops_total 0, from sock_diag.
# 8. Errors exit with one line on stderr: --metrics 127.0.0.1 (no port) and --metrics ::1:9464
#    (IPv6 without brackets) exit 2; an address another process holds (rlbhold) exits 1.
#
# The format check: every line is a # HELP, a # TYPE or a sample of the exposition grammar
# (name, label values with their escapes, a number); each metric has one HELP and one TYPE,
# before its samples; a metric's samples are together; no series comes twice; a counter's
# name ends in _total; the text ends with a newline.
source "$(dirname "$0")/../lib/common.bash" || exit 1
need_tools curl bpftool

# the servers that start() runs: killed if the test ends before stop() ends them
pids=()
# shellcheck disable=SC2016 # expanded when the hook runs, at exit
on_exit 'for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null; done'

# The strict format check of a metrics text on stdin; prints what is wrong, exits 1 if any.
check_format() {
	awk '
	function bad(msg) { printf "line %d: %s: %s\n", NR, msg, $0; errors++ }
	BEGIN {
		name = "[a-zA-Z_:][a-zA-Z0-9_:]*"
		label = "[a-zA-Z_][a-zA-Z0-9_]*=\"([^\"\\\\]|\\\\[\\\\\"n])*\""
		value = "[-+]?([0-9]+(\\.[0-9]*)?|\\.[0-9]+)([eE][-+]?[0-9]+)?|[-+]?Inf|NaN"
		sample = "^" name "(\\{(" label "(," label ")*,?)?\\})? (" value ")( -?[0-9]+)?$"
	}
	/^# HELP / {
		if ($3 !~ ("^" name "$")) bad("no metric name")
		if (($3 in help)) bad("a second HELP")
		if (($3 in seen)) bad("HELP after the samples")
		help[$3] = 1
		next
	}
	/^# TYPE / {
		if (NF != 4 || $4 !~ /^(counter|gauge|histogram|summary|untyped)$/) bad("bad TYPE")
		if (($3 in type)) bad("a second TYPE")
		if (($3 in seen)) bad("TYPE after the samples")
		if ($4 == "counter" && $3 !~ /_total$/) bad("a counter without _total")
		type[$3] = $4
		next
	}
	/^#/ { next }
	{
		if ($0 !~ sample) { bad("not a sample"); next }
		n = $0
		sub(/[{ ].*/, "", n)
		if (!(n in help)) bad("a sample before its HELP")
		if (!(n in type)) bad("a sample before its TYPE")
		if (n != last && (n in seen)) bad("the samples of " n " are not together")
		seen[n] = 1
		last = n
		series = $0
		sub(/ [^ ]*$/, "", series)
		if ((series in series_seen)) bad("a series twice")
		series_seen[series] = 1
		samples++
	}
	END {
		if (!samples) { print "no samples"; errors++ }
		exit errors ? 1 : 0
	}'
}

# start NAME ARGS...: runs the binary in the background, its stdout into a fifo whose lines
# are read up to the ready line (bounded by read -t); sets url (from the metrics line), port
# and the pid in pid_NAME.
start() {
	local name=$1 line
	shift
	mkfifo "$tmp/$name.fifo"
	"$@" >"$tmp/$name.fifo" 2>"$tmp/$name.err" &
	eval "pid_$name=$!"
	pids+=($!)
	exec {fd}<"$tmp/$name.fifo"
	eval "fd_$name=$fd"
	url="" port=""
	while read -r -t 10 -u "$fd" line; do
		echo "$name: $line"
		case $line in
		"reuselb: metrics at "*) url=${line#reuselb: metrics at } ;;
		"reuselb: serving "*)
			port=$(echo "$line" | sed -n 's/.* port \([0-9]*\),.*/\1/p')
			return 0
			;;
		esac
	done
	fail "$name: no ready line; stderr: $(head -c 300 "$tmp/$name.err")"
	return 1
}

# stop NAME: SIGTERM, then waits (bounded) for the exit; checks status 0.
stop() {
	local pid status
	eval "pid=\$pid_$1"
	kill -TERM "$pid"
	timeout 10 tail --pid="$pid" -f /dev/null
	wait "$pid"
	status=$?
	[ "$status" = 0 ] || fail "$1: exit status $status after SIGTERM"
}

# value TEXT_FILE SERIES: the value of one series, exactly as written.
value() {
	awk -v s="$2" 'index($0, s " ") == 1 { print substr($0, length(s) + 2) }' "$1"
}

group=rlbt-metrics-$$

# 1.
start main "$REUSELB" serve -a 127.0.0.1 -p 0 -w 3 --mode id --name "$group" \
	--metrics 127.0.0.1:0 || exit 1
[ -n "$url" ] || fail "no \"reuselb: metrics at\" line before the ready line"
case $url in http://127.0.0.1:[0-9]*/metrics) ;; *) fail "metrics URL $url" ;; esac

# 2.
"$RLB_BIN_DIR/rlbload" -p "$port" -m id -n 30 -r 1000 || fail "rlbload: not every connection answered"

# 3.
curl -sS -D "$tmp/head" -o "$tmp/body" "$url" || fail "curl $url failed"
head -1 "$tmp/head" | grep -q '^HTTP/1.1 200 ' || fail "status: $(head -1 "$tmp/head")"
grep -qi '^Content-Type: text/plain; version=0.0.4; charset=utf-8' "$tmp/head" ||
	fail "Content-Type: $(grep -i content-type "$tmp/head")"
cat "$tmp/body"
check_format <"$tmp/body" || fail "the metrics text is not in the exposition format"
[ "$(tail -c 1 "$tmp/body" | od -An -c | tr -d ' ')" = '\n' ] || fail "no final newline"
if command -v "${PROMTOOL:-promtool}" >/dev/null; then
	"${PROMTOOL:-promtool}" check metrics <"$tmp/body" || fail "promtool check metrics"
else
	echo "promtool not installed (Debian: apt-get install prometheus): format checked by awk only"
fi
for w in 0 1 2; do
	l="group=\"$group\",worker=\"$w\""
	for m in steered_total accepted_total; do
		v=$(value "$tmp/body" "reuselb_$m{$l}")
		[ "$v" = 10 ] || fail "reuselb_$m{$l} is '$v', want 10"
	done
	for m in fallback_total migrated_total active_connections worker_draining; do
		v=$(value "$tmp/body" "reuselb_$m{$l}")
		[ "$v" = 0 ] || fail "reuselb_$m{$l} is '$v', want 0"
	done
done
v=$(value "$tmp/body" "reuselb_unsteered_total{group=\"$group\"}")
[ "$v" = 0 ] || fail "reuselb_unsteered_total is '$v', want 0"
v=$(value "$tmp/body" "reuselb_policy_info{group=\"$group\",policy=\"round-robin\"}")
[ "$v" = 1 ] || fail "reuselb_policy_info for round-robin is '$v', want 1"

# 4. state 2 (draining), weight 100: two little-endian __u32
bpftool map update pinned "/sys/fs/bpf/reuselb/$group/workers" key 1 0 0 0 \
	value 2 0 0 0 100 0 0 0 || fail "bpftool could not set worker 1 draining"
curl -sS -o "$tmp/body2" "$url" || fail "curl $url failed"
v=$(value "$tmp/body2" "reuselb_worker_draining{group=\"$group\",worker=\"1\"}")
[ "$v" = 1 ] || fail "worker 1 set draining: reuselb_worker_draining is '$v', want 1"

# 5.
base=${url%/metrics}
code=$(curl -s -o /dev/null -w '%{http_code}' "$base/other")
[ "$code" = 404 ] || fail "GET /other: $code, want 404"
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "$url")
[ "$code" = 405 ] || fail "POST /metrics: $code, want 405"
curl -sS -I -o "$tmp/head" "$url"
head -1 "$tmp/head" | grep -q '^HTTP/1.1 200 ' || fail "HEAD /metrics: $(head -1 "$tmp/head")"
stop main

# 6.
start v6 "$REUSELB" serve -a ::1 -p 0 -w 2 --mode id --metrics '[::1]:0' || exit 1
case $url in "http://[::1]:"[0-9]*/metrics) ;; *) fail "IPv6 metrics URL $url" ;; esac
curl -sS -g -o "$tmp/body" "$url" || fail "curl -g $url failed"
check_format <"$tmp/body" || fail "IPv6: the metrics text is not in the exposition format"
stop v6

# 7. From a copy of the binary that user 65534 can reach.
nobody_copy
start kernel setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all \
	"$tmp/bin/reuselb" serve -a 127.0.0.1 -p 0 -w 2 --mode id --policy kernel \
	--metrics 127.0.0.1:0 || exit 1
"$RLB_BIN_DIR/rlbload" -p "$port" -m id -n 20 -r 1000 || fail "kernel: not every connection answered"
curl -sS -o "$tmp/body" "$url" || fail "curl $url failed"
cat "$tmp/body"
check_format <"$tmp/body" || fail "kernel: the metrics text is not in the exposition format"
sum=$(awk '/^reuselb_accepted_total\{/ { s += $2 } END { print s + 0 }' "$tmp/body")
[ "$sum" = 20 ] || fail "kernel: the workers accepted $sum in all, want 20"
grep -q '^reuselb_active_connections{' "$tmp/body" || fail "kernel: no active connections gauge"
grep -q "^reuselb_policy_info{group=\"tcp-$port\",policy=\"kernel\"} 1$" "$tmp/body" ||
	fail "kernel: no policy info for kernel"
! grep -q '^reuselb_steered_total' "$tmp/body" || fail "kernel: steered counts without a program"
# the listeners' queues come from sock_diag, which needs no BPF
[ "$(grep -Ec "^reuselb_listen_queue_limit\{group=\"tcp-$port\",worker=\"[01]\"\} [1-9][0-9]*$" \
	"$tmp/body")" = 2 ] || fail "kernel: no queue limit of each worker"
[ "$(grep -Ec '^reuselb_listen_(queue|drops_total)\{.*\} 0$' "$tmp/body")" = 4 ] ||
	fail "kernel: no empty queue and no drops of each worker"
[ ! -s "$tmp/kernel.err" ] || fail "kernel: stderr: $(head -c 300 "$tmp/kernel.err")"
stop kernel

# 8.
serve=("$REUSELB" serve -a 127.0.0.1 -p 0 -w 2 --mode id)
expect "no port" 2 "" "${serve[@]}" --metrics 127.0.0.1
expect "IPv6 without brackets" 2 "" "${serve[@]}" --metrics ::1:9464
if hold_start; then
	# the line names the address
	expect "address held" 1 "127.0.0.1:$held" "${serve[@]}" --metrics "127.0.0.1:$held"
else
	fail "rlbhold did not report a port"
fi
hold_stop

finish
