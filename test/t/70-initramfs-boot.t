#!/bin/bash
# A real boot: examples/initramfs/build.sh makes an initramfs whose whole
# userspace is lrun (lrun init as PID 1, an image archive, the overlay module),
# qemu boots the installed Debian kernel with it, and the serial console shows
# the container's run: the image's command in an overlay root, PID 1 in its own
# namespaces, the root switched without pivot_root (the initramfs is rootfs),
# its exit code, the writable layer's size from `ps -a -s`, and a clean power off.
#
# Needs qemu-system-x86, linux-image-amd64 and cpio.  KVM is used only when
# /dev/kvm is usable and a KVM boot reaches the console within
# $LRUN_TEST_KVM_PROBE seconds (10); otherwise TCG (-cpu max).  Every boot is
# bounded by $LRUN_TEST_BOOT_TIMEOUT seconds (120).  LRUN_TEST_ACCEL=tcg skips
# the KVM probe.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/tap.sh"
. "$here/../lib/fixtures.sh"
. "$here/../lib/lrun.sh"
. "$here/../lib/boot.sh"
BUILD=$LRUN_TOP/examples/initramfs/build.sh
BOOT_TIMEOUT=${LRUN_TEST_BOOT_TIMEOUT:-120}
KVM_PROBE=${LRUN_TEST_KVM_PROBE:-10}

boot_host_kernel
KERNEL=/boot/vmlinuz-$KVER
lrun_tmp
note "kernel $KERNEL"

# ---------------------------------------------------------------- the image --
# Its own command (Cmd) prints the markers; /file.txt makes the writable
# layer 18 bytes.
CMD='echo "MARK-ran the image command"
echo "MARK-pid $$"
echo "MARK-hostname $(hostname)"
for n in uts pid ipc cgroup mnt; do echo "MARK-ns $(readlink /proc/self/ns/$n)"; done
grep " / " /proc/mounts | sed "s/^/MARK-rootmount /"
ls /bin/busybox /etc/passwd | sed "s/^/MARK-file /"
sed "s/^/MARK-mountinfo /" /proc/1/mountinfo
echo 00000000000000000 > /file.txt'
fx_busybox_rootfs "$T/rootfs" && fx_layer_tar "$T/rootfs" "$T/layer.tar" &&
	fx_docker_archive "$T/vmtest.tar" localhost/vmtest:latest \
		"$(jq -cn --arg c "$CMD" '{Cmd:["/bin/sh","-c",$c]}')" "$T/layer.tar" ||
	bail "the test image does not build"

boot_script "$T/test.conf"

# ---------------------------------------------------------------- the build --
ok_cmd "build.sh builds an initramfs with the test image and script" \
	"$BUILD" --kernel-version "$KVER" --image "$T/vmtest.tar" --script "$T/test.conf" -o "$T/test.cpio.gz"
list=$(zcat "$T/test.cpio.gz" | cpio -it --quiet 2>&1 | tr '\n' ' ')
MODDIR=lib/modules/$KVER/kernel/fs/overlayfs
ko=$(cd / && ls "$MODDIR"/overlay.ko* 2>/dev/null | head -n 1)
is "$list" "dev etc etc/lrun etc/lrun/init.conf images images/vmtest.tar init lib lib/modules lib/modules/$KVER lib/modules/$KVER/kernel lib/modules/$KVER/kernel/fs $MODDIR${ko:+ $ko} lrun " \
	"the archive holds lrun, the script, /init, the image and the overlay module: no shell"
# /dev/console is a second newc archive appended in the same gzip stream
hdr=$(zcat "$T/test.cpio.gz" | LC_ALL=C grep -a -o '070701[0-9A-F]\{104\}dev/console' | head -n 1)
is "${hdr:14:8} ${hdr:78:8} ${hdr:86:8}" "00002180 00000005 00000001" \
	"and /dev/console, a character device 5:1 mode 0600"
zcat "$T/test.cpio.gz" | (mkdir -p "$T/x" && cd "$T/x" && cpio -id --quiet init etc/lrun/init.conf 2>/dev/null)
is "$(readlink "$T/x/init") $(head -n 1 "$T/x/etc/lrun/init.conf")" "etc/lrun/init.conf #!/lrun init" \
	"/init is the script, started by the kernel as /lrun init /init"
