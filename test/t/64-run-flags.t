#!/bin/bash
# run/create flags of podman 4.3.1's, each checked inside the container and
# in inspect: --sig-proxy (run only), create's refusal of run's own flags,
# --sysctl, --group-add, --ipc, --uts, --annotation, --oom-score-adj,
# --umask, -q, --os/--arch with --platform.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/ctr-test.sh"
ctr_start
N="--network none"
ns() { ls -l "/proc/$1/ns/$2" | sed 's/.*-> //'; }

# ------------------------------------------------------ --sig-proxy --
trapper='trap "echo got; exit 9" TERM; echo ready; while :; do sleep 0.1; done'
"$LRUN" --root "$R" run --name sp1 $N "$IMG" sh -c "$trapper" >"$T/sp1.out" 2>&1 & pid=$!
wait_for 10 grep -q ready "$T/sp1.out"
kill -TERM $pid; wait $pid; rc1=$?
"$LRUN" --root "$R" run --name sp2 $N --sig-proxy=false "$IMG" sh -c "$trapper" >"$T/sp2.out" 2>&1 & pid=$!
wait_for 10 grep -q ready "$T/sp2.out"
kill -TERM $pid; wait $pid; rc=$?
is "$rc1:$(tr '\n' ' ' <"$T/sp1.out"):$rc:$(L inspect --format '{{.State.Status}}' sp2)" "9:ready got :143:running" \
	"run --sig-proxy=false: SIGTERM ends run (143), the container runs on under its monitor (without: it gets it)"
L stop -t 0 sp2 >/dev/null
is "$(L logs sp2)" "ready" "  its output went to its log"
run L run --rm $N --sig-proxy=false "$IMG" sh -c 'echo out; echo err >&2; exit 3'
is "$rc:$out:$err" "3:out$nl:err$nl" "run --sig-proxy=false: stdout, stderr and the exit status, as attached"
run L run --rm -i $N --sig-proxy=false "$IMG" sh -c 'cat; echo done' <<<"piped"
is "$rc:$out" "0:piped${nl}done$nl" "  -i: stdin reaches it"

# --------------------------------------------- create: run's own flags --
for f in -d --detach --rmi --sig-proxy=false --preserve-fds=1; do
	run L create $N $f "$IMG" true
	name=${f%%=*}
	if [ "$name" = -d ]; then want="unknown shorthand flag: 'd' in -d"; else want="unknown flag: $name"; fi
	is "$rc:$err" "125:Error: $want${nl}See 'lrun create --help'$nl" "create $f: podman's refusal"
done
run L create --help
is "$(grep -cE -- '--(sig-proxy|rmi|preserve-fds|detach) ' <<<"$out"):$(L run --help | grep -cE -- '--(sig-proxy|rmi|preserve-fds|detach) ')" "0:4" \
	"create --help lists none of them, run --help all"

# ------------------------------------------------------------ --sysctl --
host_shmmax=$(cat /proc/sys/kernel/shmmax)
run L run --rm $N --sysctl net.ipv4.ip_forward=1 --sysctl kernel.shmmax=12345 --sysctl fs.mqueue.msg_max=20 \
	"$IMG" cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/shmmax /proc/sys/fs/mqueue/msg_max
is "$rc:$out:$(cat /proc/sys/kernel/shmmax)" "0:1${nl}12345${nl}20$nl:$host_shmmax" \
	"--sysctl: net.*, kernel.shmmax, fs.mqueue.* set in the container (the host's untouched)"
run L run --rm $N --sysctl 'net.ipv4.ip_forward=1,kernel.sem=1 2 3 4' --sysctl net.ipv4.ip_forward=0 "$IMG" \
	cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/sem
is "$rc:$out" "0:0${nl}1	2	3	4$nl" "  comma-separated, the last value of a key wins"
bad() { run L run --rm $N $1 "$IMG" true; is "$rc:$err" "125:Error: $2$nl" "$1: $2"; }
bad "--sysctl vm.swappiness=1" "sysctl 'vm.swappiness' is not allowed"
bad "--sysctl kernel.domainname=x" "sysctl 'kernel.domainname' is not allowed"
bad "--sysctl foo" "foo is invalid, sysctl values must be in the form of KEY=VALUE"
bad "--sysctl a=b=c" "'a=b=c' is invalid, extra spaces found"
run L run --rm --network host --sysctl net.ipv4.ip_forward=1 "$IMG" true
is "$rc:$err" "125:Error: sysctl net.ipv4.ip_forward=1 can't be set since Network Namespace set to host: invalid argument$nl" \
	"--network host --sysctl net.*: podman's refusal"
