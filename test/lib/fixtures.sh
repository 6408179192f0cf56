# fixtures.sh - deterministic test images for lrun (source from bash).
#
# Every public fx_* function re-executes itself in a fresh "bash" with
# "set -euo pipefail", so it fails loudly (message on stderr, non-zero status)
# even when called from "if", "||" or ok_cmd, where bash would ignore set -e.
# Functions print nothing on success (except fx_sha256), write only below the
# path(s) given by the caller, and produce identical bytes on every run (same
# tar/gzip/zstd versions assumed).
#
# Conventions
#   * Layer tars: GNU format, entries sorted by name, mtime 1700000000
#     (2023-11-14T22:13:20Z), uid/gid 0 (numeric), and entry names WITHOUT a
#     leading "./": "bin/", "bin/busybox", "etc/passwd" (like `docker save`).
#     There is no entry for the layer root itself.
#     Owners are 0:0 except paths listed in FX_TAR_OWNERS (default
#     "home/app=1000:1000").  File modes are taken from disk (umask 022).
#   * Image config (docker-archive and OCI alike):
#       {"architecture":"amd64","os":"linux","created":"2023-11-14T22:13:20Z",
#        "config":{"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
#                  "Cmd":["/bin/sh"]} + CONFIG_OPTS,
#        "rootfs":{"type":"layers","diff_ids":[...]},
#        "history":[{"created":...,"created_by":"/bin/sh -c #(nop) ADD layer N"},...]}
#     CONFIG_OPTS is a JSON object merged (jq '+') into .config, e.g.
#       '{"Cmd":["/bin/busybox","httpd","-f"],"WorkingDir":"/var/www","User":"app",
#         "Entrypoint":["/bin/sh","-c"],"Env":["PATH=/bin","FOO=bar"]}'
#     "" or "{}" keeps the defaults; a key set to null removes it.
#     FX_ARCH (default amd64) and FX_VARIANT (default none) set the config's
#     architecture and variant: with FX_BUSYBOX of that architecture, an
#     image for another machine (arm64 v8, arm v7, riscv64).
#
# API (all paths may be relative; DIR/OUTDIR are created if missing)
#   fx_sha256 FILE                      print the hex sha256 of FILE (no prefix)
#   fx_busybox_rootfs DIR               minimal busybox rootfs into DIR
#   fx_layer_tar SRCDIR OUT.tar         deterministic tar of SRCDIR's contents
#   fx_docker_archive OUT.tar REPO:TAG CONFIG_OPTS LAYER.tar... [-- REPO:TAG CONFIG_OPTS LAYER.tar...]...
#       docker-archive (manifest.json, <confighex>.json, <diffidhex>/layer.tar).
#       Each "--" starts another image in the same archive (one manifest.json
#       entry each; shared layers are stored once).  REPO:TAG may be
#       "a:1,b:2" for several RepoTags, or "" for an untagged image (RepoTags []).
#   fx_oci_layout [--zstd] [--config JSON] OUTDIR REF LAYER.tar...
#       OCI image layout; layers gzip (-n -6) or zstd (-3) compressed.  If
#       OUTDIR already is a layout, the image is added to its index.json
#       (blobs are shared), so one layout can hold several refs.
#   fx_oci_archive [--zstd] [--config JSON] OUT.tar REF LAYER.tar...
#       the same layout packed as a tar (entries "oci-layout", "index.json",
#       "blobs/", ...).
#   fx_servidorweb DIR    DIR/v1.tar DIR/v2.tar (docker-archive,
#                         localhost:5000/servidorweb:v1/:v2), DIR/v1-oci/ and
#                         DIR/v2-oci/ (ref "v1"/"v2"), DIR/layers/{1,2,3v1,3v2}.tar
#   fx_whiteouts DIR      DIR/whiteouts.tar (localhost/whiteouts:latest)
#   fx_hostile DIR        DIR/hostile-<form>.tar (localhost/hostile-<form>:latest)
#                         for each form in $FX_HOSTILE_FORMS
#   fx_all DIR            all of the above under DIR

