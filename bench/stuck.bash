# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# bench/run's scenario "stuck", sourced by it: one worker stops accepting for stuck_ms in the
# middle of an open-loop run of new connections at stuck_rate/s. reuselb serve's worker is
# stalled by a request of its own (GET /stall?ms=N blocks its thread), nginx's by SIGSTOP and
# SIGCONT of one worker process. What counts is what waited for the stuck worker: connections
# answered later than 100 ms, failed ones, p99 and p999.

stuck_rate=1000
stuck_ms=2000
# measured seconds: the stall starts after stuck_lead of them
stuck_secs=5
stuck_lead=1.5
# nginx-queue: the same nginx, adopted by "reuselb attach --policy queue --follow" (the
# follower writes the depths where the program cannot read them), stalled like nginx
stuck_contenders="kernel round-robin least-conn queue nginx nginx-queue"

stuck_title() {
	echo "(f) stuck worker: ${stuck_rate}/s open loop over new connections, one worker stops" \
		"accepting for ${stuck_ms} ms in the middle"
}

# Stalls one worker of the running contender $1 for stuck_ms, in the background.
stuck_stall() {
	if [ "$1" = nginx ] || [ "$1" = nginx-queue ]; then
		local victim
		victim=$(pgrep -P "$server_pid" | sort -n | head -1)
		(
			kill -STOP "$victim"
			sleep "$(awk -v ms="$stuck_ms" 'BEGIN { print ms / 1000 }')"
			kill -CONT "$victim"
		) &
	else
		# the request's own worker sleeps: whichever the policy gave it to
		(
			exec 3<>"/dev/tcp/127.0.0.1/$server_port"
			printf 'GET /stall?ms=%s HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n' \
				"$stuck_ms" >&3
			cat <&3 >/dev/null
		) &
	fi
	stall_pid=$!
}

# One run of contender $1, round $2: appends "contender rep requests late failed p99 p999" to
# $work/stuck.
stuck_one() {
	local name=$1 rep=$2 raw=$work/raw/stuck.$1.$2 lg attach_pid=
	if ! start_server "${name%-queue}" http; then
		log "stuck: $name did not start: $(tail -1 "$work/server.out")"
		failed+=("stuck/$name")
		stop_server
		return
	fi
	if [ "$name" = nginx-queue ] && ! stuck_attach; then
		log "stuck: reuselb attach did not take nginx: $(tail -1 "$work/attach.out")"
		failed+=("stuck/$name")
		[ -n "$attach_pid" ] && kill "$attach_pid" && wait "$attach_pid"
		stop_server
		return
	fi
	nice -n "$prio" taskset -c "$lg_cpus" "$loadgen" -p "$server_port" -m conn -c 4096 \
		-r "$stuck_rate" -d "$stuck_secs" -W 0 -T 10000 -o "$raw.cdf" >"$raw" 2>&1 &
	lg=$!
	# the stall is placed in time within the run: a time window is what this scenario is
	sleep "$stuck_lead"
	stuck_stall "$name"
	if ! wait "$lg"; then
		log "stuck: $name did not answer (round $rep):"
		sed 's/^/    /' "$raw" >&2
		failed+=("stuck/$name")
	fi
	wait "$stall_pid" 2>/dev/null || true
	if [ -n "$attach_pid" ]; then
		# --detach-on-exit: nginx goes back to the kernel's hash before it stops
		kill "$attach_pid"
		wait "$attach_pid" || log "stuck: reuselb attach ended badly: $(tail -1 "$work/attach.out")"
	fi
	stop_server
	awk -v name="$name" -v rep="$rep" -v cdf="$raw.cdf" '
		BEGIN {
			# the fraction answered within 100 ms: the CDF point at or below it
			f = 0
			while ((getline line < cdf) > 0) {
				split(line, a, " ")
				if (a[1] + 0 <= 100000)
					f = a[2] + 0
			}
		}
		{ v[$1] = $2 }
		END {
			n = v["requests"] + 0
			printf "%s %s %d %.0f %d %d %d\n", name, rep, n, n * (1 - f),
				v["errors"] + v["timeouts"] + v["unsent"], v["p99_us"] + 0, v["p999_us"] + 0
		}' "$raw" >>"$work/stuck"
}

