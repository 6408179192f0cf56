#!/bin/sh
# build.sh — build ./lrun, one statically linked executable, from runtime.c.
#
#   ./build.sh              build ./lrun for this machine (needs the -dev packages below)
#   ./build.sh --arch ARCH  cross-build ./lrun-ARCH for arm64, armhf or riscv64 (also amd64)
#   ./build.sh --deps       install the Debian 12 build (and test) dependencies with apt, then build;
#                           with --arch: the cross compiler and the -dev packages of ARCH
#   ./build.sh --debug      build without optimisation, with debug info, unstripped
#   ./build.sh --libs       print the static link flags (to embed runtime.c, see examples/)
#   ./build.sh --install    build, then install lrun, its man page (lrun.1, made from examples/install/lrun.1.in
#                           and lrun's own --help) and bash completion under $DESTDIR$PREFIX
#                           (default PREFIX /usr/local)
#
# Environment: CC (default cc, or ARCH's cross gcc), EXTRA_CFLAGS, PREFIX, DESTDIR, LRUN_CROSS_DIR (where the
# riscv64 libraries are built and kept; default /var/tmp/lrun-cross).
set -eu
cd "$(dirname "$0")"

DEPS="gcc libc6-dev make pkg-config file binutils dpkg-dev xz-utils libarchive-dev libyajl-dev libseccomp-dev libcap-dev
      libssl-dev zlib1g-dev libzstd-dev liblzma-dev libmbedtls-dev"
# what the whole test suite uses (test/run; CI's .ci/run installs exactly this):
#   perl busybox-static jq tar...          TAP's prove, fixtures, JSON checks
#   podman skopeo buildah crun uidmap      store compatibility (buildah's containers), fixture checks, benchmark peers
#   containerd                             ctr and its runc shim driving lrun as runc
#   docker-registry apache2-utils openssl  pull/push against a real registry (TLS, htpasswd,
#   ca-certificates dnsmasq-base curl        a DNS server, PUT of lists)
#   qemu-system-x86 linux-image-amd64 cpio the initramfs boot test
#   qemu-user-static qemu-system-arm       cross-built binaries (11-cross, 41-platform); the arm64
#   qemu-system-misc                         (LONG=1: armhf, riscv64) boots of 70-initramfs-boot-arch
#   tmux attr hyperfine bubblewrap time    terminal tests, xattrs, the benchmark
#   strace clang libclang-rt-14-dev        syscall checks; the fuzz harness (libFuzzer, ASan)
#   nftables iproute2                      the bridge network's NAT; ip link/netns in tests
#   python3 e2fsprogs man-db               hostile registries; small ext4 stores; lrun.1's check
#   slirp4netns passt                      a rootless user's networks: slirp4netns, pasta (78-rootless-network)
#   gnupg                                  image sign's signatures (lrun runs gpg; 81-image-sign)
#   fuse-overlayfs                         the rootless overlay fallback (79-rootless-fuse-overlayfs)
TEST_DEPS="perl busybox-static jq tar gzip zstd xz-utils util-linux
      podman skopeo buildah crun uidmap containerd
      docker-registry apache2-utils openssl ca-certificates dnsmasq-base curl
      qemu-system-x86 linux-image-amd64 cpio qemu-user-static qemu-system-arm qemu-system-misc
      tmux attr hyperfine bubblewrap time strace nftables clang libclang-rt-14-dev
      iproute2 python3 e2fsprogs man-db slirp4netns passt gnupg fuse-overlayfs"
# the -dev packages a target architecture needs (as DEPS, for ARCH)
TARGET_DEV="libarchive-dev libyajl-dev libseccomp-dev libcap-dev libssl-dev zlib1g-dev libzstd-dev liblzma-dev
            libmbedtls-dev"
# riscv64 has no packages in Debian 12's archive: its libraries are built from the Debian 12
# source packages of the same libraries (apt-get source, deb-src), with these host tools
RISCV64_TOOLS="dpkg-dev make cmake python3 xz-utils bzip2 perl autoconf automake libtool"
RISCV64_SOURCES="zlib libzstd xz-utils libarchive yajl libseccomp libcap2 mbedtls openssl"

# Static libraries only.  libarchive's tar reader/writer and gzip/zstd/xz
# filters are all lrun calls, so only those objects (and their compression
# libraries) are linked; its other formats would pull in libxml2 and ICU.
# mbedTLS is the TLS of pull (small, static); OpenSSL's libcrypto provides
# sha256 (with the CPU's SHA extensions).
LIBS="-larchive -lzstd -llzma -lz -lyajl_s -lseccomp -lcap -lmbedtls -lmbedx509 -lmbedcrypto -lcrypto -lpthread"

