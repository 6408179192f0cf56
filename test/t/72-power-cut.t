#!/bin/bash
# A real power cut: qemu boots the installed Debian kernel with an initramfs
# (busybox, lrun, the fixture image, the ext4/virtio/overlay modules) and a
# virtio disk holding an ext4 store mounted with noauto_da_alloc, periodic
# writeback off (whatever lrun does not sync stays in the guest's memory).
# The guest loads an image, creates a container, runs --rm containers, then
# prints a marker; qemu is SIGKILLed at once: every write lrun did not sync
# is lost, as in a power failure.  The host then mounts the disk (the
# journal replay the next boot would do) and asserts that everything the
# commands reported done is there: the indexes parse and list the image and
# the container, every layer's link, lower and files are intact, the
# container starts, podman reads the store.
#
# (device-mapper's dm-flakey/dm-log-writes would drop unsynced writes too,
# but this kernel has no device-mapper; qemu is what the initramfs test uses.)
# Short mode: one cut after load + create + 3 run --rm.  LONG=1: also cuts
# in the middle of a run --rm loop and after rm / rmi.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/tap.sh"
. "$here/../lib/fixtures.sh"
. "$here/../lib/lrun.sh"
. "$here/../lib/boot.sh"
BOOT_TIMEOUT=${LRUN_TEST_BOOT_TIMEOUT:-180}

[ "$(id -u)" = 0 ] || skip_all "needs root (loop mounts)"
command -v mkfs.ext4 >/dev/null || skip_all "no mkfs.ext4 (apt-get install e2fsprogs)"
boot_host_kernel
mods=$(for m in crc32c_generic ext4 virtio_blk virtio_pci overlay; do
	modprobe -S "$KVER" --show-depends "$m" 2>/dev/null | awk '$1 == "insmod" { print $2 }'; done | awk '!seen[$0]++')
for m in ext4 virtio_blk virtio_pci overlay; do
	grep -q "/$m.ko" <<<"$mods" || grep -qs "/$m.ko" "/lib/modules/$KVER/modules.builtin" ||
		skip_all "kernel $KVER has no module $m"
done
lrun_tmp
F=$T/fx
fx_servidorweb "$F" >/dev/null || bail "fixtures do not build"
IMG=localhost:5000/servidorweb:v1 nl=$'\n'

# initramfs SCRIPT OUT MNT: /init (busybox sh) running SCRIPT after the setup,
# with the disk mounted on MNT (the path the host mounts it on afterwards:
# a container's config.json names its store by absolute path)
initramfs() {
	local st=$T/initrd m
	rm -rf "$st"; mkdir -p "$st"/{bin,dev,proc,sys,mnt,images,mods}
	cp /bin/busybox "$st/bin/busybox"
	cp "$LRUN" "$st/lrun"
	cp "$F/v1.tar" "$st/images/v1.tar"
	for m in $mods; do cp "$m" "$st/mods/"; done
	printf '%s\n' $mods | xargs -n1 basename >"$st/mods/order"
	mknod -m 600 "$st/dev/console" c 5 1
	{
		echo '#!/bin/busybox sh'
		echo '/bin/busybox --install -s /bin'
		echo 'mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev'
		echo 'mkdir -p /dev/pts /tmp; mount -t devpts devpts /dev/pts; mount -t tmpfs tmp /tmp'
		echo 'mount -t cgroup2 cgroup2 /sys/fs/cgroup 2>/dev/null'
		echo 'for m in $(cat /mods/order); do insmod /mods/$m; done'
		echo 'i=0; while [ ! -b /dev/vda ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done'
		# nothing reaches the disk unless synced: no periodic writeback, no journal commit for 5 minutes
		echo 'echo 0 > /proc/sys/vm/dirty_writeback_centisecs; echo 360000 > /proc/sys/vm/dirty_expire_centisecs'
		echo 'echo 90 > /proc/sys/vm/dirty_ratio; echo 80 > /proc/sys/vm/dirty_background_ratio'
		echo "mkdir -p $3; mount -t ext4 -o noauto_da_alloc,commit=300 /dev/vda $3 || echo MARK-nomount"
		echo "L='/lrun --root $3/store'"
		cat "$1"
		# another program's fsync (journald does one every few seconds) commits the
		# journal: every rename and size lrun did not sync goes in it, unsynced data not
		echo "echo tick | dd of=$3/tick conv=fsync 2>/dev/null"
		echo 'echo MARK-cut-now'
		echo 'while :; do sleep 1000; done'
	} >"$st/init"
	chmod 755 "$st/init"
	(cd "$st" && find . | cpio -o -H newc --quiet | gzip -1) >"$2"
}

