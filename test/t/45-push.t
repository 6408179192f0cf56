#!/bin/bash
# lrun push to a real registry (Debian's docker-registry on 127.0.0.1):
# podman's output, the manifest format the image came in (docker schema 2
# for a docker-archive), monolithic and chunked uploads, v2 after v1 sends
# only the new layer (the registry's log says so), a layer another
# repository has is mounted, zstd and OCI, other transports, basic auth;
# what was pushed pulls back with the same digests (lrun, skopeo, podman);
# a push the registry refuses half-way leaves the store as it was.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/tap.sh"
. "$here/../lib/fixtures.sh"
. "$here/../lib/lrun.sh"
. "$here/../lib/registry.sh"

reg_test_begin push htpasswd

fx_servidorweb "$T/fx" || bail "fixtures do not build"
reg_start main "$T/storage" || bail "the registry does not start"
R=127.0.0.1:$REG_PORT LOG=$REG_LOG
V1=$(reg_archive_id "$T/fx/v1.tar") V2=$(reg_archive_id "$T/fx/v2.tar")
D1=$(sha256 "$T/fx/layers/1.tar") D2=$(sha256 "$T/fx/layers/2.tar")
D3=$(sha256 "$T/fx/layers/3v1.tar") D3b=$(sha256 "$T/fx/layers/3v2.tar")
S=localhost:5000/servidorweb
DOCKER=application/vnd.docker.distribution.manifest.v2+json
OCI=application/vnd.oci.image.manifest.v1+json

lr() { "$LRUN" --root "$T/root" "$@"; }
sk() { unshare -m sh -c 'mount -t tmpfs tmpfs /var/lib && exec skopeo --insecure-policy "$@"' sk "$@"; }
raw_manifest() { sk inspect --raw --tls-verify=false "docker://$R/$1"; }
# since: the registry's log lines after the mark; uploads/patches: blob
# uploads finished (PUT) and chunks (PATCH) in them, for repository $1
mark() { mark=$(wc -l <"$LOG"); }
since() { tail -n +$((mark + 1)) "$LOG"; }
uploads() { since | grep -c "\"PUT /v2/$1/blobs/uploads/"; }
patches() { since | grep -c "\"PATCH /v2/$1/blobs/uploads/"; }
for f in v1 v2; do lr load -i "$T/fx/$f.tar" >/dev/null 2>&1 || bail "load $f"; done
# the store's indexes and files, but for the blob cache (lrun/blob-info-cache*), which a push adds to
snapshot() { store_snapshot "$T/root" | grep -v '^\./lrun'; }
snap0=$(snapshot)

# --- v1: three layers and the config go up, then the manifest -----------------------
mark
lr push --digestfile "$T/digest1" $S:v1 "$R/servidorweb:v1" >"$T/out" 2>"$T/err"
ok $? "push v1" || diag "$(cat "$T/err")"
is "$(cat "$T/out")" "" "push: nothing on stdout"
is "$(cat "$T/err")" "Getting image source signatures
Copying blob ${D1:0:12} done
Copying blob ${D2:0:12} done
Copying blob ${D3:0:12} done
Copying config ${V1:0:10} done
Writing manifest to image destination
Storing signatures" "push: podman's progress lines"
is "$(uploads servidorweb)" 4 "the registry received 4 blobs (3 layers, the config)"
is "$(since | grep -c '"PUT /v2/servidorweb/manifests/v1 ')" 1 "and one manifest"
is "$(patches servidorweb)" 0 "small blobs go in one PUT (no PATCH)"
m1=$(raw_manifest servidorweb:v1)
is "$(jq -r .mediaType <<<"$m1")" "$DOCKER" "a docker-archive image goes as docker schema 2 (the format it came in)"
is "$(jq -r '[.layers[].mediaType] | unique | .[]' <<<"$m1")" application/vnd.docker.image.rootfs.diff.tar.gzip \
	"its layers go gzip'd"
is "$(jq -r .config.digest <<<"$m1")" "sha256:$V1" "the config goes byte for byte (the image ID stays)"
is "$(cat "$T/digest1")" "sha256:$(printf %s "$m1" | sha256sum | cut -c1-64)" "--digestfile: the manifest's digest"
is "$(snapshot)" "$snap0" "a push does not change the store"

