#!/bin/bash
# run/create/stop/wait as podman's users know them: TERM=xterm in every
# container, /etc/mtab made, a -w directory that is missing is 126 (the
# image's WorkingDir is made), --runtime kept for inspect, --runtime-flag,
# stop --timeout, the "stopping" state, wait --condition, run -a/--attach,
# --preserve-fds, --timeout, a failed start's 126.
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

run L run --rm --unsetenv TERM --unsetenv container "$IMG" env
is "$rc:$(printf '%s' "$out" | grep -c -e '^TERM=' -e '^container=')" "0:0" "--unsetenv TERM --unsetenv container: left out"
like "$out" "(^|$nl)PATH=" "  the others stay"
run L run --rm --unsetenv-all -e TERM=abc "$IMG" env
is "$rc:$(printf '%s' "$out" | grep -v '^HOME=' | sort | tr '\n' ' ')" "0:TERM=abc " \
	"--unsetenv-all: no default (not PATH, container, the image's), -e's stay (and HOME, the user's)"

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

# ------------------------------------------------------------ run -a --
run L run --rm -a stdout "$IMG" sh -c 'echo out; echo err >&2'
is "$rc:$out:$err" "0:out$nl:" "run -a stdout: the container's stdout only"
run L run --rm -a stderr "$IMG" sh -c 'echo out; echo err >&2'
is "$rc:$out:$err" "0::err$nl" "run -a stderr: its stderr only"
run L run --name att --attach stdin "$IMG" sh -c 'echo out; echo err >&2'
is "$rc:$out:$err" "0:$(L inspect --format '{{.Id}}' att)$nl:" "run --attach stdin: the container's ID, as podman, nothing of its output"
run L logs att
is "$out:$err" "out$nl:err$nl" "  the log has its output all the same, each stream its own"
L rm att >/dev/null
run L run --rm -a stdin -a stdout "$IMG" sh -c 'cat; echo out' <<<input
is "$rc:$out" "0:out$nl" "-a stdin without -i: nothing passes in (podman)"
run L run --rm -i -a stdout "$IMG" sh -c 'cat; echo out' <<<input
is "$rc:$out" "0:input${nl}out$nl" "-i -a stdout: stdin passes in"
run L run --rm -a bogus "$IMG" true
is "$rc:$err" "125:Error: invalid stream \"bogus\" for --attach - must be one of stdin, stdout, or stderr: invalid argument$nl" \
	"-a bogus: podman's error"
run L run --name big -a stderr "$IMG" sh -c 'head -c 300000 /dev/zero; echo done >&2'
is "$rc:$out:$err" "0::done$nl" "-a stderr with much output on stdout: no hang"
is "$(tr -cd '\0' <"$(L inspect big --format '{{.HostConfig.LogConfig.Path}}')" | wc -c)" 300000 \
	"  the log keeps every NUL byte"
L rm big >/dev/null

# ------------------------------------------------------- --preserve-fds --
echo passed-in >"$T/fd4"
run L run --rm --preserve-fds=2 "$IMG" sh -c 'cat <&4; readlink /proc/self/fd/3; test -e /proc/self/fd/5 || echo no-5' 4<"$T/fd4"
is "$rc:$out" "0:passed-in$nl/dev/null${nl}no-5$nl" "--preserve-fds 2: 3 and 4 pass in (3, not open, as /dev/null), nothing above"
run L run --rm "$IMG" sh -c 'test -e /proc/self/fd/4 || echo no-4' 4<"$T/fd4"
is "$rc:$out" "0:no-4$nl" "  without it the caller's 4 stays out"
run L run --rm --preserve-fds=x "$IMG" true
is "$rc:$err" "125:Error: invalid --preserve-fds \"x\": use a number of descriptors$nl" "--preserve-fds x: 125"

# ------------------------------------------------------------ --timeout --
start=$SECONDS
run L run --name to --timeout 2 "$IMG" sleep 30
is "$rc" 255 "run --timeout 2 of sleep 30: killed, 255 as podman"
ok $([ $((SECONDS - start)) -lt 10 ]; echo $?) "  after 2 seconds, not 30"
is "$(L inspect --format '{{.State.Status}} {{.State.ExitCode}}' to)" "exited -1" "  inspect: exited -1"
L rm to >/dev/null
run L run -d --name tod --timeout 1 "$IMG" sleep 30
run L wait tod
is "$rc:$out" "0:-1$nl" "run -d --timeout: the monitor kills it too"
L rm tod >/dev/null