FX_LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/fixtures.sh
FX_EPOCH=1700000000
FX_CREATED=2023-11-14T22:13:20Z
FX_PATH_ENV=PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
FX_BUSYBOX=${FX_BUSYBOX:-/bin/busybox}
# Entries listed here (exact path in the tar = UID:GID) get that owner; all
# others are 0:0.  Space separated; exported so callers may override it.
export FX_TAR_OWNERS=${FX_TAR_OWNERS-home/app=1000:1000}
FX_HOSTILE_FORMS="dotdot nested-dotdot absolute symlink-parent relative-symlink-parent hardlink-out hardlink-abs hardlink-via-symlink"

# Run an implementation function in a fresh strict shell.
_fx_call() {
	bash -c 'set -euo pipefail; shopt -s inherit_errexit; umask 022
		export LC_ALL=C TZ=UTC; . "$0"; "$@"' "$FX_LIB" "$@"
}
fx_sha256()         { _fx_call _fx_sha256 "$@"; }
fx_busybox_rootfs() { _fx_call _fx_busybox_rootfs "$@"; }
fx_layer_tar()      { _fx_call _fx_layer_tar "$@"; }
fx_docker_archive() { _fx_call _fx_docker_archive "$@"; }
fx_oci_layout()     { _fx_call _fx_oci_layout "$@"; }
fx_oci_archive()    { _fx_call _fx_oci_archive "$@"; }
fx_servidorweb()    { _fx_call _fx_servidorweb "$@"; }
fx_whiteouts()      { _fx_call _fx_whiteouts "$@"; }
fx_hostile()        { _fx_call _fx_hostile "$@"; }
fx_all()            { _fx_call _fx_all "$@"; }