# Adopts the running nginx with the queue policy, following it; sets attach_pid once the
# group is attached (its list entry names it adopted).
stuck_attach() {
	local i
	"$reuselb" attach -a 127.0.0.1 -p "$server_port" --policy queue --follow \
		--detach-on-exit >"$work/attach.out" 2>&1 &
	attach_pid=$!
	for ((i = 0; i < 100; i++)); do
		"$reuselb" list -p "$server_port" --json 2>/dev/null | grep -q '"adopted":true' &&
			return 0
		kill -0 "$attach_pid" 2>/dev/null || return 1
		sleep 0.05
	done
	return 1
}

# Round $1 of the scenario: every contender once, the order turning by one each round.
run_stuck() {
	local list i
	read -r -a list <<<"$stuck_contenders"
	if [ -n "$only_contenders" ]; then
		read -r -a list <<<"$(for i in "${list[@]}"; do
			[[ ",$only_contenders," == *",$i,"* ]] && echo "$i"; done | tr '\n' ' ')"
	fi
	# at a light fixed rate, like skew: neither side pinned
	lg_cpus=$all_cpus
	srv_cpus=$all_cpus
	for ((i = 0; i < ${#list[@]}; i++)); do
		stuck_one "${list[(i + $1 - 1) % ${#list[@]}]}" "$1"
	done
	log "round $1/$reps: stuck done ($((SECONDS - started)) s)"
}

# The scenario's table in the report: medians over the rounds, and the target.
write_stuck_report() {
	local name line base late
	echo
	echo "## $(stuck_title)"
	echo
	echo "loadgen -m conn -c 4096 -r $stuck_rate -d $stuck_secs; the stall starts ${stuck_lead} s" \
		"in: serve gets GET /stall?ms=$stuck_ms (its worker's thread sleeps), nginx a SIGSTOP" \
		"of one worker and a SIGCONT ${stuck_ms} ms later. Late: answered after more than" \
		"100 ms. Medians of $reps rounds."
	echo
	echo "| contender | connections | late (> 100 ms) | late × kernel | failed | p99 µs | p999 µs |"
	echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
	: >"$work/stuck.med"
	for name in $stuck_contenders; do
		awk -v c="$name" '$1 == c' "$work/stuck" 2>/dev/null | awk "$(cat "$top/bench/stats.awk")"'
			function med(k,   i, a) {
				for (i = 1; i <= NR; i++) a[i] = v[i, k]
				return median(a, NR)
			}
			{ for (k = 3; k <= 7; k++) v[NR, k] = $k + 0; c = $1 }
			END { if (NR) print c, med(3), med(4), med(5), med(6), med(7) }' >>"$work/stuck.med"
	done
	base=$(awk '$1 == "kernel" { print $3 }' "$work/stuck.med")
	for name in $stuck_contenders; do
		line=$(awk -v c="$name" '$1 == c' "$work/stuck.med")
		if [ -z "$line" ]; then
			echo "| $name | - | - | - | - | - | - |"
			continue
		fi
		read -r _ n late fails p99 p999 <<<"$line"
		echo "| $name | $n | $late | $(ratio "$late" "$base") | $fails | $p99 | $p999 |"
	done
	late=$(ratio "$(awk '$1 == "queue" { print $3 }' "$work/stuck.med")" "$base")
	echo
	echo "Target: queue's late connections ≤ 0.02× the kernel hash's: ${late}×," \
		"$(check "$late" "<=" 0.02). The queue policy reads the accept queues" \
		"$(if "$reuselb" probe 2>/dev/null | grep -q 'queue reads the accept queues in the program'; then
			echo "in the program (kfuncs)"; else echo "from sock_diag every few ms (no kfuncs)"; fi)."
}
