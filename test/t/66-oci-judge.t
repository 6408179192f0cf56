#!/bin/bash
# OCI runtime mode, what crun's own OCI tests (tests/test_*.py) check and
# OCI clients rely on: the process's HOME from a symlinked /etc/passwd,
# namespaces joined by path next to a new user namespace, device owners in
# a user namespace, idmapped bind mounts, the seccomp listener.
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
edit() { jq "$1" "$T/base.json" >"$B/config.json"; }
at_exit 'for c in $(ls "$S" 2>/dev/null); do "$LRUN" --root "$S" delete -f "$c" >/dev/null 2>&1; done'
mkdir -p "$B"
fx_busybox_rootfs "$B/rootfs"
oci spec --bundle "$B"
jq '.process.terminal = false | .root.readonly = false' "$B/config.json" >"$T/base.json"

# ------------------------------------- HOME from a symlinked /etc/passwd --
# (crun test_exec.py exec_populate_home_env_from_process_uid)
mkdir -p "$B/rootfs/usr/share"
{ cat "$B/rootfs/etc/passwd"; echo 'test:x:4321:4321:test:/var/empty:/bin/sh'; } >"$B/rootfs/usr/share/passwd"
rm -f "$B/rootfs/etc/passwd"
ln -s ../usr/share/passwd "$B/rootfs/etc/passwd"
edit '.process.args = ["sleep", "100"]'
run $TO "$LRUN" --root "$S" run -d --bundle "$B" home
echo '{"user": {"uid": 4321, "gid": 4321}, "args": ["sh", "-c", "echo $HOME"], "env": ["PATH=/bin"], "cwd": "/"}' >"$T/p.json"
run $TO "$LRUN" --root "$S" exec --process "$T/p.json" home
is "$rc|$out|$err" "0|/var/empty$nl|" "exec: HOME from /etc/passwd -> ../usr/share/passwd (followed inside the root, as runc and crun)"
oci delete -f home

# ------------------------------------------- a device in a user namespace --
# (crun test_devices.py owner-device) the container's root may not mknod and
# its /dev is nodev: lrun makes the node, owned as the spec says through the
# maps, where the host has no node of that path
chmod 0755 "$T"
edit '.process.args = ["sh", "-c", "stat -c \"%F %t:%T %u:%g %a\" /dev/foo; head -c 3 /dev/foo | od -An -tx1"]
	| .linux.namespaces += [{"type": "user"}]
	| .linux.uidMappings = [{"containerID": 0, "hostID": 100000, "size": 65536}]
	| .linux.gidMappings = [{"containerID": 0, "hostID": 100000, "size": 65536}]
	| .linux.devices = [{"path": "/dev/foo", "type": "c", "major": 1, "minor": 5, "fileMode": 438, "uid": 10, "gid": 11}]'
run $TO "$LRUN" --root "$S" run --bundle "$B" dev
is "$rc|$out|$err" "0|character special file 1:5 10:11 666$nl 00 00 00$nl|" \
	"linux.devices in a user namespace: the spec's node (type, numbers, owner, mode), usable"

# ------------------------------------------------- the seccomp listener --
# (crun test_seccomp.py seccomp-listener) linux.seccomp.listenerPath gets the
# notify descriptor with the runtime spec's container process state
cat >"$T/listener.c" <<'EOF'
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>
int main(int argc, char **argv)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	char buf[8192], ctl[CMSG_SPACE(sizeof(int))], path[64], link[64] = "";
	int s = socket(AF_UNIX, SOCK_STREAM, 0), fd = -1;
	strcpy(a.sun_path, argv[1]);
	if (bind(s, (struct sockaddr *)&a, sizeof a) < 0 || listen(s, 1) < 0)
		return 1;
	int k = accept(s, 0, 0);
	struct iovec io = {buf, sizeof buf - 1};
	struct msghdr m = {.msg_iov = &io, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof ctl};
	ssize_t n = recvmsg(k, &m, 0);
	buf[n > 0 ? n : 0] = 0;
	struct cmsghdr *cm = CMSG_FIRSTHDR(&m);
	if (cm && cm->cmsg_type == SCM_RIGHTS)
		memcpy(&fd, CMSG_DATA(cm), sizeof fd);
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	readlink(path, link, sizeof link - 1);
	printf("%s\n%s\n", link, buf);
	return 0;
}
EOF
cc -o "$T/listener" "$T/listener.c"
timeout 30 "$T/listener" "$T/l.sock" >"$T/l.out" &
for i in $(seq 100); do [ -S "$T/l.sock" ] && break; sleep 0.05; done
edit '.process.args = ["true"] | .linux.seccomp = {"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "'"$T"'/l.sock",
	"listenerMetadata": "some metadata", "syscalls": [{"names": ["kexec_load"], "action": "SCMP_ACT_NOTIFY"}]}'
