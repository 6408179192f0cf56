#!/bin/bash
# pause/unpause (the freezer: v1 freezer.state, v2 cgroup.freeze), state
# paused in ps and inspect, stop and rm -f of a paused container; stats
# --no-stream [--format] [-a] with podman's columns; top with format
# descriptors and with ps options; update of a running container's limits.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/ctr-test.sh"
grep -q cgroup /proc/self/mountinfo || skip_all "no cgroup hierarchy mounted"
ctr_start 60
V2=0
[ "$(stat -f -c %T /sys/fs/cgroup)" = cgroup2fs ] && V2=1
cg() { if [ $V2 = 1 ]; then cat "/sys/fs/cgroup/lrun/$1/$3"; else cat "/sys/fs/cgroup/$2/lrun/$1/$3"; fi; }

# ------------------------------------------------------ pause, unpause --
run $TO "$LRUN" --root "$R" run -d --name pz -m 64m "$IMG" sh -c 'i=0; while :; do i=$((i + 1)); echo $i >/tmp/count; sleep 0.1; done'
is "$rc" 0 "run -d"
id=$(ctr_field pz .id)
run $TO "$LRUN" --root "$R" pause pz
is "$rc|$out" "0|$id$nl" "pause prints the container's ID"
if [ $V2 = 1 ]; then
	like "$(cg "$id" x cgroup.events)" "frozen 1" "  cgroup.events: frozen 1"
else
	is "$(cg "$id" freezer freezer.state)" FROZEN "  freezer.state FROZEN"
fi
run $TO "$LRUN" --root "$R" ps --format '{{.Names}} {{.State}} {{.Status}}'
is "$out" "pz paused Paused$nl" "ps: State paused, Status Paused"
run $TO "$LRUN" --root "$R" inspect --format '{{.State.Status}} {{.State.Paused}} {{.State.Running}}' pz
is "$out" "paused true true$nl" "inspect: State.Status paused, Paused true"
c1=$(cat "$R/overlay/$(ctr_field pz .layer)/diff/tmp/count")
sleep 0.5
c2=$(cat "$R/overlay/$(ctr_field pz .layer)/diff/tmp/count")
is "$c2" "$c1" "  its loop does not advance while paused ($c1)"
run $TO "$LRUN" --root "$R" pause pz
like "$rc|$err" "^125\|Error: \"$id\" is paused, can't pause: container state improper" "pause of a paused container: 125"
run $TO "$LRUN" --root "$R" unpause pz
is "$rc|$out" "0|$id$nl" "unpause prints the ID"
count_past() { [ "$(cat "$R/overlay/$(ctr_field pz .layer)/diff/tmp/count")" -gt "$1" ]; }
wait_for 10 count_past "$c2"
ok $? "  the loop advances again (past $c2)"
run $TO "$LRUN" --root "$R" unpause pz
like "$rc|$err" "^125\|Error: \"$id\" is not paused, can't unpause" "unpause of a running container: 125"
lr pause pz >/dev/null
run $TO "$LRUN" --root "$R" stop -t 1 pz
is "$rc" 0 "stop of a paused container works"
run $TO "$LRUN" --root "$R" ps -a --format '{{.Names}} {{.State}}'
is "$out" "pz exited$nl" "  it is exited (not paused) afterwards"
find /sys/fs/cgroup -mindepth 2 -maxdepth 3 -type d -name "$id" | grep -q .
ok $((!$?)) "  its cgroup is gone"
lr rm pz >/dev/null
run $TO "$LRUN" --root "$R" run -d --name pz2 "$IMG" sleep 300
lr pause pz2 >/dev/null
run $TO "$LRUN" --root "$R" rm -f pz2
is "$rc|$out" "0|pz2$nl" "rm -f of a paused container works"
run $TO "$LRUN" --root "$R" ps -a -q
is "$out" "" "  nothing is left"
run $TO "$LRUN" --root "$R" create --name cz "$IMG" true
run $TO "$LRUN" --root "$R" pause cz
like "$rc|$err" "^125\|Error: \"[0-9a-f]{64}\" is not running, can't pause" "pause of a created container: 125"
lr rm cz >/dev/null
a=$(lr run -d --name pa "$IMG" sleep 300) b=$(lr run -d --name pb "$IMG" sleep 300)
lr pause pa >/dev/null
run $TO "$LRUN" --root "$R" pause --all
is "$rc|$out" "0|$b$nl" "pause --all: the running containers not paused yet, by ID"
run $TO "$LRUN" --root "$R" unpause --all
is "$rc|$(printf '%s' "$out" | sort)" "0|$(printf '%s\n' "$a" "$b" | sort)" "unpause --all: every paused container"
run $TO "$LRUN" --root "$R" ps --format '{{.Names}} {{.State}}'
is "$out" "pa running${nl}pb running$nl" "  both run again (oldest first, as podman's ps)"
run $TO "$LRUN" --root "$R" unpause --all
is "$rc|$out" "0|" "unpause --all with nothing paused: nothing, exit 0"
lr rm -f -t 0 pa pb >/dev/null

