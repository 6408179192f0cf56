#!/bin/bash
# The container's spec: create writes userdata/config.json, a runtime-spec
# document (mounts, namespaces, devices, capabilities, masked paths, seccomp in
# the spec's form) and userdata/lrun.json (the docker-level facts); start and
# exec execute what config.json says, so an edit of it is what runs next.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/ctr-test.sh"
ctr_start
userdata() { echo "$R/overlay-containers/$(ctr_field "$1" .id)/userdata"; }
spec() { jq -c "$2" "$(userdata "$1")/config.json"; }
# edit NAME JQ: rewrite NAME's config.json through jq
edit() { local f; f="$(userdata "$1")/config.json"; jq "$2" "$f" >"$f.new" && mv "$f.new" "$f"; }
start() { run $TO "$LRUN" --root "$R" start -a "$1"; }

mkdir -p "$T/vol"
echo volume-data >"$T/vol/file"
run $TO "$LRUN" --root "$R" create --name sp -e FOO=bar -w /tmp -u app -h hsp --cap-add SYS_ADMIN --cap-drop CHOWN \
	-v "$T/vol:/data:ro" --tmpfs /scratch --network none --stop-signal SIGUSR1 --stop-timeout 3 "$IMG" echo hi
is "$rc|$err" "0|" "create with options"
layer=$(ctr_field sp .layer)
U=$(userdata sp)

# ---------------------------------------------------- config.json's shape --
is "$(jq -r '[(.ociVersion | type), .process.args, .process.cwd, .hostname, .root.readonly, .process.terminal,
	.process.noNewPrivileges, .annotations["lrun.user"]] | @json' "$U/config.json")" \
	'["string",["echo","hi"],"/tmp","hsp",false,false,true,"app"]' \
	"process.args, cwd, hostname, root.readonly, terminal, noNewPrivileges, the user name"
is "$(spec sp .root.path)" "\"$R/overlay/$layer/merged\"" "root.path: the container layer's overlay"
is "$(spec sp '.annotations["lrun.container-layer"]')" "\"$layer\"" "annotation lrun.container-layer names the layer"
is "$(spec sp '[.process.env[] | select(test("^(FOO|HOSTNAME|PATH)="))]')" \
	'["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin","FOO=bar","HOSTNAME=hsp"]' \
	"env: the image's PATH, -e, HOSTNAME"
is "$(spec sp '[.mounts[] | .destination]')" \
	'["/dev","/dev/pts","/dev/shm","/dev/mqueue","/proc","/sys","/sys/fs/cgroup","/etc/hosts","/etc/hostname","/etc/resolv.conf","/run/.containerenv","/data","/scratch"]' \
	"mounts: /dev, /proc, /sys, cgroup, the /etc files, the volume, the tmpfs, in order"
is "$(spec sp '[.mounts[] | select(.destination == "/data" or .destination == "/scratch" or .destination == "/sys" or .destination == "/etc/hosts")]')" \
	"[{\"destination\":\"/sys\",\"type\":\"sysfs\",\"source\":\"sysfs\",\"options\":[\"nosuid\",\"noexec\",\"nodev\",\"ro\"]},{\"destination\":\"/etc/hosts\",\"type\":\"bind\",\"source\":\"$U/hosts\",\"options\":[\"bind\"]},{\"destination\":\"/data\",\"type\":\"bind\",\"source\":\"$T/vol\",\"options\":[\"rbind\",\"ro\"]},{\"destination\":\"/scratch\",\"type\":\"tmpfs\",\"source\":\"tmpfs\",\"options\":[\"nosuid\",\"nodev\",\"mode=1777\",\"tmpcopyup\"]}]" \
	"mounts: sysfs read-only, /etc/hosts bound from userdata, -v as an rbind ro, --tmpfs"
is "$(spec sp '[.linux.namespaces[] | .type]')" '["pid","network","ipc","uts","mount","cgroup"]' \
	"namespaces: --network none adds a network namespace"
is "$(spec sp '[.linux.devices[] | "\(.path) \(.type) \(.major):\(.minor) \(.fileMode)"]')" \
	'["/dev/null c 1:3 438","/dev/zero c 1:5 438","/dev/full c 1:7 438","/dev/random c 1:8 438","/dev/urandom c 1:9 438","/dev/tty c 5:0 438"]' \
	"devices: docker's nodes, mode 0666"
want_caps='["CAP_DAC_OVERRIDE","CAP_FOWNER","CAP_FSETID","CAP_KILL","CAP_SETGID","CAP_SETUID","CAP_SETPCAP","CAP_NET_BIND_SERVICE","CAP_SYS_CHROOT","CAP_SYS_ADMIN","CAP_MKNOD","CAP_AUDIT_WRITE","CAP_SETFCAP"]'
is "$(spec sp '.process.capabilities | [.bounding, .effective, .permitted, .inheritable, .ambient]')" \
	"[$want_caps,$want_caps,$want_caps,[],[]]" "capabilities: docker's set - CHOWN + SYS_ADMIN in bounding, effective, permitted"
