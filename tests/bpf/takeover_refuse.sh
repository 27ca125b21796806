#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# Takeovers that must be refused or undone, and the owner that serves on through each.
#
# 1. A: "serve -a 127.0.0.1 -p PORT -w 2 --mode id --name tk-refuse-PID".
# 2. "--takeover" with --udp, with -a 127.0.0.2, with -p PORT+1: exit 2, one line naming what
#    differs (protocol, address, port); nothing claimed (config.successor 0), A still listed
#    as the owner and answering.
# 3. "--takeover" whose pin directory is on a read-only bpffs (a private mount namespace
#    where /sys/fs/bpf is remounted read-only, for that process only): exit 1, one line
#    saying so; A serves on, nothing claimed.
# 4. "serve --policy kernel" on PORT, at 127.0.0.1 and at 0.0.0.0: exit 2, one line naming
#    the group and A's pid; A serves on.
# 5. A successor that died after pointing config at its generation (forged in config: a dead
#    pid, state joined, base 64): A notices by itself, says so on stderr, and config is back
#    on A's generation with no successor; A answers.
# 6. B: --takeover --confirm 60000, so that A waits for a minute beside a serving B; SIGTERM
#    to A: exit 0, and the group is B's (list names B, B says A has exited); B answers.
# 7. SIGTERM to B: exit 0, the pins are gone.
source "$(dirname "$0")/../lib/common.bash" || exit 1
need_tools jq bpftool unshare

name=tk-refuse-$$
pins=/sys/fs/bpf/reuselb/$name
config=$pins/config

# field NAME: a field of the group's config, as bpftool formats it.
field() {
	bpftool -j map lookup pinned "$config" key 0 0 0 0 | jq -r ".formatted.value.$1"
}

# owner: the pid that list names for the group.
owner() {
	"$REUSELB" list | awk -v g="$name" '$1 == g { print $2 }'
}

# answers PORT: "--mode id" answers a connection with "worker N".
answers() {
	local line

	exec {c}<>"/dev/tcp/127.0.0.1/$1" || return 1
	IFS= read -r -t 5 -u "$c" line
	exec {c}<&-
	[[ $line =~ ^worker\ [0-9]+$ ]]
}

# serves_on WHAT: A still owns the group, nothing claims it, and it answers.
serves_on() {
	[ "$(owner)" = "${SERVE_PID[a]}" ] || fail "$1: list names '$(owner)', want A ${SERVE_PID[a]}"
	[ "$(field successor)" = 0 ] || fail "$1: config.successor is $(field successor)"
	answers "$port" || fail "$1: A does not answer on port $port"
}

# 1.
serve_start a -a 127.0.0.1 -p 0 -w 2 --mode id --name "$name" || finish
port=${SERVE_PORT[a]}

# 2.
lo="127\.0\.0\.1 port $port"
expect "takeover --udp" 2 "tcp $lo.*udp $lo \(the protocol differs\)" \
	"$REUSELB" serve -a 127.0.0.1 -p "$port" --udp --mode id --name "$name" --takeover
serves_on "after --udp"
expect "takeover -a 127.0.0.2" 2 "127\.0\.0\.2 port $port \(the address differs\)" \
	"$REUSELB" serve -a 127.0.0.2 -p "$port" --mode id --name "$name" --takeover
serves_on "after -a 127.0.0.2"
expect "takeover -p PORT+1" 2 "port $((port + 1)) \(the port differs\)" \
	"$REUSELB" serve -a 127.0.0.1 -p $((port + 1)) --mode id --name "$name" --takeover
serves_on "after -p PORT+1"

# 3.
expect "takeover on a read-only bpffs" 1 "read-only bpffs.*pid ${SERVE_PID[a]} keeps serving" \
	unshare -m --propagation private sh -c \
	'mount -o remount,bind,ro /sys/fs/bpf &&
	 exec "$0" serve -a 127.0.0.1 -p "$1" --mode id --name "$2" --takeover' \
	"$REUSELB" "$port" "$name"
serves_on "after the read-only bpffs"

# 4.
for addr in 127.0.0.1 0.0.0.0; do
	expect "policy kernel at $addr" 2 \
		"tcp port $port is served by reuselb group $name \(pid ${SERVE_PID[a]}\)" \
		"$REUSELB" serve -a "$addr" -p "$port" --mode id --policy kernel
done
serves_on "after policy kernel"

# 5. A pid that is surely gone: a child that ended and was reaped.
true &
dead=$!
wait "$dead"
value=$(bpftool -j map lookup pinned "$config" key 0 0 0 0 | jq -r --argjson pid "$dead" '
	def le32($n): [$n % 256, ($n / 256 | floor) % 256, ($n / 65536 | floor) % 256,
		       ($n / 16777216 | floor) % 256];
	[.value[] | ltrimstr("0x") | explode | map(if . >= 97 then . - 87 else . - 48 end) |
	 .[0] * 16 + .[1]] as $v |
	($v[0:8] + le32(64) + $v[12:28] + le32($pid) + $v[32:64] + le32(2) + le32(0) +
	 le32(0) + le32(2) + $v[0:4] + $v[84:88] + $v[88:]) | map(tostring) | join(" ")')
# shellcheck disable=SC2086
bpftool map update pinned "$config" key 0 0 0 0 value $value || fail "cannot forge config"
for ((i = 0; i < 600; i++)); do
	[ "$(field successor)" = 0 ] && break
	sleep 0.05
done
[ "$(field base)" = 0 ] || fail "config.base is $(field base) after the dead successor, want 0"
[ "$(field handover)" = RLB_HANDOVER_NONE ] || fail "config.handover is $(field handover)"
said="reuselb: pid $dead, taking group $name over, died (joined): the group is this instance's"
grep -q "$said again" \
	"$tmp/serve-a.err" || fail "A's stderr does not tell of pid $dead: $(cat "$tmp/serve-a.err")"
serves_on "after a dead successor"

# 6.
serve_start b -a 127.0.0.1 -p "$port" -w 2 --mode id --name "$name" --takeover --confirm 60000 ||
	finish
for ((i = 0; i < 1200; i++)); do
	[ "$(field handover)" = RLB_HANDOVER_SERVING ] && break
	sleep 0.05
done
[ "$(field handover)" = RLB_HANDOVER_SERVING ] || fail "B does not serve: $(field handover)"
serve_stop a
status=$?
[ "$status" = 0 ] || fail "A exited $status after SIGTERM beside a serving successor"
for ((i = 0; i < 1200; i++)); do
	[ "$(owner)" = "${SERVE_PID[b]}" ] && break
	sleep 0.05
done
[ "$(owner)" = "${SERVE_PID[b]}" ] || fail "after A's SIGTERM list names '$(owner)', want B"
answers "$port" || fail "B does not answer after A's SIGTERM"

# 7.
serve_stop b
status=$?
[ "$status" = 0 ] || fail "B exited $status after SIGTERM"
[ -e "$pins" ] && fail "$pins is left after B exited"
finish
