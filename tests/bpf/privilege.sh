#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# What an unprivileged user can and cannot do, and what the pins let through. "Unprivileged"
# is user and group 65534 (nobody) with no capabilities at all (setpriv --inh-caps=-all),
# running a copy of the binary in a directory that nobody can reach.
#
# 1. As nobody, "serve --policy round-robin", on an ephemeral port (-p 0: the probe fails
#    first) and on a port held by a plain listener (-p PORT: creating the pin directory fails
#    first): exit 1, nothing on stdout (it never served), and one line on stderr that names
#    all it lacks, exactly: "reuselb: WHAT FAILED: run as root, or grant CAP_BPF, CAP_PERFMON,
#    CAP_NET_ADMIN and write access to bpffs at /sys/fs/bpf (CAP_DAC_OVERRIDE), or use
#    --policy kernel, which needs none".
# 2. As nobody, "serve --policy kernel -p 0 -a 127.0.0.1 --mode id -w 2" (no BPF at all):
#    it serves, as uid 65534, and says nothing on stderr; a connection reads "worker N";
#    SIGTERM: exit status 0.
# 3. A root "serve" (round-robin, --mode id) runs. As nobody, "stats -p PORT" and "policy -p PORT
#    hash": exit 1, one line naming CAP_BPF and CAP_NET_ADMIN each; the group's policy, as root
#    sees it, is still round-robin.
# 4. The pins of that group are root's alone: /sys/fs/bpf/reuselb and
#    /sys/fs/bpf/reuselb/tcp-PORT are directories of mode 0700 owned by root, every pin in it
#    is mode 0600 owned by root, and nobody cannot list the pin directory.
# 5. SIGTERM: exit status 0; the group's pins are gone.
#
# Every run is bounded (timeout, read -t).
source "$(dirname "$0")/../lib/common.bash" || exit 1
need_tools jq

caps_line='CAP_BPF.*CAP_NET_ADMIN|CAP_NET_ADMIN.*CAP_BPF'

# A copy of the binary that user 65534 can reach, and a wrapper that runs it as nobody without
# capabilities (it execs: the pid that serve_start records is the server's). bash, not sh: a
# busybox sh runs its own setpriv applet, which has no --reuid.
nobody_copy
cat >"$tmp/bin/as-nobody" <<EOF
#!/bin/bash
exec setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all "$tmp/bin/reuselb" "\$@"
EOF
chmod 755 "$tmp/bin/as-nobody"
nobody=("$tmp/bin/as-nobody")

# 1. A BPF policy without privileges: everything it lacks, in one line.
advice="run as root, or grant CAP_BPF, CAP_PERFMON, CAP_NET_ADMIN and write access to bpffs at"
advice+=" /sys/fs/bpf (CAP_DAC_OVERRIDE), or use --policy kernel, which needs none"
# serve_nobody PORT WANT: serve as nobody fails with exactly the line WANT
serve_nobody() {
	expect "serve -p $1 as nobody" 1 "" "${nobody[@]}" serve -a 127.0.0.1 -p "$1" -w 2 \
		--policy round-robin --mode id
	[ -s "$tmp/out" ] && fail "serve -p $1 as nobody printed on stdout: $(head -c 300 "$tmp/out")"
	[ "$(cat "$tmp/err")" = "$2" ] ||
		fail "serve -p $1 as nobody: stderr '$(head -c 600 "$tmp/err")', want '$2'"
}
serve_nobody 0 "reuselb: cannot probe the kernel's BPF features: Operation not permitted: $advice"
# mkdir in root's bpffs fails with EACCES whether or not the directory exists
if hold_start; then
	serve_nobody "$held" "reuselb: cannot create /sys/fs/bpf/reuselb: Permission denied: $advice"
else
	fail "rlbhold reported no port"
fi
hold_stop

# 2. The kernel policy needs no privilege.
real=$REUSELB
REUSELB="$tmp/bin/as-nobody"
if serve_start nobody -a 127.0.0.1 -p 0 -w 2 --policy kernel --mode id; then
	REUSELB=$real
	pid=${SERVE_PID[nobody]}
	uid=$(awk '/^Uid:/ { print $3 }' "/proc/$pid/status" 2>/dev/null)
	[ "$uid" = 65534 ] || fail "serve --policy kernel runs as uid '$uid', want 65534"
	line=
	if exec {conn}<>"/dev/tcp/127.0.0.1/${SERVE_PORT[nobody]}"; then
		IFS= read -r -t 5 -u "$conn" line
		exec {conn}<&-
	fi
	[[ $line =~ ^worker\ [01]$ ]] || fail "serve --policy kernel as nobody answered '$line'"
	serve_stop nobody
	status=$?
	[ "$status" = 0 ] ||
		fail "serve --policy kernel as nobody: exit status $status after SIGTERM"
	[ -s "$tmp/serve-nobody.err" ] &&
		fail "serve --policy kernel as nobody: stderr:" \
			"$(head -c 300 "$tmp/serve-nobody.err")"
fi
REUSELB=$real

# 3. A root-owned live group, seen by nobody.
if serve_start root -a 127.0.0.1 -p 0 -w 2 --policy round-robin --mode id; then
	port=${SERVE_PORT[root]}
	expect "stats as nobody" 1 "$caps_line" "${nobody[@]}" stats -p "$port"
	expect "policy as nobody" 1 "$caps_line" "${nobody[@]}" policy -p "$port" hash
	policy=$(stats_json root | jq -r .policy)
	[ "$policy" = round-robin ] || fail "the group's policy is '$policy' after nobody's attempt"

	# 4. The pins.
	dir=/sys/fs/bpf/reuselb/tcp-$port
	for d in /sys/fs/bpf/reuselb "$dir" "$dir/ctl_lock"; do
		mode=$(stat -c '%a %U %G %F' "$d" 2>&1)
		[ "$mode" = "700 root root directory" ] ||
			fail "$d: '$mode', want '700 root root directory'"
	done
	pins=0
	for f in "$dir"/*; do
		[ -f "$f" ] || continue
		pins=$((pins + 1))
		mode=$(stat -c '%a %U %G' "$f")
		[ "$mode" = "600 root root" ] || fail "pin $f: '$mode', want '600 root root'"
	done
	[ "$pins" -gt 0 ] || fail "no pins in $dir"
	setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all ls "$dir" \
		>/dev/null 2>&1 && fail "nobody can list $dir"

	# 5. Stopped: exit 0, pins gone.
	serve_stop root
	status=$?
	[ "$status" = 0 ] || fail "serve as root: exit status $status after SIGTERM"
	[ -e "$dir" ] && fail "$dir is left after the server exited"
fi

finish