# man_page: examples/install/lrun.1.in with lrun's version, global options and commands
# (each group's too) taken from the binary's --help, so the page cannot
# drift from what lrun takes.
man_page() {
    version=$(sed -n 's/^#define LRUN_VERSION "\(.*\)"/\1/p' runtime.c)
    options=$(./lrun --help | awk '/^Options:/ {on = 1; next} on && NF {
        line = $0; sub(/^ +/, "", line)
        match(line, /^(-[A-Za-z], )?--[a-z-]+( [A-Z][A-Z_\/.:]*)?/)
        flag = substr(line, 1, RLENGTH); help = substr(line, RLENGTH + 1); sub(/^ +/, "", help)
        gsub(/-/, "\\-", flag); print ".TP\n.B " flag "\n" help }')
    commands=$(for c in $(./lrun --help | awk '/^Available Commands:/ {on = 1; next} on && /^  [a-z]/ {print $1}'); do
        ./lrun --help | awk -v c="$c" '$1 == c { $1 = ""; sub(/^ +/, ""); print ".TP\n.B " c "\n" $0 }'
        case $c in image | container | network | volume | system)
            ./lrun "$c" --help | awk -v c="$c" '/^Available Commands:/ {on = 1; next} on && /^  [a-z]/ {
                n = $1; $1 = ""; sub(/^ +/, ""); print ".TP\n.B " c " " n "\n" $0 }' ;;
        esac
    done)
    awk -v version="$version" -v options="$options" -v commands="$commands" '
        $0 == "@OPTIONS@" { print options; next }
        $0 == "@COMMANDS@" { print commands; next }
        { gsub(/@VERSION@/, version); print }' examples/install/lrun.1.in
}

debug=0 deps=0 arch= install=0
next_is_arch=0
for arg in "$@"; do
    if [ "$next_is_arch" = 1 ]; then arch=$arg next_is_arch=0; continue; fi
    case "$arg" in
    --deps) deps=1 ;;
    --arch) next_is_arch=1 ;;
    --arch=*) arch=${arg#--arch=} ;;
    --debug) debug=1 ;;
    --libs) echo "$LIBS"; exit 0 ;;
    --install) install=1 ;;
    *) echo "usage: $0 [--deps] [--arch arm64|armhf|riscv64|amd64] [--debug] [--libs] [--install]" >&2; exit 2 ;;
    esac
done
[ "$next_is_arch" = 0 ] || { echo "build.sh: --arch needs an architecture" >&2; exit 2; }

host_arch=$(dpkg --print-architecture 2>/dev/null || uname -m)
[ "$arch" = "$host_arch" ] && arch=
case "$arch" in
"") out=lrun triplet= ;;
arm64) out=lrun-arm64 triplet=aarch64-linux-gnu ;;
armhf) out=lrun-armhf triplet=arm-linux-gnueabihf ;;
riscv64) out=lrun-riscv64 triplet=riscv64-linux-gnu ;;
amd64) out=lrun-amd64 triplet=x86_64-linux-gnu ;;
*) echo "build.sh: unknown architecture $arch (arm64, armhf, riscv64, amd64)" >&2; exit 2 ;;
esac
CROSS_DIR=${LRUN_CROSS_DIR:-/var/tmp/lrun-cross}

if [ "$deps" = 1 ]; then
    export DEBIAN_FRONTEND=noninteractive
    if [ -z "$arch" ]; then
        # services in packages (docker-registry) must not start on install: the
        # tests start their own instances on 127.0.0.1
        policy=""
        if [ ! -e /usr/sbin/policy-rc.d ]; then
            printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
            chmod +x /usr/sbin/policy-rc.d
            policy=/usr/sbin/policy-rc.d
        fi
        apt-get update -qq
        # shellcheck disable=SC2086
        apt-get install -y -qq --no-install-recommends $DEPS $TEST_DEPS >/dev/null
        [ -z "$policy" ] || rm -f "$policy"
    elif [ "$arch" = riscv64 ]; then
        apt-get update -qq
        # shellcheck disable=SC2086
        apt-get install -y -qq --no-install-recommends gcc-$triplet libc6-dev-riscv64-cross $RISCV64_TOOLS >/dev/null
    else
        dpkg --add-architecture "$arch"
        apt-get update -qq
        # shellcheck disable=SC2086
        apt-get install -y -qq --no-install-recommends gcc-$triplet libc6-dev-$arch-cross \
            $(for p in $TARGET_DEV; do printf '%s:%s ' "$p" "$arch"; done) >/dev/null
    fi
