#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# A real Prometheus (Debian's prometheus) scrapes "reuselb serve --metrics" and adds up to
# exactly the connections made.
#
# 1. "$REUSELB serve -a 127.0.0.1 -p 0 -w 3 --mode id --name prom-PID --metrics 127.0.0.1:0";
#    its metrics address from "reuselb: metrics at http://ADDR/metrics".
# 2. prometheus with its own config (scrape_interval 1s, one static target: that address), its
#    own free port and --storage.tsdb.path in the test's temporary directory; waits (bounded)
#    for /-/ready.
# 3. rlbload makes 600 connections, every one answered.
# 4. The HTTP API, polled (bounded) until the last scrape has them:
#    sum(reuselb_steered_total{group="prom-PID"}) is 600 and sum(reuselb_accepted_total{...})
#    is 600; then count(reuselb_steered_total{...}) is 3 (a series per worker), each worker
#    200 (round-robin), up{job="reuselb"} is 1, and reuselb_policy_info has
#    policy="round-robin".
# 5. Both stopped by their pids; serve exits 0.
source "$(dirname "$0")/../lib/common.bash" || exit 1
need_tools prometheus curl jq

N=600
name=prom-$$
ppid_=
on_exit '[ -n "$ppid_" ] && kill -KILL "$ppid_" 2>/dev/null'

# 1. serve: its stdout has the metrics line, then the ready line
"$REUSELB" serve -a 127.0.0.1 -p 0 -w 3 --mode id --name "$name" --metrics 127.0.0.1:0 \
	>"$tmp/serve.out" 2>"$tmp/serve.err" &
spid=$!
on_exit "kill -KILL $spid 2>/dev/null"
for ((i = 0; i < 1000; i++)); do
	grep -q '^reuselb: serving' "$tmp/serve.out" && break
	kill -0 "$spid" 2>/dev/null || break
	sleep 0.01
done
grep -q '^reuselb: serving' "$tmp/serve.out" ||
	fail_now "serve did not get ready: $(cat "$tmp/serve.out" "$tmp/serve.err")"
port=$(sed -n 's/^reuselb: serving tcp [^ ]* port \([0-9]*\),.*/\1/p' "$tmp/serve.out")
target=$(sed -n 's#^reuselb: metrics at http://\([^/]*\)/metrics$#\1#p' "$tmp/serve.out")
[ -n "$port" ] && [ -n "$target" ] || fail_now "no port or metrics address in: $(cat "$tmp/serve.out")"

# 2. prometheus, on a port that was free a moment ago (another process may take it in
# between: then a new port, three times at most)
cat >"$tmp/prometheus.yml" <<EOT
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: reuselb
    static_configs:
      - targets: ['$target']
EOT
for ((try = 0; try < 3; try++)); do
	hold_start || fail_now "rlbhold found no free port"
	pport=$held
	hold_stop
	prometheus --config.file="$tmp/prometheus.yml" --storage.tsdb.path="$tmp/tsdb-$try" \
		--web.listen-address="127.0.0.1:$pport" >"$tmp/prometheus.log" 2>&1 &
	ppid_=$!
	api=http://127.0.0.1:$pport
	for ((i = 0; i < 600; i++)); do
		curl -sf "$api/-/ready" >/dev/null && break 2
		kill -0 "$ppid_" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$ppid_" 2>/dev/null
	wait "$ppid_" 2>/dev/null
	ppid_=
done
[ -n "$ppid_" ] && curl -sf "$api/-/ready" >/dev/null ||
	fail_now "prometheus did not get ready: $(tail -5 "$tmp/prometheus.log")"
echo "prometheus $(prometheus --version 2>&1 | head -1) at $api scrapes $target"

# 3. the connections
"$RLB_BIN_DIR/rlbload" -p "$port" -m id -n "$N" -r 500 >"$tmp/load" ||
	fail "rlbload: $(cat "$tmp/load")"
cat "$tmp/load"

# query EXPR: the value of the first sample of the instant query, or "" when none
query() {
	curl -sf -G "$api/api/v1/query" --data-urlencode "query=$1" |
		jq -r 'if .status == "success" and (.data.result | length) > 0
			then .data.result[0].value[1] else "" end'
}

# 4. poll until the scrapes have them all
sel="{group=\"$name\"}"
for ((i = 0; i < 600; i++)); do
	steered=$(query "sum(reuselb_steered_total$sel)")
	accepted=$(query "sum(reuselb_accepted_total$sel)")
	[ "$steered" = "$N" ] && [ "$accepted" = "$N" ] && break
	sleep 0.1
done
echo "after $i polls: sum(reuselb_steered_total) = $steered, sum(reuselb_accepted_total) = $accepted"
[ "$steered" = "$N" ] || fail "sum(reuselb_steered_total$sel) is '$steered', want $N"
[ "$accepted" = "$N" ] || fail "sum(reuselb_accepted_total$sel) is '$accepted', want $N"
got=$(query "count(reuselb_steered_total$sel)")
[ "$got" = 3 ] || fail "count(reuselb_steered_total$sel) is '$got', want 3"
for w in 0 1 2; do
	got=$(query "reuselb_steered_total{group=\"$name\",worker=\"$w\"}")
	[ "$got" = $((N / 3)) ] || fail "worker $w steered '$got', want $((N / 3))"
done
got=$(query 'up{job="reuselb"}')
[ "$got" = 1 ] || fail "up{job=\"reuselb\"} is '$got', want 1"
got=$(query "reuselb_policy_info{group=\"$name\",policy=\"round-robin\"}")
[ "$got" = 1 ] || fail "no reuselb_policy_info{group=\"$name\",policy=\"round-robin\"} 1"

# 5. stop both
kill -TERM "$ppid_"
wait "$ppid_" 2>/dev/null
ppid_=
kill -TERM "$spid"
wait "$spid"
status=$?
[ "$status" = 0 ] || fail "serve exited with $status: $(cat "$tmp/serve.err")"
finish
