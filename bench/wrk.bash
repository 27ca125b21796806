# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# Sourced by bench/run: wrk, a client none of us wrote, as a second client for the HTTP
# scenarios (conn, keepalive), and each server's system calls per connection and per request.
# Uses bench/run's variables (work, duration, prio, lg_cpus, server_pid, server_port...).
# shellcheck shell=bash disable=SC2154

wrk_threads=1
wrk_conns=50
# contenders whose system calls are counted, and the task that is counted for each
wrk_syscall_contenders="kernel round-robin nginx kernel-defer nginx-deferred"

# those of them --contenders picked
wrk_syscall_picked() {
	local name
	for name in $wrk_syscall_contenders; do
		if picked "$name"; then echo "$name"; fi
	done | tr '\n' ' '
}

wrk_scenario() { [ "$1" = conn ] || [ "$1" = keepalive ]; }

# wrk takes whole seconds: the run's duration rounded, at least 1
wrk_seconds() { awk -v d="$duration" 'BEGIN { s = int(d + 0.5); print s < 1 ? 1 : s }'; }

# The server's tasks: reuselb's threads, or nginx's master and workers.
server_tasks() {
	local p
	for p in "$server_pid" $(pgrep -P "$server_pid" || true); do
		ls "/proc/$p/task" 2>/dev/null
	done
}

# CPU time (ns) the server's tasks have run, from schedstat (exact, not tick-sampled).
server_cpu_ns() {
	local t s=0 ns
	for t in $(server_tasks); do
		read -r ns _ <"/proc/$t/schedstat" 2>/dev/null || continue
		s=$((s + ns))
	done
	echo $s
}

# One wrk run of scenario $1 against the running contender $2 in round $3; appends
# "scenario contender rep rate cpu_ns_per_request errors" to $work/wrk.records.
wrk_run() {
	local scen=$1 name=$2 rep=$3 raw=$work/raw/$1.$2.$3.wrk c0 c1 hdr=()
	[ "$scen" = conn ] && hdr=(-H 'Connection: close')
	c0=$(server_cpu_ns)
	if ! nice -n "$prio" taskset -c "$lg_cpus" wrk -t$wrk_threads -c$wrk_conns \
		-d"$(wrk_seconds)s" "${hdr[@]}" "http://127.0.0.1:$server_port/" >"$raw" 2>&1; then
		log "$scen: wrk against $name failed (round $rep):"
		sed 's/^/    /' "$raw" >&2
		failed+=("wrk/$scen/$name")
		return
	fi
	c1=$(server_cpu_ns)
	awk -v s="$scen" -v n="$name" -v r="$rep" -v cpu=$((c1 - c0)) '
		/requests in/ { reqs = $1 }
		/Requests\/sec/ { rate = $2 }
		/Non-2xx/ { err += $NF }
		/Socket errors/ { for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+,?$/) err += $i + 0 }
		END { printf "%s %s %s %.0f %.0f %d\n", s, n, r, rate, reqs ? cpu / reqs : 0, err }' \
		"$raw" >>"$work/wrk.records"
	# wrk counts a timeout or reset as a socket error: a contender that drops is not faster
	[ "$(tail -1 "$work/wrk.records" | cut -d' ' -f6)" = 0 ] || failed+=("wrk/$scen/$name")
}

# The task bench/syscalls counts: reuselb's first worker thread (its tasks are the main thread,
# then the workers), nginx's first worker process.
wrk_worker_task() {
	if [[ $1 == nginx* ]]; then
		pgrep -P "$server_pid" | sort -n | head -1
	else
		# shellcheck disable=SC2012 # task ids are numbers
		ls "/proc/$server_pid/task" | sort -n | sed -n 2p
	fi
}

# System calls per connection (conn; conn1: one connection at a time) and per request
# (keepalive) of one worker of each
# contender of wrk_syscall_contenders; writes "contender scenario syscall per_unit" lines to
# $work/syscalls.
wrk_syscalls() {
	local name scen tid
	: >"$work/syscalls"
	scenario_pin conn
	for name in $(wrk_syscall_picked); do
		if ! start_server "$name" http; then
			failed+=("syscalls/$name")
			stop_server
			continue
		fi
		tid=$(wrk_worker_task "$name")
		for scen in conn conn1 keepalive; do
			# shellcheck disable=SC2046
			nice -n "$prio" taskset -c "$lg_cpus" "$top/bench/syscalls" \
				$([ $scen = keepalive ] && echo --keepalive) \
				$([ $scen = conn1 ] && echo --connections 1) --seconds "$(wrk_seconds)" \
				"$server_port" "$tid" 2>"$work/syscalls.err" |
				sed "s/^/$name $scen /" >>"$work/syscalls" || true
			grep -q "^$name $scen total" "$work/syscalls" ||
				{ failed+=("syscalls/$name/$scen"); sed 's/^/    /' "$work/syscalls.err" >&2; }
		done
		stop_server
	done
}