fi

# debian_source NAME DIR: Debian 12's source package NAME, patched as Debian
# ships it (dpkg-source -x), unpacked into DIR.  It comes through a private
# apt configuration (a deb-src line of its own) so the host's apt sources stay
# as they are; the download is kept in $CROSS_DIR/src.
debian_source() {
    name=$1 dir=$2 apt=$CROSS_DIR/apt src=$CROSS_DIR/src
    [ -d "$dir" ] && return 0
    mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial" "$src"
    echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm main" \
        >"$apt/sources.list"
    set -- -o "Dir::Etc::SourceList=$apt/sources.list" -o Dir::Etc::SourceParts=/nonexistent \
        -o "Dir::State::Lists=$apt/lists" -o "Dir::Cache=$apt/cache" -o Debug::NoLocking=1
    if ! ls "$src/${name}_"*.dsc >/dev/null 2>&1; then
        apt-get "$@" -qq update && (cd "$src" && apt-get "$@" -qq source --download-only "$name") || return 1
    fi
    dpkg-source -q -x "$(ls "$src/${name}_"*.dsc | head -n 1)" "$dir.tmp$$" >/dev/null 2>&1 && mv "$dir.tmp$$" "$dir"
}

# small_zstd PREFIX: libzstd built static for the target from Debian 12's
# source (the version of libzstd-dev, whose zstd.h lrun includes) into PREFIX,
# without what lrun never meets: the legacy formats (zstd 0.5-0.7, before 1.0
# in 2016) and the dictionary builder, with one Huffman and one sequence
# decoder, -Os, in sections the linker can drop.  Debian's libzstd.a has all
# of them (~0.6 MB in lrun; this one ~0.2 MB).  Built once, under a lock
# (builds run side by side); lrun links it ahead of Debian's.
small_zstd() {
    prefix=$1
    [ -f "$prefix/lib/libzstd.a" ] && return 0
    mkdir -p "$CROSS_DIR"
    (
        flock 9
        [ -f "$prefix/lib/libzstd.a" ] && exit 0
        debian_source libzstd "$CROSS_DIR/zstd-source" || exit 1
        tmp=$(mktemp -d "$CROSS_DIR/zstd-build.XXXXXX") && cp -r "$CROSS_DIR/zstd-source/lib" "$tmp/" &&
            (cd "$tmp/lib" && CFLAGS="-Os -fstack-protector-strong -ffunction-sections -fdata-sections" \
                make -s -j"$(nproc)" CC="$CC" AR="${triplet:+$triplet-}ar" ZSTD_LEGACY_SUPPORT=0 \
                ZSTD_LIB_DICTBUILDER=0 ZSTD_LIB_DEPRECATED=0 HUF_FORCE_DECOMPRESS_X1=1 \
                ZSTD_FORCE_DECOMPRESS_SEQUENCES_SHORT=1 libzstd.a >/dev/null 2>&1) &&
            mkdir -p "$prefix/lib" && mv "$tmp/lib/libzstd.a" "$prefix/lib/libzstd.a"
        s=$?
        rm -rf "$tmp"
        exit $s
    ) 9>"$CROSS_DIR/.zstd.lock"
}

