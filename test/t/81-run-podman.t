#!/bin/bash
# run/create/stop/wait as podman's users know them: TERM=xterm in every
# container, /etc/mtab made, a -w directory that is missing is 126 (the
# image's WorkingDir is made), --runtime kept for inspect, --runtime-flag,
# stop --timeout, the "stopping" state, wait --condition.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/ctr-test.sh"
ctr_start

# ------------------------------------------------------------- defaults --
run L run --rm "$IMG" sh -c 'echo $TERM'
is "$rc:$out" "0:xterm$nl" "TERM=xterm without -t too (podman's default)"
run L run --rm -e TERM=vt100 "$IMG" sh -c 'echo $TERM'
is "$out" "vt100$nl" "  -e TERM wins"
run L run --rm "$IMG" sh -c 'test -e /etc/mtab || echo none; readlink /etc/mtab; head -1 /etc/mtab | cut -d" " -f2'
is "$rc:$out" "0:/proc/mounts$nl/$nl" "/etc/mtab -> /proc/mounts, made as podman makes it"
run L run --rm --read-only "$IMG" sh -c 'readlink /etc/mtab'
is "$rc:$out" "0:/proc/mounts$nl" "  with a read-only root too (made before it turns read-only)"

# -------------------------------------------------------------- workdir --
run L run --name wd -w /i/do/not/exist "$IMG" pwd
WD=$(L inspect --format '{{.Id}}' wd)
is "$rc:$err" "126:Error: workdir \"/i/do/not/exist\" does not exist on container $WD$nl" \
	"-w of a missing directory: podman's 126 and message"
L rm wd >/dev/null
run L run --rm -w /tmp "$IMG" pwd
is "$rc:$out" "0:/tmp$nl" "-w of a directory the image has"
mkdir -p "$T/vol" && echo inside >"$T/vol/f"
run L run --rm -w /notinimage -v "$T/vol:/notinimage" "$IMG" cat f
is "$rc:$out" "0:inside$nl" "-w of a volume's mount point"
run L run --rm -w /notinimage2 -v "$T/vol/f:/notinimage2/f" "$IMG" cat f
is "$rc:$out" "0:inside$nl" "-w of a directory a mount below it makes"
mkdir -p "$T/wdimg" && printf 'FROM %s\nWORKDIR /made/by/image\n' "$IMG" >"$T/wdimg/Containerfile"
L build -q -t wdimg "$T/wdimg" >/dev/null
run L run --rm wdimg pwd
is "$rc:$out" "0:/made/by/image$nl" "the image's WorkingDir is made when missing"
L rmi wdimg >/dev/null

# -------------------------------------------------- --runtime, --runtime-flag --
cp "$LRUN" "$T/myruntime"
run L run -d --name rt --runtime "$T/myruntime" "$IMG" sleep 60
is "$rc" 0 "run --runtime PATH: accepted"
is "$(L inspect --format '{{.OCIRuntime}}' rt)" "$T/myruntime" "  inspect's OCIRuntime keeps the full path"
run $TO "$LRUN" --root "$R" --runtime "$T/myruntime" create --name rt2 "$IMG" true
is "$(L inspect --format '{{.OCIRuntime}}' rt2)" "$T/myruntime" "global --runtime: the same"
L create --name plain "$IMG" true >/dev/null
is "$(L inspect --format '{{.OCIRuntime}}' plain)" "lrun" "  without it: lrun"
run L run --rm --runtime "$T/nosuch" "$IMG" true
is "$rc:$err" "125:Error: invalid --runtime \"$T/nosuch\": not an executable file$nl" "--runtime of a missing program: 125"
run $TO "$LRUN" --root "$R" --runtime-flag invalidflag run --rm "$IMG" true
is "$rc:$err" "126:Error: lrun: unknown runtime flag --invalidflag (lrun's: debug): OCI runtime error$nl" \
	"--runtime-flag the runtime (lrun) does not know: 126, as podman's runtimes"
run $TO "$LRUN" --root "$R" --runtime-flag debug run --rm "$IMG" echo ok
is "$rc:$out:$(printf '%s' "$err" | grep -c 'level=debug')" "0:ok$nl:1" "--runtime-flag debug: lrun's debug log"
L rm -f -t 0 rt rt2 plain >/dev/null

# --------------------------------------------------- stop, wait --condition --
L run -d --name stopme "$IMG" sh -c "trap 'echo ignoring' TERM; echo READY; while :; do sleep 0.1; done" >/dev/null
run L wait --condition=running stopme
is "$rc:$out" "0:-1$nl" "wait --condition=running of a running one: -1 at once"
run L wait --condition=bogus stopme
is "$rc:$err" "125:Error: unknown container state: bogus: invalid argument$nl" "wait --condition=bogus: podman's error"
L stop -t 20 stopme >/dev/null 2>&1 &
stopper=$!
run L wait --condition=stopping stopme
is "$rc:$out" "0:-1$nl" "wait --condition=stopping: while stop waits"
is "$(L inspect --format '{{.State.Status}}' stopme)" "stopping" "  inspect: stopping"
L kill stopme >/dev/null
run L wait --condition=exited --condition=stopped stopme
is "$rc:$out" "0:137$nl" "wait --condition=exited --condition=stopped: the exit code"
wait $stopper
is "$(L inspect --format '{{.State.Status}} {{.State.ExitCode}}' stopme)" "exited 137" "  exited"
run L wait --condition=created --condition=exited stopme
is "$rc:$out" "0:137$nl" "  one of several conditions"
L run -d --name trapper "$IMG" sh -c "trap 'exit 0' TERM; echo READY; while :; do sleep 0.1; done" >/dev/null
run L stop --timeout=5 trapper
is "$rc:$out" "0:trapper$nl" "stop --timeout: podman's other name of --time"
L rm -f -t 0 stopme trapper >/dev/null


done_testing
