#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# Bad command lines of every group command, against a live group: each exits 2 with one
# line on stderr (and nothing on stdout), and the group is exactly as it was.
#
# 1. "serve -w 4 --mode id" with some traffic; stats --json and list --json kept as "before".
# 2. A table of cases per command and option: missing, empty, huge, negative, non-numeric,
#    out-of-range and repeated values; unknown policies, options and arguments; worker ids
#    past the group's 4; policy objects the group cannot take (truncated, not an object, XDP
#    programs only: one rule, bad input). Each: exit 2, one line that starts "reuselb CMD: "
#    and matches the case's pattern.
# 3. stats --json and list --json afterwards equal "before".
# 4. Not root (user nobody, no capabilities): stats, policy, weight, drain, undrain, list,
#    list -p and probe exit 1 with one line naming CAP_BPF; the group is still untouched.
# 5. probe as root: --json has the five features, all true on this kernel except what
#    REUSELB_PROBE_DISABLE hides; the table ends with the "kernel features:" line.
source "$(dirname "$0")/../lib/common.bash" || exit 1
need_tools jq

# 1. A group with some history.
serve_start id -a 127.0.0.1 -p 0 -w 4 --mode id || finish
port=${SERVE_PORT[id]}
"$RLB_BIN_DIR/rlbtally" -p "$port" -n 20 >/dev/null || fail "rlbtally"
"$REUSELB" weight -p "$port" 3 250 >/dev/null || fail "weight 3 250"
"$REUSELB" drain -p "$port" 2 >/dev/null || fail "drain 2"
wait_idle id
before=$(stats_json id)
list_before=$("$REUSELB" list -p "$port" --json)