# power_cut NAME SCRIPT: boot with a fresh disk, SIGKILL qemu when the guest prints
# MARK-cut-now (or after BOOT_TIMEOUT), then mount the disk on $T/NAME.mnt
power_cut() {
	local name=$1 script=$2 disk=$T/$1.img log=$T/$1.console n
	truncate -s 256M "$disk" && mkfs.ext4 -q -F "$disk" || bail "mkfs"
	initramfs "$script" "$T/$name.cpio.gz" "$T/$name.mnt"
	qemu-system-x86_64 -accel tcg -cpu max -m 768 -smp 1 -kernel "/boot/vmlinuz-$KVER" -initrd "$T/$name.cpio.gz" \
		-append 'console=ttyS0 panic=-1 quiet' -nographic -no-reboot -nic none \
		-drive "file=$disk,format=raw,if=virtio,cache=writeback" </dev/null >"$log" 2>&1 &
	local pid=$! start=$SECONDS
	BG_PIDS+=("$pid")
	while kill -0 "$pid" 2>/dev/null && [ $((SECONDS - start)) -lt "$BOOT_TIMEOUT" ]; do
		grep -q MARK-cut-now "$log" 2>/dev/null && break
		sleep 0.05
	done
	kill -9 "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
	cut_secs=$((SECONDS - start))
	mkdir -p "$T/$name.mnt"
	mount -o loop "$disk" "$T/$name.mnt"   # the journal replay of the next boot
}
marks() { grep -a '^MARK-' "$T/$1.console" | tr -d '\r'; }

# check NAME: the invariants of the store on $T/NAME.mnt/store (prefix NAME)
check() {
	local p=$1 R=$T/$1.mnt/store f l bad
	for f in overlay-layers/layers.json overlay-images/images.json overlay-containers/containers.json; do
		ok "$( [ -s "$R/$f" ] && jq -e 'type == "array"' "$R/$f" >/dev/null 2>&1; echo $?)" "$p: $f parses (size $(stat -c %s "$R/$f" 2>/dev/null))"
	done
	is "$(jq -c '[.[] | select(.flags.incomplete == true) | .id]' "$R/overlay-layers/layers.json")" "[]" "$p: no layer is incomplete"
	bad=
	for l in $(jq -r '.[].id' "$R/overlay-layers/layers.json"); do
		[ "$(stat -c %s "$R/overlay/$l/link" 2>/dev/null)" = 26 ] || bad+=" $l:link"
		[ "$(readlink "$R/overlay/l/$(cat "$R/overlay/$l/link" 2>/dev/null)")" = "../$l/diff" ] || bad+=" $l:symlink"
		if [ -n "$(jq -r --arg id "$l" '.[] | select(.id == $id) | .parent // empty' "$R/overlay-layers/layers.json")" ]; then
			[ -s "$R/overlay/$l/lower" ] || bad+=" $l:lower"
		fi
	done
	is "$bad" "" "$p: every layer has its link (26 bytes), its l/ symlink and (a child) a lower file"
	bad=$(for l in $(jq -r '.[] | select(."diff-digest") | .id' "$R/overlay-layers/layers.json"); do
		find "$R/overlay/$l/diff" -type f -size 0; done | sed "s|^$R/overlay/||")
	is "$bad" "" "$p: no file in an image layer's diff/ is empty (the fixture has none)"
	run "$LRUN" --root "$R" images --format '{{.Repository}}:{{.Tag}}'
	is "$rc:$out" "0:$IMG$nl" "$p: lrun images lists the loaded image"
}

