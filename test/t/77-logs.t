#!/bin/bash
# logs as podman's k8s-file reader: attached runs are logged too, --tail,
# --since, --until, -t, -f over several containers (ID-led lines), --names;
# a big log read in the memory of its longest lines;
# --log-driver none|passthrough|k8s-file and --log-opt path=.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/ctr-test.sh"
ctr_start
TS='[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{9}(Z|[+-][0-9]{2}:[0-9]{2})'

# ----------------------------------------------- an attached run is logged --
run L create --name c1 "$IMG" sh -c 'echo out1; sleep 0.1; echo err1 >&2; sleep 0.1; printf partial'
run L logs c1
is "$rc:$out:$err" "0::" "logs of a created container: empty"
run L start --attach c1
is "$rc:$out:$err" "0:out1${nl}partial:err1$nl" "start -a: the output on the terminal"
run L logs c1
is "$rc:$out:$err" "0:out1${nl}partial:err1$nl" "logs after an attached start: the same, stderr to stderr"
ID=$(L inspect --format '{{.Id}}' c1)
like "$(cat "$R/overlay-containers/$ID/userdata/ctr.log")" \
	"^$TS stdout F out1${nl}$TS stderr F err1${nl}$TS stdout P partial$" "ctr.log: k8s-file lines, a partial line tagged P"
run L logs --tail 1 c1
is "$out:$err" "partial:err1$nl" "--tail 1: the last whole line and the partial one after it"
run L logs --tail 0 c1
is "$rc:$out:$err" "0::" "--tail 0: nothing"
run L logs -t c1
like "$out" "^$TS out1$nl$TS partial$" "-t: each line led by its time, podman's nine digits"
run L logs --since 1000 c1
is "$out" "out1${nl}partial" "--since in Unix seconds (long ago): all"
run L logs --until 1000 c1
is "$rc:$out:$err" "0::" "--until in Unix seconds (long ago): nothing"
run L logs --since 2000-01-01 --until "$(date -d '+1 hour' --iso-8601=seconds)" c1
is "$out" "out1${nl}partial" "--since a date, --until an RFC 3339 time"
run L logs --since 10m c1
is "$out" "out1${nl}partial" "--since a duration"
run L logs --since "$(date -d '+1 minute' --iso-8601=seconds)" c1
is "$rc:$out:$err" "0::" "--since later: nothing"
run L logs --since yesterday c1
is "$rc:$err" "125:Error: parsing --since \"yesterday\": unable to interpret time value$nl" "--since nonsense: 125"

# the second run appends (podman's "logs restarted" test)
run L run --name seq "$IMG" sh -c 'start=0; if test -s log; then start=$(tail -n 1 log); fi; seq $((start + 1)) $((start + 3)) | tee -a log'
is "$out" "1${nl}2${nl}3$nl" "run: attached output"
run L start -a seq
is "$out" "4${nl}5${nl}6$nl" "start -a again"
run L logs -f seq
is "$rc:$out" "0:$(seq 1 6)$nl" "logs -f of an exited container: both runs' lines, then it ends"

# ------------------------------------------------ detached, --since/-f --
run L run -d --name d1 "$IMG" sh -c 'echo before; trap "echo after; exit" TERM; while :; do sleep 0.1; done'
wait_for 5 sh -c '"$0" --root "$1" logs d1 | grep -q before' "$LRUN" "$R"
sleep 1.1
mid=$(date --iso-8601=seconds)
sleep 1
run L stop d1
run L logs d1
is "$out" "before${nl}after$nl" "stop: the trap's line is logged"
run L logs --since "$mid" d1
is "$out" "after$nl" "--since between the two lines"
run L logs --until "$mid" d1
is "$out" "before$nl" "--until between the two lines"

# -f over two running containers: lines interleaved as they come, led by the ID
a=$(L run -d --rm --name fa "$IMG" sh -c 'echo a; sleep 2; echo d; sleep 1')
b=$(L run -d --rm --name fb "$IMG" sh -c 'sleep 0.7; echo b; sleep 0.7; echo c; sleep 1')
run L logs -f fa fb
is "$rc:$out" "0:${a:0:12} a$nl${b:0:12} b$nl${b:0:12} c$nl${a:0:12} d$nl" \
	"logs -f of two: in time order, ID-led; it ends when both are gone (--rm)"
