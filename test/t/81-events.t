#!/bin/bash
# events: podman's file backend (ROOT/events/events.log, one JSON line per
# event) written by containers, images, volumes and network connects, read
# back by `events` with --filter, --format, --since, --until and --stream.
# The names, fields and order are podman 4.3.1's (run with --events-backend
# file and read back).
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/ctr-test.sh"
ctr_start

t0=$(date +%s.%N)
L run --name e1 --network none "$IMG" true
L create --name e2 --network none "$IMG" true >/dev/null
L rm e1 e2 >/dev/null
L tag "$IMG" ev:t2
L rmi ev:t2 >/dev/null
L volume create vv >/dev/null
L volume rm vv >/dev/null
run L run --name e3 --network none "$IMG" sh -c 'exit 3'
L rm e3 >/dev/null
ID=$(L inspect --format '{{.ID}}' "$IMG")

run L events --stream=false --since "$t0" --format '{{.Type}} {{.Status}} {{.Name}}'
is "$rc:$out" "0:container create e1
image pull localhost:5000/servidorweb:v1
container init e1
container start e1
container attach e1
container died e1
container cleanup e1
container create e2
image pull localhost:5000/servidorweb:v1
container remove e1
container remove e2
image tag ev:t2
image untag localhost/ev:t2
volume create vv
volume remove vv
container create e3
image pull localhost:5000/servidorweb:v1
container init e3
container start e3
container attach e3
container died e3
container cleanup e3
container remove e3$nl" "events --stream=false: what happened, in order (podman's: run pulls, inits, attaches, cleans up)"
is "$(stat -c %a "$R/events/events.log")" 600 "the events file: ROOT/events/events.log, 0600"

run L events --stream=false --since "$t0" --filter container=e1
like "$out" "^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:]{8}(\.[0-9]+)? [-+][0-9]{4} [A-Z]+ container create [0-9a-f]{64} \(image=localhost:5000/servidorweb:v1, name=e1\)$nl" \
	"a container's line as podman prints it (Go's time, full ID, image and name)"
is "$(printf '%s' "$out" | awk '{print $6}' | tr '\n' ' ')" "create init start attach died cleanup remove " "--filter container=NAME"
run L events --stream=false --since "$t0" --filter type=image --filter event=tag
like "$out" "^[-0-9]+ [0-9:.]+ [-+][0-9]{4} [A-Z]+ image tag $ID ev:t2$nl" "an image's line: ID and the name as given (podman's tag)"
run L events --stream=false --since "$t0" --filter type=image --filter event=pull
like "$out" "^[-0-9]+ [0-9:.]+ [-+][0-9]{4} [A-Z]+ image pull  localhost:5000/servidorweb:v1$nl" "a pull's line: no ID, two spaces (podman's)"
run L events --stream=false --since "$t0" --filter volume=v --format '{{.Status}} {{.Name}}'
is "$out" "create vv${nl}remove vv$nl" "--filter volume=PREFIX"
run L events --stream=false --since "$t0" --filter event=create --filter event=remove --filter type=volume --format '{{.Status}}'
is "$out" "create${nl}remove$nl" "one key's filters are alternatives, other keys must match too"
run L events --stream=false --since "$t0" --filter event=create --filter status=remove --format '{{.Status}}'
is "$rc:$out" "0:" "event= and status= are two keys (podman's): both must match"
run L events --stream=false --since "$t0" --filter TYPE=volume --filter Event=create --format '{{.Status}} {{.Name}}'
is "$out" "create vv$nl" "keys in any case"
run L events --stream=false --since "$t0" --filter container=e3 --filter event=died --format json
is "$(jq -r '"\(.ContainerExitCode) \(.Name) \(.Status) \(.Type) \(.Image)"' <<<"$out")" \
	"3 e3 died container localhost:5000/servidorweb:v1" "--format json: podman's event (ContainerExitCode of died)"
run L events --stream=false --until "$t0" --format '{{.Status}} {{.Name}}'
is "$rc:$out" "0:loadfromarchive $FX/v1.tar$nl" "--until before them: only the fixture's load (podman's loadfromarchive, the archive's path)"
run L events --stream=false --filter nosuch=1
is "$rc:$err" "125:Error: nosuch=1 is an invalid filter$nl" "an unknown filter: podman's error"
run L events --stream=false --events-backend journald
is "$rc:$err" "125:Error: events backend \"journald\": lrun keeps its events in a file (--events-backend file)$nl" \
	"another backend: a clear error"
run L events --stream=false --since yesterday-ish
is "$rc:$err" "125:Error: invalid time yesterday-ish$nl" "a bad --since: 125"

# pause, unpause, rename
t1=$(date +%s.%N)
L run -d --name p1 --network none "$IMG" sleep 60 >/dev/null
L pause p1 >/dev/null
L unpause p1 >/dev/null
L rename p1 p2
L rm -f p2 >/dev/null
run L events --stream=false --since "$t1" --filter type=container --format '{{.Status}} {{.Name}}'
is "$out" "create p1${nl}init p1${nl}start p1${nl}pause p1${nl}unpause p1${nl}rename p2${nl}died p2${nl}cleanup p2${nl}remove p2$nl" \
	"pause, unpause, rename (under the new name) as podman's"

# podman's lifecycle events: stop, kill, restart, exec, exec_died (exit code)
t2=$(date +%s.%N)
L run -d --name lc --network none --label zz=1 --label aa=2 "$IMG" sh -c 'trap "exit 0" TERM; while :; do sleep 0.1; done' >/dev/null
L exec lc true
run L exec lc sh -c 'exit 4'
L stop lc >/dev/null
L start lc >/dev/null
L kill lc >/dev/null
L wait lc >/dev/null
L restart lc >/dev/null
L rm -f -t 0 lc >/dev/null
run L events --stream=false --since "$t2" --filter container=lc --format '{{.Status}} {{.ContainerExitCode}}'
is "$out" "create 0${nl}init 0${nl}start 0${nl}exec 0${nl}exec_died 0${nl}exec 0${nl}exec_died 4${nl}stop 0${nl}died 0${nl}cleanup 0${nl}init 0${nl}start 0${nl}kill 0${nl}died 137${nl}cleanup 0${nl}restart 0${nl}init 0${nl}start 0${nl}stop 0${nl}died 137${nl}cleanup 0${nl}remove 0$nl" \
	"exec, exec_died (its exit code), stop, kill, restart, rm -f: podman's names and order"
LC=$(L events --stream=false --since "$t2" --filter event=create --format '{{.ID}}')
run L events --stream=false --since "$t2" --filter container=lc --filter event=exec_died --format json
is "$(jq -c 'del(.Time)' <<<"$out")" '{"ID":"'"$LC"'","Image":"localhost:5000/servidorweb:v1","Name":"lc","Status":"exec_died","Type":"container","Attributes":{"aa":"2","zz":"1"}}
{"ContainerExitCode":4,"ID":"'"$LC"'","Image":"localhost:5000/servidorweb:v1","Name":"lc","Status":"exec_died","Type":"container","Attributes":{"aa":"2","zz":"1"}}' \
	"--format json: podman's fields and order, the labels as Attributes"
like "$(head -c 40 <<<"$out")" '^\{"ID":"' "  the line as written (no ContainerExitCode when 0)"
run L events --stream=false --since "$t2" --filter container=lc --filter event=exec_died --format '{{json .}}'
is "$(jq -c 'del(.Time)' <<<"$out")" '{"ID":"'"$LC"'","Image":"localhost:5000/servidorweb:v1","Name":"lc","Status":"exec_died","Type":"container","Attributes":{"aa":"2","zz":"1"}}
{"ContainerExitCode":4,"ID":"'"$LC"'","Image":"localhost:5000/servidorweb:v1","Name":"lc","Status":"exec_died","Type":"container","Attributes":{"aa":"2","zz":"1"}}' \
	"--format '{{json .}}': the same lines (podman's)"