cmp -s "$LRUN" <(zcat "$T/test.cpio.gz" | (cd "$T/x" && cpio -i --quiet --to-stdout lrun))
ok $? "/lrun is the lrun under test"

# -------------------------------------------------------------------- boot --
# boot LOG INITRD [QEMU ARGS...]: qemu under timeout; $boot_rc, $boot_secs
boot() {
	local log=$1 initrd=$2 t0; shift 2
	t0=$(date +%s%N)
	timeout -k 5 "$BOOT_TIMEOUT" qemu-system-x86_64 "$@" -m 512 -smp 1 -kernel "$KERNEL" -initrd "$initrd" \
		-append 'console=ttyS0 panic=-1 quiet' -nographic -no-reboot -nic none </dev/null >"$log" 2>&1 &
	BG_PIDS+=($!)
	boot_pid=$!
	# kvm_probe: a KVM boot that shows no init output in KVM_PROBE seconds hangs
	if [ "${PROBE:-}" = 1 ]; then
		local i
		{ # (2>/dev/null: not bash's "Aborted" when qemu dies of an assertion)
			for ((i = 0; i < KVM_PROBE * 4; i++)); do
				grep -q MARK-init "$log" && break
				kill -0 "$boot_pid" || break
				sleep 0.25
			done
		} 2>/dev/null
		if ! grep -q MARK-init "$log"; then
			probe_why="no init output within ${KVM_PROBE}s"
			kill -0 "$boot_pid" 2>/dev/null || probe_why="qemu exited"
			kill "$boot_pid" 2>/dev/null; wait "$boot_pid" 2>/dev/null
			boot_rc=probe-failed
			return
		fi
	fi
	wait "$boot_pid" 2>/dev/null
	boot_rc=$?
	boot_secs=$(awk -v t="$(( $(date +%s%N) - t0 ))" 'BEGIN { printf "%.1f", t / 1e9 }')
}
ACCEL=(-accel tcg -cpu max) accel=TCG
first=$T/console.log
if [ "${LRUN_TEST_ACCEL:-auto}" != tcg ] && [ -r /dev/kvm ] && [ -w /dev/kvm ]; then
	PROBE=1 boot "$first" "$T/test.cpio.gz" -enable-kvm -cpu host
	if [ "$boot_rc" = probe-failed ]; then
		note "KVM: $probe_why ($(tr -d '\r' <"$first" | sed 's/\x1b\[[0-9;?]*[a-zA-Z]//g; s/\x1bc//g' | tail -n 1 | cut -c1-120)); using TCG"
	else
		ACCEL=(-enable-kvm -cpu host) accel=KVM
	fi
fi
[ "$accel" = KVM ] || boot "$first" "$T/test.cpio.gz" "${ACCEL[@]}"
note "boot under $accel: qemu exited with $boot_rc after ${boot_secs}s"
console=$(tr -d '\r' <"$first")

is "$boot_rc" 0 "qemu exited on its own, status 0, within ${BOOT_TIMEOUT}s ($accel, ${boot_secs}s)" || show_console
! grep -q 'Kernel panic' <<<"$console"
ok $? "the kernel did not panic" || show_console
grep -q 'reboot: Power down' <<<"$console"
ok $? "lrun init powered the VM off (reboot: Power down)" || show_console

m() { grep -o "MARK-$1.*" <<<"$console"; } # marker lines, without the console's noise
is "$(m init)" $'MARK-init start\nMARK-init done' "/init ran the whole script as PID 1"
like "$console" $'\nLoaded image: localhost/vmtest:latest\n' "it loaded the image shipped in the initramfs"
is "$(m ran)" "MARK-ran the image command" "the container ran the image's own command" || show_console
like "$(m rootmount)" '^MARK-rootmount overlay / overlay rw,.*lowerdir=l/[A-Z0-9]{26},upperdir=[0-9a-f]{64}/diff,workdir=' \
	"its root is an overlay of the image's layer and its own"
