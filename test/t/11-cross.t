#!/bin/bash
# Cross builds: ./build.sh --arch ARCH makes ./lrun-ARCH, static, stripped,
# for that machine, under 3 MB, and it runs there (under qemu-user).  The
# embedding example links for arm64 and loads and lists an image under
# qemu-aarch64-static; the container example there loads an arm64 image and
# creates its container, and its start fails as it must under qemu-user (no
# namespaces: qemu emulates clone only as fork or thread).  Short mode: arm64; LONG=1: arm64, armhf and riscv64
# (riscv64's libraries are built from Debian's sources once, into
# /var/tmp/lrun-cross; in short mode riscv64 is built only if they are there).
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/tap.sh"
. "$here/../lib/fixtures.sh"
. "$here/../lib/lrun.sh"
. "$here/../lib/cross.sh"
command -v aarch64-linux-gnu-gcc >/dev/null || skip_all "no cross compiler (./build.sh --deps --arch arm64)"
command -v qemu-aarch64-static >/dev/null || skip_all "no qemu-user-static"
lrun_tmp
top=$LRUN_TOP
cp "$top/runtime.c" "$top/runtime.h" "$top/build.sh" "$T/"

arches="arm64"
if [ "${LONG:-0}" = 1 ]; then
    arches="arm64 armhf riscv64"
elif [ -f "${LRUN_CROSS_DIR:-/var/tmp/lrun-cross}/riscv64/.complete" ]; then
    arches="arm64 riscv64"
fi
declare -A machine=([arm64]="ARM aarch64" [armhf]="ARM, EABI5" [riscv64]="UCB RISC-V")
declare -A qemu=([arm64]=qemu-aarch64-static [armhf]=qemu-arm-static [riscv64]=qemu-riscv64-static)
for a in $arches; do
    run nice -n 10 "$T/build.sh" --arch "$a"
    is "$rc" 0 "build.sh --arch $a succeeds"
    like "$out" "^built ./lrun-$a for $a: statically linked, [0-9]+ bytes" "  and prints the stripped size"
    note "lrun-$a: $(stat -c %s "$T/lrun-$a" 2>/dev/null) bytes stripped"
    like "$(file "$T/lrun-$a")" "${machine[$a]}.*statically linked.*, stripped" "  lrun-$a is a static, stripped $a executable"
    ok "$([ "$(stat -c %s "$T/lrun-$a" 2>/dev/null || echo 9999999)" -lt 3000000 ]; echo $?)" "  under 3 MB (3,000,000 B)"
    like "$("${qemu[$a]}" "$T/lrun-$a" --version 2>&1)" '^lrun version [0-9.]+' "  it runs on $a (${qemu[$a]})"
done
[ -e "$T/lrun" ] && fail_msg="build.sh --arch wrote ./lrun"
is "${fail_msg:-}" "" "a cross build leaves ./lrun alone"

# the embedding example, for arm64, against a real store
fx_servidorweb "$T/fx" >/dev/null 2>&1 || bail "fixtures"
ok_cmd "runtime.c compiles for arm64 with -DLRUN_NO_MAIN" \
    nice -n 10 aarch64-linux-gnu-gcc -std=gnu11 -Wall -Wextra -Werror -c -DLRUN_NO_MAIN -o "$T/runtime-arm64.o" "$top/runtime.c"
ok_cmd "examples/list-images.c links for arm64" \
    aarch64-linux-gnu-gcc -std=gnu11 -Wall -Wextra -Werror -static -I"$top" -o "$T/list-images-arm64" \
    "$top/examples/list-images.c" "$T/runtime-arm64.o" $("$top/build.sh" --libs)
run qemu-aarch64-static "$T/list-images-arm64" "$T/root" "$T/fx/v1.tar"
is "$rc|$out" "0|loaded localhost:5000/servidorweb:v1
53295387bff9 localhost:5000/servidorweb:v1 2234583 bytes, 3 layers
layers: 2232320 bytes
" "the arm64 example loads and lists an image under qemu-aarch64-static"
is "$("$LRUN" --root "$T/root" images --format '{{.ID}} {{.Repository}}:{{.Tag}}')" \
    "53295387bff9 localhost:5000/servidorweb:v1" "the host's lrun reads the store the arm64 program wrote"

# the container example for arm64 under qemu-aarch64-static, with an arm64
# image (Debian's arm64 busybox-static): the API's image and store calls run
# there (load, create); starting cannot: qemu-user emulates clone(2) only with
# the flags of fork and of a thread, and refuses any CLONE_NEW* (namespaces)
# with EINVAL, so the start fails cleanly with lrun's error and exit code
ok_cmd "examples/run-container.c links for arm64" \
    aarch64-linux-gnu-gcc -std=gnu11 -Wall -Wextra -Werror -static -I"$top" -o "$T/run-container-arm64" \
    "$top/examples/run-container.c" "$T/runtime-arm64.o" $("$top/build.sh" --libs)
if ! bb=$(cross_busybox arm64 2>"$T/why"); then
    skip "the arm64 container example: $(tail -n 1 "$T/why")"
else
    FX_BUSYBOX=$bb fx_busybox_rootfs "$T/rootfs-arm64" && fx_layer_tar "$T/rootfs-arm64" "$T/layer-arm64.tar" &&
        FX_ARCH=arm64 FX_VARIANT=v8 fx_docker_archive "$T/arm64.tar" localhost/arm64demo:latest '{"Cmd":["/bin/sh"]}' \
            "$T/layer-arm64.tar" || bail "the arm64 image does not build"
    run qemu-aarch64-static "$T/run-container-arm64" "$T/root-arm64" "$T/arm64.tar"
    like "$out" $'^loaded localhost/arm64demo:latest\ncreated api-demo [0-9a-f]{12}\n$' \
        "under qemu-aarch64-static the arm64 example loads its arm64 image and creates a container"
    is "$rc|$err" "125|run-container: start: create the container's namespaces: Invalid argument
" "  starting it fails with lrun's error (qemu-user refuses clone with namespace flags: EINVAL), exit 125"
    like "$("$LRUN" --root "$T/root-arm64" ps -a --format '{{.Names}} {{.Image}} {{.Status}}')" \
        '^api-demo localhost/arm64demo:latest Exited \(125\) ' \
        "  the host's lrun lists the container the arm64 program created, its failed start as Exited (125)"
    is "$("$LRUN" --root "$T/root-arm64" image inspect --format '{{.Architecture}}' localhost/arm64demo:latest)" \
        "arm64" "  and its arm64 image"
    "$LRUN" --root "$T/root-arm64" rm -a >/dev/null 2>&1
fi
done_testing
