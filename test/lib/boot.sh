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
