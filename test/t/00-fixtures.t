#!/bin/bash
# Self-test of test/lib/fixtures.sh: the images are well formed (skopeo reads
# them and, when copying, verifies every digest) and byte-for-byte reproducible.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/tap.sh"
. "$here/../lib/fixtures.sh"

command -v skopeo >/dev/null || skip_all "skopeo not installed"
[ -x /bin/busybox ] || skip_all "no static /bin/busybox"

T=$(mktemp -d /tmp/lrun-fx.XXXXXX)
at_exit 'rm -rf "$T"'

# skopeo keeps a blob-info cache in /var/lib/containers/cache when run as root:
# hide /var/lib behind a tmpfs in a private mount namespace so no host store is
# touched; as non-root point XDG_DATA_HOME into $T instead.
sk() {
	if [ "$(id -u)" = 0 ]; then
		unshare -m sh -c 'mount -t tmpfs tmpfs /var/lib && exec skopeo --insecure-policy "$@"' sk "$@"
	else
		HOME=$T/home XDG_DATA_HOME=$T/xdg skopeo --insecure-policy "$@"
	fi
}
# list of "path sha256" for every file under a dir, sorted
sums() { (cd "$1" && find . -type f ! -name '.fx-tmp*' | LC_ALL=C sort | xargs sha256sum); }

F=$T/a
ok_cmd "fx_all builds every fixture" fx_all "$F" || bail "fixtures do not build"
is "$(ls -A "$T" | tr '\n' ' ')" "a " "nothing written beside the target dir"
is "$(find "$F" -name '.fx-tmp*' | wc -l)" 0 "no temp dirs left behind"

# --- busybox rootfs / layer tars ---------------------------------------------
l1=$(tar tf "$F/layers/1.tar" | tr '\n' ' ')
like "$l1" '^bin/ bin/busybox bin/cat ' "layer entries are relative, no ./ prefix"
for p in bin/sh bin/ps etc/passwd etc/group tmp/ root/ home/app/; do
	like "$l1" "(^| )$p " "layer 1 has $p"
done
is "$(tar tvf "$F/layers/1.tar" | awk '$6 == "tmp/" {print $1}')" drwxrwxrwt "/tmp is 1777"
is "$(tar tvf "$F/layers/1.tar" | awk '$6 == "home/app/" {print $2}')" 1000/1000 "/home/app owned by app"
is "$(tar xOf "$F/layers/1.tar" etc/passwd | cut -d: -f1,3,4 | tr '\n' ' ')" \
	"root:0:0 app:1000:1000 nobody:65534:65534 " "/etc/passwd users"
is "$(tar xOf "$F/layers/3v2.tar" etc/servidorweb-version)" v2 "v2 version file"
size=$(tar tvf "$F/layers/2.tar" | awk '$6 == "var/www/blob.bin" {print $3}')
is "$size" 204800 "layer 2 carries the 200 KB file"

# --- docker-archives -----------------------------------------------------------
h() { fx_sha256 "$1"; }
cfg=$(tar xOf "$F/v1.tar" manifest.json | jq -r '.[0].Config')
exp=$(printf '%s\n' manifest.json "$cfg" $(for l in 1 2 3v1; do
	echo "$(h "$F/layers/$l.tar")/" "$(h "$F/layers/$l.tar")/layer.tar"; done) | LC_ALL=C sort)
is "$(tar tf "$F/v1.tar" | LC_ALL=C sort)" "$exp" "v1.tar members"
is "$(tar xOf "$F/v1.tar" manifest.json | jq -c '.[0].RepoTags')" '["localhost:5000/servidorweb:v1"]' "v1 RepoTags"
is "$(tar xOf "$F/v1.tar" "$cfg" | jq -r '.rootfs.diff_ids[2]')" "sha256:$(h "$F/layers/3v1.tar")" "diff_id = sha256 of layer tar"
is "$(tar xOf "$F/v1.tar" "$cfg" | fx_sha256 /dev/stdin).json" "$cfg" "config named by its digest"
is "$(tar xOf "$F/v2.tar" manifest.json | jq -r '.[0].Layers[0:2]|join(" ")')" \
	"$(tar xOf "$F/v1.tar" manifest.json | jq -r '.[0].Layers[0:2]|join(" ")')" "v1 and v2 share two layers"
wl=$(tar xOf "$F/whiteouts.tar" manifest.json | jq -r '.[0].Layers[1]')
is "$(tar xOf "$F/whiteouts.tar" "$wl" | tar tf - | tr '\n' ' ')" "a/ a/.wh.gone d/ d/.wh..wh..opq d/new " "whiteout layer entries"

