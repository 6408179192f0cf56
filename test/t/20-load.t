#!/bin/bash
# lrun load: docker-archive, OCI layout dir, oci-archive (gzip, zstd),
# multi-image archives; the podman/containers-storage layout it writes; layer
# sharing ("skipped: already exists"); corrupt inputs leave the store as it was.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/store-test.sh"
store_start servidorweb

# Known values (podman 4.3.1 on the same fixtures, /work/ref)
L1=d5ea046f6b72564323cd586a066831477b3d7246be35c7b87cb79eda3db027c4
L2=24db95f1fcb2e2bb9f6cc675a30ffee0c93d2d0f561e06484129aaa71e0f7c7b
V1ID=53295387bff92584f39da531cba95b308e801ff87fc40eec8eefd4544783976b
V1DIGEST=sha256:5cec53ea7a81b560b5bb8f2255aef34c98e71992ef44d546d95d10c876387b3d
V2ID=fcdac5024f2875942e41adc74a869b4f952a64aab07b6a8209066c4de2005153
CFG='{"Cmd":["/bin/busybox","httpd","-f","-p","8080","-h","/var/www"],"WorkingDir":"/var/www"}'
D1=$(sha256 "$F/layers/1.tar") D2=$(sha256 "$F/layers/2.tar")
D3=$(sha256 "$F/layers/3v1.tar") D3b=$(sha256 "$F/layers/3v2.tar")
S1=$(stat -c %s "$F/layers/1.tar") S2=$(stat -c %s "$F/layers/2.tar")
S3=$(stat -c %s "$F/layers/3v1.tar") S3b=$(stat -c %s "$F/layers/3v2.tar")
chain_id() { printf '%s+%s' "$1" "$2" | sha256sum | cut -c1-64; }
L3=$(chain_id "$L2" "$D3") L3b=$(chain_id "$L2" "$D3b")
is "$D1" "$L1" "fixture sanity: layer 1 diff_id is podman's d5ea046f6b72 (same fixtures as the reference)"
is "$(chain_id "$D1" "$D2")" "$L2" "layer 2 ID = sha256(parent + '+' + diffid) = 24db95f1fcb2"
is "${L3:0:12}" bc1dd8d4b778 "v1 top layer ID computed as podman's bc1dd8d4b778"

R=$T/store
ndirs() { find "$R/overlay" -mindepth 1 -maxdepth 1 -type d ! -name l | wc -l; }
lj() { jq -c "$@" "$R/overlay-layers/layers.json"; }
ij() { jq -c "$@" "$R/overlay-images/images.json"; }

# ================================================================ v1.tar =======
run lr load -i "$F/v1.tar"
is "$rc" 0 "load v1.tar exits 0"
is "$out" $'Loaded image: localhost:5000/servidorweb:v1\n' "load v1: stdout is exactly the Loaded image line"
is "$(progress_norm <<<"$err")" "$(progress_expect $V1ID "$D1 done" "$D2 done" "$D3 done")" \
	"load v1: stderr progress lines (3 blobs done, config done, manifest, signatures)"
like "$err" $'^Getting image source signatures\nCopying blob [0-9a-f]{12} done\n' "load v1: blob lines come right after the first line"
like "$err" $'\nStoring signatures\n$' "load v1: stderr ends with 'Storing signatures' and a newline"

# --- layer directories ---
is "$(cd "$R/overlay" && ls -A | sort | tr '\n' ' ')" "$(printf '%s\n' $L1 $L2 $L3 l | sort | tr '\n' ' ')" \
	"overlay/ holds exactly the 3 layer dirs and l/"
