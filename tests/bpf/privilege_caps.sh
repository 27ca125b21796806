#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# The capability message is advice a user can follow: someone who is not root and grants the
# capabilities that "serve" says it lacks ends up with a server that runs, or with a message
# that names what is still missing. Run as user 65534 (nobody) with the granted capabilities
# as ambient ones (setpriv --inh-caps and --ambient-caps), from a copy of the binary in a
# directory that nobody can reach.
#
# 1. No capabilities: "serve -a 127.0.0.1 -p 0 -w 2 --policy round-robin --mode id" exits 1,
#    and its first line on stderr names CAP_BPF and CAP_NET_ADMIN.
# 2. Grant the capabilities that the first line advises ("... grant CAP_X, CAP_Y and ...";
#    any it names if it does not say "grant"), and start it again. It serves (its ready line
#    on stdout; then SIGTERM, exit status 0): the first message named everything. Should it
#    not, its first line on stderr must name a capability not yet granted, and the test goes
#    on granting (at most 4 rounds) to tell the user how far the advice leads, but fails.
#
# Every run is bounded (read -t, and a kill after it).
source "$(dirname "$0")/../lib/common.bash" || exit 1

nobody_copy

# try CAPS: runs serve as nobody with CAPS (setpriv's list, e.g. +bpf,+net_admin; -all for
# none). Sets $served (1 or 0), $status and $first (the first line on stderr).
try() {
	local caps=$1 fifo="$tmp/fifo" fd line pid
	local as=(setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps="$caps")

	# ambient capabilities survive the exec of a binary without file capabilities
	[ "$caps" != -all ] && as+=(--ambient-caps="$caps")
	mkfifo "$fifo"
	"${as[@]}" "$tmp/bin/reuselb" serve -a 127.0.0.1 -p 0 -w 2 --policy round-robin \
		--mode id >"$fifo" 2>"$tmp/err" &
	pid=$!
	exec {fd}<"$fifo"
	rm -f "$fifo"
	served=0
	if IFS= read -r -t 10 -u "$fd" line && [[ $line == "reuselb: serving "* ]]; then
		served=1
		kill -TERM "$pid"
	fi
	# EOF once it has exited; one that hangs is killed after the bound
	while IFS= read -r -t 10 -u "$fd" line; do :; done
	kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
	{ wait "$pid"; } 2>/dev/null
	status=$?
	exec {fd}<&-
	first=$(head -n 1 "$tmp/err")
}

# 1. Nothing granted.
try -all
if [ "$served" = 1 ] || [ "$status" != 1 ]; then
	fail "serve without capabilities: served $served, exit status $status"
elif ! [[ $first =~ CAP_BPF.*CAP_NET_ADMIN|CAP_NET_ADMIN.*CAP_BPF ]]; then
	fail "serve without capabilities: the message names not CAP_BPF and CAP_NET_ADMIN: $first"
fi

# 2. Follow the advice.
granted=()
for ((round = 1; round <= 4 && served == 0; round++)); do
	new=0
	# what to do: the capabilities after the last "grant" (else any the line names)
	advice=$first
	[[ $first == *"grant "* ]] && advice=${first##*grant }
	for cap in $(grep -o 'CAP_[A-Z_]*' <<<"$advice" | sort -u); do
		name=${cap#CAP_}
		name=${name,,}
		if [[ " ${granted[*]} " != *" $name "* ]]; then
			granted+=("$name")
			new=1
		fi
	done
	if [ "$new" = 0 ]; then
		fail "granted ${granted[*]:-nothing} as advised, serve still fails and names" \
			"nothing new: exit status $status, $(wc -l <"$tmp/err") lines on stderr," \
			"the first: $first"
		break
	fi
	caps=$(printf '+%s,' "${granted[@]}")
	caps=${caps%,}
	try "$caps"
	echo "granted $caps: served $served, exit status $status${first:+, first line: $first}"
done
if [ "$served" = 1 ]; then
	[ "$status" = 0 ] || fail "serve with ${granted[*]}: exit status $status after SIGTERM"
	[ "$round" = 2 ] || fail "the first message did not name all serve needs: it took" \
		"$((round - 1)) rounds of advice"
elif [ "$new" = 1 ]; then
	fail "serve still fails after 4 rounds of advice (granted ${granted[*]})"
fi

finish
