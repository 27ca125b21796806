#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# bash completion (contrib/bash-completion/reuselb), sourced into this shell and called as
# bash calls it (COMP_WORDS, COMP_CWORD; "--policy=x" split at '=' as COMP_WORDBREAKS does),
# on the real binary; exact word lists.
#
# 1. "reuselb <TAB>": the commands "reuselb --help" lists, then help --help --version;
#    "reuselb st<TAB>": stats; "reuselb help <TAB>": the commands.
# 2. "reuselb CMD --<TAB>", for every command: exactly the long options of "reuselb CMD --help".
# 3. "serve --policy <TAB>" and "serve --policy=le<TAB>": every policy the library knows (the
#    table of reuselb serve --help: kernel ... queue), least-conn; "policy -p 8080 <TAB>":
#    those and load, unload; "--mode <TAB>": http echo id; "-p <TAB>": nothing.
# 4. A live group: "reuselb serve -a 127.0.0.1 -p 0 -w 1 --name compl-PID"; "stats --name
#    <TAB>" offers compl-PID, and "stats --name compl-<TAB>" exactly it; once the server has
#    stopped, not any more; "serve --name <TAB>" offers nothing (a new name).
source "$(dirname "$0")/../lib/common.bash" || exit 1

# shellcheck source=/dev/null
source "$RLB_SOURCE_DIR/contrib/bash-completion/reuselb" || fail_now "cannot source the completion"
complete -p reuselb >/dev/null || fail_now "the completion does not register for reuselb"

# comp WORD...: what completing the last word gives, one line, sorted
comp() {
	COMP_WORDS=("$REUSELB" "$@")
	COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
	COMP_LINE="${COMP_WORDS[*]}"
	COMP_POINT=${#COMP_LINE}
	COMPREPLY=()
	_reuselb
	printf '%s\n' "${COMPREPLY[@]}" | sort | paste -sd' ' -
}

# want WHAT GOT EXPECTED: GOT and EXPECTED as sorted word lists
want() {
	local exp
	exp=$(printf '%s\n' $3 | sort | paste -sd' ' -)
	[ "$2" = "$exp" ] || fail "$1: got '$2', want '$exp'"
}

commands=$("$REUSELB" --help | awk '/^Commands:$/ { f = 1; next } f && /^  [a-z]/ { print $1 } f && /^$/ { exit }')
want "reuselb <TAB>" "$(comp '')" "$commands help --help --version"
want "reuselb st<TAB>" "$(comp st)" "stats"
want "reuselb help <TAB>" "$(comp help '')" "$commands"
for c in $commands; do
	longs=$("$REUSELB" "$c" --help | grep -oE '^  (-[^ -], |    )--[a-z-]+' | grep -oE -- '--[a-z-]+')
	[ -n "$longs" ] || fail "reuselb $c --help lists no option"
	want "reuselb $c --<TAB>" "$(comp "$c" --)" "$longs"
done

policies="kernel hash source-ip round-robin random least-conn weighted maglev cpu quic-cid queue"
want "serve --policy <TAB>" "$(comp serve --policy '')" "$policies"
want "serve --policy=le<TAB>" "$(comp serve --policy = le)" "least-conn"
want "policy -p 8080 <TAB>" "$(comp policy -p 8080 '')" "$policies load unload"
want "serve --mode <TAB>" "$(comp serve --mode '')" "http echo id"
want "serve -p <TAB>" "$(comp serve -p '')" ""
want "serve --name <TAB>" "$(comp serve --name '')" ""

name=compl-$$
serve_start s -a 127.0.0.1 -p 0 -w 1 --name "$name" || finish
comp stats --name '' | grep -qw -- "$name" || fail "stats --name <TAB> does not offer $name"
want "stats --name compl-<TAB>" "$(comp stats --name compl-)" "$name"
serve_stop s || fail "serve exited with $?"
want "stats --name compl-<TAB> after the stop" "$(comp stats --name compl-)" ""
finish
