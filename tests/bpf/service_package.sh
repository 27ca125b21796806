#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# The Debian package (scripts/package), installed into this machine and removed again. It
# touches /usr: it refuses to run where reuselb is installed already (dpkg or a file of the
# package in place), and removes the package at exit whatever happened.
#
# 1. scripts/package (build in $RLB_BIN_DIR/pkg) makes reuselb_VERSION_ARCH.deb; lintian
#    reports no error (E:) on it; it depends on libbpf1, libelf1 and zlib1g.
# 2. dpkg -i installs it: /usr/sbin/reuselb --version is the build's version, and "reuselb
#    probe" exits 0.
# 3. man reuselb and man 7 reuselb-policy are found and render without warnings; the
#    installed units pass systemd-analyze verify; the completion is where bash-completion
#    looks (/usr/share/bash-completion/completions/reuselb) and completes "reuselb st".
# 4. A short serve from the installed binary: "-a 127.0.0.1 -p 0 -w 2 --mode id --name
#    pkg-PID", 100 connections by rlbload all answered, 50 per worker.
# 5. The example policy tenant.bpf.c from /usr/share/doc/reuselb/examples/policies builds
#    against the installed headers with the installed CMake helper (as reuselb-policy(7)
#    says), and "reuselb policy --name pkg-PID load" takes it: stats shows custom:tenant.
#    examples/threads.c builds with "pkg-config --cflags --libs reuselb" (installed .pc).
# 6. SIGTERM: the server exits 0. dpkg --purge: every file and directory the package
#    brought is gone, dpkg no longer knows it.
source "$(dirname "$0")/../lib/common.bash" || exit 1
need_tools dpkg dpkg-deb lintian man systemd-analyze cmake clang pkg-config

installed_by_us=false
spid=
# shellcheck disable=SC2016 # expanded when the hook runs, at exit
on_exit '[ -n "$spid" ] && kill -KILL "$spid" 2>/dev/null'
# shellcheck disable=SC2016
on_exit '$installed_by_us && dpkg-query -W reuselb >/dev/null 2>&1 && dpkg --purge reuselb >/dev/null'

if dpkg-query -W -f='${Status}' reuselb 2>/dev/null | grep -q installed; then
	fail_now "the package reuselb is installed on this machine already: not touching it"
fi
for f in /usr/sbin/reuselb /usr/include/reuselb /usr/lib/libreuselb.a; do
	[ -e "$f" ] && fail_now "$f exists already: not installing over it"
done

# 1.
OUT_DIR=$tmp PKG_BUILD_DIR=$RLB_BIN_DIR/pkg "$RLB_SOURCE_DIR/scripts/package" >"$tmp/package.out" \
	2>&1 || fail_now "scripts/package: $(tail -5 "$tmp/package.out")"
deb=$(tail -1 "$tmp/package.out")
version=$("$REUSELB" --version | sed 's/^reuselb //')
[ "$deb" = "$tmp/reuselb_${version}_$(dpkg --print-architecture).deb" ] && [ -f "$deb" ] ||
	fail_now "scripts/package made '$deb', want reuselb_${version}_ARCH.deb"
lintian "$deb" >"$tmp/lintian" 2>&1
echo "lintian: $(grep -c '^[EWI]:' "$tmp/lintian") tags"
cat "$tmp/lintian"
grep -q '^E:' "$tmp/lintian" && fail "lintian reports errors"
depends=$(dpkg-deb -f "$deb" Depends)
for d in libbpf1 libelf1 zlib1g; do
	[[ $depends == *"$d"* ]] || fail "Depends: $depends lacks $d"
done

# 2.
installed_by_us=true
dpkg -i "$deb" >"$tmp/dpkg.out" 2>&1 || fail_now "dpkg -i: $(tail -5 "$tmp/dpkg.out")"
[ "$(/usr/sbin/reuselb --version)" = "reuselb $version" ] ||
	fail "/usr/sbin/reuselb --version: $(/usr/sbin/reuselb --version)"
/usr/sbin/reuselb probe >"$tmp/probe" 2>&1 || fail "reuselb probe: exit $?: $(cat "$tmp/probe")"

# 3.
for page in "8 reuselb" "7 reuselb-policy"; do
	# shellcheck disable=SC2086 # section and name
	where=$(man -w $page 2>&1) || fail "man -w $page: $where"
	# shellcheck disable=SC2086
	MANWIDTH=80 man --warnings -E UTF-8 $page 2>"$tmp/man" >/dev/null || fail "man $page: exit $?"
	[ -s "$tmp/man" ] && fail "man --warnings $page: $(head -c 300 "$tmp/man")"
