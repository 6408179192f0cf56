#!/bin/bash
# A container's log is bounded: --log-opt max-size (podman's k8s-file
# log_size_max: a line that would pass it rotates the file; with one file it
# starts over, as conmon's) and max-file=N (ctr.log.1 .. ctr.log.N-1 keep
# the older lines, as docker's json-file); without max-size the bound is
# containers.conf's log_size_max, else a twentieth of the graph root's file
# system (whole MB, 1MB..1GB).  A chatty container on a small graph root
# stays within it, logs
# shows its tail, stop and rm work in time; on a full graph root the
# output is still drained (the container finishes) and rm frees the disk.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/ctr-test.sh"
ctr_start 30
small_fs 48M "$T/fs"
R=$T/fs/root
L load -q -i "$FX/v1.tar" >/dev/null || bail "load"
# the default bound here: a twentieth of the 48M file system, in whole MB
DEF=$(( $(log_bound "$T/fs") / 1000000 ))
[ "$DEF" -ge 1 ] && [ "$DEF" -lt 10 ] || bail "the small file system's default bound: ${DEF}MB"
log_of() { L inspect --format '{{.HostConfig.LogConfig.Path}}' "$1"; }
size_of() { stat -c %s "$1"; }
# the lines of FILE not in k8s-file format
well_formed() { grep -cvE '^[0-9T:.-]+Z std(out|err) [FP] ' "$1"; }
# "ok" when the command SECS... finishes within SECS
in_time() { local s=$SECONDS; "${@:2}" >/dev/null 2>&1 && [ $((SECONDS - s)) -le "$1" ] && echo ok; }

# ------------------------------------------------------------ flags --
run L run --rm --log-opt max-size=abc "$IMG" true
is "$rc:$err" "125:Error: invalid size: 'abc'$nl" "max-size=abc: podman's error"
run L run --rm --log-opt max-size=-1 "$IMG" true
is "$rc:$err" "125:Error: invalid size: '-1'$nl" "max-size=-1: podman's error"
run L run --rm --log-opt max-file=0 "$IMG" true
is "$rc:$err" "125:Error: invalid log option \"max-file=0\": max-file is a number of files, 1 to 100$nl" "max-file=0 refused"
L create --name sizes --log-opt max-size=1.234m "$IMG" true >/dev/null
L create --name plain "$IMG" true >/dev/null
L create --name nobound --log-opt max-size=0 "$IMG" true >/dev/null
run L inspect --format '{{.HostConfig.LogConfig.Size}}' sizes plain nobound
is "$out" "1.234MB${nl}${DEF}MB${nl}0B$nl" "inspect Size: podman's units; the default bound ${DEF}MB (1/20 of 48M); max-size=0 none"
run L inspect --format '{{json .HostConfig.LogConfig}}' sizes
ID=$(L inspect --format '{{.Id}}' sizes)
is "$out" "{\"Type\":\"k8s-file\",\"Config\":null,\"Path\":\"$R/overlay-containers/$ID/userdata/ctr.log\",\"Tag\":\"\",\"Size\":\"1.234MB\"}$nl" \
	"inspect LogConfig as podman's"
L rm sizes plain nobound >/dev/null
printf '[containers]\nlog_size_max = 2500000\n' > "$T/size.conf"
printf '[containers]\nlog_size_max = -1\n' > "$T/none.conf"
printf '[containers]\nlog_size_max = "lots"\n' > "$T/bad.conf"
CONTAINERS_CONF=$T/size.conf L create --name conf "$IMG" true >/dev/null
CONTAINERS_CONF=$T/none.conf L create --name confnone "$IMG" true >/dev/null
CONTAINERS_CONF=$T/size.conf L create --name confopt --log-opt max-size=3m "$IMG" true >/dev/null
run L inspect --format '{{.HostConfig.LogConfig.Size}}' conf confnone confopt
is "$out" "2.5MB${nl}0B${nl}3MB$nl" "containers.conf log_size_max is the default (-1: none); --log-opt max-size wins"
CONTAINERS_CONF=$T/bad.conf run L create --name confbad "$IMG" true
is "$rc:$err" "125:Error: containers.conf: invalid log_size_max \"lots\": use a number of bytes$nl" "a bad log_size_max is an error"
L rm conf confnone confopt >/dev/null

