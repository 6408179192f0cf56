#!/bin/sh
# build.sh — build ./lrun, one statically linked executable, from runtime.c.
#
#   ./build.sh          build (needs the -dev packages below)
#   ./build.sh --deps   install the Debian 12 build (and test) dependencies with apt, then build
#   ./build.sh --debug  build without optimisation, with debug info, unstripped
#   ./build.sh --libs   print the static link flags (to embed runtime.c, see examples/)
#
# Environment: CC (default cc), EXTRA_CFLAGS.
set -eu
cd "$(dirname "$0")"

DEPS="gcc libc6-dev make pkg-config file binutils libarchive-dev libyajl-dev libseccomp-dev libcap-dev
      libssl-dev zlib1g-dev libzstd-dev liblzma-dev libmbedtls-dev"
# what the test suite uses (test/run): TAP's prove (perl), fixtures from busybox
TEST_DEPS="perl busybox-static jq tar gzip zstd xz-utils util-linux"

# Static libraries only.  libarchive's tar reader/writer and gzip/zstd/xz
# filters are all lrun calls, so only those objects (and their compression
# libraries) are linked; its other formats would pull in libxml2 and ICU.
# mbedTLS is the TLS of pull (small, static); OpenSSL's libcrypto provides
# sha256 (with the CPU's SHA extensions).
LIBS="-larchive -lzstd -llzma -lz -lyajl_s -lseccomp -lcap -lmbedtls -lmbedx509 -lmbedcrypto -lcrypto -lpthread"

debug=0
for arg in "$@"; do
    case "$arg" in
    --deps)
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        # shellcheck disable=SC2086
        apt-get install -y -qq --no-install-recommends $DEPS $TEST_DEPS >/dev/null
        ;;
    --debug) debug=1 ;;
    --libs) echo "$LIBS"; exit 0 ;;
    *) echo "usage: $0 [--deps] [--debug] [--libs]" >&2; exit 2 ;;
    esac
done

CC=${CC:-cc}
CFLAGS="-std=gnu11 -Wall -Wextra -Werror -D_FILE_OFFSET_BITS=64"
if [ "$debug" = 1 ]; then
    CFLAGS="$CFLAGS -O0 -g"
else
    CFLAGS="$CFLAGS -O2 -fstack-protector-strong -D_FORTIFY_SOURCE=2"
fi

# shellcheck disable=SC2086
$CC $CFLAGS ${EXTRA_CFLAGS:-} -static -o lrun runtime.c $LIBS
if [ "$debug" = 0 ]; then
    strip lrun
fi
file lrun | grep -q 'statically linked' || { echo "build.sh: lrun is not statically linked" >&2; exit 1; }
size=$(stat -c %s lrun)
echo "built ./lrun: statically linked, $size bytes ($(( (size + 1023) / 1024 )) KiB) stripped"
