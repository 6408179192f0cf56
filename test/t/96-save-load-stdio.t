#!/bin/bash
# lrun save to stdout, -m (several images), --format docker-archive |
# oci-archive | oci-dir | docker-dir, the names an archive keeps (podman's:
# the name given, none when saved by ID); lrun load from stdin, of each
# format, and podman's message for what is no image at all.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/store-test.sh"
store_start servidorweb
R=$T/store
for f in v1 v2; do lr load -i "$F/$f.tar" >/dev/null 2>&1 || bail "load $f"; done
V1=localhost:5000/servidorweb:v1 V2=localhost:5000/servidorweb:v2
V1ID=$(tar xOf "$F/v1.tar" manifest.json | jq -r '.[0].Config | rtrimstr(".json")')
V2ID=$(tar xOf "$F/v2.tar" manifest.json | jq -r '.[0].Config | rtrimstr(".json")')
sk() { unshare -m sh -c 'mount -t tmpfs tmpfs /var/lib && exec skopeo --insecure-policy "$@"' sk "$@"; }
fresh=0
lf() { fresh=$((fresh + 1)); "$LRUN" --root "$T/fresh$fresh" "$@"; } # a fresh store each time
manifest() { tar xOf "$1" manifest.json; }

# --- docker-archive to stdout -----------------------------------------------------------
lr save $V1 | cat >"$T/pipe.tar"
is "${PIPESTATUS[0]}" 0 "save IMAGE to a pipe exits 0"
lr save -q -o "$T/file.tar" $V1
ok "$(cmp -s "$T/pipe.tar" "$T/file.tar"; echo $?)" "what goes to stdout is what -o writes"
is "$(manifest "$T/pipe.tar" | jq -c '.[] | [.Config, .RepoTags, (.Layers | length)]')" \
	"[\"$V1ID.json\",[\"$V1\"],3]" "manifest.json: the config, the name given, three layers"
is "$(tar tf "$T/pipe.tar" | sort | head -1)" "$(sha256 "$F/layers/3v1.tar" | cut -c1-64).tar" \
	"layers are <diff id>.tar, as podman's"
run lr save -o "$T/progress.tar" $V1
is "$(tail -3 <<<"$err")" "Writing manifest to image destination
Storing signatures" "save -o: progress lines on stderr"
run lf load <"$T/pipe.tar"
is "$rc:$out" "0:Loaded image: $V1"$'\n' "load from stdin"

# by ID: no name in the archive; by name with more names after it
lr save "${V1ID:0:12}" >"$T/byid.tar"
is "$(manifest "$T/byid.tar" | jq -c '.[0].RepoTags')" "[]" "save by ID: no RepoTags"
run lf load -i "$T/byid.tar"
is "$out" "Loaded image: sha256:$V1ID"$'\n' "… load names it by ID"
is "$("$LRUN" --root "$T/fresh$fresh" images --format '{{.ID}} {{.Repository}}:{{.Tag}}')" \
	"${V1ID:0:12} <none>:<none>" "… an untagged image with the same ID"
lr save $V1 foo:bar >"$T/tags.tar"
is "$(manifest "$T/tags.tar" | jq -c '.[0].RepoTags')" "[\"localhost/foo:bar\",\"$V1\"]" \
	"save IMAGE NAME: NAME is another tag of the image (localhost/ for a short one)"

# -m: several images, shared layers once
lr save -m $V1 $V2 | cat >"$T/multi.tar"
is "$(manifest "$T/multi.tar" | jq -c '[.[] | .RepoTags[0]]')" "[\"$V1\",\"$V2\"]" "-m: both images in manifest.json"
is "$(tar tf "$T/multi.tar" | grep -c '\.tar$')" 4 "-m: the four layers, the two shared ones once"
run lf load -i "$T/multi.tar"
is "$out" "Loaded image: $V1
Loaded image: $V2
" "-m archive: load brings both"

# --- OCI archive and layout; docker-dir ---------------------------------------------------
lr save --format oci-archive $V1 | cat >"$T/oci.tar"
is "$(tar xOf "$T/oci.tar" oci-layout)" '{"imageLayoutVersion": "1.0.0"}' "oci-archive: oci-layout"
is "$(tar xOf "$T/oci.tar" index.json | jq -r '.manifests[0].annotations["org.opencontainers.image.ref.name"]')" "$V1" \
	"oci-archive: the name as ref.name"
