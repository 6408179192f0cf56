#!/bin/bash
# Rootless cgroups on cgroup v2: this machine's hierarchy is v1 (hybrid), so
# qemu boots the installed Debian kernel (as 69-cgroup-v2.t) with an
# initramfs whose /init is a busybox shell: it mounts cgroup2, makes an
# ordinary user (uid 1000) and delegates a subtree to it as systemd's
# Delegate=yes does for user@1000.service (the directory, its cgroup.procs,
# cgroup.subtree_control and cgroup.threads chowned to the user, the
# controllers enabled in the parents, the user's processes in init.scope
# below it), then runs the user's lrun (no subordinate ids in the guest: the
# single mapping).  Checked on the console: -m/--cpus/--pids-limit land in
# memory.max, cpu.max, pids.max of the container's cgroup under
# user@1000.service/lrun; a memory hog is OOM-killed (137, OOMKilled);
# a fork bomb stops at --pids-limit; nothing is left after rm.  Without
# delegation (the user's process moved into a cgroup of root's): the
# container runs without limits, one warning, exit 0.
#
# Needs qemu-system-x86, linux-image-amd64, cpio and busybox-static.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/tap.sh"
. "$here/../lib/fixtures.sh"
. "$here/../lib/lrun.sh"
. "$here/../lib/boot.sh"
BOOT_TIMEOUT=${LRUN_TEST_BOOT_TIMEOUT:-300}

boot_host_kernel
lrun_tmp
ko=$(ls /lib/modules/"$KVER"/kernel/fs/overlayfs/overlay.ko 2>/dev/null)
[ -n "$ko" ] || skip_all "kernel $KVER has no uncompressed overlay.ko for busybox's insmod"

# root's files only: the guest has no newuidmap, so the user's namespace maps one id
fx_busybox_rootfs "$T/rootfs" && rm -rf "$T/rootfs/home" && fx_layer_tar "$T/rootfs" "$T/layer.tar" &&
	fx_docker_archive "$T/v2.tar" localhost/v2:latest '{"Cmd":["/bin/sh"]}' "$T/layer.tar" ||
	bail "the test image does not build"

# the initramfs: busybox, lrun, overlay.ko, the image, a user, /init
R=$T/initramfs
mkdir -p "$R/bin" "$R/etc" "$R/images" "$R/dev" "$R/proc" "$R/sys" "$R/tmp" "$R/home" "$R/root"
cp /bin/busybox "$R/bin/busybox"
cp "$LRUN" "$R/lrun"
cp "$ko" "$R/overlay.ko"
cp "$T/v2.tar" "$R/images/v2.tar"
echo 'root:x:0:0:root:/root:/bin/sh' >"$R/etc/passwd"
echo 'u:x:1000:1000:u:/home/u:/bin/sh' >>"$R/etc/passwd"
printf 'root:x:0:\nu:x:1000:\n' >"$R/etc/group"
# lu ARGS: the user's lrun (su keeps the cgroup: init.scope, or where init moved)
cat >"$R/bin/lu" <<'EOF'
#!/bin/busybox sh
exec su -s /bin/sh -c 'cd /home/u && XDG_RUNTIME_DIR=/tmp/xdg exec /lrun "$@"' -- u lu "$@"
EOF
cat >"$R/init" <<'EOF'
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t devtmpfs dev /dev
exec </dev/console >/dev/console 2>&1
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t tmpfs tmp /tmp
mount -t cgroup2 cgroup2 /sys/fs/cgroup
insmod /overlay.ko
echo MARK-init start
# systemd's Delegate=yes, by hand
C=/sys/fs/cgroup D=/sys/fs/cgroup/user.slice/user@1000.service
echo '+memory +pids +cpu' >$C/cgroup.subtree_control
mkdir $C/user.slice
echo '+memory +pids +cpu' >$C/user.slice/cgroup.subtree_control
mkdir $D $D/init.scope
for d in $D $D/init.scope; do
	chown 1000:1000 $d $d/cgroup.procs $d/cgroup.subtree_control $d/cgroup.threads
