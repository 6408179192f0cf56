#!/bin/bash
# attach: a detached container's monitor keeps its terminal (or its -i
# stdin pipe) and serves userdata/attach; attach, start -a -i of a running
# container, --detach-keys (ctrl-p,ctrl-q), --sig-proxy, --no-stdin.  The
# terminal is a real pty (script(1)).  The seeds' story: run -it, exit,
# start, attach, type, exit.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/ctr-test.sh"
command -v script >/dev/null || skip_all "needs script(1) (util-linux)"
ctr_start
# on_pty CMD: CMD on a pty of script(1), what it reads from our stdin typed
on_pty() { $TO script -qec "$1" /dev/null; }
status() { L ps -a --filter name="^$1\$" --format '{{.Status}}' | sed -E 's/^(Up|Exited \([0-9]+\)) .*/\1/'; }

# ------------------------------------------------------ the seeds' story --
run on_pty "'$LRUN' --root '$R' run -it --name contenedor1 '$IMG' sh" < <(sleep 0.5; printf 'exit\r'; sleep 1)
is "$rc" 0 "run -it, then exit: 0"
run L start contenedor1
is "$rc:$out" "0:contenedor1$nl" "start: the container runs again, detached"
is "$(status contenedor1)" "Up" "  ps: Up"
ID=$(L inspect --format '{{.Id}}' contenedor1)
is "$(stat -c '%F %a %U' "$R/overlay-containers/$ID/userdata/attach")" "socket 700 root" \
	"the monitor's attach socket: root's, 0700"
run on_pty "'$LRUN' --root '$R' attach contenedor1" < <(sleep 0.5; printf 'echo hel""lo\r'; sleep 0.5; printf 'exit 3\r'; sleep 2)
is "$rc" 3 "attach, type, exit 3: attach returns the container's 3"
like "$out" "${nl}hello" "  what was typed ran in the container's shell, its output came back"
is "$(status contenedor1)" "Exited (3)" "  ps: Exited (3)"
like "$(L logs contenedor1)" "hello" "  the attached session is in the log too"

# ------------------------------------------------------------ detach keys --
L start contenedor1 >/dev/null
run on_pty "'$LRUN' --root '$R' attach contenedor1" < <(sleep 0.5; printf 'echo one\r'; sleep 0.5; printf '\020\021'; sleep 2)
is "$rc" 0 "ctrl-p ctrl-q: attach detaches with 0"
like "$out" "${nl}one" "  the session before it"
is "$(status contenedor1)" "Up" "  the container runs on"
run on_pty "'$LRUN' --root '$R' attach --detach-keys ctrl-x,x contenedor1" < <(sleep 0.5; printf 'echo two\r'; sleep 0.5; printf '\030x'; sleep 2)
is "$rc" 0 "--detach-keys ctrl-x,x: those detach"
like "$out" "${nl}two" "  the session before it"
run on_pty "'$LRUN' --root '$R' start -a -i contenedor1" < <(sleep 0.5; printf 'exit 5\r'; sleep 2)
is "$rc" 5 "start -a -i of a running container attaches to it (podman)"
for cmd in "attach --detach-keys ctrl-Z1 contenedor1" "start --detach-keys ctrl-Z1 contenedor1" \
	"run --detach-keys ctrl-Z1 $IMG true"; do
	run L $cmd
	is "$rc:$err" "125:Error: invalid detach keys: Unknown character: 'ctrl-Z1'$nl" "$cmd: 125"
done

# ------------------------------------------- without a terminal: -i, signals --
L run -d -i --name cat1 "$IMG" sh -c 'cat; echo done; exit 7' >/dev/null
run L attach cat1 <<<"hello"
is "$rc:$out" "7:hello${nl}done$nl" "-i without -t: stdin piped to the container's, its end ends cat, the exit comes back"
L run -d -i --name cat2 "$IMG" sh -c 'cat; echo done' >/dev/null
run timeout 2 "$LRUN" --root "$R" attach --no-stdin --sig-proxy=false cat2 < <(echo nope; sleep 3)
is "$rc:$out" "124:" "--no-stdin: nothing typed reaches it (it still waits)"
L rm -f -t 0 cat2 >/dev/null
L run -d --name trap1 "$IMG" sh -c 'trap "echo term; exit 9" TERM; echo ready; while :; do sleep 0.1; done' >/dev/null
wait_for 5 sh -c '"$0" --root "$1" logs trap1 | grep -q ready' "$LRUN" "$R"
"$LRUN" --root "$R" attach trap1 >"$T/att.out" 2>&1 & apid=$!
sleep 1
kill -TERM $apid
wait $apid; arc=$?
is "$arc:$(cat "$T/att.out")" "9:term" "--sig-proxy (default): SIGTERM to attach reaches the container; its exit comes back"
L run -d --name trap2 "$IMG" sh -c 'trap "echo term; exit 9" TERM; while :; do sleep 0.1; done' >/dev/null
"$LRUN" --root "$R" attach --sig-proxy=false trap2 >/dev/null 2>&1 & apid=$!
sleep 1
kill -TERM $apid
wait $apid
is "$(status trap2)" "Up" "--sig-proxy=false: attach dies, the container runs on"
run L attach trap1
is "$rc:$err" "125:Error: you can only attach to running containers$nl" "attach to an exited container: 125"
run L attach nosuch
is "$rc" 125 "attach to nothing: 125"

done_testing
