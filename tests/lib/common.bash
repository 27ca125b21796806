# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# The prologue and helpers of every shell test, sourced first thing, relative to the script so
# that it is found wherever the tests are unpacked:
#	source "$(dirname "$0")/../lib/common.bash" || exit 1
# (named .bash so that the test glob, *.sh, does not run it on its own).
#
# Sourcing it exits 77 (skipped) unless the test runs as root, and 1 instead under CI=true,
# where a skip would hide a test that never ran; exits 1 outside ctest (REUSELB and RLB_BIN_DIR
# unset); makes $tmp, removed at exit once the commands given to on_exit have run and any
# server still running is killed. Then:
#	fail, fail_now, finish	checks that count failures, and the verdict
#	need_tools		the programs a test needs beyond the base system
#	expect			one command's exit status and its one line on stderr
#	nobody_copy		the binary where user 65534 can run it
#	hold_start, hold_stop	a port held by a plain listener (rlbhold)
#	serve_start, serve_stop	"reuselb serve" in the background, stopped by its pid
#	stats_json, wait_idle	a server's group as "reuselb stats --json" sees it
#
# A server's stdout goes into a FIFO that the script keeps open: reading the ready line from
# it is the synchronisation (read -t bounds it), and the lines the server prints when it stops
# are read from it too.

set -u

failures=0
tmp=$(mktemp -d)
exit_hooks=()
declare -A SERVE_PID SERVE_FD SERVE_PORT SERVE_LINE

# on_exit COMMAND: runs COMMAND (one line of shell) when the test exits, before $tmp goes.
on_exit() {
	exit_hooks+=("$1")
}

common_cleanup() {
	local hook name

	for hook in ${exit_hooks[@]+"${exit_hooks[@]}"}; do
		eval "$hook"
	done
	for name in "${!SERVE_PID[@]}"; do
		kill -KILL "${SERVE_PID[$name]}" 2>/dev/null
		{ wait "${SERVE_PID[$name]}"; } 2>/dev/null
	done
	rm -rf "$tmp"
}
trap common_cleanup EXIT

if [ "$(id -u)" != 0 ]; then
	if [ "${CI:-}" = true ]; then
		echo "FAIL: needs root, and CI=true does not allow a skip"
		exit 1
	fi
	echo "SKIP: needs root"
	exit 77
fi
if [ -z "${REUSELB:-}" ] || [ -z "${RLB_BIN_DIR:-}" ]; then
	echo "FAIL: REUSELB and RLB_BIN_DIR are not set: run the test through ctest"
	exit 1
fi
# bpftool and setpriv live there, and a root shell started by ctest need not have it
PATH=$PATH:/usr/sbin

fail() {
	echo "FAIL: $*" >&2
	failures=$((failures + 1))
}

# fail_now MESSAGE: fail, and end the test there: what follows depends on what failed.
fail_now() {
	fail "$@"
	finish
}

finish() {
	if [ "$failures" != 0 ]; then
		echo "FAIL: $failures checks failed"
		exit 1
	fi
	echo PASS
	exit 0
}

# need_tools TOOL...: exits 1 unless every TOOL is installed. A failure, not a skip: the suite
# is meant to run whole, and a missing tool would hide the test.
need_tools() {
	local tool

	for tool in "$@"; do
		if ! command -v "$tool" >/dev/null; then
			echo "FAIL: this test needs $tool, which is not installed"
			exit 1
		fi
	done
}

# expect NAME STATUS PATTERN CMD...: runs CMD (bounded by timeout) and checks its exit status;
# that stderr is empty for status 0, else one line matching PATTERN (an extended regex; ""
# matches anything); and that a usage error (status 2) printed nothing on stdout. Shows the
# status and stderr; leaves stdout in $tmp/out, stderr in $tmp/err.
expect() {
	local name=$1 want=$2 pattern=$3 status lines
	shift 3

	timeout 10 "$@" </dev/null >"$tmp/out" 2>"$tmp/err"
	status=$?
	lines=$(wc -l <"$tmp/err")
	echo "$name: exit $status, stderr: $(head -c 300 "$tmp/err")"
	[ "$status" = "$want" ] || fail "$name: exit status $status, want $want" \
		"(stderr: $(head -c 300 "$tmp/err"))"
	if [ "$want" = 0 ]; then
		[ "$lines" = 0 ] || fail "$name: stderr: $(head -c 300 "$tmp/err")"
		return
	fi
	[ "$lines" = 1 ] || fail "$name: $lines lines on stderr, want 1: $(head -c 600 "$tmp/err")"
	if [ "$want" = 2 ] && [ -s "$tmp/out" ]; then
		fail "$name: a usage error printed on stdout: $(head -c 300 "$tmp/out")"
	fi
	if [ -n "$pattern" ] && ! grep -Eq -- "$pattern" "$tmp/err"; then
		fail "$name: stderr does not match /$pattern/: $(head -c 300 "$tmp/err")"
	fi
}

