#!/bin/bash
# Whiteouts: .wh.<name> -> 0/0 character device, .wh..wh..opq ->
# trusted.overlay.opaque=y; no .wh.* file is stored; a real overlayfs mount
# of the stored layers shows the merged view.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/store-test.sh"
store_start whiteouts

# getxattr NAME PATH: the value (getfattr if installed, else the raw syscall)
getxattr() {
	if command -v getfattr >/dev/null; then
		getfattr -n "$1" --only-values "$2" 2>/dev/null
	else
		perl -e 'my $nr = eval { require "syscall.ph"; &SYS_getxattr() } // 191;
			my $buf = "\0" x 256; my $n = syscall($nr, $ARGV[1], $ARGV[0], $buf, 256);
			exit 1 if $n < 0; print substr($buf, 0, $n)' "$1" "$2"
	fi
}

R=$T/store
run lr load -i "$F/whiteouts.tar"
is "$rc:$out" $'0:Loaded image: localhost/whiteouts:latest\n' "load whiteouts.tar"
mapfile -t ids < <(jq -r '.[].id' "$R/overlay-layers/layers.json")
is "${#ids[@]}" 2 "two layers"
wl=$(tar xOf "$F/whiteouts.tar" manifest.json | jq -r '.[0].Layers[]' | cut -d/ -f1)
mapfile -t diffids <<<"$wl"
is "${ids[0]}" "${diffids[0]}" "base layer ID = its diff id"
is "${ids[1]}" "$(printf '%s+%s' "${ids[0]}" "${diffids[1]}" | sha256sum | cut -c1-64)" "top layer ID = sha256(base + '+' + diffid)"
base=$R/overlay/${ids[0]}/diff top=$R/overlay/${ids[1]}/diff

# --- layer 1: plain files ---
is "$(cd "$base" && find . -mindepth 1 | sort | tr '\n' ' ')" "./a ./a/gone ./a/keep ./d ./d/old1 ./d/old2 " "base layer: a/{gone,keep} d/{old1,old2}"
# --- layer 2: whiteout device and opaque dir ---
is "$(stat -c '%F %t,%T' "$top/a/gone" 2>&1)" "character special file 0,0" "top layer: a/gone is a 0/0 character device (whiteout)"
is "$(stat -c '%u:%g' "$top/a/gone" 2>&1)" "0:0" "top layer: the whiteout is owned by the header's uid/gid (0:0)"
is "$(cat "$top/d/new" 2>&1)" new "top layer: d/new extracted"
is "$(getxattr trusted.overlay.opaque "$top/d")" y "top layer: d has trusted.overlay.opaque=y"
getxattr trusted.overlay.opaque "$top/a" >/dev/null
ok $(( ! $? )) "top layer: a (no .wh..wh..opq) is not opaque"
getxattr trusted.overlay.opaque "$base/d" >/dev/null
ok $(( ! $? )) "base layer: d is not opaque"
is "$(find "$R/overlay" -path '*/diff/*' -name '.wh.*' | wc -l)" 0 "no .wh.* file anywhere in the diff dirs"
is "$(cd "$top" && find . -mindepth 1 | sort | tr '\n' ' ')" "./a ./a/gone ./d ./d/new " "top layer holds exactly a, a/gone, d, d/new"

# --- the diff-size still counts the tar as applied ---
is "$(jq -r '.[1]."diff-size"' "$R/overlay-layers/layers.json")" \
	"$(tar xOf "$F/whiteouts.tar" "$(sed -n 2p <<<"$wl")/layer.tar" | wc -c)" "top layer diff-size = bytes of its tar"

# --- a real overlay mount of the stored layers -------------------------------
MNT=$T/mnt; mkdir -p "$MNT"
toplink=$(cat "$R/overlay/${ids[1]}/link") lower=$(cat "$R/overlay/${ids[1]}/lower")
is "$lower" "l/$(cat "$R/overlay/${ids[0]}/link")" "top layer: lower file names the base layer's link"
# Private mount namespace: whatever happens, nothing stays mounted on the host.
res=$(cd "$R/overlay" && unshare -m --propagation private sh -c '
	mount -t overlay overlay -o "ro,lowerdir=l/$1:$2" "$3" || exit 99
	echo "a=[$(ls -A "$3/a" | tr "\n" " ")]"
	echo "d=[$(ls -A "$3/d" | tr "\n" " ")]"
	echo "keep=[$(cat "$3/a/keep")]"
	echo "root=[$(ls -A "$3" | tr "\n" " ")]"
	umount "$3" || exit 98' sh "$toplink" "$lower" "$MNT" 2>&1)
mrc=$?
is "$mrc" 0 "mount -t overlay -o lowerdir=l/<top link>:l/<base link> from overlay/ succeeds (and unmounts)"
[ $mrc = 0 ] || diag "$res"
like "$res" 'a=\[keep \]' "merged view: ls a = keep (a/gone whited out)"
like "$res" 'd=\[new \]' "merged view: ls d = new (opaque d hides old1, old2)"
like "$res" 'keep=\[keep\]' "merged view: a/keep readable"
like "$res" 'root=\[a d \]' "merged view: / has a and d"
is "$(awk -v m="$MNT" '$2 == m' /proc/self/mounts | wc -l)" 0 "nothing left mounted on the host"

done_testing
