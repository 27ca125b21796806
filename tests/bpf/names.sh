#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# Group names and ports (issue 17, item 6): tcp-N and udp-N belong to port N and that
# protocol, and -p PORT finds the group whose sockets serve the port, whatever its name.
#
# 1. "serve -a 127.0.0.1 -p 0 --name ga" (port P).
# 2. Names that are another port's or protocol's default are refused before anything binds:
#    exit 2, one line naming the rule: --name tcp-P on port P+1, --name udp-P for tcp, --name
#    tcp-P for udp, --name tcp-P with -p 0, --name tcp-0P (no port's default, but of that
#    form). No group of those names appears.
# 3. -p P finds ga: stats, policy, drain, undrain and list -p act on it and say so.
# 4. A second group on port P, on 127.0.0.2 (gb): -p P is now ambiguous: exit 2, one line
#    naming both groups and their addresses, asking for --name; nothing changed. --name gb
#    acts on gb alone.
# 5. -p P --udp: no udp group on P, exit 2.
# 6. A group under its default name tcp-Q and a udp group on the same port Q named udp-Q (its
#    own default): -p Q and -p Q --udp find each.
# 7. A second group on ga's address and port, under its default name or another (steering or
#    policy kernel), would join ga's kernel group unsteered: exit 2, one line naming ga and its
#    pid, and no pins of it; ga keeps serving.
source "$(dirname "$0")/../lib/common.bash" || exit 1
need_tools jq

policy_of() {
	"$REUSELB" stats --name "$1" --json | jq -r .policy
}

# 1.
serve_start ga -a 127.0.0.1 -p 0 -w 2 --name ga --mode id || finish
P=${SERVE_PORT[ga]}
other=$((P < 65535 ? P + 1 : P - 1))

# 2.
expect "tcp-P on another port" 2 \
	"^reuselb serve: group name 'tcp-$P' is the default name of tcp port $P: the tcp group on port $other cannot take it" \
	"$REUSELB" serve -a 127.0.0.1 -p "$other" --name "tcp-$P" --mode id
expect "udp-P for tcp" 2 "^reuselb serve: group name 'udp-$P' is the default name of udp port $P" \
	"$REUSELB" serve -a 127.0.0.1 -p "$P" --name "udp-$P" --mode id
expect "tcp-P for udp" 2 "^reuselb serve: group name 'tcp-$P' is the default name of tcp port $P" \
	"$REUSELB" serve -a 127.0.0.1 -p "$P" --udp --name "tcp-$P" --mode id
expect "tcp-P on port 0" 2 "^reuselb serve: group name 'tcp-$P' is the default name of tcp port $P, not of a group on a port yet to be chosen" \
	"$REUSELB" serve -a 127.0.0.1 -p 0 --name "tcp-$P" --mode id
expect "tcp-0P on port P" 2 "^reuselb serve: group name 'tcp-0$P' has the form of a default name" \
	"$REUSELB" serve -a 127.0.0.1 -p "$P" --name "tcp-0$P" --mode id
for g in "tcp-$P" "udp-$P" "tcp-0$P"; do
	[ -e "/sys/fs/bpf/reuselb/$g" ] && fail "a refused serve left pins of $g"
done
# (other groups of the host may come and go meanwhile: only these names matter)
"$REUSELB" list --json | jq -e --arg t "tcp-$P" --arg u "udp-$P" \
	'[.groups[].name] | index("ga") and (index($t) | not) and (index($u) | not)' >/dev/null ||
	fail "groups after the refusals: $("$REUSELB" list)"

# 3.
expect "stats -p P" 0 "" "$REUSELB" stats -p "$P"
head -1 "$tmp/out" | grep -q "^group ga, " || fail "stats -p $P: $(head -1 "$tmp/out")"
expect "policy -p P" 0 "" "$REUSELB" policy -p "$P" hash
grep -q "^group ga: policy hash" "$tmp/out" || fail "policy -p $P: $(cat "$tmp/out")"
[ "$(policy_of ga)" = hash ] || fail "ga's policy: $(policy_of ga)"
expect "drain -p P" 0 "" "$REUSELB" drain -p "$P" 1
[ "$("$REUSELB" stats --name ga --json | jq -r '.workers[1].state')" = draining ] ||
	fail "drain -p $P did not drain ga's worker 1"
expect "undrain -p P" 0 "" "$REUSELB" undrain -p "$P" 1
expect "list -p P" 0 "" "$REUSELB" list -p "$P" --json
[ "$(jq -r '[.groups[].name] | join(" ")' "$tmp/out")" = ga ] || fail "list -p $P: $(cat "$tmp/out")"

# 4.
serve_start gb -a 127.0.0.2 -p "$P" -w 2 --name gb --mode id || finish
before=$("$REUSELB" stats --name ga --json; "$REUSELB" stats --name gb --json)
for cmd in "stats" "policy random" "weight 0 5" "drain 0" "list"; do
	read -r -a words <<<"$cmd"
	expect "$cmd -p P, two groups" 2 \
		"^reuselb ${words[0]}: 2 tcp groups serve port $P: ga on 127.0.0.1, gb on 127.0.0.2; name one with --name" \
		"$REUSELB" "${words[0]}" -p "$P" "${words[@]:1}"
done
after=$("$REUSELB" stats --name ga --json; "$REUSELB" stats --name gb --json)
[ "$before" = "$after" ] || fail "an ambiguous -p changed a group:"$'\n'"$before"$'\n'"$after"
expect "policy --name gb" 0 "" "$REUSELB" policy --name gb maglev
[ "$(policy_of gb)/$(policy_of ga)" = maglev/hash ] ||
	fail "policies after --name gb maglev: gb $(policy_of gb), ga $(policy_of ga)"

# 5.
expect "-p P --udp" 2 "^reuselb stats: no group udp-$P" "$REUSELB" stats -p "$P" --udp

# 6.
serve_start tq -a 127.0.0.1 -p 0 -w 1 --mode id || finish
Q=${SERVE_PORT[tq]}
serve_start uq -a 127.0.0.1 -p "$Q" --udp -w 1 --name "udp-$Q" --mode id || finish
expect "stats -p Q" 0 "" "$REUSELB" stats -p "$Q" --json
[ "$(jq -r .group "$tmp/out")" = "tcp-$Q" ] || fail "stats -p $Q: $(cat "$tmp/out")"
expect "stats -p Q --udp" 0 "" "$REUSELB" stats -p "$Q" --udp --json
[ "$(jq -r .group "$tmp/out")" = "udp-$Q" ] || fail "stats -p $Q --udp: $(cat "$tmp/out")"

# 7.
ga_pid=$("$REUSELB" list --json | jq -r '.groups[] | select(.name == "ga") | .pid')
for args in "" "--name gc" "--policy kernel"; do
	read -r -a words <<<"$args"
	expect "serve on ga's port ${args:-(default name)}" 2 \
		"^reuselb: tcp port $P is served by reuselb group ga \(pid $ga_pid\)" \
		"$REUSELB" serve -a 127.0.0.1 -p "$P" -w 1 --mode id "${words[@]}"
done
for g in "tcp-$P" gc; do
	[ -e "/sys/fs/bpf/reuselb/$g" ] && fail "a refused serve left pins of $g"
done
# --mode id answers "worker N" on connect: ga still serves its port
reply=$(timeout 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/$P && head -c 9 <&3")
[[ $reply =~ ^worker\ [01]$ ]] || fail "ga after the refusals answered '$reply'"

for s in uq tq gb ga; do
	serve_stop "$s" || fail "serve $s exited with $?"
done
finish
