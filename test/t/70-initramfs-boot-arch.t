#!/bin/bash
# 70-initramfs-boot.t on other machines: for arm64, armhf and riscv64,
# Debian's kernel of that architecture (Debian 13's for riscv64: Debian 12
# has none) boots under qemu (TCG) an initramfs whose whole userspace is
# that architecture's lrun (./build.sh --arch, as /init) with an image made
# from Debian's busybox-static of that architecture; overlayfs is loaded as
# a module.  The console must show what the amd64 boot shows: the container
# ran the image's command in an overlay root, PID 1 in its own namespaces,
# on that machine (uname -m), a container's exit code, `ps -a -s` with the
# writable layer's size, and a clean power-off.
# Short mode: arm64 only; LONG=1: arm64, armhf and riscv64.  Each boot is
# bounded by $LRUN_TEST_BOOT_TIMEOUT seconds (600; TCG on a busy machine).
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/tap.sh"
. "$here/../lib/fixtures.sh"
. "$here/../lib/lrun.sh"
. "$here/../lib/cross.sh"
. "$here/../lib/boot.sh"
BOOT_TIMEOUT=${LRUN_TEST_BOOT_TIMEOUT:-600}
command -v cpio >/dev/null || skip_all "no cpio (apt-get install cpio)"
arches=${LRUN_TEST_BOOT_ARCHES:-arm64}
[ "${LONG:-0}" = 1 ] && arches=${LRUN_TEST_BOOT_ARCHES:-arm64 armhf riscv64}
lrun_tmp

for a in $arches; do
	boot_arch_initramfs "$a" "$T" 2>"$T/why"
	prep=$?
	[ "$prep" = 1 ] && { skip "$a: $(tail -n 1 "$T/why")"; continue; }
	ok "$prep" "$a: an initramfs of lrun-$a, the $a image and the kernel's overlay module" ||
		{ diag "$(cat "$T/why")"; continue; }
	note "$a: kernel $BOOT_KERNEL"
	t0=$(date +%s%N)
	# shellcheck disable=SC2086
	timeout -k 5 "$BOOT_TIMEOUT" nice -n 10 $BOOT_QEMU -kernel "$BOOT_KERNEL" -initrd "$T/$a.cpio.gz" \
		-append "$BOOT_APPEND" </dev/null >"$T/$a.log" 2>&1
	boot_rc=$?
	secs=$(awk -v t="$(( $(date +%s%N) - t0 ))" 'BEGIN { printf "%.1f", t / 1e9 }')
	log=$(tr -d '\r' <"$T/$a.log")
	show() { diag "$a console (last 40 lines):"; diag "$(tail -n 40 <<<"$log")"; }
	m() { grep -o "MARK-$1.*" <<<"$log"; }
	note "$a: boot under TCG took ${secs}s to power-off"
	is "$boot_rc" 0 "$a: qemu exited on its own, status 0 (TCG, ${secs}s)" || show
	like "$log" 'reboot: Power down' "$a: lrun init powered the VM off"
	! grep -q 'Kernel panic' <<<"$log"
	ok $? "$a: the kernel did not panic"
	is "$(m init)" $'MARK-init start\nMARK-init done' "$a: /init (lrun-$a) ran the whole script as PID 1" || show
	is "$(m ran)" "MARK-ran the image command" "$a: the container ran the image's own command"
	is "$(m machine)" "MARK-machine $BOOT_MACHINE" "$a: on that machine (uname -m: $BOOT_MACHINE)"
	is "$(m pid)" "MARK-pid 1" "$a: it is PID 1 (its own pid namespace)"
	ns=$(m ns | sed 's/^MARK-ns //' | tr '\n' ' ')
	like "$ns" '^uts:\[[0-9]+\] pid:\[[0-9]+\] ipc:\[[0-9]+\] mnt:\[[0-9]+\] $' "$a: it reports its namespaces"
	! [[ $ns =~ uts:\[4026531838\]|pid:\[4026531836\]|ipc:\[4026531839\] ]]
	ok $? "$a: its uts, pid and ipc namespaces are not the VM's initial ones"
	like "$(m rootmount)" '^MARK-rootmount overlay / overlay rw,.*lowerdir=l/[A-Z0-9]{26},upperdir=[0-9a-f]{64}/diff,workdir=' \
		"$a: its root is an overlay (the module loaded by lrun)"
	like "$log" $'\nlrun init: `run --network none --name vmexit localhost/vmtest:latest sh -c \'exit 7\'` exited with status 7\n' \
		"$a: the console shows a container's exit code"
	like "$(grep -E '^[0-9a-f]{12} .* vmtest +' <<<"$log")" \
		'^[0-9a-f]{12}  localhost/vmtest:latest .* Exited \(0\) .* vmtest +30B \(virtual [0-9.]+[kM]B\)$' \
		"$a: ps -a -s: exited 0, its writable layer 30B (/file.txt 18B, the /etc/mtab link 12B)"
done
done_testing
