#!/bin/bash
# cgroup v2 in a real kernel: this machine's hierarchy is v1 (hybrid), so the
# v2 side of the cgroup layer is tested where it is the only one: qemu boots
# the installed Debian kernel with an initramfs whose userspace is lrun (as
# test/t/70-initramfs-boot.t does); lrun init mounts cgroup2 on
# /sys/fs/cgroup and its script runs the containers.  Checked on the
# console: info says v2; the limits land in memory.max, cpu.max, pids.max
# (controllers delegated through cgroup.subtree_control); the device policy
# (a BPF program) refuses /dev/kmsg and a block node and allows /dev/null; a
# memory hog is OOM-killed (137, State.OOMKilled true, from memory.events); a
# fork bomb stops at --pids-limit; pause (cgroup.freeze) shows paused; update
# changes memory.max of a running container; nothing is left under /lrun.
#
# Needs qemu-system-x86, linux-image-amd64 and cpio (as 70-initramfs-boot.t).
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/tap.sh"
. "$here/../lib/fixtures.sh"
. "$here/../lib/lrun.sh"
. "$here/../lib/boot.sh"
BUILD=$LRUN_TOP/examples/initramfs/build.sh
BOOT_TIMEOUT=${LRUN_TEST_BOOT_TIMEOUT:-180}

boot_host_kernel
lrun_tmp

fx_busybox_rootfs "$T/rootfs" && fx_layer_tar "$T/rootfs" "$T/layer.tar" &&
	fx_docker_archive "$T/v2.tar" localhost/v2:latest '{"Cmd":["/bin/sh"]}' "$T/layer.tar" ||
	bail "the test image does not build"
I=localhost/v2:latest
cat >"$T/test.conf" <<EOF
echo MARK-init start
load -q -i /images/v2.tar
info --format MARK-cgroup-{{.Host.CgroupVersion}}
run --network none --rm -m 64m --cpus 1 --pids-limit 50 $I sh -c 'echo MARK-mem \$(cat /sys/fs/cgroup/memory.max); echo MARK-cpu \$(cat /sys/fs/cgroup/cpu.max); echo MARK-pids \$(cat /sys/fs/cgroup/pids.max)'
run --network none --rm $I sh -c 'busybox mknod /dev/k c 1 11; echo x >/dev/k; echo MARK-kmsg \$?; busybox mknod /dev/b b 1 0; head -c 1 /dev/b >/dev/null; echo MARK-block \$?; echo x >/dev/null; echo MARK-null \$?'
run --network none --rm --privileged $I sh -c 'busybox mknod /dev/z c 1 5; head -c 1 /dev/z | wc -c | sed s/^/MARK-priv-/'
run --network none --name hog -m 32m $I sh -c 'a=xxxxxxxxxxxxxxxx; while :; do a=\$a\$a; done'
inspect --format MARK-oom-{{.State.OOMKilled}}-{{.State.ExitCode}} hog
run --network none --rm --pids-limit 20 $I sh -c 'sh -c "n=0; while [ \\\$n -lt 60 ]; do sleep 30 & n=\\\$((n + 1)); echo \\\$n >/tmp/n; done" 2>/dev/null; read n </tmp/n; echo MARK-forks \$n'
run --network none -d --name pz $I sleep 300
pause pz
ps --format MARK-ps-{{.Names}}-{{.State}}
unpause pz
update --memory 128m pz
exec pz sh -c 'echo MARK-updated \$(cat /sys/fs/cgroup/memory.max)'
stats --no-stream --format MARK-stats-{{.Name}}-{{.PIDS}}
rm -f pz
rm hog
run --network none --rm --cgroupns host $I sh -c 'echo MARK-left \$(busybox find /sys/fs/cgroup/lrun -mindepth 1 -type d | wc -l)'
echo MARK-init done
poweroff
EOF
ok_cmd "build.sh builds an initramfs with the cgroup v2 script" \
	"$BUILD" --kernel-version "$KVER" --image "$T/v2.tar" --script "$T/test.conf" -o "$T/v2.cpio.gz"
boot_x86 "$T/v2.cpio.gz"
is "$rc" 0 "qemu booted, ran the script and powered off" || show_console
is "$(m init)" "MARK-init start" "lrun init ran the script"
is "$(m cgroup)" "MARK-cgroup-v2" "info: cgroup v2 (lrun init mounted the unified hierarchy)" || show_console
is "$(m mem) | $(m cpu) | $(m pids)" "MARK-mem 67108864 | MARK-cpu 100000 100000 | MARK-pids 50" \
	"-m 64m --cpus 1 --pids-limit 50: memory.max, cpu.max, pids.max (seen in the container's own cgroup namespace)"
is "$(m kmsg) | $(m block) | $(m null)" "MARK-kmsg 1 | MARK-block 1 | MARK-null 0" \
	"the BPF device policy: /dev/kmsg and a block node refused, /dev/null allowed"
is "$(m priv)" "MARK-priv-1" "--privileged lifts it"
is "$(m oom)" "MARK-oom-true-137" "a memory hog under -m 32m: OOM-killed, 137, State.OOMKilled true (memory.events)"
is "$(m forks)" "MARK-forks 18" "a fork bomb stops at --pids-limit 20"
is "$(m ps)" "MARK-ps-pz-paused" "pause: cgroup.freeze, ps says paused"
is "$(m updated)" "MARK-updated 134217728" "update --memory 128m of a running container: memory.max"
is "$(m stats)" "MARK-stats-pz-1" "stats --no-stream reads the v2 files"
is "$(m left)" "MARK-left 1" "after rm and --rm only the running container's own cgroup is under /lrun"
like "$console" "MARK-init done" "the script ran to its end" || show_console

done_testing
