#!/bin/bash
# OCI runtime mode: lrun with runc's command line on a real bundle
# (config.json + rootfs/): spec, create (stopped right before exec) / start /
# state / kill / delete, run, list; bad bundles fail with exit 1, a runc-style
# message (and a JSON line in --log) and leave no state behind.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/tap.sh"
. "$here/../lib/fixtures.sh"
. "$here/../lib/lrun.sh"
[ "$(id -u)" = 0 ] || skip_all "needs root"
lrun_tmp
TO="timeout -k 5 30"
nl=$'\n'
S=$T/state
B=$T/bundle
oci() { "$LRUN" --root "$S" "$@"; }
# edit JQ: rewrite the bundle's config.json through jq
edit() { jq "$1" "$B/config.json" >"$B/config.json.new" && mv "$B/config.json.new" "$B/config.json"; }
# wait_status ID STATUS: until state says STATUS (at most ~5 s)
wait_status() {
	local i
	for i in $(seq 100); do
		[ "$(oci state "$1" 2>/dev/null | jq -r .status)" = "$2" ] && return 0
		sleep 0.05
	done
	return 1
}
at_exit 'for c in $(ls "$S" 2>/dev/null); do "$LRUN" --root "$S" delete -f "$c" >/dev/null 2>&1; done'

mkdir -p "$B"
fx_busybox_rootfs "$B/rootfs"

# ------------------------------------------------------------------ spec --
run oci spec --bundle "$B"
is "$rc|$err" "0|" "spec writes config.json"
is "$(jq -c '[.ociVersion, .process.args, .process.terminal, .root, .hostname,
	[.linux.namespaces[].type], .process.capabilities.bounding, .process.rlimits]' "$B/config.json")" \
	'["1.1.0",["sh"],true,{"path":"rootfs","readonly":true},"lrun",["pid","network","ipc","uts","mount","cgroup"],["CAP_KILL","CAP_NET_BIND_SERVICE","CAP_AUDIT_WRITE"],[{"type":"RLIMIT_NOFILE","hard":1024,"soft":1024}]]' \
	"spec: runc's defaults (sh on a terminal, rootfs read-only, the namespaces, three capabilities)"
run oci spec --bundle "$B"
is "$rc|$err" "1|lrun: $B/config.json exists: remove it first$nl" "spec refuses to overwrite config.json"
run "$LRUN" spec --rootless --bundle "$T"
is "$rc|$(jq -c '[[.linux.namespaces[].type], .linux.uidMappings]' "$T/config.json")" \
	'0|[["pid","ipc","uts","mount","user","cgroup"],[{"containerID":0,"hostID":0,"size":1}]]' \
	"spec --rootless: a user namespace mapping the caller, no network namespace"

# ------------------------------------------------------------------- run --
edit '.process.terminal = false | .process.args = ["sh", "-c", "echo hi from $(hostname) in $PWD; grep CapEff /proc/self/status; exit 3"]'
run $TO "$LRUN" --root "$S" run --bundle "$B" r1
is "$rc|$out|$err" "3|hi from lrun in /${nl}CapEff:	0000000020000420$nl|" \
	"run: the bundle's process, hostname and capabilities; its exit status is run's"
is "$(ls "$S")" "" "run deletes the container after it exits"
(cd "$B" && $TO "$LRUN" --root "$S" run r2 >/dev/null 2>&1; echo $? >"$T/rc")
is "$(cat "$T/rc")" 3 "run: the bundle in the current directory"

# ------------------------------------------ create / start / state / kill --
edit '.process.args = ["sh", "-c", "echo started >/tmp/mark; exec sleep 100"] | .root.readonly = false'
run $TO "$LRUN" --root "$S" create --bundle "$B" --pid-file "$T/pid" c1
is "$rc|$err" "0|" "create"
pid=$(cat "$T/pid")
is "$(oci state c1 | jq -c "[.ociVersion, .id, .status, .pid == $pid, .bundle, .rootfs]")" \
	"[\"1.1.0\",\"c1\",\"created\",true,\"$B\",\"$B/rootfs\"]" "state: created, the pid of --pid-file, bundle, rootfs"
is "$(cat /proc/$pid/comm):$([ -e "$B/rootfs/tmp/mark" ] && echo ran)" "lrun:" "created: the init waits before exec"
[ "$(readlink /proc/$pid/ns/mnt)" != "$(readlink /proc/self/ns/mnt)" ]
ok $? "created: the init is in its own mount namespace"
run oci create --bundle "$B" c1
is "$rc|$err" "1|lrun: container with id exists: c1$nl" "a second create with the same id fails"
run oci start c1
is "$rc|$err" "0|" "start"
for i in $(seq 100); do [ -e "$B/rootfs/tmp/mark" ] && break; sleep 0.05; done
is "$(cat "$B/rootfs/tmp/mark"):$(oci state c1 | jq -r .status)" "started:running" "start: the process runs; state running"
run oci start c1
is "$rc|$err" "1|lrun: cannot start a container that is running: container not in created state$nl" "start twice fails"
run oci delete c1
is "$rc|$err" "1|lrun: cannot delete container c1 that is not stopped: running$nl" "delete of a running container needs -f"
run oci kill c1 KILL
is "$rc|$err" "0|" "kill c1 KILL"
wait_status c1 stopped
ok $? "state: stopped after kill"
run oci kill c1
is "$rc|$err" "1|lrun: container not running$nl" "kill of a stopped container fails"
run oci delete c1
is "$rc|$err|$(ls "$S")" "0||" "delete removes the state"
run oci state c1
is "$rc|$err" "1|lrun: container \"c1\" does not exist$nl" "state of a deleted container"

