#!/bin/bash
# exec as podman 4.3.1's: --env-file (-e wins), --privileged (every
# capability, the container's seccomp kept), --preserve-fds, --latest, the
# operand errors, and --detach-keys: exec -it from a terminal runs under a
# keeper that holds the process's terminal, so ctrl-p ctrl-q (or the keys
# given; "" none) gives the shell back while the process runs on.  Driven
# with tmux.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/ctr-test.sh"
command -v tmux >/dev/null || skip_all "needs tmux"
ctr_start
L run -d --name web "$IMG" sleep 300 >/dev/null || bail "run -d web"

# ------------------------------------------------------------- --env-file --
printf 'A=1\n# a comment\n\n  B=two words\nBARE\nUNSET_HERE\nQ="q"\n' >"$T/env.list"
run env BARE=fromhost $TO "$LRUN" --root "$R" exec -e A=over --env-file "$T/env.list" web \
	sh -c 'echo "$A|$B|$BARE|$Q|${UNSET_HERE-unset}"'
is "$rc:$out" "0:over|two words|fromhost|\"q\"|unset$nl" \
	"--env-file: comments and blanks skipped, bare names from the caller, quotes literal; -e wins given first too"
run L exec --env-file "$T/nosuch" web true
is "$rc:$err" "125:Error: parsing env file \"$T/nosuch\": open $T/nosuch: no such file or directory$nl" \
	"--env-file of a missing file: podman's message, 125"
printf 'XV*\n' >"$T/env.glob"
run env XV1=a XV2=b XW=c $TO "$LRUN" --root "$R" exec -e 'XV*' web env
is "$rc:$(grep '^X' <<<"$out" | sort | tr '\n' ' ')" "0:XV1=a XV2=b " "-e 'XV*': every variable of the caller's named XV..., podman's"
run env XV1=a XW=c $TO "$LRUN" --root "$R" exec --env-file "$T/env.glob" web env
is "$rc:$(grep '^X' <<<"$out" | tr '\n' ' ')" "0:XV1=a " "  in an --env-file too"
run L exec -e =x web true
is "$rc:$err" "125:Error: parsing environment variables: invalid environment variable: \"=x\"$nl" "-e =x: podman's 125"
printf 'A=1\n=y\n' >"$T/env.bad"
run L exec --env-file "$T/env.bad" web true
is "$rc:$err" "125:Error: parsing env file \"$T/env.bad\": invalid environment variable: \"=y\"$nl" "  =y in an --env-file: 125"
L exec -d --env-file "$T/env.list" web sh -c 'echo "$A" > /tmp/d-env' >/dev/null
wait_for 5 sh -c '"$0" --root "$1" exec web cat /tmp/d-env 2>/dev/null | grep -qx 1' "$LRUN" "$R"
ok $? "exec -d --env-file: the detached process has the file's variables"

# ----------------------------------------------------------- --privileged --
host_bnd=$(awk '/^CapBnd/ {print $2}' /proc/self/status)
run L exec --privileged web grep -E '^(CapEff|CapBnd|Seccomp):' /proc/self/status
is "$rc:$out" "0:CapEff:	$host_bnd${nl}CapBnd:	$host_bnd${nl}Seccomp:	2$nl" \
	"--privileged: every capability lrun holds, the container's seccomp filter kept"
run L exec --privileged -u app web grep -E '^(CapEff|CapBnd):' /proc/self/status
is "$rc:$out" "0:CapEff:	0000000000000000${nl}CapBnd:	$host_bnd$nl" "--privileged -u app: all bounding, none effective"

# --------------------------------------------------------- --preserve-fds --
echo three >"$T/fd3"
run L exec --preserve-fds 2 web sh -c 'ls /proc/$$/fd; cat <&3' 3<"$T/fd3" 4</dev/null
is "$rc:$out" "0:0${nl}1${nl}2${nl}3${nl}4${nl}three$nl" "--preserve-fds 2: the caller's 3 and 4 pass in, readable"
run L exec --preserve-fds 2 web true 3</dev/null
is "$rc:$err" "125:Error: file descriptor 4 is not available - the preserve-fds option requires that file descriptors must be passed$nl" \
	"--preserve-fds 2 with 4 closed: podman's message, 125"
run L exec --preserve-fds x web true
is "$rc:$err" "125:Error: invalid argument \"x\" for \"--preserve-fds\" flag: strconv.ParseUint: parsing \"x\": invalid syntax$nl" \
	"--preserve-fds x: 125"

# -------------------------------------------------- --latest and operands --
L run -d --name newest "$IMG" sleep 300 >/dev/null
NEWEST=$(L inspect --format '{{.Id}}' newest)
run L exec -l hostname
is "$rc:$out" "0:${NEWEST:0:12}$nl" "exec -l COMMAND: in the latest container"
run $TO "$LRUN" --root "$T/empty" exec -l true
is "$rc:$err" "125:Error: no such container$nl" "exec -l without containers: 125"
run L exec
is "$rc:$err" "125:Error: exec requires the name or ID of a container or the --latest flag$nl" "exec alone: podman's 125"
run L exec web
is "$rc:$err" "255:Error: must provide a non-empty command to start an exec session: invalid argument$nl" \
	"exec CONTAINER without a command: podman's 255"
run L exec nosuch
is "$rc:$err" "125:Error: no container with name or ID \"nosuch\" found: no such container$nl" \
	"  the container is looked up first"