# ------------------------------------------- run docker-archive:, pidfile --
L run --name epc --entrypoint='["/bin/echo","from-entrypoint"]' "$IMG" >/dev/null
L commit -q epc epimg >/dev/null
run L run --rm epimg
is "$rc:$out" "0:from-entrypoint$nl" "commit keeps the container's --entrypoint (its Cmd reset), as podman"
L run --name cmdc "$IMG" echo from-cmd >/dev/null
L commit -q cmdc cmdimg >/dev/null
run L run --rm cmdimg
is "$rc:$out" "0:from-cmd$nl" "  and its command as the image's Cmd"
L save -q -o "$T/ep.tar" epimg >/dev/null
L rm epc cmdc >/dev/null
L rmi epimg cmdimg >/dev/null
run L run --name epa docker-archive:"$T/ep.tar"
is "$rc:$(printf '%s' "$out" | tail -1)" "0:from-entrypoint" "  run docker-archive: of the saved commit runs its entrypoint"
L rm epa >/dev/null
L rmi epimg >/dev/null
L save -q -o "$T/arch.tar" "$IMG" >/dev/null
L create --name keep "$IMG" true >/dev/null # the image stays; run loads the archive over it
run L run --rm docker-archive:"$T/arch.tar" echo from-archive
is "$rc:$out" "0:from-archive$nl" "run docker-archive:PATH: loaded, then run"
is "$(printf '%s' "$err" | sed -n '1p;$p')" "Getting image source signatures${nl}Storing signatures" "  with load's progress, as podman"
run L run --rm oci-archive:"$T/none.tar" true
is "$rc:$err" "125:Error: oci-archive:$T/none.tar: $T/none.tar: No such file or directory$nl" "run oci-archive: of no file: 125"
L rm keep >/dev/null
run L run -d --name pidf --conmon-pidfile "$T/conmon.pid" "$IMG" sleep 60
is "$(cat "$T/conmon.pid")" "$(L inspect --format '{{.State.ConmonPid}}' pidf)" "run -d --conmon-pidfile: the monitor's PID, as inspect's ConmonPid"
ok $(kill -0 "$(cat "$T/conmon.pid")"; echo $?) "  a live process"
L rm -f -t 0 pidf >/dev/null
run L run --rm --conmon-pidfile "$T/conmon2.pid" "$IMG" true
ok $([ "$rc" = 0 ] && [[ $(cat "$T/conmon2.pid") =~ ^[0-9]+$ ]]; echo $?) "run --conmon-pidfile attached: the run's own PID (it is the monitor)"

# -------------------------------------------------------------- exec -d --
L run -d --name ex "$IMG" sleep 60 >/dev/null
run L exec -d ex sh -c 'sleep 1; echo done >/tmp/marker'
ok $([ "$rc" = 0 ] && [[ $out =~ ^[0-9a-f]{64}$nl$ ]]; echo $?) "exec -d: at once, a session ID (podman)"
run L exec ex cat /tmp/marker
is "$rc" 1 "  the process runs on in the background"
sleep 2
run L exec ex cat /tmp/marker
is "$rc:$out" "0:done$nl" "  and finishes"
run L exec -d ex nosuchcmd
like "$rc:$err" "^127:Error: lrun: executable file .nosuchcmd. not found" "exec -d of a missing command: 127 and the error"
L rm -f -t 0 ex >/dev/null
run L exec -d ex true
is "$rc:$err" "125:Error: no container with name or ID \"ex\" found: no such container$nl" "exec -d into no container: 125"

# ------------------------------------------------------------ --systemd --
run L run --rm --privileged --systemd=always "$IMG" sh -c 'ls -d /dev/tty*; grep -E "^tmpfs /(run|run/lock|tmp|var/log/journal) " /proc/mounts | cut -d" " -f2; test -f /run/.containerenv && echo env'
is "$rc:$out" "0:/dev/tty$nl/run$nl/run/lock$nl/tmp$nl/var/log/journal${nl}env$nl" \
	"--systemd=always --privileged: no host terminal but /dev/tty, tmpfs /run /run/lock /tmp /var/log/journal, /run/.containerenv kept"
L create --name sd --systemd=always "$IMG" true >/dev/null
L create --name sd2 --systemd=always --stop-signal TERM "$IMG" true >/dev/null
L create --name sd3 "$IMG" true >/dev/null
is "$(L inspect --format '{{.Config.StopSignal}}' sd sd2 sd3 | tr '\n' ' ')" "37 TERM SIGTERM " \
	"  stop signal SIGRTMIN+3 (37) unless given; without --systemd the image's"
L rm sd sd2 sd3 >/dev/null
if [ -n "$(ls /dev/tty[0-9]* 2>/dev/null)" ]; then
	run L run --rm --privileged "$IMG" sh -c 'ls -d /dev/tty[0-9]* | wc -l'
	ok $([ "$rc" = 0 ] && [ "${out%$nl}" -gt 0 ]; echo $?) "--privileged without --systemd: the host's /dev/ttyN (${out%$nl})"
fi
run L run --rm --systemd=bogus "$IMG" true
is "$rc:$err" "125:Error: invalid --systemd \"bogus\": use true, false or always$nl" "--systemd=bogus: 125"

# -------------------------------------------------- a start that fails --
. "$here/../lib/registry.sh"
PORT=$(reg_free_port)
L run -d --name portok -p "127.0.0.1:$PORT:80" "$IMG" sleep 60 >/dev/null
run L run -d --name portfail -p "127.0.0.1:$PORT:80" "$IMG" true
is "$rc" 126 "run whose start fails (the port is taken): 126, as podman"
like "$err" "Address already in use" "  the reason"
is "$(L ps -a --filter name=portfail --format '{{.Names}}')" "portfail" "  the container stays"
run L run --rm -d --name portfailrm -p "127.0.0.1:$PORT:80" "$IMG" true
is "$rc:$(L ps -a --filter name=portfailrm --format '{{.Names}}')" "126:" "  with --rm it goes"
L rm -f -t 0 portok portfail >/dev/null


done_testing
