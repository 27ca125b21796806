# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# Helpers for the tests/bpf/cli_*.sh scripts, sourced by them (named .bash so that the test
# glob, *.sh, does not run it on its own): the root gate, checks that count failures, and
# "reuselb serve" started in the background and stopped by its pid.
#
# A server's stdout goes into a FIFO that the script keeps open: reading the ready line from
# it is the synchronisation (read -t bounds it), and the lines the server prints when it stops
# are read from it too.

set -u

failures=0
tmp=$(mktemp -d)
declare -A SERVE_PID SERVE_FD SERVE_PORT SERVE_LINE

cli_cleanup() {
	local name

	for name in "${!SERVE_PID[@]}"; do
		kill -KILL "${SERVE_PID[$name]}" 2>/dev/null
		{ wait "${SERVE_PID[$name]}"; } 2>/dev/null
	done
	rm -rf "$tmp"
}
trap cli_cleanup EXIT

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
for tool in jq bpftool; do
	if ! command -v "$tool" >/dev/null && ! [ -x "/usr/sbin/$tool" ]; then
		echo "FAIL: $tool is not installed (scripts/setup installs it)"
		exit 1
	fi
done
PATH=$PATH:/usr/sbin

fail() {
	echo "FAIL: $*" >&2
	failures=$((failures + 1))
}

finish() {
	if [ "$failures" != 0 ]; then
		echo "FAIL: $failures checks failed"
		exit 1
	fi
	echo PASS
	exit 0
}

# expect NAME STATUS PATTERN CMD...: runs CMD (bounded by timeout) and checks its exit status,
# that stderr is one line matching PATTERN (an extended regex; "" matches anything), and that
# a usage error printed nothing on stdout. Leaves stdout in $tmp/out, stderr in $tmp/err.
expect() {
	local name=$1 want=$2 pattern=$3 status lines
	shift 3

	timeout 10 "$@" </dev/null >"$tmp/out" 2>"$tmp/err"
	status=$?
	lines=$(wc -l <"$tmp/err")
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
	if ! IFS= read -r -t 10 -u "$fd" line; then
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
# client has its answer.
wait_idle() {
	local i

	for ((i = 0; i < 200; i++)); do
		[ "$(stats_json "$1" | jq '[.workers[].active] | add')" = 0 ] && return 0
		sleep 0.01
	done
	fail "server $1 still has active connections: $(stats_json "$1")"
	return 1
}