# ------------------------------------------------ load, create, run --rm, cut --
cat >"$T/a.sh" <<'EOF'
$L load -q -i /images/v1.tar && echo MARK-loaded
$L create --network none --name kept localhost:5000/servidorweb:v1 /bin/busybox sha256sum /bin/busybox >/dev/null && echo MARK-created
for i in 1 2 3; do $L run --rm --network none localhost:5000/servidorweb:v1 true && echo MARK-rm-$i; done
EOF
power_cut a "$T/a.sh"
is "$(marks a | tr '\n' ' ')" "MARK-loaded MARK-created MARK-rm-1 MARK-rm-2 MARK-rm-3 MARK-cut-now " \
	"the guest loaded, created, ran 3 --rm containers, then the power was cut (${cut_secs}s)" ||
	diag "$(tail -20 "$T/a.console")"
check a
R=$T/a.mnt/store
run "$LRUN" --root "$R" ps -a --format '{{.Names}} {{.Status}}'
is "$rc:$out" "0:kept Created"$'\n' "a: ps -a lists the created container (and no --rm one)"
run "$LRUN" --root "$R" start -a kept
is "$rc:$out" "0:$(sha256sum </bin/busybox | cut -d' ' -f1)  /bin/busybox"$'\n' \
	"a: the container starts and reads its image's /bin/busybox intact" || diag "$err"
if command -v podman >/dev/null; then
	run podman --root "$R" --runroot "$T/podman-run" --storage-driver overlay images --format '{{.Repository}}:{{.Tag}}'
	is "$rc:$out" "0:$IMG"$'\n' "a: podman reads the store after the cut"
fi
"$LRUN" --root "$R" rm -f kept >/dev/null 2>&1
umount "$T/a.mnt" 2>/dev/null || umount -l "$T/a.mnt"

if [ "${LONG:-0}" = 1 ]; then
	# ---------------------------------- LONG: cut during a run --rm loop --
	cat >"$T/b.sh" <<'EOF'
$L load -q -i /images/v1.tar && sync && echo MARK-loaded
$L create --network none --name kept localhost:5000/servidorweb:v1 true >/dev/null && echo MARK-created
i=0; while [ $i -lt 200 ]; do $L run --rm --network none localhost:5000/servidorweb:v1 true; i=$((i+1)); [ $i = 5 ] && echo MARK-cut-now; done
EOF
	power_cut b "$T/b.sh"
	check b
	run "$LRUN" --root "$T/b.mnt/store" ps -a --format '{{.Names}}'
	is "$rc:$out" "0:kept"$'\n' "b: the durable container survives a cut in the middle of run --rm"
	umount "$T/b.mnt" 2>/dev/null || umount -l "$T/b.mnt"
	# ---------------------------------- LONG: cut after rm and rmi --
	cat >"$T/c.sh" <<'EOF'
$L load -q -i /images/v1.tar && echo MARK-loaded
$L create --network none --name gone localhost:5000/servidorweb:v1 true >/dev/null && echo MARK-created
$L rm gone >/dev/null && echo MARK-rm
$L tag localhost:5000/servidorweb:v1 localhost/other:1 && $L rmi localhost/other:1 >/dev/null && echo MARK-rmi
EOF
	power_cut c "$T/c.sh"
	check c
	run "$LRUN" --root "$T/c.mnt/store" ps -a --format '{{.Names}}'
	is "$rc:$out" "0:" "c: the removed container stays removed"
	umount "$T/c.mnt" 2>/dev/null || umount -l "$T/c.mnt"
fi
done_testing
