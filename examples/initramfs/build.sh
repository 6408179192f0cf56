#!/bin/bash
# examples/initramfs/build.sh — a bootable initramfs whose whole userspace is lrun.
#
#   examples/initramfs/build.sh [--kernel-version VER] [--kernel-root DIR] [--image ARCHIVE] [--script FILE] [-o OUT]
#
#   --kernel-version VER  the kernel it boots with: its overlay module is copied
#                         (default: the newest /lib/modules/VER with a /boot/vmlinuz-VER)
#   --kernel-root DIR     where that kernel's boot/ and lib/modules/ (or usr/lib/modules/)
#                         are (default /); for another architecture's kernel, e.g. one
#                         unpacked with dpkg-deb -x from linux-image-arm64:arm64
#   --image ARCHIVE       the image archive to ship (default: a busybox image built
#                         here from /bin/busybox, tagged localhost/busybox:latest)
#   --script FILE         the init script (default: init.conf next to this file, or,
#                         with --image, load + run that image + ps -a -s + poweroff)
#   -o OUT                the archive to write (default: initramfs.cpio.gz)
#
# Environment: LRUN, the static lrun to ship (default: ../../lrun, ./build.sh's).
#
# The archive (cpio "newc", gzip) holds only:
#   /lrun                                    lrun, static: no libraries, no /etc needed
#   /etc/lrun/init.conf                      the script, first line "#!/lrun init"
#   /init -> etc/lrun/init.conf              so the kernel runs "/lrun init /init"
#   /images/NAME.tar                         the image archive
#   /lib/modules/VER/kernel/fs/overlayfs/overlay.ko*   (Debian builds overlayfs as a module)
#   /dev/console                             the kernel opens it for init's stdio
# /dev/console is written into the archive directly, so building needs no root.
# Needs bash, cpio, gzip, find, and for the default image jq and a static busybox.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
lrun=${LRUN:-$top/lrun}
kver='' image='' script='' out=initramfs.cpio.gz kroot=''

die() { echo "build.sh: $*" >&2; exit 1; }
usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; }

while [ $# -gt 0 ]; do
	case $1 in
	--kernel-version) [ $# -ge 2 ] || die "$1 needs a value"; kver=$2; shift 2 ;;
	--image) [ $# -ge 2 ] || die "$1 needs a value"; image=$2; shift 2 ;;
	--kernel-root) [ $# -ge 2 ] || die "$1 needs a value"; kroot=${2%/}; shift 2 ;;
	--script) [ $# -ge 2 ] || die "$1 needs a value"; script=$2; shift 2 ;;
	-o) [ $# -ge 2 ] || die "$1 needs a value"; out=$2; shift 2 ;;
	-h|--help) usage; exit 0 ;;
	*) usage >&2; exit 2 ;;
	esac
done

[ -x "$lrun" ] || die "no lrun at $lrun (run ./build.sh in $top, or set LRUN)"
command -v cpio >/dev/null || die "cpio is missing (apt-get install cpio)"
[ -z "$image" ] || [ -f "$image" ] || die "no image archive $image"
[ -z "$script" ] || [ -f "$script" ] || die "no script $script"

# the kernel: the newest with both its modules and its image in /boot
moddir=$kroot/lib/modules
[ -d "$moddir" ] || [ ! -d "$kroot/usr/lib/modules" ] || moddir=$kroot/usr/lib/modules
if [ -z "$kver" ]; then
	for d in $(ls "$moddir" 2>/dev/null | sort -V); do
		[ -f "$kroot/boot/vmlinuz-$d" ] || [ -f "$kroot/boot/vmlinux-$d" ] && kver=$d
	done
	[ -n "$kver" ] || die "no kernel with both $moddir/VER and $kroot/boot/vmlinuz-VER: pass --kernel-version"
fi
srcmods=$moddir/$kver mods=/lib/modules/$kver
[ -d "$srcmods" ] || die "no $srcmods: is kernel $kver installed?"

