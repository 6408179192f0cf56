#!/bin/bash
# Pods, as podman 4.3.1's: pod create (an infra container of lrun's pause
# that holds the shared namespaces), pod ps/inspect/exists/rm, start, stop,
# kill; run/create --pod NAME and --pod new:NAME; ps --pod and
# --filter pod=; the infra's refusals; the pod record's leftovers.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/ctr-test.sh"
ctr_start
ns() { readlink "/proc/$1/ns/$2"; }
probe='for n in ipc uts net; do readlink /proc/self/ns/$n; done; hostname'

# ---------------------------------------------------------- pod create --
run L pod create --name p1 --network none --label team=a
p1=${out%$nl}
like "$rc:$out" "^0:[0-9a-f]{64}$nl\$" "pod create: the pod's ID"
is "$(L pod exists p1; echo $?):$(L pod exists "${p1:0:5}"; echo $?):$(L pod exists nosuch; echo $?)" "0:0:1" \
	"pod exists: 0 by name or ID prefix, 1 for none"
infra=$(L ps -aq --no-trunc --filter name="^${p1:0:12}-infra\$")
is "$(L inspect --format '{{.Name}} {{.IsInfra}} {{.Pod}} {{.State.Status}}' "$infra")" \
	"${p1:0:12}-infra true $p1 created" "the infra: <podid12>-infra, IsInfra, its pod's ID, created"
is "$(L pod ps | head -1 | tr -s ' ')" "POD ID NAME STATUS CREATED INFRA ID # OF CONTAINERS" "pod ps: podman's columns"
is "$(L pod ps --format '{{.Id}}|{{.Name}}|{{.Status}}|{{.InfraId}}|{{.NumberOfContainers}}|{{.ContainerNames}}')" \
	"${p1:0:12}|p1|Created|${infra:0:12}|1|${p1:0:12}-infra" "pod ps --format: the pod, its infra, one container"
is "$(L pod inspect p1 | jq -c '[keys_unsorted, .State, .Labels, .CreateInfra, .InfraContainerID == "'"$infra"'", .SharedNamespaces, .NumContainers, .Containers[0].Name]')" \
	'[["Id","Name","Created","ExitPolicy","State","Hostname","Labels","CreateInfra","InfraContainerID","SharedNamespaces","NumContainers","Containers"],"Created",{"team":"a"},true,true,["ipc","net","uts"],1,"'"${p1:0:12}"'-infra"]' \
	"pod inspect: podman's shape (one pod: an object)"
run L pod create --name p1
is "$rc:$err" "125:Error: adding pod to state: name \"p1\" is in use: pod already exists$nl" "pod create: a name in use"
run L pod create --name nosh --infra=false --share none
is "$rc:$(L pod inspect nosh --format '{{.CreateInfra}} {{.NumContainers}}'):$(L pod ps --filter name=nosh --format '{{.InfraId}}|{{.NumberOfContainers}}')" \
	"0:false 0:|0" "pod create --infra=false: no infra, no container"
is "$(L pod ps --filter label=team=a --format '{{.Name}}'):$(L pod ps -q --filter name=nosh)" "p1:$(L pod inspect nosh --format '{{.Id}}')" \
	"pod ps --filter label=, name=; -q prints full IDs (podman's)"
L pod create --name zz --infra=false >/dev/null
L pod create --name aa --infra=false >/dev/null
is "$(L pod ps --sort name --format '{{.Name}}' | tr '\n' ' '):$(L pod ps --sort number --format '{{.Name}}' | tr '\n' ' '):$(L pod ps --format '{{.Name}}' | tr '\n' ' ')" \
	"aa nosh p1 zz :aa zz nosh p1 :aa zz nosh p1 " "pod ps --sort name, number (containers, fewest first); newest first by default"
L pod rm aa zz >/dev/null
run L pod ps --sort bogus
is "$rc:$err" "125:Error: invalid option for --sort, options are: [created id name status number]$nl" "pod ps --sort: an unknown key"
run L pod ps --filter bogus=1
is "$rc:$err" "125:Error: bogus is an invalid filter$nl" "pod ps --filter: an unknown key"