run L run --rm $N --ipc host --sysctl kernel.shmmax=1 "$IMG" true
is "$rc:$err" "125:Error: sysctl kernel.shmmax=1 can't be set since IPC Namespace set to host: invalid argument$nl" \
	"--ipc host --sysctl kernel.shmmax: refused (it would set the host's)"

# --------------------------------------------------------- --group-add --
run L run --rm $N --group-add 10 --group-add 2000 "$IMG" id -G
is "$rc:$out" "0:0 10 2000$nl" "--group-add GID: added to the process's groups"
run L run --rm $N --group-add nogroup,app "$IMG" id -G
is "$rc:$out" "0:0 1000 65534$nl" "--group-add NAME: looked up in the container's /etc/group"
run L run --rm $N -u app --group-add 10 "$IMG" id -G
is "$rc:$out" "0:1000 10$nl" "  with -u app"
L run -d --name gx $N --group-add app,10 "$IMG" sleep 60 >/dev/null
run L exec gx id -G
is "$rc:$out" "0:0 10 1000$nl" "  exec in it: the same groups"
L rm -f -t 0 gx >/dev/null
run L run --rm $N --name ga --group-add nosuch "$IMG" id -G
like "$rc:$err" "^126:Error: looking up supplemental groups for container [0-9a-f]{64}: Unable to find group nosuch: no matching entries in group file$nl\$" \
	"--group-add of an unknown group: podman's 126 and message"
run L run --rm $N --group-add keep-groups --group-add 10 "$IMG" true
is "$rc:$err" "125:Error: the '--group-add keep-groups' option is not allowed with any other --group-add options$nl" \
	"keep-groups with another: podman's refusal"
run L run --rm $N --group-add keep-groups "$IMG" id -G
is "$rc:$out" "0:$(id -G)$nl" "--group-add keep-groups: lrun's own groups stay"

# ---------------------------------------------------------- --ipc, --uts --
probe='ls -l /proc/self/ns/ipc /proc/self/ns/uts | sed "s/.*-> //"; hostname; [ -d /dev/shm ] && echo shm || echo no-shm'
host_ipc=$(ns self ipc) host_uts=$(ns self uts)
host_name=$(hostname)
run L run --rm $N --hostname h1 "$IMG" sh -c "$probe"
set -- $out
own="$([ "$1" != "$host_ipc" ] && [ "$2" != "$host_uts" ] && echo own):$3:$4"
run L run --rm $N --ipc host "$IMG" sh -c "$probe"
set -- $out
is "$own:$1:$4" "own:h1:shm:$host_ipc:shm" "--ipc host: the host's IPC namespace (without: one of its own)"
run L run --rm $N --ipc none "$IMG" sh -c "$probe"
set -- $out
ok $([ "$1" != "$host_ipc" ] && [ "$4" = no-shm ]; echo $?) "--ipc none: its own namespace, no /dev/shm"
run L run --rm $N --uts host "$IMG" sh -c "$probe"
set -- $out
is "$2:$3:$(hostname)" "$host_uts:$host_name:$host_name" "--uts host: the host's UTS namespace and name (untouched)"
L run -d --name base $N "$IMG" sleep 60 >/dev/null
base_pid=$(L inspect --format '{{.State.Pid}}' base)
run L run --rm $N --ipc container:base --uts container:base "$IMG" sh -c "$probe"
set -- $out
is "$1:$2:$3" "$(ns $base_pid ipc):$(ns $base_pid uts):$(L inspect --format '{{.Config.Hostname}}' base)" \
	"--ipc, --uts container:NAME: the other's namespaces and name"
bad "--uts host --hostname x" "invalid config provided: cannot set hostname when running in the host UTS namespace: invalid configuration"
bad "--uts container:base --hostname x" "invalid config provided: cannot set hostname when running in the host UTS namespace: invalid configuration"
bad "--ipc bogus" "unrecognized namespace mode bogus passed"
bad "--uts shareable" "unrecognized namespace mode shareable passed"
bad "--ipc container:nosuch" "looking up container to share ipc namespace with: no container with name or ID \"nosuch\" found: no such container"
L create --name joined $N --ipc container:base "$IMG" true >/dev/null
L stop -t 0 base >/dev/null
run L start joined
is "$rc:$err" "125:Error: cannot join the ipc namespace of container base: it is not running$nl" \
	"--ipc container:NAME whose container stopped: refused at start"

