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

done_testing
