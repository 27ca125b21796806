#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# The real binary's errors: a wrong command line exits 2 without serving, a failure at run
# time exits 1, and either way stderr holds exactly one line that says what is wrong.
#
# 1. --policy nope, -p 70000, -w 0, -w 1000: exit 2, one line on stderr, nothing on stdout
#    (no ready line: it never served).
# 2. A port held by a plain listener (rlbhold: no SO_REUSEPORT): exit 1, one line on stderr.
# 3. Not root (setpriv to nobody, no capabilities): exit 1, one line, and it names CAP_BPF.
#
# Every run is bounded by timeout(1): a binary that wrongly starts serving is killed and the
# case fails (status 124) instead of hanging the suite.
set -u

failures=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

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

fail() {
	echo "FAIL: $*" >&2
	failures=$((failures + 1))
}

# expect NAME STATUS PATTERN CMD...: runs CMD and checks its exit status, that stderr is one
# line, and that the line matches PATTERN (an extended regex; "" matches anything).
expect() {
	local name=$1 want=$2 pattern=$3 status lines
	shift 3

	timeout 10 "$@" </dev/null >"$tmp/out" 2>"$tmp/err"
	status=$?
	lines=$(wc -l <"$tmp/err")
	echo "$name: exit $status, stderr: $(head -c 300 "$tmp/err")"
	[ "$status" = "$want" ] || fail "$name: exit status $status, want $want"
	[ "$lines" = 1 ] || fail "$name: $lines lines on stderr, want 1"
	if [ "$want" = 2 ] && [ -s "$tmp/out" ]; then
		fail "$name: a usage error printed on stdout: $(head -c 300 "$tmp/out")"
	fi
	if [ -n "$pattern" ] && ! grep -Eq -- "$pattern" "$tmp/err"; then
		fail "$name: stderr does not match /$pattern/"
	fi
}

# 1. The command line.
serve=("$REUSELB" serve -a 127.0.0.1 --mode id)
expect "unknown policy" 2 "nope" "${serve[@]}" -p 0 -w 2 --policy nope
expect "port 70000" 2 "70000" "${serve[@]}" -p 70000 -w 2 --policy round-robin
expect "-w 0" 2 "" "${serve[@]}" -p 0 -w 0 --policy round-robin
expect "-w 1000" 2 "1000" "${serve[@]}" -p 0 -w 1000 --policy round-robin

# 2. A port that a socket without SO_REUSEPORT holds.
# Bash unsets HOLD and HOLD_PID once the coprocess ends: keep copies.
coproc HOLD { "$RLB_BIN_DIR/rlbhold" 127.0.0.1; }
hold_pid=$HOLD_PID hold_out=${HOLD[0]:-} hold_in=${HOLD[1]:-}
if [ -n "$hold_out" ] && read -r -t 10 port <&"$hold_out" && [ -n "$port" ]; then
	expect "port held" 1 "$port" "${serve[@]}" -p "$port" -w 2 --policy round-robin
else
	fail "rlbhold did not report a port"
fi
# EOF on its stdin lets rlbhold go.
[ -n "$hold_in" ] && exec {hold_in}>&-
wait "$hold_pid" 2>/dev/null

# 3. Without privileges. A copy of the binary in a directory that user 65534 can reach, whatever the
# permissions on the way to the build directory.
mkdir -p "$tmp/bin"
chmod 755 "$tmp" "$tmp/bin"
cp "$REUSELB" "$tmp/bin/reuselb"
expect "not root" 1 "CAP_BPF" setpriv --reuid=65534 --regid=65534 --clear-groups \
	"$tmp/bin/reuselb" serve -a 127.0.0.1 -p 0 -w 2 --policy round-robin --mode id

if [ "$failures" != 0 ]; then
	echo "FAIL: $failures checks failed"
	exit 1
fi
echo PASS
