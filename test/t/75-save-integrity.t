#!/bin/bash
# save (and push) rebuild each layer's tar from its tar-split and diff/; when
# the files no longer match the layer's DiffID, save fails with podman's
# "file integrity checksum failed" and writes nothing, instead of writing a
# different image.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/store-test.sh"
store_start servidorweb
R=$T/root IMG=localhost:5000/servidorweb:v1 nl=$'\n'
lr load -q -i "$F/v1.tar" >/dev/null || bail "load"
base=$(jq -r '.[] | select(.parent == null) | .id' "$R/overlay-layers/layers.json")
diffid=$(jq -r --arg id "$base" '.[] | select(.id == $id) | ."diff-digest"' "$R/overlay-layers/layers.json")

run lr save -o "$T/good.tar" "$IMG"
is "$rc" 0 "save of the intact image works"

# same size, other bytes: only the digest can tell
printf 'X' | dd of="$R/overlay/$base/diff/bin/busybox" bs=1 seek=100 conv=notrunc 2>/dev/null
run lr save -o "$T/bad.tar" "$IMG"
is "$rc" 125 "save of an image whose layer was changed on disk fails"
like "$err" "^Error: .*layer ${base:0:12}: file integrity checksum failed: its files in $R/overlay/$base/diff no longer make $diffid \\(the rebuilt tar is sha256:[0-9a-f]{64}\\); remove the images that use it and load or pull them again$nl\$" \
	"the error names the layer, the check podman names, the digests and the repair"
ok "$( [ ! -e "$T/bad.tar" ] && [ -z "$(ls "$T" | grep '^bad\.tar')" ]; echo $?)" "no archive and no temporary file is left"
run lr save -o "$T/bad.tar" --format oci-archive "$IMG"
is "$rc" 125 "save --format oci-archive fails the same way"

# a shorter file: the rebuild itself cannot read it
truncate -s 1000 "$R/overlay/$base/diff/bin/busybox"
run lr save -o "$T/bad2.tar" "$IMG"
is "$rc" 125 "save of an image with a truncated file fails"
like "$err" "file integrity checksum failed" "with the same error"

# the way out the message gives
lr rmi "$IMG" >/dev/null
lr load -q -i "$F/v1.tar" >/dev/null
run lr save -o "$T/again.tar" "$IMG"
is "$rc" 0 "after rmi and load, save works again"
done_testing
