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
source "$(dirname "$0")/../lib/common.bash" || exit 1

# 1. The command line.
serve=("$REUSELB" serve -a 127.0.0.1 --mode id)
expect "unknown policy" 2 "nope" "${serve[@]}" -p 0 -w 2 --policy nope
expect "port 70000" 2 "70000" "${serve[@]}" -p 70000 -w 2 --policy round-robin
expect "-w 0" 2 "" "${serve[@]}" -p 0 -w 0 --policy round-robin
expect "-w 1000" 2 "1000" "${serve[@]}" -p 0 -w 1000 --policy round-robin

# 2. A port that a socket without SO_REUSEPORT holds.
if hold_start; then
	expect "port held" 1 "$held" "${serve[@]}" -p "$held" -w 2 --policy round-robin
else
	fail "rlbhold did not report a port"
fi
hold_stop

# 3. Without privileges, from a copy of the binary that user 65534 can reach.
nobody_copy
expect "not root" 1 "CAP_BPF" setpriv --reuid=65534 --regid=65534 --clear-groups \
	"$tmp/bin/reuselb" serve -a 127.0.0.1 -p 0 -w 2 --policy round-robin --mode id

finish