n=0
for id in $L1 $L2 $L3; do
	n=$((n + 1)); d=$R/overlay/$id
	for sub in diff work merged; do
		ok "$( [ -d "$d/$sub" ] && [ ! -L "$d/$sub" ]; echo $?)" "layer $n: $sub/ is a directory"
	done
	is "$(stat -c %a "$d" "$d/work" "$d/merged" 2>&1 | tr '\n' ' ')" "700 700 700 " "layer $n: <id>/, work/, merged/ are mode 700"
	ok "$( [ -f "$d/link" ]; echo $?)" "layer $n: link file exists"
	link=$(cat "$d/link" 2>/dev/null)
	like "$link" '^[A-Z2-7]{26}$' "layer $n: link is 26 chars of [A-Z2-7]"
	is "$(stat -c %s "$d/link" 2>&1)" 26 "layer $n: link has no trailing newline (26 bytes)"
	is "$(stat -c %a "$d/link" 2>&1)" 644 "layer $n: link is mode 644"
	ok "$( [ -L "$R/overlay/l/$link" ]; echo $?)" "layer $n: overlay/l/<link> is a symlink"
	is "$(readlink "$R/overlay/l/$link")" "../$id/diff" "layer $n: overlay/l/<link> -> ../<id>/diff"
	ok "$( [ -d "$R/overlay/l/$link/" ]; echo $?)" "layer $n: the l/ symlink resolves to the diff dir"
	declare "LINK$n=$link"
done
ok "$( [ -d "$R/overlay/$L1/empty" ] && [ ! -e "$R/overlay/$L1/lower" ]; echo $?)" "base layer: has empty/ and no lower"
is "$(stat -c %a "$R/overlay/$L1/empty" 2>&1)" 700 "base layer: empty/ is mode 700"
for id in $L2 $L3; do
	ok "$( [ -f "$R/overlay/$id/lower" ] && [ ! -e "$R/overlay/$id/empty" ]; echo $?)" "layer ${id:0:12}: has lower and no empty/"
done
is "$(cat "$R/overlay/$L2/lower")" "l/$LINK1" "layer 2: lower is exactly l/<link1>"
is "$(cat "$R/overlay/$L3/lower")" "l/$LINK2:l/$LINK1" "layer 3: lower is exactly l/<link2>:l/<link1>"
is "$(stat -c %s "$R/overlay/$L3/lower")" $(( 2 + 26 + 1 + 2 + 26 )) "layer 3: lower has no trailing newline"
is "$(ls "$R/overlay/l" | wc -l)" 3 "overlay/l holds 3 links"
is "$(printf '%s\n' "$LINK1" "$LINK2" "$LINK3" | sort -u | wc -l)" 3 "the 3 links differ"

# --- extracted content ---
d1=$R/overlay/$L1/diff d2=$R/overlay/$L2/diff d3=$R/overlay/$L3/diff
ok "$(cmp -s "$d1/bin/busybox" /bin/busybox; echo $?)" "layer 1: bin/busybox extracted byte for byte"
is "$(readlink "$d1/bin/sh")" busybox "layer 1: bin/sh symlink kept"
is "$(stat -c '%a %u:%g' "$d1/tmp" "$d1/home/app" "$d1/root" "$d1/etc/passwd" | tr '\n' ' ')" \
	"1777 0:0 755 1000:1000 700 0:0 644 0:0 " "layer 1: modes and owners from the tar (tmp 1777, home/app 1000:1000)"
is "$(stat -c %s "$d2/var/www/blob.bin" 2>&1)" 204800 "layer 2: var/www/blob.bin has its 204800 bytes"
is "$(cat "$d3/etc/servidorweb-version" 2>&1)" v1 "layer 3: etc/servidorweb-version = v1"
is "$(stat -c %Y "$d2/var/www/index.html" 2>&1)" 1700000000 "layer 2: mtime from the tar"