# ------------------------------------------- run --detach, list, delete -f --
edit '.process.args = ["sleep", "100"]'
run $TO "$LRUN" --root "$S" run -d --bundle "$B" d1
is "$rc|$(oci state d1 | jq -r .status)" "0|running" "run --detach leaves it running"
run oci list --format json
is "$(jq -c '[.[] | [.id, .status, .bundle]]' <<<"$out")" "[[\"d1\",\"running\",\"$B\"]]" "list --format json"
run oci list -q
is "$out" "d1$nl" "list -q"
run $TO "$LRUN" --root "$S" create --bundle "$B" c2
run oci delete c2
is "$rc|$err|$(ls "$S")" "0||d1" "delete of a created container (as runc: no -f needed)"
run $TO "$LRUN" --root "$S" exec d1 sh -c 'echo in $(hostname) as $(id -u) in $PWD; exit 4'
is "$rc|$out|$err" "4|in lrun as 0 in /$nl|" "exec: a command in the container; its status is exec's"
run $TO "$LRUN" --root "$S" exec --user 1000:1001 --cwd /tmp --env FOO=bar --cap CAP_SYS_ADMIN --no-new-privs d1 \
	sh -c 'echo $(id -u):$(id -g) $PWD $FOO; grep -E "CapBnd|NoNewPrivs" /proc/self/status'
is "$rc|$out" "0|1000:1001 /tmp bar${nl}CapBnd:	0000000020200420${nl}NoNewPrivs:	1$nl" \
	"exec --user --cwd --env --cap --no-new-privs"
echo '{"args": ["sh", "-c", "echo $X from the process file; exit 5"], "cwd": "/", "env": ["X=x", "PATH=/bin"], "user": {"uid": 0, "gid": 0}}' >"$T/process.json"
run $TO "$LRUN" --root "$S" exec --process "$T/process.json" d1
is "$rc|$out" "5|x from the process file$nl" "exec --process FILE"
run $TO "$LRUN" --root "$S" exec -d --pid-file "$T/epid" d1 sleep 30
is "$rc|$err" "0|" "exec --detach --pid-file"
kill -0 "$(cat "$T/epid")"
ok $? "  the pid file names a live process"
run oci ps --format json d1
is "$(jq 'length' <<<"$out")" 2 "ps --format json: init and the exec'd sleep"
run oci features
is "$rc|$(jq -c '[.ociVersionMax, (.hooks | length), (.linux.namespaces | index("user") != null), .linux.seccomp.enabled]' <<<"$out")" \
	'0|["1.1.0",6,true,true]' "features"
run oci pause d1
is "$rc|$err|$(oci state d1 | jq -r .status)" "0||paused" "pause: the cgroup frozen, state paused"
run oci pause d1
is "$rc|$err" "1|lrun: container d1 is paused, not running$nl" "  pause twice fails"
run oci resume d1
is "$rc|$err|$(oci state d1 | jq -r .status)" "0||running" "resume: running again"
p=$(oci state d1 | jq .pid)
# pids_max PID: pids.max of PID's cgroup (v1 pids controller, or v2)
pids_max() {
	local l; l=$(grep -E '^[0-9]+:pids:|^0::' "/proc/$1/cgroup" | head -1)
	case $l in *:pids:*) cat "/sys/fs/cgroup/pids${l#*:pids:}/pids.max" ;; *) cat "/sys/fs/cgroup${l#0::}/pids.max" ;; esac
}
echo '{"pids": {"limit": 42}}' >"$T/res.json"
run oci update -r "$T/res.json" d1
is "$rc|$err|$(pids_max "$p")" "0||42" "update -r FILE: linux.resources applied to the container's cgroup"
run oci update --pids-limit 7 d1
is "$rc|$(pids_max "$p")" "0|7" "update --pids-limit"
run oci delete -f d1
is "$rc|$err|$(ls "$S")" "0||" "delete -f kills and removes"
for i in $(seq 40); do kill -0 "$p" 2>/dev/null || break; sleep 0.05; done
kill -0 "$p" 2>/dev/null
is $? 1 "  the process is gone"

run $TO "$LRUN" --root "$S" run -d --bundle "$B" rx1
run $TO "$LRUN" --root "$S" run -d --bundle "$B" rx2
run $TO "$LRUN" --root "$S" run -d --bundle "$B" keep
oci pause rx2
run oci delete -f --regex '^rx'
is "$rc|$err|$(ls "$S")" "0||keep" "delete -f --regex (crun): every match, a paused one too"
oci delete -f keep

