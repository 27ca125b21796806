#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# The Grafana dashboard (contrib/grafana/reuselb.json) asks only for what reuselb serves.
#
# 1. It is JSON (jq), titled "reuselb", with panels for shares per worker, unsteered,
#    fallbacks, migrations, queue depth, queue overflows and policy.
# 2. Every query of it, with Grafana's variables put in ($group: .*, $__rate_interval: 1m),
#    is valid PromQL: "promtool check rules" on a rule file of them.
# 3. Every metric name in its queries is a metric of "reuselb serve --metrics" (a "# TYPE
#    NAME" line of /metrics from "-a 127.0.0.1 -p 0 -w 2 --name dash-PID --metrics
#    127.0.0.1:0"): the names are the interface between the two.
source "$(dirname "$0")/../lib/common.bash" || exit 1
need_tools jq promtool curl

dash=$RLB_SOURCE_DIR/contrib/grafana/reuselb.json
jq -e . "$dash" >/dev/null || fail_now "$dash is not JSON"
[ "$(jq -r .title "$dash")" = reuselb ] || fail "the dashboard's title is not reuselb"
jq -r '.panels[].title' "$dash" >"$tmp/titles"
for t in "Share of new connections per worker" "Unsteered" "Fallbacks" "Migrations" \
	"Accept queue depth" "Accept queue overflows" "Policy"; do
	grep -q "^$t" "$tmp/titles" || fail "the dashboard has no panel '$t...'"
done

jq -r '.. | objects | (.expr // empty), (.definition // empty)' "$dash" >"$tmp/exprs"
[ "$(wc -l <"$tmp/exprs")" -ge 8 ] || fail_now "only $(wc -l <"$tmp/exprs") queries in $dash"
{
	echo "groups:"
	echo "  - name: dashboard"
	echo "    rules:"
	i=0
	while IFS= read -r e; do
		e=${e//\$__rate_interval/1m}
		e=${e//\$group/.*}
		# label_values() is Grafana's, not PromQL: its metric is checked below
		[[ $e == label_values* ]] && continue
		i=$((i + 1))
		printf '      - record: dashboard:q%d\n        expr: %s\n' "$i" "$(jq -Rn --arg e "$e" '$e')"
	done <"$tmp/exprs"
} >"$tmp/rules.yml"
promtool check rules "$tmp/rules.yml" >"$tmp/promtool" 2>&1 ||
	fail "promtool check rules: $(cat "$tmp/promtool")"

"$REUSELB" serve -a 127.0.0.1 -p 0 -w 2 --name "dash-$$" --metrics 127.0.0.1:0 \
	>"$tmp/serve.out" 2>"$tmp/serve.err" &
spid=$!
on_exit "kill -KILL $spid 2>/dev/null"
for ((i = 0; i < 1000; i++)); do
	grep -q '^reuselb: serving' "$tmp/serve.out" && break
	kill -0 "$spid" 2>/dev/null || break
	sleep 0.01
done
url=$(sed -n 's#^reuselb: metrics at \(http://.*\)$#\1#p' "$tmp/serve.out")
[ -n "$url" ] || fail_now "serve did not get ready: $(cat "$tmp/serve.out" "$tmp/serve.err")"
curl -sf "$url" >"$tmp/metrics" || fail_now "GET $url failed"
n=0
for m in $(grep -oE 'reuselb_[a-z_]+' "$tmp/exprs" | sort -u); do
	n=$((n + 1))
	grep -q "^# TYPE $m " "$tmp/metrics" || fail "the dashboard asks for $m, which /metrics has not"
done
echo "the dashboard's $n metric names, checked against $url"
kill -TERM "$spid"
wait "$spid" || fail "serve exited with $?"
finish