# --- v2 after v1: only the new layer and the config ---------------------------------
mark
lr push $S:v2 "$R/servidorweb:v2" 2>"$T/err"
ok $? "push v2" || diag "$(cat "$T/err")"
is "$(grep '^Copying blob' "$T/err")" "Copying blob ${D1:0:12} skipped: already exists
Copying blob ${D2:0:12} skipped: already exists
Copying blob ${D3b:0:12} done" "v2: the two shared layers are skipped"
is "$(uploads servidorweb)" 2 "v2: the registry received 2 blobs (the new layer, the config)"
is "$(since | grep -c '"HEAD /v2/servidorweb/blobs/')" 4 "v2: the others were only checked (HEAD)"
m2=$(raw_manifest servidorweb:v2)
is "$(jq -r '.layers[0].digest, .layers[1].digest' <<<"$m2")" "$(jq -r '.layers[0].digest, .layers[1].digest' <<<"$m1")" \
	"v2's manifest names v1's blobs for the shared layers"
mark
lr push -q $S:v2 "$R/servidorweb:v2" >"$T/out" 2>"$T/err"
is "$?:$(cat "$T/out")$(cat "$T/err")" "0:" "push -q: silent"
is "$(uploads servidorweb)" 0 "pushing v2 again uploads nothing"

# --- pulled back: same image IDs and manifest digests ---------------------------------
P2=$T/pulled
"$LRUN" --root "$P2" pull -q "$R/servidorweb:v1" >/dev/null 2>&1 &&
	"$LRUN" --root "$P2" pull -q "$R/servidorweb:v2" >/dev/null 2>&1
ok $? "lrun pulls both back into another store"
is "$("$LRUN" --root "$P2" images --format '{{.ID}} {{.Digest}}' | sort)" \
	"$(printf '%s %s\n' "${V1:0:12}" "sha256:$(printf %s "$m1" | sha256sum | cut -c1-64)" \
		"${V2:0:12}" "sha256:$(printf %s "$m2" | sha256sum | cut -c1-64)" | sort)" \
	"pulled back: the same image IDs, digests = the pushed manifests'"
tree=$("$LRUN" --root "$P2" image tree "$R/servidorweb:v2")
is "$(grep -c '── ID: ' <<<"$tree")" 3 "pulled back v2: three layers"
is "$(jq '[.[] | select(.layer != null)] | length' "$P2/overlay-images/images.json") $(jq length "$P2/overlay-layers/layers.json")" \
	"2 4" "the two images share two layers in the other store (4 layers, not 6)"
ok_cmd "skopeo copies what was pushed (checking every digest)" sk copy -q --src-tls-verify=false \
	"docker://$R/servidorweb:v2" "dir:$T/sk-v2"
if command -v podman >/dev/null; then
	run unshare -m sh -c 'mount --make-rprivate / && mount -t tmpfs tmpfs /var/lib && exec podman "$@"' podman \
		--root "$T/podman/root" --runroot "$T/podman/run" --storage-driver overlay --tmpdir "$T/podman/tmp" \
		pull -q --tls-verify=false "$R/servidorweb:v1"
	is "$rc:$out" "0:$V1"$'\n' "podman pulls what lrun pushed: the same image ID"
else
	skip "podman not installed"
fi

# --- a layer another repository of the registry has is mounted, not sent ------------------
P3=$T/from-registry
"$LRUN" --root "$P3" pull -q "$R/servidorweb:v1" >/dev/null 2>&1 || bail "pull for the mount test"
mark
"$LRUN" --root "$P3" push "$R/servidorweb:v1" "$R/copies/web:v1" 2>"$T/err"
ok $? "push a pulled image into another repository" || diag "$(cat "$T/err")"
is "$(since | grep -c '"POST /v2/copies/web/blobs/uploads/?mount=sha256%3A.*&from=servidorweb HTTP/1.1" 201')" 3 \
	"its three layers are mounted from the repository they were pulled from (201 Created)"
is "$(uploads copies/web)" 1 "only the config is uploaded"
is "$(jq -c '[.layers[].digest]' <<<"$(raw_manifest copies/web:v1)")" "$(jq -c '[.layers[].digest]' <<<"$m1")" \
	"the pulled layers keep their blobs (same digests)"

# --- zstd, OCI, chunked uploads ---------------------------------------------------------
mark
LRUN_PUSH_CHUNK_SIZE=100000 lr push -q --compression-format zstd $S:v1 "$R/zstd:v1" 2>"$T/err"
ok $? "push --compression-format zstd, in 100 kB chunks" || diag "$(cat "$T/err")"
mz=$(raw_manifest zstd:v1)
is "$(jq -r '.mediaType, ([.layers[].mediaType] | unique | .[])' <<<"$mz")" "$OCI
application/vnd.oci.image.layer.v1.tar+zstd" "zstd: an OCI manifest (schema 2 has no zstd), zstd layers"
blob=$(jq -r '.layers[0].digest' <<<"$mz")
is "$(curl -sS "http://$R/v2/zstd/blobs/$blob" | head -c 4 | od -An -tx1 | tr -d ' ')" 28b52ffd \
	"the registry has a zstd frame"