done
echo $$ >$D/init.scope/cgroup.procs
mkdir -p /home/u /tmp/xdg
chown 1000:1000 /home/u /tmp/xdg
chmod 700 /tmp/xdg
I=localhost/v2:latest
lu load -q -i /images/v2.tar
echo MARK-loaded $?
lu run --network none --rm -m 64m --cpus 1 --pids-limit 50 $I sh -c 'echo MARK-mem $(cat /sys/fs/cgroup/memory.max); echo MARK-cpu $(cat /sys/fs/cgroup/cpu.max); echo MARK-pids $(cat /sys/fs/cgroup/pids.max)'
lu run --network none -d --name lim -m 48m $I sleep 300 >/dev/null
id=$(lu inspect --format '{{.Id}}' lim)
echo MARK-outside $(stat -c %u $D/lrun/$id) $(cat $D/lrun/$id/memory.max) $(cat $D/lrun/$id/cgroup.procs | wc -l)
lu rm -f lim >/dev/null
lu run --network none --name hog -m 32m $I sh -c 'a=xxxxxxxxxxxxxxxx; while :; do a=$a$a; done'
echo MARK-hogrc $?
lu inspect --format 'MARK-oom-{{.State.OOMKilled}}-{{.State.ExitCode}}' hog
lu rm hog >/dev/null
lu run --network none --rm --pids-limit 20 $I sh -c 'sh -c "n=0; while [ \$n -lt 60 ]; do sleep 30 & n=\$((n + 1)); echo \$n >/tmp/n; done" 2>/dev/null; read n </tmp/n; echo MARK-forks $n'
echo MARK-left $(find $D/lrun -mindepth 1 -type d | wc -l)
# no delegation: the user's process in a cgroup of root's
mkdir $C/plain
echo $$ >$C/plain/cgroup.procs
lu run --network none --rm -m 64m --pids-limit 50 $I sh -c 'echo MARK-plain $(cat /proc/self/cgroup)' 2>/tmp/warn
echo MARK-plainrc $?
echo MARK-warn $(grep -c WARN /tmp/warn) $(grep WARN /tmp/warn)
echo MARK-init done
poweroff -f
EOF
chmod 755 "$R/init" "$R/bin/lu" "$R/lrun"
(cd "$R" && find . | cpio -o -H newc -R 0:0 2>/dev/null | gzip -1) >"$T/initramfs.cpio.gz" || bail "cpio"

boot_x86 "$T/initramfs.cpio.gz"
is "$rc" 0 "qemu booted, ran the script and powered off" || show_console
is "$(m init)" "MARK-init start" "the busybox init ran" || show_console
is "$(m loaded)" "MARK-loaded 0" "the user loads an image into ~/.local/share/lrun" || show_console
is "$(m mem) | $(m cpu) | $(m pids)" "MARK-mem 67108864 | MARK-cpu 100000 100000 | MARK-pids 50" \
	"-m 64m --cpus 1 --pids-limit 50 as the user: memory.max, cpu.max, pids.max in its delegated subtree"
is "$(m outside)" "MARK-outside 1000 50331648 1" \
	"the container's cgroup is user@1000.service/lrun/ID, the user's, memory.max 48m, its process in it"
is "$(m hogrc) $(m oom)" "MARK-hogrc 137 MARK-oom-true-137" "a memory hog under -m 32m: OOM-killed, 137, OOMKilled true"
is "$(m forks)" "MARK-forks 18" "a fork bomb stops at --pids-limit 20"
is "$(m left)" "MARK-left 0" "after rm and --rm nothing is left under the user's lrun cgroup"
is "$(m plain)" "MARK-plain 0::/" "without delegation the container runs, without a cgroup of its own (its namespace's root)"
is "$(m plainrc)" "MARK-plainrc 0" "  and does not fail"
is "$(m warn)" "MARK-warn 1 WARN[0000] Resource limits are not supported and ignored on cgroups V2 rootless systems without a delegated cgroup subtree" \
	"  one warning for -m and --pids-limit"
like "$console" "MARK-init done" "the script ran to its end" || show_console

done_testing
