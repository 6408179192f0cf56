#!/bin/bash
# Container lifecycle: run -d, ps (exact podman table), logs, exec, stop,
# kill, wait, start, create + start -a, rm, container prune, run -d --rm.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/ctr-test.sh"
ctr_start
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
running() { [ "$(L ps --format '{{.Names}}' | grep -cx "$1")" = 1 ]; }
HDR="CONTAINER ID  IMAGE       COMMAND     CREATED     STATUS      PORTS       NAMES"

# ps table check: split each data row of "$1" on runs of 2+ spaces, put the
# empty PORTS cell back, re-render with podman's tabwriter rule (tabw) and
# compare byte for byte; prints the cells of row 2 for further checks.
ps_relayout() {
	local line first=1 cells
	while IFS= read -r line; do
		if [ $first = 1 ]; then first=0; printf '%s\n' "$line" | sed -E 's/  +/\t/g'; continue; fi
		cells=$(printf '%s' "$line" | sed -E 's/  +/\t/g')
		# ID IMAGE COMMAND CREATED STATUS [PORTS=""] NAMES [SIZE]
		printf '%s\n' "$cells" | awk -F'\t' -v OFS='\t' '{ $5 = $5 "\t"; print }'
	done <<<"${1%"$nl"}" | tabw
}

# ------------------------------------------------------------- run -d --
run L run -d --name web "$IMG" sh -c 'echo out; echo err >&2; sleep 30'
is "$rc" 0 "run -d: exit 0"
like "$out" '^[0-9a-f]{64}'"$nl"'$' "run -d prints the 64-hex ID"
ID=${out%"$nl"}
is "$(ctr_field web .id)" "$ID" "the record in containers.json has that ID"
wait_for 5 running web; ok $? "ps lists web as running"
sleep 1.2   # let CREATED/STATUS reach "1 second"
run L ps
lines=$(printf '%s' "$out" | wc -l)
is "$lines" 2 "ps: a header and one row"
row=$(printf '%s\n' "$out" | sed -n 2p)
like "$row" "^${ID:0:12}  localhost:5000/servidorweb:v1  sh -c echo out; e\.\.\.  [0-9A-Za-z ]+ ago  Up [0-9A-Za-z ]+ ago  +web$" \
	"ps row: short ID, image, command cut to 17 chars + '...', CREATED, 'Up ... ago', NAMES"
cells=$(printf '%s' "$row" | sed -E 's/  +/\t/g' | awk -F'\t' -v OFS='\t' '{ $5 = $5 "\t"; print }')
is "$(printf '%s\n' "$out" | head -1)" "$(printf 'CONTAINER ID\tIMAGE\tCOMMAND\tCREATED\tSTATUS\tPORTS\tNAMES\n%s\n' "$cells" | tabw | head -1)" \
	"ps header: podman's names, columns as wide as the row's cells (min 12, +2)"
is "$out" "$(ps_relayout "$out")$nl" "ps: every column padded to max(12, widest+2), last unpadded (tabwriter)"
created=$(printf '%s' "$row" | sed -E 's/  +/\t/g' | cut -f4) status=$(printf '%s' "$row" | sed -E 's/  +/\t/g' | cut -f5)
like "$created|$status" '^([1-9]|[1-5][0-9]) seconds? ago\|Up ([1-9]|[1-5][0-9]) seconds? ago$' "CREATED and STATUS are go-units durations ($created / $status)"
run L ps -q
is "$out" "${ID:0:12}$nl" "ps -q: the short ID"
for i in 1 2 3; do   # (twice in a row in the same second)
	a=$(L ps) b=$(L ps --noheading)
	[ "$b" = "$(printf '%s\n' "$a" | tail -n +2)" ] && break
done
is "$b" "$(printf '%s\n' "$a" | tail -n +2)" "ps --noheading: the rows without the header"
run L ps -a --no-trunc
like "$out" "${nl}$ID  localhost:5000/servidorweb:v1  sh -c echo out; echo err >&2; sleep 30  " "ps --no-trunc: full ID and command"

# ---------------------------------------------------------------- logs --
run L logs web
is "$rc|$out|$err" "0|out$nl|err$nl" "logs: stdout to stdout, stderr to stderr"
LOG=$R/overlay-containers/$ID/userdata/ctr.log
like "$(cat "$LOG" 2>/dev/null)" "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z stdout F out${nl}[0-9]{4}-[0-9-]+T[0-9:.]+Z stderr F err$" \
	"ctr.log is in k8s-file format"

# ---------------------------------------------------------------- exec --
run L exec web sh -c 'hostname; echo $$; tr "\0" " " < /proc/1/cmdline; echo; ps | grep -c "[s]leep 30"'
like "$rc|$out" "^0\|${ID:0:12}${nl}[0-9]+${nl}(sh -c echo out; echo err >&2; sleep 30|sleep 30) ${nl}1${nl}\$" \
	"exec: same hostname, the container's pid 1 visible, sleep seen by ps"