# ------------------------- --annotation, --oom-score-adj, --umask; inspect --
run L run --rm $N --oom-score-adj 123 --umask 077 "$IMG" sh -c 'cat /proc/self/oom_score_adj; umask; touch /tmp/f; stat -c %a /tmp/f'
is "$rc:$out" "0:123${nl}0077${nl}600$nl" "--oom-score-adj, --umask: the process's"
bad "--umask 8" "running container create option: invalid umask string 8: invalid argument"
bad "--umask 01777" "running container create option: invalid umask string 01777: invalid argument"
run L run --rm $N --oom-score-adj abc "$IMG" true
is "$rc:$err" "125:Error: invalid argument \"abc\" for \"--oom-score-adj\" flag: strconv.ParseInt: parsing \"abc\": invalid syntax$nl" \
	"--oom-score-adj abc: podman's error"
bad "--annotation foo" "annotations must be formatted KEY=VALUE"
L create --name insp $N --annotation 'a=b,c=d' --group-add 10 --group-add app --oom-score-adj 5 --umask 7 \
	--uts host --ipc private "$IMG" true >/dev/null
is "$(L inspect --format '{{.Config.Annotations.a}} {{.Config.Annotations.c}} {{json .HostConfig.GroupAdd}} {{.HostConfig.OomScoreAdj}} {{.Config.Umask}} {{.HostConfig.IpcMode}} {{.HostConfig.UTSMode}}' insp)" \
	'b d ["10","app"] 5 0007 shareable host' "inspect: Annotations, GroupAdd, OomScoreAdj, Umask, IpcMode (podman 4.3.1's), UTSMode"
is "$(L inspect --format '{{json .HostConfig.GroupAdd}} {{.HostConfig.OomScoreAdj}} {{.Config.Umask}} {{.HostConfig.IpcMode}} {{.HostConfig.UTSMode}}' joined)" \
	"[] 0 0022 container:$(L inspect --format '{{.Id}}' base) private" "  defaults; IpcMode container:<ID>"

# ---------------------------------------------------- pull options --
run L run --rm $N --platform linux/amd64 --arch arm64 "$IMG" true
is "$rc:$err" "125:Error: --platform option can not be specified with --arch or --os$nl" "--platform with --arch: podman's refusal"
run L run --rm -q $N --authfile "$T/none.json" --tls-verify=false "$IMG" echo ran
is "$rc:$out:$err" "0:ran$nl:" "-q, --authfile, --tls-verify taken (the image is local)"

# ------------------------------------------------------ --env-host --
run env -i PATH=/bin:/usr/bin FOO=bar "$LRUN" --root "$R" run --rm $N --env-host -e X=1 "$IMG" sh -c 'echo $FOO $X $PATH'
is "$rc:$out" "0:bar 1 /bin:/usr/bin$nl" "--env-host: lrun's environment over the image's, -e over it"

run L run --rm $N --env-merge 'PATH=/x:${PATH}' --env-merge 'B=a${PATH}b' --env-merge 'C=$PATH' -e C=given "$IMG" \
	sh -c 'echo $PATH; echo "B=$B"; echo $C'
is "$rc:$out" "0:/x:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin${nl}B=${nl}given$nl" \
	"--env-merge: the image's variable with \${VAR} of its environment (another: none, as podman's), -e over it"

# ------------------------------------------------------- --pidfile --
(cd "$T" && L run -d --name pf $N --pidfile rel.pid "$IMG" sleep 60 >/dev/null)
is "$(cat "$T/rel.pid")" "$(L inspect --format '{{.State.Pid}}' pf)" "--pidfile (relative: to run's directory): the container's PID"
is "$(L inspect --format '{{.PidFile}}' pf)" "$T/rel.pid" "  inspect's PidFile"
L stop -t 0 pf >/dev/null
rm "$T/rel.pid"
L start pf >/dev/null
is "$(cat "$T/rel.pid")" "$(L inspect --format '{{.State.Pid}}' pf)" "  written again at each start"
L rm -f -t 0 pf >/dev/null

# -------------------------------------------------------- --expose --
L run -d --name ex --expose 8080 --expose 9000-9001/udp -p 127.0.0.1::80 "$IMG" sleep 60 >/dev/null
is "$(L inspect --format '{{json .NetworkSettings.Ports}}' ex | jq -c '[to_entries[] | [.key, (.value != null)]]')" \
	'[["80/tcp",true],["8080/tcp",false],["9000/udp",false],["9001/udp",false]]' \
	"--expose: inspect's Ports lists them unpublished (null), as podman"
