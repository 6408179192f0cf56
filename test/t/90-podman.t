#!/bin/bash
# Store compatibility with podman: podman pointed at lrun's store
# (--root, --storage-driver overlay) lists lrun's images with the same IDs,
# the same layer tree, inspects and exports them; and lrun reads a store
# podman wrote.  podman runs in a private mount namespace with tmpfs over
# /var/lib and /dev/shm (as /work/ref/run-podman.sh did), so no host store is
# touched.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/store-test.sh"
command -v podman >/dev/null || skip_all "podman not installed"
[ "$(id -u)" = 0 ] || skip_all "needs root (private mount namespace for podman)"
store_start servidorweb whiteouts
mkdir -p "$T/tmp"

# P ROOT ARGS...: podman on store ROOT, isolated
P() {
	local root=$1; shift
	TMPDIR=$T/tmp unshare -m sh -c 'mount --make-rprivate / && mount -t tmpfs tmpfs /var/lib &&
		mount -t tmpfs tmpfs /dev/shm && exec podman "$@"' podman \
		--root "$root" --runroot "$T/run-${root##*/}" --storage-driver overlay --tmpdir "$T/tmp/libpod" \
		--cgroup-manager cgroupfs --events-backend file "$@"
}
V1=localhost:5000/servidorweb:v1 V2=localhost:5000/servidorweb:v2 W=localhost/whiteouts:latest

R=$T/store
for f in v1 v2 whiteouts; do lr load -i "$F/$f.tar" >/dev/null 2>&1 || bail "lrun cannot load $f.tar"; done
lr_images=$(lr images --format '{{.ID}} {{.Repository}}:{{.Tag}}')
lr_table=$(lr images)
lr_tree=$(lr image tree $V2)
lr_inspect=$(lr inspect $V2)

run P "$R" images --format '{{.ID}} {{.Repository}}:{{.Tag}}'
is "$rc" 0 "podman images on lrun's store exits 0"
[ "$rc" = 0 ] || diag "$err"
is "$(printf '%s' "$out" | sort)" "$(printf '%s\n' "53295387bff9 $V1" "fcdac5024f28 $V2" "359d758cd793 $W" | sort)" \
	"podman lists lrun's 3 images with their IDs and names"
is "${out%$'\n'}" "$lr_images" "podman images --format = lrun images --format (same rows, same order)"
run P "$R" images
is "${out%$'\n'}" "$lr_table" "podman images table = lrun images table"
run P "$R" image tree $V2
is "$rc" 0 "podman image tree v2 exits 0"
is "$(grep -o '── ID: [0-9a-f]*' <<<"$out" | cut -d' ' -f2- | tr '\n' ' ')" "ID: d5ea046f6b72 ID: 24db95f1fcb2 ID: 28ad61c640b7 " "podman image tree: the same layer IDs"
is "$(printf '%s' "$out")" "$lr_tree" "podman image tree = lrun image tree"
run P "$R" inspect $V2
is "$rc" 0 "podman inspect v2 exits 0"
is "$(jq -c '.[0] | [.Id, .RootFS.Layers, .GraphDriver.Data, .Size, .Digest]' <<<"$out" 2>&1)" \
	"$(jq -c '.[0] | [.Id, .RootFS.Layers, .GraphDriver.Data, .Size, .Digest]' <<<"$lr_inspect")" \
	"podman inspect: Id, RootFS.Layers, GraphDriver dirs, Size, Digest as lrun reports them"
run P "$R" system df -v
is "$rc" 0 "podman system df -v on lrun's store exits 0"

# podman re-creates each layer tar from lrun's diff/ + tar-split: same digests
run P "$R" save -o "$T/podman-v1.tar" $V1
is "$rc" 0 "podman save of an lrun-loaded image exits 0"
[ "$rc" = 0 ] || diag "$err"
if [ -f "$T/podman-v1.tar" ]; then
	cfg=$(tar xOf "$T/podman-v1.tar" manifest.json | jq -r '.[0].Config')
	want=$(tar xOf "$T/podman-v1.tar" "$cfg" | jq -r '.rootfs.diff_ids[]' | cut -c8-)
	got=$(for l in $(tar xOf "$T/podman-v1.tar" manifest.json | jq -r '.[0].Layers[]'); do
		tar xOf "$T/podman-v1.tar" "$l" | sha256sum | cut -c1-64; done)
	is "$got" "$want" "podman save: every layer tar rebuilt byte for byte (sha256 = diff_id)"
	is "$want" "$(for l in 1 2 3v1; do sha256 "$F/layers/$l.tar"; done)" "podman save: the original diff ids"
else
	skip "no podman save output"; skip "no podman save output"
fi

# podman did not break the store for lrun
run lr images
is "$rc:${out%$'\n'}" "0:$lr_table" "lrun images unchanged after podman used the store"
run lr load -i "$F/v1.tar"
is "$rc" 0 "lrun still loads into the store podman opened"

# podman removes an lrun image: lrun sees the result
run P "$R" rmi $V2
is "$rc" 0 "podman rmi of an lrun image exits 0"
run lr images --format '{{.Repository}}:{{.Tag}}'
is "$(printf '%s' "$out" | sort)" "$(printf '%s\n' "$V1" "$W" | sort)" "lrun sees podman's rmi"
is "$(find "$R/overlay/l" -xtype l | wc -l)" 0 "no dangling l/ link after podman's rmi"

# the other direction: lrun reads a store podman wrote
R=$T/pstore
run P "$R" load -i "$F/v2.tar"
is "$rc" 0 "podman load into a fresh store"
run P "$R" load -i "$F/whiteouts.tar"
run lr images --format '{{.ID}} {{.Repository}}:{{.Tag}}'
is "$rc:$out" "0:fcdac5024f28 $V2"$'\n'"359d758cd793 $W"$'\n' "lrun lists the images podman loaded"
run lr image tree $V2
like "$out" '└── ID: 28ad61c640b7 Size: 10.24kB Top Layer of' "lrun image tree of a podman-loaded image"
run lr load -i "$F/v1.tar"
is "$rc" 0 "lrun loads v1 into podman's store"
is "$(grep -c 'skipped: already exists' <<<"$err")" 2 "… reusing the 2 layers podman extracted"
run P "$R" images --format '{{.ID}} {{.Repository}}:{{.Tag}}'
like "$out" "53295387bff9 $V1" "podman lists the image lrun added to its store"
run P "$R" image tree $V1
like "$out" '└── ID: bc1dd8d4b778 Size: 10.24kB Top Layer of: \[localhost:5000/servidorweb:v1\]' "podman image tree of lrun's v1 in its store"

done_testing