[[ $out =~ ^[^$nl]*$nl([0-9]+) ]] && [ "${BASH_REMATCH[1]}" -gt 1 ]; ok $? "exec: the process is not pid 1 (${BASH_REMATCH[1]})"
run L exec web sh -c 'for n in mnt uts ipc pid net cgroup; do [ "$(readlink /proc/self/ns/$n)" = "$(readlink /proc/1/ns/$n)" ] && echo "$n same"; done'
is "$out" "mnt same${nl}uts same${nl}ipc same${nl}pid same${nl}net same${nl}cgroup same$nl" "exec joins all six namespaces of the container"
run L exec web grep -E '^(Cap(Inh|Prm|Eff|Bnd|Amb)|NoNewPrivs|Seccomp):' /proc/self/status
is "$out" "CapInh:	0000000000000000
CapPrm:	00000000a80405fb
CapEff:	00000000a80405fb
CapBnd:	00000000a80405fb
CapAmb:	0000000000000000
NoNewPrivs:	1
Seccomp:	2$nl" "exec: the same caps, no_new_privs and seccomp as the container"
run L exec -u app web sh -c 'id; echo $HOME; grep CapEff /proc/self/status'
is "$out" "uid=1000(app) gid=1000(app)${nl}/home/app${nl}CapEff:	0000000000000000$nl" "exec -u app"
run L exec -w /tmp web pwd
is "$out" "/tmp$nl" "exec -w /tmp"
run L exec web pwd
is "$out" "/var/www$nl" "exec defaults to the image's WorkingDir"
run L exec -e X=1 -e Y='a b' web sh -c 'echo "$X|$Y|$PATH"'
is "$out" "1|a b|/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin$nl" "exec -e adds to the container's environment"
run L exec web sh -c 'exit 5'
is "$rc" 5 "exec: the exit code propagates"
run L exec web no-such-cmd
is "$rc" 127 "exec of a missing command: 127"
like "$err" '^Error: .*no-such-cmd' "  with an Error: message"
out=$(printf 'piped\n' | L exec -i web cat)
is "$out" piped "exec -i passes stdin"
exec 7</etc/hostname
run L exec web sh -c 'ls /proc/$$/fd; true'
exec 7<&-
is "$out" "0${nl}1${nl}2$nl" "exec: the caller's fd 7 does not leak in"
run L exec web sh -c 'echo exec-side > /tmp/exec-file'
run L exec web cat /tmp/exec-file
is "$out" "exec-side$nl" "exec sessions share the container's filesystem"

# ------------------------------------------------------- stop, wait --
run L rm web
is "$rc" 2 "rm of a running container without -f: exit 2"
like "$err" "^Error: cannot remove container $ID as it is running" "  podman's message"
running web; ok $? "  and it keeps running"
t0=$(now_ms)
run L stop -t 1 web
t1=$(now_ms)
is "$rc|$out" "0|web$nl" "stop -t 1 prints the name"
like "$err" 'level=warning msg="StopSignal SIGTERM failed to stop container web in 1 seconds, resorting to SIGKILL"' \
	"  and podman's warning that it had to SIGKILL"
ok $([ $((t1 - t0)) -ge 900 ] && [ $((t1 - t0)) -lt 2500 ]; echo $?) \
	"stop -t 1 of a pid 1 that ignores SIGTERM takes ~1 s, then SIGKILL ($((t1 - t0)) ms)"
run L wait web
is "$rc|$out" "0|137$nl" "wait prints 137"
is "$(ctr_field web '.flags["lrun.exit-code"]')|$(ctr_field web '.flags["lrun.status"]')" "137|exited" \
	"containers.json flags: lrun.exit-code 137, lrun.status exited"
run L ps -a
like "$(printf '%s' "$out" | sed -n 2p)" "^${ID:0:12}  .*  Exited \(137\) [0-9A-Za-z ]+ ago  +web$" "ps -a: Exited (137) ... ago"
is "$out" "$(ps_relayout "$out")$nl" "  in the tabwriter layout"
run L ps
is "$out" "$HDR$nl" "ps (running only): the header alone"
run L exec web true
like "$rc|$err" '^255\|Error: .*(running|state)' "exec into a stopped container: 255, as podman's"

# -------------------------------------------------------- start again --
run L start web
is "$rc|$out" "0|web$nl" "start of the exited container prints its name"
wait_for 5 running web; ok $? "  it runs again"
wait_for 5 sh -c '[ "$(grep -c "stdout F out" "$1")" = 2 ]' _ "$LOG"
run L logs web
is "$out|$err" "out${nl}out$nl|err${nl}err$nl" "logs keep the first run's lines and add the second run's"
run L kill -s KILL web
is "$rc|$out" "0|web$nl" "kill -s KILL prints the name"
run L wait web
is "$out" "137$nl" "  exit code 137"