# --- layers.json ---
L=$R/overlay-layers/layers.json
is "$(lj '[.[].id]')" "[\"$L1\",\"$L2\",\"$L3\"]" "layers.json: the 3 layers in creation order"
exp() { # parent diffhex size
	jq -cn --arg p "$1" --arg d "sha256:$2" --argjson s "$3" \
		'[(if $p == "" then null else $p end), $d, $s, $d, $s, false, null]'
}
fields='.[] | select(.id == $id) | [.parent, ."diff-digest", ."diff-size", ."compressed-diff-digest", ."compressed-size", (.flags.incomplete // false), .compression]'
is "$(lj --arg id $L1 "$fields")" "$(exp "" $D1 $S1)" "layers.json layer 1: no parent, diff-digest/size = sha256/bytes of the tar, compressed-* equal, not incomplete"
is "$(lj --arg id $L2 "$fields")" "$(exp $L1 $D2 $S2)" "layers.json layer 2: parent layer 1, digests and sizes of its tar"
is "$(lj --arg id $L3 "$fields")" "$(exp $L2 $D3 $S3)" "layers.json layer 3: parent layer 2, digests and sizes of its tar"
is "$(lj '[.[] | select(has("flags") and (.flags | has("incomplete")))] | length')" 0 "layers.json: no layer carries an incomplete flag"
is "$(lj '[.[] | .created | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]+)?Z$")] | all')" true "layers.json: created is RFC 3339 UTC"
is "$(lj '[.[] | [.uidset, .gidset]]')" '[[[0,1000],[0,1000]],[[0],[0]],[[0],[0]]]' "layers.json: uidset/gidset list the owners in each layer"
is "$(wc -l <"$L") $(tail -c1 "$L")" "0 ]" "layers.json is compact, without trailing newline"
for id in $L1 $L2 $L3; do
	ok "$(gzip -t "$R/overlay-layers/$id.tar-split.gz" 2>/dev/null; echo $?)" "overlay-layers/${id:0:12}….tar-split.gz exists (gzip)"
done

# --- images.json and big data ---
I=$R/overlay-images/images.json
is "$(ij 'length')" 1 "images.json: one image"
is "$(ij '.[0] | [.id, .digest, .names, .layer, .created]')" \
	"[\"$V1ID\",\"$V1DIGEST\",[\"localhost:5000/servidorweb:v1\"],\"$L3\",\"2023-11-14T22:13:20Z\"]" \
	"images.json: id = config digest, digest = podman's 5cec53ea…, names, layer = top layer, created from config"
