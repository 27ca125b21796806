#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# The steering program and the example policies do not grow unnoticed: a guard on the sizes
# that bench/run reports (issue 13).
#
# 1. "serve --policy hash" (TCP): the steering program's id from its ready line; load
#    examples/policies fill_first and tenant into it in turn, and dns_qname into a UDP group,
#    taking each one's id from the group's "custom" map.
# 2. For each, bench/proginfo reads xlated bytes, jited bytes and verified_insns (the
#    verifier's "processed N insns"): each is a number above 0, and the verifier's count is
#    below its limit of 1 000 000.
# 3. tests/bpf/prog_size.baseline records the sizes with the compiler and kernel they were
#    measured on (sizes are deterministic for one of each). When both match this machine's,
#    each number is at most 1.2 × its baseline, and every program of the baseline was measured.
#    When either differs, the test says which baseline it lacks and checks only 1 and 2; the
#    lines to check in for this machine are printed either way.
source "$(dirname "$0")/../lib/common.bash" || exit 1
need_tools jq bpftool clang

baseline=$RLB_SOURCE_DIR/tests/bpf/prog_size.baseline
proginfo=$RLB_BIN_DIR/bench/proginfo
policies=$RLB_BIN_DIR/examples/policies
[ -x "$proginfo" ] || fail_now "$proginfo is not built"
compiler=$(clang --version | head -1)
kernel=$(uname -r)
declare -A sizes

# measure NAME ID: sizes[NAME]="xlated jited insns" of program ID, checked for 2.
measure() {
	local name=$1 id=$2 line x j v

	line=$("$proginfo" "$id") || { fail "$name: proginfo $id failed"; return; }
	read -r _ x _ j _ v <<<"$line"
	echo "$name: $line"
	for n in "$x" "$j" "$v"; do
		[[ $n =~ ^[1-9][0-9]*$ ]] || fail "$name: a size that is not a number above 0: $line"
	done
	[ "${v:-0}" -lt 1000000 ] 2>/dev/null || fail "$name: verifier count at its limit: $line"
	sizes[$name]="$x $j $v"
}

# custom_id PORT PROTO: the id of the policy in group PROTO-PORT's custom map
custom_id() {
	bpftool -j map lookup pinned "/sys/fs/bpf/reuselb/$2-$1/custom" key 0 0 0 0 |
		jq -r '.formatted.value // empty'
}

# 1. The programs, loaded as a group loads them.
serve_start tcp -a 127.0.0.1 -p 0 -w 2 --policy hash --mode id || finish
port=${SERVE_PORT[tcp]}
id=$(sed -n 's/.*program id \([0-9]*\).*/\1/p' <<<"${SERVE_LINE[tcp]}")
[ -n "$id" ] || fail_now "no program id in the ready line: ${SERVE_LINE[tcp]}"
measure steer "$id"
for p in fill_first tenant; do
	expect "policy load $p" 0 "" "$REUSELB" policy -p "$port" load "$policies/$p.bpf.o"
	id=$(custom_id "$port" tcp)
	[ -n "$id" ] && measure "$p" "$id" || fail "$p: no program in tcp-$port's custom map"
done
serve_stop tcp
serve_start udp -a 127.0.0.1 -p 0 -w 2 --udp --policy hash --mode id || finish
port=${SERVE_PORT[udp]}
expect "policy load dns_qname" 0 "" "$REUSELB" policy -p "$port" --udp load \
	"$policies/dns_qname.bpf.o"
id=$(custom_id "$port" udp)
[ -n "$id" ] && measure dns_qname "$id" || fail "dns_qname: no program in udp-$port's custom map"
serve_stop udp

# 3. Against the baseline.
echo "this machine's baseline (tests/bpf/prog_size.baseline):"
{
	echo "compiler $compiler"
	echo "kernel $kernel"
	for name in steer fill_first tenant dns_qname; do
		echo "program $name ${sizes[$name]:-- - -}"
	done
} | sed 's/^/    /'
base_compiler=$(sed -n 's/^compiler //p' "$baseline")
base_kernel=$(sed -n 's/^kernel //p' "$baseline")
if [ "$base_compiler" != "$compiler" ] || [ "$base_kernel" != "$kernel" ]; then
	echo "NOTE: no baseline for '$compiler' on kernel $kernel (the baseline is for" \
		"'$base_compiler' on $base_kernel): sizes checked for being produced only"
	finish
fi
while read -r _ name x j v; do
	[ -n "${sizes[$name]:-}" ] || { fail "$name: in the baseline, not measured"; continue; }
	read -r cx cj cv <<<"${sizes[$name]}"
	for k in "xlated $x $cx" "jited $j $cj" "verified_insns $v $cv"; do
		read -r what b c <<<"$k"
		# more than 20 % above the baseline: c * 10 > b * 12
		if [ $((c * 10)) -gt $((b * 12)) ]; then
			fail "$name: $what $c is more than 20 % above the baseline's $b; if that is" \
				"meant, check the lines above in as the new baseline"
		fi
	done
done < <(grep '^program ' "$baseline")
finish