# ------------------------------------------- containers in the pod --
L run -d --pod p1 --name a1 "$IMG" sh -c 'echo hello-pod >/tmp/index.html; exec busybox httpd -f -p 127.0.0.1:8080 -h /tmp' >/dev/null
L run -d --pod "${p1:0:12}" --name a2 "$IMG" sleep 1000 >/dev/null
is "$(L inspect --format '{{.State.Status}}' "$infra")" "running" "a container of the pod started its infra first"
run L exec a2 busybox wget -qO- http://127.0.0.1:8080/
is "$rc:$out" "0:hello-pod$nl" "two containers of a pod: one reaches the other on 127.0.0.1"
in_a1=$(L exec a1 sh -c "$probe") in_a2=$(L exec a2 sh -c "$probe")
outside=$(L run --rm --network none "$IMG" sh -c "$probe")
infra_pid=$(L inspect --format '{{.State.Pid}}' "$infra")
is "$(grep -c . <<<"$in_a1"):$in_a2" "4:$in_a1" "the pod's containers: the same ipc, uts and net namespaces, the same host name"
is "$in_a1" "$(ns "$infra_pid" ipc)$nl$(ns "$infra_pid" uts)$nl$(ns "$infra_pid" net)${nl}p1" \
	"  the infra's namespaces; the host name is the pod's name"
diff=0
for i in 1 2 3; do
	mine=$(sed -n ${i}p <<<"$in_a1")
	[ -n "$mine" ] && [ "$mine" != "$(sed -n ${i}p <<<"$outside")" ] && diff=$((diff + 1))
done
is "$diff" 3 "  a container outside the pod: other ipc, uts and net namespaces"
is "$(tr '\0' ' ' <"/proc/$infra_pid/cmdline" | sed 's/ *$//'):$(L pod ps --filter name=p1 --format '{{.Status}} {{.NumberOfContainers}}')" \
	"lrun-infra:Running 3" "the infra runs lrun's pause; the pod Running with 3 containers"
srt() { LC_ALL=C sort | tr '\n' ' '; }
is "$(L ps --pod --format '{{.Names}} {{.PodName}}' | srt)" "$(printf '%s\n' "${p1:0:12}-infra p1" "a1 p1" "a2 p1" | srt)" \
	"ps: the infra is listed (running), with its pod"
is "$(L ps -a --pod | head -1 | tr -s ' ')" "CONTAINER ID IMAGE COMMAND CREATED STATUS PORTS NAMES POD ID PODNAME" \
	"ps --pod: POD ID and PODNAME columns"
is "$(L ps -a --filter pod=p1 --format '{{.Names}}' | srt)" "$(printf '%s\n' "${p1:0:12}-infra" a1 a2 | srt)" "ps --filter pod=NAME"

# ------------------------------------------------------------ refusals --
run L rm -f "$infra"
is "$rc:$err:$(L inspect --format '{{.State.Status}}' "$infra")" \
	"125:Error: container $infra is the infra container of pod $p1 and cannot be removed without removing the pod$nl:running" \
	"rm -f of the infra: podman's refusal, the infra runs on"
run L pod rm p1
a1=$(L inspect --format '{{.Id}}' a1)
is "$rc:$err" "125:Error: pod $p1 has containers that are not ready to be removed: cannot remove container $a1 as it is running - running or paused containers cannot be removed without force: container state improper$nl" \
	"pod rm of a pod that runs: podman's refusal"
run L pod kill -s 0 p1
is "$rc:$err" "125:Error: invalid signal: 0$nl" "pod kill -s 0: podman's invalid signal"
for c in "pod rm nosuchpod:1" "pod start nosuchpod:125" "pod stop nosuchpod:125" "pod kill nosuchpod:125"; do
	run L ${c%:*}
	is "$rc:$err" "${c##*:}:Error: no pod with name or ID nosuchpod found: no such pod$nl" "${c%:*}: podman's message and status"
done
run L pod rm --ignore nosuchpod
is "$rc:$out$err" "0:" "pod rm --ignore: a missing pod is no error"
run L pod inspect nosuchpod
is "$rc:$out:$err" "125:[]$nl:Error: inspecting object: no such pod nosuchpod$nl" "pod inspect: a missing pod"

# ------------------------------------------------ kill, stop, start --
run L pod kill p1
is "$rc:$out:$(L inspect --format '{{.State.Status}} {{.State.ExitCode}}' a2)" "0:$p1$nl:exited 137" \
	"pod kill: SIGKILL to every container of the pod"
is "$(L pod ps --filter name=p1 --format '{{.Status}}'):$(L inspect --format '{{.State.Status}}' "$infra")" "Exited:exited" \
	"  the pod Exited, the infra too"
run L pod start p1
is "$rc:$out:$(L pod ps --filter name=p1 --format '{{.Status}} {{.ContainerStatuses}}')" "0:$p1$nl:Running running,running,running" \
	"pod start: the infra and every container"
is "$(L exec a2 busybox wget -qO- http://127.0.0.1:8080/)" "hello-pod" "  sharing again the infra's new namespaces"
run L pod stop -t 0 p1
is "$rc:$out:$(L pod inspect p1 --format '{{.State}} {{range .Containers}}{{.State}} {{end}}')" \
	"0:$p1$nl:Exited exited exited exited " "pod stop: every container stopped"

