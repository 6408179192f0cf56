#!/bin/bash
# lrun pull of multi-platform images: a docker manifest list and an OCI index
# (made by the test and PUT into a real registry), --platform, --arch,
# --variant, no match, pull by the list's digest.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/tap.sh"
. "$here/../lib/fixtures.sh"
. "$here/../lib/registry.sh"

reg_test_begin index

fx_servidorweb "$T/fx" || bail "fixtures do not build"
reg_start main "$T/storage" || bail "the registry does not start"
R=127.0.0.1:$REG_PORT LOG=$REG_LOG
# v1 plays linux/amd64 and v2 linux/arm64/v8 (lrun picks by the index's
# platform entries; the configs are not checked against them)
reg_push "docker-archive:$T/fx/v1.tar" "docker://$R/multi:amd64" &&
reg_push "docker-archive:$T/fx/v2.tar" "docker://$R/multi:arm64" &&
reg_push "oci:$T/fx/v1-oci:v1" "docker://$R/multi:amd64-oci" &&
reg_push "oci:$T/fx/v2-oci:v2" "docker://$R/multi:arm64-oci" || bail "skopeo cannot push the fixtures"

D2=application/vnd.docker.distribution.manifest.v2+json LIST=application/vnd.docker.distribution.manifest.list.v2+json
OCI=application/vnd.oci.image.manifest.v1+json INDEX=application/vnd.oci.image.index.v1+json
descriptor() { # TAG TYPE PLATFORM-JSON
	curl -sSf -H "Accept: $2" "http://$R/v2/multi/manifests/$1" >"$T/m"
	jq -cn --arg t "$2" --arg d "sha256:$(fx_sha256 "$T/m")" --argjson s "$(stat -c %s "$T/m")" --argjson p "$3" \
		'{mediaType: $t, size: $s, digest: $d, platform: $p}'
}
AMD='{"architecture":"amd64","os":"linux"}' ARM='{"architecture":"arm64","os":"linux","variant":"v8"}'
PPC='{"architecture":"ppc64le","os":"linux"}'
jq -cn --arg t "$LIST" --argjson a "$(descriptor amd64 $D2 "$AMD")" --argjson b "$(descriptor arm64 $D2 "$ARM")" \
	'{schemaVersion: 2, mediaType: $t, manifests: [$b, $a]}' >"$T/list.json"
jq -cn --arg t "$INDEX" --argjson a "$(descriptor amd64-oci $OCI "$AMD")" --argjson b "$(descriptor arm64-oci $OCI "$ARM")" \
	--argjson c "$(descriptor arm64-oci $OCI "$PPC")" '{schemaVersion: 2, mediaType: $t, manifests: [$c, $a, $b]}' >"$T/index.json"
reg_put_manifest "http://$R/v2/multi/manifests/list" "$LIST" "$T/list.json" &&
reg_put_manifest "http://$R/v2/multi/manifests/index" "$INDEX" "$T/index.json" || bail "cannot PUT the indexes"
LIST_DIGEST=sha256:$(fx_sha256 "$T/list.json") INDEX_DIGEST=sha256:$(fx_sha256 "$T/index.json")

V1=$(reg_archive_id "$T/fx/v1.tar") V2=$(reg_archive_id "$T/fx/v2.tar")
lr() { "$LRUN" --root "$T/root" "$@"; }
big_data() { jq -r --arg id "$1" '.[] | select(.id == $id) | .["big-data-names"] | join(" ")' "$T/root/overlay-images/images.json"; }

# --- docker manifest list ----------------------------------------------------------
out=$(lr pull "$R/multi:list" 2>"$T/err")
ok $? "pull a manifest list" || diag "$(cat "$T/err")"
is "$out" "$V1" "the default platform (linux/amd64) is chosen"
like "$(big_data "$V1")" "manifest-$LIST_DIGEST" "the list is kept as manifest-<list digest>"
is "$(jq -r --arg id "$V1" '.[] | select(.id == $id) | .digest' "$T/root/overlay-images/images.json")" \
	"$(jq -r '.manifests[1].digest' "$T/list.json")" "the image digest is the chosen manifest's"
before=$(reg_blob_gets "$LOG" multi)
out=$(lr pull --platform linux/arm64 "$R/multi:list" 2>"$T/err")
ok $? "pull --platform linux/arm64" || diag "$(cat "$T/err")"
is "$out" "$V2" "the arm64 image"
is "$(( $(reg_blob_gets "$LOG" multi) - before ))" 2 "its config and one layer downloaded (two layers shared)"
is "$(lr images --format '{{.Tag}} {{.ID}}' | sort | tr '\n' ' ')" "<none> ${V1:0:12} list ${V2:0:12} " \
	"the tag moved to the arm64 image"

# --- OCI index ---------------------------------------------------------------------
out=$("$LRUN" --root "$T/root2" pull --arch arm64 --variant v8 "$R/multi:index" 2>"$T/err")
ok $? "pull an OCI index with --arch/--variant" || diag "$(cat "$T/err")"
is "$out" "$V2" "--arch arm64 --variant v8"
out=$("$LRUN" --root "$T/root2" pull --platform linux/ppc64le "$R/multi:index" 2>"$T/err")
ok $? "pull --platform linux/ppc64le" || diag "$(cat "$T/err")"
is "$out" "$V2" "the entry for ppc64le (first in the index)"
out=$("$LRUN" --root "$T/root2" pull -q --platform linux/amd64 "$R/multi@$INDEX_DIGEST" 2>"$T/err")
ok $? "pull by the index digest" || diag "$(cat "$T/err")"
is "$out" "$V1" "by the index digest: the amd64 image"
is "$("$LRUN" --root "$T/root2" inspect --format '{{.ManifestType}}' "$V1")" "$OCI" "its OCI manifest is stored"
is "$(reg_check_store "$T/root2")" "" "the store is consistent"

# --- no image for the platform ---------------------------------------------------
"$LRUN" --root "$T/root3" pull --platform linux/arm/v7 "$R/multi:list" >/dev/null 2>"$T/err"
is "$?" 125 "no match: exit 125"
is "$(tail -n 1 "$T/err")" "Error: initializing source docker://$R/multi:list: choosing an image from manifest list docker://$R/multi:list: no image found in manifest list for architecture arm, variant \"v7\", OS linux" \
	"no match: the message names the platform"
is "$(jq length "$T/root3/overlay-layers/layers.json" 2>/dev/null || echo 0)" 0 "no match: nothing stored"
"$LRUN" --root "$T/root3" pull --platform linux/arm64/v7 "$R/multi:index" >/dev/null 2>&1
is "$?" 125 "a variant that is not there does not match"

done_testing