run L logs --names c1 seq
is "$out" "c1 out1${nl}c1 partialseq 1${nl}seq 2${nl}seq 3${nl}seq 4${nl}seq 5${nl}seq 6$nl" "--names with two containers: name-led"
run L logs --names seq --tail 1
is "$out" "6$nl" "--names with one container: no prefix (podman)"

# ---------------------------------------------------------- log drivers --
run L run --log-driver none --name none1 "$IMG" echo hi
is "$rc:$out" "0:hi$nl" "--log-driver none: the attached output still shows"
run L logs none1
is "$rc:$out:$err" "125::Error: this container is using the 'none' log driver, cannot read logs: this container is not logging output$nl" \
	"logs of a none container: podman's error"
ID=$(L inspect --format '{{.Id}}' none1)
[ ! -e "$R/overlay-containers/$ID/userdata/ctr.log" ]; ok $? "  no ctr.log"
run L run --log-driver passthrough --name pt "$IMG" echo hi
is "$rc:$out" "0:hi$nl" "--log-driver passthrough"
run L logs pt
is "$rc" 125 "  logs of it: 125"
run L run --log-driver journald "$IMG" true
is "$rc:$err" "125:Error: running container create option: invalid log driver: invalid argument$nl" \
	"--log-driver journald: lrun has none, podman's message, 125"
run L run --name jf --log-driver json-file "$IMG" echo jf
run L logs jf
is "$out" "jf$nl" "--log-driver json-file: podman's alias of k8s-file"
run L inspect --format '{{.HostConfig.LogConfig.Type}}' jf
is "$out" "json-file$nl" "  inspect shows the name given"
run L run --log-opt path=rel.log "$IMG" true
is "$rc:$err" "125:Error: invalid log option \"path=rel.log\": the path must be absolute$nl" "--log-opt path= relative: 125"
run L run -d --name lp --log-opt path="$T/my.log" "$IMG" echo inpath
L wait lp >/dev/null
like "$(cat "$T/my.log")" "^$TS stdout F inpath$" "--log-opt path=: the log is there"
run L logs lp
is "$out" "inpath$nl" "  logs reads it there"
run L inspect --format '{{.HostConfig.LogConfig.Type}} {{.HostConfig.LogConfig.Path}}' lp none1
is "$out" "k8s-file $T/my.log${nl}none $nl" "inspect: LogConfig Type and Path"

# ------------------------------------------- NUL bytes: the bytes as written --
L run --name nul "$IMG" sh -c 'printf "a\000b\nc\000\000d\000"; sleep 0.2; printf "\000e\000\n" >&2' >/dev/null 2>&1
printf 'a\0b\nc\0\0d\0' >"$T/nul.out"
printf '\0e\0\n' >"$T/nul.err"
L logs nul >"$T/o" 2>"$T/e"
cmp -s "$T/o" "$T/nul.out" && cmp -s "$T/e" "$T/nul.err"; ok $? "logs: NUL bytes kept, stdout and stderr byte for byte"
L logs -f --since 1000 nul >"$T/o" 2>"$T/e"
cmp -s "$T/o" "$T/nul.out" && cmp -s "$T/e" "$T/nul.err"; ok $? "logs -f --since: NUL bytes kept"
L logs -t nul 2>/dev/null | sed -E "s/^$TS /T /" >"$T/o"
printf 'T a\0b\nT c\0\0d\0' | cmp -s - "$T/o"; ok $? "logs -t: NUL bytes kept, each line led by its time"
L logs --tail 1 nul >"$T/o" 2>"$T/e"
printf 'c\0\0d\0' | cmp -s - "$T/o" && cmp -s "$T/e" "$T/nul.err"; ok $? "logs --tail 1: the partial line with its NULs, the last line"
is "$(od -An -c "$T/o" | tr -s ' ')" " c \\0 \\0 d \\0" "  its bytes (od)"

# --------------------------- a big log is read a line at a time, not whole --
L run --name big --log-opt max-size=0 "$IMG" sh -c 's=a; for i in 1 2 3 4 5 6 7 8 9 10 11 12; do s=$s$s; done
	i=0; while [ $i -lt 10000 ]; do echo "$i$s"; i=$((i+1)); done' >/dev/null
is "$(ulimit -v 20000; L logs big | wc -c)" 41008890 "logs of a 41 MB log in 20 MB of address space: every byte"
is "$(ulimit -v 20000; L logs --tail 2 big | cut -c1-5)" "9998a${nl}9999a" "  --tail 2 of it: the last two lines"

done_testing