huge=99999999999999999999999999999
long=$(printf 'x%.0s' {1..300})
P=(-p "$port")
# policy objects the group cannot take: whatever finds the fault, bad input (exit 2)
policies=$RLB_BIN_DIR/examples/policies
head -c 1000 "$policies/fill_first.bpf.o" >"$tmp/truncated.bpf.o"
# NAME | PATTERN | ARGS (split on blanks; the literal words EMPTY, HUGE, LONG, NL stand for
# "", a number past any integer, 300 characters, a value with a newline; TRUNCATED, SOURCE and
# BADTYPE for the first 1000 bytes of a policy object, a C source, an object of XDP programs)
cases=$(cat <<'EOF'
stats -p missing      | needs a value               | stats -p
stats -p empty        | bad port ''                 | stats -p EMPTY
stats -p 0            | bad port '0'                | stats -p 0
stats -p negative     | bad port '-1'               | stats -p -1
stats -p 65536        | bad port '65536'            | stats -p 65536
stats -p huge         | bad port '9999              | stats -p HUGE
stats -p name         | bad port 'http'             | stats -p http
stats -p twice        | --port given more than once | stats P P
stats --udp twice     | --udp given more than once  | stats P --udp --udp
stats --udp=yes       | --udp takes no value        | stats P --udp=yes
stats no group        | missing the group           | stats --json
stats -p and --name   | not both                    | stats P --name x
stats --name empty    | bad group name ''           | stats --name EMPTY
stats --name slash    | bad group name 'a/b'        | stats --name a/b
stats --name long     | bad group name 'xxx.*\.\.\. | stats --name LONG
stats --name newline  | bad group name 'a\?b'       | stats --name NL
stats --json twice    | --json given more than once | stats P --json --json
stats --watch missing | needs a value               | stats P --watch
stats --watch empty   | bad --watch ''              | stats P --watch EMPTY
stats --watch 0       | bad --watch '0'             | stats P --watch 0
stats --watch 3601    | bad --watch '3601'          | stats P --watch 3601
stats --watch -1      | bad --watch '-1'            | stats P --watch -1
stats --watch huge    | bad --watch '9999           | stats P --watch HUGE
stats --watch 1s      | bad --watch '1s'            | stats P --watch 1s
stats --watch twice   | --watch given more than once | stats P --watch 1 --watch 2
stats --count alone   | --count goes with --watch   | stats P --count 3
stats --count 0       | bad --count '0'             | stats P --watch 1 --count 0
stats unknown option  | unknown option '--bogus'    | stats P --bogus
stats short option    | unknown option '-x'         | stats P -x
stats argument        | unexpected argument 'now'   | stats P now
policy missing        | missing the policy          | policy P
policy unknown        | unknown policy 'nope': choose one of kernel, hash | policy P nope
policy empty          | unknown policy ''           | policy P EMPTY
policy case           | unknown policy 'HASH'       | policy P HASH
policy long           | unknown policy 'xxx.*\.\.\.' | policy P LONG
policy negative       | negative numbers            | policy P -3
policy two            | unexpected argument 'random' | policy P hash random
policy load missing   | load needs                  | policy P load
policy load empty     | load needs                  | policy P load EMPTY
policy load no file   | cannot load '/nonexistent/x.bpf.o': No such file | policy P load /nonexistent/x.bpf.o
policy load dir       | not a regular file          | policy P load /tmp
policy load truncated | cannot open .*truncated.bpf.o: .*format invalid | policy P load TRUNCATED
policy load text      | cannot open .*tenant.bpf.c  | policy P load SOURCE
policy load XDP       | bad_type.bpf.o has 0 sk_reuseport programs | policy P load BADTYPE
policy unload extra   | unexpected argument 'now'   | policy P unload now
policy -p twice       | more than once              | policy P P hash
weight missing both   | missing the worker and the weight | weight P
weight missing weight | missing the weight          | weight P 1
weight extra          | unexpected argument '7'     | weight P 1 5 7
weight worker empty   | bad worker ''               | weight P EMPTY 5
weight worker text    | bad worker 'one'            | weight P one 5
weight worker neg     | negative numbers            | weight P -1 5
weight worker huge    | bad worker '9999            | weight P HUGE 5
weight worker 4       | worker 4 out of range: group tcp-[0-9]+ has workers 0 to 3 | weight P 4 5
weight worker 64      | worker 64 out of range      | weight P 64 5
weight worker max     | worker 4294967295 out of range | weight P 4294967295 5
weight empty          | bad weight ''               | weight P 1 EMPTY
weight 1001           | bad weight '1001': give 0 to 1000 | weight P 1 1001
weight negative       | negative numbers            | weight P 1 -5
weight negative --    | bad weight '-5'             | weight P -- 1 -5
weight huge           | bad weight '9999            | weight P 1 HUGE
weight float          | bad weight '1.5'            | weight P 1 1.5
weight hex            | bad weight '0x10'           | weight P 1 0x10
weight -p twice       | more than once              | weight P P 1 5
drain missing         | missing the worker          | drain P
drain extra           | unexpected argument '2'     | drain P 1 2
drain empty           | bad worker ''               | drain P EMPTY
drain text            | bad worker 'all'            | drain P all
drain negative        | negative numbers            | drain P -1
drain huge            | bad worker '9999            | drain P HUGE
drain 4               | worker 4 out of range       | drain P 4
drain --name twice    | more than once              | drain --name a --name a 1
undrain missing       | missing the worker          | undrain P
undrain 4             | worker 4 out of range       | undrain P 4
undrain huge          | bad worker '9999            | undrain P HUGE
undrain text          | bad worker 'x'              | undrain P x
list argument         | unexpected argument 'all'   | list all
list --udp alone      | --udp goes with -p          | list --udp
list -p 0             | bad port '0'                | list -p 0
list --json twice     | more than once              | list --json --json
probe argument        | unexpected argument 'x'     | probe x
probe -p              | unknown option '-p'         | probe P
EOF
)

