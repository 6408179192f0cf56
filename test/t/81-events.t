#!/bin/bash
# events: podman's file backend (ROOT/events/events.log, one JSON line per
# event) written by containers, images and volumes, read back by `events`
# with --filter, --format, --since, --until and --stream.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/ctr-test.sh"
ctr_start

t0=$(date +%s)
sleep 1.1
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
container start e1
container died e1
container create e2
container remove e1
container remove e2
image tag localhost/ev:t2
image untag localhost/ev:t2
volume create vv
volume remove vv
container create e3
container start e3
container died e3
container remove e3$nl" "events --stream=false: what happened, in order"
is "$(stat -c %a "$R/events/events.log")" 600 "the events file: ROOT/events/events.log, 0600"

run L events --stream=false --since "$t0" --filter container=e1
like "$out" "^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:]{8}(\.[0-9]+)? [-+][0-9]{4} [A-Z]+ container create [0-9a-f]{64} \(image=localhost:5000/servidorweb:v1, name=e1\)$nl" \
	"a container's line as podman prints it (Go's time, full ID, image and name)"
is "$(printf '%s' "$out" | awk '{print $6}' | tr '\n' ' ')" "create start died remove " "--filter container=NAME"
run L events --stream=false --since "$t0" --filter type=image
like "$out" "^[-0-9]+ [0-9:.]+ [-+][0-9]{4} [A-Z]+ image tag $ID localhost/ev:t2$nl" "an image's line: ID and name"
run L events --stream=false --since "$t0" --filter volume=v --format '{{.Status}} {{.Name}}'
is "$out" "create vv${nl}remove vv$nl" "--filter volume=PREFIX"
run L events --stream=false --since "$t0" --filter event=create --filter status=remove --filter type=volume --format '{{.Status}}'
is "$out" "create${nl}remove$nl" "one key's filters are alternatives, other keys must match too"
run L events --stream=false --since "$t0" --filter container=e3 --filter event=died --format json
is "$(jq -r '"\(.ContainerExitCode) \(.Name) \(.Status) \(.Type) \(.Image)"' <<<"$out")" \
	"3 e3 died container localhost:5000/servidorweb:v1" "--format json: podman's event (ContainerExitCode of died)"
run L events --stream=false --until "$t0"
is "$rc:$out" "0:" "--until before them all: nothing"
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
is "$out" "create p1${nl}start p1${nl}pause p1${nl}unpause p1${nl}rename p2${nl}died p2${nl}remove p2$nl" \
	"pause, unpause, rename (under the new name) as podman's"

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
