#!/bin/bash
# The device policy (issue 10, item 1): every container gets a cgroup of its
# own with docker's device allow-list (v1 devices.deny/allow; v2 a BPF
# program, also attached on a hybrid host's unified hierarchy), and the image
# content is mounted nodev.  Each attack is performed against a loop device
# over a file of the test's, standing in for a host disk: an image-shipped
# 0666 block node opened by --cap-drop ALL -u 1000, mknod by a default root,
# an image-shipped kmsg node.  --device adds a node, --privileged lifts the
# policy; the cgroup goes with the container (rm, --rm, a failed start).
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/ctr-test.sh"
command -v losetup >/dev/null || skip_all "needs losetup"
grep -q cgroup /proc/self/mountinfo || skip_all "no cgroup hierarchy mounted"
ctr_start 60

# ------------------------------------------------ the stand-in host disk --
printf 'SECRETDISK' >"$T/disk.img"
truncate -s 64k "$T/disk.img"
LOOP=$(losetup -f --show "$T/disk.img") || bail "losetup failed"
at_exit 'losetup -d "$LOOP" 2>/dev/null'
MAJ=$(stat -c %t "$LOOP") MIN=$(stat -c %T "$LOOP")
MAJ=$((16#$MAJ)) MIN=$((16#$MIN))
disk_head() { head -c 10 "$T/disk.img"; }
is "$(disk_head)" SECRETDISK "the host reads its disk (loop $MAJ:$MIN)"

# ------------------------------------ an image that ships device nodes --
fx_busybox_rootfs "$T/img" >/dev/null 2>&1 || bail "busybox rootfs"
mkdir -p "$T/img/dev"
mknod -m 0666 "$T/img/disk" b "$MAJ" "$MIN"
mknod -m 0666 "$T/img/kmsg" c 1 11
mknod -m 0666 "$T/img/dev/kmsg" c 1 11
fx_layer_tar "$T/img" "$T/img.tar" >/dev/null 2>&1 || bail "layer tar"
fx_docker_archive "$T/devimg.tar" localhost/devimg:latest '{}' "$T/img.tar" >/dev/null 2>&1 || bail "archive"
lr load -q -i "$T/devimg.tar" >/dev/null 2>&1 || bail "load of the device image failed"
DI=localhost/devimg:latest
lrun_run() { run $TO "$LRUN" --root "$R" run --rm "$@"; }

# cgroup_dirs ID: the container's cgroup directories in every hierarchy
cgroup_dirs() { find /sys/fs/cgroup -mindepth 1 -maxdepth 4 -type d -name "$1" 2>/dev/null; }

# ---------------------------------------- an image-shipped block device --
lrun_run --cap-drop ALL -u 1000 "$DI" sh -c 'stat -c "%F %a %t:%T" /disk; head -c 10 /disk; echo " read=$?"'
like "$out" "^block special file 666 $(printf %x "$MAJ"):$(printf %x "$MIN")"$'\n'" read=1" \
	"--cap-drop ALL -u 1000: the image's 0666 block node is there, reading it fails"
[[ $out != *SECRETDISK* ]]
ok $? "  nothing of the disk reaches the container"
lrun_run --cap-drop ALL -u 1000 "$DI" sh -c 'printf PWNED >/disk; echo "write=$?"'
is "$out" "write=1"$'\n' "  writing it fails"
is "$(disk_head)" SECRETDISK "  the disk is untouched"
lrun_run "$DI" sh -c 'head -c 10 /disk; echo " read=$?"; printf PWNED >/disk; echo "write=$?"'
is "$out" " read=1"$'\n'"write=1"$'\n' "default root: the image's node can be neither read nor written"
like "$err" "Permission denied|Operation not permitted" "  the kernel says why"
is "$(disk_head)" SECRETDISK "  the disk is untouched"

# ------------------------------------------------------- mknod by root --
lrun_run "$DI" sh -c "busybox mknod /dev/sdz b $MAJ $MIN && echo made; head -c 10 /dev/sdz; echo \" read=\$?\"; printf PWNED >/dev/sdz; echo \"write=\$?\""
is "$out" "made"$'\n'" read=1"$'\n'"write=1"$'\n' "default root may mknod (docker's MKNOD) but not open the node"
like "$err" "Operation not permitted" "  the device cgroup refuses it (EPERM)"
is "$(disk_head)" SECRETDISK "  the disk is untouched"
lrun_run "$DI" sh -c "busybox mknod /sdz b $MAJ $MIN && echo made; head -c 10 /sdz; echo \" read=\$?\""
is "$out" "made"$'\n'" read=1"$'\n' "a node made in the root (nodev) cannot be opened either"

# ------------------------------------------------------ the kernel log --
marker="lrun-kmsg-probe-$$-$RANDOM"
lrun_run "$DI" sh -c "ls /dev/kmsg 2>/dev/null; echo $marker >/kmsg; echo \"kmsg=\$?\"; busybox mknod /dev/k c 1 11; echo $marker >/dev/k; echo \"dev=\$?\""
is "$out" "kmsg=1"$'\n'"dev=1"$'\n' "an image-shipped kmsg (and the image's /dev/kmsg) writes nothing to the kernel log"
if dmesg >/dev/null 2>&1; then
	dmesg | grep -q "$marker"
	ok $((!$?)) "  the host's kernel log has no line of the container"
else
	skip "dmesg is not readable here"
fi

# ----------------------------------------- what the policy still allows --
lrun_run -u 1000 "$DI" sh -c 'echo x >/dev/null && head -c 4 /dev/zero | wc -c && head -c 4 /dev/urandom | wc -c && echo >/dev/full; echo "full=$?"'
is "$out" "4"$'\n'"4"$'\n'"full=1"$'\n' "/dev/null, zero, urandom, full work (full: ENOSPC)"
like "$err" "No space left on device" "  /dev/full says ENOSPC, not EPERM"

# ------------------------------------------------------------ --device --
lrun_run --device "$LOOP:/dev/xvda:r" "$DI" sh -c 'head -c 10 /dev/xvda; echo " read=$?"; printf PWNED >/dev/xvda; echo "write=$?"'
is "$out" "SECRETDISK read=0"$'\n'"write=1"$'\n' "--device HOST:/dev/xvda:r: readable, not writable"
lrun_run --device "$LOOP" -u 1000 --cap-drop ALL "$DI" sh -c "stat -c '%F %t:%T' $LOOP"
like "$out" "^block special file $(printf %x "$MAJ"):$(printf %x "$MIN")" "--device HOST: the node at the same path"
lrun_run --device "$LOOP:/dev/xvda" "$DI" sh -c 'printf PWNED | dd of=/dev/xvda conv=notrunc 2>/dev/null; echo "write=$?"'
is "$out" "write=0"$'\n' "--device HOST:/dev/xvda (rwm): writable"
sync; blockdev --flushbufs "$LOOP" 2>/dev/null
is "$(head -c 5 "$T/disk.img")" PWNED "  the write reached the device"
printf 'SECRETDISK' | dd of="$T/disk.img" conv=notrunc 2>/dev/null
for bad in /nonexistent/dev "$T/disk.img" "/dev/null:/dev/x:rwx" "dev/null"; do
	before=$(ls "$R/overlay-containers" 2>/dev/null | wc -l)
	lrun_run --device "$bad" "$DI" true
	like "$rc|$err" "^125\|Error: .*(device|/nonexistent)" "--device $bad: exit 125, Error: naming it"
	is "$(ls "$R/overlay-containers" 2>/dev/null | wc -l)" "$before" "  no container is left"
done

# -------------------------------------------------------- --privileged --
lrun_run --privileged "$DI" sh -c "busybox mknod /dev/sdz b $MAJ $MIN && head -c 10 /dev/sdz"
is "$out" "SECRETDISK" "--privileged lifts the device policy"
lrun_run --privileged "$DI" sh -c 'head -c 10 /disk; echo " read=$?"'
is "$out" " read=1"$'\n' "  the image's own nodes stay unusable (the root is nodev)"

# --------------------------------------------------- exec, and cleanup --
run $TO "$LRUN" --root "$R" run -d --name dev1 "$DI" sleep 300
is "$rc" 0 "run -d"
id=$(ctr_field dev1 .id)
dirs=$(cgroup_dirs "$id")
[ -n "$dirs" ]
ok $? "the running container has its cgroup ($(echo "$dirs" | head -1))"
like "$(echo "$dirs" | head -1)" "/lrun/$id\$" "  named by ID below lrun's parent /lrun"
if [ -f "/sys/fs/cgroup/devices/lrun/$id/devices.list" ]; then
	is "$(sort "/sys/fs/cgroup/devices/lrun/$id/devices.list")" "$(printf '%s\n' 'b *:* m' 'c *:* m' 'c 1:3 rwm' 'c 1:5 rwm' \
		'c 1:7 rwm' 'c 1:8 rwm' 'c 1:9 rwm' 'c 10:200 rwm' 'c 136:* rwm' 'c 5:0 rwm' 'c 5:2 rwm' | sort)" \
		"v1: devices.list is docker's allow-list"
else
	skip "no v1 devices controller"
fi
run $TO "$LRUN" --root "$R" exec dev1 sh -c "busybox mknod /dev/sdy b $MAJ $MIN; head -c 10 /dev/sdy; echo \" read=\$?\"; cat /proc/self/cgroup | grep -c ':/\$'"
like "$out" "^ read=1"$'\n' "exec: the new process is under the same policy"
is "$(sed -n 2p <<<"$out")" "$(grep -c . /proc/self/cgroup)" "  in the container's cgroup namespace (every hierarchy at /)"
run $TO "$LRUN" --root "$R" rm -f dev1
is "$rc" 0 "rm -f"
is "$(cgroup_dirs "$id")" "" "  the cgroup is gone in every hierarchy"

run $TO "$LRUN" --root "$R" run --name dev2 "$DI" true
id=$(ctr_field dev2 .id)
is "$(cgroup_dirs "$id")" "" "a container that exited leaves no cgroup (the monitor reaped it)"
lr rm dev2 >/dev/null

run $TO "$LRUN" --root "$R" run -d --name dev3 "$DI" sleep 300
id=$(ctr_field dev3 .id)
kill -9 "$(ctr_field dev3 '.flags["lrun.monitor"]')"
run $TO "$LRUN" --root "$R" rm -f dev3
is "$rc|$(cgroup_dirs "$id")" "0|" "rm -f after the monitor was killed: no cgroup left"

parent="lrun-test-$$"
run $TO "$LRUN" --root "$R" run -d --name dev4 --cgroup-parent "$parent" "$DI" sleep 300
id=$(ctr_field dev4 .id)
like "$(cgroup_dirs "$id" | head -1)" "/$parent/$id\$" "--cgroup-parent $parent places it there"
lr rm -f dev4 >/dev/null
is "$(cgroup_dirs "$id")" "" "  and rm removes it"
find /sys/fs/cgroup -mindepth 1 -maxdepth 2 -type d -name "$parent" -exec rmdir {} + 2>/dev/null
before=$(ls "$R/overlay-containers" | wc -l)
lrun_run --cgroup-parent ../../etc "$DI" true
like "$rc|$err" '^125\|Error: .*cgroup' "--cgroup-parent ../../etc: exit 125, Error:"
is "$(ls "$R/overlay-containers" | wc -l)" "$before" "  no container is left"

done_testing