mhex=${V1DIGEST#sha256:}
bd_names="[\"sha256:$V1ID\",\"manifest-sha256:$mhex\",\"manifest\",\"signature-$mhex\"]"
is "$(ij '.[0]."big-data-names"')" "$bd_names" "images.json: big-data-names in podman's order"
is "$(ij -r '.[0].metadata')" "{\"signatures-sizes\":{\"$V1DIGEST\":[]}}" "images.json: metadata signatures-sizes"
is "$(ij '.[0]."names-history"')" '["localhost:5000/servidorweb:v1"]' "images.json: names-history"
bdfile() { if [ "$1" = manifest ]; then printf manifest; else printf '=%s' "$(printf '%s' "$1" | base64 -w0)"; fi; }
expfiles=$(for k in $(jq -r '.[]' <<<"$bd_names"); do bdfile "$k"; echo; done | sort)
is "$(ls -A "$R/overlay-images/$V1ID" 2>&1 | sort)" "$expfiles" "overlay-images/<id>/: '=' + base64(key) per big-data key, plus literal manifest"
ID_DIR=$R/overlay-images/$V1ID
cfgname=$(tar xOf "$F/v1.tar" manifest.json | jq -r '.[0].Config')
ok "$(cmp -s <(tar xOf "$F/v1.tar" "$cfgname") "$ID_DIR/$(bdfile "sha256:$V1ID")"; echo $?)" "config big data = the archive's config bytes"
is "sha256:$(sha256 "$ID_DIR/manifest")" "$V1DIGEST" "stored manifest hashes to the image digest"
ok "$(cmp -s "$ID_DIR/manifest" "$ID_DIR/$(bdfile "manifest-sha256:$mhex")"; echo $?)" "manifest-sha256:<digest> = manifest"
is "$(jq -c '[.mediaType, .config.digest, [.layers[] | .digest, .size]]' "$ID_DIR/manifest")" \
	"[\"application/vnd.docker.distribution.manifest.v2+json\",\"sha256:$V1ID\",[\"sha256:$D1\",$S1,\"sha256:$D2\",$S2,\"sha256:$D3\",$S3]]" \
	"stored manifest: docker v2 schema 2, config and layer digests/sizes"
is "$(stat -c %s "$ID_DIR/$(bdfile "signature-$mhex")" 2>&1)" 0 "signature big data is empty"
sizes_ok=0 digests_ok=0
for k in $(jq -r '.[]' <<<"$bd_names"); do
	f=$ID_DIR/$(bdfile "$k")
	[ "$(ij --arg k "$k" '.[0]."big-data-sizes"[$k]')" = "$(stat -c %s "$f" 2>/dev/null)" ] || sizes_ok=1
	[ "$(ij -r --arg k "$k" '.[0]."big-data-digests"[$k]')" = "sha256:$(sha256 "$f" 2>/dev/null)" ] || digests_ok=1
done
ok $sizes_ok "big-data-sizes match the files"
ok $digests_ok "big-data-digests match the files"
is "$(stat -c %a "$ID_DIR" $(for k in $(jq -r '.[]' <<<"$bd_names"); do echo "$ID_DIR/$(bdfile "$k")"; done) | tr '\n' ' ')" \
	"700 600 600 600 600 " "overlay-images/<id>/ is 700, big-data files 600"
is "$(wc -l <"$I") $(tail -c1 "$I")" "0 ]" "images.json is compact, without trailing newline"

# --- locks and modes ---
for f in storage.lock overlay-layers/layers.lock overlay-images/images.lock; do
	is "$(stat -c %s "$R/$f" 2>&1)" 64 "$f exists and holds a 64-byte token"
done
is "$(stat -c %a "$L" "$I" | tr '\n' ' ')" "600 600 " "layers.json and images.json are mode 600"
is "$(stat -c %a "$R" "$R/overlay-layers" "$R/overlay-images" | tr '\n' ' ')" "700 700 700 " "root, overlay-layers/, overlay-images/ are mode 700"

# ================================================================ v2.tar =======
before=$(ndirs)
ino=$(stat -c %i "$d1/bin/busybox")
l12=$(lj --arg a $L1 --arg b $L2 '[.[] | select(.id == $a or .id == $b)]')
run lr load -i "$F/v2.tar"
is "$rc" 0 "load v2.tar exits 0"
is "$out" $'Loaded image: localhost:5000/servidorweb:v2\n' "load v2: stdout"
is "$(progress_norm <<<"$err")" "$(progress_expect $V2ID "$D1 skipped" "$D2 skipped" "$D3b done")" \
	"load v2: the 2 shared blobs 'skipped: already exists', the new one 'done'"
is "$(grep -c 'skipped: already exists' <<<"$err")" 2 "load v2: exactly 2 skipped lines"
is "$(( $(ndirs) - before ))" 1 "load v2: exactly one new directory under overlay/"
ok "$( [ -d "$R/overlay/$L3b/diff" ]; echo $?)" "load v2: the new directory is the v2 top layer $(echo ${L3b:0:12})"
is "$(stat -c %i "$d1/bin/busybox")" "$ino" "load v2: the shared base layer was not extracted again (same inode)"
is "$(lj --arg a $L1 --arg b $L2 '[.[] | select(.id == $a or .id == $b)]')" "$l12" "load v2: records of the shared layers unchanged"
LINK3b=$(cat "$R/overlay/$L3b/link")
is "$(cat "$R/overlay/$L3b/lower")" "l/$LINK2:l/$LINK1" "v2 top layer: lower = l/<link2>:l/<link1>"
is "$(lj --arg id $L3b "$fields")" "$(exp $L2 $D3b $S3b)" "layers.json: v2 top layer record"
is "$(ij '[.[].id]')" "[\"$V1ID\",\"$V2ID\"]" "images.json: v1 and v2"

# ================================================================ v1 again =====
before=$(ndirs); lbefore=$(cat "$L")
run lr load -i "$F/v1.tar"
is "$rc" 0 "load v1.tar again exits 0"
is "$out" $'Loaded image: localhost:5000/servidorweb:v1\n' "load v1 again: stdout"
is "$(progress_norm <<<"$err")" "$(progress_expect $V1ID "$D1 skipped" "$D2 skipped" "$D3 skipped")" \
	"load v1 again: 3 blobs skipped, config done"
is "$(ndirs)" "$before" "load v1 again: no new directory"
is "$(cat "$L")" "$lbefore" "load v1 again: layers.json unchanged"
is "$(ij '[.[] | [.id, .names]]')" "[[\"$V1ID\",[\"localhost:5000/servidorweb:v1\"]],[\"$V2ID\",[\"localhost:5000/servidorweb:v2\"]]]" \
	"load v1 again: still 2 images with the same names"

# ============================================================ OCI layout dir ===
mdig=$(jq -r '.manifests[0].digest' "$F/v1-oci/index.json")
man=$F/v1-oci/blobs/sha256/${mdig#sha256:}
mapfile -t blobs < <(jq -r '.layers[].digest[7:]' "$man")
before=$(ndirs); lbefore=$(cat "$L")
run lr load -i "$F/v1-oci"
is "$rc" 0 "load OCI layout dir v1-oci exits 0"
is "$out" $'Loaded image: localhost/v1-oci:latest\n' "load v1-oci: 'Loaded image: localhost/v1-oci:latest' (the stored name; podman drops :latest here)"
is "$(progress_norm <<<"$err")" "$(progress_expect $V1ID "${blobs[0]} skipped" "${blobs[1]} skipped" "${blobs[2]} skipped")" \
	"load v1-oci: the gzip blobs (OCI digests) skipped: same diff ids as v1"
is "$(ndirs)" "$before" "load v1-oci: no new layer directory"
is "$(cat "$L")" "$lbefore" "load v1-oci: layers.json unchanged (same layer IDs)"
is "$(ij '[.[].id]')" "[\"$V1ID\",\"$V2ID\"]" "load v1-oci: same image ID as the docker-archive v1 (same config)"
is "$(ij --arg id $V1ID '.[] | select(.id == $id) | .names')" '["localhost/v1-oci:latest","localhost:5000/servidorweb:v1"]' \
	"load v1-oci: stored name localhost/v1-oci:latest prepended to names"
is "$(ij -r --arg id $V1ID '.[] | select(.id == $id) | .digest')" "$V1DIGEST" "load v1-oci: image digest kept"
ohex=${mdig#sha256:}
is "$(ij --arg id $V1ID --arg m "manifest-sha256:$ohex" --arg s "signature-$ohex" \
	'.[] | select(.id == $id) | ."big-data-names" | [index($m) != null, index($s) != null]')" '[true,true]' \
	"load v1-oci: the OCI manifest is added as manifest-sha256:<digest> + signature-<hex>"
ok "$(cmp -s "$man" "$ID_DIR/manifest"; echo $?)" "load v1-oci: 'manifest' now holds the OCI manifest bytes"

# ======================================================= oci-archive, gzip ====
R=$T/store-ociarch L=$T/store-ociarch/overlay-layers/layers.json
fx_oci_archive "$T/v2-ociarch.tar" v2arch "$F/layers/1.tar" "$F/layers/2.tar" "$F/layers/3v2.tar" || bail "fx_oci_archive"
mkdir "$T/oa" && tar -C "$T/oa" -xf "$T/v2-ociarch.tar"
mdig=$(jq -r '.manifests[0].digest' "$T/oa/index.json"); man=$T/oa/blobs/sha256/${mdig#sha256:}
cfgd=$(jq -r '.config.digest[7:]' "$man")
mapfile -t blobs < <(jq -r '.layers[].digest[7:]' "$man")
mapfile -t bsizes < <(jq -r '.layers[].size' "$man")
run lr load -i "$T/v2-ociarch.tar"
is "$rc" 0 "load oci-archive (gzip) exits 0"
is "$out" $'Loaded image: localhost/v2arch:latest\n' "load oci-archive: name from its ref.name annotation: localhost/v2arch:latest"
is "$(progress_norm <<<"$err")" "$(progress_expect "$cfgd" "${blobs[0]} done" "${blobs[1]} done" "${blobs[2]} done")" \
	"load oci-archive: stderr shows the gzip blob digests, all done"
is "$(ij '[.[] | [.id, .names, .layer]]')" "[[\"$cfgd\",[\"localhost/v2arch:latest\"],\"$L3b\"]]" \
	"oci-archive: image ID = config digest, name, top layer = the docker-archive v2 top layer ID"
i=0 all=1
for id in $L1 $L2 $L3b; do
	d=$D1 s=$S1; [ $i = 1 ] && d=$D2 s=$S2; [ $i = 2 ] && d=$D3b s=$S3b
	got=$(lj --arg id $id '.[] | select(.id == $id) | [.compression, ."compressed-diff-digest", ."compressed-size", ."diff-digest", ."diff-size"]')
	is "$got" "[2,\"sha256:${blobs[$i]}\",${bsizes[$i]},\"sha256:$d\",$s]" \
		"oci-archive layer $((i + 1)): compression 2 (gzip), compressed-* = blob, diff-* = tar"
	i=$((i + 1))
done
ok "$(cmp -s "$man" "$R/overlay-images/$cfgd/manifest"; echo $?)" "oci-archive: the OCI manifest is stored as is"
is "$(ij -r '.[0].digest')" "$mdig" "oci-archive: image digest = manifest digest"

# ======================================================= oci-archive, zstd ====
R=$T/store-zstd L=$T/store-zstd/overlay-layers/layers.json
fx_oci_archive --zstd --config "$CFG" "$T/z.tar" zref "$F/layers/1.tar" "$F/layers/2.tar" "$F/layers/3v1.tar" || bail "fx_oci_archive --zstd"
run lr load -i "$T/z.tar"
is "$rc" 0 "load oci-archive with zstd layers exits 0"
is "$out" $'Loaded image: localhost/zref:latest\n' "load zstd oci-archive: localhost/zref:latest"
is "$(lj '[.[] | [.id, .compression]]')" "[[\"$L1\",4],[\"$L2\",4],[\"$L3\",4]]" "zstd layers: same layer IDs as v1, compression 4"
is "$(lj '[.[] | ."diff-digest"]')" "[\"sha256:$D1\",\"sha256:$D2\",\"sha256:$D3\"]" "zstd layers: diff-digest of the uncompressed tars"
is "$(ij '[.[].id]')" "[\"$V1ID\"]" "zstd oci-archive with v1's config: image ID = v1's"
ok "$(cmp -s "$R/overlay/$L1/diff/bin/busybox" /bin/busybox; echo $?)" "zstd layer extracted correctly"
before=$(ndirs)
run lr load -i "$F/v1.tar"
is "$rc $out" $'0 Loaded image: localhost:5000/servidorweb:v1\n' "docker-archive v1 after the zstd image: loads"
is "$(progress_norm <<<"$err")" "$(progress_expect $V1ID "$D1 skipped" "$D2 skipped" "$D3 skipped")" "… all 3 layers skipped"
is "$(ndirs)" "$before" "… no new directory"
is "$(ij '[.[] | [.id, .names]]')" "[[\"$V1ID\",[\"localhost:5000/servidorweb:v1\",\"localhost/zref:latest\"]]]" \
	"… one image, the new name prepended"

# ================================================= multi-image docker-archive ==
R=$T/store-multi L=$T/store-multi/overlay-layers/layers.json
fx_docker_archive "$T/multi.tar" "localhost/m1:latest,localhost/m1:other" '{}' "$F/layers/1.tar" \
	-- localhost/m2:latest '{}' "$F/layers/1.tar" "$F/layers/3v2.tar" || bail "multi.tar"
m1=$(tar xOf "$T/multi.tar" manifest.json | jq -r '.[0].Config[:64]')
m2=$(tar xOf "$T/multi.tar" manifest.json | jq -r '.[1].Config[:64]')
run lr load -i "$T/multi.tar"
is "$rc" 0 "load a 2-image docker-archive exits 0"
is "$out" $'Loaded image: localhost/m1:latest\nLoaded image: localhost/m1:other\nLoaded image: localhost/m2:latest\n' \
	"multi: one Loaded image line per tag, in RepoTags order"
is "$(ij '[.[] | [.id, .names]]')" "[[\"$m1\",[\"localhost/m1:other\",\"localhost/m1:latest\"]],[\"$m2\",[\"localhost/m2:latest\"]]]" \
	"multi: both images stored (names as podman orders them)"
is "$(lj '[.[].id]')" "[\"$L1\",\"$(chain_id $L1 $D3b)\"]" "multi: 2 layers, the shared base stored once"
is "$(ij -r '.[1].layer')" "$(chain_id $L1 $D3b)" "multi: m2's top layer = sha256(base + '+' + diffid)"
is "$(grep -c '^Getting image source signatures$' <<<"$err") $(grep -c '^Copying config ' <<<"$err")" "1 2" \
	"multi: one progress block for the archive, a config line per image (podman repeats the block per tag)"

fx_docker_archive "$T/untagged.tar" "" '{}' "$F/layers/1.tar" "$F/layers/3v1.tar" || bail "untagged.tar"
u=$(tar xOf "$T/untagged.tar" manifest.json | jq -r '.[0].Config[:64]')
run lr load -i "$T/untagged.tar"
is "$rc $out" "0 Loaded image: sha256:$u"$'\n' "untagged archive: 'Loaded image: sha256:<id>'"
is "$(ij --arg id "$u" '.[] | select(.id == $id) | (.names // [])')" '[]' "untagged archive: image stored without names"

# ================================================================ corrupt input ==
R=$T/store-corrupt
lr load -i "$F/v1.tar" >/dev/null 2>&1 || bail "cannot load v1 for the corrupt-input tests"
snap0=$(store_snapshot "$R")
mkdir "$T/x"
x=$T/x
tar -C "$x" -xf "$F/v2.tar"
mktar() { (cd "$1" && tar cf "$2" "${@:3}"); }   # mktar DIR OUT MEMBERS...
members=$(cd "$x" && ls -d manifest.json *.json */ | sort -u)
# (a) one byte of the new layer changed (still a valid tar): diff_id mismatch
cp -a "$x" "$T/tamper"
printf '3' | dd of="$T/tamper/$D3b/layer.tar" bs=1 seek=1025 conv=notrunc 2>/dev/null
[ "$(tar xOf "$T/tamper/$D3b/layer.tar" etc/servidorweb-version)" = v3 ] || bail "tamper went wrong"
mktar "$T/tamper" "$T/tampered.tar" $members
# (b) truncated halfway, and truncated inside the (new) last layer with the
#     manifest and config first
head -c $(( $(stat -c %s "$F/v2.tar") / 2 )) "$F/v2.tar" >"$T/truncated.tar"
mktar "$x" "$T/ordered.tar" manifest.json $V2ID.json $D1/layer.tar $D2/layer.tar $D3b/layer.tar
blk=$(tar -tvRf "$T/ordered.tar" | awk -v m="$D3b/layer.tar" '$NF == m { sub(":", "", $2); print $2 }')
head -c $(( (blk + 1) * 512 + S3b / 2 )) "$T/ordered.tar" >"$T/truncated2.tar"
# (c) manifest.json is not JSON
cp -a "$x" "$T/badjson"; echo 'this is {not json' >"$T/badjson/manifest.json"
mktar "$T/badjson" "$T/badjson.tar" $members
# (d) manifest names a layer the archive lacks
cp -a "$x" "$T/nolayer"; rm -rf "$T/nolayer/$D3b"
mktar "$T/nolayer" "$T/nolayer.tar" manifest.json $V2ID.json $D1 $D2

corrupt() { # corrupt FILE REGEX NAME
	run lr load -i "$1"
	is "$rc" 125 "$3: exit 125"
	is "$out" "" "$3: nothing on stdout"
	like "$(grep '^Error: ' <<<"$err")" "$2" "$3: an Error: line naming the problem"
	is "$(store_snapshot "$R")" "$snap0" "$3: store unchanged (indexes, layer dirs, l/ links, big data)"
}
corrupt "$T/tampered.tar" '(digest|[Dd]iff.?[Ii][Dd]|DiffID)' "layer content not matching its diff_id"
corrupt "$T/truncated.tar" '([Tt]runcat|EOF|[Uu]nexpected end|short)' "archive truncated halfway"
corrupt "$T/truncated2.tar" '([Tt]runcat|EOF|[Uu]nexpected end|short)' "archive truncated inside the new layer"
corrupt "$T/badjson.tar" 'manifest\.json' "manifest.json that is not JSON"
corrupt "$T/nolayer.tar" "($D3b|[Mm]issing|not found|[Nn]o such)" "manifest naming a missing layer"
corrupt "$T/nonexistent.tar" 'nonexistent\.tar: [Nn]o such file or directory' "missing input file"
is "$(lr images --format '{{.ID}} {{.Repository}}:{{.Tag}}' 2>&1)" "${V1ID:0:12} localhost:5000/servidorweb:v1" \
	"after the failed loads only v1 is listed"
run lr load -i "$F/v2.tar"
is "$rc" 0 "the intact v2.tar loads after the failures"

done_testing