ok "$([ "$(patches zstd)" -ge 2 ] && echo 0 || echo 1)" "the base layer went up in PATCH chunks ($(patches zstd))"
is "$("$LRUN" --root "$T/zpull" pull -q "$R/zstd:v1" 2>&1)" "$V1" "the zstd image pulls back with the same ID"
run lr push --format v2s2 --compression-format zstd $S:v1 "$R/zstd:bad"
is "$rc" 125 "--format v2s2 with zstd: exit 125"
like "$err" "^Error: zstd compression is not supported by the v2s2 manifest format" "… says why"
lr push -q --format oci $S:v1 "$R/oci:v1" 2>"$T/err"
ok $? "push --format oci" || diag "$(cat "$T/err")"
is "$(jq -r '.mediaType, .config.mediaType, ([.layers[].mediaType] | unique | .[])' <<<"$(raw_manifest oci:v1)")" \
	"$OCI
application/vnd.oci.image.config.v1+json
application/vnd.oci.image.layer.v1.tar+gzip" "--format oci: OCI manifest, config and gzip layers"
run lr push --format v2s1 $S:v1 "$R/x:v1"
is "$rc" 125 "--format v2s1: exit 125"

# --- other transports: written as save does ------------------------------------------
lr push -q $S:v1 "oci-archive:$T/push.tar" 2>"$T/err"
ok $? "push to oci-archive:FILE" || diag "$(cat "$T/err")"
is "$(sk inspect "oci-archive:$T/push.tar" 2>&1 | jq -r .Digest | cut -c1-7)" "sha256:" "skopeo reads the OCI archive"
lr push -q $S:v1 "docker-archive:$T/push-docker.tar" && "$LRUN" --root "$T/da" load -i "$T/push-docker.tar" >/dev/null 2>&1
ok $? "push to docker-archive:FILE, which loads"

# --- errors ---------------------------------------------------------------------------
run lr push localhost/nope:1 "$R/nope:1"
is "$rc" 125 "push of an unknown image: exit 125"
is "$err" "Error: localhost/nope:1: image not known"$'\n' "… podman's message"
run lr push $S:v1 "127.0.0.1:1/x:v1"
is "$rc" 125 "push to a port where nothing listens: exit 125"
like "$err" $'\nError: writing blob: HEAD .*: dial tcp 127.0.0.1:1: Connection refused' "… says it cannot connect"
# a registry that refuses uploads after the first layer's (POST and PUT)
PP=$(reg_free_port)
reg_proxy "$PP" "$REG_PORT" deny-uploads-after 2 || bail "proxy"
cache=$(cat "$T/root/lrun/blob-info-cache")
run lr push $S:v1 "127.0.0.1:$PP/refused:v1"
is "$rc" 125 "a push refused half-way: exit 125"
like "$err" "Error: writing blob: denied: requested access to the resource is denied" "… the registry's reason"
is "$(snapshot)" "$snap0" "… the store is as it was"
is "$(cat "$T/root/lrun/blob-info-cache")" "$cache" "… and the blob cache too"
is "$(curl -s -o /dev/null -w '%{http_code}' "http://$R/v2/refused/manifests/v1")" 404 "… no manifest was written"

# --- basic auth (htpasswd, TLS) ---------------------------------------------------------
C=$T/ca
reg_make_ca "$C" && reg_make_cert "$C" server "DNS:registry.test,IP:127.0.0.1" || bail "openssl"
echo "127.0.0.1 registry.test" >"$T/hosts"
export LRUN_HOSTS=$T/hosts
htpasswd -Bbn alice secret >"$T/htpasswd"
reg_start basic "$T/storage-auth" "  tls:" "    certificate: $C/server.crt" "    key: $C/server.key" \
	"auth:" "  htpasswd:" "    realm: lrun-test" "    path: $T/htpasswd" || bail "the auth registry does not start"
