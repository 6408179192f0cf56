#!/bin/bash
# lrun save -o FILE IMAGE (docker-archive): the archive is well formed
# (skopeo reads and verifies it), layers are rebuilt byte for byte (their
# sha256 = the config's diff_ids), and loading it elsewhere gives the image.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/store-test.sh"
store_start servidorweb
V1=localhost:5000/servidorweb:v1 V2=localhost:5000/servidorweb:v2
V1ID=53295387bff92584f39da531cba95b308e801ff87fc40eec8eefd4544783976b

# skopeo isolated as in 00-fixtures.t (its blob cache lives in /var/lib)
sk() {
	if [ "$(id -u)" = 0 ]; then
		unshare -m sh -c 'mount -t tmpfs tmpfs /var/lib && exec skopeo --insecure-policy "$@"' sk "$@"
	else
		HOME=$T/home XDG_DATA_HOME=$T/xdg skopeo --insecure-policy "$@"
	fi
}
# diff ids of a docker-archive's first image, and the sha256 of its layer files
arch_diffids() { local c; c=$(tar xOf "$1" manifest.json | jq -r '.[0].Config'); tar xOf "$1" "$c" | jq -r '.rootfs.diff_ids[]'; }
arch_layersums() { local l; for l in $(tar xOf "$1" manifest.json | jq -r '.[0].Layers[]'); do
	echo "sha256:$(tar xOf "$1" "$l" | sha256sum | cut -c1-64)"; done; }

R=$T/store
for f in v1 v2; do lr load -i "$F/$f.tar" >/dev/null 2>&1 || bail "load $f"; done
tree1=$(lr image tree $V1)
run lr save -o "$T/out.tar" $V1
is "$rc" 0 "save -o out.tar v1 exits 0"
is "$out" "" "save: nothing on stdout"
ok "$( [ -s "$T/out.tar" ]; echo $?)" "save: out.tar written"
is "$(tar xOf "$T/out.tar" manifest.json 2>/dev/null | jq -c '[length, .[0].RepoTags]')" "[1,[\"$V1\"]]" "out.tar manifest.json: one image, RepoTags [v1]"
cfg=$(tar xOf "$T/out.tar" manifest.json | jq -r '.[0].Config')
is "$(tar xOf "$T/out.tar" "$cfg" | sha256sum | cut -c1-64)" "$V1ID" "out.tar: config bytes hash to the image ID"
is "$(arch_layersums "$T/out.tar")" "$(arch_diffids "$T/out.tar")" "out.tar: every layer's sha256 = its diff_id (rebuilt byte for byte)"
is "$(arch_diffids "$T/out.tar")" "$(for l in 1 2 3v1; do echo "sha256:$(sha256 "$F/layers/$l.tar")"; done)" "out.tar: the original diff ids, in order"
ok "$(cmp -s <(tar xOf "$T/out.tar" "$(tar xOf "$T/out.tar" manifest.json | jq -r '.[0].Layers[0]')") "$F/layers/1.tar"; echo $?)" \
	"out.tar: base layer identical to the original layer tar"

if command -v skopeo >/dev/null; then
	run sk inspect "docker-archive:$T/out.tar"
	is "$rc" 0 "skopeo inspect docker-archive:out.tar works"
	[ "$rc" = 0 ] || diag "$err"
	is "$(jq -c '.Layers' <<<"$out" 2>&1)" "$(arch_diffids "$T/out.tar" | jq -Rsc 'split("\n")[:-1]')" "skopeo: the 3 layers"
	ok_cmd "skopeo copy (verifies every digest) docker-archive:out.tar -> dir:" sk copy -q "docker-archive:$T/out.tar" "dir:$T/copy"
else
	skip "skopeo not installed"; skip "skopeo not installed"; skip "skopeo not installed"
fi

R=$T/fresh
run lr load -i "$T/out.tar"
is "$rc:$out" "0:Loaded image: $V1"$'\n' "the saved archive loads into a fresh store under the same name"
run lr image tree $V1
is "$(grep -c '── ID: ' <<<"$out")" 3 "image tree of the reloaded image: 3 layers"
is "$out" "$tree1"$'\n\n' "image tree identical to the original store's"
run lr inspect $V1
is "$(jq -c '.[0].RootFS.Layers' <<<"$out" 2>&1)" "$(arch_diffids "$T/out.tar" | jq -Rsc 'split("\n")[:-1]')" \
	"inspect RootFS.Layers = the saved config's diff_ids"
is "$(jq -r '.[0].Id' <<<"$out" 2>&1)" "$V1ID" "same image ID after the round trip"

# an image that came in as gzip OCI layers saves as the uncompressed tars
R=$T/oci
lr load -i "$F/v2-oci" >/dev/null 2>&1 || bail "load v2-oci"
run lr save -o "$T/oci-out.tar" localhost/v2-oci:latest
is "$rc" 0 "save of an OCI-loaded image exits 0"
is "$(arch_layersums "$T/oci-out.tar" 2>&1)" "$(for l in 1 2 3v2; do echo "sha256:$(sha256 "$F/layers/$l.tar")"; done)" \
	"saved OCI-loaded image: layer tars = the original uncompressed tars"

R=$T/store
run lr save -o "$T/nope.tar" localhost/nope:latest
is "$rc" 125 "save of an unknown image: exit 125"
like "$err" '^Error: .*localhost/nope' "save of an unknown image: Error: naming it"
ok "$( [ ! -e "$T/nope.tar" ]; echo $?)" "save of an unknown image: no file written"
run lr save -o "$T/no/such/dir/x.tar" $V1
is "$rc" 125 "save into a missing directory: exit 125"
like "$err" '^Error: ' "save into a missing directory: Error: on stderr"

done_testing
