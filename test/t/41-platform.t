#!/bin/bash
# Architecture is real: a manifest list (PUT into a real registry) of images
# made from Debian's busybox-static of amd64, arm64, armhf (arm/v7, and the
# same as arm/v6) and riscv64.  Pull picks this machine's platform, --platform
# another, arm/v7 falls back to v6; run refuses an image of another machine
# with a clear error (before it writes anything), --platform re-pulls a local
# image of the wrong platform.  "On that machine": the arm64, armhf and
# riscv64 builds of lrun, under qemu-user, pull their own images by default.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/tap.sh"
. "$here/../lib/fixtures.sh"
. "$here/../lib/registry.sh"
reg_test_begin platform
. "$here/../lib/lrun.sh"
. "$here/../lib/cross.sh"

# ------------------------------------------------------------- the images --
# image ARCH VARIANT BUSYBOX TAG: a one-layer image of that busybox, pushed as multi:TAG
image() {
	local a=$1 v=$2 bb=$3 tag=$4
	FX_BUSYBOX=$bb fx_busybox_rootfs "$T/rootfs-$tag" && fx_layer_tar "$T/rootfs-$tag" "$T/layer-$tag.tar" &&
		FX_ARCH=$a FX_VARIANT=$v fx_docker_archive "$T/$tag.tar" "localhost/bb:$tag" '{"Cmd":["/bin/busybox","uname","-m"]}' \
			"$T/layer-$tag.tar" && reg_push "docker-archive:$T/$tag.tar" "docker://$R/multi:$tag"
}
reg_start main "$T/storage" || bail "the registry does not start"
R=127.0.0.1:$REG_PORT
declare -A busybox=([amd64]=/bin/busybox)
for a in arm64 armhf riscv64; do
	busybox[$a]=$(cross_busybox "$a") || bail "cannot get busybox-static:$a"
done
image amd64 "" "${busybox[amd64]}" amd64 && image arm64 v8 "${busybox[arm64]}" arm64 &&
	image arm v7 "${busybox[armhf]}" armv7 && image arm v6 "${busybox[armhf]}" armv6 &&
	image riscv64 "" "${busybox[riscv64]}" riscv64 || bail "the images do not build"
declare -A ID
for t in amd64 arm64 armv7 armv6 riscv64; do ID[$t]=$(reg_archive_id "$T/$t.tar"); done