# 2. Every case.
while IFS='|' read -r name pattern words; do
	# read trims the blanks around the columns
	read -r name <<<"$name"
	read -r pattern <<<"$pattern"
	args=()
	for w in $words; do
		case $w in
		EMPTY) args+=("") ;;
		HUGE) args+=("$huge") ;;
		LONG) args+=("$long") ;;
		NL) args+=($'a\nb') ;;
		TRUNCATED) args+=("$tmp/truncated.bpf.o") ;;
		SOURCE) args+=("$RLB_SOURCE_DIR/examples/policies/tenant.bpf.c") ;;
		BADTYPE) args+=("$policies/bad_type.bpf.o") ;;
		P) args+=("${P[@]}") ;;
		*) args+=("$w") ;;
		esac
	done
	cmd=${args[0]}
	expect "$name" 2 "^reuselb $cmd: .*$pattern" "$REUSELB" "${args[@]}"
done <<<"$cases"
echo "$(grep -c . <<<"$cases") bad command lines tried"
expect "unknown command" 2 "unknown command 'stat'" "$REUSELB" stat -p "$port"

# 3. Nothing changed.
after=$(stats_json id)
[ "$before" = "$after" ] || fail "bad command lines changed the group:"$'\n'"$before"$'\n'"$after"
[ "$list_before" = "$("$REUSELB" list -p "$port" --json)" ] || fail "list changed"

# 4. Not root.
mkdir -p "$tmp/bin"
chmod 755 "$tmp" "$tmp/bin"
cp "$REUSELB" "$tmp/bin/reuselb"
nobody=(setpriv --reuid=65534 --regid=65534 --clear-groups "$tmp/bin/reuselb")
expect "not root: stats" 1 "^reuselb stats: .*CAP_BPF" "${nobody[@]}" stats "${P[@]}"
expect "not root: stats --json" 1 "CAP_BPF" "${nobody[@]}" stats "${P[@]}" --json
expect "not root: policy" 1 "^reuselb policy: .*CAP_BPF" "${nobody[@]}" policy "${P[@]}" hash
expect "not root: weight" 1 "^reuselb weight: .*CAP_BPF" "${nobody[@]}" weight "${P[@]}" 0 5
expect "not root: drain" 1 "^reuselb drain: .*CAP_BPF" "${nobody[@]}" drain "${P[@]}" 0
expect "not root: undrain" 1 "^reuselb undrain: .*CAP_BPF" "${nobody[@]}" undrain "${P[@]}" 2
expect "not root: list" 1 "^reuselb list: .*CAP_BPF" "${nobody[@]}" list
expect "not root: list -p" 1 "^reuselb list: .*CAP_BPF" "${nobody[@]}" list "${P[@]}"
expect "not root: probe" 1 "^reuselb probe: .*CAP_BPF" "${nobody[@]}" probe --json
# a usage error is still a usage error without privileges
expect "not root: bad weight" 2 "bad weight" "${nobody[@]}" weight "${P[@]}" 0 5000
[ "$before" = "$(stats_json id)" ] || fail "commands without privileges changed the group"

# 5. probe.
expect "probe --json" 0 "" "$REUSELB" probe --json
jq -e 'keys == (["btf","migrate","mmapable","sk_reuseport","sockhash_select"]) and
	all(.[]; type == "boolean") and .sk_reuseport' "$tmp/out" >/dev/null ||
	fail "probe --json: $(cat "$tmp/out")"
expect "probe disabled" 0 "" env REUSELB_PROBE_DISABLE=migrate,btf "$REUSELB" probe --json
jq -e '.migrate == false and .btf == false and .sk_reuseport' "$tmp/out" >/dev/null ||
	fail "probe with REUSELB_PROBE_DISABLE=migrate,btf: $(cat "$tmp/out")"
expect "probe" 0 "" "$REUSELB" probe
tail -1 "$tmp/out" | grep -q "^kernel features: uses sk_reuseport" ||
	fail "probe: last line: $(tail -1 "$tmp/out")"

serve_stop id || fail "serve exited with $?"
finish
