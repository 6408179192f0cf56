#!/bin/bash
# lrun pull when things go wrong, against a real registry and a proxy the test
# runs (test/lib/proxy.pl): a blob whose bytes do not match its digest, a
# connection cut mid-blob (resumed with a Range request; given up after the
# retries), a 503 (retried), a broken manifest, a redirect of blobs to
# another host (no credentials go there), chunked and close-delimited
# bodies, and lrun killed with SIGKILL in
# the middle of a download, then pulled again.  A failed pull stores nothing.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/tap.sh"
. "$here/../lib/fixtures.sh"
. "$here/../lib/registry.sh"

reg_test_begin failures htpasswd

fx_servidorweb "$T/fx" || bail "fixtures do not build"
# two images of their own: "tamper" (a layer whose blob the test damages) and
# "big" (3 MB that does not compress, for the slow proxy)
mkdir -p "$T/src/tamper" "$T/src/big"
echo "this layer is damaged in the registry" >"$T/src/tamper/damaged.txt"
head -c 3000000 /dev/urandom >"$T/src/big/data.bin"
fx_layer_tar "$T/src/tamper" "$T/tamper.tar" && fx_layer_tar "$T/src/big" "$T/big.tar" &&
fx_docker_archive "$T/tamper-image.tar" localhost/tamper:v1 '{}' "$T/fx/layers/1.tar" "$T/fx/layers/2.tar" "$T/tamper.tar" &&
fx_docker_archive "$T/big-image.tar" localhost/big:v1 '{}' "$T/fx/layers/1.tar" "$T/big.tar" || bail "fixtures"
S=$T/storage
reg_start main "$S" || bail "the registry does not start"
RP=$REG_PORT R=127.0.0.1:$REG_PORT LOG=$REG_LOG
reg_push "docker-archive:$T/fx/v1.tar" "docker://$R/servidorweb:v1" &&
reg_push "docker-archive:$T/tamper-image.tar" "docker://$R/tamper:v1" &&
reg_push "docker-archive:$T/big-image.tar" "docker://$R/big:v1" || bail "skopeo cannot push the fixtures"
V1=$(reg_archive_id "$T/fx/v1.tar")
BIG=$(reg_archive_id "$T/big-image.tar")

D2=application/vnd.docker.distribution.manifest.v2+json
snapshot() { cat "$1/overlay-layers/layers.json" "$1/overlay-images/images.json" 2>/dev/null | sha256sum; }
overlay_dirs() { ls "$1/overlay" 2>/dev/null | grep -vc '^l$'; }
count() { jq length "$1" 2>/dev/null || echo 0; } # records in a store index (none when it was never written)

# --- a blob that does not match its digest ---------------------------------------------
# the gzip header's MTIME bytes: the blob still decompresses to the same
# tar, only its digest changes (as a tampering mirror's would)
blob=$(curl -sSf -H "Accept: $D2" "http://$R/v2/tamper/manifests/v1" | jq -r '.layers[2].digest[7:]')
printf '\x01\x02' | dd of="$S/docker/registry/v2/blobs/sha256/${blob:0:2}/$blob/data" bs=1 seek=4 conv=notrunc 2>/dev/null
"$LRUN" --root "$T/r1" pull "$R/tamper:v1" >"$T/out" 2>"$T/err"
is "$?" 125 "wrong digest: exit 125"
like "$(tail -n 1 "$T/err")" "^Error: writing blob: layer ${blob:0:12} \\($R/tamper@sha256:$blob\\): blob digest mismatch: expected sha256:$blob, got sha256:[0-9a-f]{64}$" \
	"wrong digest: the message names the blob and both digests"
is "$(count "$T/r1/overlay-layers/layers.json"):$(count "$T/r1/overlay-images/images.json")" "0:0" \
	"wrong digest: no layer and no image stored (the good layers are removed too)"
is "$(overlay_dirs "$T/r1")" 0 "wrong digest: no layer directory left"
"$LRUN" --root "$T/r2" pull -q "$R/servidorweb:v1" >/dev/null || bail "cannot pull v1"
before=$(snapshot "$T/r2")
"$LRUN" --root "$T/r2" pull "$R/tamper:v1" >/dev/null 2>&1
is "$?" 125 "wrong digest over a store with v1: exit 125"
is "$(snapshot "$T/r2")" "$before" "wrong digest: the store is as it was"
is "$(overlay_dirs "$T/r2")" 3 "wrong digest: v1's three layers, nothing else"
is "$(reg_check_store "$T/r2")" "" "wrong digest: the store is consistent"

# --- a connection cut in the middle of a blob: resumed ---------------------------
X=$(reg_free_port)
reg_proxy "$X" "$RP" cut-once 300000 || bail "the proxy does not start"
out=$("$LRUN" --root "$T/r3" pull -q "127.0.0.1:$X/servidorweb:v1" 2>"$T/err")
ok $? "a cut connection is resumed" || diag "$(cat "$T/err")"
is "$out" "$V1" "cut: the image"
is "$(grep -c 'cut after' "$T/proxy-$X.log")" 1 "cut: the proxy did cut"
like "$(grep -c '" 206 ' "$LOG")" '^[1-9]' "cut: the rest came with a Range request (206)"
is "$(reg_check_store "$T/r3")" "" "cut: the store is consistent"