is "$(spec sp '.linux.maskedPaths | length'),$(spec sp '.linux.readonlyPaths')" \
	'12,["/proc/bus","/proc/fs","/proc/irq","/proc/sys","/proc/sysrq-trigger"]' "docker's masked (with /proc/interrupts) and read-only paths"
is "$(spec sp .linux.rootfsPropagation)" '"rprivate"' "rootfsPropagation rprivate"
is "$(spec sp '.linux.seccomp | [.defaultAction, .defaultErrnoRet, (.syscalls | length > 0),
	([.syscalls[] | .includes, .excludes] | map(select(. != null)) | length)]')" '["SCMP_ACT_ERRNO",1,true,0]' \
	"seccomp: docker's default in the spec's form (no includes/excludes left)"
has_rule() { spec "$1" "[.linux.seccomp.syscalls[] | select(.action == \"SCMP_ACT_ALLOW\") | .names[]] | index(\"$2\") != null"; }
is "$(has_rule sp mount),$(has_rule sp unshare)" "true,true" "  its CAP_SYS_ADMIN rules are in (--cap-add SYS_ADMIN)"
if [ "$(uname -m)" = x86_64 ]; then
	is "$(spec sp .linux.seccomp.architectures)" '["SCMP_ARCH_X86_64","SCMP_ARCH_X86","SCMP_ARCH_X32"]' \
		"  architectures: the native one and its companion ABIs"
else
	skip "architectures checked on x86_64 only"
fi
is "$(jq -c . "$U/lrun.json")" \
	"{\"image\":\"$IMG\",\"image-id\":\"$(ctr_field sp .image)\",\"name\":\"sp\",\"command\":[\"echo\",\"hi\"],\"stop-signal\":\"SIGUSR1\",\"stop-timeout\":3,\"remove\":false,\"detach\":false,\"interactive\":false,\"init\":false,\"no-pivot\":false,\"mounts\":[{\"type\":\"bind\",\"source\":\"$T/vol\",\"destination\":\"/data\",\"options\":[\"ro\"]},{\"type\":\"tmpfs\",\"destination\":\"/scratch\",\"options\":[]}],\"network\":\"none\",\"log-opts\":[\"max-size=$(log_bound "$R")\"],\"workdir-given\":true}" \
	"lrun.json: the docker-level facts (the user's mounts as given, the log's default bound)"

run $TO "$LRUN" --root "$R" create --name plain "$IMG" true
is "$(has_rule plain mount),$(has_rule plain unshare),$(spec plain .annotations)" \
	'false,false,{"lrun.container-layer":"'"$(ctr_field plain .layer)"'","lrun.user":"0"}' \
	"without CAP_SYS_ADMIN its rules are left out; no -u: user 0, looked up in the container"
run $TO "$LRUN" --root "$R" create --name priv --privileged "$IMG" true
is "$(spec priv '[.linux.seccomp, .linux.maskedPaths, .linux.readonlyPaths, (.mounts[] | select(.destination == "/sys") | .options)]')" \
	'[null,[],[],["nosuid","noexec","nodev"]]' "--privileged: no seccomp, nothing masked, /sys writable"
bnd=$((16#$(awk '/^CapBnd:/ {print $2}' /proc/self/status))) held=0
while [ "$bnd" -ne 0 ]; do held=$((held + (bnd & 1))) bnd=$((bnd >> 1)); done
is "$(spec priv '.process.capabilities.bounding | length')" "$held" "  every capability lrun holds ($held)"
run $TO "$LRUN" --root "$R" create --name unconf --security-opt seccomp=unconfined "$IMG" true
is "$(spec unconf .linux.seccomp)" null "seccomp=unconfined: no linux.seccomp"
cat >"$T/cond.json" <<'EOF'
{"defaultAction":"SCMP_ACT_ALLOW",
 "syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_ERRNO","errnoRet":13,"includes":{"caps":["CAP_SYS_ADMIN"]}},
             {"names":["rmdir"],"action":"SCMP_ACT_ERRNO","excludes":{"caps":["CAP_SYS_ADMIN"]}},
             {"names":["chmod"],"action":"SCMP_ACT_ERRNO","args":[{"index":1,"value":511,"op":"SCMP_CMP_EQ"}]}]}
EOF
run $TO "$LRUN" --root "$R" create --name prof --security-opt "seccomp=$T/cond.json" "$IMG" true
is "$(spec prof .linux.seccomp)" \
	'{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["rmdir"],"action":"SCMP_ACT_ERRNO","errnoRet":1},{"names":["chmod"],"action":"SCMP_ACT_ERRNO","errnoRet":1,"args":[{"index":1,"value":511,"valueTwo":0,"op":"SCMP_CMP_EQ"}]}]}' \
	"a docker-format profile file: its conditions decided at create (no SYS_ADMIN), in the spec's form"
echo '{"defaultAction":"SCMP_ACT_NOPE"}' >"$T/bad-action.json"
run $TO "$LRUN" --root "$R" create --name badprof --security-opt "seccomp=$T/bad-action.json" "$IMG" true
like "$rc|$err" "^125\|Error: seccomp profile $T/bad-action.json: defaultAction: action SCMP_ACT_NOPE is not supported" \
	"a profile lrun cannot read fails create, naming it"
