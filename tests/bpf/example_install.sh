#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# The library as another server uses it:
# 1. `cmake --install` into a fresh prefix gives libreuselb.a, the public headers and
#    reuselb.pc;
# 2. examples/threads.c builds against that copy with `pkg-config --cflags --libs reuselb`;
# 3. it serves: 8 connections under round-robin reach its 4 threads twice each, and its
#    group is pinned under /sys/fs/bpf/reuselb while it runs;
# 4. SIGTERM: it exits 0 and its pins are gone.
source "$(dirname "$0")/../lib/common.bash" || exit 1

# the example while it runs
pid=
# shellcheck disable=SC2016 # expanded when the hook runs, at exit
on_exit '[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null'

# 1.
cmake --install "$RLB_BIN_DIR" --prefix "$tmp/prefix" >"$tmp/install.log" ||
	fail_now "cmake --install: $(tail -3 "$tmp/install.log")"
for f in include/reuselb/reuselb.h include/reuselb/abi.h include/reuselb/policy.bpf.h; do
	[ -f "$tmp/prefix/$f" ] || fail_now "$f was not installed"
done
pc=$(dirname "$(find "$tmp/prefix" -name reuselb.pc)")
[ -n "$pc" ] || fail_now "reuselb.pc was not installed"

# 2.
flags=$(PKG_CONFIG_PATH=$pc pkg-config --cflags --libs reuselb) || fail_now "pkg-config reuselb"
echo "pkg-config --cflags --libs reuselb: $flags"
# shellcheck disable=SC2086 # the flags are words
"${RLB_CC:-cc}" ${RLB_CFLAGS:-} -Wall -Wextra -Werror "$RLB_SOURCE_DIR/examples/threads.c" $flags -lpthread \
	-o "$tmp/threads" || fail_now "examples/threads.c does not build against the installed copy"

# 3.
"$tmp/threads" 0 4 round-robin >"$tmp/out" &
pid=$!
for _ in $(seq 100); do
	grep -q "^serving" "$tmp/out" && break
	sleep 0.05
done
read -r _ _ group _ _ port <"$tmp/out"
[ -n "${port:-}" ] || fail_now "the example did not start: $(cat "$tmp/out")"
[ -d "/sys/fs/bpf/reuselb/$group" ] || fail_now "no pins at /sys/fs/bpf/reuselb/$group"
declare -A seen=()
for _ in $(seq 8); do
	exec 3<>"/dev/tcp/127.0.0.1/$port" || fail_now "connect to port $port"
	read -r -t 5 word id <&3
	exec 3<&-
	[ "$word" = worker ] || fail_now "unexpected answer '$word $id'"
	seen[$id]=$((${seen[$id]:-0} + 1))
done
for id in 0 1 2 3; do
	[ "${seen[$id]:-0}" = 2 ] || fail_now "thread $id answered ${seen[$id]:-0} of 8, want 2"
done

# 4.
kill -TERM "$pid"
wait "$pid"
status=$?
pid=
[ "$status" = 0 ] || fail_now "exit status $status after SIGTERM"
[ ! -e "/sys/fs/bpf/reuselb/$group" ] || fail_now "pins left behind in /sys/fs/bpf/reuselb/$group"
finish
