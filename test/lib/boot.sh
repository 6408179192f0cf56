# boot.sh - what the boot tests under qemu (69-cgroup-v2, 70-initramfs-boot*,
# 72-power-cut) need and boot.
#
#   boot_host_kernel   skip_all unless this is an x86_64 host with qemu, cpio,
#                      a static busybox and a kernel in /boot with its
#                      /lib/modules; KVER is that kernel's version (the newest).
#   boot_script FILE   write the init script both boots run: load
#                      /images/vmtest.tar, run it (vmtest) and a second
#                      container that exits 7 (vmexit), ps -a -s, poweroff;
#                      MARK-init start/done around it.  It has no "#!" line:
#                      examples/initramfs/build.sh adds "#!/lrun init".
#   boot_x86 INITRD    boot KVER's kernel with INITRD under qemu (TCG, 512 MB,
#                      one CPU, no network; one qemu at a time on the machine:
#                      /tmp/lrun-qemu.lock), for BOOT_TIMEOUT seconds; sets rc
#                      (qemu's status) and console (the console without \r);
#                      show_console adds its tail to the TAP output and
#                      m NAME prints its first "MARK-NAME..." line.
#   boot_arch_initramfs ARCH DIR
#                      for arm64, armhf, riscv64 (70-initramfs-boot-arch.t and
#                      test/bench/embedded; source fixtures.sh, lrun.sh and
#                      cross.sh first): lrun-ARCH as /init, Debian's kernel of
#                      ARCH with its overlay module and an image of Debian's
#                      busybox-static of ARCH whose command prints the MARK-
#                      lines (BOOT_ARCH_CMD) in DIR/ARCH.cpio.gz with the
#                      boot_script.  Sets BOOT_KERNEL, BOOT_QEMU (the qemu
#                      command, to add -kernel/-initrd/-append BOOT_APPEND) and
#                      BOOT_MACHINE (uname -m there).  Status 1, the reason on
#                      stderr, when a part is missing (skip that ARCH); 2 when
#                      the image or the initramfs does not build.
boot_script() {
	cat >"$1" <<'CONF'
# lrun init runs this as PID 1 of the VM
echo MARK-init start
load -q -i /images/vmtest.tar
run --network none --name vmtest localhost/vmtest:latest
run --network none --name vmexit localhost/vmtest:latest sh -c 'exit 7'
ps -a -s
echo MARK-init done
poweroff
CONF
}

boot_host_kernel() {
	[ "$(uname -m)" = x86_64 ] || skip_all "boots an x86_64 kernel; this is $(uname -m)"
	command -v qemu-system-x86_64 >/dev/null || skip_all "no qemu-system-x86_64 (apt-get install qemu-system-x86)"
	command -v cpio >/dev/null || skip_all "no cpio (apt-get install cpio)"
	[ -x /bin/busybox ] || skip_all "no static /bin/busybox for the image (apt-get install busybox-static)"
	local d
	KVER=
	for d in $(ls /lib/modules 2>/dev/null | sort -V); do
		[ -r "/boot/vmlinuz-$d" ] && KVER=$d
	done
	[ -n "$KVER" ] || skip_all "no kernel in /boot with its /lib/modules (apt-get install linux-image-amd64)"
}

boot_x86() {
	flock -o /tmp/lrun-qemu.lock timeout -k 5 "${BOOT_TIMEOUT:-300}" qemu-system-x86_64 -accel tcg -cpu max \
		-m 512 -smp 1 -kernel "/boot/vmlinuz-$KVER" -initrd "$1" -append 'console=ttyS0 panic=-1 quiet' \
		-nographic -no-reboot -nic none </dev/null >"$T/console.log" 2>&1 &
	BG_PIDS+=($!)
	wait $!
	rc=$?
	console=$(tr -d '\r' <"$T/console.log")
}
show_console() { diag "console (last 60 lines):"; diag "$(tail -n 60 <<<"$console")"; }
m() { grep -o "MARK-$1.*" <<<"$console" | head -n 1; }

# the image's command in the other architectures' boots: 70-initramfs-boot.t's
# markers, plus uname -m
BOOT_ARCH_CMD='echo "MARK-ran the image command"
echo "MARK-pid $$"
echo "MARK-machine $(uname -m)"
for n in uts pid ipc mnt; do echo "MARK-ns $(readlink /proc/self/ns/$n)"; done
grep " / " /proc/mounts | sed "s/^/MARK-rootmount /"
echo 00000000000000000 > /file.txt'

boot_arch_initramfs() {
	local a=$1 dir=$2 q bin kdir bb
	local -A fx_arch=([arm64]=arm64 [armhf]=arm [riscv64]=riscv64) fx_variant=([arm64]=v8 [armhf]=v7)
	local -A machine=([arm64]=aarch64 [armhf]=armv7l [riscv64]=riscv64) console=([arm64]=ttyAMA0 [armhf]=ttyAMA0 [riscv64]=ttyS0)
	local -A qemu=([arm64]="qemu-system-aarch64 -M virt -cpu cortex-a57" [armhf]="qemu-system-arm -M virt -cpu cortex-a15"
		[riscv64]="qemu-system-riscv64 -M virt")
	q=${qemu[$a]%% *}
	command -v cpio >/dev/null || { echo "no cpio (apt-get install cpio)" >&2; return 1; }
	command -v "$q" >/dev/null || { echo "no $q (apt-get install qemu-system-arm qemu-system-misc)" >&2; return 1; }
	bin=$(cross_lrun "$a") && kdir=$(cross_kernel "$a") && bb=$(cross_busybox "$a") || return 1
	BOOT_KERNEL=$(ls "$kdir"/boot/vmlinu[xz]-* | head -n 1)
	BOOT_QEMU="${qemu[$a]} -m 512 -smp 1 -nographic -no-reboot -nic none"
	BOOT_APPEND="console=${console[$a]} panic=-1 quiet"
	BOOT_MACHINE=${machine[$a]}
	mkdir -p "$dir/$a"
	boot_script "$dir/$a/init.conf"
	FX_BUSYBOX=$bb fx_busybox_rootfs "$dir/$a/rootfs" && fx_layer_tar "$dir/$a/rootfs" "$dir/$a/layer.tar" &&
		FX_ARCH=${fx_arch[$a]} FX_VARIANT=${fx_variant[$a]:-} fx_docker_archive "$dir/$a/vmtest.tar" \
			localhost/vmtest:latest "$(jq -cn --arg c "$BOOT_ARCH_CMD" '{Cmd:["/bin/sh","-c",$c]}')" "$dir/$a/layer.tar" ||
		{ echo "the $a image does not build" >&2; return 2; }
	LRUN="$bin" "$LRUN_TOP/examples/initramfs/build.sh" --kernel-root "$kdir" --kernel-version "${BOOT_KERNEL##*/vmlinu?-}" \
		--image "$dir/$a/vmtest.tar" --script "$dir/$a/init.conf" -o "$dir/$a.cpio.gz" >"$dir/$a/initramfs.log" 2>&1 ||
		{ echo "the $a initramfs does not build: $(tail -n 3 "$dir/$a/initramfs.log")" >&2; return 2; }
}