L run --name done "$IMG" true >/dev/null
L exec -d done true 2>/dev/null; rc_d=$?
run L exec done true
is "$rc:$err|$rc_d" "255:Error: can only create exec sessions on running containers: container state improper$nl|125" \
	"exec into an exited container: podman's 255 (a session that cannot start); exec -d's 125, as podman's"
run L exec -u nosuchuser web true
is "$rc:$err" "255:Error: unable to find user nosuchuser: no matching entries in passwd file$nl" "exec -u of no user: 255"
run L exec -w /nonexist web true
is "$rc:$err" "127:Error: lrun: chdir \`/nonexist\`: No such file or directory: OCI runtime attempted to invoke a command that was not found$nl" \
	"exec -w of a missing directory: podman's (crun's) 127"
run L exec -w /etc/passwd web true
is "$rc:$err" "255:Error: lrun: chdir \`/etc/passwd\`: Not a directory$nl" "exec -w of a file: 255"
run L exec --detach-keys ctrl-Z1 web true
is "$rc:$err" "125:Error: invalid detach keys: Unknown character: 'ctrl-Z1'$nl" "--detach-keys ctrl-Z1: 125"

# ------------------------------------------------------ detach keys, tmux --
# typed CMD: a command line at the host's prompt, its status kept in $T/rc
typed() { rm -f "$T/rc"; tm send-keys -t t "clear; $1; echo \$? > $T/rc" Enter; }
rc_file() { wait_for 5 test -s "$T/rc" && cat "$T/rc"; }
in_ps() { L exec web ps -o args | grep -cx "$1"; }
tmux_shell
wait_pane '^host\$ $'

typed "'$LRUN' --root '$R' exec -it --detach-keys ctrl-p,ctrl-q web sh"
wait_pane '^/var/www # $'
tm send-keys -t t 'echo "SZ:$(stty size):$PWD"' Enter
wait_pane '^SZ:24 80:/var/www$'; ok $? "exec -it (keeper): the process's terminal has the caller's 24x80"
tm resize-window -t t -x 100 -y 30; sleep 0.3
tm send-keys -t t 'echo "SZ2:$(stty size):$PWD"' Enter
wait_pane '^SZ2:30 100:/var/www$'; ok $? "  a resize reaches it"
tm send-keys -t t 'exit 3' Enter
is "$(rc_file)" 3 "  exit 3 of the shell is exec's 3"
tm resize-window -t t -x 80 -y 24

typed "'$LRUN' --root '$R' exec -it web nosuch-cmd"
is "$(rc_file)" 127 "exec -it of a missing command: 127"
like "$(pane)" "executable file .nosuch-cmd. not found" "  and its message"

rm -f "$T/rc"
tm send-keys -t t "clear; stty -g > $T/stty-before; '$LRUN' --root '$R' exec -it web sh; echo \$? > $T/rc.1; stty -g > $T/stty-after; mv $T/rc.1 $T/rc" Enter
wait_pane '^/var/www # $'
tm send-keys -t t 'sleep 1231' Enter; sleep 0.3
tm send-keys -t t C-p; sleep 0.2; tm send-keys -t t C-q
is "$(rc_file)" 0 "ctrl-p ctrl-q: exec returns 0 (as run's and attach's detach)"
pane | grep -qE "ERRO|detached from"; ok $((!$?)) "  with no error line"
wait_pane '^host\$ $'; ok $? "  the caller's shell is back"
[ -s "$T/stty-before" ] && cmp -s "$T/stty-before" "$T/stty-after"; ok $? "  its terminal mode restored"
is "$(in_ps 'sleep 1231')" 1 "  the exec'd shell's sleep runs on in the container"
keepers=$(pgrep -f "exec -it we[b] sh" | wc -l)
L exec web sh -c 'ps -o pid,args | grep -e " sh$" -e " sleep 1231$" | while read -r p a; do kill -9 $p; done'
wait_for 5 sh -c '! pgrep -f "exec -it we[b] sh" >/dev/null'
is "$((keepers > 0)):$(pgrep -f "exec -it we[b] sh" | wc -l)" "1:0" \
	"  its keeper runs on after the detach, and goes once the process is gone"

typed "'$LRUN' --root '$R' exec -it --detach-keys ctrl-x,x web sh"
wait_pane '^/var/www # $'
tm send-keys -t t C-p; sleep 0.2; tm send-keys -t t C-q; sleep 0.3
tm send-keys -t t 'echo still-$((40+2))' Enter
wait_pane '^still-42$'; ok $? "--detach-keys ctrl-x,x: ctrl-p ctrl-q do not detach"
tm send-keys -t t 'sleep 1232' Enter; sleep 0.3
tm send-keys -t t C-x; sleep 0.2; tm send-keys -t t x
is "$(rc_file)" 0 "  ctrl-x x detach"
is "$(in_ps 'sleep 1232')" 1 "  its process runs on"

typed "'$LRUN' --root '$R' exec -it --detach-keys ctrl-p,ctrl-q web sh"
wait_pane '^/var/www # $'
L exec web sh -c 'ps -o pid,args | grep " sh$" | while read -r p a; do kill -9 $p; done'
is "$(rc_file)" 137 "exec -it (keeper): its shell killed from outside: 137"

typed "'$LRUN' --root '$R' exec -it --detach-keys '' web sh"
wait_pane '^/var/www # $'
tm send-keys -t t C-p; sleep 0.2; tm send-keys -t t C-q; sleep 0.3
tm send-keys -t t 'echo none-$((40+2))' Enter
wait_pane '^none-42$'; ok $? "--detach-keys '': nothing detaches"
tm send-keys -t t 'exit 4' Enter
is "$(rc_file)" 4 "  exit 4 comes back"

done_testing