done
for unit in reuselb@.service reuselb-attach@.service; do
	[ -f "/lib/systemd/system/$unit" ] || { fail "$unit was not installed"; continue; }
	systemd-analyze verify "/lib/systemd/system/$unit" >"$tmp/verify" 2>&1 ||
		fail "systemd-analyze verify $unit: $(cat "$tmp/verify")"
	[ -s "$tmp/verify" ] && fail "systemd-analyze verify $unit says: $(cat "$tmp/verify")"
done
got=$(bash -c 'source /usr/share/bash-completion/completions/reuselb &&
	COMP_WORDS=(reuselb st) COMP_CWORD=1 && PATH=/usr/sbin:$PATH && _reuselb &&
	echo "${COMPREPLY[*]}"')
[ "$got" = stats ] || fail "the installed completion of 'reuselb st': '$got'"

# 4.
name=pkg-$$
/usr/sbin/reuselb serve -a 127.0.0.1 -p 0 -w 2 --mode id --name "$name" >"$tmp/serve.out" \
	2>"$tmp/serve.err" &
spid=$!
for ((i = 0; i < 1000; i++)); do
	grep -q '^reuselb: serving' "$tmp/serve.out" && break
	kill -0 "$spid" 2>/dev/null || break
	sleep 0.01
done
port=$(sed -n 's/^reuselb: serving tcp [^ ]* port \([0-9]*\),.*/\1/p' "$tmp/serve.out")
[ -n "$port" ] || fail_now "the installed serve did not start: $(cat "$tmp/serve.out" "$tmp/serve.err")"
"$RLB_BIN_DIR/rlbload" -p "$port" -m id -n 100 -r 1000 >"$tmp/load" || fail "rlbload: $(cat "$tmp/load")"
json=$(/usr/sbin/reuselb stats --name "$name" --json)
[ "$(jq -c '[.workers[].steered]' <<<"$json")" = "[50,50]" ] || fail "steered: $json"

# 5.
ex=/usr/share/doc/reuselb/examples
mkdir -p "$tmp/policy"
cp "$ex/policies/tenant.bpf.c" "$tmp/policy/"
cat >"$tmp/policy/CMakeLists.txt" <<'EOT'
cmake_minimum_required(VERSION 3.20)
project(mypolicies LANGUAGES NONE)
list(APPEND CMAKE_MODULE_PATH /usr/lib/cmake/reuselb)
include(ReuselbPolicy)
reuselb_policy(tenant tenant.bpf.c)
EOT
(cmake -S "$tmp/policy" -B "$tmp/policy/build" && cmake --build "$tmp/policy/build") \
	>"$tmp/policy.log" 2>&1 || fail "tenant.bpf.c does not build: $(tail -5 "$tmp/policy.log")"
/usr/sbin/reuselb policy --name "$name" load "$tmp/policy/build/tenant.bpf.o" >"$tmp/load.out" \
	2>&1 || fail "policy load of the built tenant.bpf.o: $(cat "$tmp/load.out")"
[ "$(/usr/sbin/reuselb stats --name "$name" --json | jq -r .policy)" = custom:tenant ] ||
	fail "stats does not show custom:tenant"
flags=$(pkg-config --cflags --libs reuselb) || fail "pkg-config reuselb (installed)"
# shellcheck disable=SC2086 # the flags are words
cc -Wall -Werror "$ex/threads.c" $flags -lpthread -o "$tmp/threads" 2>"$tmp/cc" ||
	fail "threads.c does not build with the installed reuselb.pc: $(head -5 "$tmp/cc")"

# 6.
kill -TERM "$spid"
wait "$spid"
status=$?
spid=
[ "$status" = 0 ] || fail "the installed serve exited with $status"
dpkg-deb -c "$deb" | awk '{ print substr($6, 2) }' | sed 's#/$##' | grep -v '^$' >"$tmp/paths"
dpkg --purge reuselb >"$tmp/dpkg.out" 2>&1 || fail "dpkg --purge: $(tail -3 "$tmp/dpkg.out")"
installed_by_us=false
dpkg-query -W reuselb >/dev/null 2>&1 && fail "dpkg still knows reuselb after --purge"
left=0
while read -r p; do
	# directories the system has anyway (/usr, /usr/share/man/man8, ...) stay
	[ -d "$p" ] && dpkg -S "$p" >/dev/null 2>&1 && continue
	[ -d "$p" ] && [ -n "$(ls -A "$p")" ] && continue
	if [ -e "$p" ]; then
		fail "left behind: $p"
		left=$((left + 1))
	fi
done <"$tmp/paths"
echo "package $deb: installed, served, built a policy, purged; $(wc -l <"$tmp/paths") paths, $left left"
finish