like "$out" '"Time":"[0-9-]+T[0-9:.]+Z"' "  Time in RFC 3339"
run L events --stream=false --since "$t2" --filter event=create
like "$out" "^[-0-9]+ [0-9:.]+ [-+][0-9]{4} [A-Z]+ container create $LC \(image=localhost:5000/servidorweb:v1, name=lc, aa=2, zz=1\)$nl$" \
	"a container's line: its labels after the name"
run L events --stream=false --since "$t2" --filter event=create --format '{{.Attributes}}|{{.Network}}|{{.ContainerExitCode}}'
is "$out" "map[aa:2 zz:1]||0$nl" "--format: Attributes a map, absent fields empty or 0 (podman's Event)"
run L events --stream=false --since "$t2" --filter label=aa=2 --format '{{.Status}}' --filter event=start
is "$out" "start${nl}start${nl}start$nl" "--filter label=KEY=VALUE: the container's events"
run L events --stream=false --since "$t2" --filter label=aa --format '{{.Status}}'
is "$rc:$out" "0:" "--filter label=KEY without a value: nothing (podman 4.3.1)"
run L events --stream=false --since "$t2" --filter label=aa=3 --filter label=zz=1 --filter event=remove --format '{{.Status}}'
is "$out" "remove$nl" "  several label= filters: alternatives"