D2=application/vnd.docker.distribution.manifest.v2+json LIST=application/vnd.docker.distribution.manifest.list.v2+json
entry() { # TAG PLATFORM-JSON
	curl -sSf -H "Accept: $D2" "http://$R/v2/multi/manifests/$1" >"$T/m"
	jq -cn --arg t "$D2" --arg d "sha256:$(fx_sha256 "$T/m")" --argjson s "$(stat -c %s "$T/m")" --argjson p "$2" \
		'{mediaType: $t, size: $s, digest: $d, platform: $p}'
}
list() { # NAME ENTRY... (each "TAG PLATFORM-JSON")
	local name=$1 e all=()
	shift
	for e in "$@"; do all+=("$(entry ${e%% *} "${e#* }")"); done
	printf '%s\n' "${all[@]}" | jq -cs --arg t "$LIST" '{schemaVersion: 2, mediaType: $t, manifests: .}' >"$T/$name.json"
	reg_put_manifest "http://$R/v2/multi/manifests/$name" "$LIST" "$T/$name.json"
}
# as docker hub's busybox orders them: older arm variants first
list all 'armv6 {"architecture":"arm","os":"linux","variant":"v6"}' \
	'armv7 {"architecture":"arm","os":"linux","variant":"v7"}' \
	'arm64 {"architecture":"arm64","os":"linux","variant":"v8"}' \
	'riscv64 {"architecture":"riscv64","os":"linux"}' \
	'amd64 {"architecture":"amd64","os":"linux"}' &&
list nov7 'armv6 {"architecture":"arm","os":"linux","variant":"v6"}' \
	'amd64 {"architecture":"amd64","os":"linux"}' || bail "cannot PUT the lists"

lr() { "$LRUN" --root "$T/root" "$@"; }
# ----------------------------------------------------------------- pulls --
is "$(lr pull -q "$R/multi:all" 2>&1)" "${ID[amd64]}" "pull on amd64: linux/amd64"
is "$(lr pull -q --platform linux/arm64 "$R/multi:all" 2>&1)" "${ID[arm64]}" "--platform linux/arm64: arm64 (its v8)"
is "$(lr pull -q --platform linux/arm/v7 "$R/multi:all" 2>&1)" "${ID[armv7]}" "--platform linux/arm/v7: v7, not the v6 listed first"
is "$(lr pull -q --platform linux/riscv64 "$R/multi:all" 2>&1)" "${ID[riscv64]}" "--platform linux/riscv64"
is "$(lr pull -q --platform linux/arm/v7 "$R/multi:nov7" 2>&1)" "${ID[armv6]}" "arm/v7 from a list without v7: v6 (a v7 CPU runs it)"
run lr pull -q --platform linux/arm/v5 "$R/multi:nov7"
is "$rc" 125 "arm/v5 from a list of v6 and amd64: no image (v6 does not run on v5)"
like "$err" 'no image found in manifest list for architecture arm, variant "v5", OS linux' "  and the error names the platform"

# ------------------------------------------------------------------- run --
run timeout -k 5 60 "$LRUN" --root "$T/root" run --rm --network none "${ID[amd64]}"
is "$rc|$out" "0|x86_64
" "the amd64 image runs here (uname -m: x86_64)"
n_before=$(lr ps -a -q | wc -l)
run timeout -k 5 60 "$LRUN" --root "$T/root" run --rm --network none "${ID[arm64]}"
is "$rc" 125 "an arm64 image on amd64: exit 125"
is "$err" "Error: ${ID[arm64]}: image ${ID[arm64]:0:12} is linux/arm64/v8; this machine runs linux/amd64: pull the amd64 image (--platform linux/amd64), or run it with --platform linux/arm64/v8 where an emulator (qemu-user binfmt) runs its programs
" "  the error names both platforms and what to do"
is "$(lr ps -a -q | wc -l)" "$n_before" "  and no container was created"
run timeout -k 5 60 "$LRUN" --root "$T/root" create --network none --pull never --platform linux/arm/v7 "${ID[arm64]}"
is "$rc" 125 "create --pull never --platform linux/arm/v7 of the arm64 image: 125"
like "$err" "is linux/arm64/v8, not linux/arm/v7 \(--platform\)" "  the image is not of that platform"
lr tag "${ID[arm64]}" "$R/multi:all"
run timeout -k 5 60 "$LRUN" --root "$T/root" run --rm --network none --platform linux/amd64 "$R/multi:all"
is "$rc|$out" "0|x86_64
" "run --platform linux/amd64 of a name held by the arm64 image: pulls amd64 and runs it"
is "$(lr images --format '{{.ID}}' "$R/multi:all")" "${ID[amd64]:0:12}" "  the name is the amd64 image's again"

# ---------------------------------------------------- on that machine --
for a in arm64 armhf riscv64; do
	want=${a/armhf/armv7}
	if ! command -v "$(cross_qemu_user $a)" >/dev/null; then
		skip "no $(cross_qemu_user $a) (apt-get install qemu-user-static)"; continue
	fi
	if ! bin=$(cross_lrun "$a" 2>"$T/why"); then
		skip "no lrun-$a: $(tail -n 1 "$T/why")"; continue
	fi
	out=$("$(cross_qemu_user $a)" "$bin" --root "$T/root-$a" pull -q "$R/multi:all" 2>&1)
	is "$out" "${ID[$want]}" "lrun-$a (under $(cross_qemu_user $a)) pulls its own image by default ($want)"
done
done_testing
