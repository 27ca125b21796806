#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# `reuselb serve` start, traffic and stop under valgrind's memcheck:
# 1. it serves under valgrind (4 connections answered);
# 2. SIGTERM: exit 0, no error, and no byte definitely or indirectly lost.
# Run on the plain build only (label "valgrind"): valgrind cannot run an ASan binary.
source "$(dirname "$0")/../lib/common.bash" || exit 1
need_tools valgrind

# the server while it runs
pid=
# shellcheck disable=SC2016 # expanded when the hook runs, at exit
on_exit '[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null'

# vg_fail MESSAGE: fails and ends the test, with the start of valgrind's log, which says why.
vg_fail() {
	fail "$@"
	sed -n '1,60p' "$tmp/vg" 2>/dev/null
	finish
}

valgrind --leak-check=full --show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect \
	--suppressions="$RLB_SOURCE_DIR/tests/valgrind.supp" --error-exitcode=3 --log-file="$tmp/vg" \
	"$REUSELB" serve -a 127.0.0.1 -p 0 -w 2 --mode id --policy round-robin >"$tmp/out" &
pid=$!
for _ in $(seq 300); do
	grep -q '^reuselb: serving' "$tmp/out" && break
	kill -0 "$pid" 2>/dev/null || vg_fail "serve died under valgrind: $(cat "$tmp/out")"
	sleep 0.1
done
port=$(sed -n 's/^reuselb: serving .* port \([0-9]*\),.*/\1/p' "$tmp/out")
[ -n "$port" ] || vg_fail "serve did not start under valgrind"

# 1.
for _ in 1 2 3 4; do
	exec 3<>"/dev/tcp/127.0.0.1/$port" || vg_fail "connect"
	read -r -t 10 word _ <&3
	exec 3<&-
	[ "$word" = worker ] || vg_fail "no answer under valgrind"
done

# 2.
kill -TERM "$pid"
wait "$pid"
status=$?
pid=
grep -E "ERROR SUMMARY|definitely lost|indirectly lost" "$tmp/vg"
[ "$status" = 0 ] || vg_fail "exit status $status (3: valgrind found errors or leaks)"
grep -q "ERROR SUMMARY: 0 errors" "$tmp/vg" || vg_fail "valgrind reported errors"
finish
