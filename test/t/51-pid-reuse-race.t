#!/bin/bash
# A container's pid reused while lrun kill is between its check and its
# signal: strace holds lrun's signal syscall back (3 s, as a busy machine
# might); meanwhile the container's init and monitor are SIGKILLed and the
# pid given to a host process (ns_last_pid, in a pid namespace of the
# test's own).  The signal then must not reach that process: lrun held the
# init through a pidfd, which still names the dead one.  For lrun kill
# (containers.json's pid) and the OCI mode's kill (its status file's); and
# lrun exec held back (at its signalfd, made between its check and the
# opening of the init's namespaces) never runs in that process's.  (cp,
# whose open of the root is in a child, would need strace -f, which hung
# at times with the delay.)
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/ctr-test.sh"
for t in strace unshare; do
	command -v "$t" >/dev/null || skip_all "needs $t"
done
case $(uname -m) in
x86_64) KILL_NR=62 SIGNALFD_NR=289 ;;
aarch64) KILL_NR=129 SIGNALFD_NR=74 ;;
*) skip_all "kill's syscall number on $(uname -m) unknown here" ;;
esac
ctr_start 60

B=$T/bundle S=$T/oci
mkdir -p "$B" "$S"
fx_busybox_rootfs "$B/rootfs"
(cd "$B" && "$LRUN" spec) || bail "spec"
jq '.process.args = ["sleep", "300"] | .process.terminal = false' "$B/config.json" >"$B/c.json" && mv "$B/c.json" "$B/config.json"

# The story, as pid 1 of a new pid namespace (with its own /proc): MODE is
# lrun (run -d, kill), exec (run -d, exec) or oci (create, start, kill);
# its lines on stdout.
cat >"$T/race.sh" <<'STORY'
set -u
trace=kill,pidfd_send_signal nrs="$KILL_NR 424"
case $MODE in
lrun | exec)
	"$LRUN" --root "$R" run -d --name race "$IMG" sleep 300 >/dev/null || { echo "run failed"; exit 1; }
	f=$R/overlay-containers/containers.json
	pid=$(jq '.[] | select(.names[0] == "race") | .flags["lrun.pid"]' "$f")
	mon=$(jq '.[] | select(.names[0] == "race") | .flags["lrun.monitor"]' "$f")
	set -- "$LRUN" --root "$R" kill race
	[ "$MODE" = exec ] && set -- "$LRUN" --root "$R" exec -w / race touch "$T/entered" && trace=signalfd4 nrs=$SIGNALFD_NR ;;
oci)
	"$LRUN" --root "$S" create --bundle "$B" race </dev/null >/dev/null 2>&1 && "$LRUN" --root "$S" start race ||
		{ echo "create failed"; exit 1; }
	pid=$(jq .pid "$S/race/status") mon=
	set -- "$LRUN" --root "$S" kill race KILL ;;
esac
strace -qq -o /dev/null -e trace=$trace -e inject=$trace:delay_enter=3000000 "$@" >"$T/kill.out" 2>"$T/kill.err" &
tracer=$!
# until lrun is held there: its /proc/PID/syscall names one of those (this
# namespace has none but the test's processes)
for i in $(seq 400); do
	nr=
	for p in /proc/[0-9]*; do
		{ read -r nr _ <"$p/syscall"; } 2>/dev/null
		[ -n "$nr" ] && [[ " $nrs " == *" $nr "* ]] && break 2
	done
	sleep 0.025
done
[ -n "$nr" ] && [[ " $nrs " == *" $nr "* ]] || { echo "lrun never reached $trace"; exit 1; }
kill -9 $mon "$pid"
for i in $(seq 200); do
	kill -0 "$pid" 2>/dev/null || break # reaped by this shell, the namespace's init
	sleep 0.01
done
echo $((pid - 1)) >/proc/sys/kernel/ns_last_pid
sleep 300 &
host=$!
disown "$host" # its end is no job report in the output
[ "$host" = "$pid" ] || { echo "the pid went to $host, not $pid"; exit 1; }
wait "$tracer"
echo "$MODE: $? $(cat "$T/kill.out" "$T/kill.err")"
sleep 0.2
kill -0 "$host" 2>/dev/null && echo "the host process lives" || echo "the host process was killed"
case $MODE in
lrun | exec) "$LRUN" --root "$R" rm -f race >/dev/null ;;
oci) "$LRUN" --root "$S" delete -f race ;;
esac
kill -9 "$host"
STORY
export LRUN R S B IMG T KILL_NR SIGNALFD_NR
race() { MODE=$1 $TO unshare --pid --fork --mount-proc bash "$T/race.sh" 2>&1; }

out=$(race lrun)
is "$(sed -E 's/[0-9a-f]{64}/ID/' <<<"$out")" "lrun: 125 Error: can only kill running containers. ID is in state exited: container state improper
the host process lives" "lrun kill held back, the pid reused meanwhile: the signal does not reach the new process, kill says the container exited"
is "$(L ps -a --format '{{.Names}}' | grep -cx race)" 0 "the container is removed"

out=$(race oci)
is "$out" "oci: 1 lrun: container not running
the host process lives" "OCI kill held back, the pid reused meanwhile: the signal does not reach the new process"
is "$(ls "$S")" "" "the OCI container is deleted"

out=$(race exec)
is "$(sed -E 's|/proc/[0-9]+/|/proc/PID/|' <<<"$out")" "exec: 255 Error: can only create exec sessions on running containers: container state improper
the host process lives" "lrun exec held back, the pid reused meanwhile: it does not run in the new process's namespaces"
[ ! -e "$T/entered" ]
is "$?" 0 "nothing ran in the host's root"

done_testing