# ------------------------------------------------- config.json coverage --
cp "$B/config.json" "$T/base.json"
mkdir -p "$B/rootfs/ro" # the user namespace's root does not own the rootfs: it cannot create /ro
chmod 0755 "$T"       # nor search a 0700 directory on the way to it
edit '.process.args = ["sh", "-c", "cat /proc/self/uid_map; id -u; echo > /ro/x 2>/dev/null || echo ro; grep -c nosuid /proc/self/mountinfo >/dev/null && grep \" /ro \" /proc/self/mountinfo | grep -o nosuid,nodev,noexec"]
	| .linux.namespaces += [{"type": "user"}]
	| .linux.uidMappings = [{"containerID": 0, "hostID": 100000, "size": 65536}]
	| .linux.gidMappings = [{"containerID": 0, "hostID": 100000, "size": 65536}]
	| .mounts += [{"destination": "/ro", "type": "bind", "source": "'"$T"'", "options": ["bind", "ro", "nosuid", "nodev", "noexec"]}]'
run $TO "$LRUN" --root "$S" run --bundle "$B" u1
is "$rc|$out" "0|         0     100000      65536${nl}0${nl}ro${nl}nosuid,nodev,noexec$nl" \
	"a user namespace with the spec's maps; a bind mount's ro, nosuid, nodev, noexec"
cp "$T/base.json" "$B/config.json"
edit '.hooks = ({"createRuntime": "createRuntime", "poststart": "poststart", "poststop": "poststop"}
	| map_values([{"path": "/bin/sh", "args": ["sh", "-c", "read s; echo \"$0 $(echo $s | jq -r .status)\" >>'"$T"'/hooks.log", .]}]))
	| .process.args = ["true"]'
run $TO "$LRUN" --root "$S" run --bundle "$B" h1
is "$rc|$(cat "$T/hooks.log")" "0|createRuntime creating${nl}poststart running${nl}poststop stopped" \
	"hooks: createRuntime, poststart, poststop, each with the state on stdin"
cp "$T/base.json" "$B/config.json"
edit '.linux.sysctl = {"net.ipv4.ip_forward": "1"} | .linux.namespaces -= [{"type": "network"}]'
run oci run --bundle "$B" s1
is "$rc|$err|$(ls "$S")" "1|lrun: $B/config.json: sysctl net.ipv4.ip_forward needs the container's own namespace for it$nl|" \
	"a net sysctl without a network namespace is refused"
cp "$T/base.json" "$B/config.json"
edit '.process.terminal = true'
run oci run -d --bundle "$B" t1
is "$rc|$err|$(ls "$S")" "1|lrun: a terminal with a detached container: use --console-socket$nl|" \
	"a terminal with run --detach needs --console-socket"
cp "$T/base.json" "$B/config.json"
edit '.process.args = ["sh", "-c", "echo x >/dev/null && echo null ok; true </dev/kmsg 2>/dev/null || echo kmsg denied"]
	| .linux.resources.devices = [{"allow": false, "access": "rwm"}]
	| .mounts += [{"destination": "/dev/kmsg", "type": "bind", "source": "/dev/kmsg", "options": ["bind"]}]'
run $TO "$LRUN" --root "$S" run --bundle "$B" dv
is "$rc|$out" "0|null ok${nl}kmsg denied$nl" "runc's default nodes exist and stay usable under a deny-all device policy; others are denied"
cp "$T/base.json" "$B/config.json"
run oci delete -f never-was
is "$rc|$err" "0|" "delete -f of a container that does not exist succeeds (crun)"

# ---------------------------------------------------------- bad bundles --
bad() { # bad NAME ID MESSAGE: create fails with exit 1 and MESSAGE, nothing left
	run oci --log "$T/log.json" --log-format json create --bundle "$B" "$2"
	is "$rc|$err|$(ls "$S")" "1|lrun: $3$nl|" "$1"
}
cp "$B/config.json" "$T/good.json"
bad "an id with /" a/b 'invalid container id format: "a/b"'
bad "the id .." .. 'invalid container id format: ".."'
is "$(tail -1 "$T/log.json" | jq -r '[.level, .msg, (.time | type)] | join(" ")')" \
	'error invalid container id format: ".." string' "--log --log-format json: the error as a JSON line"
echo '{"ociVersion": "1.0.0", "process": ' >"$B/config.json"
run oci create --bundle "$B" x1
like "$rc|$err" "^1\|lrun: .*config.json" "invalid JSON: exit 1 and an error naming config.json"
is "$(ls "$S")" "" "  no state left"
cp "$T/good.json" "$B/config.json"
edit '.linux.namespaces += [{"type": "bogus"}]'
bad "an unknown namespace" x2 'config.json: linux.namespaces: unknown namespace type "bogus"'
cp "$T/good.json" "$B/config.json"
edit '.root.path = "nowhere"'
bad "a missing rootfs" x3 "rootfs ($B/nowhere) does not exist"
cp "$T/good.json" "$B/config.json"
edit '.process.args = ["/no/such/thing"]'
run $TO "$LRUN" --root "$S" run --bundle "$B" x4
is "$rc|$(ls "$S")" "127|" "run of a missing executable: 127, nothing left"

done_testing