is "$(jq '[.[] | select(.names[0] == "badprof")] | length' "$R/overlay-containers/containers.json")" 0 \
	"  and creates nothing"

# ------------------------------------------------- start runs config.json --
start sp
is "$rc|$out" "0|hi$nl" "start runs the spec as created"
edit sp '.process.args = ["sh", "-c", "echo $FOO $EDITED; hostname; cat /proc/sys/kernel/domainname /proc/sys/net/ipv4/ip_forward /proc/self/oom_score_adj; ulimit -n; grep -E \"^(Cap(Bnd|Eff|Amb)|Seccomp):\" /proc/self/status; cat /data/file; grep -c \" /edited tmpfs \" /proc/mounts; cat /etc/hostname | wc -c"]
	| .process.env += ["EDITED=yes"] | .hostname = "edited" | .domainname = "dom"
	| .linux.sysctl = {"net.ipv4.ip_forward": "1"} | .process.oomScoreAdj = 500
	| .process.rlimits = [{"type": "RLIMIT_NOFILE", "soft": 123, "hard": 456}]
	| .process.capabilities = {"bounding": ["CAP_NET_RAW", "CAP_SETUID", "CAP_SETGID"], "effective": ["CAP_NET_RAW"],
	   "permitted": ["CAP_NET_RAW"], "inheritable": ["CAP_NET_RAW"], "ambient": ["CAP_NET_RAW"]}
	| del(.annotations["lrun.user"]) | .process.user = {"uid": 1000, "gid": 1000}
	| del(.linux.seccomp) | .mounts += [{"destination": "/edited", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid"]}]
	| .linux.maskedPaths += ["/etc/hostname"]'
start sp
is "$rc|$err|$out" "0||bar yes
edited
dom
1
500
123
CapEff:	0000000000002000
CapBnd:	00000000000020c0
CapAmb:	0000000000002000
Seccomp:	0
volume-data
1
0
" "start after an edit runs the edited spec: args, env, hostname, domainname, sysctl, oomScoreAdj, rlimits, a numeric user keeping its capabilities (ambient too), no seccomp, an added mount, a masked path"
edit sp '.process.args = ["id"] | .process.user = {"uid": 1000, "gid": 100, "additionalGids": [10, 20]}'
start sp
is "$rc|$out" "0|uid=1000(app) gid=100 groups=10,20$nl" "process.user: uid, gid and additionalGids as given"
edit sp '.process.args = ["sh", "-c", "id; grep CapEff /proc/self/status"] | .annotations["lrun.user"] = "app"'
start sp
is "$rc|$out" "0|uid=1000(app) gid=1000(app) groups=10,20
CapEff:	0000000000000000
" "annotation lrun.user: looked up in the container, the spec's additionalGids (--group-add's) kept; a user other than root has no capabilities, as with docker"

# an exec runs with the spec's process settings
run $TO "$LRUN" --root "$R" run -d --name ex "$IMG" sleep 30
edit ex '.process.env += ["FROM_SPEC=1"] | .process.capabilities.bounding -= ["CAP_KILL"]'
run $TO "$LRUN" --root "$R" exec ex sh -c 'echo $FROM_SPEC; grep -E "^(CapBnd|Seccomp):" /proc/self/status'
is "$rc|$out" "0|1
CapBnd:	00000000a80405db
Seccomp:	2
" "exec takes its environment, capabilities and seccomp from config.json"
run $TO "$LRUN" --root "$R" rm -f ex

# -------------------------------------------------------- bad edits fail --
cp "$U/config.json" "$T/good.json"
echo '{bad' >"$U/config.json"
start sp
like "$rc|$err" '^125\|Error: parse config.json: invalid JSON' "invalid JSON: exit 125, Error:"
jq '.linux.namespaces += [{"type": "nope"}]' "$T/good.json" >"$U/config.json"
start sp
is "$rc|$err" '125|Error: config.json: linux.namespaces: unknown namespace type "nope"'"$nl" "an unknown namespace type"
jq '.annotations["lrun.container-layer"] = "0000"' "$T/good.json" >"$U/config.json"
start sp
like "$rc|$err" "^125\|Error: .*config.json: the annotation lrun.container-layer must name the container's layer $layer" \
	"another layer as the root is refused"
jq '.process.capabilities.bounding += ["CAP_NOPE"]' "$T/good.json" >"$U/config.json"
start sp
is "$rc|$err" '0|' "an unknown capability is ignored, as runc and crun ignore it (it grants nothing)"
jq '.process.capabilities.bounding += [7]' "$T/good.json" >"$U/config.json"
start sp
is "$rc|$err" '125|Error: config.json: process.capabilities.bounding: a capability is not a string'"$nl" \
	"a capability that is no name"
is "$(ctr_field sp '.flags["lrun.status"]')" exited "  a failed start leaves the container exited"
cp "$T/good.json" "$U/config.json"
start sp
is "$rc" 0 "the good spec runs again"

done_testing
