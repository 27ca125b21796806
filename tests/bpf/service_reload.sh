#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# reuselb@.service's own ExecStart and ExecReload, run as systemd runs them, with the test as
# the service manager (no systemd here): its notify socket (rlbnotify, which tracks MAINPID=
# as systemd does) and a "systemctl show --property=MainPID --value UNIT" that answers from it.
# A reload under load refuses no connection, and the main pid moves to the new instance.
#
# 1. /etc/reuselb/%i.conf's stand-in: REUSELB_OPTS="-a 127.0.0.1 -p PORT -w 2 --mode http
#    --confirm 500"; the unit's commands read from contrib/systemd/reuselb@.service.in with
#    the build's binary, %i = reload-PID, %n = reuselb@reload-PID.service, $$ = $, and
#    $REUSELB_OPTS / ${REUSELB_OPTS} its value, as systemd expands them.
# 2. ExecStart in the background (its pid the main pid): "PID READY=1" from it.
# 3. rlbload at 500 connections/s for the whole test; once 300 are accepted, ExecReload (sh,
#    with MAINPID set, as systemd sets it): exits 0 within 60 s; by then the main pid is the
#    new instance's, which the old one said (OLD MAINPID=NEW) and the new one too (NEW
#    MAINPID=NEW, NEW READY=1); the old one exits 0 by itself, without STOPPING=1.
# 4. 300 connections later, a reload that cannot take over (the conf names another port: the
#    new instance exits 2) exits 1, and the main pid stays.
# 5. 300 more, then the load stops: every connection answered, not one refused.
# 6. SIGTERM to the main pid: "NEW STOPPING=1", it exits, the group's pins are gone.
source "$(dirname "$0")/../lib/common.bash" || exit 1
need_tools jq

name=reload-$$
unit=reuselb@$name.service
pids=()
# shellcheck disable=SC2016 # expanded when the hook runs, at exit
on_exit 'for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; done'

hold_start || fail_now "rlbhold found no free port"
port=$held
hold_stop
opts="-a 127.0.0.1 -p $port -w 2 --mode http --confirm 500"
echo "REUSELB_OPTS=\"$opts\"" >"$tmp/$name.conf"

