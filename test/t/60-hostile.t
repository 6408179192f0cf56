#!/bin/bash
# Hostile layers: no entry may land outside diff/ (.., absolute names,
# symlinked parents, hard links to outside).  Each load fails with exit 125
# and an Error: naming the entry, writes nothing outside, and leaves the store
# exactly as it was.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/store-test.sh"
store_start servidorweb whiteouts hostile

# where an escaping entry would land
outside=(/tmp/lrun-hostile-evil /tmp/lrun-hostile-abs-evil /evil /tmp/evil /etc/lrun-hostile-evil)
pre=0
for p in "${outside[@]}"; do [ -e "$p" ] || [ -L "$p" ] && { pre=1; diag "  $p exists before the test"; }; done
ok $pre "precondition: none of ${outside[*]} exists"
passwd_links=$(stat -c %h /etc/passwd) passwd_sum=$(sha256 /etc/passwd)

R=$T/store
lr load -i "$F/whiteouts.tar" >/dev/null 2>&1 || bail "cannot load whiteouts.tar"
snap0=$(store_snapshot "$R")
# run from a scratch cwd so that a relative escape would show up in it
mkdir -p "$T/cwd/a/b/c"; cd "$T/cwd/a/b/c" || bail "cd"

declare -A needle=(
	[dotdot]='\.\./evil'
	[nested-dotdot]='a/\.\./\.\./evil'
	[absolute]='/tmp/lrun-hostile-abs-evil'
	[symlink-parent]='s/lrun-hostile-evil'
	[relative-symlink-parent]='up/lrun-hostile-evil'
	[hardlink-out]='\.\./\.\./\.\./\.\./etc/passwd'
	[hardlink-abs]='/etc/passwd'
	[hardlink-via-symlink]='s/passwd'
)
for f in $FX_HOSTILE_FORMS; do
	run lr load -i "$F/hostile-$f.tar"
	is "$rc" 125 "$f: load fails with exit 125"
	is "$out" "" "$f: nothing on stdout (no Loaded image)"
	like "$(grep '^Error: ' <<<"$err")" "${needle[$f]}" "$f: the Error: line names the offending path"
	is "$(store_snapshot "$R")" "$snap0" "$f: store unchanged (layers.json, images.json, overlay/, overlay/l, big data)"
	esc=0
	for p in "${outside[@]}"; do [ -e "$p" ] || [ -L "$p" ] && { esc=1; diag "  created $p"; [ $pre = 0 ] && rm -rf "$p"; }; done
	ok $esc "$f: nothing created outside the store"
done
is "$(find "$T" -path "$F" -prune -o \( -name evil -o -name lrun-hostile-evil -o -name lrun-hostile-abs-evil -o -name ok.txt \) -print | wc -l)" 0 \
	"no evil, lrun-hostile-*evil or ok.txt file anywhere below the test dir (store, cwd)"
is "$(find "$T/cwd" -mindepth 1 | wc -l)" 3 "the working directory is untouched (only a/b/c)"
is "$(stat -c %h /etc/passwd) $(sha256 /etc/passwd)" "$passwd_links $passwd_sum" "/etc/passwd: link count and content unchanged"
is "$(jq -c '[.[].id] | length' "$R/overlay-layers/layers.json")" 2 "layers.json still holds only the whiteouts image's 2 layers"
is "$(find "$R/overlay/l" -xtype l | wc -l)" 0 "no dangling l/ link"

cd "$T" || bail "cd"
run lr load -i "$F/v1.tar"
is "$rc:$out" $'0:Loaded image: localhost:5000/servidorweb:v1\n' "v1 loads fine after the hostile attempts"
run lr images --format '{{.Repository}}:{{.Tag}}'
is "$(printf "%s" "$out" | sort)" $'localhost/whiteouts:latest\nlocalhost:5000/servidorweb:v1' "images lists whiteouts and v1 only"

# the same hostile loads into a store that does not exist yet
R=$T/fresh
for f in $FX_HOSTILE_FORMS; do
	run lr load -i "$F/hostile-$f.tar"
	[ "$rc" = 125 ] || diag "  $f: exit $rc"
done
is "$(jq -c . "$R/overlay-layers/layers.json" 2>/dev/null || echo '[]') $(ls -A "$R/overlay" 2>/dev/null | grep -v '^l$' | wc -l)" "[] 0" \
	"hostile loads into a fresh store leave no layer record and no layer dir"
is "$(jq -c 'length' "$R/overlay-images/images.json" 2>/dev/null || echo 0)" 0 "… and no image"

done_testing
