#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# `reuselb serve` start, traffic and stop under valgrind's memcheck:
# 1. it serves under valgrind (4 connections answered);
# 2. SIGTERM: exit 0, no error, and no byte definitely or indirectly lost.
# Run on the plain build only (label "valgrind"): valgrind cannot run an ASan binary.
set -u

if [ "$(id -u)" != 0 ]; then
	[ "${CI:-}" = true ] && { echo "FAIL: needs root, and CI=true does not allow a skip"; exit 1; }
	echo "SKIP: needs root"
	exit 77
fi
command -v valgrind >/dev/null || { echo "FAIL: valgrind is missing: run scripts/setup"; exit 1; }
tmp=$(mktemp -d)
pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
fail() {
	echo "FAIL: $*"
	sed -n '1,60p' "$tmp/vg" 2>/dev/null
	exit 1
}

valgrind --leak-check=full --show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect \
	--suppressions="$RLB_SOURCE_DIR/tests/valgrind.supp" --error-exitcode=3 --log-file="$tmp/vg" \
	"$REUSELB" serve -a 127.0.0.1 -p 0 -w 2 --mode id --policy round-robin >"$tmp/out" &
pid=$!
for _ in $(seq 300); do
	grep -q '^reuselb: serving' "$tmp/out" && break
	kill -0 "$pid" 2>/dev/null || fail "serve died under valgrind: $(cat "$tmp/out")"
	sleep 0.1
done
port=$(sed -n 's/^reuselb: serving .* port \([0-9]*\),.*/\1/p' "$tmp/out")
[ -n "$port" ] || fail "serve did not start under valgrind"

# 1.
for _ in 1 2 3 4; do
	exec 3<>"/dev/tcp/127.0.0.1/$port" || fail "connect"
	read -r -t 10 word _ <&3
	exec 3<&-
	[ "$word" = worker ] || fail "no answer under valgrind"
done

# 2.
kill -TERM "$pid"
wait "$pid"
status=$?
pid=
grep -E "ERROR SUMMARY|definitely lost|indirectly lost" "$tmp/vg"
[ "$status" = 0 ] || fail "exit status $status (3: valgrind found errors or leaks)"
grep -q "ERROR SUMMARY: 0 errors" "$tmp/vg" || fail "valgrind reported errors"
echo "PASS"