run L create --pod p1 -p 8080:80 "$IMG" true
is "$rc:$err" "125:Error: invalid config provided: published or exposed ports must be defined when the pod is created: network cannot be configured when it is shared with a pod$nl" \
	"create --pod -p: podman's refusal (the pod's network is the infra's)"
run L create --pod p1 --hostname other "$IMG" true
is "$rc:$err" "125:Error: invalid config provided: cannot set hostname when joining the pod UTS namespace: invalid configuration$nl" \
	"create --pod --hostname: podman's refusal"
run L create --pod nosuchpod "$IMG" true
is "$rc:$err" "125:Error: no pod with name or ID nosuchpod found: no such pod$nl" "create --pod of no pod"

# --------------------------------------------------------- --pod new: --
run L create --pod new:p2 --name b1 "$IMG" true
is "$rc:$(L pod exists p2; echo $?):$(L pod inspect p2 --format '{{.NumContainers}} {{.Name}}'):$(L inspect --format '{{.Pod}}' b1)" \
	"0:0:2 p2:$(L pod inspect p2 --format '{{.Id}}')" "create --pod new:NAME: a pod made, the container in it"
run L rm b1
is "$rc:$(L pod inspect p2 --format '{{.NumContainers}}')" "0:1" "removing the pod's last container leaves the pod (and its infra)"

# ---------------------------------------------------------------- pod rm --
run L pod rm p2
p2_dir=$(ls "$R/pods" | grep -v pods.lock | grep -v "$p1" | grep -v "$(L pod inspect nosh --format '{{.Id}}')")
is "$rc:$(L pod exists p2; echo $?):$(L ps -a --filter name=infra --format '{{.Names}}' | grep -c .):$p2_dir" "0:1:1:" \
	"pod rm of a pod that does not run: its infra and directory gone"
L pod start p1 >/dev/null
run L pod rm -f -t 0 p1
is "$rc:$out:$(L ps -aq | grep -c .):$(L pod ls -q | grep -c .)" "0:$p1$nl:0:1" "pod rm -f: its running containers stopped and removed"
L pod rm -a >/dev/null

# ------------------------------------------------------------ records --
# a pod record gone (a kill in pod rm after the record, before the infra):
# the infra is a container on its own, removable; a directory with no
# pod.json (a kill in pod create before the record) is no pod
p3=$(L pod create --name p3 --network none)
rm "$R/pods/$p3/pod.json"
run L rm "${p3:0:12}-infra"
is "$rc:$(L pod ls -q | grep -c .):$(ls "$R/pods")" "0:0:pods.lock" \
	"an infra whose pod record is gone: removable (its directory with it), no pod listed"
# a pod create killed after the record, before the infra: the pod is
# listed without one, a container cannot join it, pod rm takes it
p4=$(L pod create --name p4 --network none)
k=$(printf '%064d' 4)
mkdir "$R/pods/$k"
jq -c --arg id "$k" '.id = $id | .name = "half"' "$R/pods/$p4/pod.json" >"$R/pods/$k/pod.json"
run L create --pod half --name h1 "$IMG" true
is "$rc:$err:$(L pod ps --filter name=half --format '{{.InfraId}}|{{.NumberOfContainers}}'):$(L pod rm half):$(L pod exists half; echo $?)" \
	"125:Error: pod half has no infra container (${k:0:12}-infra is gone): remove the pod and create it again$nl:|0:$k:1" \
	"a pod whose infra never came: listed without one, no container joins it, pod rm takes it"
L pod rm -f p4 >/dev/null

# ------------------------------------- prune, rm of several, rm -a --
# a pod's infra goes with its pod only: prune and a batch rm leave it,
# rm -a takes the pods along (podman's)
q1=$(L pod create --name q1 --network none)
q1_infra=$(L pod inspect q1 --format '{{.InfraContainerID}}')
L run --pod q1 --name q1a "$IMG" true
L pod stop q1 >/dev/null
L create --name lone "$IMG" true >/dev/null
run L container prune -f
is "$rc:$(L ps -a --format '{{.Names}}'):$(L pod inspect q1 --format '{{.NumContainers}}')" "0:${q1:0:12}-infra:1" \
	"container prune: the exited containers, not the pod's infra"
run L rm lone2 "$q1_infra"
is "$rc:$(grep -c "is the infra container of pod" <<<"$err"):$(L ps -aq | grep -c .)" "1:1:1" \
	"rm of several: the infra refused there too (a missing one: status 1)"
L create --pod q1 --name q1b "$IMG" true >/dev/null
L create --name lone "$IMG" true >/dev/null
run L rm -a
is "$rc:$(L ps -aq | grep -c .):$(L pod exists q1; echo $?):$(tail -1 <<<"${out%$nl}")" "0:0:1:$q1_infra" \
	"rm -a: the pod's containers, then its infra with the pod"

