#!/bin/sh
# build.sh — build ./lrun, one statically linked executable, from runtime.c.
#
#   ./build.sh          build (needs the -dev packages below)
#   ./build.sh --deps   install the Debian 12 build (and test) dependencies with apt, then build
#   ./build.sh --debug  build without optimisation, with debug info, unstripped
#
# Environment: CC (default cc), EXTRA_CFLAGS.
set -eu
cd "$(dirname "$0")"

DEPS="gcc libc6-dev make pkg-config file binutils libarchive-dev libyajl-dev libseccomp-dev libcap-dev
      libssl-dev zlib1g-dev libzstd-dev liblzma-dev libmbedtls-dev"
# what the test suite uses (test/run): TAP's prove (perl), fixtures from busybox
TEST_DEPS="perl busybox-static jq tar gzip zstd xz-utils util-linux"

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
    *) echo "usage: $0 [--deps] [--debug]" >&2; exit 2 ;;
    esac
done

CC=${CC:-cc}
CFLAGS="-std=gnu11 -Wall -Wextra -Werror -D_FILE_OFFSET_BITS=64"
if [ "$debug" = 1 ]; then
    CFLAGS="$CFLAGS -O0 -g"
else
    CFLAGS="$CFLAGS -O2 -fstack-protector-strong -D_FORTIFY_SOURCE=2"
fi

# Static libraries only.  libarchive is linked whole-archive-free, so only
# the tar reader/writer and the gzip/zstd/xz filters lrun calls are pulled
# in (its other formats would drag in libxml2 and ICU); their compression
# libraries follow it.  OpenSSL's libcrypto provides sha256.
LIBS="-larchive -lzstd -llzma -lz -lyajl_s -lseccomp -lcap -lmbedtls -lmbedx509 -lmbedcrypto -lcrypto -lpthread"

# shellcheck disable=SC2086
$CC $CFLAGS ${EXTRA_CFLAGS:-} -static -o lrun runtime.c $LIBS
if [ "$debug" = 0 ]; then
    strip lrun
fi
file lrun | grep -q 'statically linked' || { echo "build.sh: lrun is not statically linked" >&2; exit 1; }
size=$(stat -c %s lrun)
echo "built ./lrun: statically linked, $size bytes ($(( (size + 1023) / 1024 )) KiB) stripped"