is "$(m pid)" "MARK-pid 1" "it is PID 1 (its own pid namespace)"
# the kernel's initial namespaces have fixed inode numbers (include/linux/proc_ns.h)
ns=$(m ns | sed 's/^MARK-ns //' | tr '\n' ' ')
like "$ns" '^uts:\[[0-9]+\] pid:\[[0-9]+\] ipc:\[[0-9]+\] cgroup:\[[0-9]+\] mnt:\[[0-9]+\] $' "it reports its namespaces"
! [[ $ns =~ uts:\[4026531838\]|pid:\[4026531836\]|ipc:\[4026531839\]|cgroup:\[4026531835\] ]]
ok $? "its uts, pid, ipc and cgroup namespaces are not the VM's initial ones ($ns)"
is "$(m file)" $'MARK-file /bin/busybox\nMARK-file /etc/passwd' "it sees its image's files"
# the store is on the initramfs itself (rootfs, which pivot_root refuses):
# lrun moved the overlay over / and chrooted; the old root stays below
like "$(m mountinfo | head -n 1)" '^MARK-mountinfo [0-9]+ [0-9]+ [0-9:]+ / / rw,[^ ]* - overlay overlay ' \
	"mountinfo: the overlay is mounted on /"
like "$(m mountinfo)" $'\nMARK-mountinfo [^\n]* /var/lib/lrun/overlay-containers/[0-9a-f]{64}/userdata/hosts /etc/hosts [^\n]* - rootfs rootfs ' \
	"the store is on the initramfs rootfs, where pivot_root is impossible (the root switch fell back to MS_MOVE + chroot)"
like "$console" $'\nlrun init: `run --network none --name vmexit localhost/vmtest:latest sh -c \'exit 7\'` exited with status 7\n' \
	"the console shows a container's exit code"

# ps -a -s, run by init after both containers exited
hdr=$(grep -o 'CONTAINER ID .*' <<<"$console")
like "$hdr" '^CONTAINER ID +IMAGE +COMMAND +CREATED +STATUS +PORTS +NAMES +SIZE$' "init ran ps -a -s" || show_console
row=$(grep -E '^[0-9a-f]{12} .* vmtest +' <<<"$console")
like "$row" '^[0-9a-f]{12}  localhost/vmtest:latest .* Exited \(0\) .* vmtest +30B \(virtual [0-9.]+[kM]B\)$' \
	"ps -a -s: the container exited 0 and its writable layer is 30B (/file.txt 18B, the /etc/mtab link 12B)"
is "$(m hostname)" "MARK-hostname ${row:0:12}" "its hostname is its own (its ID), set in its own uts namespace"
like "$(grep -E '^[0-9a-f]{12} .* vmexit +' <<<"$console")" ' Exited \(7\) .* vmexit +12B \(virtual ' \
	"ps -a -s: the other container exited 7 and wrote nothing (12B: the /etc/mtab link)"

# ------------------------------------------------- the example as shipped --
ok_cmd "build.sh with no options builds the shipped example" \
	bash -c 'cd "$1" && "$2" --kernel-version "$3"' _ "$T" "$BUILD" "$KVER"
boot "$T/example.log" "$T/initramfs.cpio.gz" "${ACCEL[@]}"
note "shipped example under $accel: qemu exited with $boot_rc after ${boot_secs}s"
console=$(tr -d '\r' <"$T/example.log")
is "$boot_rc" 0 "it boots and qemu exits on its own ($accel, ${boot_secs}s)" || show_console
! grep -q 'Kernel panic' <<<"$console"
ok $? "without a panic" || show_console
like "$console" $'\nhello from ([0-9a-f]{12}), pid 1 in its own namespaces\noverlay / overlay ' \
	"its container says hello from its overlay root" || show_console
like "$console" $'\n[0-9a-f]{12}  localhost/busybox:latest [^\n]* Exited \\(0\\) [^\n]* hello +30B \\(virtual [0-9.]+[kM]B\\)\n' \
	"ps -a -s shows it exited 0: 18B written and the /etc/mtab link, 30B"
like "$console" 'reboot: Power down' "and it powers off"

# --image without --script: a script that runs the image's first tag
ok_cmd "build.sh --image without --script" "$BUILD" --kernel-version "$KVER" --image "$T/vmtest.tar" -o "$T/img.cpio.gz"
rm -rf "$T/x" && mkdir -p "$T/x"
zcat "$T/img.cpio.gz" | (cd "$T/x" && cpio -id --quiet etc/lrun/init.conf 2>/dev/null)
is "$(cat "$T/x/etc/lrun/init.conf")" $'#!/lrun init\nload -q -i /images/vmtest.tar\nrun --network none --name boot localhost/vmtest:latest\nps -a -s\npoweroff' \
	"writes load, run of the image's tag, ps -a -s, poweroff"
done_testing