# ------------------------------------------------------ --share +pid --
# the pod's containers join the infra's pid namespace: lrun's pause is its
# pid 1, each sees the others' processes; a detached start returns
L pod create --name sp --network none --share +pid >/dev/null
is "$(L pod inspect sp --format '{{.SharedNamespaces}}')" "[ipc net uts pid]" "pod create --share +pid: added to the default"
run $TO "$LRUN" --root "$R" run -d --pod sp --name spa "$IMG" sleep 1000
is "$rc:$(L run --rm --pod sp "$IMG" ps -o pid,args | sed 's/^ *//' | tr -s ' ' | tr '\n' ' ')" \
	"0:PID COMMAND 1 lrun-infra 2 sleep 1000 3 ps -o pid,args " "  run --pod: in the infra's pid namespace, lrun's pause its pid 1"
run L run --rm --pid container:nosuch "$IMG" true
is "$rc:$err" "125:Error: looking up container to share pid namespace with: no container with name or ID \"nosuch\" found: no such container$nl" \
	"--pid container:NAME: a missing container, podman's words"

# ------------------------------------------- pod stop: all at once --
L pod create --name st --network none >/dev/null
L run -d --pod st --name sta "$IMG" sleep 1000 >/dev/null
L run -d --pod st --name stb "$IMG" sleep 1000 >/dev/null
start=$(date +%s%N)
run L pod stop -t 2 st
took=$((($(date +%s%N) - start) / 1000000))
is "$rc:$(L pod ps --filter name=st --format '{{.Status}} {{.ContainerStatuses}}'):$([ "$took" -lt 3800 ] && echo together)" \
	"0:Exited exited,exited,exited:together" "pod stop -t 2: its containers stopped together (${took} ms for two 2 s timeouts)"

# ------------------------------------------------------------- pod top --
L pod create --name tp --network none >/dev/null
run L pod top tp
is "$rc:$err" "125:Error: pod top can only be used on pods with at least one running container$nl" "pod top: a pod that does not run"
L run -d --pod tp --name tpa "$IMG" sleep 1000 >/dev/null
is "$(L pod top tp pid,args | tr -s ' ' | tr '\n' '|')" "PID COMMAND|1 lrun-infra|1 sleep 1000|" \
	"pod top: the processes of the pod's running containers, the infra's pause first"
L pod rm -f -t 0 tp >/dev/null

# --------------------------------------------- -p and --hostname --
port=$((20000 + RANDOM % 20000))
L pod create --name web -p 127.0.0.1:$port:8080 --hostname podhost >/dev/null
L run -d --pod web --name webd "$IMG" sh -c 'hostname >/tmp/index.html; exec busybox httpd -f -p 8080 -h /tmp' >/dev/null
got=
for i in $(seq 50); do got=$(curl -s --max-time 2 "http://127.0.0.1:$port/") && [ -n "$got" ] && break; sleep 0.1; done
is "$got:$(L ps --format '{{.Names}} {{.Ports}}' | grep -c -- "-infra 127.0.0.1:$port->8080/tcp")" "podhost:1" \
	"pod create -p, --hostname: the infra publishes the port, it reaches the pod's container, which has the pod's host name"
L pod rm -f -t 0 web >/dev/null

# ----------------------------------------------------------- pod prune --
pe=$(L pod create --name pe --network none)
L run --pod pe "$IMG" true
L pod stop pe >/dev/null
L pod create --name pc --network none >/dev/null
run L pod prune -f
is "$rc:$(grep -c "^$pe\$" <<<"$out"):$(L pod ps --format '{{.Status}}' | grep -c Exited):$(L pod exists pe; echo $?):$(L pod exists pc; echo $?)" "0:1:0:1:0" \
	"pod prune: the Exited pod with its containers; a Created one stays"
L pod rm pc >/dev/null
ps2=$(L pod create --name ps2 --network none)
L run --pod ps2 "$IMG" true
L pod stop ps2 >/dev/null
run L system prune -f
is "$rc:$(head -2 <<<"$out" | tr '\n' '|'):$(L pod exists ps2; echo $?)" "0:Deleted Pods|$ps2|:1" \
	"system prune: the Exited pods first, as podman's"

# ---------------------------------------------------------------- events --
ev=$(L pod create --name ev --network none)
L pod start ev >/dev/null
L pod stop ev >/dev/null
L pod rm ev >/dev/null
is "$(L events --stream=false --filter pod=ev | cut -d' ' -f5- | tr '\n' '|')" \
	"pod create $ev (image=, name=ev)|pod start $ev (image=, name=ev)|pod stop $ev (image=, name=ev)|pod remove $ev (image=, name=ev)|" \
	"events: podman's pod events (events --filter pod=NAME)"

L pod rm -a -f >/dev/null 2>&1
done_testing