# small_mbedtls PREFIX: mbedTLS built static for the target from Debian 12's
# source (the version of libmbedtls-dev) into PREFIX, headers included (lrun
# compiles against this config.h: the structs follow it), for what lrun is: a
# TLS 1.2 client that verifies the server (and may show a client certificate)
# with what registries and podman's Go client use: ECDHE-RSA, ECDHE-ECDSA,
# DHE-RSA and RSA key exchange; AES-GCM, AES-CBC, ChaCha20-Poly1305; P-256,
# P-384, P-521, X25519.  Left out (MBEDTLS_LEFT_OUT): the server side, DTLS,
# TLS 1.0/1.1, PSK, static ECDH, session tickets (lrun never resumes), CRLs,
# certificate and key writing, the test certificates and self tests,
# Camellia, ARIA, DES, CCM, MD2/MD4/RIPEMD-160, the other curves, the PSA
# crypto API.  -O2 as Debian's (the record layer's AES-GCM at -Os costs a
# pull over TLS ~25% more CPU), in sections the linker can drop.  Debian's
# three archives take 0.55 MB of lrun; this build 0.22 MB.  Built once, as
# small_zstd.
MBEDTLS_LEFT_OUT="SSL_SRV_C SSL_CACHE_C SSL_COOKIE_C SSL_TICKET_C SSL_PROTO_DTLS SSL_DTLS_HELLO_VERIFY
    SSL_DTLS_ANTI_REPLAY SSL_DTLS_CLIENT_PORT_REUSE SSL_DTLS_BADMAC_LIMIT SSL_PROTO_TLS1 SSL_PROTO_TLS1_1
    SSL_CBC_RECORD_SPLITTING SSL_SESSION_TICKETS SSL_CONTEXT_SERIALIZATION SSL_TRUNCATED_HMAC SSL_EXPORT_KEYS
    KEY_EXCHANGE_ECDH_RSA_ENABLED KEY_EXCHANGE_ECDH_ECDSA_ENABLED KEY_EXCHANGE_PSK_ENABLED
    KEY_EXCHANGE_DHE_PSK_ENABLED KEY_EXCHANGE_ECDHE_PSK_ENABLED KEY_EXCHANGE_RSA_PSK_ENABLED
    CAMELLIA_C ARIA_C DES_C BLOWFISH_C XTEA_C ARC4_C CCM_C CMAC_C NIST_KW_C HKDF_C MD2_C MD4_C RIPEMD160_C
    CIPHER_MODE_CFB CIPHER_MODE_OFB CIPHER_MODE_CTR CIPHER_MODE_XTS
    ECP_DP_SECP192R1_ENABLED ECP_DP_SECP224R1_ENABLED ECP_DP_SECP192K1_ENABLED ECP_DP_SECP224K1_ENABLED
    ECP_DP_SECP256K1_ENABLED ECP_DP_BP256R1_ENABLED ECP_DP_BP384R1_ENABLED ECP_DP_BP512R1_ENABLED
    ECP_DP_CURVE448_ENABLED X509_CRL_PARSE_C X509_CSR_PARSE_C X509_CREATE_C X509_CRT_WRITE_C X509_CSR_WRITE_C
    PEM_WRITE_C PK_WRITE_C CERTS_C SELF_TEST DEBUG_C TIMING_C HAVEGE_C PADLOCK_C GENPRIME
    PSA_CRYPTO_C PSA_CRYPTO_STORAGE_C PSA_ITS_FILE_C VERSION_C VERSION_FEATURES"
small_mbedtls() {
    prefix=$1
    [ -f "$prefix/lib/libmbedcrypto.a" ] && return 0
    mkdir -p "$CROSS_DIR"
    (
        flock 9
        [ -f "$prefix/lib/libmbedcrypto.a" ] && exit 0
        debian_source mbedtls "$CROSS_DIR/mbedtls-source" || exit 1
        tmp=$(mktemp -d "$CROSS_DIR/mbedtls-build.XXXXXX") &&
            cp -r "$CROSS_DIR/mbedtls-source/include" "$CROSS_DIR/mbedtls-source/library" \
                "$CROSS_DIR/mbedtls-source/3rdparty" "$tmp/" &&
            sed -i -e 's@^//\(#define MBEDTLS_THREADING_\(C\|PTHREAD\)\)$@\1@' \
                $(for o in $MBEDTLS_LEFT_OUT; do printf ' -e s@^#define\\sMBEDTLS_%s$@//&@' "$o"; done) \
                "$tmp/include/mbedtls/config.h" &&
            (cd "$tmp/library" && CFLAGS="-O2 -fstack-protector-strong -ffunction-sections -fdata-sections" \
                make -s -j"$(nproc)" CC="$CC" AR="${triplet:+$triplet-}ar" \
                libmbedcrypto.a libmbedx509.a libmbedtls.a >/dev/null 2>&1) &&
            mkdir -p "$prefix/lib" "$prefix/include" && rm -rf "$prefix/include/mbedtls" &&
            cp -r "$tmp/include/mbedtls" "$prefix/include/" &&
            mv "$tmp/library/libmbedtls.a" "$tmp/library/libmbedx509.a" "$prefix/lib/" &&
            mv "$tmp/library/libmbedcrypto.a" "$prefix/lib/libmbedcrypto.a"
        s=$?
        rm -rf "$tmp"
        exit $s
    ) 9>"$CROSS_DIR/.mbedtls.lock"
}