# ------------------------------------------------------------ max-size, one file --
L run -d --name y1 --log-opt max-size=100k "$IMG" busybox yes lrun-log-line >/dev/null
LOG=$(log_of y1)
wait_for 20 sh -c "[ \$(stat -c %s '$LOG') -gt 90000 ]"
ok $? "the chatty container's log nears 100k"
sleep 1
sz=$(size_of "$LOG")
ok "$([ "$sz" -le 100000 ]; echo $?)" "its log stays within max-size=100k (100000 bytes: $sz)"
# the log is emptied at each rotation (max-file 1, as podman's conmon does): a read
# just after one finds nothing yet, so read until it finds lines
for i in 1 2 3 4 5 6 7 8 9 10; do run L logs --tail 3 y1; [ -n "$out" ] && break; done
like "$rc:$out" "^0:(lrun-log-line$nl){3}(l[a-z-]*)?$" "logs --tail 3: the last 3 lines (and the piece of the next a read cut)"
is "$(in_time 10 L stop -t 2 y1)" ok "stop of the chatty container works in time"
is "$(L inspect --format '{{.State.Status}}' y1)" exited "  it is exited"
sz=$(size_of "$LOG")
ok "$([ "$sz" -le 100000 ]; echo $?)" "  its log is still within 100000 bytes ($sz)"
is "$(well_formed "$LOG")" 0 "  after its rotations every line is a k8s-file line"
is "$(in_time 10 L rm y1)" ok "rm works in time"

# ------------------------------------------------------------ max-file=3 --
L run --name s3 --log-opt max-size=50k --log-opt max-file=3 "$IMG" busybox seq 1 30000 >/dev/null
LOG=$(log_of s3)
is "$(cd "$(dirname "$LOG")" && ls ctr.log* | tr '\n' ' ')" "ctr.log ctr.log.1 ctr.log.2 " "max-file=3: ctr.log and two older files"
for f in "$LOG.1" "$LOG.2"; do
	sz=$(size_of "$f")
	# a file is rotated when the next line (at most 30 + 8 + 6 bytes) does not fit
	ok "$([ "$sz" -le 50000 ] && [ "$sz" -gt 49950 ]; echo $?)" "${f##*/}: within 50000 bytes and rotated full ($sz)"
done
ok "$([ "$(size_of "$LOG")" -le 50000 ]; echo $?)" "ctr.log within 50000 bytes"
run L logs s3
first=$(printf '%s' "$out" | head -1)
want=$(seq "$first" 30000)
is "$rc:$out" "0:$want$nl" "logs: the three files' lines in order, an unbroken tail ending at 30000 (from $first)"
n=$(cat "$LOG.2" "$LOG.1" "$LOG" | grep -c ' F ')
is "$(printf '%s' "$out" | wc -l)" "$n" "  as many lines as the three files hold"
run L logs --tail 2 s3
is "$out" "29999${nl}30000$nl" "logs --tail 2"
L rm s3 >/dev/null

# ------------------------------------------------------------ the default bound --
L run -d --name cnt "$IMG" sh -c 'i=0; while :; do echo "line $i of a long log that grows"; i=$((i+1)); done' >/dev/null
LOG=$(log_of cnt)
wait_for 25 sh -c "! head -1 '$LOG' | grep -q ' line 0 of'"
ok $? "without max-size the log is rotated (its first line is no longer line 0)"
sz=$(size_of "$LOG")
ok "$([ "$sz" -le $((DEF * 1000000)) ]; echo $?)" "  it stays within the default ${DEF}MB ($sz bytes)"
run L logs --tail 1 cnt
like "$out" "^line [0-9]+ of a long log that grows$nl$" "logs --tail 1: a whole line"
is "$(in_time 10 L rm -f cnt)" ok "rm -f works in time"

# ------------------------------------------------------------ a full graph root --
mkdir -p "$T/go"
L run -d --name full -v "$T/go:/go" "$IMG" sh -c 'while [ ! -e /go/now ]; do sleep 0.1; done; busybox yes lrun | head -c 30000000; echo end' >/dev/null
ok "$(fs_fill "$T/fs/filler"; echo $?)" "the graph root is full"
touch "$T/go/now"
run L wait full
is "$rc:$out" "0:0$nl" "the container wrote 30 MB on a full graph root and exited 0 (its output drained)"
run L logs --tail 1 full
is "$rc" 0 "logs works on the full graph root"
is "$(in_time 10 L rm full)" ok "rm works on the full graph root"
rm -f "$T/fs/filler"*
is "$(L ps -a --format '{{.Names}}')" "" "no container left"
umount "$T/fs"
done_testing
