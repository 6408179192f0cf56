#!/bin/bash
# lrun diff of a container (A/C/D against its image, the runtime's empty
# mount points left out, -l for the newest, --format json as podman) and
# lrun export (the container's filesystem as a tar, running or stopped,
# -o FILE written whole or not at all), and mount/unmount of a container's
# root on the host, counted in mountpoints.json as c/storage does; image
# mount/umount (an image's root read-only on the host, counted the same way)
# and run --mount type=image (read-only, or writable with rw=true; held as
# one mount of the image while the container runs, as podman's); buildah's
# containers in the same store are seen, diffed, mounted and unmounted.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/ctr-test.sh"
ctr_start

L run --name d "$IMG" sh -c 'touch /newfile; rm /etc/passwd' >/dev/null
run L diff d
is "$rc/$out" "0/C /etc${nl}D /etc/passwd${nl}A /newfile$nl" "diff CONTAINER: podman's A/C/D, no /etc/hosts or /proc"
run L diff --format json -l
is "$(jq -c '[.added, .changed, .deleted]' <<<"$out")" '[["/newfile"],["/etc"],["/etc/passwd"]]' \
	"diff -l --format json: the newest container, podman's keys"
run L container diff d "$IMG"
is "$rc" 0 "container diff CONTAINER IMAGE"
like "$out" "A /newfile" "… against the image"
run L diff nosuch
is "$rc" 125 "diff of nothing known: 125"
fx_busybox_rootfs "$T/runimg" >/dev/null && mkdir -p "$T/runimg/run" && tar -C "$T/runimg" -cf "$T/runimg.tar" . &&
	L import -q "$T/runimg.tar" localhost/withrun:1 >/dev/null
L run --name withrun localhost/withrun:1 sh -c 'echo >/x' >/dev/null
run L diff withrun
is "$rc/$out" "0/A /x$nl" "an image with /etc and /run: copied up only for the runtime's mount points, no change"
L rm withrun >/dev/null && L rmi localhost/withrun:1 >/dev/null

# --- export ------------------------------------------------------------------------------
L export d >"$T/d.tar"
is "$?" 0 "export to stdout"
names=$(tar -tf "$T/d.tar")
like "$names" "(^|$nl)newfile$nl" "the container's new file is in"
if [[ $names =~ (^|$nl)etc/passwd$nl ]]; then ok 1 "its deletion is applied"; else ok 0 "its deletion is applied"; fi
like "$names" "(^|$nl)bin/busybox$nl" "the image's files are in"
run L export -o "$T/o.tar" d
is "$rc/$(tar -tf "$T/o.tar" | sort | md5sum)" "0/$(tar -tf "$T/d.tar" | sort | md5sum)" "-o FILE: the same tar"
L run -d --name live "$IMG" sh -c 'echo live >/live; sleep 60' >/dev/null
wait_for 5 test -n "$(L exec live cat /live 2>/dev/null)"
L export live >"$T/live.tar"
is "$(tar -xOf "$T/live.tar" live)" "live" "export of a running container"
if tar -tf "$T/live.tar" | grep -q '^proc/.'; then ok 1 "… without its /proc"; else ok 0 "… without its /proc"; fi
run L export -o "$T/none.tar" nosuch
is "$rc" 125 "export of no container: 125"
ok_cmd "… leaves no file" test ! -e "$T/none.tar"
L export d | cat >/dev/null
is "${PIPESTATUS[0]}" 0 "export to a pipe works"

# --- mount / unmount --------------------------------------------------------------------------
L create --name m "$IMG" true >/dev/null
run L mount m
P=${out%"$nl"}
is "$rc/$P" "0/$(ctr_layer_dir m)/merged" "mount prints the container's merged directory"
ok_cmd "… where its root is" test -x "$P/bin/busybox"
is "$(awk -v p="$P" '$5 == p' /proc/self/mountinfo | wc -l)" 1 "… mounted on the host"
L mount m >/dev/null
is "$(jq -c '.[] | [.path, .count]' "$R/overlay-layers/mountpoints.json")" "[\"$P\",2]" "a second mount counts 2 in mountpoints.json"
run L mount
is "$out" "$(ctr_field m .id | cut -c1-12) $P$nl" "mount without arguments lists the mounted containers"
run L umount m
is "$rc/$out/$(awk -v p="$P" '$5 == p' /proc/self/mountinfo | wc -l)" "0/$(ctr_field m .id)$nl/1" "one unmount of two: still mounted"
run L unmount m
is "$rc/$(awk -v p="$P" '$5 == p' /proc/self/mountinfo | wc -l)" "0/0" "the last unmount unmounts"
is "$(cat "$R/overlay-layers/mountpoints.json")" "[]" "… and the count goes"
run L mount nosuch
is "$rc" 125 "mount of no container: 125"

# --- a container buildah made in the same store (podman's "external" one) ---------------------
if command -v buildah >/dev/null; then
	B() { $TO buildah --root "$R" --runroot "$T/buildah-run" --storage-driver overlay "$@"; }
	B from --pull-never --name bctr "$IMG" >/dev/null && echo added >"$T/added" && B copy bctr "$T/added" /added >/dev/null
	B run bctr true >/dev/null 2>&1 # buildah mounts it "volatile": the kernel then refuses the layer until the mark goes
	run L ps -a --external --format '{{.Names}}'
	like "$out" "(^|$nl)bctr$nl" "ps --external lists buildah's container"
	run L ps -a --format '{{.Names}}'
	is "$(grep -cx bctr <<<"$out")" 0 "… ps -a does not (podman's)"
	run L diff bctr
	is "$rc/$out" "0/A /added$nl" "diff of buildah's container"
	run L mount bctr
	BP=$out
	is "$rc/$(cat "${BP%$nl}/added" 2>&1)" "0/added" "mount of buildah's container (its merged/ made again, the volatile mark cleared)"
	run L umount bctr
	is "$rc/$(test -d "${BP%$nl}" && echo still)" "0/" "umount removes merged/ as c/storage does"
	run L system check
	is "$rc/$out/$err" "0//" "system check: buildah's container (its state in buildah.json) is sound"
	run B rm bctr
	is "$rc" 0 "buildah removes its container after"