_fx_die() { echo "fixtures.sh: $*" >&2; exit 1; }
_fx_sha256() { local s; s=$(sha256sum <"$1"); echo "${s%% *}"; }
# temp dir next to $1 (so nothing is written outside the caller's directory)
_fx_tmp() { mktemp -d "$(dirname "$1")/.fx-tmp.XXXXXX"; }
_fx_tar() { # _fx_tar DIR OUT UID:GID -cf|-rf NAMES... (deterministic, no recursion)
	local dir=$1 out=$2 own=$3 mode=$4; shift 4
	tar -C "$dir" --sort=name --mtime=@$FX_EPOCH --numeric-owner --owner="${own%:*}" \
		--group="${own#*:}" --format=gnu --no-recursion $mode "$out" "$@"
}
_fx_tar_dir() { # whole contents of DIR, sorted, no "./" prefix, owners per FX_TAR_OWNERS
	local dir=$1 out=$2 names=() n m o cur=- run=() mode=-cf
	mapfile -t names < <(cd "$dir" && find . -mindepth 1 | sed "s|^\./||" | sort)
	if [ ${#names[@]} -eq 0 ]; then _fx_tar "$dir" "$out" 0:0 -cf -T /dev/null; return; fi
	# consecutive runs of entries with the same owner: first run -c, then -r
	for n in "${names[@]}" ""; do
		o=0:0
		for m in $FX_TAR_OWNERS; do [ "${m%%=*}" = "$n" ] && o=${m#*=}; done
		if [ "$o" != "$cur" ] || [ -z "$n" ]; then
			if [ ${#run[@]} -gt 0 ]; then _fx_tar "$dir" "$out" "$cur" $mode "${run[@]}"; mode=-rf; fi
			cur=$o run=()
		fi
		run+=("$n")
	done
}

_fx_busybox_rootfs() {
	local d=$1 c
	[ -x "$FX_BUSYBOX" ] || _fx_die "no static busybox at $FX_BUSYBOX"
	mkdir -p "$d"/{bin,etc,root,home/app,tmp}
	cp "$FX_BUSYBOX" "$d/bin/busybox"
	chmod 0755 "$d/bin/busybox" "$d/bin" "$d/etc" "$d/home" "$d/home/app"
	for c in sh true false echo cat ls id env sleep pwd grep head wc mount hostname ps; do
		ln -sfn busybox "$d/bin/$c"
	done
	printf '%s\n' 'root:x:0:0:root:/root:/bin/sh' 'app:x:1000:1000:app:/home/app:/bin/sh' \
		'nobody:x:65534:65534:nobody:/nonexistent:/bin/false' >"$d/etc/passwd"
	printf '%s\n' 'root:x:0:' 'app:x:1000:' 'nogroup:x:65534:' >"$d/etc/group"
	chmod 0644 "$d/etc/passwd" "$d/etc/group"
	chmod 0700 "$d/root"; chmod 1777 "$d/tmp"
	# In layer tars /home/app is 1000:1000 via FX_TAR_OWNERS; on disk only as root.
	if [ "$(id -u)" = 0 ]; then chown 1000:1000 "$d/home/app"; fi
}

_fx_layer_tar() {
	[ -d "$1" ] || _fx_die "fx_layer_tar: $1 is not a directory"
	mkdir -p "$(dirname "$2")"
	_fx_tar_dir "$1" "$2"
}

# _fx_config OUT CONFIG_OPTS LAYER.tar... -> writes config JSON to OUT
_fx_config() {
	local out=$1 opts=${2:-'{}'} ids=() l; shift 2
	for l in "$@"; do ids+=("sha256:$(_fx_sha256 "$l")"); done
	jq -cn --arg created "$FX_CREATED" --arg path "$FX_PATH_ENV" --argjson opts "$opts" \
		--arg arch "${FX_ARCH:-amd64}" --arg variant "${FX_VARIANT:-}" \
		'$ARGS.positional as $ids | {architecture:$arch,os:"linux"} + (if $variant == "" then {} else {variant:$variant} end) + {created:$created,
		 config:({Env:[$path],Cmd:["/bin/sh"]} + $opts | with_entries(select(.value != null))),
		 rootfs:{type:"layers",diff_ids:$ids},
		 history:[range($ids|length) as $i | {created:$created,
		   created_by:"/bin/sh -c #(nop) ADD layer \($i + 1)"}]}' \
		--args "${ids[@]}" | tr -d '\n' >"$out"
}

_fx_docker_archive() {
	local out=$1 st entries=() ref opts layers l h c
	shift
	mkdir -p "$(dirname "$out")"
	st=$(_fx_tmp "$out")
	while [ $# -gt 0 ]; do
		[ $# -ge 3 ] || _fx_die "fx_docker_archive: need REPO:TAG CONFIG_OPTS LAYER..."
		ref=$1 opts=$2 layers=(); shift 2
		while [ $# -gt 0 ] && [ "$1" != -- ]; do layers+=("$1"); shift; done
		[ $# -gt 0 ] && shift
		[ ${#layers[@]} -gt 0 ] || _fx_die "fx_docker_archive: no layers for '$ref'"
		local lpaths=()
		for l in "${layers[@]}"; do
			h=$(_fx_sha256 "$l"); mkdir -p "$st/$h"; cp "$l" "$st/$h/layer.tar"
			lpaths+=("$h/layer.tar")
		done
		_fx_config "$st/config.tmp" "$opts" "${layers[@]}"
		c=$(_fx_sha256 "$st/config.tmp"); mv "$st/config.tmp" "$st/$c.json"
		entries+=("$(jq -cn --arg c "$c.json" --arg r "$ref" \
			'{Config:$c,RepoTags:($r|if .=="" then [] else split(",") end),Layers:$ARGS.positional}' \
			--args "${lpaths[@]}")")
	done
	printf '%s\n' "${entries[@]}" | jq -cs . | tr -d '\n' >"$st/manifest.json"
	_fx_tar_dir "$st" "$out.tmp"
	mv "$out.tmp" "$out"; rm -rf "$st"
}

_fx_blob() { # _fx_blob LAYOUT FILE -> moves FILE into blobs, prints digest hex
	local h; h=$(_fx_sha256 "$2"); mkdir -p "$1/blobs/sha256"
	mv "$2" "$1/blobs/sha256/$h"; echo "$h"
}
_fx_oci_layout() {
	local comp=gzip opts='{}' out ref l h descs=() mt cfg man idx
	while [ $# -gt 0 ]; do case $1 in
		--zstd) comp=zstd; shift ;;
		--gzip) comp=gzip; shift ;;
		--config) opts=$2; shift 2 ;;
		*) break ;;
	esac; done
	[ $# -ge 3 ] || _fx_die "fx_oci_layout: usage [--zstd] [--config JSON] OUTDIR REF LAYER.tar..."
	out=$1 ref=$2; shift 2
	mkdir -p "$out/blobs/sha256"
	printf '{"imageLayoutVersion":"1.0.0"}' >"$out/oci-layout"
	mt=application/vnd.oci.image.layer.v1.tar+$comp
	for l in "$@"; do
		if [ $comp = gzip ]; then gzip -n -6 -c "$l" >"$out/blob.tmp"
		else zstd -q -3 -c "$l" >"$out/blob.tmp"; fi
		h=$(_fx_blob "$out" "$out/blob.tmp")
		descs+=("$(jq -cn --arg mt "$mt" --arg d "sha256:$h" \
			--argjson s "$(stat -c %s "$out/blobs/sha256/$h")" '{mediaType:$mt,digest:$d,size:$s}')")
	done
	_fx_config "$out/blob.tmp" "$opts" "$@"
	local csize; csize=$(stat -c %s "$out/blob.tmp"); cfg=$(_fx_blob "$out" "$out/blob.tmp")
	printf '%s\n' "${descs[@]}" | jq -cs --arg d "sha256:$cfg" --argjson s "$csize" \
		'{schemaVersion:2,mediaType:"application/vnd.oci.image.manifest.v1+json",
		  config:{mediaType:"application/vnd.oci.image.config.v1+json",digest:$d,size:$s},
		  layers:.}' | tr -d '\n' >"$out/blob.tmp"
	local msize; msize=$(stat -c %s "$out/blob.tmp"); man=$(_fx_blob "$out" "$out/blob.tmp")
	idx='{"schemaVersion":2,"manifests":[]}'
	[ -f "$out/index.json" ] && idx=$(cat "$out/index.json")
	jq -c --arg d "sha256:$man" --argjson s "$msize" --arg r "$ref" \
		'.manifests |= (map(select(.annotations["org.opencontainers.image.ref.name"] != $r))
		 + [{mediaType:"application/vnd.oci.image.manifest.v1+json",digest:$d,size:$s,
		     annotations:{"org.opencontainers.image.ref.name":$r}}])' <<<"$idx" \
		| tr -d '\n' >"$out/index.json.tmp"
	mv "$out/index.json.tmp" "$out/index.json"
}
_fx_oci_archive() {
	local args=() out st
	while [ $# -gt 0 ]; do case $1 in
		--zstd|--gzip) args+=("$1"); shift ;;
		--config) args+=("$1" "$2"); shift 2 ;;
		*) break ;;
	esac; done
	out=$1; shift
	mkdir -p "$(dirname "$out")"
	st=$(_fx_tmp "$out")
	_fx_oci_layout "${args[@]}" "$st" "$@"
	_fx_tar_dir "$st" "$out.tmp"
	mv "$out.tmp" "$out"; rm -rf "$st"
}

# deterministic pseudo-random bytes (LCG; stable across perl builds)
_fx_bytes() {
	perl -e 'my ($n, $x) = @ARGV; my $buf = "";
		while (length($buf) < $n) { $x = ($x * 1103515245 + 12345) % 2147483648;
			$buf .= pack("N", $x) } print substr($buf, 0, $n)' "$1" "$2"
}

_fx_servidorweb() {
	local d=$1 st v cfg
	mkdir -p "$d/layers"
	st=$(_fx_tmp "$d/x")
	_fx_busybox_rootfs "$st/l1"
	_fx_layer_tar "$st/l1" "$d/layers/1.tar"
	mkdir -p "$st/l2/var/www"
	printf '<html><body><h1>servidorweb</h1></body></html>\n' >"$st/l2/var/www/index.html"
	_fx_bytes 204800 42 >"$st/l2/var/www/blob.bin"
	_fx_layer_tar "$st/l2" "$d/layers/2.tar"
	cfg='{"Cmd":["/bin/busybox","httpd","-f","-p","8080","-h","/var/www"],"WorkingDir":"/var/www"}'
	for v in v1 v2; do
		mkdir -p "$st/l3$v/etc"
		echo "$v" >"$st/l3$v/etc/servidorweb-version"
		_fx_layer_tar "$st/l3$v" "$d/layers/3$v.tar"
		_fx_docker_archive "$d/$v.tar" "localhost:5000/servidorweb:$v" "$cfg" \
			"$d/layers/1.tar" "$d/layers/2.tar" "$d/layers/3$v.tar"
		rm -rf "$d/$v-oci"
		_fx_oci_layout --config "$cfg" "$d/$v-oci" "$v" \
			"$d/layers/1.tar" "$d/layers/2.tar" "$d/layers/3$v.tar"
	done
	rm -rf "$st"
}

_fx_whiteouts() {
	local d=$1 st
	mkdir -p "$d"
	st=$(_fx_tmp "$d/x")
	mkdir -p "$st/l1/a" "$st/l1/d" "$st/l2/a" "$st/l2/d"
	echo keep >"$st/l1/a/keep"; echo gone >"$st/l1/a/gone"
	echo old1 >"$st/l1/d/old1"; echo old2 >"$st/l1/d/old2"
	: >"$st/l2/a/.wh.gone"; : >"$st/l2/d/.wh..wh..opq"; echo new >"$st/l2/d/new"
	_fx_layer_tar "$st/l1" "$st/1.tar"
	_fx_layer_tar "$st/l2" "$st/2.tar"
	_fx_docker_archive "$d/whiteouts.tar" localhost/whiteouts:latest '{}' "$st/1.tar" "$st/2.tar"
	rm -rf "$st"
}

# _fx_rawtar OUT ENTRY... ; ENTRY = "TYPE|NAME|LINKNAME|CONTENT" (TYPE 0 file,
# 1 hardlink, 2 symlink, 5 dir).  Raw ustar headers, written verbatim.
_fx_rawtar() {
	perl -e '
		my $out = shift; my $data = "";
		for my $e (@ARGV) {
			my ($t, $name, $link, $body) = split /\|/, $e, 4;
			$body = "" if $t ne "0";
			my $mode = $t eq "5" ? 0755 : $t eq "2" ? 0777 : 0644;
			my $h = pack("a100 a8 a8 a8 a12 a12 A8 a1 a100 a6 a2 a32 a32 a8 a8 a155 a12",
				$name, sprintf("%07o", $mode), sprintf("%07o", 0), sprintf("%07o", 0),
				sprintf("%011o", length $body), sprintf("%011o", '"$FX_EPOCH"'),
				"", $t, $link, "ustar", "00", "root", "root", "", "", "", "");
			my $sum = unpack("%32C*", $h);   # chksum field is 8 spaces (A8) here
			substr($h, 148, 8) = sprintf("%06o\0 ", $sum);
			$data .= $h . $body . ("\0" x ((512 - length($body) % 512) % 512));
		}
		$data .= "\0" x 1024;
		open my $fh, ">", $out or die "$out: $!"; binmode $fh; print $fh $data; close $fh or die;
	' "$@"
}

_fx_hostile() {
	local d=$1 f st e
	mkdir -p "$d"
	st=$(_fx_tmp "$d/x")
	for f in $FX_HOSTILE_FORMS; do
		case $f in
		dotdot)          e=('0|../evil||evil') ;;
		nested-dotdot)   e=('0|a/../../evil||evil') ;;
		absolute)        e=('0|/tmp/lrun-hostile-abs-evil||evil') ;;
		symlink-parent)  e=('2|s|/tmp|' '0|s/lrun-hostile-evil||evil') ;;
		relative-symlink-parent) e=('2|up|..|' '0|up/lrun-hostile-evil||evil') ;;
		hardlink-out)    e=('1|h|../../../../etc/passwd|') ;;
		hardlink-abs)    e=('1|h|/etc/passwd|') ;;
		hardlink-via-symlink) e=('2|s|/etc|' '1|h|s/passwd|') ;;
		*) _fx_die "unknown hostile form $f" ;;
		esac
		_fx_rawtar "$st/$f.tar" $'0|ok.txt||ok\n' "${e[@]}"
		_fx_docker_archive "$d/hostile-$f.tar" "localhost/hostile-$f:latest" '{}' "$st/$f.tar"
	done
	rm -rf "$st"
}

_fx_all() {
	_fx_servidorweb "$1"
	_fx_whiteouts "$1"
	_fx_hostile "$1"
}