# Per scenario and contender: median wrk rate, its spread (half the range, % of the median), the
# median per-round ratio to nginx's rate (both ran in the same round, one after the other),
# the median CPU per request, the most errors. Columns: scenario contender rate spread
# ratio_nginx cpu_ns errors.
wrk_medians() {
	awk "$(cat "$top/bench/stats.awk")"'
		{ rate[$1, $2, $3] = $4; cpu[$1, $2, $3] = $5; err[$1, $2, $3] = $6; key[$1 " " $2] = 1; reps[$3] = 1 }
		END {
			for (k in key) {
				split(k, sc, " ")
				n = m = 0; lo = 1e300; hi = 0; worst = 0
				delete r; delete q; delete c
				for (rep in reps) {
					if (!((sc[1], sc[2], rep) in rate)) continue
					v = rate[sc[1], sc[2], rep]
					r[++n] = v; c[n] = cpu[sc[1], sc[2], rep]
					if (v < lo) lo = v
					if (v > hi) hi = v
					if (err[sc[1], sc[2], rep] > worst) worst = err[sc[1], sc[2], rep]
					if ((sc[1], "nginx", rep) in rate && rate[sc[1], "nginx", rep] > 0)
						q[++m] = v / rate[sc[1], "nginx", rep]
				}
				mr = median(r, n)
				spread = mr > 0 ? 50 * (hi - lo) / mr : 0
				ratio = m ? sprintf("%.3f", median(q, m)) : "-"
				printf "%s %s %.0f %.0f %s %.1f %d\n", sc[1], sc[2], mr, spread, ratio,
					median(c, n) / 1000, worst
			}
		}' "$work/wrk.records" | sort
}

# The report's section: wrk next to loadgen, then the system-call counts. Called inside
# write_report's redirection.
wrk_report() {
	local scen name rate spread ratio cpu errs lg counted
	# wrk.medians: written by bench/run before the report
	[ -s "$work/wrk.records" ] || return 0
	echo
	echo "## wrk, a client we did not write: (a) and (b) again"
	echo
	echo "Debian's wrk $(wrk -v 2>&1 | sed -n 's/^wrk \([^ ]*\).*/\1/p'), $wrk_threads thread, $wrk_conns" \
		"connections, $(wrk_seconds) s per run against the same server instance right after loadgen's run" \
		"(same pinning and nice); (a) sends \`Connection: close\` with every request. ×" \
		"nginx is the median of the per-round ratios (both measured in the same round);" \
		"CPU/request is the server's own CPU time (schedstat of all its tasks) over the requests" \
		"answered. loadgen's rate from the tables above is beside it."
	for scen in "${scenarios[@]}"; do
		wrk_scenario "$scen" || continue
		echo
		echo "### $(scenario_title "$scen" | cut -d: -f1)"
		echo
		echo "| contender | wrk req/s | × nginx | server CPU µs/request | errors | loadgen rate /s |"
		echo "| --- | ---: | ---: | ---: | ---: | ---: |"
		for name in $(scenario_contenders "$scen"); do
			read -r _ _ rate spread ratio cpu errs < <(grep "^$scen $name " "$work/wrk.medians" ||
				echo "- - - - - - -")
			lg=$(med "$scen" "$name" 3)
			echo "| $name | $rate ±$spread % | $ratio | $cpu | $errs | ${lg:--} |"
		done
	done
	[ -s "$work/syscalls" ] || return 0
	counted=$(wrk_syscall_picked)
	counted=${counted% }
	echo
	echo "### System calls of one worker under wrk"
	echo
	echo "\`bench/syscalls\` (perf stat on the syscall tracepoints of one worker's task, which does"
	echo "not slow it down as strace would): per connection in (a) (conn: 50 connections;"
	echo "conn1: one at a time, so that a worker wakes for each alone), per request in (b)."
	echo "\`name!\` counts the calls that failed (EAGAIN)."
	for scen in conn conn1 keepalive; do
		echo
		echo "| $scen | ${counted// / | } |"
		echo "| --- $(for name in $counted; do printf '| ---: '; done)|"
		awk -v s=$scen -v list="$counted" '
			$2 == s && $3 != "units" { v[$1, $3] = $4; if (!($3 in seen)) { seen[$3] = 1; o[++n] = $3 } }
			END {
				k = split(list, c, " ")
				for (i = 1; i <= n; i++) {
					if (o[i] == "total") continue
					line = "| " o[i]
					for (j = 1; j <= k; j++) line = line " | " ((c[j], o[i]) in v ? v[c[j], o[i]] : 0)
					print line " |"
				}
				line = "| **total**"
				for (j = 1; j <= k; j++) line = line " | **" v[c[j], "total"] "**"
				print line " |"
			}' "$work/syscalls"
	done
}
