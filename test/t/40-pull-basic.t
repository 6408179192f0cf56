#!/bin/bash
# lrun pull from a real registry (Debian's docker-registry on 127.0.0.1, plain
# http): docker schema2 and OCI manifests, gzip and zstd layers, shared layers
# (v2 after v1 downloads one layer), a second pull downloads nothing, digest
# pinning, podman's output, errors that leave the store as it was.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/tap.sh"
. "$here/../lib/fixtures.sh"
. "$here/../lib/registry.sh"

reg_test_begin basic

fx_servidorweb "$T/fx" || bail "fixtures do not build"
fx_oci_layout --zstd "$T/zst" zst "$T/fx/layers/1.tar" "$T/fx/layers/3v1.tar" || bail "zstd fixture"
reg_start main "$T/storage" || bail "the registry does not start"
R=127.0.0.1:$REG_PORT LOG=$REG_LOG
reg_push "docker-archive:$T/fx/v1.tar" "docker://$R/servidorweb:v1" &&
reg_push "docker-archive:$T/fx/v2.tar" "docker://$R/servidorweb:v2" &&
reg_push "oci:$T/fx/v2-oci:v2" "docker://$R/oci/servidorweb:v2" &&
reg_push "oci:$T/zst:zst" "docker://$R/zst:v1" || bail "skopeo cannot push the fixtures"

lr() { "$LRUN" --root "$T/root" "$@"; }
manifest_digest() { # REPO REF ACCEPT
	curl -sSfI -H "Accept: $3" "http://$R/v2/$1/manifests/$2" | tr -d '\r' | awk 'tolower($1) == "docker-content-digest:" {print $2}'
}
layer_gets() { # LOG REPO CONFIG_DIGEST: blob GETs that are not the config
	grep "\"GET /v2/$2/blobs/sha256:" "$1" | grep -vc "$3"
}
V1=$(reg_archive_id "$T/fx/v1.tar") V2=$(reg_archive_id "$T/fx/v2.tar")
D2=application/vnd.docker.distribution.manifest.v2+json
OCI=application/vnd.oci.image.manifest.v1+json
M1=$(manifest_digest servidorweb v1 $D2)

# --- first pull: docker schema2, three gzip layers ---------------------------
out=$(lr pull "$R/servidorweb:v1" 2>"$T/err")
ok $? "pull $R/servidorweb:v1"
is "$out" "$V1" "stdout is the full image ID"
is "$(sed -n '1,2p' "$T/err")" "Trying to pull $R/servidorweb:v1...
Getting image source signatures" "stderr starts as podman's"
is "$(grep -c '^Copying blob [0-9a-f]\{12\} done$' "$T/err")" 3 "three 'Copying blob ... done' lines"
is "$(tail -n 3 "$T/err")" "Copying config ${V1:0:10} done
Writing manifest to image destination
Storing signatures" "stderr ends as podman's"
is "$(layer_gets "$LOG" servidorweb "$V1")" 3 "three layer blobs downloaded"
is "$(lr images --format '{{.Repository}}:{{.Tag}} {{.ID}}')" "$R/servidorweb:v1 ${V1:0:12}" "images lists it"
is "$(jq -r '.[0].digest' "$T/root/overlay-images/images.json")" "$M1" "the image digest is the manifest's"
is "$(lr inspect --format '{{.ManifestType}}' "$R/servidorweb:v1")" "$D2" "the schema2 manifest is stored as pulled"
is "$(jq -c '[.[] | .compression]' "$T/root/overlay-layers/layers.json")" "[2,2,2]" "layers recorded as gzip"
is "$(jq -r '.[2]["diff-digest"]' "$T/root/overlay-layers/layers.json")" \
	"sha256:$(fx_sha256 "$T/fx/layers/3v1.tar")" "diff-digest is the layer tar's"
top=$(jq -r '.[0].layer' "$T/root/overlay-images/images.json")
is "$(cat "$T/root/overlay/$top/diff/etc/servidorweb-version")" v1 "the top layer's files are there"
is "$(reg_check_store "$T/root")" "" "the store is consistent"

# --- the same again: manifest only, no blob --------------------------------------
before=$(reg_blob_gets "$LOG" servidorweb)
start=$(date +%s%N)
out=$(lr pull "$R/servidorweb:v1" 2>"$T/err")
ok $? "pull v1 again"
ms=$(( ($(date +%s%N) - start) / 1000000 ))
is "$out" "$V1" "same image ID"
is "$(reg_blob_gets "$LOG" servidorweb)" "$before" "no blob downloaded the second time"
is "$(grep -c 'skipped: already exists$' "$T/err")" 3 "every layer 'skipped: already exists'"
ok "$([ "$ms" -lt 2000 ] && echo 0 || echo 1)" "the second pull is quick (${ms} ms)"
is "$(grep -c '"GET /v2/servidorweb/manifests/v1 ' "$LOG")" 2 "the tag was resolved again"

# --- v2 after v1: one layer -------------------------------------------------------
before=$(layer_gets "$LOG" servidorweb "$V2")
out=$(lr pull "$R/servidorweb:v2" 2>"$T/err")
ok $? "pull v2 after v1"
is "$out" "$V2" "v2's image ID"
is "$(( $(layer_gets "$LOG" servidorweb "$V2") - before ))" 1 "exactly one layer blob downloaded"
is "$(grep -c 'skipped: already exists$' "$T/err")" 2 "two layers skipped"
is "$(grep -c 'done$' "$T/err")" 2 "one layer and the config copied"
is "$(jq length "$T/root/overlay-layers/layers.json")" 4 "four layers in the store"
is "$(lr image tree "$R/servidorweb:v2" | grep -c '── ID:')" 3 "v2 stacks three layers"
is "$(reg_check_store "$T/root")" "" "the store is consistent"