# -------------------------------------------- stop signals and timeouts --
L run -d --name trapper "$IMG" sh -c 'trap "echo got-term; exit 3" TERM; echo ready; while :; do sleep 0.1; done' >/dev/null
wait_for 5 sh -c '"$0" --root "$1" logs trapper 2>/dev/null | grep -q ready' "$LRUN" "$R"
t0=$(now_ms); run L stop -t 10 trapper; t1=$(now_ms)
ok $([ $((t1 - t0)) -lt 2000 ]; echo $?) "stop of a process that handles SIGTERM returns at once ($((t1 - t0)) ms)"
is "$(L wait trapper)" 3 "  with the exit code of its handler"
is "$(L logs trapper)" "ready${nl}got-term" "  the handler ran"
L run -d --name usr1 --stop-signal USR1 "$IMG" sh -c 'trap "exit 9" USR1; echo ready; while :; do sleep 0.1; done' >/dev/null
wait_for 5 sh -c '"$0" --root "$1" logs usr1 2>/dev/null | grep -q ready' "$LRUN" "$R"
L stop -t 10 usr1 >/dev/null
is "$(L wait usr1)" 9 "--stop-signal USR1: stop sends SIGUSR1"
L run -d --name kterm "$IMG" sh -c 'trap "exit 11" TERM; echo ready; while :; do sleep 0.1; done' >/dev/null
wait_for 5 sh -c '"$0" --root "$1" logs kterm 2>/dev/null | grep -q ready' "$LRUN" "$R"
L kill -s -TERM kterm >/dev/null
is "$(L wait kterm)" 11 "kill -s -TERM delivers SIGTERM (a leading dash is dropped, as podman)"
run L kill -s -0 kterm
is "$rc:$err" "125:Error: invalid signal: 0$nl" "kill -s -0: podman's error, without the dash"
for s in - ''; do
	run L kill -s "$s" kterm
	is "$rc:$err" "125:Error: invalid signal: $nl" "kill -s '$s': no signal is no signal (not TERM), podman's error"
done
for s in 65 -65 99999999 999999999999999999999; do
	run L kill -s "$s" kterm
	is "$rc:$err" "125:Error: valid signals are 1 through 64$nl" "kill -s $s: podman's range error"
done
run L pod kill -s - nosuchpod
is "$rc:$err" "125:Error: invalid signal: $nl" "pod kill -s -: podman's error"
L run -d --name kdef "$IMG" sleep 30 >/dev/null
wait_for 5 running kdef
L kill kdef >/dev/null
is "$(L wait kdef)" 137 "kill without -s sends SIGKILL"
L run -d --name st1 --stop-timeout 1 "$IMG" sleep 30 >/dev/null
wait_for 5 running st1
t0=$(now_ms); L stop st1 >/dev/null; t1=$(now_ms)
ok $([ $((t1 - t0)) -ge 900 ] && [ $((t1 - t0)) -lt 2500 ]; echo $?) "--stop-timeout 1: stop without -t waits ~1 s ($((t1 - t0)) ms)"
L run -d --name waiter "$IMG" sh -c 'sleep 1; exit 6' >/dev/null
t0=$(now_ms); run L wait waiter; t1=$(now_ms)
ok $([ "$out" = "6$nl" ] && [ $((t1 - t0)) -ge 500 ]; echo $?) "wait blocks until the container exits and prints its code ($((t1 - t0)) ms, $out)"

# -------------------------------------------------------- logs -f --
L run -d --name follow "$IMG" sh -c 'echo a; sleep 1; echo b >&2; sleep 0.5; echo c' >/dev/null
run timeout 10 "$LRUN" --root "$R" logs -f follow
is "$rc|$out|$err" "0|a${nl}c$nl|b$nl" "logs -f follows until the container exits, streams kept apart"

# ------------------------------------------------------ create, start -a --
run L create --name cr "$IMG" sh -c 'echo created-run; echo e >&2; exit 4'
like "$out" '^[0-9a-f]{64}'"$nl"'$' "create prints the ID"
run L ps -a --format '{{.Names}} {{.Status}}'
like "$out" "(^|$nl)cr Created($nl|$)" "ps: Created"
run L start -a cr
is "$rc|$out|$err" "4|created-run$nl|e$nl" "start -a attaches and returns the exit code"
run L ps -a --format '{{.Names}} {{.Status}}'
like "$out" "(^|$nl)cr Exited \(4\) [0-9A-Za-z ]+ ago($nl|$)" "ps: Exited (4)"

