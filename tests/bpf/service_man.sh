#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# The man pages the build makes (build/man: reuselb(8) from the commands' --help,
# reuselb-policy(7) from docs/custom-policies.md) render without a warning and say what the
# binary says.
#
# 1. "groff -ww -z -man" and "man --warnings -l" (at 80 columns) on each page: exit 0, nothing
#    on stderr.
# 2. reuselb(8) has NAME, SYNOPSIS, DESCRIPTION, COMMANDS, EXIT STATUS, ENVIRONMENT, FILES,
#    EXAMPLES and SEE ALSO; every command "reuselb --help" lists is in COMMANDS with its
#    line from there, and has its subsection, and in
#    it, rendered, every option of "reuselb CMD --help" ("-p, --port=PORT" as shown) and its
#    Exit status; FILES names each map of RLB_MAPS (reuselb/abi.h) and the program pin.
# 3. A page made now from the binary (contrib/man/gen-man) is the build's page, byte for byte:
#    the build made it from this binary, not an older one.
# 4. reuselb-policy(7) has each "## " heading of docs/custom-policies.md as a section, and its
#    example's code (RLB_POLICY(lane)).
source "$(dirname "$0")/../lib/common.bash" || exit 1
need_tools groff man awk

man8=$RLB_BIN_DIR/man/man8/reuselb.8
man7=$RLB_BIN_DIR/man/man7/reuselb-policy.7
src=$RLB_SOURCE_DIR

for page in "$man8" "$man7"; do
	[ -s "$page" ] || fail_now "$page was not built"
	groff -ww -z -man "$page" 2>"$tmp/groff" || fail "groff -ww -z $page: exit $?"
	[ -s "$tmp/groff" ] && fail "groff -ww warns on $page: $(head -c 600 "$tmp/groff")"
	MANWIDTH=80 man --warnings -E UTF-8 -l "$page" >"$tmp/$(basename "$page").txt" 2>"$tmp/man" ||
		fail "man -l $page: exit $?"
	[ -s "$tmp/man" ] && fail "man --warnings on $page: $(head -c 600 "$tmp/man")"
done
# rendered at a width where no help line is broken, to compare with --help
MANWIDTH=200 man -E UTF-8 -l "$man8" 2>/dev/null | sed 's/‐/-/g' >"$tmp/reuselb.8.txt"

for s in NAME SYNOPSIS DESCRIPTION COMMANDS "EXIT STATUS" ENVIRONMENT FILES EXAMPLES "SEE ALSO"; do
	grep -q "^$s\$" "$tmp/reuselb.8.txt" || fail "reuselb(8) has no section $s"
done

commands=$("$REUSELB" --help | awk '/^Commands:$/ { f = 1; next } f && /^  [a-z]/ { print $1 } f && /^$/ { exit }')
[ "$(echo "$commands" | wc -w)" -ge 8 ] || fail_now "reuselb --help lists only: $commands"
# the list: each command with the line "reuselb --help" gives it
while read -r c what; do
	grep -qF -- "$what" "$tmp/reuselb.8.txt" || fail "reuselb(8) does not say of $c: $what"
done < <("$REUSELB" --help | awk '/^Commands:$/ { f = 1; next } f && /^$/ { exit } f')
checked=0
for c in $commands; do
	# the subsection: from "   reuselb CMD" to the next one or the next section
	awk -v h="   reuselb $c" '$0 == h { f = 1; next } f && (/^   reuselb [a-z]+$/ || /^[A-Z]/) { exit } f' \
		"$tmp/reuselb.8.txt" >"$tmp/sec"
	[ -s "$tmp/sec" ] || { fail "reuselb(8) has no subsection for 'reuselb $c'"; continue; }
	"$REUSELB" "$c" --help >"$tmp/help"
	while read -r head; do
		grep -qF -- "$head" "$tmp/sec" || fail "reuselb(8), reuselb $c: no option '$head'"
		checked=$((checked + 1))
	done < <(awk '/^  (-[^ -](, --|  )|    --)/ { sub(/^ +/, ""); sub(/  .*$/, ""); print }' "$tmp/help")
	if grep -q '^Exit status:$' "$tmp/help"; then
		grep -q 'Exit status:' "$tmp/sec" || fail "reuselb(8), reuselb $c: no Exit status"
	fi
done
echo "reuselb(8): $(echo $commands | wc -w) commands, $checked options, as their --help says"

while read -r map; do
	grep -q "\b$map\b" <(sed -n '/^FILES$/,/^EXAMPLES$/p' "$tmp/reuselb.8.txt") ||
		fail "reuselb(8) FILES does not name the map $map"
done < <(sed -n 's/^[[:space:]]*X([A-Z_]*, *\([a-z_]*\)).*/\1/p' "$src/include/reuselb/abi.h")
grep -q "the program steer" "$tmp/reuselb.8.txt" || fail "reuselb(8) FILES does not name steer"

"$src/contrib/man/gen-man" "$REUSELB" "$src" "$tmp/now.8" || fail "gen-man failed"
cmp -s "$tmp/now.8" "$man8" || fail "the built reuselb(8) is not what the binary makes now:" \
	"$(diff "$man8" "$tmp/now.8" | head -5)"

MANWIDTH=200 man -E UTF-8 -l "$man7" 2>/dev/null >"$tmp/policy.7.txt"
while read -r h; do
	h=${h#\#\# }
	grep -qxF "${h^^}" "$tmp/policy.7.txt" || fail "reuselb-policy(7) has no section '${h^^}'"
done < <(grep '^## ' "$src/docs/custom-policies.md")
grep -q 'RLB_POLICY(lane)' "$tmp/policy.7.txt" || fail "reuselb-policy(7) lacks the example's code"
finish