else
	for i in 1 2 3 4 5 6 7; do skip "no buildah (apt-get install buildah)"; done
fi

# --- image mount / image umount ---------------------------------------------------------
IID=$(L image inspect --format '{{.ID}}' "$IMG")
ILAYER=$(jq -r --arg id "$IID" '.[] | select(.id == $id) | .layer' "$R/overlay-images/images.json")
IP=$R/overlay/$ILAYER/merged
run L image mount "$IMG"
is "$rc/$out" "0/$IP$nl" "image mount prints the image's top layer's merged directory"
ok_cmd "… where the image's root is" test -x "$IP/bin/busybox"
is "$(awk -v p="$IP" '$5 == p { print $6 }' /proc/self/mountinfo | cut -d, -f1)" ro "… mounted read-only"
run L image mount -a
is "$rc/$out" "0/$IMG  $IP$nl" "image mount -a: mounts them all, prints podman's table"
is "$(jq -c --arg p "$IP" '.[] | select(.path == $p) | .count' "$R/overlay-layers/mountpoints.json")" 2 \
	"… counted twice in mountpoints.json"
run L image mount
is "$rc/$out" "0/$IMG  $IP$nl" "image mount without arguments lists the mounted images"
run L image mount --format json
is "$(jq -c '.[] | [.id, .Repositories, .mountpoint]' <<<"$out")" "[\"$IID\",[\"$IMG\"],\"$IP\"]" "… --format json: podman's keys"
run L image umount "$IMG"
is "$rc/$out/$(awk -v p="$IP" '$5 == p' /proc/self/mountinfo | wc -l)" "0/$IID$nl/1" "image umount: prints the image ID, still mounted once"
run L image umount "$IMG"
is "$rc/$out/$(awk -v p="$IP" '$5 == p' /proc/self/mountinfo | wc -l)" "0/$IID$nl/0" "… the last one unmounts"
run L image umount "$IMG"
is "$rc/$out" "0/" "an image not mounted: nothing printed, exit 0"
run L image umount no-such-image
is "$rc/$err" "125/Error: no-such-image: image not known$nl" "image umount of no image: podman's message, 125"
run L image umount
is "$rc/$err" "125/Error: image name or ID must be specified$nl" "image umount without a name: 125"
L image mount "$IMG" >/dev/null; L image mount "$IMG" >/dev/null
run L image umount -f "$IMG"
is "$rc/$out/$(awk -v p="$IP" '$5 == p' /proc/self/mountinfo | wc -l)" "0/$IID$nl/0" "image umount -f: unmounts whatever the count"
is "$(L image mount)" "" "nothing mounted"

# --- run --mount type=image -----------------------------------------------------------------
run L run --rm --mount "type=image,src=$IMG,dst=/image-mount" "$IMG" busybox cmp /bin/busybox /image-mount/bin/busybox
is "$rc/$out$err" "0/" "--mount type=image: the image's root in the container"
run L run --rm --mount "type=image,src=$IMG,dst=/image-mount" "$IMG" busybox touch /image-mount/read-only
is "$rc/$err" "1/touch: /image-mount/read-only: Read-only file system$nl" "… read-only"
is "$(L image umount "$IMG")" "" "… the container's mount is dropped when it exits"
for rw in rw=true readwrite=true; do
	run L run --rm --mount "type=image,src=$IMG,dst=/image-mount,$rw" "$IMG" sh -c 'busybox touch /image-mount/w && ls /image-mount/w'
	is "$rc/$out" "0//image-mount/w$nl" "--mount type=image,$rw: writable"
done
ok_cmd "… the image itself is unchanged" test ! -e "$IP/w" -a ! -e "$R/overlay/$ILAYER/diff/w"
L image mount "$IMG" >/dev/null
L run --rm --mount "type=image,src=$IMG,dst=/image-mount" "$IMG" true
is "$(L image umount "$IMG")" "$IID" "a container's exit leaves the user's own image mount"
is "$(L image umount "$IMG")" "" "… which was the only one"
CID=$(L run -d --mount "type=image,src=$IID,dst=/image-mount" "$IMG" sleep 60)
run L image mount
is "$out" "$IMG  $IP$nl" "a running container's image mount is listed"
is "$(L image umount "$IMG")" "$IID" "… image umount drops it"
run L exec "$CID" ls /image-mount/bin/busybox
is "$rc/$out" "0//image-mount/bin/busybox$nl" "… the container keeps its mount"
run L inspect --format '{{(index .Mounts 0).Type}} {{(index .Mounts 0).Source}} {{(index .Mounts 0).Destination}} {{(index .Mounts 0).RW}}' "$CID"
is "$out" "image $IID /image-mount false$nl" "inspect: the image mount as podman shows it"
L rm -f -t 0 "$CID" >/dev/null
is "$(cat "$R/overlay-layers/mountpoints.json")" "[]" "no count left"
run L run --rm --mount type=image,src=no-such-image,dst=/x "$IMG" true
is "$rc/$err" "125/Error: --mount type=image: no-such-image: image not known$nl" "--mount of no image: 125"
run L run --rm --mount type=image,dst=/x "$IMG" true
is "$rc" 125 "--mount type=image without a source: 125"

is "$(mounts_below "$R" | wc -l)" 0 "no mount left behind"

done_testing