L rm -f -t 0 ex >/dev/null
L run -d --name ex2 -P --expose 8080 "$IMG" sleep 60 >/dev/null
like "$(L port ex2)" "^8080/tcp -> 0\.0\.0\.0:[0-9]+$" "-P publishes --expose's ports"
L rm -f -t 0 ex2 >/dev/null
bad "--expose abc" 'invalid range format for --expose: abc: strconv.ParseUint: parsing "abc": invalid syntax'
bad "--expose 70000" 'invalid range format for --expose: 70000: strconv.ParseUint: parsing "70000": value out of range'
bad "--expose 80/sctp2" 'validating protocols for exposed port 80: unrecognized protocol "sctp2" in port mapping'

# -------------------------------------------- --health-*, healthcheck run --
hc() { L inspect --format '{{json .Config.Healthcheck}}' "$1"; }
L create --name h1 $N --health-cmd 'echo hi' --health-interval 5s --health-retries 2 --health-start-period 1s \
	--health-timeout 300ms "$IMG" true >/dev/null
is "$(hc h1)" '{"Test":["CMD-SHELL","echo hi"],"StartPeriod":1000000000,"Interval":5000000000,"Timeout":300000000,"Retries":2}' \
	"--health-*: inspect's Config.Healthcheck, as podman's"
L create --name h2 $N --health-cmd '["/bin/test","-e","/ok"]' --health-interval disable "$IMG" true >/dev/null
L create --name h3 $N --no-healthcheck "$IMG" true >/dev/null
L create --name h4 $N --health-cmd none "$IMG" true >/dev/null
is "$(hc h2) $(hc h3) $(hc h4)" \
	'{"Test":["CMD","/bin/test","-e","/ok"],"Timeout":30000000000,"Retries":3} {"Test":["NONE"]} {"Test":["NONE"],"Interval":30000000000,"Timeout":30000000000,"Retries":3}' \
	"  a JSON array (CMD), interval disable; --no-healthcheck, none (NONE)"
bad "--health-cmd true --health-interval bogus" 'invalid healthcheck-interval: time: invalid duration "bogus"'
bad "--health-cmd true --health-start-period -1s" "healthcheck-start-period must be 0 seconds or greater"
bad "--health-cmd true --health-retries 0" "healthcheck-retries must be greater than 0"
bad "--health-cmd true --no-healthcheck" "cannot specify both --no-healthcheck and --health-cmd"
L run -d --name hr $N --health-cmd 'test -e /ok || { echo nope; exit 3; }' --health-retries 2 "$IMG" sleep 60 >/dev/null
health() { L inspect --format '{{.State.Health.Status}}:{{.State.Health.FailingStreak}}:{{len .State.Health.Log}}' hr; }
is "$(L inspect --format '{{json .State.Health}}' hr)" '{"Status":"starting","FailingStreak":0,"Log":null}' \
	"State.Health before any check: starting"
run L healthcheck run hr
is "$rc:$out:$(health)" "1:unhealthy$nl:starting:1:1" "healthcheck run, failing: 1, unhealthy; still starting (1 of 2 retries)"
run L healthcheck run hr
is "$rc:$out:$(health):$(L ps --format '{{.Status}}' --filter name=hr | sed 's/.*(//')" "1:unhealthy$nl:unhealthy:2:2:unhealthy)" \
	"  the second failure in a row: unhealthy (ps shows it)"
is "$(L inspect --format "{{(index .State.Health.Log 0).ExitCode}}:{{(index .State.Health.Log 0).Output}}" hr)" "3:nope" \
	"  the log keeps the exit code and output"
L exec hr sh -c 'echo > /ok'
run L healthcheck run hr
is "$rc:$out:$(health)" "0:healthy$nl:healthy:0:3" "  passing: 0, healthy, the streak reset"
run L healthcheck run h3
like "$rc:$err" "^125:Error: container [0-9a-f]{64} has no defined healthcheck$nl\$" "healthcheck run without one: podman's error"
run L healthcheck run h1
like "$rc:$err" "^125:Error: container [0-9a-f]{64} is not running$nl\$" "healthcheck run of a stopped one: podman's error"
run L healthcheck run nosuch
is "$rc:$err" "125:Error: unable to look up nosuch to perform a health check: no container with name or ID \"nosuch\" found: no such container$nl" \
	"healthcheck run of no container: podman's error"

# ---------------------------------------------- --personality, --requires --
run L run --rm $N --personality LINUX32 "$IMG" sh -c 'uname -m; cat /proc/self/personality'
is "$rc:$out" "0:i686${nl}00000008$nl" "--personality LINUX32: uname -m says i686 (PER_LINUX32)"
run L run --rm $N --personality bogus "$IMG" true
is "$rc:$err" "126:Error: lrun: unknown persona specified \`bogus\`$nl" "--personality bogus: crun's 126 and words"
L create --name dep $N "$IMG" sleep 60 >/dev/null
run L run --rm $N --requires dep "$IMG" true
is "$rc:$(L inspect --format '{{.State.Status}}' dep)" "0:running" "--requires: the container named is started first"
L rm -f -t 0 dep >/dev/null
bad "--requires nosuch" '"nosuch" is not a valid container, cannot be used as a dependency: no container with name or ID "nosuch" found: no such container'