# riscv64_libraries PREFIX: Debian 12's sources of the libraries
# (debian_source), built static for riscv64 into PREFIX.  Kept between builds.
riscv64_libraries() {
    prefix=$1 work=$CROSS_DIR/riscv64-build
    [ -f "$prefix/.complete" ] && return 0
    echo "build.sh: building the riscv64 libraries from Debian's sources into $prefix (once; slow)" >&2
    mkdir -p "$work" "$prefix/lib" "$prefix/include"
    for name in $RISCV64_SOURCES; do
        debian_source "$name" "$work/$name"
    done
    cc=$triplet-gcc jobs=$(nproc)
    flags="-O2 -fstack-protector-strong"
    (cd "$work/zlib" && CHOST=$triplet CC=$cc CFLAGS="$flags" ./configure --static --prefix="$prefix" >/dev/null &&
        make -s -j"$jobs" libz.a >/dev/null && make -s install >/dev/null)
    (cd "$work/libzstd" && make -s -C lib -j"$jobs" CC="$cc" AR="$triplet-ar" CFLAGS="$flags" libzstd.a >/dev/null &&
        make -s -C lib PREFIX="$prefix" install-static install-includes >/dev/null)
    (cd "$work/xz-utils" && ./configure -q --host="$triplet" --prefix="$prefix" CFLAGS="$flags" --disable-shared \
        --disable-xz --disable-xzdec --disable-lzmadec --disable-lzmainfo --disable-lzma-links --disable-scripts \
        --disable-doc --disable-nls >/dev/null && make -s -C src/liblzma -j"$jobs" >/dev/null &&
        make -s -C src/liblzma install >/dev/null)
    # Debian's patches touch configure.ac and Makefile.am: regenerate, as dh_autoreconf does
    (cd "$work/libarchive" && autoreconf -fi >/dev/null 2>&1 && ./configure -q --host="$triplet" --prefix="$prefix" CFLAGS="$flags" \
        CPPFLAGS="-I$prefix/include" LDFLAGS="-L$prefix/lib" --disable-shared --disable-bsdtar --disable-bsdcpio \
        --disable-bsdcat --disable-acl --without-xml2 --without-expat --without-openssl --without-nettle \
        --without-lz4 --without-bz2lib --without-libb2 --without-iconv --without-mbedtls >/dev/null &&
        make -s -j"$jobs" libarchive.la >/dev/null &&
        make -s install-libLTLIBRARIES install-includeHEADERS >/dev/null)
    (mkdir -p "$work/yajl/build" && cd "$work/yajl/build" &&
        cmake -DCMAKE_SYSTEM_NAME=Linux -DCMAKE_C_COMPILER="$cc" -DCMAKE_C_FLAGS="$flags" \
            -DCMAKE_INSTALL_PREFIX="$prefix" .. >/dev/null &&
        make -s -j"$jobs" yajl_s >/dev/null && mkdir -p "$prefix/include/yajl" &&
        cp yajl-*/lib/libyajl_s.a "$prefix/lib/" && cp yajl-*/include/yajl/*.h "$prefix/include/yajl/")
    (cd "$work/libseccomp" && ./configure -q --host="$triplet" --prefix="$prefix" CFLAGS="$flags" \
        --disable-shared --disable-python >/dev/null && make -s -C src -j"$jobs" >/dev/null &&
        make -s -C src install >/dev/null && make -s -C include install >/dev/null)
    (cd "$work/libcap2/libcap" && make -s -j"$jobs" CC="$cc" BUILD_CC=gcc AR="$triplet-ar" RANLIB="$triplet-ranlib" \
        COPTS="$flags" libcap.a >/dev/null && mkdir -p "$prefix/include/sys" &&
        cp libcap.a "$prefix/lib/" && cp include/sys/capability.h "$prefix/include/sys/")
    (cd "$work/mbedtls" && python3 scripts/config.py set MBEDTLS_THREADING_C &&
        python3 scripts/config.py set MBEDTLS_THREADING_PTHREAD &&
        make -s -C library -j"$jobs" CC="$cc" AR="$triplet-ar" CFLAGS="$flags" static >/dev/null &&
        cp library/libmbedtls.a library/libmbedx509.a library/libmbedcrypto.a "$prefix/lib/" &&
        cp -r include/mbedtls "$prefix/include/")
    # libcrypto only (lrun takes sha256 from it): no apps, tests, engines or modules
    (cd "$work/openssl" && ./Configure linux64-riscv64 --cross-compile-prefix="$triplet-" --prefix="$prefix" \
        no-shared no-module no-tests no-engine no-dso no-async no-comp no-ui-console \
        no-legacy no-ssl3 no-srp no-psk no-cms no-ct no-ocsp no-ts no-rfc3779 >/dev/null &&
        make -s -j"$jobs" build_generated >/dev/null && make -s -j"$jobs" libcrypto.a >/dev/null &&
        cp libcrypto.a "$prefix/lib/" && cp -r include/openssl "$prefix/include/")
    touch "$prefix/.complete"
}

CC=${CC:-${triplet:+$triplet-gcc}}
CC=${CC:-cc}
STRIP=${triplet:+$triplet-}strip
[ -n "$triplet" ] && ! command -v "$CC" >/dev/null &&
    { echo "build.sh: no $CC: run ./build.sh --deps --arch $arch" >&2; exit 1; }
sysroot_flags=
if [ "$arch" = riscv64 ]; then
    riscv64_libraries "$CROSS_DIR/riscv64"
    sysroot_flags="-I$CROSS_DIR/riscv64/include -L$CROSS_DIR/riscv64/lib"
fi
# the small libzstd first (its -L ahead of the others); Debian's when it cannot be built
zstd_dir=$CROSS_DIR/zstd/${arch:-$host_arch}
if [ "$debug" = 0 ] && small_zstd "$zstd_dir"; then
    sysroot_flags="-L$zstd_dir/lib $sysroot_flags"
elif [ "$debug" = 0 ]; then
    echo "build.sh: warning: no libzstd from Debian's source (apt-get source libzstd, dpkg-dev); linking Debian's libzstd.a, larger" >&2
fi
# the small mbedTLS likewise, its headers too (its config.h shapes the structs lrun fills)
mbedtls_dir=$CROSS_DIR/mbedtls/${arch:-$host_arch}
if [ "$debug" = 0 ] && small_mbedtls "$mbedtls_dir"; then
    sysroot_flags="-I$mbedtls_dir/include -L$mbedtls_dir/lib $sysroot_flags"
elif [ "$debug" = 0 ]; then
    echo "build.sh: warning: no mbedTLS from Debian's source (apt-get source mbedtls, dpkg-dev); linking Debian's, larger" >&2
fi
CFLAGS="-std=gnu11 -Wall -Wextra -Werror -D_FILE_OFFSET_BITS=64"
if [ "$debug" = 1 ]; then
    CFLAGS="$CFLAGS -O0 -g"
else
    # optimised for size, every architecture (each binary stays under 3 MB; test/bench/run
    # measures no slower run --rm or pull than -O2: the time is in the kernel, zlib and sha256);
    # no unwind tables (C, nothing unwinds lrun's frames); unused functions and data of the
    # static libraries are left out of the binary
    CFLAGS="$CFLAGS -Os -fno-asynchronous-unwind-tables -fno-unwind-tables -fstack-protector-strong -D_FORTIFY_SOURCE=2"
    CFLAGS="$CFLAGS -ffunction-sections -fdata-sections -Wl,--gc-sections"
fi

# shellcheck disable=SC2086
$CC $CFLAGS ${EXTRA_CFLAGS:-} $sysroot_flags -static -o "$out" runtime.c $LIBS
if [ "$debug" = 0 ]; then
    $STRIP "$out"
fi
file "$out" | grep -q 'statically linked' || { echo "build.sh: $out is not statically linked" >&2; exit 1; }
size=$(stat -c %s "$out")
echo "built ./$out${arch:+ for $arch}: statically linked, $size bytes ($(( (size + 1023) / 1024 )) KiB) stripped"

if [ "$install" = 1 ] && [ -z "$arch" ]; then
    prefix=${DESTDIR:-}${PREFIX:-/usr/local}
    install -D -m 0755 lrun "$prefix/bin/lrun"
    man_page > lrun.1.tmp
    install -D -m 0644 lrun.1.tmp "$prefix/share/man/man1/lrun.1"
    rm -f lrun.1.tmp
    install -D -m 0644 examples/install/lrun.bash "$prefix/share/bash-completion/completions/lrun"
    echo "installed $prefix/bin/lrun, $prefix/share/man/man1/lrun.1, $prefix/share/bash-completion/completions/lrun"
fi