st=$(mktemp -d "${TMPDIR:-/tmp}/lrun-initramfs.XXXXXX")
trap 'rm -rf "$st"' EXIT
mkdir -p "$st/etc/lrun" "$st/images" "$st/dev"

install -m 0755 "$lrun" "$st/lrun"

# overlayfs: the module lrun loads with finit_module, unless it is built in
ko=$(ls "$srcmods"/kernel/fs/overlayfs/overlay.ko* 2>/dev/null | head -n 1 || true)
if [ -n "$ko" ]; then
	mkdir -p "$st$mods/kernel/fs/overlayfs"
	install -m 0644 "$ko" "$st$mods/kernel/fs/overlayfs/"
elif ! grep -qs 'fs/overlayfs/overlay.ko' "$srcmods/modules.builtin"; then
	die "kernel $kver has no overlayfs: neither $srcmods/kernel/fs/overlayfs/overlay.ko* nor built in"
fi

# the image
if [ -n "$image" ]; then
	name=$(basename "$image")
	install -m 0644 "$image" "$st/images/$name"
else
	name=busybox.tar
	bash -c '. "$1"; fx_busybox_rootfs "$2/rootfs" && fx_layer_tar "$2/rootfs" "$2/layer.tar" &&
		fx_docker_archive "$3" localhost/busybox:latest "{}" "$2/layer.tar"' \
		_ "$top/test/lib/fixtures.sh" "$st/.fx" "$st/images/$name"
	rm -rf "$st/.fx"
fi

# the script
if [ -n "$script" ]; then
	cp "$script" "$st/etc/lrun/init.conf"
elif [ -z "$image" ]; then
	cp "$here/init.conf" "$st/etc/lrun/init.conf"
else
	# a docker-archive names its image: the first tag, else its ID
	ref=$(tar -xOf "$image" manifest.json 2>/dev/null |
		jq -r '.[0] | .RepoTags[0] // (.Config | sub("^blobs/sha256/"; "") | sub("\\.json$"; ""))' 2>/dev/null) ||
		ref=
	[ -n "$ref" ] || die "cannot tell which image $image holds (not a docker-archive?): pass --script"
	printf '%s\n' '#!/lrun init' "load -q -i /images/$name" "run --network none --name boot $ref" 'ps -a -s' 'poweroff' \
		>"$st/etc/lrun/init.conf"
fi
if [ "$(head -c 2 "$st/etc/lrun/init.conf")" != '#!' ]; then # the kernel needs the #! line
	{ echo '#!/lrun init'; cat "$st/etc/lrun/init.conf"; } >"$st/init.conf"
	mv "$st/init.conf" "$st/etc/lrun/init.conf"
fi
chmod 0755 "$st/etc/lrun/init.conf"
ln -s etc/lrun/init.conf "$st/init"

# newc_node NAME MODE MAJOR MINOR: a cpio "newc" entry for a device node
# (110-byte header of hex fields, then the name, NUL padded to 4 bytes)
newc_node() {
	local n=$((${#1} + 1))
	printf '070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%s\0' \
		1 "$2" 0 0 1 1700000000 0 0 0 "$3" "$4" "$n" 0 "$1"
	head -c $(((4 - (110 + n) % 4) % 4)) /dev/zero
}

find "$st" -exec touch -h -d @1700000000 {} +
mkdir -p "$(dirname "$out")"
{
	(cd "$st" && find . -mindepth 1 -printf '%P\n' | LC_ALL=C sort |
		cpio -o -H newc -R 0:0 --reproducible --quiet)
	# a second archive after the first: the kernel unpacks both
	newc_node dev/console $((0020600)) 5 1
	newc_node TRAILER!!! 0 0 0
} | gzip -n -9 >"$out.tmp"
mv "$out.tmp" "$out"

size=$(stat -c %s "$out")
echo "built $out: $(( (size + 1023) / 1024 )) KiB, for kernel $kver, image /images/$name"
echo "boot it: qemu-system-x86_64 -kernel /boot/vmlinuz-$kver -initrd $out -append 'console=ttyS0 panic=-1 quiet' -nographic -no-reboot -m 512"