# --- cut every time: given up after the retries --------------------------------------
X=$(reg_free_port)
reg_proxy "$X" "$RP" cut-always 50000 || bail "the proxy does not start"
"$LRUN" --root "$T/r4" pull -q "127.0.0.1:$X/big:v1" >/dev/null 2>"$T/err"
is "$?" 125 "always cut: exit 125"
like "$(cat "$T/err")" "unexpected EOF" "always cut: the error says the body was cut short"
is "$(count "$T/r4/overlay-layers/layers.json"):$(overlay_dirs "$T/r4")" "0:0" "always cut: nothing stored"

# --- 503 once: retried ---------------------------------------------------------------
X=$(reg_free_port)
reg_proxy "$X" "$RP" 503-once || bail "the proxy does not start"
out=$("$LRUN" --root "$T/r5" pull -q "127.0.0.1:$X/servidorweb:v1" 2>"$T/err")
ok $? "a 503 is retried" || diag "$(cat "$T/err")"
is "$(grep -c 'GET /v2/servidorweb/manifests/v1' "$T/proxy-$X.log")" 2 "503: the manifest was asked for twice"

# --- bodies framed otherwise: chunked, and ended by closing the connection ---
for mode in chunked close-delimited; do
	X=$(reg_free_port)
	reg_proxy "$X" "$RP" $mode || bail "the proxy does not start"
	out=$("$LRUN" --root "$T/r-$mode" pull -q "127.0.0.1:$X/servidorweb:v1" 2>"$T/err")
	ok $? "$mode bodies" || diag "$(cat "$T/err")"
	is "$out" "$V1" "$mode bodies: the image"
	is "$(reg_check_store "$T/r-$mode")" "" "$mode bodies: the store is consistent"
done

# --- a broken manifest -----------------------------------------------------------------
X=$(reg_free_port)
reg_proxy "$X" "$RP" garble-manifest || bail "the proxy does not start"
"$LRUN" --root "$T/r6" pull -q "127.0.0.1:$X/servidorweb:v1" >/dev/null 2>"$T/err"
is "$?" 125 "a broken manifest: exit 125"
like "$(cat "$T/err")" "^Error: initializing source docker://127.0.0.1:$X/servidorweb:v1: reading manifest v1 in 127.0.0.1:$X/servidorweb: parse manifest: invalid JSON" \
	"a broken manifest: invalid JSON"
is "$(count "$T/r6/overlay-layers/layers.json")" 0 "a broken manifest: nothing stored"

# --- blobs redirected to another host, behind basic auth ------------------------------
htpasswd -Bbn alice secret >"$T/htpasswd"
reg_start basic "$S" "auth:" "  htpasswd:" "    realm: lrun-test" "    path: $T/htpasswd" ||
	bail "the basic-auth registry does not start"
X=$(reg_free_port)
PROXY_UPSTREAM_AUTH="Basic $(printf alice:secret | base64)" reg_proxy "$X" "$REG_PORT" redirect ||
	bail "the proxy does not start"
out=$("$LRUN" --root "$T/r7" pull -q --creds alice:secret "127.0.0.1:$X/servidorweb:v1" 2>"$T/err")
ok $? "blobs redirected to another host" || diag "$(cat "$T/err")"
is "$out" "$V1" "redirect: the image"
is "$(grep -c '^127.0.0.2 GET /storage/v2/servidorweb/blobs/' "$T/proxy-$X.log")" 4 \
	"redirect: the config and three layers came from the other host" || diag "$(cat "$T/proxy-$X.log")"
is "$(grep '^127.0.0.2 ' "$T/proxy-$X.log" | grep -c 'auth=yes')" 0 "redirect: no credentials sent to the other host"
like "$(grep '^127.0.0.1 GET /v2/servidorweb/manifests/v1 auth=yes' "$T/proxy-$X.log")" . "redirect: the registry got them"

# --- killed mid-download, then pulled again --------------------------------------------
X=$(reg_free_port)
reg_proxy "$X" "$RP" slow 300000 || bail "the proxy does not start"
"$LRUN" --root "$T/r8" pull -q "127.0.0.1:$X/big:v1" >/dev/null 2>&1 &
pid=$!
for i in $(seq 100); do # up to 10 s for the big layer to be under way
	[ "$(du -sk "$T/r8/overlay" 2>/dev/null | cut -f1)" -gt 500 ] 2>/dev/null && break
	sleep 0.1
done
kill -9 "$pid"
wait "$pid" 2>/dev/null
like "$(jq -c '[.[] | .flags.incomplete // false]' "$T/r8/overlay-layers/layers.json")" true \
	"killed: layers.json shows a layer in progress"
"$LRUN" --root "$T/r8" images >/dev/null
ok $? "killed: the next command runs"
is "$(jq -c '[.[] | select(.flags.incomplete)] | length' "$T/r8/overlay-layers/layers.json")" 0 \
	"killed: the next command removed the incomplete layers"
is "$(reg_check_store "$T/r8")" "" "killed: the store is consistent"
out=$("$LRUN" --root "$T/r8" pull -q "$R/big:v1" 2>"$T/err")
ok $? "killed: the pull again succeeds" || diag "$(cat "$T/err")"
is "$out" "$BIG" "killed: the image"
is "$(reg_check_store "$T/r8")" "" "killed: the store is consistent after the second pull"
top=$(jq -r '.[0].layer' "$T/r8/overlay-images/images.json")
is "$(sha256sum <"$T/r8/overlay/$top/diff/data.bin")" "$(sha256sum <"$T/src/big/data.bin")" "killed: the big file is whole"

done_testing