B=registry.test:$REG_PORT
export REGISTRY_AUTH_FILE=$T/auth.json
mkdir -p "$T/certs" && cp "$C/ca.crt" "$T/certs/"
run lr push --cert-dir "$T/certs" $S:v1 "$B/private:v1"
is "$rc" 125 "basic auth, no credentials: exit 125"
like "$err" "unauthorized: authentication required" "… unauthorized"
run lr push --cert-dir "$T/certs" --creds alice:secret $S:v1 "$B/private:v1"
is "$rc" 0 "basic auth: push --creds alice:secret" || diag "$err"
"$LRUN" login --cert-dir "$T/certs" -u alice -p secret "$B" >/dev/null 2>&1
run lr push -q --cert-dir "$T/certs" $S:v2 "$B/private:v2"
is "$rc" 0 "basic auth: push with the credentials login stored" || diag "$err"
is "$("$LRUN" --root "$T/auth-pull" pull -q --cert-dir "$T/certs" "$B/private:v2" 2>&1)" "$V2" "… and it pulls back"

# --- built images: layers stored plain go up gzip'd; v2 after v1 sends one layer ----------
B0=$T/built && mkdir -p "$B0/ctx"
lr import -q "$T/fx/layers/1.tar" localhost/base:1 >/dev/null || bail "import the base"
echo '<h1>v1</h1>' >"$B0/ctx/index.html"
printf 'FROM localhost/base:1\nRUN mkdir -p /var/www && busybox dd if=/dev/urandom of=/var/www/apache.bin bs=1k count=256 2>/dev/null\nCOPY index.html /var/www/\nCMD ["/bin/busybox", "httpd", "-f"]\n' \
	>"$B0/ctx/Containerfile"
BV1=$(lr build -q -t localhost/web:v1 "$B0/ctx" 2>/dev/null | tail -1)
echo '<h1>v2</h1>' >"$B0/ctx/index.html"
BV2=$(lr build -q -t localhost/web:v2 "$B0/ctx" 2>/dev/null | tail -1)
is "$(jq -r '[.[] | select(.compression != null and .compression != 0)] | length' "$T/root/overlay-layers/layers.json")/${#BV1}/${#BV2}" \
	"0/64/64" "two built images; every layer stored plain"
mark
lr push localhost/web:v1 "$R/web:v1" >"$T/out" 2>"$T/err"
ok $? "push a built image" || diag "$(cat "$T/err")"
mw1=$(raw_manifest web:v1)
is "$(jq -r '[.layers[].mediaType] | unique | .[]' <<<"$mw1")" application/vnd.oci.image.layer.v1.tar+gzip \
	"its layers go as gzip (podman compresses on push)"
gz=0
for d in $(jq -r '.layers[].digest' <<<"$mw1"); do
	[ "$(curl -s "http://$R/v2/web/blobs/$d" | head -c 2 2>/dev/null | od -An -tx1 | tr -d ' ')" = 1f8b ] && gz=$((gz + 1))
done
is "$gz/$(uploads web)/$(since | grep -c '"POST /v2/web/blobs/uploads/?mount=.*&from=servidorweb HTTP/1.1" 201')" "3/3/1" \
	"… 3 gzip blobs in the registry; the base (servidorweb's first layer) mounted, the rest and the config uploaded"
mark
lr push localhost/web:v2 "$R/web:v2" >"$T/out" 2>"$T/err"
ok $? "push the v2 built after it" || diag "$(cat "$T/err")"
mw2=$(raw_manifest web:v2)
is "$(uploads web)/$(jq -c '[.layers[0:2][].digest]' <<<"$mw2")" "2/$(jq -c '[.layers[0:2][].digest]' <<<"$mw1")" \
	"v2: only its own layer and its config go up; it names v1's first two (same gzip digests)"
W=$T/web-pulled
"$LRUN" --root "$W" pull -q "$R/web:v1" >/dev/null 2>&1 && "$LRUN" --root "$W" pull -q "$R/web:v2" >/dev/null 2>&1
ok $? "both pull into another store"
is "$(jq -r '.[].id' "$W/overlay-images/images.json" | sort | tr '\n' ' ')" "$(printf '%s\n' "$BV1" "$BV2" | sort | tr '\n' ' ')" \
	"… with the built image IDs"
is "$(jq length "$W/overlay-layers/layers.json")" 4 "… sharing the base and \"Apache\" layers (4 layers, not 6)"
is "$(jq -r '.[].id' "$W/overlay-layers/layers.json" | sort | tr '\n' ' ')" \
	"$(jq -r '.[].id' "$T/root/overlay-layers/layers.json" | grep -xFf <(jq -r '.[].id' "$W/overlay-layers/layers.json") | sort | tr '\n' ' ')" \
	"… the same layer (chain) IDs as in the store that built them"

done_testing