# ---------------------------------------------------------------- stats --
run $TO "$LRUN" --root "$R" run -d --name st -m 64m --pids-limit 50 "$IMG" sh -c 'sleep 300 & sleep 300; true'
id=$(ctr_field st .id)
run $TO "$LRUN" --root "$R" stats --no-stream
hdr="ID            NAME        CPU %       MEM USAGE / LIMIT  MEM %       NET IO      BLOCK IO    PIDS        CPU TIME"
like "$out" "^$(sed -E 's/ {2,}/ +/g' <<<"$hdr") +AVG CPU %$nl" "stats --no-stream: podman's columns"
row=$(sed -n 2p <<<"$out")
like "$row" "^${id:0:12}  st +[0-9]+\.[0-9]{2}% +[0-9.]+[kM]?B / 67\.11MB +[0-9.]+% +(-- / --|[0-9.]+[kMG]?B / [0-9.]+[kMG]?B) +[0-9.]+[kM]?B / [0-9.]+[kM]?B +3 +[0-9.]+[mµn]?s +[0-9.]+%$" \
	"  the row: ID, name, CPU %, memory of the 64m limit, net I/O (the bridge's bytes, --/-- without a network), block I/O, 3 pids, CPU time"
run $TO "$LRUN" --root "$R" stats --no-stream --format '{{.Name}} {{.PIDS}} {{.MemUsage}}' st
like "$out" "^st 3 [0-9.]+[kM]?B / 67\.11MB$nl$" "stats --format with a template"
run $TO "$LRUN" --root "$R" stats --no-stream --format json st
is "$(jq -r '.[0].ContainerID + " " + .[0].PIDS + " " + (.[0].MemLimit|tostring)' <<<"$out")" "$id 3 67108864" "stats --format json"
run $TO "$LRUN" --root "$R" create --name idle "$IMG" true
run $TO "$LRUN" --root "$R" stats --no-stream --format '{{.Name}}'
is "$out" "st$nl" "stats: running containers only"
run $TO "$LRUN" --root "$R" stats --no-stream -a --format '{{.Name}} {{.PIDS}}'
is "$(printf %s "$out" | sort)" "idle 0${nl}st 3" "stats -a: every container"
run $TO "$LRUN" --root "$R" stats --no-stream idle
like "$rc|$err" "^125\|Error: .*not running" "stats of a stopped container: 125"
lr rm idle >/dev/null

# ------------------------------------------------------------------ top --
run $TO "$LRUN" --root "$R" top st
like "$out" "^USER +PID +PPID +%CPU +ELAPSED +TTY +TIME +COMMAND${nl}root +1 +0 +[0-9.]+ +[0-9.]+[mµn]?s +\? +0s +sh -c sleep 300 & sleep 300; true${nl}root +[0-9]+ +1 +" \
	"top: podman's default columns, pids as the container sees them"
run $TO "$LRUN" --root "$R" top st pid ppid comm
like "$out" "^PID +PPID +COMMAND${nl}1 +0 +sh$nl[0-9]+ +1 +sleep$nl[0-9]+ +1 +sleep$nl$" "top CTR pid ppid comm"
run $TO "$LRUN" --root "$R" top st -o pid,comm
like "$out" "^ *PID +COMMAND$nl +1 +sh$nl" "top CTR -o pid,comm: ps options run the container's ps"

# --------------------------------------------------------------- update --
run $TO "$LRUN" --root "$R" update --memory 128m --pids-limit 20 --cpus 0.5 st
is "$rc|$out" "0|$id$nl" "update prints the ID"
if [ $V2 = 1 ]; then
	is "$(cg "$id" memory memory.max) $(cg "$id" pids pids.max) $(cg "$id" cpu cpu.max)" "134217728 20 50000 100000" \
		"  the running container's cgroup has the new limits"
else
	is "$(cg "$id" memory memory.limit_in_bytes) $(cg "$id" pids pids.max) $(cg "$id" cpu cpu.cfs_quota_us)" "134217728 20 50000" \
		"  the running container's cgroup has the new limits"
fi
run $TO "$LRUN" --root "$R" inspect --format '{{.HostConfig.Memory}} {{.HostConfig.PidsLimit}} {{.HostConfig.NanoCpus}}' st
is "$out" "134217728 20 500000000$nl" "  inspect shows them (kept in config.json for the next start)"
run $TO "$LRUN" --root "$R" update --memory 4k st
like "$rc|$err" "^125\|Error: invalid --memory" "update --memory 4k: 125"
run $TO "$LRUN" --root "$R" update --cpuset-cpus 99 st
like "$rc|$err" "^125\|Error: .*--cpuset-cpus" "update --cpuset-cpus 99: 125"
run $TO "$LRUN" --root "$R" inspect --format '{{.HostConfig.Memory}}' st
is "$out" "134217728$nl" "  a refused update changes nothing"
lr rm -f st >/dev/null

done_testing
