#!/bin/bash
# A hostile image layer holding huge sparse files (a GNU/PAX sparse tar
# entry of a 2 TB file with one block of data, and a 1 TB file with none):
# load writes the holes as holes; save, export and commit write a file's
# holes as a sparse entry (GNU.sparse 1.0), so their output is as small as
# the layer was, in seconds.  Before, save and export read and wrote the
# whole 2 TB of zeros (a disk fill and hours of CPU).
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/ctr-test.sh"
ctr_start 20

TB=$((1 << 40))
# the layer: built on $T's file system (it must keep holes: ext4, xfs, tmpfs)
mkdir -p "$T/layer"
truncate -s $((2 * TB)) "$T/layer/big" && printf 'hello sparse\n' |
	dd of="$T/layer/big" bs=1 seek=$TB conv=notrunc 2>/dev/null || bail "sparse file"
truncate -s $TB "$T/layer/empty" || bail "sparse file"
tar --sparse --format=pax -C "$T/layer" -cf "$T/layer.tar" big empty || bail "tar --sparse"
rm -rf "$T/layer"
fx_docker_archive "$T/sparse.tar" localhost/sparse:1 '{}' "$T/layer.tar" || bail "docker archive"

# check_tree DIR WHAT: the two files in DIR as they were made: size, a
# sampled data block, and holes on disk
check_tree() {
	is "$(stat -c %s "$1/big") $(stat -c %s "$1/empty")" "$((2 * TB)) $TB" "$2: the files' sizes"
	is "$(dd if="$1/big" bs=4096 skip=$((TB / 4096)) count=1 2>/dev/null | tr -d '\0')" "hello sparse" \
		"$2: the data block at 1 TB"
	[ $(( $(stat -c %b "$1/big" 2>/dev/null || echo 9999) + $(stat -c %b "$1/empty" 2>/dev/null || echo 9999) )) -lt 2048 ]
	ok $? "$2: holes kept on disk"
}
# small FILE [BASE]: FILE is under 1 MB, or over BASE's size by less
small() { [ -f "$1" ] && [ "$(stat -c %s "$1")" -lt $(( ${2:+$(stat -c %s "$2")} + 1000000 )) ]; }

run L load -i "$T/sparse.tar"
is "$rc" 0 "load of a layer with 2 TB and 1 TB sparse files"
layer=$(jq -r '.[] | select(.names[0] == "localhost/sparse:1") | .layer' "$R/overlay-images/images.json")
check_tree "$R/overlay/$layer/diff" "load"

run L save -o "$T/out.tar" localhost/sparse:1
is "$rc" 0 "save finishes (within ${TO#timeout -k 5 } s)"
small "$T/out.tar"
ok $? "save: its archive is small ($(stat -c %s "$T/out.tar" 2>/dev/null) bytes)"
R2=$T/root2
run "$LRUN" --root "$R2" load -i "$T/out.tar"
is "$rc" 0 "save | load into another store"
layer2=$(jq -r '.[] | select(.names[0] == "localhost/sparse:1") | .layer' "$R2/overlay-images/images.json")
check_tree "$R2/overlay/$layer2/diff" "save, load"

L create --name sp localhost/sparse:1 /big >/dev/null
run L export -o "$T/export.tar" sp
is "$rc" 0 "export of a container finishes"
small "$T/export.tar"
ok $? "export: its tar is small ($(stat -c %s "$T/export.tar" 2>/dev/null) bytes)"
mkdir -p "$T/x" && tar -C "$T/x" -xf "$T/export.tar" big empty
check_tree "$T/x" "export, read back by GNU tar"
rm -rf "$T/x"

# a container's own sparse file: commit writes it sparse too, and save of
# the committed image (its layer exported afresh) is small
L run --name mk "$IMG" sh -c "truncate -s $TB /hole && printf tail >>/hole" >/dev/null
run L commit -q mk localhost/committed:1
is "$rc" 0 "commit of a container holding a 1 TB sparse file"
run L save -o "$T/committed.tar" localhost/committed:1
is "$rc" 0 "save of the committed image"
L save -o "$T/base.tar" "$IMG"
small "$T/committed.tar" "$T/base.tar"
ok $? "… small: $(stat -c %s "$T/committed.tar" 2>/dev/null) bytes, its base image's $(stat -c %s "$T/base.tar")"
run L run --rm localhost/committed:1 sh -c 'stat -c %s /hole; tail -c 4 /hole'
is "$rc/$out" "0/$((TB + 4))${nl}tail" "the committed file: its size and its data"

# a plain entry of 200 MB of zeros (a 1 MB blob) into a 64 MB graph root:
# refused before it is written (before, it filled the file system up to
# ENOSPC), no partial layer left
mkdir -p "$T/z" && head -c 200M /dev/zero >"$T/z/zeros" && tar -C "$T/z" -cf - zeros | gzip -1 >"$T/zeros.tar.gz" &&
	rm -rf "$T/z" && fx_docker_archive "$T/zeros.tar" localhost/zeros:1 '{}' "$T/zeros.tar.gz" || bail "zeros layer"
small_fs 64M "$T/small"
run L --root "$T/small/root" load -i "$T/zeros.tar"
like "$rc/$err" '^125/.*"zeros": its 209.7MB do not fit in the [0-9.]+MB free on the graph root.s file system: No space left on device' \
	"load of a layer that cannot fit: a clear error before writing"
is "$(ls "$T/small/root/overlay"; jq length "$T/small/root/overlay-layers/layers.json")" "l${nl}0" "… no partial layer left"
umount "$T/small"

done_testing
