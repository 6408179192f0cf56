#!/bin/bash
# The exit status comes from the process itself and survives its waiter:
# userdata/exit is written as the container is reaped; a record whose
# process and waiter are gone is repaired by the next ps; a SIGKILLed
# monitor does not turn exit 7 into 137; a SIGKILLed foreground run does not
# leave "running" forever; on a full disk run exits with the container's code.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/ctr-test.sh"
ctr_start 60
status() { jq -r --arg n "$1" '.[] | select(.names[0] == $n) | "\(.flags."lrun.status") \(.flags."lrun.exit-code")"' \
	"$R/overlay-containers/containers.json"; }
field() { jq -r --arg n "$1" --arg f "$2" '.[] | select(.names[0] == $n) | .flags[$f]' "$R/overlay-containers/containers.json"; }
userdata() { echo "$R/overlay-containers/$(jq -r --arg n "$1" '.[] | select(.names[0] == $n) | .id' "$R/overlay-containers/containers.json")/userdata"; }

# ------------------------------------------ the status file --
run L run --name seven "$IMG" sh -c 'exit 7'
is "$rc" 7 "run exits with the container's status"
is "$(head -n 1 "$(userdata seven)/exit")" 7 "userdata/exit keeps it"
is "$(status seven)" "exited 7" "the record says exited 7"

# ------------------------------------------ a SIGKILLed monitor --
# the container exits 7 while the store is locked, so its monitor has reaped
# it but not yet written the record when it is SIGKILLed
mkdir "$T/ctl" && mkfifo "$T/ctl/go"
L run -d --name mon -v "$T/ctl:/ctl" "$IMG" sh -c 'read x </ctl/go; exit 7' >/dev/null
mon=$(field mon lrun.monitor) pid=$(field mon lrun.pid)
ok "$( [ "$mon" -gt 0 ] && kill -0 "$mon"; echo $?)" "the detached container has a monitor"
# let the monitor reap, then kill it before the record is written: hold the
# store's containers.lock so its record write blocks
python3 -c 'import fcntl, sys, time
f = open(sys.argv[1], "r+"); fcntl.lockf(f, fcntl.LOCK_EX); print("locked", flush=True); time.sleep(30)' \
	"$R/overlay-containers/containers.lock" >"$T/lock.out" &
flock_pid=$!; BG_PIDS+=("$flock_pid")
wait_for 20 grep -q locked "$T/lock.out"
echo go >"$T/ctl/go"
wait_for 5 sh -c "! kill -0 $pid 2>/dev/null"
ok $? "the container exited while the store was locked"
wait_for 5 grep -q '^7$' "$(userdata mon)/exit"
ok $? "the monitor reaped it and wrote 7 to userdata/exit (its record still waits for the lock)"
kill -9 "$mon"; kill "$flock_pid"; wait "$flock_pid" 2>/dev/null
sleep 0.2
is "$(status mon)" "running 0" "the record still says running (its monitor died before writing it)"
run L ps -a --format '{{.Names}} {{.Status}}'
like "$out" "(^|$nl)mon Exited \\(7\\) " "ps repairs the record from the status file: Exited (7), not 137"
is "$(status mon)" "exited 7" "the record says exited 7"

# ------------------------------------------ a SIGKILLed foreground run --
"$LRUN" --root "$R" run --name fg "$IMG" sleep 2 >/dev/null 2>&1 &
fg=$!
wait_for 5 sh -c "[ \"\$(jq -r '.[] | select(.names[0] == \"fg\") | .flags.\"lrun.status\"' $R/overlay-containers/containers.json 2>/dev/null)\" = running ]"
kill -9 "$fg"; wait "$fg" 2>/dev/null
is "$(status fg | cut -d' ' -f1)" running "after SIGKILL of the foreground run the record says running"
run L ps --format '{{.Names}}'
is "$out" "fg$nl" "ps lists it as running while its process lives on"
pid=$(field fg lrun.pid)
wait_for 5 sh -c "! kill -0 $pid 2>/dev/null"
run L ps -a --format '{{.Names}} {{.Status}}'
like "$out" "(^|$nl)fg Exited \\(137\\) " "once its process is gone ps records it exited (137: its waiter died first)"
is "$(status fg | cut -d' ' -f1)" exited "the record no longer says running"

# ------------------------------------------ run on a full disk --
if command -v mkfs.ext4 >/dev/null; then
	truncate -s 40M "$T/fs.img" && mkfs.ext4 -q -F "$T/fs.img" && mkdir -p "$T/fs" && mount -o loop "$T/fs.img" "$T/fs"
	R2=$T/fs/root
	"$LRUN" --root "$R2" load -q -i "$FX/v1.tar" >/dev/null
	run $TO "$LRUN" --root "$R2" run --name full "$IMG" sh -c 'dd if=/dev/zero of=/big bs=1M 2>/dev/null; exit 7'
	is "$rc" 7 "run on a disk the container fills exits with the container's status"
	run $TO "$LRUN" --root "$R2" rm -f full
	is "$rc" 0 "and it can be removed"
	run $TO "$LRUN" --root "$R2" ps -a --format '{{.Names}}'
	is "$rc:$out" "0:" "nothing is left"
	umount "$T/fs"
fi
done_testing