mdig=$(tar xOf "$T/oci.tar" index.json | jq -r '.manifests[0].digest | ltrimstr("sha256:")')
is "$(tar xOf "$T/oci.tar" "blobs/sha256/$mdig" | jq -r '.config.digest, ([.layers[].mediaType] | unique | .[])')" \
	"sha256:$V1ID
application/vnd.oci.image.layer.v1.tar+gzip" "oci-archive: the config as stored (same ID), gzip layers"
ok_cmd "skopeo copies the oci-archive (checking every digest)" sk copy -q "oci-archive:$T/oci.tar" "dir:$T/sk-oci"
run lf load -i "$T/oci.tar"
is "$out" "Loaded image: $V1"$'\n' "oci-archive loads back under its name"
is "$("$LRUN" --root "$T/fresh$fresh" images --format '{{.ID}}')" "${V1ID:0:12}" "… with the same ID"
lr save --format oci-archive --uncompressed -o "$T/plain.tar" $V1 2>/dev/null
mkdir -p "$T/plain" && tar -C "$T/plain" -xf "$T/plain.tar"
is "$(file -b "$T/plain/blobs/sha256/"* | grep -c 'POSIX tar archive')" 3 "--uncompressed: the layers are plain tars"
lr save --format oci-dir -o "$T/layout" $V1 2>/dev/null
ok "$([ -f "$T/layout/index.json" ] && [ -f "$T/layout/oci-layout" ]; echo $?)" "oci-dir: a layout directory"
run lf load -i "$T/layout"
is "$rc" 0 "oci-dir loads back" || diag "$err"
lr save --format docker-dir -o "$T/dir" $V1 2>/dev/null
is "$(cat "$T/dir/version")" "Directory Transport Version: 1.1" "docker-dir: version"
is "$(jq -r .mediaType "$T/dir/manifest.json")" application/vnd.docker.distribution.manifest.v2+json "docker-dir: a schema 2 manifest"
ok_cmd "skopeo copies the docker-dir" sk copy -q "dir:$T/dir" "oci:$T/sk-dir:x"
if command -v podman >/dev/null; then
	run unshare -m sh -c 'mount --make-rprivate / && mount -t tmpfs tmpfs /var/lib && exec podman "$@"' podman \
		--root "$T/podman/root" --runroot "$T/podman/run" --storage-driver overlay --tmpdir "$T/podman/tmp" \
		load -q -i "$T/oci.tar"
	is "$rc:$out" "0:Loaded image: $V1"$'\n' "podman loads lrun's oci-archive"
else
	skip "podman not installed"
fi

# --- errors ---------------------------------------------------------------------------
run lr save -m --format oci-archive -o "$T/x.tar" $V1 $V2
is "$rc:$err" "125:Error: unsupported format \"oci-archive\" for saving multiple images (only docker-archive)"$'\n' \
	"oci-archive of two images"
ok "$([ ! -e "$T/x.tar" ]; echo $?)" "… writes nothing"
run lr save --format foo -o "$T/x.tar" $V1
is "$rc:$err" "125:Error: format value must be one of oci-dir oci-archive docker-dir docker-archive"$'\n' "an unknown format"
run lr save -o "$T/x.tar"
is "$rc:$err" "125:Error: need at least 1 argument"$'\n' "save without an image"
run lr save --compress -o "$T/x.tar" $V1
is "$rc:$err" "125:Error: --compress can only be set when --format is 'docker-dir'"$'\n' "--compress elsewhere"
echo "Danger, Will Robinson!! This is a corrupt tarball!" >"$T/corrupt"
snap=$(store_snapshot "$R")
run sh -c "'$LRUN' --root '$R' load <'$T/corrupt'"
is "$rc" 125 "load of something that is no image, from stdin: exit 125"
is "$(head -1 <<<"$err")" "Error: payload does not match any of the supported image formats:" "… podman's message"
is "$(grep -c '^ \* ' <<<"$err")" 3 "… and why each format did not fit"
run lr image load -i "$T/corrupt"
is "$rc:$(head -1 <<<"$err")" "125:Error: payload does not match any of the supported image formats:" "image load -i FILE too"
is "$(store_snapshot "$R")" "$snap" "the store is as it was"

done_testing
