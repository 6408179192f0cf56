#!/bin/bash
# attach: a detached container's monitor keeps its terminal (or its -i
# stdin pipe) and serves userdata/attach; attach, start -a -i of a running
# container, --detach-keys (ctrl-p,ctrl-q), --sig-proxy, --no-stdin.  The
# terminal is a real pty (script(1)); run -it and start -a -i detached by
# their keys in tmux.  The seeds' story: run -it, exit, start, attach, type,
# exit.
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
printf '[engine]\ndetach_keys = "ctrl-x,y"\n' >"$T/containers.conf"
L start contenedor1 >/dev/null
run on_pty "CONTAINERS_CONF='$T/containers.conf' '$LRUN' --root '$R' attach contenedor1" \
	< <(sleep 0.5; printf '\020\021\025echo four\r'; sleep 0.5; printf '\030y'; sleep 2)
is "$rc:$(status contenedor1):$(printf '%s' "$out" | tr -d '\r' | grep -c '^four$')" "0:Up:1" \
	"containers.conf's engine.detach_keys (ctrl-x,y) detach attach; ctrl-p ctrl-q then reach the shell"
L stop -t 0 contenedor1 >/dev/null

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

# --------------------------------------- detach keys of run -it, start -a -i --
# On a terminal (tmux), run -it and start -a -i are their monitor's first
# client: the detach keys leave the container running with nothing said and
# 0, as podman; attach takes it up again.
if ! command -v tmux >/dev/null; then
	skip "tmux not installed"
	done_testing
fi
tmux_shell
# in_pane STEP CMD: CMD typed in the window, its status then in $T/rc-STEP
# (typed into a container that did not detach, it writes nothing there)
in_pane() { tm send-keys -t t "clear; $2; echo \$? > $T/rc-$1" Enter; }
pane_rc() { wait_for 5 test -s "$T/rc-$1" && cat "$T/rc-$1"; }
in_pane run1 "'$LRUN' --root '$R' run -it --conmon-pidfile '$T/dk1.pid' --name dk1 '$IMG' sh"
wait_pane '^/var/www # $'
tm send-keys -t t 'echo one' Enter
wait_pane '^one$'
tm send-keys -t t C-p C-q
is "$(pane_rc run1):$(status dk1)" "0:Up" "run -it, ctrl-p ctrl-q: lrun returns 0, the container runs on"
is "$(cat "$T/dk1.pid")" "$(L inspect --format '{{.State.ConmonPid}}' dk1)" "  --conmon-pidfile: its monitor's PID"
wait_pane '# host\$ $'; ok $? "  the shell is back, nothing printed (podman)"
in_pane att1 "'$LRUN' --root '$R' attach dk1"
tm send-keys -t t 'echo MARK$((6*7))' Enter
wait_pane '^MARK42$'
tm send-keys -t t 'exit 6' Enter
is "$(pane_rc att1):$(status dk1):$(pane | grep -c '^MARK42$')" "6:Exited (6):1" \
	"attach: the same shell takes what is typed (MARK42), exit 6 is attach's 6 and recorded"
like "$(pane_rc att1) $(L logs dk1 | tr -d '\r' | tr '\n' ' ')" "^6 .* one .* MARK42 " "  the log has both sessions"

in_pane st1 "'$LRUN' --root '$R' start -a -i dk1"
wait_pane '^/var/www # $'
tm send-keys -t t C-p C-q
is "$(pane_rc st1):$(status dk1)" "0:Up" "start -a -i of an exited -it container: ctrl-p ctrl-q detach (0), it runs on"
in_pane att2 "'$LRUN' --root '$R' attach dk1"
tm send-keys -t t 'echo back' Enter 'exit 9' Enter
is "$(pane_rc att2)" 9 "  attach, exit 9: 9"

in_pane run2 "'$LRUN' --root '$R' run -it --detach-keys ctrl-x,x --name dk2 '$IMG' sh"
wait_pane '^/var/www # $'
tm send-keys -t t C-p C-q C-u 'echo still' Enter
wait_pane '^still$'
tm send-keys -t t C-x x
is "$(pane_rc run2):$(status dk2):$(pane | grep -c '^still$')" "0:Up:1" \
	"run --detach-keys ctrl-x,x: ctrl-p ctrl-q reach the shell, ctrl-x x detach (0), it runs on"
in_pane att3 "'$LRUN' --root '$R' attach dk2"
tm send-keys -t t C-p C-q C-u 'echo own' Enter
wait_pane '^own$'
tm send-keys -t t C-x x
is "$(pane_rc att3):$(pane | grep -c '^own$')" "0:1" \
	"  attach without --detach-keys: the container's own (ctrl-x,x) detach, not ctrl-p,ctrl-q"
L stop -t 0 dk2 >/dev/null
L create -it --detach-keys ctrl-x,x --name dk3 "$IMG" sh >/dev/null
in_pane st3 "'$LRUN' --root '$R' start -a -i dk3"
wait_pane '^/var/www # $'
tm send-keys -t t C-p C-q C-u 'echo created' Enter
wait_pane '^created$'
tm send-keys -t t C-x x
is "$(pane_rc st3):$(status dk3):$(pane | grep -c '^created$')" "0:Up:1" \
	"create --detach-keys ctrl-x,x, start -a -i: ctrl-p ctrl-q reach the shell, ctrl-x x detach (0)"
L stop -t 0 dk3 >/dev/null

in_pane run4 "'$LRUN' --root '$R' run -it --detach-keys '' --rm --name dk4 '$IMG' sh"
wait_pane '^/var/www # $'
"$LRUN" --root "$R" attach --no-stdin dk4 >"$T/second.out" 2>&1 & apid=$!
attached() { [ "$(L events --stream=false --filter container=dk4 --filter event=attach | wc -l)" = 2 ]; }
wait_for 5 attached # run's own attach, then this one's (connected)
tm send-keys -t t C-p C-q C-u 'echo shared' Enter
wait_pane '^shared$'
tm send-keys -t t 'exit 2' Enter
wait $apid; arc=$?
is "$(pane_rc run4):$arc:$(grep -c '^shared' "$T/second.out")" "2:2:1" \
	"run -it --detach-keys '': ctrl-p ctrl-q do not detach, exit 2 is run's 2; an attach from elsewhere saw it too"
in_pane run5 "'$LRUN' --root '$R' run -it --rm --name dk5 '$IMG' sh"
wait_pane '^/var/www # $'
tm send-keys -t t C-p C-q
is "$(pane_rc run5):$(status dk5)" "0:Up" "run --rm -it, detached: it runs on"
in_pane att5 "'$LRUN' --root '$R' attach dk5"
tm send-keys -t t 'exit 4' Enter
run L container exists dk5
is "$(pane_rc att5):$rc" "4:1" "  attach, exit 4: 4, and --rm removed it"

L create -it --name dk6 "$IMG" sh -c 'trap "exit 9" TERM; echo ready; while :; do sleep 0.1; done' >/dev/null
in_pane sp "'$LRUN' --root '$R' start -a -i --sig-proxy=false dk6"
wait_pane '^ready'
tty=$(tm display -p -t t '#{pane_tty}') # the foreground start's, not its monitor's (the same command line)
kill -TERM "$(pgrep -t "${tty#/dev/}" -f -- "start -a -i --sig-proxy=false dk6")"
is "$(pane_rc sp):$(status dk6)" "143:Up" "start -a -i --sig-proxy=false: SIGTERM ends start (143), not the container"

done_testing
