#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# The kernel's limits, said once: "serve" prints one line on stderr with the BPF features it
# uses, those it misses, and for each missing one what is given up. Missing features are
# pretended with REUSELB_PROBE_DISABLE.
#
# | case                       | the features line                                       |
# | nothing disabled           | "missing none", nothing given up                        |
# | migrate disabled           | names migrate as missing (not among the used), and that |
# |                            | closing a worker resets its queued connections          |
# | migrate,mmapable disabled  | both missing; also no least-conn and no live load       |
# | migrate disabled, kernel   | no line at all: the kernel policy needs no BPF          |
# In every case the server serves (a connection reads "worker N"), stderr holds nothing else,
# and SIGTERM ends it with exit status 0.
source "$(dirname "$0")/../lib/common.bash" || exit 1

# run NAME DISABLE POLICY: serves with REUSELB_PROBE_DISABLE=DISABLE (unset if empty), asks
# one connection, stops; leaves stderr in $tmp/serve-NAME.err. Returns 1 if it did not serve.
run() {
	local name=$1 disable=$2 policy=$3 line conn status

	if [ -n "$disable" ]; then
		export REUSELB_PROBE_DISABLE=$disable
	else
		unset REUSELB_PROBE_DISABLE
	fi
	serve_start "$name" -a 127.0.0.1 -p 0 -w 2 --policy "$policy" --mode id
	status=$?
	unset REUSELB_PROBE_DISABLE
	[ "$status" = 0 ] || return 1
	line=
	if exec {conn}<>"/dev/tcp/127.0.0.1/${SERVE_PORT[$name]}"; then
		IFS= read -r -t 5 -u "$conn" line
		exec {conn}<&-
	fi
	[[ $line =~ ^worker\ [01]$ ]] || fail "$name: a connection read '$line', want 'worker N'"
	serve_stop "$name"
	status=$?
	[ "$status" = 0 ] || fail "$name: exit status $status after SIGTERM"
	return 0
}

# features NAME: the one line on stderr, checked to be the only one and a features line.
features() {
	local err="$tmp/serve-$1.err"

	if [ "$(wc -l <"$err")" != 1 ] || ! grep -q '^reuselb: kernel features: uses ' "$err"; then
		fail "$1: stderr is not one features line: $(head -c 600 "$err")"
		return 1
	fi
	cat "$err"
}

# used LINE: the features listed as used (between "uses" and ";").
used() {
	local u=${1#*uses }

	echo "${u%%;*}"
}

if run control "" round-robin && line=$(features control); then
	echo "control: $line"
	# what this kernel lacks for real: nothing, or (6.1) the kfuncs that let the program read
	# the accept queues itself, whose stand-in (sock_diag) the line names
	want=$("$REUSELB" probe | sed -n 's/^kernel features: //p')
	[[ $want == *"; missing none;"* || $want == *"; missing queue_kfuncs; queue reads"*"sock_diag"* ]] ||
		fail "control: this kernel lacks more than the queue kfuncs: $want"
	[[ $line == *"kernel features: $want" ]] || fail "control: not what probe says ($want): $line"
	[[ $line == *without* ]] && fail "control: something given up: $line"
fi

if run migrate migrate round-robin && line=$(features migrate); then
	echo "migrate: $line"
	[[ $line =~ missing.*migrate ]] || fail "migrate: not said to be missing: $line"
	[[ " $(used "$line") " == *" migrate "* ]] && fail "migrate: listed as used: $line"
	[[ $line =~ migrate[^\;]*clos[^\;]*worker[^\;]*reset ]] ||
		fail "migrate: does not say what is given up (a closing worker's queue is" \
			"reset): $line"
fi

if run both migrate,mmapable round-robin && line=$(features both); then
	echo "both: $line"
	for f in migrate mmapable; do
		[[ $line =~ missing.*$f ]] || fail "both: $f not said to be missing: $line"
		[[ " $(used "$line") " == *" $f "* ]] && fail "both: $f listed as used: $line"
	done
	[[ $line == *least-conn* ]] || fail "both: does not say least-conn is given up: $line"
	[[ $line =~ migrate[^\;]*reset ]] || fail "both: does not say what migrate gives up: $line"
fi

if run kernel migrate kernel; then
	[ -s "$tmp/serve-kernel.err" ] &&
		fail "kernel: stderr under the kernel policy:" \
			"$(head -c 300 "$tmp/serve-kernel.err")"
fi

finish
