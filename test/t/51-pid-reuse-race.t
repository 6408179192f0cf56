#!/bin/bash
# A container's pid reused while lrun kill is between its check and its
# signal: strace holds lrun's signal syscall back (3 s, as a busy machine
# might); meanwhile the container's init and monitor are SIGKILLed and the
# pid given to a host process (ns_last_pid, in a pid namespace of the
# test's own).  The signal then must not reach that process: lrun held the
# init through a pidfd, which still names the dead one.  For lrun kill
# (containers.json's pid) and the OCI mode's kill (its status file's).
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/ctr-test.sh"
for t in strace unshare pgrep; do
	command -v "$t" >/dev/null || skip_all "needs $t"
done
case $(uname -m) in
x86_64) KILL_NR=62 ;;
aarch64) KILL_NR=129 ;;
*) skip_all "kill's syscall number on $(uname -m) unknown here" ;;
esac
ctr_start 60

B=$T/bundle S=$T/oci
mkdir -p "$B" "$S"
fx_busybox_rootfs "$B/rootfs"
(cd "$B" && "$LRUN" spec) || bail "spec"
jq '.process.args = ["sleep", "300"] | .process.terminal = false' "$B/config.json" >"$B/c.json" && mv "$B/c.json" "$B/config.json"

# The story, as pid 1 of a new pid namespace (with its own /proc): MODE is
# lrun (run -d, kill) or oci (create, start, kill); its lines on stdout.
cat >"$T/race.sh" <<'STORY'
set -u
case $MODE in
lrun)
	"$LRUN" --root "$R" run -d --name race "$IMG" sleep 300 >/dev/null || { echo "run failed"; exit 1; }
	f=$R/overlay-containers/containers.json
	pid=$(jq '.[] | select(.names[0] == "race") | .flags["lrun.pid"]' "$f")
	mon=$(jq '.[] | select(.names[0] == "race") | .flags["lrun.monitor"]' "$f")
	set -- "$LRUN" --root "$R" kill race ;;
oci)
	"$LRUN" --root "$S" create --bundle "$B" race </dev/null >/dev/null 2>&1 && "$LRUN" --root "$S" start race ||
		{ echo "create failed"; exit 1; }
	pid=$(jq .pid "$S/race/status") mon=
	set -- "$LRUN" --root "$S" kill race KILL ;;
esac
strace -f -qq -o /dev/null -e trace=kill,pidfd_send_signal \
	-e inject=kill,pidfd_send_signal:delay_enter=3000000 "$@" >"$T/kill.out" 2>"$T/kill.err" &
tracer=$!
# until lrun is held at its signal (its /proc/PID/syscall names kill or pidfd_send_signal)
for i in $(seq 400); do
	child=$(pgrep -P "$tracer" | head -1) nr=
	[ -n "$child" ] && { read -r nr _ <"/proc/$child/syscall"; } 2>/dev/null
	[ "$nr" = "$KILL_NR" ] || [ "$nr" = 424 ] && break
	sleep 0.025
done
[ "$nr" = "$KILL_NR" ] || [ "$nr" = 424 ] || { echo "lrun never reached its signal"; exit 1; }
kill -9 $mon "$pid"
for i in $(seq 200); do
	kill -0 "$pid" 2>/dev/null || break # reaped by this shell, the namespace's init
	sleep 0.01
done
echo $((pid - 1)) >/proc/sys/kernel/ns_last_pid
sleep 300 &
host=$!
[ "$host" = "$pid" ] || { echo "the pid went to $host, not $pid"; exit 1; }
wait "$tracer"
echo "kill: $? $(cat "$T/kill.out" "$T/kill.err")"
sleep 0.2
kill -0 "$host" 2>/dev/null && echo "the host process lives" || echo "the host process was killed"
case $MODE in
lrun) "$LRUN" --root "$R" rm -f race >/dev/null ;;
oci) "$LRUN" --root "$S" delete -f race ;;
esac
kill -9 "$host"
STORY
export LRUN R S B IMG T KILL_NR
race() { MODE=$1 $TO unshare --pid --fork --mount-proc bash "$T/race.sh" 2>&1; }

out=$(race lrun)
is "$(sed -E 's/[0-9a-f]{64}/ID/' <<<"$out")" "kill: 125 Error: can only kill running containers. ID is in state exited: container state improper
the host process lives" "lrun kill held back, the pid reused meanwhile: the signal does not reach the new process, kill says the container exited"
is "$(L ps -a --format '{{.Names}}' | grep -cx race)" 0 "the container is removed"

out=$(race oci)
is "$out" "kill: 1 lrun: container not running
the host process lives" "OCI kill held back, the pid reused meanwhile: the signal does not reach the new process"
is "$(ls "$S")" "" "the OCI container is deleted"

done_testing
