# cross.sh - lrun for other architectures, for the tests (source after tap.sh
# and lrun.sh).
#
#   cross_lrun ARCH      print the path of an lrun-ARCH (arm64, armhf, riscv64)
#                        built from this checkout with ./build.sh --arch ARCH;
#                        built once per content of runtime.c, runtime.h and
#                        build.sh (niced, in a copy) and kept in
#                        $LRUN_CROSS_DIR/bin (/var/tmp/lrun-cross/bin).
#                        Fails (status 1, the reason on stderr) when it cannot,
#                        and for riscv64 while its libraries (built from
#                        source, slow) are not there, unless LONG=1.
#   cross_qemu_user ARCH the qemu-user-static that runs ARCH's programs
#   cross_busybox ARCH   print the path of Debian's static busybox of ARCH
#                        (busybox-static:ARCH; riscv64's from Debian 13, the
#                        first release with riscv64), downloaded with apt once
#                        into $LRUN_CROSS_DIR/busybox/ARCH

CROSS_DIR=${LRUN_CROSS_DIR:-/var/tmp/lrun-cross}

cross_lrun() {
	local arch=$1 key dir out
	key=$(cat "$LRUN_TOP/runtime.c" "$LRUN_TOP/runtime.h" "$LRUN_TOP/build.sh" | sha256sum | cut -c1-16)
	out=$CROSS_DIR/bin/lrun-$arch-$key
	if [ ! -x "$out" ] && [ "$arch" = riscv64 ] && [ ! -f "$CROSS_DIR/riscv64/.complete" ] && [ "${LONG:-0}" != 1 ]; then
		echo "cross_lrun: riscv64's libraries are not built yet (./build.sh --arch riscv64 builds them once; LONG=1 here)" >&2
		return 1
	fi
	if [ ! -x "$out" ]; then
		dir=$(mktemp -d "${TMPDIR:-/tmp}/lrun-cross.XXXXXX") || return 1
		cp "$LRUN_TOP/runtime.c" "$LRUN_TOP/runtime.h" "$LRUN_TOP/build.sh" "$dir/"
		if ! nice -n 10 "$dir/build.sh" --arch "$arch" >"$dir/log" 2>&1; then
			echo "cross_lrun: ./build.sh --arch $arch failed: $(tail -n 3 "$dir/log")" >&2
			rm -rf "$dir"; return 1
		fi
		mkdir -p "$CROSS_DIR/bin" && mv "$dir/lrun-$arch" "$out.tmp" && mv "$out.tmp" "$out"
		rm -rf "$dir"
	fi
	echo "$out"
}

cross_qemu_user() {
	case $1 in arm64) echo qemu-aarch64-static ;; armhf) echo qemu-arm-static ;; *) echo "qemu-$1-static" ;; esac
}

# _cross_apt ARCH: apt-get options of a private configuration for ARCH's
# binary packages (riscv64: Debian 13's archive); the host's apt stays as it is
_cross_apt() {
	local arch=$1 suite=bookworm a
	[ "$arch" = riscv64 ] && suite=trixie
	a=$CROSS_DIR/apt-$arch
	mkdir -p "$a/lists/partial" "$a/cache/archives/partial" "$a/state"
	touch "$a/state/status"
	# the release with its updates and security fixes, as the host's sources have them
	local base="deb [arch=$arch signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org"
	printf '%s\n' "$base/debian $suite main" "$base/debian $suite-updates main" \
		"$base/debian-security $suite-security main" >"$a/sources.list"
	echo -o "Dir::Etc::SourceList=$a/sources.list" -o Dir::Etc::SourceParts=/nonexistent \
		-o "Dir::State::Lists=$a/lists" -o "Dir::Cache=$a/cache" -o "Dir::State::status=$a/state/status" \
		-o "APT::Architecture=$arch" -o "APT::Architectures::=$arch" -o Debug::NoLocking=1
}

# cross_deb ARCH PACKAGE DIR: PACKAGE of ARCH unpacked into DIR (once)
cross_deb() {
	local arch=$1 pkg=$2 dir=$3 opts deb
	[ -f "$dir/.complete" ] && return 0
	opts=$(_cross_apt "$arch")
	mkdir -p "$dir" "$CROSS_DIR/debs"
	# shellcheck disable=SC2086
	if ! ls "$CROSS_DIR/debs/${pkg}_"*"_$arch.deb" >/dev/null 2>&1; then
		apt-get $opts -qq update >/dev/null 2>&1
		(cd "$CROSS_DIR/debs" && apt-get $opts -qq download "$pkg:$arch" >/dev/null 2>&1) ||
			{ echo "cross_deb: apt-get download $pkg:$arch failed" >&2; return 1; }
	fi
	deb=$(ls "$CROSS_DIR/debs/${pkg}_"*"_$arch.deb" | head -n 1)
	dpkg-deb -x "$deb" "$dir" && touch "$dir/.complete"
}

cross_busybox() {
	local arch=$1 dir=$CROSS_DIR/busybox/$1
	cross_deb "$arch" busybox-static "$dir" || return 1
	if [ -x "$dir/bin/busybox" ]; then echo "$dir/bin/busybox"; else echo "$dir/usr/bin/busybox"; fi
}

# cross_kernel ARCH: print the directory where Debian's kernel of ARCH is
# unpacked (boot/vmlinu[xz]-VER, lib/modules/VER or usr/lib/modules/VER):
# linux-image-arm64:arm64, linux-image-armmp-lpae:armhf (Debian 12),
# linux-image-riscv64:riscv64 (Debian 13); downloaded with apt once
cross_kernel() {
	local arch=$1 flavour opts pkg dir=$CROSS_DIR/kernels/$1
	case $arch in armhf) flavour=armmp-lpae ;; *) flavour=$arch ;; esac
	if [ ! -f "$dir/.complete" ]; then
		opts=$(_cross_apt "$arch")
		# shellcheck disable=SC2086
		apt-get $opts -qq update >/dev/null 2>&1
		# shellcheck disable=SC2086
		pkg=$(apt-cache $opts depends "linux-image-$flavour:$arch" 2>/dev/null |
			awk '/Depends: linux-image-/ { sub(/:.*/, "", $2); print $2; exit }')
		[ -n "$pkg" ] || { echo "cross_kernel: no linux-image-$flavour:$arch" >&2; return 1; }
		cross_deb "$arch" "$pkg" "$dir" || return 1
	fi
	echo "$dir"
}