# 1. the unit's commands, continuation lines joined
src=$RLB_SOURCE_DIR/contrib/systemd/reuselb@.service.in
sed -e ':a' -e '/\\$/N; s/\\\n//; ta' "$src" | sed "s#@RLB_SBINDIR@#$RLB_BIN_DIR#g" >"$tmp/unit"
grep -qxF 'EnvironmentFile=/etc/reuselb/%i.conf' "$tmp/unit" || fail "the unit reads another file"
start=$(sed -n 's/^ExecStart=//p' "$tmp/unit")
reload=$(sed -n 's/^ExecReload=//p' "$tmp/unit")
[ -n "$start" ] && [ -n "$reload" ] || fail_now "no ExecStart or ExecReload in $src"
# systemd's expansion: specifiers, then $$, then the variable (as one word, or split)
expand() {
	local s=$1
	s=${s//%i/$name}
	s=${s//%n/$unit}
	s=${s//\$\{REUSELB_OPTS\}/$opts}
	s=${s//\$REUSELB_OPTS/$opts}
	s=${s//\$\$/\$}
	printf '%s' "$s"
}
start=$(expand "$start")
# ExecReload=/bin/sh -c '...': argv is /bin/sh, -c and the text between the quotes
[[ $reload =~ ^/bin/sh\ -c\ \'(.*)\'$ ]] || fail_now "ExecReload is not /bin/sh -c '...': $reload"
script=$(expand "${BASH_REMATCH[1]}")
echo "ExecStart: $start"
echo "ExecReload: /bin/sh -c '$script'"

# the manager
"$RLB_BIN_DIR/rlbnotify" "$tmp/notify" "$tmp/mainpid" >"$tmp/notify.log" 2>&1 &
pids+=($!)
disown $! # killed at exit: no notice of it
for ((i = 0; i < 500; i++)); do
	grep -q listening "$tmp/notify.log" && break
	sleep 0.01
done
grep -q listening "$tmp/notify.log" || fail_now "rlbnotify: $(cat "$tmp/notify.log")"
mkdir -p "$tmp/fakebin"
cat >"$tmp/fakebin/systemctl" <<EOT
#!/bin/sh
[ "\$*" = "show --property=MainPID --value $unit" ] || { echo "systemctl \$*: not this" >&2; exit 1; }
cat "$tmp/mainpid"
EOT
chmod +x "$tmp/fakebin/systemctl"
export NOTIFY_SOCKET=$tmp/notify

# said PID TEXT: whether the manager got the line TEXT from PID
said() {
	grep -qxF "$1 $2" "$tmp/notify.log"
}
wait_said() {
	local i
	for ((i = 0; i < 3000; i++)); do
		said "$1" "$2" && return 0
		sleep 0.01
	done
	fail "no '$2' from pid $1; the manager got: $(cat "$tmp/notify.log")"
	return 1
}
accepted() {
	"$REUSELB" stats --name "$name" --json 2>/dev/null | jq '[.workers[].accepted] | add // 0'
}
# more N: waits (bounded) until the group has accepted N more connections
more() {
	local until=$(($(accepted) + $1)) i
	for ((i = 0; i < 3000; i++)); do
		[ "$(accepted)" -ge "$until" ] && return 0
		sleep 0.01
	done
	fail "fewer than $1 more connections accepted in 30 s"
	return 1
}

# 2.
# shellcheck disable=SC2086 # ExecStart's words, as systemd splits them
$start >"$tmp/old.out" 2>"$tmp/old.err" &
old=$!
pids+=("$old")
echo "$old" >"$tmp/mainpid"
wait_said "$old" READY=1 || fail_now "ExecStart did not get ready: $(cat "$tmp/old.err")"

# 3.
"$RLB_BIN_DIR/rlbload" -p "$port" -m http -d 120 -r 500 -t 30000 >"$tmp/load" &
load=$!
pids+=("$load")
more 300 || fail_now "the load did not get going: $(cat "$tmp/load")"
MAINPID=$old PATH=$tmp/fakebin:$PATH timeout 60 /bin/sh -c "$script" >"$tmp/reload.out" 2>&1
status=$?
[ "$status" = 0 ] || fail "ExecReload exited with $status: $(cat "$tmp/reload.out")"
new=$(cat "$tmp/mainpid")
pids+=("$new")
echo "reload: main pid $old -> $new"
[ "$new" != "$old" ] && kill -0 "$new" 2>/dev/null || fail_now "the main pid after the reload is '$new'"
said "$old" "MAINPID=$new" || fail "the old instance did not name $new the main pid"
wait_said "$new" "MAINPID=$new"
wait_said "$new" READY=1
wait "$old"
status=$?
[ "$status" = 0 ] || fail "the old instance exited with $status: $(cat "$tmp/old.err")"
said "$old" STOPPING=1 && fail "the old instance said STOPPING=1 after its handover"
grep -q "^reuselb: handed over group $name to pid $new" "$tmp/old.out" ||
	fail "the old instance did not hand over to $new: $(cat "$tmp/old.out")"

# 4.
more 300
echo "REUSELB_OPTS=\"-a 127.0.0.1 -p $((port == 65535 ? port - 1 : port + 1)) -w 2\"" >"$tmp/$name.conf"
bad=${script//-p $port /-p $((port == 65535 ? port - 1 : port + 1)) }
MAINPID=$new PATH=$tmp/fakebin:$PATH timeout 60 /bin/sh -c "$bad" >"$tmp/bad.out" 2>&1
status=$?
echo "a reload with another port: exit $status: $(head -c 300 "$tmp/bad.out")"
[ "$status" = 1 ] || fail "a reload whose instance cannot take over exited $status, want 1"
[ "$(cat "$tmp/mainpid")" = "$new" ] || fail "the main pid moved to $(cat "$tmp/mainpid")"
kill -0 "$new" 2>/dev/null || fail_now "the main instance died in a failed reload"

# 5.
more 300
kill -INT "$load"
wait "$load"
status=$?
cat "$tmp/load"
[ "$status" = 0 ] || fail "rlbload: exit $status: some connection failed across the reloads"
grep -q ' refused 0 reset 0 timeout 0 bad 0 error 0' "$tmp/load" || fail "connections failed"

# 6.
kill -TERM "$new"
for ((i = 0; i < 3000; i++)); do
	kill -0 "$new" 2>/dev/null || break
	sleep 0.01
done
kill -0 "$new" 2>/dev/null && fail "the main instance did not exit after SIGTERM"
said "$new" STOPPING=1 || fail "no STOPPING=1 from the main instance"
[ -e "/sys/fs/bpf/reuselb/$name" ] && fail "pins left in /sys/fs/bpf/reuselb/$name"
echo "the manager got:"
cat "$tmp/notify.log"
finish
