#!/bin/bash
# A container's recorded pid taken by an unrelated host process (the init
# died with its monitor, the kernel gave the pid to someone else): kill,
# stop, rm -f, exec, cp, top, inspect, stats and the OCI mode's kill,
# state, exec and delete never signal, enter or read that process, and
# the container reads as exited (137, the monitor never recorded its end),
# as podman reports a container whose conmon died.  The reuse is the
# record pointing at the host process: first with the dead init's start
# time (a later tick), then with the host process's own (a pid reused
# within the same clock tick, which the start time cannot tell apart).
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/ctr-test.sh"
ctr_start

# host_process: a host process that logs every catchable signal it gets;
# HOST its pid, HOST_START its start time (/proc/PID/stat's 22nd field)
host_process() {
	: >"$T/host.log"
	sh -c 'for s in TERM HUP INT QUIT USR1 USR2 CONT; do trap "echo $s >>$0" $s; done
		while :; do sleep 0.05; done' "$T/host.log" &
	HOST=$!
	disown "$HOST" # its end is the test's business, not a job report
	BG_PIDS+=("$HOST")
	HOST_START=$(sed 's/.*) //' "/proc/$HOST/stat" | cut -d' ' -f20)
}

# stale NAME [START]: NAME's init and monitor SIGKILLed (the record still
# says running), then its pid and its monitor's are HOST's, their start
# times START (default: the dead ones')
stale() {
	local name=$1 pid mon
	pid=$(ctr_field "$name" '.flags["lrun.pid"]') mon=$(ctr_field "$name" '.flags["lrun.monitor"]')
	kill -9 "$mon" "$pid"
	wait_for 5 sh -c "! kill -0 $pid 2>/dev/null && ! kill -0 $mon 2>/dev/null" || diag "$name's processes live on"
	local f=$R/overlay-containers/containers.json
	jq --arg n "$name" --argjson p "$HOST" --argjson s "${2:-null}" \
		'map(if .names[0] == $n then .flags["lrun.pid"] = $p | .flags["lrun.monitor"] = $p |
			(if $s then .flags["lrun.pid-start"] = $s | .flags["lrun.monitor-start"] = $s else . end) else . end)' \
		"$f" >"$f.new" && mv "$f.new" "$f"
	is "$(ctr_field "$name" '.flags["lrun.status"] + " " + (.flags["lrun.pid"] | tostring)')" "running $HOST" \
		"$name's record says running with the host process's pid"
}

# untouched WHAT: the host process lives, got no signal, and is not in a
# container's namespaces (nothing was made there)
untouched() {
	sleep 0.2 # a trap runs once the sleep in its loop ends
	kill -0 "$HOST" 2>/dev/null
	is "$?" 0 "$1: the host process lives"
	is "$(cat "$T/host.log")" "" "$1: and got no signal"
	[ ! -e "$T/entered" ]
	is "$?" 0 "$1: nothing ran in the host process's root"
}

# check NAME WHAT: every command that reaches a running container's init
check() {
	local name=$1 what=$2 id
	id=$(ctr_field "$name" .id)
	run L kill "$name"
	is "$rc:$err" "125:Error: can only kill running containers. $id is in state exited: container state improper$nl" \
		"$what: kill refuses, the container exited"
	run L kill -s USR1 "$name"
	is "$rc" 125 "$what: kill -s USR1 refuses"
	run L exec "$name" touch "$T/entered"
	is "$rc:$err" "255:Error: can only create exec sessions on running containers: container state improper$nl" \
		"$what: exec refuses (255, as podman's exec)"
	echo host-only >"$T/host-only"
	run L cp "$name:$T/host-only" "$T/copied"
	is "$rc" 125 "$what: cp does not read the host process's root"
	[ ! -e "$T/copied" ]
	is "$?" 0 "$what: nothing copied out"
	run L cp "$T/host-only" "$name:/from-host"
	is "$rc" 0 "$what: cp into the exited container writes its layer"
	[ ! -e /from-host ]
	is "$?" 0 "$what: not the host process's root"
	rm -f /from-host
	run L top "$name"
	is "$rc:$err" "125:Error: top can only be used on running containers: container state improper$nl" \
		"$what: top refuses"
	run L inspect --format '{{.State.Status}} {{.State.Running}} {{.State.Pid}}' "$name"
	is "$rc:$out" "0:exited false 0$nl" "$what: inspect: exited, not running, pid 0"
	run L ps -a --filter "name=^$name\$" --format '{{.Names}} {{.State}}'
	is "$out" "$name exited$nl" "$what: ps: exited"
	run L stats --no-stream --format '{{.Name}}' "$name"
	is "$rc" 125 "$what: stats refuses"
	run L run --rm --network "container:$name" "$IMG" true
	is "$((rc != 0)):$err" "1:Error: cannot join the network of container $name: it is not running$nl" \
		"$what: run --network container: refuses"
	run L run --rm --ipc "container:$name" --uts "container:$name" "$IMG" true
	is "$((rc != 0)):$err" "1:Error: cannot join the ipc namespace of container $name: it is not running$nl" \
		"$what: run --ipc, --uts container: refuse"
	untouched "$what"
	run L stop "$name"
	is "$rc:$out" "0:$name$nl" "$what: stop: done, nothing to stop"
	run L inspect --format '{{.State.Status}} {{.State.Pid}} {{.State.ExitCode}}' "$name"
	is "$out" "exited 0 137$nl" "$what: the exit is recorded: 137, as the monitor died first"
	run L rm -f "$name"
	is "$rc:$out" "0:$name$nl" "$what: rm -f removes the record"
	untouched "$what: after stop and rm -f"
}