for img in v1:localhost:5000/servidorweb:v1 v2:localhost:5000/servidorweb:v2 whiteouts:localhost/whiteouts:latest; do
	f=${img%%:*} name=${img#*:}
	out=$(sk inspect "docker-archive:$F/$f.tar" 2>&1)
	ok $? "skopeo inspect docker-archive:$f.tar" || diag "$out"
	ok_cmd "skopeo finds $name in $f.tar" sk inspect "docker-archive:$F/$f.tar:$name"
	ok_cmd "skopeo copy (digest check) $f.tar" sk copy -q "docker-archive:$F/$f.tar" "dir:$T/copy-$f"
done
for f in $FX_HOSTILE_FORMS; do
	ok_cmd "skopeo inspect hostile-$f.tar" sk inspect "docker-archive:$F/hostile-$f.tar"
	is "$(tar xOf "$F/hostile-$f.tar" manifest.json | jq -r '.[0].Layers[0]' |
		xargs tar xOf "$F/hostile-$f.tar" | tar tf - 2>/dev/null | head -n1)" ok.txt "hostile-$f starts with ok.txt"
done

# multi-image archive, untagged image, config options
ok_cmd "multi-image docker-archive" fx_docker_archive "$T/multi.tar" \
	"localhost/m1:latest,localhost/m1:other" '{"Cmd":null,"Entrypoint":["/bin/echo"],"User":"app"}' "$F/layers/1.tar" \
	-- "" '{}' "$F/layers/1.tar" "$F/layers/2.tar"
is "$(tar xOf "$T/multi.tar" manifest.json | jq -c '[.[].RepoTags]')" '[["localhost/m1:latest","localhost/m1:other"],[]]' "two manifest entries"
is "$(tar tf "$T/multi.tar" | grep -c layer.tar)" 2 "shared layer stored once"
out=$(sk inspect --config "docker-archive:$T/multi.tar:localhost/m1:other" 2>&1)
is "$(jq -cS .config <<<"$out")" \
	'{"Entrypoint":["/bin/echo"],"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],"User":"app"}' "config options applied"
ok_cmd "skopeo copy image @1 of multi-image archive" sk copy -q "docker-archive:$T/multi.tar:@1" "dir:$T/copy-m2"

# --- OCI ---------------------------------------------------------------------
for v in v1 v2; do
	ok_cmd "skopeo inspect oci:$v-oci:$v" sk inspect "oci:$F/$v-oci:$v"
	ok_cmd "skopeo copy (digest check) oci:$v-oci" sk copy -q "oci:$F/$v-oci:$v" "dir:$T/copy-oci-$v"
done
is "$(jq -r '.layers[0].mediaType' "$F/v1-oci/blobs/sha256/$(jq -r '.manifests[0].digest|.[7:]' "$F/v1-oci/index.json")")" \
	application/vnd.oci.image.layer.v1.tar+gzip "gzip layer media type"
ok_cmd "zstd OCI layout" fx_oci_layout --zstd "$T/z" zimg "$F/layers/1.tar" "$F/layers/3v1.tar"
ok_cmd "second ref added to the same layout" fx_oci_layout "$T/z" gimg "$F/layers/3v2.tar"
is "$(jq -r '[.manifests[].annotations["org.opencontainers.image.ref.name"]]|join(",")' "$T/z/index.json")" zimg,gimg "two refs in index.json"
ok_cmd "skopeo copy zstd layout" sk copy -q oci:$T/z:zimg dir:$T/copy-z
is "$(jq -r '.layers[0].mediaType' $T/copy-z/manifest.json)" application/vnd.oci.image.layer.v1.tar+zstd "zstd media type"
ok_cmd "oci-archive" fx_oci_archive "$T/o.tar" latest "$F/layers/1.tar" "$F/layers/2.tar"
is "$(tar tf "$T/o.tar" | grep -v "^blobs/sha256/." | tr '\n' ' ')" "blobs/ blobs/sha256/ index.json oci-layout " "oci-archive layout"
ok_cmd "skopeo copy oci-archive" sk copy -q "oci-archive:$T/o.tar:latest" "dir:$T/copy-oa"

# --- determinism & failure -----------------------------------------------------
ok_cmd "fx_all again into another dir" fx_all "$T/b"
is "$(sums "$T/b")" "$(sums "$F")" "second build is byte-identical"
( fx_layer_tar "$T/does-not-exist" "$T/x.tar" ) 2>/dev/null
ok $(( ! $? )) "failure is reported even in a conditional context"

done_testing