# images: commit, mount, save, load, push, import, build, prune; volume prune; network connect
t3=$(date +%s.%N)
mkdir -p "$T/ctx" && printf 'FROM %s\nLABEL x=y\n' "$IMG" >"$T/ctx/Containerfile"
B=$(L build -q -t ev/built "$T/ctx")
L rmi ev/built >/dev/null
B2=$(L build -q "$T/ctx")
L image prune -f >/dev/null
L create --name im --label q=1 --network none "$IMG" true >/dev/null
L commit -q im ev/committed >/dev/null
L mount im >/dev/null
L unmount im >/dev/null
L export -o "$T/im.tar" im
L import -q "$T/im.tar" ev/imp >/dev/null
IMP=$(L inspect --format '{{.ID}}' ev/imp)
L save -q -o "$T/s.tar" ev/imp
L load -q -i "$T/s.tar" >/dev/null
L push -q ev/imp "dir:$T/pushed" >/dev/null
L volume create pv >/dev/null
L volume prune -f >/dev/null
L container prune -f >/dev/null
run L events --stream=false --since "$t3" --format '{{.Type}} {{.Status}} {{.ID}} {{.Name}}'
IM=$(L events --stream=false --since "$t3" --filter event=create --format '{{.ID}}')
is "$out" "image build  $B
image untag $B localhost/ev/built:latest
image remove $B localhost/ev/built:latest
image build  $B2
image remove $B2 
container create $IM im
image pull  localhost:5000/servidorweb:v1
container commit $IM im
container mount $IM im
image tag $IMP ev/imp
image save $IMP $T/s.tar
image loadfromarchive  $T/s.tar
image push $IMP dir:$T/pushed
volume create  pv
volume remove  pv
container remove $IM im$nl" "commit, mount, import, save, load, push, build, rmi, image/volume/container prune: podman's events"

t4=$(date +%s.%N)
mkdir -p "$T/ctx2" && printf 'FROM %s\nRUN echo ran >/ran\n' "$IMG" >"$T/ctx2/Containerfile"
B3=$(L build -q -t ev/ran "$T/ctx2")
run L events --stream=false --since "$t4" --format '{{.Type}} {{.Status}} {{.Name}}'
is "$out" "image build $B3$nl" "build with a RUN step: one build event, none of its step's container (buildah's)"

L network create --subnet 10.231.77.0/24 evn1 >/dev/null
L network create --subnet 10.231.78.0/24 evn2 >/dev/null
L create --name nc --network evn1 "$IMG" true >/dev/null
NC=$(L inspect --format '{{.Id}}' nc)
L network connect evn2 nc
L network disconnect evn2 nc
run L events --stream=false --since "$t3" --filter type=network
like "$out" "^[-0-9]+ [0-9:.]+ [-+][0-9]{4} [A-Z]+ network connect $NC \(container=$NC, name=evn2\)$nl[^$nl]* network disconnect $NC " \
	"network connect, disconnect: podman's lines"
run L events --stream=false --since "$t3" --filter network=evn2 --format json
is "$(jq -c 'del(.Time)' <<<"$out")" '{"ID":"'"$NC"'","Name":"nc","network":"evn2","Status":"connect","Type":"network","Attributes":null}
{"ID":"'"$NC"'","Name":"nc","network":"evn2","Status":"disconnect","Type":"network","Attributes":null}' "--filter network=NAME, --format json"
L rm nc >/dev/null
L network rm evn1 evn2 >/dev/null

# rmi -f of an image a container uses: the container's remove first (podman's)
t5=$(date +%s.%N)
L create --name rfc --network none ev/committed true >/dev/null
RFC=$(L inspect --format '{{.Id}}' rfc)
CM=$(L inspect --format '{{.ID}}' ev/committed)
L rmi -f ev/committed >/dev/null
run L events --stream=false --since "$t5" --format '{{.Type}} {{.Status}} {{.ID}} {{.Name}}'
is "$out" "container create $RFC rfc
image pull  localhost/ev/committed:latest
container remove $RFC rfc
image untag $CM localhost/ev/committed:latest
image remove $CM localhost/ev/committed:latest$nl" "rmi -f: its container's remove, then the image's untag and remove"

# an image's labels are its containers' too (podman's create: --label's over them)
t6=$(date +%s.%N)
L build -q -t ev/lab "$T/ctx" >/dev/null
L create --name il --label q=2 --network none ev/lab true >/dev/null
L create --name il2 --label x=z --network none ev/lab true >/dev/null
run L events --stream=false --since "$t6" --filter event=create --format '{{.Name}} {{.Attributes}}'
is "$out" "il map[q:2 x:y]${nl}il2 map[x:z]$nl" "the image's LABEL in the container's Attributes, --label over it"
run L inspect --format '{{.Config.Labels}}' il
is "$out" "map[q:2 x:y]$nl" "  inspect: the same labels"
run L events --stream=false --since "$t6" --filter label=x=y --format '{{.Status}} {{.Name}}'
is "$out" "create il$nl" "  --filter label= by an image's label"
L rm il il2 >/dev/null

# --stream (the default): new events as they come
L events --filter type=volume --format '{{.Status}} {{.Name}}' >"$T/stream" 2>&1 &
pid=$!
sleep 0.5
L volume create live >/dev/null
wait_for 5 grep -q "create live" "$T/stream"
kill "$pid"
wait "$pid" 2>/dev/null
is "$(grep -c live "$T/stream")" 1 "events streams what happens after it starts"
L volume rm live >/dev/null
run $TO "$LRUN" --root "$R" events --until 1s
is "$rc" 0 "--until in the past: the stream ends"

done_testing