# nobody_copy: copies the binary to $tmp/bin/reuselb, where user 65534 can run it whatever the
# permissions on the way to the build directory.
nobody_copy() {
	mkdir -p "$tmp/bin"
	chmod 755 "$tmp" "$tmp/bin"
	cp "$REUSELB" "$tmp/bin/reuselb"
}

# hold_start: a plain listener on 127.0.0.1 (rlbhold: no SO_REUSEPORT) at an ephemeral port,
# which it sets in $held; returns 1 if rlbhold reported none. hold_stop lets it go.
hold_start() {
	held=
	coproc HOLD { "$RLB_BIN_DIR/rlbhold" 127.0.0.1; }
	# bash unsets HOLD and HOLD_PID once the coprocess ends: keep copies
	hold_pid=$HOLD_PID hold_out=${HOLD[0]:-} hold_in=${HOLD[1]:-}
	[ -n "$hold_out" ] && read -r -t 10 held <&"$hold_out" && [ -n "$held" ]
}

hold_stop() {
	# EOF on its stdin lets rlbhold go
	[ -n "$hold_in" ] && exec {hold_in}>&-
	wait "$hold_pid" 2>/dev/null
}

# serve_start NAME ARGS...: "$REUSELB serve ARGS" in the background; waits for its ready line
# and sets SERVE_PID[NAME], SERVE_PORT[NAME] and SERVE_LINE[NAME] (the ready line). Returns 1
# if it did not get ready.
serve_start() {
	local name=$1 fifo="$tmp/serve-$1" fd line pid
	shift

	mkfifo "$fifo"
	"$REUSELB" serve "$@" >"$fifo" 2>"$tmp/serve-$name.err" &
	pid=$!
	exec {fd}<"$fifo"
	rm -f "$fifo"
	SERVE_PID[$name]=$pid
	SERVE_FD[$name]=$fd
	# as long as RLBT_START_TIMEOUT_MS (tests/lib/wait.h): loading the program may be slow
	if ! IFS= read -r -t 30 -u "$fd" line; then
		fail "serve $*: no ready line; stderr: $(head -c 300 "$tmp/serve-$name.err")"
		return 1
	fi
	if [[ ! $line =~ ^reuselb:\ serving\ (tcp|udp)\ [^\ ]+\ port\ ([0-9]+), ]]; then
		fail "serve $*: unexpected first line: $line"
		return 1
	fi
	SERVE_PORT[$name]=${BASH_REMATCH[2]}
	SERVE_LINE[$name]=$line
	return 0
}

# serve_stop NAME [SIGNAL]: signals the server (TERM by default), reads the rest of its stdout
# into $tmp/serve-NAME.out and returns its exit status (137 when it had to be killed).
serve_stop() {
	local name=$1 sig=${2:-TERM} pid=${SERVE_PID[$1]} fd=${SERVE_FD[$1]} line status

	kill "-$sig" "$pid" 2>/dev/null
	: >"$tmp/serve-$name.out"
	# EOF once the server has exited; a server that hangs is killed after the bound
	while IFS= read -r -t 10 -u "$fd" line; do
		echo "$line" >>"$tmp/serve-$name.out"
	done
	kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
	# (braces: bash's own "Killed" notice goes to the redirection too)
	{ wait "$pid"; } 2>/dev/null
	status=$?
	exec {fd}<&-
	unset "SERVE_PID[$name]" "SERVE_FD[$name]"
	return "$status"
}

# stats_json NAME: the group of server NAME as "reuselb stats --json" prints it.
stats_json() {
	"$REUSELB" stats -p "${SERVE_PORT[$1]}" --json
}

# wait_idle NAME: waits (bounded) until no worker of server NAME has a connection open, so
# that counters read afterwards are final. The workers report a close a moment after the
# client has its answer. Needs jq.
wait_idle() {
	local i

	for ((i = 0; i < 200; i++)); do
		[ "$(stats_json "$1" | jq '[.workers[].active] | add')" = 0 ] && return 0
		sleep 0.01
	done
	fail "server $1 still has active connections: $(stats_json "$1")"
	return 1
}