# pidfs (Linux 6.9): a pidfd's file system, whose inodes tell processes apart
pidfs=$(python3 -c 'import os; fd = os.pidfd_open(os.getpid())
os.system("stat -L -f -c %%t /proc/%d/fd/%d" % (os.getpid(), fd))' 2>/dev/null)

host_process
L run -d --name later "$IMG" sleep 300 >/dev/null || bail "run -d later"
stale later
check later "reused in a later tick"

kill -9 "$HOST"
host_process
L run -d --name same "$IMG" sleep 300 >/dev/null || bail "run -d same"
# only the pidfd's inode (pidfs, Linux 6.9) tells a pid reused within the tick
if [ "$pidfs" = 50494446 ]; then
	stale same "$HOST_START"
	check same "reused in the same tick"
else
	L rm -f same >/dev/null
	skip "no pidfs (Linux 6.9): a pid reused within the same tick is not told apart"
fi

# --- without pidfd_open (before Linux 5.3, or a seccomp filter around lrun):
# strace makes it fail with ENOSYS; lrun holds the /proc directory alone
if command -v strace >/dev/null; then
	nopidfd() { $TO strace -qq -o /dev/null -e trace=pidfd_open -e inject=pidfd_open:error=ENOSYS "$LRUN" --root "$R" "$@"; }
	L run -d --name fb "$IMG" sh -c 'trap "exit 7" USR1; while :; do sleep 0.1; done' >/dev/null || bail "run -d fb"
	run nopidfd exec fb cat /etc/hostname
	is "$rc:$out" "0:$(ctr_field fb .id | cut -c1-12)$nl" "no pidfd_open: exec enters the container"
	run nopidfd kill -s USR1 fb
	is "$rc:$out" "0:fb$nl" "no pidfd_open: kill signals it"
	run nopidfd wait fb
	is "$rc:$out" "0:7$nl" "no pidfd_open: wait: the USR1 trap's exit status"
	L rm -f fb >/dev/null
	kill -9 "$HOST" 2>/dev/null
	host_process
	L run -d --name fb2 "$IMG" sleep 300 >/dev/null || bail "run -d fb2"
	stale fb2
	run nopidfd kill fb2
	is "$rc" 125 "no pidfd_open, reused in a later tick: kill refuses"
	run nopidfd exec fb2 touch "$T/entered"
	is "$rc" 255 "no pidfd_open: exec refuses"
	run nopidfd wait fb2
	is "$rc:$out" "0:137$nl" "no pidfd_open: wait records the exit: 137, the monitor died first"
	untouched "no pidfd_open"
	L rm -f fb2 >/dev/null
else
	skip "no strace"
fi

# --- the OCI mode (runc's CLI): its state file's pid -----------------------
B=$T/bundle S=$T/oci
mkdir -p "$B" "$S"
fx_busybox_rootfs "$B/rootfs"
(cd "$B" && "$LRUN" spec) || bail "spec"
jq '.process.args = ["sleep", "300"] | .process.terminal = false' "$B/config.json" >"$B/c.json" && mv "$B/c.json" "$B/config.json"
oci() { $TO "$LRUN" --root "$S" "$@"; }
at_exit 'for c in $(ls "$S" 2>/dev/null); do "$LRUN" --root "$S" delete -f "$c" >/dev/null 2>&1; done'
for how in later same; do
	kill -9 "$HOST" 2>/dev/null
	host_process
	oci create --bundle "$B" "o-$how" </dev/null >/dev/null 2>&1 && oci start "o-$how" || bail "oci create o-$how"
	f=$S/o-$how/status
	if [ "$how" = same ] && [ "$pidfs" != 50494446 ]; then
		oci delete -f "o-$how"
		skip "no pidfs: a pid reused within the same tick is not told apart"
		continue
	fi
	pid=$(jq .pid "$f")
	kill -9 "$pid"
	wait_for 5 sh -c "! kill -0 $pid 2>/dev/null" || diag "o-$how's init lives on"
	if [ "$how" = same ]; then
		jq --argjson p "$HOST" --argjson s "$HOST_START" '.pid = $p | .["lrun.pid-start"] = $s' "$f" >"$f.new"
	else
		jq --argjson p "$HOST" '.pid = $p' "$f" >"$f.new"
	fi
	mv "$f.new" "$f"
	run oci state "o-$how"
	is "$(jq -r '.status + " " + (.pid | tostring)' <<<"$out")" "stopped 0" "OCI, reused in a $how tick: state says stopped, pid 0"
	run oci kill "o-$how" KILL
	is "$rc" 1 "OCI, $how: kill refuses"
	run oci kill --all "o-$how" TERM
	is "$rc" 1 "OCI, $how: kill --all refuses"
	run oci exec "o-$how" touch "$T/entered"
	is "$rc" 1 "OCI, $how: exec refuses"
	run oci ps "o-$how"
	is "$out" "PID   CMD$nl" "OCI, $how: ps lists nothing"
	run oci delete "o-$how"
	is "$rc" 0 "OCI, $how: delete of the stopped container"
	untouched "OCI, reused in a $how tick"
done

kill -9 "$HOST" 2>/dev/null
done_testing
