#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# The systemd units (contrib/systemd) pass "systemd-analyze verify", and say what the
# notify protocol of serve (tests/bpf/service_notify.c) needs.
#
# 1. Each unit, made from its .in with the build's binary as @RLB_SBINDIR@/reuselb (verify
#    checks that the binary exists) and the build's man pages on MANPATH (it checks
#    Documentation=man:reuselb(8) too), verified as the template and as the instance "web":
#    exit 0, nothing on stderr.
# 2. The configured units of the build name the installed binary.
# 3. reuselb@.service: Type=notify, NotifyAccess=all (the handover's MAINPID comes from a
#    process that is not the main one), EnvironmentFile=/etc/reuselb/%i.conf, ExecStart with
#    --name %i, ExecReload with --takeover; reuselb-attach@.service runs attach --follow.
source "$(dirname "$0")/../lib/common.bash" || exit 1
need_tools systemd-analyze man

src=$RLB_SOURCE_DIR/contrib/systemd
mkdir -p "$tmp/units"
for unit in reuselb@.service reuselb-attach@.service; do
	sed "s#@RLB_SBINDIR@#$RLB_BIN_DIR#g" "$src/$unit.in" >"$tmp/units/$unit"
	cp "$tmp/units/$unit" "$tmp/units/${unit/@/@web}"
	for u in "$unit" "${unit/@/@web}"; do
		(cd "$tmp/units" && MANPATH=$RLB_BIN_DIR/man SYSTEMD_LOG_LEVEL=notice \
			systemd-analyze verify "./$u") >"$tmp/out" 2>&1 ||
			fail "systemd-analyze verify $u: exit $?: $(head -c 600 "$tmp/out")"
		[ -s "$tmp/out" ] && fail "systemd-analyze verify $u says: $(head -c 600 "$tmp/out")"
		echo "systemd-analyze verify $u: ok"
	done
	built=$RLB_BIN_DIR/systemd/$unit
	[ -s "$built" ] || fail "the build did not make $built"
	grep -q '@RLB_SBINDIR@' "$built" && fail "$built still has @RLB_SBINDIR@"
done

u=$tmp/units/reuselb@.service
for line in 'Type=notify' 'NotifyAccess=all' 'EnvironmentFile=/etc/reuselb/%i.conf' \
	"ExecStart=$RLB_BIN_DIR/reuselb serve --name %i \$REUSELB_OPTS"; do
	grep -qxF "$line" "$u" || fail "reuselb@.service has no line '$line'"
done
grep -q '^ExecReload=.*reuselb serve --name %i --takeover' "$u" ||
	fail "reuselb@.service: ExecReload does not start a --takeover instance"
grep -q "^ExecStart=$RLB_BIN_DIR/reuselb attach --follow .*--name %i" \
	"$tmp/units/reuselb-attach@.service" ||
	fail "reuselb-attach@.service does not run attach --follow --name %i"
finish