# --- OCI manifest (and a repository path with a namespace) into a fresh store ---
out=$("$LRUN" --root "$T/root2" pull "$R/oci/servidorweb:v2" 2>"$T/err")
ok $? "pull an OCI image" || diag "$(cat "$T/err")"
is "$out" "$V2" "same config, same image ID"
is "$("$LRUN" --root "$T/root2" inspect --format '{{.ManifestType}}' "$R/oci/servidorweb:v2")" "$OCI" "OCI manifest kept"
is "$(jq -r '.[0].digest' "$T/root2/overlay-images/images.json")" "$(manifest_digest oci/servidorweb v2 $OCI)" \
	"the image digest is the OCI manifest's"
is "$(jq -r '.[0]["compressed-diff-digest"]' "$T/root2/overlay-layers/layers.json")" \
	"$(jq -r '.layers[0].digest' "$T/fx/v2-oci/blobs/sha256/$(jq -r '.manifests[0].digest[7:]' "$T/fx/v2-oci/index.json")")" \
	"compressed-diff-digest is the blob's digest"

# --- zstd layers ---------------------------------------------------------------------
out=$("$LRUN" --root "$T/root2" pull "$R/zst:v1" 2>"$T/err")
ok $? "pull an image with zstd layers" || diag "$(cat "$T/err")"
is "$(jq -r --arg id "$(fx_sha256 "$T/fx/layers/3v1.tar")" \
	'[.[] | select(.["diff-digest"] == "sha256:" + $id) | .compression] | .[0]' "$T/root2/overlay-layers/layers.json")" 4 \
	"zstd recorded (compression 4)"
is "$(reg_check_store "$T/root2")" "" "the store is consistent"

# --- digest pinning ----------------------------------------------------------------------
out=$(lr pull "$R/servidorweb@$M1" 2>"$T/err")
ok $? "pull by digest" || diag "$(cat "$T/err")"
is "$out" "$V1" "by digest: v1"
is "$(lr images --format '{{.Repository}}:{{.Tag}}' | sort | tr '\n' ' ')" "$R/servidorweb:v1 $R/servidorweb:v2 " \
	"images lists the tagged names only (as podman)"
is "$(jq -r --arg id "$V1" '.[] | select(.id == $id) | .names | join(" ")' "$T/root/overlay-images/images.json")" \
	"$R/servidorweb@$M1 $R/servidorweb:v1" "the digested name is stored"

# --- -q ---------------------------------------------------------------------------------
out=$(lr pull -q "$R/servidorweb:v2" 2>"$T/err")
is "$out:$(cat "$T/err")" "$V2:" "-q prints the ID only"

# --- failures leave the store as it was ---------------------------------------------
snapshot() { cat "$T/root/overlay-layers/layers.json" "$T/root/overlay-images/images.json" | sha256sum; }
before=$(snapshot)
lr pull "$R/servidorweb:nope" >"$T/out" 2>"$T/err"
is "$?" 125 "an unknown tag: exit 125"
is "$(cat "$T/err")" "Trying to pull $R/servidorweb:nope...
Error: initializing source docker://$R/servidorweb:nope: reading manifest nope in $R/servidorweb: manifest unknown: manifest unknown" \
	"an unknown tag: podman's message"
is "$(cat "$T/out")" "" "nothing on stdout"
lr pull -q "$R/nothere:v1" 2>"$T/err"
is "$?" 125 "an unknown repository: exit 125"
like "$(cat "$T/err")" "^Error: .*reading manifest v1 in $R/nothere: (manifest|name) unknown: " \
	"an unknown repository: the registry's message"
lr pull -q "$R/servidorweb@sha256:$(printf '%064d' 0)" 2>"$T/err"
like "$(cat "$T/err")" "manifest unknown" "an unknown digest"
lr pull -q --platform linux "$R/servidorweb:v1" 2>"$T/err"
like "$(cat "$T/err")" '^Error: invalid platform "linux"' "a bad --platform"
closed=$(reg_free_port)
lr pull -q "127.0.0.1:$closed/x:v1" 2>"$T/err"
is "$?" 125 "nothing listening: exit 125"
like "$(cat "$T/err")" "dial tcp 127.0.0.1:$closed: Connection refused" "nothing listening: connection refused"
lr pull -q "Bad/Name" 2>"$T/err"
like "$(cat "$T/err")" "^Error: invalid reference" "an invalid name"
is "$(snapshot)" "$before" "the store is unchanged after the failures"
is "$(reg_check_store "$T/root")" "" "and consistent"

# --- podman reads what lrun pulled ---------------------------------------------------------
if command -v podman >/dev/null; then
	mkdir -p "$T/prun" "$T/ptmp"
	out=$(unshare -m sh -c 'mount -t tmpfs tmpfs /var/lib && exec podman --root "$1" --runroot "$2" --tmpdir "$3" \
		--storage-driver overlay --cgroup-manager cgroupfs --events-backend file images --format "{{.Repository}}:{{.Tag}}"' \
		sh "$T/root" "$T/prun" "$T/ptmp" 2>&1 | sort | tr '\n' ' ')
	is "$out" "$R/servidorweb:v1 $R/servidorweb:v2 " "podman lists the pulled images"
else
	skip "podman not installed"
fi

done_testing