run $TO "$LRUN" --root "$S" run --bundle "$B" sl
kill %1 2>/dev/null; wait
is "$rc|$err|$(head -1 "$T/l.out")" "0||anon_inode:seccomp notify" "seccomp listenerPath: the notify descriptor sent there"
is "$(tail -n +2 "$T/l.out" | jq -c '[.ociVersion, .fds, .pid == .state.pid and .pid > 0, .metadata, .state.status, .state.id, .state.bundle == "'"$B"'"]')" \
	'["1.1.0",["seccompFd"],true,"some metadata","creating","sl",true]' "  with the container process state (runtime spec 1.1.0, as runc)"

# ------------------------------------------------------- idmapped binds --
# (crun test_mounts.py mount-idmapped-mounts, podman's -v SRC:DST:idmap) a
# bind with "idmap" shows the owners through the container's user namespace
mkdir -p "$T/idm/sub" && touch "$T/idm/f" "$T/idm/sub/g" && chown 0:0 "$T/idm/f" && chown 7:8 "$T/idm/sub/g"
mkdir -p "$B/rootfs/a" "$B/rootfs/b" "$B/rootfs/c" "$B/rootfs/d" "$T/idm2" && mount --bind "$T/idm2" "$T/idm/sub" && touch "$T/idm/sub/g2"
at_exit 'umount "$T/idm/sub" 2>/dev/null'
edit '.process.args = ["sh", "-c", "stat -c %u:%g /a/f /b/f /c/sub/g2 /d/sub/g2; touch /a/new"]
	| .linux.namespaces += [{"type": "user"}]
	| .linux.uidMappings = [{"containerID": 0, "hostID": 100000, "size": 65536}]
	| .linux.gidMappings = [{"containerID": 0, "hostID": 100000, "size": 65536}]
	| .mounts += [{"destination": "/a", "type": "bind", "source": "'"$T"'/idm", "options": ["bind", "idmap"]},
		{"destination": "/b", "type": "bind", "source": "'"$T"'/idm", "options": ["bind"]},
		{"destination": "/c", "type": "bind", "source": "'"$T"'/idm", "options": ["rbind", "idmap"]},
		{"destination": "/d", "type": "bind", "source": "'"$T"'/idm", "options": ["rbind", "ridmap"]}]'
run $TO "$LRUN" --root "$S" run --bundle "$B" idm
is "$rc|$out|$err" "0|0:0${nl}65534:65534${nl}65534:65534${nl}0:0$nl|" \
	"bind idmap: the host's root is the container's; without it nobody; ridmap reaches the mount below, idmap not"
is "$(stat -c %u:%g "$T/idm/new")" "0:0" "  a file the container's root makes there is the host's root's"

edit '.process.args = ["sh", "-c", "stat -c %u:%g /e/f"]
	| .linux.namespaces += [{"type": "user"}]
	| .linux.uidMappings = [{"containerID": 0, "hostID": 100000, "size": 65536}]
	| .linux.gidMappings = [{"containerID": 0, "hostID": 100000, "size": 65536}]
	| .mounts += [{"destination": "/e", "type": "bind", "source": "'"$T"'/idm", "options": ["bind", "idmap"],
		"uidMappings": [{"containerID": 0, "hostID": 100005, "size": 10}],
		"gidMappings": [{"containerID": 0, "hostID": 100006, "size": 10}]}]'
mkdir -p "$B/rootfs/e"
run $TO "$LRUN" --root "$S" run --bundle "$B" idm2
is "$rc|$out|$err" "0|5:6$nl|" "a bind's own uidMappings, gidMappings (runtime spec 1.1): its owner 0 is host 100005, 100006"

edit '.process.args = ["sh", "-c", "stat -c %u:%g /e/f"]
	| .mounts += [{"destination": "/e", "type": "bind", "source": "'"$T"'/idm", "options": ["bind", "idmap"],
		"uidMappings": [{"containerID": 0, "hostID": 5, "size": 10}],
		"gidMappings": [{"containerID": 0, "hostID": 6, "size": 10}]}]'
run $TO "$LRUN" --root "$S" run --bundle "$B" idm3
is "$rc|$out|$err" "0|5:6$nl|" "  and without a user namespace"

done_testing