# -------------------------------------------- --cpu-rt-period, -runtime --
if [ -f /sys/fs/cgroup/cpu/cpu.rt_period_us ]; then
	L run -d --name rt $N --cpu-rt-period 1000 "$IMG" sleep 60 >/dev/null
	is "$(L inspect --format '{{.HostConfig.CpuRealtimePeriod}} {{.HostConfig.CpuRealtimeRuntime}}' rt):$(cat /sys/fs/cgroup/cpu/lrun/$(L inspect --format '{{.Id}}' rt)/cpu.rt_period_us)" \
		"1000 0:1000" "--cpu-rt-period: the cgroup's cpu.rt_period_us, inspect's CpuRealtimePeriod"
	L rm -f -t 0 rt >/dev/null
else
	skip "no cgroup v1 cpu controller with realtime files"
fi
bad "--cpu-rt-period x" 'invalid argument "x" for "--cpu-rt-period" flag: strconv.ParseUint: parsing "x": invalid syntax'
bad "--cpu-rt-runtime x" 'invalid argument "x" for "--cpu-rt-runtime" flag: strconv.ParseInt: parsing "x": invalid syntax'

# ------------------------------------- --http-proxy, --cgroups, the rest --
run env http_proxy=http://p:1 HTTPS_PROXY=http://q:2 "$LRUN" --root "$R" run --rm $N -e HTTPS_PROXY=mine "$IMG" sh -c 'env | grep -i _proxy= | sort'
is "$rc:$out" "0:HTTPS_PROXY=mine${nl}http_proxy=http://p:1$nl" "--http-proxy (default): lrun's *_proxy variables, -e over them"
run env http_proxy=http://p:1 "$LRUN" --root "$R" run --rm $N --http-proxy=false "$IMG" sh -c 'env | grep -ci _proxy='
is "$out" "0$nl" "  --http-proxy=false: none"
L run -d --name cg $N --cgroups disabled "$IMG" sleep 60 >/dev/null
is "$(grep -E ':(memory|pids):|^0::' /proc/$(L inspect --format '{{.State.Pid}}' cg)/cgroup)" "$(grep -E ':(memory|pids):|^0::' /proc/$$/cgroup)" \
	"--cgroups disabled: the container stays in lrun's cgroup"
L rm -f -t 0 cg >/dev/null
bad "--cgroups bogus" 'running container create option: invalid cgroup mode "bogus": invalid argument'
bad "--pod nosuch" "no pod with name or ID nosuch found: no such pod"
bad "--pod-id-file $T/nosuch" "reading pod ID file: open $T/nosuch: no such file or directory"
L pod create --name pp --infra=false >"$T/podid"
L create --name inpod $N --pod-id-file "$T/podid" "$IMG" true >/dev/null
is "$(L inspect --format '{{.Pod}}' inpod)" "$(cat "$T/podid")" "--pod-id-file: in the pod whose ID the file holds"
L rm -f inpod >/dev/null
L pod rm -f pp >/dev/null
bad "--userns bogus" "unrecognized namespace mode bogus passed"
bad "--userns keep-id" "keep-id is only supported in rootless mode"
bad "--sdnotify bogus" 'invalid config provided: invalid argument: invalid sdnotify value "bogus": must be container, conmon or ignore'
bad "--seccomp-policy bogus" 'invalid seccomp policy "bogus": valid policies are ["default" "image"]'
bad "--memory-swappiness 101" "invalid value: 101, valid memory swappiness range is 0-100"
bad "--health-on-failure bogus" 'invalid on-failure action "bogus" for health check: supported actions are none,kill,restart,stop'
run L run --rm $N --userns host --sdnotify ignore --seccomp-policy image --memory-swappiness 10 --passwd=false \
	--init-path /nonexistent --health-on-failure kill --disable-content-trust "$IMG" echo taken
is "$rc:$out" "0:taken$nl" "--userns host, --sdnotify, --seccomp-policy, --memory-swappiness, --passwd, --init-path, ... taken"
run L create $N --passwd "$IMG" true
is "$rc:$err" "125:Error: unknown flag: --passwd${nl}See 'lrun create --help'$nl" "create --passwd: run's only, as podman's"

done_testing