# ----------------------------------------------------------------- rm --
L run --name gone "$IMG" sh -c 'echo data > /data' >/dev/null
gid=$(ctr_field gone .id) glayer=$(ctr_field gone .layer)
glink=$(cat "$R/overlay/$glayer/link" 2>/dev/null)
ok $([ -n "$glink" ] && [ -L "$R/overlay/l/$glink" ] && [ -d "$R/overlay-containers/$gid/userdata" ]; echo $?) \
	"a stopped container has its layer, l/ link and userdata"
is "$(jq -r --arg l "$glayer" '.[] | select(.id == $l) | .names[0]' "$R/overlay-layers/layers.json")" gone-layer \
	"layers.json: the container layer is named <name>-layer"
run L rm gone
is "$rc|$out" "0|gone$nl" "rm prints the name"
ok $([ ! -e "$R/overlay/$glayer" ] && [ ! -L "$R/overlay/l/$glink" ] && [ ! -e "$R/overlay-containers/$gid" ]; echo $?) \
	"rm removes the layer dir, its l/ link and the container dir"
is "$(jq --arg l "$glayer" '[.[] | select(.id == $l)] | length' "$R/overlay-layers/layers.json")|$(jq --arg i "$gid" '[.[] | select(.id == $i)] | length' "$R/overlay-containers/containers.json")" \
	"0|0" "  and both records"
run L rm gone
like "$rc|$err" '^1\|Error: .*gone' "rm of an unknown container: exit 1, Error:"
L run -d --name frm "$IMG" sleep 30 >/dev/null
wait_for 5 running frm
fid=$(ctr_field frm .id)
run L rm -f frm
is "$rc|$out" "0|frm$nl" "rm -f of a running container"
ok $([ ! -e "$R/overlay-containers/$fid" ] && ! running frm; echo $?) "  it is gone" ||
	diag "$(ls "$R/overlay-containers"; L ps -a)"
sleep 0.3
left=$(_ctr_pids)
is "$left" "" "  no process of it (or of any stopped container) is left"

# ------------------------------------------------------------- prune --
for c in $(L ps -aq); do L rm -f "$c" >/dev/null; done
e1=$(L run -d --name ex1 "$IMG" true) e2=$(L create --name cr2 "$IMG" true)
r1=$(L run -d --name keep "$IMG" sleep 30)
L wait ex1 >/dev/null
run L container prune -f
is "$rc|$(printf '%s' "$out" | sort)" "0|$(printf '%s\n' "$e1" "$e2" | sort)" "container prune prints the IDs of the stopped and created containers"
run L ps -a --format '{{.Names}}'
is "$out" "keep$nl" "  and keeps the running one"
ok $([ ! -e "$R/overlay-containers/$e1" ] && [ ! -e "$R/overlay-containers/$e2" ] && [ -d "$R/overlay-containers/$r1" ]; echo $?) \
	"  their directories are gone, the running one's is kept"
L rm -f keep >/dev/null

# ------------------------------------------------------------ -d --rm --
before=$(ls "$R/overlay" | wc -l)
run L run -d --rm --name selfrm "$IMG" sh -c 'sleep 1'
rid=${out%"$nl"}
running selfrm; ok $? "run -d --rm: listed while it runs"
wait_for 10 sh -c '! "$0" --root "$1" ps -a --format "{{.Names}}" | grep -qx selfrm' "$LRUN" "$R"
ok $? "  and gone from ps -a after it exits"
wait_for 5 sh -c '[ ! -e "$0" ]' "$R/overlay-containers/$rid"
[ ! -e "$R/overlay-containers/$rid" ]; ok $? "  its directory is removed"
is "$(ls "$R/overlay" | wc -l)" "$before" "  overlay/ has exactly the entries it had before"
is "$(jq length "$R/overlay-containers/containers.json")" 0 "no container record left" ||
	diag "$(jq -c '.[] | [.names, .flags]' "$R/overlay-containers/containers.json")"
is "$(mounts_below "$T" | wc -l)" 0 "no mount left below the test dir"

# ------------------------------------------------ rmi of an image in use --
for c in $(L ps -aq); do L rm -f "$c" >/dev/null 2>&1; done   # (leftovers of failures above)
uid=$(L create --name user "$IMG" true)
ulayer=$(ctr_field user .layer)
run L rmi "$IMG"
is "$rc|$out|$err" "2||Error: image used by $uid: image is in use by a container: consider listing external containers and force-removing image$nl" \
	"rmi of an image used by a container: exit 2 and podman's message"
run L rmi -f "$IMG"
like "$rc|$out" "^0\|Untagged: $IMG${nl}Deleted: [0-9a-f]{64}$nl\$" "rmi -f: Untagged + Deleted only"
ok $([ "$(jq length "$R/overlay-containers/containers.json")" = 0 ] && [ ! -e "$R/overlay/$ulayer" ] && [ ! -e "$R/overlay-containers/$uid" ]; echo $?) \
	"  the container using it was removed with its layer and directory"
done_testing
